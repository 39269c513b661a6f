#!/usr/bin/env bash
# soak.sh: the long run. The real multi-process localnet of the fault rows
# (4 validators, 5 storage peers, 2 miners, 3 verifiers; scripts/faults/
# lib.sh) carries a continuous stream of CV tasks for SOAK_SECONDS (default
# 7200: two hours) while every process's resident memory (VmRSS, and its
# private part RssAnon) and
# goroutine count (go_goroutines from its /metrics: CometBFT's listener
# for validators, --metrics-addr for workers) are sampled every
# SOAK_SAMPLE seconds (default 60). Each task is checked like a fault row:
# it COMPLETED on verified values, its fee was paid out plus refunded, and
# the coins of its window are accounted for (snapshot before, accounting
# after: only slashes and fees leave); the data is fetched back at the end.
#
# The verdict, written with the samples to SOAK_DOC (default docs/SOAK.md):
#   - flat: for every process, the median of the last SOAK_WINDOW seconds
#     (default 900) is within 10% of the median of the first SOAK_WINDOW
#     after SOAK_WARMUP (default 600) seconds of warm-up, for RssAnon (the
#     private resident memory; VmRSS is reported beside) and for
#     goroutines (goroutines may also differ by at most 5, a few
#     connections' worth, where 10% of a small count is less);
#   - no unexpected error: every log line at error level (CometBFT's and
#     the SDK's "ERR", the workers' level=ERROR, "panic:") is counted by its
#     message; a message not matched by scripts/faults/soak-expected.txt
#     fails the soak.
#
#   scripts/faults/soak.sh                  two hours
#   SOAK_SECONDS=1200 SOAK_WARMUP=180 SOAK_WINDOW=300 scripts/faults/soak.sh
#
# Ports: FAULTS_PORT_SHIFT (default here 1000, so that a fault row can run
# beside it). The home is $FAULTS_TMP/soak (kept: the samples are in
# samples.tsv).
set -euo pipefail
ROW=soak
export FAULTS_PORT_SHIFT="${FAULTS_PORT_SHIFT:-1000}"
export FAULTS_KEEP=1
# The validators run at Go's default GOGC (100), what `pouwd start` gets,
# not the localnet's 400 (less collection work per transaction, but a heap
# of five times the live data, which multiplies any growth of a cache in
# the RSS by five).
export LOCALNET_GOGC="${LOCALNET_GOGC:-100}"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SOAK_SECONDS="${SOAK_SECONDS:-7200}"
SOAK_SAMPLE="${SOAK_SAMPLE:-60}"
SOAK_WARMUP="${SOAK_WARMUP:-600}"
SOAK_WINDOW="${SOAK_WINDOW:-900}"
SOAK_PROFILE_EVERY="${SOAK_PROFILE_EVERY:-1800}"
SOAK_DOC="${SOAK_DOC:-$ROOT/docs/SOAK.md}"
EXPECTED="$FAULTS_DIR/soak-expected.txt"
SAMPLES="$FAULT_HOME/samples.tsv"
TASKS_TSV="$FAULT_HOME/tasks.tsv"
HEAPS="$FAULT_HOME/heap"
((SOAK_WARMUP + 2 * SOAK_WINDOW <= SOAK_SECONDS)) ||
	fail "SOAK_SECONDS ($SOAK_SECONDS) must hold the warm-up ($SOAK_WARMUP) and two windows of $SOAK_WINDOW s"

# The processes sampled: name, then how to find its pid and its metrics URL.
procs() {
	local i n
	for ((i = 0; i < NODES; i++)); do echo "node$i"; done
	for n in "${STORAGE[@]}" "${MINERS[@]}" "${VERIFIERS[@]}"; do echo "$n"; done
}
proc_pid() { if [[ $1 == node* ]]; then node_pid "${1#node}"; else worker_pid "$1"; fi; }
proc_metrics() {
	if [[ $1 == node* ]]; then echo "http://127.0.0.1:$(prom_port "${1#node}")/metrics"; else echo "http://127.0.0.1:$(metrics_port "$1")/metrics"; fi
}
proc_log() { if [[ $1 == node* ]]; then log_file "${1#node}"; else echo "$(worker_dir "$1")/log"; fi; }

# heap_profiles LABEL: every validator's heap profile, after a collection,
# into HEAPS/nodeN-LABEL.pb.gz (heap-series.sh reads first, <elapsed>s and
# last).
heap_profiles() {
	local i
	for ((i = 0; i < NODES; i++)); do
		curl -sf --max-time 60 -o "$HEAPS/node$i-$1.pb.gz" "http://127.0.0.1:$(pprof_port "$i")/debug/pprof/heap?gc=1" || true
	done
}

# sample_loop: one line per process every SOAK_SAMPLE s:
# elapsed-seconds name pid rss-kB goroutines heap-inuse-bytes rss-anon-kB
# rss-file-kB (empty when unreadable). heap-inuse is
# go_memstats_heap_inuse_bytes, what the Go heap holds, to tell the heap's
# growth from the runtime keeping freed pages. VmRSS is RssAnon (the
# process's private memory) plus RssFile (pages of mapped files: nearly all
# of it the 190 MB pouwd executable, shared by every process of the
# localnet, which grows as more of its code runs and is page cache the
# kernel can drop) plus RssShmem; the flatness verdict reads RssAnon.
# It also takes each validator's heap profile (pprof, after a collection)
# when the first window starts, every SOAK_PROFILE_EVERY seconds after,
# and when the last window starts (HEAPS).
sample_loop() {
	local t0=$SECONDS p pid rss anon file gr heap m first=0 last=0 next_profile=$((SOAK_WARMUP + SOAK_PROFILE_EVERY))
	while true; do
		for p in $(procs); do
			pid="$(proc_pid "$p")"
			rss="" anon="" file="" gr="" heap=""
			if [[ -n "$pid" ]]; then
				read -r rss anon file < <(awk '$1 == "VmRSS:" { r = $2 } $1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 }
					END { print r, a, f }' "/proc/$pid/status" 2>/dev/null) || true
				m="$(curl -sf --max-time 5 "$(proc_metrics "$p")" 2>/dev/null || true)"
				gr="$(awk '$1 == "go_goroutines" { print $2 }' <<<"$m")"
				heap="$(awk '$1 == "go_memstats_heap_inuse_bytes" { printf "%d", $2 }' <<<"$m")"
			fi
			printf '%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $((SECONDS - t0)) "$p" "${pid:-}" "${rss:-}" "${gr:-}" "${heap:-}" "${anon:-}" "${file:-}" >>"$SAMPLES"
		done
		if ((!first && SECONDS - t0 >= SOAK_WARMUP)); then
			first=1
			heap_profiles first
		fi
		# Every SOAK_PROFILE_EVERY seconds between them too, to tell a cache
		# that fills and stops from one that keeps growing.
		if ((first && !last && SECONDS - t0 >= next_profile)); then
			heap_profiles "$((SECONDS - t0))s"
			next_profile=$((next_profile + SOAK_PROFILE_EVERY))
		fi
		if ((!last && SECONDS - t0 >= SOAK_SECONDS - SOAK_WINDOW)); then
			last=1
			heap_profiles last
		fi
		sleep "$SOAK_SAMPLE"
	done
}

result_begin soak "a ${SOAK_SECONDS}s soak: a continuous stream of CV tasks on the multi-process localnet"
fault_setup
mkdir -p "$HEAPS"
printf 'elapsed_s\tprocess\tpid\trss_kb\tgoroutines\theap_inuse_bytes\trss_anon_kb\trss_file_kb\n' >"$SAMPLES"
printf 'task\tsubmitted_s\tclosed_s\tjobs\tproofs_accepted\tslashes\n' >"$TASKS_TSV"
sample_loop &
SAMPLER=$!
BG_PIDS+=("$SAMPLER")
SOAK_START=$SECONDS
tasks=0
while ((SECONDS - SOAK_START < SOAK_SECONDS)); do
	# Each task's window is checked on its own: snapshot, task, accounting.
	snapshot start
	t_sub=$((SECONDS - SOAK_START))
	DEMO_LRS="${SOAK_LRS:-100000000 50000000}" DEMO_FOLDS=2 DEMO_EPOCHS=1 DEMO_FEE=400000upouw submit_task
	wait_task_closed 1200
	settle_proofs
	task_verified
	snapshot end
	accounting start end
	tasks=$((tasks + 1))
	printf '%s\t%d\t%d\t%s\t%s\t%s\n' "$TASK" "$t_sub" $((SECONDS - SOAK_START)) "$(jobs_json "$TASK" | jq '.jobs | length')" \
		"$(proofs_json | jq --arg t "$TASK" '[.proofs[]? | select(.task_id == $t and .status == "PROOF_STATUS_ACCEPTED")] | length')" \
		"$SLASHES" >>"$TASKS_TSV"
	fsay "task $TASK done ($tasks so far): $TASK_SUMMARY"
	sleep "${SOAK_GAP:-10}"
done
kill "$SAMPLER" 2>/dev/null || true
ELAPSED=$((SECONDS - SOAK_START))
validators_agree 0 1 2 3
data_check end
rset data "$DATA_SUMMARY"

# ---------------------------------------------------------------- verdict

# Flatness per process: medians of the first window after warm-up and of
# the last window, for private resident memory (RssAnon) and goroutines;
# VmRSS (with the shared executable's pages) is shown beside it.
FLAT="$FAULT_HOME/flat.tsv"
printf "process\tanon_first_mb\tanon_last_mb\tanon_change_pct\tvmrss_first_mb\tvmrss_last_mb\tvmrss_change_pct\tgoroutines_first\tgoroutines_last\tgoroutines_change_pct\tflat\n" >"$FLAT"
awk -F'\t' -v w0="$SOAK_WARMUP" -v w="$SOAK_WINDOW" -v end="$ELAPSED" '
	function median(a, n,   i, j, t) {
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	NR == 1 { next }
	$4 == "" || $5 == "" || $7 == "" { next }
	{ seen[$2] = 1 }
	$1 >= w0 && $1 < w0 + w { k = $2; nr[k]++; p0[k, nr[k]] = $7; r0[k, nr[k]] = $4; g0[k, nr[k]] = $5 }
	$1 >= end - w { k = $2; nl[k]++; p1[k, nl[k]] = $7; r1[k, nl[k]] = $4; g1[k, nl[k]] = $5 }
	END {
		for (k in seen) {
			if (!nr[k] || !nl[k]) { printf "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\tno samples\n", k; continue }
			for (i = 1; i <= nr[k]; i++) { pa[i] = p0[k, i]; ra[i] = r0[k, i]; ga[i] = g0[k, i] }
			for (i = 1; i <= nl[k]; i++) { pb[i] = p1[k, i]; rb[i] = r1[k, i]; gb[i] = g1[k, i] }
			e = median(pa, nr[k]); f = median(pb, nl[k])
			a = median(ra, nr[k]); b = median(rb, nl[k]); c = median(ga, nr[k]); d = median(gb, nl[k])
			pp = 100 * (f - e) / e; rp = 100 * (b - a) / a; gp = c ? 100 * (d - c) / c : 0
			ok = (pp <= 10 && pp >= -10 && ((gp <= 10 && gp >= -10) || (d - c <= 5 && c - d <= 5))) ? "yes" : "NO"
			printf "%s\t%.1f\t%.1f\t%+.1f\t%.1f\t%.1f\t%+.1f\t%d\t%d\t%+.1f\t%s\n", k, e / 1024, f / 1024, pp, a / 1024, b / 1024, rp, c, d, gp, ok
		}
	}' "$SAMPLES" | sort -V >>"$FLAT"

# Error lines of every log, grouped by message (the key=value tail and
# numbers dropped), each marked expected or not.
ERRORS="$FAULT_HOME/errors.tsv"
PATTERNS="$FAULT_HOME/expected.patterns"
: >"$ERRORS"
grep -vE '^(#|$)' "$EXPECTED" 2>/dev/null | cut -f1 >"$PATTERNS" || true
for p in $(procs); do
	f="$(proc_log "$p")"
	[[ -f "$f" ]] || continue
	# The message, then its err= value (what failed), numbers as N.
	perl -ne 's/\e\[[0-9;]*m//g; next unless /\bERR\b|level=ERROR|^panic:/; my ($m) = /^\S+ ERR (.*?)(?= [\w.-]+=|$)/ or /level=ERROR msg=("[^"]*"|\S+)/ or /^(panic:.*)/; next unless defined $m;
			my ($e) = / err="?([^"]{0,80})/; $m =~ s/"//g; $m .= ": $e" if defined $e; $m =~ s/[0-9]+/N/g; print "$m\n"' "$f" 2>/dev/null |
		sort | uniq -c | while read -r count msg; do
		if grep -qF -f "$PATTERNS" <<<"$msg"; then
			printf '%s\t%s\t%s\texpected\n' "$p" "$count" "$msg"
		else
			printf '%s\t%s\t%s\tUNEXPECTED\n' "$p" "$count" "$msg"
		fi
	done >>"$ERRORS"
done

not_flat="$(awk -F'\t' 'NR > 1 && $11 != "yes" { print $1 }' "$FLAT" | paste -sd' ' -)"
unexpected="$(awk -F'\t' '$4 == "UNEXPECTED"' "$ERRORS" | wc -l)"
verdict=PASS
[[ -z "$not_flat" && "$unexpected" == 0 ]] || verdict=FAIL

{
	echo "# Soak"
	echo
	echo "Written by \`scripts/faults/soak.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))."
	echo "The multi-process localnet of the fault rows (4 validators, 5 storage peers, 2 miners, 3 verifiers)"
	echo "ran a continuous stream of CV tasks (MLP 784-32-10, 2 learning rates x 2 folds, one epoch of MNIST)"
	echo "for $ELAPSED s; every process's resident memory and goroutines were sampled every $SOAK_SAMPLE s."
	echo "Flat means within 10%, read on RssAnon (the process's private resident memory). VmRSS adds the pages"
	echo "of mapped files, nearly all of them the pouwd executable's, shared by every process and grown as more"
	echo "of its code runs; it is shown beside."
	echo
	echo "**Verdict: $verdict.** $tasks tasks completed on verified values, each with its coins accounted for"
	echo "(only slashes and fees left the tracked accounts); ${not_flat:+not flat: $not_flat; }$unexpected unexpected error message(s)."
	echo "$DATA_SUMMARY."
	echo
	echo "## Resident memory and goroutines: first window after ${SOAK_WARMUP} s of warm-up against the last (medians of ${SOAK_WINDOW} s each)"
	echo
	awk -F'\t' 'NR == 1 { printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n|"; for (i = 1; i <= NF; i++) printf " --- |"; printf "\n"; next }
		{ printf "|"; for (i = 1; i <= NF; i++) printf " %s |", $i; printf "\n" }' "$FLAT"
	echo
	echo "## Validators' live heap: first window against the last"
	echo
	echo 'Heap profiles (`/debug/pprof/heap?gc=1`, after a collection) of each validator when the first window'
	echo "started and when the last one did, in \`$HEAPS\`; the functions whose live allocations grew most"
	echo '(`go tool pprof -top -sample_index=inuse_space -diff_base FIRST LAST`).'
	for ((i = 0; i < NODES; i++)); do
		a="$HEAPS/node$i-first.pb.gz" b="$HEAPS/node$i-last.pb.gz"
		echo
		if [[ ! -s "$a" || ! -s "$b" ]]; then
			echo "node$i: no profile (the pprof listener did not answer)."
			continue
		fi
		echo "node$i:"
		echo
		echo '```'
		go tool pprof -top -nodecount=8 -sample_index=inuse_space -diff_base "$a" "$b" 2>/dev/null | sed -n '/^Showing\|flat%/,$p' | head -11
		echo '```'
	done
	echo
	echo "## Validators' live heap over the soak"
	echo
	echo "Every profile of each validator (\`scripts/faults/heap-series.sh $HEAPS\`): the live heap and the parts"
	echo "that grew in earlier soaks, in MB. A cache that fills and stops levels off; a leak keeps climbing."
	echo
	bash "$FAULTS_DIR/heap-series.sh" "$HEAPS" || echo "(heap-series.sh failed)"
	echo
	echo "## Tasks"
	echo
	echo "| task | submitted (s) | closed (s) | jobs | proofs accepted | slashes |"
	echo "| --- | --- | --- | --- | --- | --- |"
	awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' "$TASKS_TSV"
	echo
	echo "## Error-level log lines, by message"
	echo
	echo "Expected messages are listed, with the reason, in \`scripts/faults/soak-expected.txt\`."
	echo
	if [[ -s "$ERRORS" ]]; then
		echo "| process | lines | message | |"
		echo "| --- | --- | --- | --- |"
		awk -F'\t' '{ gsub(/\|/, "\\|", $3); printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$ERRORS"
	else
		echo "None."
	fi
} >"$SOAK_DOC"
fsay "soak $verdict: $tasks tasks in $ELAPSED s; table in $SOAK_DOC; samples in $SAMPLES"
rset recovery "$tasks tasks in $ELAPSED s"
rset notes "not flat: ${not_flat:-none}; unexpected errors: $unexpected"
[[ $verdict == PASS ]] || fail "soak: not flat: ${not_flat:-none}; unexpected error messages: $unexpected (see $SOAK_DOC)"
result_end PASS
