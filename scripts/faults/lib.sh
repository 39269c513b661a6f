# scripts/faults/lib.sh: what every fault row shares (sourced by
# scripts/faults/NN-*.sh, never run). A row starts the real multi-process
# localnet (4 validators, 5 storage peers, 2 miners, 3 verifiers: the
# functions of scripts/demo.sh and scripts/localnet.sh, sourced), publishes
# MNIST, runs a task, injects its fault, and after recovery asserts:
#
#   - the task COMPLETED with every job SETTLED on verified values
#     (task_verified);
#   - every coin is accounted for (snapshot + accounting): between two
#     snapshots, the upouw held by every non-validator account, x/pouwml's
#     module account (escrow + bonds) and the proof reward pool falls by
#     exactly what was burned (slashes, from the blocks' events) plus tx
#     fees; x/pouwml's escrow invariant holds (its module account holds the
#     open tasks' escrow plus every bond: keeper.EscrowInvariant, computed
#     here from the same queries, since pouwd has no crisis module or
#     invariant route); each closed task paid out plus refunded its fee;
#   - no stored data is lost (data_check): the dataset fetched from the
#     storage ring hashes to its on-chain SHA-256, and every shard is still
#     held somewhere;
#   - the validators agree (validators_agree): same block hash and app hash
#     at a common height.
#
# Each row writes one or more result records (result_begin ... result_end)
# as JSON under $FAULTS_RESULTS/ROW/; scripts/faults/matrix.sh turns them
# into docs/FAULTS.md.
#
# Environment:
#   FAULTS_TMP          work area (default /tmp/pouwd-faults): one home per row
#   FAULTS_RESULTS      result records (default $FAULTS_TMP/results; this row's in ROW/)
#   FAULTS_PORT_SHIFT   LOCALNET_PORT_SHIFT of the rows' localnet (default 2000:
#                       every port stays below the kernel's ephemeral range,
#                       32768 and up, where a libp2p listener or an outgoing
#                       connection could take one first; 7000 once did)
#   FAULTS_KEEP         1: keep a passing row's home (a failing row's is kept)
#   POUWD               pouwd binary (default: built once into $FAULTS_TMP/pouwd)

FAULTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$FAULTS_DIR/../.." && pwd)"
: "${ROW:?set ROW before sourcing scripts/faults/lib.sh}"
FAULTS_TMP="${FAULTS_TMP:-/tmp/pouwd-faults}"
FAULTS_RESULTS="${FAULTS_RESULTS:-$FAULTS_TMP/results}/$ROW"
FAULT_HOME="$FAULTS_TMP/$ROW"
export CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}"
export POUWD="${POUWD:-$FAULTS_TMP/pouwd}"
mkdir -p "$FAULTS_TMP" "$FAULTS_RESULTS"

# The demo's steps and client helpers (say, tx, q, waittx, addr, demo_*),
# then the localnet's (ports, pids, start_node, start_named_worker, ...).
export DEMO_HOME="$FAULT_HOME" DEMO_PORT_SHIFT="${FAULTS_PORT_SHIFT:-2000}" DEMO_NO_BUILD=1
export DEMO_TIMEOUT="${DEMO_TIMEOUT:-900}"
# A stale localnet of an earlier run of this row (killed before its trap)
# is stopped before its home is replaced.
if [[ -d "$FAULT_HOME/localnet" ]]; then
	LOCALNET_HOME="$FAULT_HOME/localnet" LOCALNET_PORT_SHIFT="$DEMO_PORT_SHIFT" POUWD="$POUWD" \
		"$ROOT/scripts/localnet.sh" stop >/dev/null 2>&1 || true
fi
rm -rf "$FAULT_HOME"
# shellcheck source=../demo.sh
source "$ROOT/scripts/demo.sh"
# shellcheck source=../localnet.sh
source "$ROOT/scripts/localnet.sh"
set -euo pipefail

API="http://127.0.0.1:$(api_port 0)"
RPC="http://127.0.0.1:$(rpc_port 0)"

# ---------------------------------------------------------------- output

fsay() { printf '\033[1m%s [%4ds]\033[0m %s\n' "$ROW" $((SECONDS - START)) "$*"; }
now() { date +%s.%N; }
# since T0 [T1]: seconds from T0 to T1 (default now), one decimal.
since() { awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- results

declare -A R=()
RESULT_OPEN=""
FAIL_REASON=""

# result_begin ID FAULT: start a result record (one table row).
result_begin() {
	R=([id]="$1" [fault]="$2" [happened]="" [recovery]="" [coins]="" [data]="" [status]="" [seconds]="" [notes]="")
	R_T0=$SECONDS
	RESULT_OPEN=1
}
# happened TEXT: add to the record's "what happened" (and say it).
happened() {
	fsay "$*"
	R[happened]+="${R[happened]:+; }$*"
}
rset() { R[$1]="$2"; }

# result_end STATUS: write the record (PASS, FAIL or SKIP).
result_end() {
	local st="$1"
	[[ -n "$RESULT_OPEN" ]] || return 0
	R[status]="$st"
	[[ -n "${R[seconds]}" ]] || R[seconds]=$((SECONDS - R_T0))
	local args=() k
	for k in "${!R[@]}"; do args+=(--arg "$k" "${R[$k]}"); done
	jq -n "${args[@]}" '$ARGS.named' >"$FAULTS_RESULTS/${R[id]}.json"
	fsay "result ${R[id]}: $st (${R[seconds]} s)"
	RESULT_OPEN=""
}

# skip_row ID FAULT WHY: a record saying why the row cannot run here.
skip_row() {
	result_begin "$1" "$2"
	rset happened "skipped: $3"
	rset recovery "-"
	rset coins "-"
	rset data "-"
	rset seconds 0
	result_end SKIP
}

# fail MSG: the row fails here (the trap writes the record, keeps the home).
fail() {
	FAIL_REASON="$*"
	echo "$ROW: FAIL: $*" >&2
	exit 1
}

# ---------------------------------------------------------------- cleanup

IPT_RULES=()   # iptables rules to delete ("TABLE CHAIN SPEC...")
# ipt_del "TABLE CHAIN SPEC...": delete that rule.
ipt_del() {
	local a
	read -r -a a <<<"$1"
	iptables -t "${a[0]}" -D "${a[@]:1}"
}
MOUNTS=()      # mount points to unmount
BG_PIDS=()     # background processes of the row

fault_cleanup() {
	local rc=$? r m p
	trap - EXIT INT TERM
	set +e
	for r in "${IPT_RULES[@]}"; do ipt_del "$r" 2>/dev/null; done
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	# Workers a row paused (SIGSTOP) must run to take the stop's SIGTERM.
	for p in "$LH"/workers/*/pid; do [[ -f "$p" ]] && kill -CONT "$(cat "$p")" 2>/dev/null; done
	LOCALNET_PORT_SHIFT="$SHIFT" "$ROOT/scripts/localnet.sh" stop >/dev/null 2>&1
	for m in "${MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done
	if [[ -n "$RESULT_OPEN" ]]; then
		if ((rc != 0)); then
			R[happened]+="${R[happened]:+; }FAILED: ${FAIL_REASON:-exit status $rc}"
			result_end FAIL
		else
			result_end PASS
		fi
	fi
	if ((rc != 0)) || [[ -n "${FAULTS_KEEP:-}" ]]; then
		fsay "kept $FAULT_HOME (node logs localnet/node*/pouwd.log, worker logs localnet/workers/*/log)"
	else
		rm -rf "$FAULT_HOME"
	fi
	exit $rc
}
trap fault_cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- chain reads

# api PATH [HEIGHT]: GET node0's REST API (at HEIGHT when given).
api() {
	local hdr=()
	[[ -z "${2:-}" ]] || hdr=(-H "x-cosmos-block-height: $2")
	curl -sf --max-time 10 "${hdr[@]}" "$API$1"
}
# rpc NODE PATH: GET node NODE's CometBFT RPC.
rpc() { curl -sf --max-time 5 "http://127.0.0.1:$(rpc_port "$1")$2"; }
h0() { height_of 0; }

# wait_until SECONDS WHAT CMD...: poll CMD every 0.5 s until it succeeds;
# fail naming WHAT after SECONDS.
wait_until() {
	local limit="$1" what="$2" deadline
	shift 2
	deadline=$((SECONDS + limit))
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out after ${limit}s waiting for $what"
		sleep 0.5
	done
}

# wait_blocks N: wait until node0 is N blocks further.
wait_blocks() {
	local target=$(($(h0) + $1))
	wait_until $(($1 * 5 + 30)) "height $target" _height_at_least 0 "$target"
}
_height_at_least() { local h; h="$(height_of "$1")"; [[ -n "$h" ]] && ((h >= $2)); }

declare -A ADDR=()
address() {
	[[ -n "${ADDR[$1]:-}" ]] || ADDR[$1]="$(addr "$1")"
	echo "${ADDR[$1]}"
}
# module_address NAME: a module account's address, sha256(NAME)[:20]
# (authtypes.NewModuleAddress), computed rather than queried: the account
# at the reward pool's address may not be a module account (docs/FAULTS.md).
module_address() {
	"$POUWD" debug addr "$(printf '%s' "$1" | sha256sum | cut -c1-40)" | awk '/^Bech32 Acc:/ { print $3 }'
}

task_json() { api "/pouwml/v1/tasks/$1"; }
task_status() { task_json "$1" | jq -r '.task.status // empty' 2>/dev/null || true; }
jobs_json() { api "/pouwml/v1/tasks/$1/jobs?pagination.limit=1000"; }
# proofs_json: the newest 1000 proofs (every open one; a long run has more).
proofs_json() { api "/pouwml/v1/proofs?pagination.limit=1000&pagination.reverse=true"; }
worker_json() { api "/pouwml/v1/workers/$(address "$1")"; }
bond_of() { worker_json "$1" | jq -r '.worker.bond.amount // "0"'; }
balance_of() { # balance_of ADDRESS [HEIGHT]
	api "/cosmos/bank/v1beta1/balances/$1/by_denom?denom=upouw" "${2:-}" | jq -r '.balance.amount // "0"'
}

# job_line TASK: "OPEN 2, CLAIMED 2" and the proofs likewise.
job_line() {
	local j p
	j="$(jobs_json "$1" 2>/dev/null | jq -r '[.jobs[].status | sub("JOB_STATUS_"; "")] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' 2>/dev/null || true)"
	p="$(proofs_json 2>/dev/null | jq -r '[.proofs[]?.status | sub("PROOF_STATUS_"; "")] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' 2>/dev/null || true)"
	echo "jobs: ${j:-?} | proofs: ${p:-none}"
}

# ---------------------------------------------------------------- setup

# fault_setup: the localnet with its workers, MNIST published, the module
# accounts found and the "start" snapshot taken.
fault_setup() {
	START=$SECONDS
	command -v jq >/dev/null && command -v curl >/dev/null || fail "jq and curl are required (apt-get install jq curl)"
	if [[ ! -x "$POUWD" ]]; then
		fsay "building pouwd into $POUWD"
		(cd "$ROOT" && go build -o "$POUWD" ./cmd/pouwd) || fail "go build failed"
	fi
	mkdir -p "$FAULT_HOME"
	demo_start_localnet
	demo_publish
	MODULE_ADDR="$(module_address pouwml)"
	POOL_ADDR="$(module_address pouwml_rewards)"
	[[ -n "$MODULE_ADDR" && -n "$POOL_ADDR" ]] || fail "module accounts pouwml / pouwml_rewards not found"
	local a
	for a in "${ACCOUNTS[@]}"; do ADDR[$a]="$(addr "$a")"; done
	DS_SHA="$(api "/pouwml/v1/datasets/$DS" | jq -r '.dataset.sha256' | base64 -d | od -An -tx1 | tr -d ' \n')"
	snapshot start
}

# submit_task: the task (DEMO_LRS, DEMO_FOLDS, DEMO_EPOCHS, DEMO_FEE,
# DEMO_DEADLINES of scripts/demo.sh); sets TASK.
submit_task() {
	demo_submit_task
	TASK_FEE="$(task_json "$TASK" | jq -r '.task.fee.amount')"
	fsay "task $TASK submitted (fee $TASK_FEE upouw, $(jobs_json "$TASK" | jq '.jobs | length') jobs)"
}

# wait_task_closed SECONDS: wait for the task to close, a live line every 10 s.
wait_task_closed() {
	local deadline=$((SECONDS + $1)) st last=0
	while ((SECONDS < deadline)); do
		st="$(task_status "$TASK")"
		if ((SECONDS - last >= 10)); then
			fsay "height $(h0) | task ${st#TASK_STATUS_} | $(job_line "$TASK")"
			last=$SECONDS
		fi
		[[ "$st" == TASK_STATUS_COMPLETED || "$st" == TASK_STATUS_EXPIRED || "$st" == TASK_STATUS_CANCELLED ]] && return 0
		sleep 1
	done
	fail "task $TASK not closed after $1 s (status ${st:-?}; $(job_line "$TASK"))"
}

# settle_proofs: wait until no proof is open (commit-reveal finishing).
settle_proofs() {
	local i open
	for ((i = 0; i < 90; i++)); do
		open="$(proofs_json | jq '[.proofs[]? | select(.status == "PROOF_STATUS_PENDING" or .status == "PROOF_STATUS_COMMITTING" or .status == "PROOF_STATUS_REVEALING")] | length')"
		[[ "$open" == 0 ]] && return 0
		sleep 2
	done
	fail "proofs still open after 180 s"
}

# task_verified: the task COMPLETED, every job SETTLED on a verified value
# with at least one report, every configuration complete; sets TASK_SUMMARY.
task_verified() {
	local t j cv st n settled accepted
	t="$(task_json "$TASK")"
	st="$(jq -r '.task.status' <<<"$t")"
	[[ "$st" == TASK_STATUS_COMPLETED ]] || fail "task $TASK is $st, not COMPLETED"
	j="$(jobs_json "$TASK")"
	n="$(jq '.jobs | length' <<<"$j")"
	settled="$(jq '[.jobs[] | select(.status == "JOB_STATUS_SETTLED")] | length' <<<"$j")"
	accepted="$(jq '[.jobs[] | select(.outcome == "JOB_OUTCOME_ACCEPTED")] | length' <<<"$j")"
	((settled == n)) || fail "task $TASK: $settled of $n jobs settled ($(jq -c '[.jobs[].status]' <<<"$j"))"
	cv="$(api "/pouwml/v1/tasks/$TASK/cv")"
	jq -e '[.configs[]? | select(.complete != true)] | length == 0' <<<"$cv" >/dev/null ||
		fail "task $TASK: a configuration is incomplete: $(jq -c . <<<"$cv")"
	task_escrow_paid_out
	payouts_match_work
	TASK_SUMMARY="task COMPLETED, $settled/$n jobs settled on verified values ($accepted accepted), best config $(jq -r '.task.best_config // 0' <<<"$t"), fee $TASK_FEE = paid $TASK_PAID + refunded $TASK_REFUNDED"
}

# task_escrow_paid_out: the closed task holds no escrow, and its payouts
# plus refund are its fee (from its EventTaskClosed and EventPayouts).
task_escrow_paid_out() {
	local esc
	esc="$(task_json "$TASK" | jq -r '.task.escrow.amount // "0"')"
	[[ "$esc" == 0 ]] || fail "closed task $TASK still holds escrow $esc"
	scan_events "${SNAP_H[start]}" "$(h0)" >"$FAULT_HOME/events.tsv"
	local paid refunded payouts
	read -r paid refunded < <(awk -F'\t' -v t="$TASK" '$1 == "closed" && $2 == t { print $3, $4 }' "$FAULT_HOME/events.tsv")
	payouts="$(awk -F'\t' -v t="$TASK" '$1 == "payout" && $2 == t { s += $3 } END { print s + 0 }' "$FAULT_HOME/events.tsv")"
	[[ -n "${paid:-}" ]] || fail "no EventTaskClosed for task $TASK"
	((paid + refunded == TASK_FEE)) || fail "task $TASK: paid $paid + refunded $refunded != fee $TASK_FEE"
	((payouts == paid)) || fail "task $TASK: EventPayouts sum to $payouts, EventTaskClosed says paid $paid"
	TASK_PAID=$paid TASK_REFUNDED=$refunded
}

# ---------------------------------------------------------------- coins

declare -A SNAP_H=() SNAP_TOTAL=()

# snapshot NAME: at node0's current height, every tracked balance, the
# module account and the pool, each worker's bond, the open escrow; checks
# x/pouwml's escrow invariant there; writes $FAULT_HOME/snap-NAME.json.
snapshot() {
	local name="$1" h a bal total=0 mod pool workers tasks bonds escrow out
	h="$(h0)"
	[[ -n "$h" ]] || fail "node0 does not answer (snapshot $name)"
	out="{}"
	for a in "${ACCOUNTS[@]}"; do
		bal="$(balance_of "$(address "$a")" "$h")"
		total=$((total + bal))
		out="$(jq --arg k "$a" --arg v "$bal" '.balances[$k] = ($v | tonumber)' <<<"$out")"
	done
	mod="$(balance_of "$MODULE_ADDR" "$h")"
	pool="$(balance_of "$POOL_ADDR" "$h")"
	total=$((total + mod + pool))
	workers="$(api "/pouwml/v1/workers?pagination.limit=1000" "$h")"
	tasks="$(api "/pouwml/v1/tasks?pagination.limit=1000&pagination.reverse=true" "$h")" # open ones are the newest
	bonds="$(jq '[.workers[].bond.amount | tonumber] | add // 0' <<<"$workers")"
	escrow="$(jq '[.tasks[] | select(.status != "TASK_STATUS_COMPLETED" and .status != "TASK_STATUS_EXPIRED" and .status != "TASK_STATUS_CANCELLED") | .escrow.amount | tonumber] | add // 0' <<<"$tasks")"
	jq --argjson h "$h" --argjson mod "$mod" --argjson pool "$pool" --argjson total "$total" \
		--argjson bonds "$bonds" --argjson escrow "$escrow" --argjson w "$workers" \
		'. + {height: $h, pouwml_module: $mod, reward_pool: $pool, tracked_total: $total, bonds: $bonds, open_escrow: $escrow,
		      workers: [$w.workers[] | {address, role, status, bond: .bond.amount, jailed_until}]}' <<<"$out" >"$FAULT_HOME/snap-$name.json"
	((mod == bonds + escrow)) ||
		fail "escrow invariant broken at height $h: pouwml holds $mod upouw, open escrow $escrow + bonds $bonds = $((bonds + escrow))"
	SNAP_H[$name]=$h
	SNAP_TOTAL[$name]=$total
	fsay "snapshot $name at height $h: tracked $total upouw, pouwml module $mod = escrow $escrow + bonds $bonds (invariant holds), reward pool $pool"
}

# scan_events FROM TO: the coin-relevant events of blocks FROM+1..TO from
# node0's block results, one TSV line each:
#   burn AMOUNT BURNER | fee AMOUNT | slash ADDRESS AMOUNT REASON |
#   payout TASK AMOUNT RECIPIENT ROLE | closed TASK PAID REFUNDED |
#   lapse TASK JOB MINER REOPENED | jailed ADDRESS REASON
scan_events() {
	local h
	for ((h = $1 + 1; h <= $2; h++)); do
		rpc 0 "/block_results?height=$h" | jq -r --arg h "$h" '
			def attrs: reduce (.attributes // [])[] as $a ({}; .[$a.key] = $a.value);
			def j: fromjson? // .;
			def amt: capture("^(?<n>[0-9]+)upouw$").n // "0";
			[(.result.txs_results // [])[].events[]?, (.result.finalize_block_events // [])[]]
			| .[] | (attrs) as $a
			| if .type == "burn" then ["burn", ($a.amount | amt), $a.burner]
			  elif .type == "tx" and ($a.fee != null) then ["fee", (if $a.fee == "" then "0" else ($a.fee | amt) end)]
			  elif .type == "pouwml.v1.EventWorkerSlashed" then ["slash", ($a.address | j), ($a.amount | j | .amount), ($a.reason | j)]
			  elif .type == "pouwml.v1.EventPayout" then ["payout", ($a.task_id | j), ($a.amount | j | .amount), ($a.recipient | j), ($a.role | j)]
			  elif .type == "pouwml.v1.EventTaskClosed" then ["closed", ($a.id | j), ($a.paid | j | .amount), ($a.refunded | j | .amount)]
			  elif .type == "pouwml.v1.EventClaimLapsed" then ["lapse", ($a.task_id | j), ($a.job_index | j | tostring), ($a.miner | j), ($a.reopened | j | tostring)]
			  elif .type == "pouwml.v1.EventWorkerJailed" then ["jailed", ($a.address | j), ($a.reason | j)]
			  else empty end
			| map(tostring) + [$h] | @tsv' ||
			fail "block_results of height $h unreadable"
	done
}

# accounting A B: between snapshots A and B the tracked upouw fell by
# exactly what was burned (slashes) plus fees; fails on any other
# difference. Sets COINS_LOST (0) and SLASHES (a readable list).
accounting() {
	local a="$1" b="$2" ev burned fees slashed diff
	ev="$FAULT_HOME/events-$a-$b.tsv"
	scan_events "${SNAP_H[$a]}" "${SNAP_H[$b]}" >"$ev"
	burned="$(awk -F'\t' -v m="$MODULE_ADDR" '$1 == "burn" { s += $2; if ($3 != m) other++ } END { print s + 0 }' "$ev")"
	fees="$(awk -F'\t' '$1 == "fee" { s += $2 } END { print s + 0 }' "$ev")"
	slashed="$(awk -F'\t' '$1 == "slash" { s += $3 } END { print s + 0 }' "$ev")"
	((burned == slashed)) || fail "burned $burned upouw but slashes sum to $slashed"
	diff=$((SNAP_TOTAL[$a] - SNAP_TOTAL[$b] - burned - fees))
	COINS_LOST=$diff
	SLASHES="$(slash_list "$ev")"
	fsay "coins $a -> $b: tracked ${SNAP_TOTAL[$a]} -> ${SNAP_TOTAL[$b]}, burned by slashes $burned, fees $fees, unaccounted $diff"
	((diff == 0)) || fail "$diff upouw unaccounted between snapshots $a and $b (tracked ${SNAP_TOTAL[$a]} -> ${SNAP_TOTAL[$b]}, burned $burned, fees $fees)"
	rset coins "0 (burned by slashes: $burned upouw; fees $fees)"
}

# slash_list EVENTS: "verifier1 -10000 (missed reveal) at h=42, ..." naming workers.
slash_list() {
	local line addr amt reason h out="" name n
	while IFS=$'\t' read -r _ addr amt reason h; do
		name="$addr"
		for n in "${ACCOUNTS[@]}"; do [[ "$(address "$n")" == "$addr" ]] && name="$n"; done
		out+="${out:+, }$name -$amt ($reason) at h=$h"
	done < <(awk -F'\t' '$1 == "slash"' "$1")
	echo "${out:-none}"
}

# ---------------------------------------------------------------- data

# data_check LABEL: fetch the dataset from the storage ring into a fresh
# directory; its SHA-256 must be the chain's; count the shards held.
# Sets DATA_SUMMARY.
data_check() {
	local out="$FAULT_HOME/fetch-$1" log="$FAULT_HOME/fetch-$1.log" got held copies
	rm -rf "$out"
	"$POUWD" data fetch "$DS" --out "$out" --node "$NODE" --chain-id "$CHAIN_ID" >"$log" 2>&1 ||
		fail "dataset $DS could not be fetched ($1): $(tail -n 3 "$log")"
	got="$(sha256sum "$out/dataset.pouw" | cut -d' ' -f1)"
	[[ "$got" == "$DS_SHA" ]] || fail "fetched dataset hashes to $got, the chain says $DS_SHA"
	read -r held copies < <(shard_holdings)
	DATA_SUMMARY="none: fetched dataset sha256 = chain's; $held/14 shards held ($copies copies)"
	fsay "data ($1): $DATA_SUMMARY; $(grep -o 'parity used: [a-z]*' "$log" || true)"
	rm -rf "$out"
}

# shard_holdings: distinct shard indices of the dataset held by the storage
# peers on disk, and the number of copies.
shard_holdings() {
	local n
	for n in "${STORAGE[@]}"; do
		ls "$(worker_dir "$n")/p2p/store/shards/$DS" 2>/dev/null || true
	done | awk '{ c++; d[$1] = 1 } END { print length(d), c + 0 }'
}

# ---------------------------------------------------------------- validators

# validators_agree [NODES...]: the given nodes (default all) have the same
# block hash and app hash at the lowest of their heights minus one.
validators_agree() {
	local nodes=("$@") i h min="" bh ah ref_b="" ref_a=""
	[[ ${#nodes[@]} -gt 0 ]] || nodes=(0 1 2 3)
	for i in "${nodes[@]}"; do
		h="$(height_of "$i")"
		[[ -n "$h" ]] || fail "node$i does not answer"
		[[ -z "$min" || $h -lt $min ]] && min=$h
	done
	h=$((min - 1))
	for i in "${nodes[@]}"; do
		bh="$(rpc "$i" "/block?height=$h" | jq -r '.result.block_id.hash')"
		ah="$(rpc "$i" "/block?height=$((h + 1))" | jq -r '.result.block.header.app_hash')"
		if [[ -z "$ref_b" ]]; then
			ref_b=$bh ref_a=$ah
		elif [[ "$bh" != "$ref_b" || "$ah" != "$ref_a" ]]; then
			fail "node$i differs at height $h: block $bh app hash $ah, node${nodes[0]}: block $ref_b app hash $ref_a"
		fi
	done
	AGREE_AT=$h
	fsay "nodes ${nodes[*]} agree at height $h (block ${ref_b:0:12}…, app hash ${ref_a:0:12}…)"
}

# ---------------------------------------------------------------- processes

# kill9_node I / kill9_worker NAME: SIGKILL, then wait until it is gone.
kill9_node() {
	local pid
	pid="$(node_pid "$1")"
	[[ -n "$pid" ]] || fail "node$1 is not running"
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
kill9_worker() {
	local pid
	pid="$(worker_pid "$1")"
	[[ -n "$pid" ]] || fail "$1 is not running"
	kill -KILL "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
# restart_node I [WRAPPER...] / restart_worker NAME: start it again (not a
# job of this shell: its kill later is not reported here).
restart_node() { start_node "$@"; disown "$!" 2>/dev/null || true; }
restart_worker() { start_named_worker "$1"; disown "$!" 2>/dev/null || true; }

# common_end: the checks every row ends with, into the open record: the
# task verified, proofs settled, the end snapshot and its accounting
# against start, the data, the validators (NODES_UP, default all).
common_end() {
	settle_proofs
	task_verified
	rset notes "$TASK_SUMMARY"
	snapshot end
	accounting start end
	# shellcheck disable=SC2086
	validators_agree ${NODES_UP:-0 1 2 3}
	data_check end
	rset data "$DATA_SUMMARY"
	happened "${R[notes]}; slashes: $SLASHES"
}

# ---------------------------------------------------------------- logs

declare -A LOG_MARK=()
# mark_log NAME: remember where worker NAME's log ends now.
mark_log() { LOG_MARK[$1]="$(stat -c %s "$(worker_dir "$1")/log" 2>/dev/null || echo 0)"; }
# log_since NAME: worker NAME's log lines written since its mark_log.
log_since() { tail -c +"$((${LOG_MARK[$1]:-0} + 1))" "$(worker_dir "$1")/log" 2>/dev/null || true; }
# count_since NAME REGEX: how many of those lines match.
count_since() { log_since "$1" | grep -cE "$2" || true; }

# claimed_by MINER: the index of a job of TASK claimed by MINER, if any.
claimed_by() {
	jobs_json "$TASK" | jq -r --arg m "$(address "$1")" '[.jobs[] | select(.status == "JOB_STATUS_CLAIMED" and .miner == $m) | .index // 0] | first // empty'
}
# last_commit JOB MINER: the highest committed step of MINER on JOB of TASK ("" if none).
last_commit() {
	api "/pouwml/v1/tasks/$TASK/jobs/$1/commitments?pagination.limit=1000" |
		jq -r --arg m "$(address "$2")" '[.commitments[]? | select(.miner == $m) | .step | tonumber] | max // empty'
}

# payouts_match_work: every payout of TASK is for work done, by the rules of
# x/pouwml/README.md (Completion and payout), recomputed here from the
# chain's jobs and evaluations: each job is worth floor(fee / jobs); an
# ACCEPTED job pays its miner miner_fee_bps of it; the rest is split
# (floor) among the verifiers whose evaluation is on the job's model hash.
# The EventPayouts of the task must be exactly that, recipient by
# recipient: nobody is paid for a job they did not train or evaluate.
payouts_match_work() {
	local jobs n share mbps mshare pot exp="$FAULT_HOME/payouts-expected.tsv" got="$FAULT_HOME/payouts-got.tsv" j evals hash reps r each
	jobs="$(jobs_json "$TASK")"
	n="$(jq '.jobs | length' <<<"$jobs")"
	mbps="$(api /pouwml/v1/params | jq -r .params.miner_fee_bps)"
	share=$((TASK_FEE / n)) mshare=$((TASK_FEE / n * mbps / 10000))
	pot=$((share - mshare))
	: >"$exp"
	for ((j = 0; j < n; j++)); do
		[[ "$(jq -r --argjson j "$j" '.jobs[$j].status' <<<"$jobs")" == JOB_STATUS_SETTLED ]] || continue
		if [[ "$(jq -r --argjson j "$j" '.jobs[$j].outcome' <<<"$jobs")" == JOB_OUTCOME_ACCEPTED ]]; then
			printf '%s\t%s\n' "$(jq -r --argjson j "$j" '.jobs[$j].miner' <<<"$jobs")" "$mshare" >>"$exp"
		fi
		hash="$(jq -r --argjson j "$j" '.jobs[$j].model_hash' <<<"$jobs")"
		evals="$(api "/pouwml/v1/tasks/$TASK/jobs/$(jq -r --argjson j "$j" '.jobs[$j].index // 0' <<<"$jobs")/evaluations?pagination.limit=100")"
		mapfile -t reps < <(jq -r --arg h "$hash" '.evaluations[] | select(.model_hash == $h) | .verifier' <<<"$evals")
		((${#reps[@]} > 0)) || continue
		each=$((pot / ${#reps[@]}))
		for r in "${reps[@]}"; do printf '%s\t%s\n' "$r" "$each" >>"$exp"; done
	done
	awk -F'\t' -v t="$TASK" '$1 == "payout" && $2 == t { print $4 "\t" $3 }' "$FAULT_HOME/events.tsv" >"$got"
	local e g
	e="$(awk -F'\t' '{ s[$1] += $2 } END { for (a in s) print a, s[a] }' "$exp" | sort)"
	g="$(awk -F'\t' '{ s[$1] += $2 } END { for (a in s) print a, s[a] }' "$got" | sort)"
	[[ "$e" == "$g" ]] || fail "payouts of task $TASK differ from the work done: expected [$(tr '\n' ';' <<<"$e")], paid [$(tr '\n' ';' <<<"$g")]"
	fsay "payouts of task $TASK match the work done ($(wc -l <<<"$g") recipients)"
}

# tool NAME: the path of scripts/faults/NAME built (once per FAULTS_TMP).
tool() {
	local bin="$FAULTS_TMP/$1"
	if [[ ! -x "$bin" || -n "${FAULTS_REBUILD_TOOLS:-}" ]]; then
		(cd "$ROOT" && go build -o "$bin" "./scripts/faults/$1") || fail "go build ./scripts/faults/$1 failed"
	fi
	echo "$bin"
}
# hex_of_b64 B64: the hex of base64 bytes.
hex_of_b64() { base64 -d <<<"$1" | od -An -tx1 | tr -d ' \n'; }
