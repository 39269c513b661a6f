#!/usr/bin/env bash
# Row 10: load. A miner pair with many small jobs (4 learning rates x 4
# folds: 16 one-epoch jobs) runs twice on the same localnet: once on a quiet
# chain (the baseline), then with the mempool kept full by the load
# generator (scripts/bench/loadgen: LOAD_ACCOUNTS accounts offering
# LOAD_RATE bank sends a second for LOAD_SECONDS, never pausing for the
# mempool; each node's mempool holds LOAD_MEMPOOL txs, so it fills within
# seconds and new txs are refused). The workers' claim, commitment, proof,
# evaluation, verdict-commit and reveal txs must still get in (the chain
# client backs off and resends while the mempool is full), the task must
# complete on verified values with its fee paid out and every coin
# accounted for. Reported: committed tx/s, mean block time and rejections
# under the flood, the workers' "mempool full" retries, and the task's time
# against the baseline.
#
# Environment: LOAD_RATE (default 400 tx/s offered), LOAD_ACCOUNTS (200),
# LOAD_SECONDS (240), LOAD_MEMPOOL (2000 txs per node).
ROW=10-load
export LOCALNET_MEMPOOL_SIZE="${LOAD_MEMPOOL:-2000}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
RATE="${LOAD_RATE:-400}"
ACCS="${LOAD_ACCOUNTS:-200}"
LOAD_S="${LOAD_SECONDS:-240}"
LOADGEN="$FAULTS_TMP/loadgen"

result_begin 10 "load: the mempool kept full ($LOCALNET_MEMPOOL_SIZE txs per node; ${RATE} bank sends/s offered from $ACCS accounts) while a 16-job task runs"
if [[ ! -x "$LOADGEN" ]]; then
	(cd "$ROOT" && go build -o "$LOADGEN" ./scripts/bench/loadgen) || fail "building the load generator failed"
fi
fault_setup
nodes=""
for i in 0 1 2 3; do nodes+="${nodes:+,}http://127.0.0.1:$(rpc_port "$i")"; done
loadgen() { "$LOADGEN" -nodes "$nodes" -chain-id "$CHAIN_ID" -funder "$LH/keys/client.json" -accounts "$ACCS" -msg bank-send "$@"; }

# The load accounts are funded from client first (a short run, which must
# see a block: 6 s, as a busy machine's blocks can take longer than 1 s),
# and the coin snapshot is taken again after that: the flood's sends move
# coins only between load accounts, which the accounting does not track.
loadgen -duration 6s -rate 5 >"$FAULT_HOME/loadgen-fund.log" 2>&1 || fail "funding the load accounts failed: $(tail -n 3 "$FAULT_HOME/loadgen-fund.log")"
snapshot start

# Under the flood the client's task tx waits its turn behind a full
# mempool: up to 3 minutes, not the demo's 30 s.
many_jobs() { DEMO_TX_WAIT=180 DEMO_LRS="100000000 50000000 20000000 10000000" DEMO_FOLDS=4 DEMO_EPOCHS=1 submit_task; }

# Baseline: the same task on a quiet chain.
many_jobs
t0="$(now)"
wait_task_closed 900
settle_proofs
task_verified
BASE_S="$(since "$t0")"
BASE_TASK=$TASK
happened "baseline: task $TASK (16 jobs) closed in $BASE_S s on a quiet chain"

# The flood, then the same task under it.
for n in "${MINERS[@]}" "${VERIFIERS[@]}"; do mark_log "$n"; done
loadgen -duration "${LOAD_S}s" -rate "$RATE" -max-pending 0 -json "$FAULT_HOME/loadgen.json" >"$FAULT_HOME/loadgen.log" 2>&1 &
LOAD_PID=$!
t_flood="$(now)"
BG_PIDS+=("$LOAD_PID")
full() { local n; n="$(rpc 0 /num_unconfirmed_txs | jq -r '.result.total // 0')"; ((n >= LOCALNET_MEMPOOL_SIZE * 9 / 10)); }
wait_until 120 "node0's mempool to fill" full
happened "node0's mempool full ($(rpc 0 /num_unconfirmed_txs | jq -r .result.total) of $LOCALNET_MEMPOOL_SIZE txs) $(since "$t_flood") s into the flood (funding the accounts included)"
many_jobs
t1="$(now)"
closed_under_load=""
while kill -0 "$LOAD_PID" 2>/dev/null; do
	st="$(task_status "$TASK")"
	if [[ -z "$closed_under_load" && ("$st" == TASK_STATUS_COMPLETED || "$st" == TASK_STATUS_EXPIRED) ]]; then
		closed_under_load="$(since "$t1")"
	fi
	sleep 2
done
wait "$LOAD_PID" || fail "the load generator failed: $(tail -n 5 "$FAULT_HOME/loadgen.log")"
wait_task_closed 900
LOAD_TASK_S="${closed_under_load:-$(since "$t1")}"
settle_proofs
task_verified

L="$FAULT_HOME/loadgen.json"
busy=0 gas=0 failed=0 topups=""
for n in "${MINERS[@]}" "${VERIFIERS[@]}"; do
	busy=$((busy + $(count_since "$n" 'mempool full; backing off')))
	gas=$((gas + $(count_since "$n" 'tx out of gas')))
	failed=$((failed + $(count_since "$n" 'level=ERROR')))
	k="$(count_since "$n" 'bond below the minimum after slashes; topping it up')"
	((k == 0)) || topups+="${topups:+, }$n $k"
done
happened "$(jq -r '"flood of \(.duration_s) s: \(.sent) txs offered, committed \(.tx_per_s | . * 10 | round / 10) tx/s (all txs, the workers\u0027 too), mean block time \(.mean_block_time_s | . * 1000 | round / 1000) s, max \(.max_block_txs) txs a block, \(.rejected) rejected (\(.broadcast_errors) refused by a full mempool or the RPC, \(.checktx_rejected) by CheckTx, \(.delivertx_failed) failed in a block)"' "$L")"
happened "under the flood task $TASK (16 jobs) closed in $LOAD_TASK_S s against $BASE_S s on a quiet chain; the workers resent $busy txs refused by the full mempool, $gas out of gas, and logged $failed errors; bonds topped back up after slashes (worker.TopUp): ${topups:-none}"
rset recovery "task closed in $LOAD_TASK_S s under load vs $BASE_S s quiet; $(jq -r '"\(.tx_per_s | . * 10 | round / 10) tx/s, block time \(.mean_block_time_s | . * 100 | round / 100) s, \(.rejected) rejected"' "$L")"
common_end
((failed == 0)) || fail "the workers logged $failed errors under load"
result_end PASS
