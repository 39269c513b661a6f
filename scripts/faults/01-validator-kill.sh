#!/usr/bin/env bash
# Row 1: kill -9 one validator of four mid-task, restart it. The other three
# hold 75% of the voting power (> 2/3): blocks must continue; the restarted
# node must catch up (same block and app hashes as the others) and the task
# must complete with every coin accounted for.
#
# FAULT_NODE: the validator killed (default 3; 0 is the node the workers
# and this script talk to). FAULT_DOWN: seconds it stays down (default 20).
ROW=01-validator-kill
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N="${FAULT_NODE:-3}"
DOWN="${FAULT_DOWN:-20}"
((N != 0)) || fail "FAULT_NODE=0 is the node the workers use; pick 1..3"

result_begin 1 "kill -9 validator node$N of 4 mid-task, restart it after ${DOWN}s"
fault_setup
DEMO_EPOCHS=2 DEMO_FOLDS=2 submit_task

wait_until 120 "a job to be claimed" bash -c "curl -sf '$API/pouwml/v1/tasks/$TASK/jobs' | jq -e '[.jobs[] | select(.status == \"JOB_STATUS_CLAIMED\")] | length > 0' >/dev/null"
hb="$(h0)" tb="$(now)"
sleep 5
hk="$(h0)"
rate="$(awk -v n=$((hk - hb)) -v t="$(since "$tb")" 'BEGIN { printf "%.2f", n / t }')"
kill9_node "$N"
t_kill="$(now)"
happened "node$N killed (SIGKILL) at height $hk with $(job_line "$TASK")"

# The other three go on: node0 must add blocks while node N is down.
sleep "$DOWN"
hd="$(h0)"
((hd >= hk + DOWN / 4)) || fail "blocks stalled with one validator down: height $hk -> $hd in ${DOWN}s"
dt="$(since "$t_kill")"
happened "blocks continued with node$N down: height $hk -> $hd in $dt s ($(awk -v n=$((hd - hk)) -v t="$dt" 'BEGIN { printf "%.2f", n / t }') blocks/s; $rate before the kill: its turns as proposer time out)"

restart_node "$N"
t_restart="$(now)"
hr="$(h0)"
wait_until 120 "node$N to answer" _height_at_least "$N" 1
t_answer="$(now)"
caught_up() { local a b; a="$(height_of "$N")"; b="$(h0)"; [[ -n "$a" && -n "$b" ]] && ((a + 1 >= b)); }
wait_until 180 "node$N to catch up" caught_up
rec="$(since "$t_restart")"
happened "restarted at height $hr: RPC up in $(since "$t_restart" "$t_answer") s, caught up with node0 (height $(height_of "$N")) $rec s after the restart"
validators_agree 0 1 2 3
rset recovery "blocks never stopped; node$N caught up in $rec s after restart (${DOWN}s down, $((hr - hk)) blocks behind)"

wait_task_closed 600
common_end
result_end PASS
