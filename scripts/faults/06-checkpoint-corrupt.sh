#!/usr/bin/env bash
# Row 6: a checkpoint on a miner's disk goes bad before the verifiers fetch
# it (miner1's store: <home>/store/ckpt/TASK/JOB/<weights>-<optimizer>).
#
# To hit the window between a proof's submission and its verifiers' fetch
# every time, the three verifiers are paused (SIGSTOP) while the task runs,
# until miner1 has two proofs of one job from two intervals after step 0;
# then, on miner1's disk:
#   A  the checkpoint proof A replays from gets bytes flipped in its body
#      (its trailer hash no longer matches): the miner must drop it rather
#      than serve it;
#   B  the checkpoint proof B replays from is replaced by another, intact
#      checkpoint of the same job (what a misdirected write leaves): the
#      miner serves it; every receiver verifies it against the commitment's
#      hashes and must refuse it;
# and the verifiers resume (SIGCONT). By the rules (docs/PROTOCOL.md,
# verifier.Check: a checkpoint not served or not the committed one is the
# miner's fault) both proofs are rejected by quorum, miner1 loses
# proof_slash_bps of its bond per rejected proof (burned) and is jailed;
# its other proofs are accepted; the task completes, miner2 taking the
# jobs miner1 no longer may claim, and every coin is accounted for.
ROW=06-checkpoint-corrupt
# The miner's lottery scans a job's steps from step 0 and stops at
# --max-proofs-per-job winners; at the demo's 4, all of them often come
# from the first commit interval (commit step 0), and the row needs two
# from two later ones. 16 reach past the first few intervals every time;
# the task has one configuration (two jobs, 32 proofs), so that the paused
# verifiers, resumed, judge them all within the commit window (with two
# configurations, 64 proofs, many missed it and settled UNDECIDED).
export DEMO_PROOFS_PER_JOB="${DEMO_PROOFS_PER_JOB:-16}"
# The pause holds the verifiers for 15-25 s while proofs are in their
# commit phase; 60-block windows leave them time to judge the proofs once
# resumed (at 20 blocks, on a busy machine, most verdicts came too late
# and the corrupted proofs settled UNDECIDED: the fault under test is the
# corruption, not the pause).
export LOCALNET_GENESIS_JQ='.app_state.pouwml.params.verdict_commit_blocks = "60" | .app_state.pouwml.params.verdict_reveal_blocks = "60"'
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

result_begin 6 "corrupt checkpoints on miner1's disk before verifiers fetch them: one damaged (bytes flipped), one replaced by another checkpoint of the job"
fault_setup
params="$(api /pouwml/v1/params)"
PSLASH="$(jq -r .params.proof_slash_bps <<<"$params")"
bond1="$(bond_of miner1)"
for v in "${VERIFIERS[@]}"; do kill -STOP "$(worker_pid "$v")"; done
paused=1
resume_verifiers() { [[ -z "$paused" ]] || for v in "${VERIFIERS[@]}"; do kill -CONT "$(worker_pid "$v")" 2>/dev/null || true; done; paused=""; }
t_pause="$(now)"
fsay "verifiers paused (SIGSTOP)"
DEMO_LRS=100000000 DEMO_EPOCHS=20 DEMO_FOLDS=2 submit_task

# Two proofs of miner1 on one job, from two different intervals after step 0.
two_proofs() {
	local sel
	sel="$(proofs_json | jq -c --arg m "$(address miner1)" '[.proofs[] | select(.miner == $m and (.commit_step // "0" | tonumber) > 0)]
		| group_by(.job_index // 0) | map(unique_by(.commit_step)) | map(select(length >= 2)) | first // empty | .[0:2]')"
	[[ -n "$sel" ]] || return 1
	PA="$(jq -r '.[0].id' <<<"$sel")" PB="$(jq -r '.[1].id' <<<"$sel")"
	JOB="$(jq -r '.[0].job_index // 0' <<<"$sel")"
	CA="$(jq -r '.[0].commit_step' <<<"$sel")" CB="$(jq -r '.[1].commit_step' <<<"$sel")"
}
wait_until 240 "two proofs of miner1 from two intervals" two_proofs
# The checkpoint files by commitment.
cm="$(api "/pouwml/v1/tasks/$TASK/jobs/$JOB/commitments?pagination.limit=1000")"
ckfile() {
	local c
	c="$(jq -c --arg m "$(address miner1)" --arg s "$1" '.commitments[] | select(.miner == $m and .step == $s)' <<<"$cm")"
	echo "$(worker_dir miner1)/store/ckpt/$TASK/$JOB/$(hex_of_b64 "$(jq -r .weights_hash <<<"$c")")-$(hex_of_b64 "$(jq -r .optimizer_hash <<<"$c")")"
}
FA="$(ckfile "$CA")" FB="$(ckfile "$CB")"
[[ -f "$FA" && -f "$FB" ]] || fail "checkpoint files not found: $FA $FB"
other="$(ls "$(worker_dir miner1)/store/ckpt/$TASK/$JOB/" | grep -v -e "$(basename "$FA")" -e "$(basename "$FB")" | tail -n 1)"
[[ -n "$other" ]] || fail "no third checkpoint of job $JOB to swap in"
size="$(stat -c %s "$FA")"
# A: 64 bytes in the middle of the body overwritten.
head -c 64 /dev/urandom | dd of="$FA" bs=1 seek=$((size / 2)) conv=notrunc status=none
# B: replaced by an intact checkpoint of the same job, another step.
cp "$(worker_dir miner1)/store/ckpt/$TASK/$JOB/$other" "$FB"
resume_verifiers
t_resume="$(now)"
happened "verifiers paused $(since "$t_pause" "$t_resume") s; on miner1's disk (job $JOB): the checkpoint of step $CA (proof $PA) had 64 bytes overwritten, that of step $CB (proof $PB) was replaced by another intact checkpoint of the job; verifiers resumed"

settled() { [[ "$(api "/pouwml/v1/proofs/$1" | jq -r .proof.status)" =~ ACCEPTED|REJECTED|UNDECIDED ]]; }
wait_until 180 "proof $PA to settle" settled "$PA"
wait_until 180 "proof $PB to settle" settled "$PB"
t_settled="$(now)"
sa="$(api "/pouwml/v1/proofs/$PA" | jq -r .proof.status)" sb="$(api "/pouwml/v1/proofs/$PB" | jq -r .proof.status)"
[[ "$sa" == PROOF_STATUS_REJECTED && "$sb" == PROOF_STATUS_REJECTED ]] || fail "proofs $PA and $PB settled $sa and $sb; the rules reject both"
[[ ! -e "$FA" ]] || fail "miner1 still holds the damaged checkpoint $FA"
grep -q "stored checkpoint damaged; dropping it" "$(worker_dir miner1)/log" || fail "miner1 did not log dropping the damaged checkpoint"
# why_rejected PROOF: the first verifier's reason for rejecting PROOF. awk
# reads the logs itself: a pipe that a reader leaves early (grep -m1) ends
# its writer with SIGPIPE, which pipefail turns into the end of this row.
why_rejected() {
	awk -v p="proof=$1 " '/proof replayed: reject/ && index($0, p) && match($0, /why="[^"]*/) { print substr($0, RSTART + 5, RLENGTH - 5); exit }' \
		"$(worker_dir verifier1)/log" "$(worker_dir verifier2)/log" "$(worker_dir verifier3)/log"
}
why_a="$(why_rejected "$PA")"
why_b="$(why_rejected "$PB")"
grep -q "not served" <<<"$why_a" || fail "proof $PA rejected for another reason: $why_a"
grep -q "does not match the commitment" <<<"$why_b" || fail "proof $PB rejected for another reason: $why_b"
happened "miner1 dropped the damaged checkpoint instead of serving it (verifiers: \"${why_a:0:60}…${why_a: -40}\"); the swapped one was served and refused by every verifier (\"${why_b:0:110}…\"); both proofs REJECTED by quorum $(since "$t_resume" "$t_settled") s after the verifiers resumed"
jailed="$(worker_json miner1 | jq -r '.worker.jailed_until // "0"')"
# Every proof of the job from those two intervals is rejected (another
# proof may replay from the same checkpoint); each costs PSLASH bps.
settle_proofs
nrej="$(proofs_json | jq --arg m "$(address miner1)" '[.proofs[] | select(.miner == $m and .status == "PROOF_STATUS_REJECTED")] | length')"
bad="$(proofs_json | jq --arg m "$(address miner1)" --arg a "$CA" --arg b "$CB" --argjson j "$JOB" '[.proofs[] | select(.miner == $m and (.job_index // 0) == $j and (.commit_step == $a or .commit_step == $b))] | length')"
((nrej == bad)) || fail "$nrej proofs of miner1 rejected, $bad replay from the damaged checkpoints"
bond1b="$(bond_of miner1)"
want="$bond1"
for ((i = 0; i < nrej; i++)); do want=$((want - want * PSLASH / 10000)); done
((bond1b == want)) || fail "miner1's bond is $bond1b; $nrej rejected proofs at $PSLASH bps give $want"
((jailed > $(h0))) || fail "miner1 is not jailed after rejected proofs"
others="$(proofs_json | jq -r --arg m "$(address miner1)" --arg a "$PA" --arg b "$PB" '[.proofs[] | select(.miner == $m and .id != $a and .id != $b) | .status] | group_by(.) | map("\(.[0] | sub("PROOF_STATUS_"; "")) \(length)") | join(", ")')"
happened "by the rules: $nrej proofs replaying from those two checkpoints rejected, miner1 slashed $nrej times ($PSLASH bps each: bond $bond1 -> $bond1b, burned) and jailed until height $jailed; its other proofs: ${others:-none}"

wait_task_closed 600
t_done="$(now)"
rset recovery "task completed $(since "$t_resume" "$t_done") s after the corruption, miner2 taking the jobs jailed miner1 could not claim"
common_end
result_end PASS
