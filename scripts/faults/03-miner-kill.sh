#!/usr/bin/env bash
# Row 3: kill -9 a miner mid-job.
#
#  3a  miner1 is killed once it has trained 2000+ steps of a job (of 18720:
#      40 epochs) and has commitments on chain past step 0, and restarted
#      2 s later: it must resume from the checkpoint of its last commitment
#      on chain (step journal under <home>/miner-state, checkpoints in its
#      store), keep its claim, and the job must settle ACCEPTED with every
#      proof of it accepted and no slash; its model hash must be the one an
#      uninterrupted run of the same job gives (scripts/faults/jobhash
#      retrains it from the task record): the same bits.
#  3b  miner2 is killed mid-job and kept down past the job's training
#      deadline (FAULT_TRAINING_BLOCKS, default 60): the claim lapses, the
#      miner loses claim_lapse_slash_bps of its bond (burned), the job
#      reopens and another miner completes it; restarted, miner2 tops its
#      bond back up and works again. When 3a's task has no job left for
#      miner2 by then (its jobs train in about 20 s), 3b waits for that
#      task to close and submits a second one.
ROW=03-miner-kill
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TB="${FAULT_TRAINING_BLOCKS:-60}"

result_begin 3a "kill -9 miner1 mid-job (2000+ of 18720 steps trained), restart it 2 s later"
fault_setup
DEMO_LRS="100000000 50000000 20000000" DEMO_EPOCHS=40 DEMO_FOLDS=2 DEMO_DEADLINES="{\"claim_blocks\":\"600\",\"training_blocks\":\"$TB\",\"evaluation_blocks\":\"100\"}" submit_task
params="$(api /pouwml/v1/params)"
SLASH_BPS="$(jq -r '.params.claim_lapse_slash_bps' <<<"$params")"

# A job of miner1 trained past step 2000 (its step journal, flushed at
# every commitment: 136 bytes a step) with commitments on chain past step 0.
journal_steps() { echo $(($(stat -c %s "$(worker_dir miner1)/miner-state/journal/task$TASK-job$1.v2steps" 2>/dev/null || echo 0) / 136)); }
progressed() { # the journal first: a file size, no query (the job trains fast)
	local f
	for f in "$(worker_dir miner1)/miner-state/journal/task$TASK-job"*.v2steps; do
		[[ -f "$f" ]] && (($(stat -c %s "$f") / 136 >= 2000)) || continue
		J1="${f##*-job}" J1="${J1%.v2steps}"
		[[ "$(api "/pouwml/v1/tasks/$TASK/jobs/$J1" | jq -r .job.status)" == JOB_STATUS_CLAIMED ]] || continue
		S1="$(last_commit "$J1" miner1)"
		[[ -n "$S1" ]] && ((S1 > 0)) && return 0
	done
	return 1
}
wait_until 180 "miner1 to train past step 2000" progressed
bond1="$(bond_of miner1)"
mark_log miner1
kill9_worker miner1
t_kill="$(now)"
jsteps="$(journal_steps "$J1")"
happened "miner1 killed (SIGKILL) on job $J1 at height $(h0): $jsteps steps trained (journal), last commitment on chain at step $S1 (more in flight)"
sleep 2
S0="$(last_commit "$J1" miner1)" # on chain at the restart (more may land)
restart_worker miner1
t_restart="$(now)"
resumed() { log_since miner1 | grep -q "resuming from checkpoint"; }
wait_until 120 "miner1 to resume job $J1" resumed
t_resumed="$(now)"
rstep="$(log_since miner1 | grep -m1 "resuming from checkpoint" | grep -o 'step=[0-9]*' | cut -d= -f2)"
# Commitments in flight at the kill may land after the restart, and the
# resumed miner commits again within milliseconds (its steps are fast): the
# resume point is a commitment on chain, at or after the last one there at
# the restart.
commit_on_chain() {
	api "/pouwml/v1/tasks/$TASK/jobs/$J1/commitments?pagination.limit=1000" |
		jq -e --arg m "$(address miner1)" --arg s "$1" '[.commitments[] | select(.miner == $m and .step == $s)] | length == 1' >/dev/null
}
((rstep >= S0)) && commit_on_chain "$rstep" ||
	fail "miner1 resumed job $J1 from step $rstep; the last commitment on chain at the restart was step $S0"
S1=$rstep
past() { local s; s="$(last_commit "$J1" miner1)"; [[ -n "$s" ]] && ((s > S1)); }
wait_until 120 "miner1's first commitment after step $S1" past
t_commit="$(now)"
jl="$(log_since miner1 | grep -m1 "drawn from the step journal" | grep -o 'steps=[0-9]*' || echo "steps=0")"
happened "restarted: resumed job $J1 from the checkpoint of step $rstep (the $((jsteps - rstep)) steps trained after it are trained again) $(since "$t_restart" "$t_resumed") s after the restart (lottery of ${jl#steps=} journaled steps before it redrawn), next commitment on chain $(since "$t_restart" "$t_commit") s after the restart"
rset recovery "training resumed $(since "$t_kill" "$t_resumed") s after the kill (2 s down); next commitment $(since "$t_kill" "$t_commit") s after the kill"

settled() { [[ "$(api "/pouwml/v1/tasks/$TASK/jobs/$J1" | jq -r .job.status)" == JOB_STATUS_SETTLED ]]; }
wait_until 300 "job $J1 to settle" settled
job="$(api "/pouwml/v1/tasks/$TASK/jobs/$J1")"
[[ "$(jq -r .job.outcome <<<"$job")" == JOB_OUTCOME_ACCEPTED ]] || fail "job $J1 settled $(jq -r .job.outcome <<<"$job")"
[[ "$(jq -r .job.miner <<<"$job")" == "$(address miner1)" ]] || fail "job $J1 was not finished by miner1"
# Commitments: 0, 50, 100, ... without a gap or a repeat across the restart.
ci="$(jq -r '.params.commit_interval' <<<"$params")"
api "/pouwml/v1/tasks/$TASK/jobs/$J1/commitments?pagination.limit=1000" |
	jq -e --arg m "$(address miner1)" --argjson ci "$ci" '[.commitments[] | select(.miner == $m) | .step | tonumber] | sort
		| . == [range(0; length) | . * $ci]' >/dev/null || fail "job $J1's commitments have a gap or repeat across the restart"
job_proofs() { proofs_json | jq --argjson j "$J1" --arg t "$TASK" '[.proofs[] | select(.task_id == $t and (.job_index // 0) == $j)]'; }
job_proofs_settled() { job_proofs | jq -e 'length > 0 and all(.status | test("ACCEPTED|REJECTED|UNDECIDED"))' >/dev/null; }
wait_until 180 "job $J1's proofs to settle" job_proofs_settled
pj="$(job_proofs)"
np="$(jq length <<<"$pj")"
na="$(jq '[.[] | select(.status == "PROOF_STATUS_ACCEPTED")] | length' <<<"$pj")"
nafter="$(jq --argjson s "$S1" '[.[] | select((.commit_step // "0" | tonumber) >= $s and .status == "PROOF_STATUS_ACCEPTED")] | length' <<<"$pj")"
((np == na)) || fail "job $J1: $na of $np proofs accepted"
[[ "$(bond_of miner1)" == "$bond1" ]] || fail "miner1's bond changed from $bond1 to $(bond_of miner1)"
want="$("$(tool jobhash)" -grpc "127.0.0.1:$(grpc_port 0)" -task "$TASK" -job "$J1" -data "$DEMO/data/mnist")" || fail "jobhash failed"
got="$(hex_of_b64 "$(jq -r .job.model_hash <<<"$job")")"
[[ "$got" == "$want" ]] || fail "job $J1's model hash $got is not the uninterrupted run's $want"
happened "job $J1's model hash ${got:0:16}… = that of the same job retrained without interruption (jobhash): same bits"
happened "job $J1 settled ACCEPTED by miner1 (verified $(jq -r .job.verified_ppm <<<"$job") ppm = claimed), commitments contiguous across the restart, $na/$np proofs accepted ($nafter from the resumed intervals), bond untouched"
snapshot a3
accounting start a3
data_check a3
rset data "$DATA_SUMMARY"
result_end PASS

# ---------------------------------------------------------------- 3b

result_begin 3b "kill -9 miner2 mid-job and keep it down past the training deadline ($TB blocks)"
R3B_T0=$SECONDS
# The first task's jobs train in about 20 s each: by the end of 3a's checks
# miner2 may have finished every job left to it. Then the first task is
# seen closed and 3b runs on a second task of the same kind.
open_jobs() { jobs_json "$TASK" | jq -e '[.jobs[] | select(.status == "JOB_STATUS_OPEN" or .status == "JOB_STATUS_CLAIMED")] | length > 0' >/dev/null; }
if [[ -z "$(claimed_by miner2)" ]] && ! open_jobs; then
	wait_task_closed 600
	happened "every job of task $TASK was taken before 3b began; the task closed $(task_status "$TASK" | sed 's/TASK_STATUS_//'); 3b runs on a second task"
	DEMO_LRS="100000000 50000000 20000000" DEMO_EPOCHS=40 DEMO_FOLDS=2 DEMO_DEADLINES="{\"claim_blocks\":\"600\",\"training_blocks\":\"$TB\",\"evaluation_blocks\":\"100\"}" submit_task
fi
on_job() { J2="$(claimed_by miner2)"; [[ -n "$J2" ]]; }
wait_until 180 "miner2 to claim a job" on_job
bond2="$(bond_of miner2)"
deadline="$(api "/pouwml/v1/tasks/$TASK/jobs/$J2" | jq -r .job.deadline)"
kill9_worker miner2
t_kill="$(now)"
hk="$(h0)"
happened "miner2 killed (SIGKILL) on job $J2 at height $hk (its training deadline: height $deadline)"
lapsed() { [[ "$(api "/pouwml/v1/tasks/$TASK/jobs/$J2" | jq -r '.job.miner // ""')" != "$(address miner2)" ]]; }
wait_until $((TB * 4 + 60)) "job $J2's claim to lapse" lapsed
t_lapse="$(now)"
reclaimed() { [[ "$(api "/pouwml/v1/tasks/$TASK/jobs/$J2" | jq -r .job.status)" =~ CLAIMED|SUBMITTED|ASSIGNED|SETTLED ]]; }
wait_until 240 "job $J2 to be claimed again" reclaimed
t_reclaim="$(now)"
bond2b="$(bond_of miner2)"
want=$((bond2 - bond2 * SLASH_BPS / 10000))
((bond2b == want)) || fail "miner2's bond after the lapse is $bond2b, the rules say $bond2 - ${SLASH_BPS}bps = $want"
happened "claim lapsed at the deadline (height $(h0) $(since "$t_kill" "$t_lapse") s after the kill): miner2's bond $bond2 -> $bond2b (-${SLASH_BPS} bps, burned), job $J2 reopened and claimed by $(api "/pouwml/v1/tasks/$TASK/jobs/$J2" | jq -r .job.miner | sed "s/$(address miner1)/miner1/") $(since "$t_lapse" "$t_reclaim") s later"
restart_worker miner2
mark_log miner2
topped() { (($(bond_of miner2) >= bond2)); }
wait_until 120 "miner2 to top its bond back up" topped
happened "miner2 restarted: bond topped back up to $(bond_of miner2)"
rset recovery "job reassigned $(since "$t_kill" "$t_reclaim") s after the kill (the deadline is block-based: $TB blocks after the claim)"

wait_task_closed 600
common_end
[[ "$(api "/pouwml/v1/tasks/$TASK/jobs/$J2" | jq -r .job.miner)" != "$(address miner2)" ]] || fail "job $J2 was paid to miner2 after its claim lapsed"
lapse_slashes="$(awk -F'\t' -v m="$(address miner2)" '$1 == "slash" && $2 == m' "$FAULT_HOME/events-start-end.tsv" | wc -l)"
((lapse_slashes == 1)) || fail "miner2 slashed $lapse_slashes times, the rules say once"
rset seconds $((SECONDS - R3B_T0))
result_end PASS
