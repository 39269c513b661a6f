#!/usr/bin/env bash
# Row 4: kill -9 a verifier that has committed a verdict but not revealed it.
#
#  4a  verifier2 is restarted 3 s later, inside the proof's windows: it
#      restores its committed verdicts from <home>/verifier-state and
#      reveals them; it is never slashed during the task (checked at the
#      end: a verdict whose commit tx landed just before the kill was once
#      lost, see docs/FAULTS.md).
#  4b  verifier1 is kept down FAULT_DOWN seconds (default 75: past the
#      proof's commit and reveal windows, verdict_commit_blocks +
#      verdict_reveal_blocks, and a job's evaluation window of 30 blocks):
#      the proof settles on the other verifiers' reveals, verifier1 loses
#      verifier_miss_slash_bps for each verdict or evaluation it missed, and
#      every payout of the task is for work actually done (payouts_match_work).
#      Restarted, verifier1 tops its bond back up and verifies again.
ROW=04-verifier-kill
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DOWN="${FAULT_DOWN:-75}"

# committed_unrevealed VERIFIER: a proof still in its commit phase (so no
# reveal can be on its way) on which VERIFIER has committed; sets P.
committed_unrevealed() {
	local a id
	a="$(address "$1")"
	for id in $(proofs_json | jq -r --arg a "$a" '.proofs[] | select(.status == "PROOF_STATUS_COMMITTING" and (.verifiers | index($a))) | .id'); do
		if api "/pouwml/v1/proofs/$id/verdicts" | jq -e --arg a "$a" '.verdicts[]? | select(.verifier == $a and (.revealed | not))' >/dev/null; then
			P=$id
			return 0
		fi
	done
	return 1
}
proof_status() { api "/pouwml/v1/proofs/$1" | jq -r .proof.status; }
proof_settled() { [[ "$(proof_status "$1")" =~ ACCEPTED|REJECTED|UNDECIDED ]]; }
revealed_by() { api "/pouwml/v1/proofs/$1/verdicts" | jq -e --arg a "$(address "$2")" '.verdicts[] | select(.verifier == $a and .revealed)' >/dev/null; }
slashes_of() { # slashes_of NAME FROM: slash events of NAME after height FROM
	scan_events "$2" "$(h0)" | awk -F'\t' -v a="$(address "$1")" '$1 == "slash" && $2 == a' | wc -l
}

result_begin 4a "kill -9 verifier2 after it committed a verdict, restart it 3 s later (before the reveal deadline)"
fault_setup
params="$(api /pouwml/v1/params)"
MISS_BPS="$(jq -r .params.verifier_miss_slash_bps <<<"$params")"
CB="$(jq -r .params.verdict_commit_blocks <<<"$params")" RB="$(jq -r .params.verdict_reveal_blocks <<<"$params")"
DEMO_EPOCHS=10 DEMO_FOLDS=2 DEMO_DEADLINES='{"claim_blocks":"600","training_blocks":"600","evaluation_blocks":"30"}' submit_task

wait_until 240 "verifier2 to commit a verdict" committed_unrevealed verifier2
P2=$P
hk="$(h0)"
mark_log verifier2
kill9_worker verifier2
t_kill="$(now)"
happened "verifier2 killed (SIGKILL) at height $hk with its verdict on proof $P2 committed while the proof was still in its commit phase"
sleep 3
restart_worker verifier2
wait_until 60 "verifier2 to restore its verdicts" bash -c "tail -c +$((LOG_MARK[verifier2] + 1)) '$(worker_dir verifier2)/log' | grep -q 'restored committed verdicts'"
t_restored="$(now)"
wait_until 120 "proof $P2 to settle" proof_settled "$P2"
revealed_by "$P2" verifier2 || fail "verifier2 did not reveal its restored verdict on proof $P2"
s="$(slashes_of verifier2 "$hk")"
((s == 0)) || fail "verifier2 slashed $s times after its restart"
happened "restarted: restored its committed verdicts $(since "$t_kill" "$t_restored") s after the kill and revealed proof $P2's (settled $(proof_status "$P2")); not slashed"
rset recovery "verdict restored $(since "$t_kill" "$t_restored") s after the kill; revealed in its window"
snapshot a4
accounting start a4
rset data "none (verdict state under verifier-state restored)"
result_end PASS

# ---------------------------------------------------------------- 4b

result_begin 4b "kill -9 verifier1 after it committed a verdict; keep it down ${DOWN}s (past commit $CB + reveal $RB blocks)"
R4B_T0=$SECONDS
# The task's jobs train in seconds: when no proof is left in its commit
# phase and no job is still training, the proofs come from a second task
# of the same kind.
live() { proofs_json | jq -e --arg t "$TASK" '[.proofs[] | select(.task_id == $t and (.status == "PROOF_STATUS_PENDING" or .status == "PROOF_STATUS_COMMITTING"))] | length > 0' >/dev/null ||
	jobs_json "$TASK" | jq -e '[.jobs[] | select(.status == "JOB_STATUS_OPEN" or .status == "JOB_STATUS_CLAIMED")] | length > 0' >/dev/null; }
if ! committed_unrevealed verifier1 && ! live; then
	wait_task_closed 600
	happened "task $TASK had no proof left to judge when 4b began (closed $(task_status "$TASK" | sed 's/TASK_STATUS_//')): 4b runs on a second task"
	DEMO_EPOCHS=10 DEMO_FOLDS=2 DEMO_DEADLINES='{"claim_blocks":"600","training_blocks":"600","evaluation_blocks":"30"}' submit_task
fi
wait_until 240 "verifier1 to commit a verdict" committed_unrevealed verifier1
P1=$P
bond1="$(bond_of verifier1)"
hk="$(h0)"
kill9_worker verifier1
t_kill="$(now)"
happened "verifier1 killed (SIGKILL) at height $hk with its verdict on proof $P1 committed while the proof was still in its commit phase"
wait_until 180 "proof $P1 to settle without verifier1" proof_settled "$P1"
t_settled="$(now)"
pj="$(api "/pouwml/v1/proofs/$P1")"
happened "proof $P1 settled $(jq -r .proof.status <<<"$pj") on the others' reveals ($(jq -r '.proof.accepts // 0' <<<"$pj") accepts, $(jq -r '.proof.rejects // 0' <<<"$pj") rejects) $(since "$t_kill" "$t_settled") s after the kill"
remaining=$((DOWN - ($(date +%s) - ${t_kill%.*})))
((remaining <= 0)) || sleep "$remaining"
hb="$(h0)"
bond1b="$(bond_of verifier1)"
nmiss="$(slashes_of verifier1 "$hk")"
((nmiss >= 1)) || fail "verifier1 missed the reveal of proof $P1 and was not slashed"
# Each miss costs verifier_miss_slash_bps of the bond at that moment.
want="$bond1"
for ((i = 0; i < nmiss; i++)); do want=$((want - want * MISS_BPS / 10000)); done
((bond1b == want)) || fail "verifier1's bond is $bond1b after $nmiss misses, the rules say $want"
happened "down $(since "$t_kill") s (height $hk -> $hb): slashed $nmiss time(s) (${MISS_BPS} bps each, bond $bond1 -> $bond1b): one per verdict or evaluation it had been drawn for while down (it stays eligible until its first miss is slashed, a commit plus reveal window later; then its bond is under min_worker_bond and it is no longer drawn)"
restart_worker verifier1
t_restart="$(now)"
topped() { (($(bond_of verifier1) >= bond1)); }
wait_until 120 "verifier1 to top its bond back up" topped
happened "restarted: bond topped back up to $(bond_of verifier1) $(since "$t_restart") s after the restart"
rset recovery "proof settled without it $(since "$t_kill" "$t_settled") s after the kill (its reveal deadline); back in the pool $(since "$t_restart") s after its restart"

wait_task_closed 600
common_end
# verifier2 was down 3 s, well inside every window: never slashed.
s="$(awk -F'\t' -v a="$(address verifier2)" '$1 == "slash" && $2 == a' "$FAULT_HOME/events-start-end.tsv" | wc -l)"
((s == 0)) || fail "verifier2, restarted within its windows, was slashed $s time(s) during the task"
happened "verifier2 (row 4a) was not slashed during the whole task"
rset seconds $((SECONDS - R4B_T0))
result_end PASS
