package keeper

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"cosmossdk.io/collections"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Settlement: deciding a job from its evaluations and a proof from its
// verdicts, and paying out a task's fee when it closes. The rules of
// x/pouwml/README.md ("Settlement", "Completion and payout", "Proof of
// useful work") are the pure functions decideJob, decidePayout and
// decideProof, which see plain values and touch no store; settleJob,
// closeTask and settleProof read their inputs and apply the decision.

// jobReport is one verifier's evaluation as settlement sees it.
type jobReport struct {
	Verifier  string
	SameModel bool   // evaluated the model hash the miner submitted
	ValuePpm  uint64 // its value of the task's metric
}

// jobInputs is everything decideJob looks at.
type jobInputs struct {
	Assigned   []string    // the job's verifiers
	Reports    []jobReport // in verifier-address order
	ClaimedPpm uint64      // the miner's claim on the task's metric
	Attempts   uint32      // claims and verification rounds so far
	AtDeadline bool        // the evaluation deadline passed (else every verifier reported)
}

// jobAction is what settlement does with a job's result.
type jobAction int

const (
	// jobWait: no quorum yet and the deadline has not passed; nothing changes.
	jobWait jobAction = iota
	// jobAccept: a quorum evaluated the miner's model and the claim is
	// within metric_tolerance_ppm of their median: SETTLED, ACCEPTED.
	jobAccept
	// jobMisclaim: a quorum evaluated the miner's model but the claim is
	// off: SETTLED, MISCLAIMED at the median; the miner is slashed and jailed.
	jobMisclaim
	// jobReject: a quorum evaluated another model: the result is rejected,
	// the miner slashed and jailed, the job reopened (or FAILED).
	jobReject
	// jobRedraw: no quorum at the deadline: fresh verifiers for the same
	// result (or FAILED).
	jobRedraw
)

// jobDecision is what settleJob applies.
type jobDecision struct {
	Action jobAction
	// Absent are the assigned verifiers with no report at the deadline;
	// each loses AbsentSlashBps of its bond.
	Absent         []string
	AbsentSlashBps uint32
	// VerifiedPpm (accept, misclaim) is the median of the quorum's values.
	VerifiedPpm uint64
	// Outliers (accept, misclaim) are the reports on another model or
	// further than outlier_ppm from the median, in report order.
	Outliers []jobReport
	// MinerSlashBps (misclaim, reject) is burned from the miner's bond and
	// the miner is jailed for MinerJailBlocks.
	MinerSlashBps   uint32
	MinerJailBlocks uint64
	// Exhausted (reject, redraw): max_job_attempts are used up, so the job
	// FAILS instead of reopening (reject) or being re-queued (redraw).
	Exhausted bool
}

// decideJob applies the settlement rules to a job's reports.
func decideJob(in jobInputs, p types.Params) jobDecision {
	var d jobDecision
	if in.AtDeadline {
		for _, v := range in.Assigned {
			if !slices.ContainsFunc(in.Reports, func(r jobReport) bool { return r.Verifier == v }) {
				d.Absent = append(d.Absent, v)
			}
		}
		if len(d.Absent) > 0 {
			d.AbsentSlashBps = p.VerifierMissSlashBps
		}
	}
	q := types.Quorum(len(in.Assigned), p.QuorumBps)
	var values []uint64
	others := 0
	for _, r := range in.Reports {
		if r.SameModel {
			values = append(values, r.ValuePpm)
		} else {
			others++
		}
	}
	switch {
	case q > 0 && len(values) >= q:
		median := types.Median(values)
		d.VerifiedPpm = median
		for _, r := range in.Reports {
			if !r.SameModel || types.AbsDiff(r.ValuePpm, median) > uint64(p.OutlierPpm) {
				d.Outliers = append(d.Outliers, r)
			}
		}
		if types.AbsDiff(in.ClaimedPpm, median) <= uint64(p.MetricTolerancePpm) {
			d.Action = jobAccept
		} else {
			d.Action, d.MinerSlashBps, d.MinerJailBlocks = jobMisclaim, p.MisclaimSlashBps, p.JailBlocks
		}
	case q > 0 && others >= q:
		d.Action, d.MinerSlashBps, d.MinerJailBlocks = jobReject, p.MisclaimSlashBps, p.JailBlocks
		d.Exhausted = attemptsUsedUp(in.Attempts, p)
	case !in.AtDeadline:
		d.Action = jobWait // every verifier reported, split without a quorum: the deadline redraws
	default:
		d.Action = jobRedraw
		d.Exhausted = in.Attempts+1 > p.MaxJobAttempts // this round counts as one more
	}
	return d
}

// attemptsUsedUp reports whether a job that made attempts claims and
// verification rounds may not be claimed again.
func attemptsUsedUp(attempts uint32, p types.Params) bool { return attempts >= p.MaxJobAttempts }

// settleJob settles an ASSIGNED job once every verifier reported, or at its
// evaluation deadline (atDeadline) with whoever reported: it reads the
// reports, asks decideJob and applies the decision.
func (k Keeper) settleJob(ctx context.Context, job types.Job, atDeadline bool) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	task, err := k.getTask(ctx, job.TaskId)
	if err != nil {
		return err
	}
	evals, err := k.jobEvaluations(ctx, job.TaskId, job.Index)
	if err != nil {
		return err
	}
	metric := task.Cv.Metric
	in := jobInputs{Assigned: job.Verifiers, ClaimedPpm: job.Claimed.Value(metric), Attempts: job.Attempts, AtDeadline: atDeadline}
	for _, e := range evals {
		in.Reports = append(in.Reports, jobReport{Verifier: e.Verifier, SameModel: bytes.Equal(e.ModelHash, job.ModelHash), ValuePpm: e.Metrics.Value(metric)})
	}
	return k.applyJobDecision(ctx, &task, job, len(evals), decideJob(in, p))
}

// applyJobDecision carries out a jobDecision on the job, its task, its
// miner and its verifiers; reports is how many verifiers reported.
func (k Keeper) applyJobDecision(ctx context.Context, task *types.Task, job types.Job, reports int, d jobDecision) error {
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if err := k.penaliseAbsent(ctx, d.Absent, d.AbsentSlashBps); err != nil {
		return err
	}
	minerAddr, err := k.parseAddr("miner", job.Miner)
	if err != nil {
		return err
	}
	miner, err := k.getWorker(ctx, minerAddr, job.Miner)
	if err != nil {
		return err
	}
	key := collections.Join(job.TaskId, job.Index)
	switch d.Action {
	case jobAccept, jobMisclaim:
		for _, r := range d.Outliers {
			if err := k.recordOutlier(ctx, job.TaskId, job.Index, r, d.VerifiedPpm); err != nil {
				return err
			}
		}
		job.VerifiedPpm = d.VerifiedPpm
		job.Status = types.JOB_STATUS_SETTLED
		job.SettledHeight = height
		if d.Action == jobAccept {
			job.Outcome = types.JOB_OUTCOME_ACCEPTED
			miner.AcceptedCount++
			if err := k.Workers.Set(ctx, minerAddr, miner); err != nil {
				return err
			}
		} else {
			job.Outcome = types.JOB_OUTCOME_MISCLAIMED
			miner.RejectedCount++
			if err := k.slash(ctx, minerAddr, &miner, d.MinerSlashBps, "claimed metric off the verified median by more than the tolerance"); err != nil {
				return err
			}
			if err := k.jail(ctx, minerAddr, &miner, d.MinerJailBlocks, "misclaimed metric"); err != nil {
				return err
			}
		}
		if err := k.Jobs.Set(ctx, key, job); err != nil {
			return err
		}
		if err := emit(ctx, &types.EventJobSettled{TaskId: job.TaskId, JobIndex: job.Index, VerifiedPpm: d.VerifiedPpm, Outcome: job.Outcome, Reports: uint32(reports)}); err != nil {
			return err
		}
		task.JobsEvaluating--
		return k.jobFinal(ctx, task)
	case jobReject:
		miner.RejectedCount++
		if err := k.slash(ctx, minerAddr, &miner, d.MinerSlashBps, "verifiers evaluated a different model than the one claimed"); err != nil {
			return err
		}
		if err := k.jail(ctx, minerAddr, &miner, d.MinerJailBlocks, "model hash mismatch"); err != nil {
			return err
		}
		task.JobsEvaluating--
		reopened, err := k.reopenJob(ctx, task, job, d.Exhausted, height)
		if err != nil {
			return err
		}
		return emit(ctx, &types.EventJobRejected{TaskId: job.TaskId, JobIndex: job.Index, Miner: job.Miner, Reason: "a quorum of verifiers evaluated a different model hash", Reopened: reopened})
	case jobRedraw:
		if err := k.clearEvaluations(ctx, job.TaskId, job.Index); err != nil {
			return err
		}
		job.Attempts++
		if d.Exhausted {
			task.JobsEvaluating--
			return k.endJob(ctx, task, job, types.JOB_STATUS_FAILED)
		}
		job.Status = types.JOB_STATUS_SUBMITTED
		job.Verifiers, job.Reports, job.Deadline, job.AssignedHeight = nil, 0, 0, 0
		if err := k.Jobs.Set(ctx, key, job); err != nil {
			return err
		}
		return k.AssignmentQueue.Set(ctx, collections.Join3(height+1, job.TaskId, job.Index))
	}
	return nil // jobWait
}

// recordOutlier counts an outlying report against its verifier.
func (k Keeper) recordOutlier(ctx context.Context, taskID uint64, idx uint32, r jobReport, median uint64) error {
	addr, err := k.parseAddr("verifier", r.Verifier)
	if err != nil {
		return err
	}
	w, err := k.getWorker(ctx, addr, r.Verifier)
	if err != nil {
		return err
	}
	w.OutlierCount++
	if err := k.Workers.Set(ctx, addr, w); err != nil {
		return err
	}
	return emit(ctx, &types.EventVerifierOutlier{Address: r.Verifier, TaskId: taskID, JobIndex: idx, ReportedPpm: r.ValuePpm, MedianPpm: median})
}

// penaliseAbsent slashes assigned verifiers that did not report by the
// deadline and releases their assignment.
func (k Keeper) penaliseAbsent(ctx context.Context, absent []string, bps uint32) error {
	for _, v := range absent {
		addr, err := k.parseAddr("verifier", v)
		if err != nil {
			return err
		}
		w, err := k.getWorker(ctx, addr, v)
		if err != nil {
			return err
		}
		w.MissedCount++
		if w.OpenItems > 0 {
			w.OpenItems--
		}
		if err := k.slash(ctx, addr, &w, bps, "missed an evaluation deadline"); err != nil {
			return err
		}
	}
	return nil
}

// proofVote is one assigned verifier's verdict as settlement sees it.
type proofVote struct {
	Verifier string
	Revealed bool // committed and revealed in time
	Accept   bool // the revealed verdict (only if Revealed)
}

// proofInputs is everything decideProof looks at.
type proofInputs struct {
	Votes            []proofVote // one per assigned verifier, in assignment order
	Accepts, Rejects uint32      // the proof's revealed accepts and rejects
}

// voteFate is what happens to one verifier when a proof settles.
type voteFate int

const (
	// voteKept: revealed, and on the winning side or the proof is undecided.
	voteKept voteFate = iota
	// voteMissed: never revealed; counted missed and slashed.
	voteMissed
	// voteAgainst: revealed against the decided outcome; counted an
	// outlier and slashed.
	voteAgainst
)

// proofDecision is what settleProof applies.
type proofDecision struct {
	Status types.ProofStatus // ACCEPTED, REJECTED or UNDECIDED
	// Reward (ACCEPTED) is owed to the miner from the reward pool, which
	// pays what it holds if less; a zero coin otherwise.
	Reward sdk.Coin
	// MinerSlashBps (REJECTED) is burned from the miner's bond and the
	// miner is jailed for MinerJailBlocks.
	MinerSlashBps   uint32
	MinerJailBlocks uint64
	// Fates has one entry per vote; the slashed lose VerifierSlashBps.
	Fates            []voteFate
	VerifierSlashBps uint32
}

// decideProof applies the proof settlement rules to its verdicts. With n
// assigned verifiers and quorum q: q accepts pay the reward; q rejects
// slash and jail the miner; otherwise the proof is UNDECIDED. Verifiers that
// did not reveal, or voted against a decided outcome, are slashed.
func decideProof(in proofInputs, p types.Params) proofDecision {
	d := proofDecision{Reward: sdk.NewCoin(p.RewardPerProof.Denom, sdkmath.ZeroInt()), VerifierSlashBps: p.VerifierMissSlashBps}
	q := uint32(types.Quorum(len(in.Votes), p.QuorumBps))
	switch {
	case in.Accepts >= q:
		d.Status, d.Reward = types.PROOF_STATUS_ACCEPTED, p.RewardPerProof
	case in.Rejects >= q:
		d.Status, d.MinerSlashBps, d.MinerJailBlocks = types.PROOF_STATUS_REJECTED, p.ProofSlashBps, p.JailBlocks
	default:
		d.Status = types.PROOF_STATUS_UNDECIDED
	}
	decided := d.Status != types.PROOF_STATUS_UNDECIDED
	d.Fates = make([]voteFate, len(in.Votes))
	for i, v := range in.Votes {
		switch {
		case !v.Revealed:
			d.Fates[i] = voteMissed
		case decided && v.Accept != (d.Status == types.PROOF_STATUS_ACCEPTED):
			d.Fates[i] = voteAgainst
		}
	}
	return d
}

// settleProof settles a proof from its revealed verdicts (all revealed, or
// at the reveal deadline): it reads the votes, asks decideProof and applies
// the decision.
func (k Keeper) settleProof(ctx context.Context, proof types.Proof) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	minerAddr, err := k.parseAddr("miner", proof.Miner)
	if err != nil {
		return err
	}
	miner, err := k.getWorker(ctx, minerAddr, proof.Miner)
	if err != nil {
		return err
	}
	in := proofInputs{Accepts: proof.Accepts, Rejects: proof.Rejects}
	addrs := make([]sdk.AccAddress, len(proof.Verifiers))
	for i, v := range proof.Verifiers {
		if addrs[i], err = k.parseAddr("verifier", v); err != nil {
			return err
		}
		verdict, err := k.Verdicts.Get(ctx, collections.Join(proof.Id, addrs[i]))
		if err != nil && !errors.Is(err, collections.ErrNotFound) {
			return err
		}
		in.Votes = append(in.Votes, proofVote{Verifier: v, Revealed: err == nil && verdict.Revealed, Accept: verdict.Accept})
	}
	d := decideProof(in, p)

	reward := sdk.NewCoin(d.Reward.Denom, sdkmath.ZeroInt())
	switch d.Status {
	case types.PROOF_STATUS_ACCEPTED:
		pool := k.auth.GetModuleAddress(types.RewardPoolName)
		avail := k.bank.SpendableCoins(ctx, pool).AmountOf(d.Reward.Denom)
		reward.Amount = sdkmath.MinInt(avail, d.Reward.Amount)
		if reward.IsPositive() {
			if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.RewardPoolName, minerAddr, sdk.NewCoins(reward)); err != nil {
				return err
			}
		}
		miner.AcceptedCount++
		if err := k.Workers.Set(ctx, minerAddr, miner); err != nil {
			return err
		}
		n, err := k.IntervalAccepted.Get(ctx)
		if err != nil && !errors.Is(err, collections.ErrNotFound) {
			return err
		}
		if err := k.IntervalAccepted.Set(ctx, n+1); err != nil {
			return err
		}
	case types.PROOF_STATUS_REJECTED:
		miner.RejectedCount++
		if err := k.slash(ctx, minerAddr, &miner, d.MinerSlashBps, "proof rejected by a quorum of verifiers"); err != nil {
			return err
		}
		if err := k.jail(ctx, minerAddr, &miner, d.MinerJailBlocks, "rejected proof"); err != nil {
			return err
		}
	}
	for i, v := range proof.Verifiers {
		w, err := k.getWorker(ctx, addrs[i], v)
		if err != nil {
			return err
		}
		if w.OpenItems > 0 {
			w.OpenItems--
		}
		switch d.Fates[i] {
		case voteMissed:
			w.MissedCount++
			if err := k.slash(ctx, addrs[i], &w, d.VerifierSlashBps, "no verdict revealed on a proof"); err != nil {
				return err
			}
		case voteAgainst:
			w.OutlierCount++
			if err := k.slash(ctx, addrs[i], &w, d.VerifierSlashBps, "verdict against the quorum"); err != nil {
				return err
			}
		default:
			if err := k.Workers.Set(ctx, addrs[i], w); err != nil {
				return err
			}
		}
	}
	proof.Status = d.Status
	proof.SettledHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
	if err := k.Proofs.Set(ctx, proof.Id, proof); err != nil {
		return err
	}
	return emit(ctx, &types.EventProofSettled{Id: proof.Id, Status: proof.Status, Accepts: proof.Accepts, Rejects: proof.Rejects, Reward: reward})
}

// payee accumulates a payout per recipient in first-seen order.
type payee struct {
	addr   string
	role   string
	amount sdkmath.Int
}

func addPay(list []payee, addr, role string, amt sdkmath.Int) []payee {
	if !amt.IsPositive() {
		return list
	}
	if i := slices.IndexFunc(list, func(p payee) bool { return p.addr == addr && p.role == role }); i >= 0 {
		list[i].amount = list[i].amount.Add(amt)
		return list
	}
	return append(list, payee{addr: addr, role: role, amount: amt})
}

// closingJob is one job of a closing task as the payout sees it.
type closingJob struct {
	Settled     bool // SETTLED; a job that ended otherwise earns and scores nothing
	Accepted    bool // outcome ACCEPTED: its miner is paid
	Miner       string
	VerifiedPpm uint64
	Reporters   []string // verifiers that evaluated the verified model, in address order
}

// payoutInputs is everything decidePayout looks at.
type payoutInputs struct {
	Jobs        []closingJob // in index order: config * folds + fold
	Configs     uint32
	Folds       uint32
	JobsTotal   uint32
	Fee, Escrow sdkmath.Int // the task's fee and what its escrow still holds
	MinerFeeBps uint32
}

// payoutDecision is what closeTask applies.
type payoutDecision struct {
	Scores     []types.ConfigScore // one per configuration
	HasBest    bool
	BestConfig uint32
	Pays       []payee     // in first-seen order
	Paid       sdkmath.Int // the sum of Pays
	Refund     sdkmath.Int // the rest of the escrow, back to the client
}

// decidePayout scores every configuration, picks the best and splits the
// fee. Each job is worth floor(fee / jobs); of a settled job's share,
// miner_fee_bps go to its miner (unless it misclaimed) and the rest is split
// equally among the verifiers who reported the verified model. Everything
// not paid (rounding, unsettled jobs, misclaims) is refunded. A
// configuration is complete when all its folds settled; the best is the
// complete one with the highest mean, ties to the lower index.
func decidePayout(in payoutInputs) payoutDecision {
	jobShare := in.Fee.QuoRaw(int64(in.JobsTotal))
	minerShare := jobShare.MulRaw(int64(in.MinerFeeBps)).QuoRaw(types.MaxBps)
	verifierPot := jobShare.Sub(minerShare)
	d := payoutDecision{Scores: make([]types.ConfigScore, 0, in.Configs), Paid: sdkmath.ZeroInt()}
	for c := uint32(0); c < in.Configs; c++ {
		var values []uint64
		for _, job := range in.Jobs[c*in.Folds : (c+1)*in.Folds] {
			if !job.Settled {
				continue
			}
			values = append(values, job.VerifiedPpm)
			if job.Accepted {
				d.Pays = addPay(d.Pays, job.Miner, "miner", minerShare)
			}
			if len(job.Reporters) > 0 {
				each := verifierPot.QuoRaw(int64(len(job.Reporters)))
				for _, r := range job.Reporters {
					d.Pays = addPay(d.Pays, r, "verifier", each)
				}
			}
		}
		mean, std := types.MeanStd(values)
		score := types.ConfigScore{ConfigIndex: c, Complete: uint32(len(values)) == in.Folds, FoldsSettled: uint32(len(values)), MeanPpm: mean, StdPpm: std}
		d.Scores = append(d.Scores, score)
		if score.Complete && (!d.HasBest || mean > d.Scores[d.BestConfig].MeanPpm) {
			d.HasBest, d.BestConfig = true, c
		}
	}
	for _, py := range d.Pays {
		d.Paid = d.Paid.Add(py.amount)
	}
	d.Refund = in.Escrow.Sub(d.Paid)
	return d
}

// closeTask reads a finished task's jobs, asks decidePayout, and applies
// it: scores and best on the task, payouts, the refund, the closed status.
func (k Keeper) closeTask(ctx context.Context, task *types.Task) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	in := payoutInputs{Configs: uint32(len(task.Configs)), Folds: task.Cv.Folds, JobsTotal: task.JobsTotal,
		Fee: task.Fee.Amount, Escrow: task.Escrow.Amount, MinerFeeBps: p.MinerFeeBps}
	for idx := uint32(0); idx < in.Configs*in.Folds; idx++ {
		job, err := k.getJob(ctx, task.Id, idx)
		if err != nil {
			return err
		}
		cj := closingJob{Settled: job.Status == types.JOB_STATUS_SETTLED}
		if cj.Settled {
			cj.Accepted, cj.Miner, cj.VerifiedPpm = job.Outcome == types.JOB_OUTCOME_ACCEPTED, job.Miner, job.VerifiedPpm
			evals, err := k.jobEvaluations(ctx, task.Id, job.Index)
			if err != nil {
				return err
			}
			for _, e := range evals {
				if bytes.Equal(e.ModelHash, job.ModelHash) {
					cj.Reporters = append(cj.Reporters, e.Verifier)
				}
			}
		}
		in.Jobs = append(in.Jobs, cj)
	}
	d := decidePayout(in)

	for _, score := range d.Scores {
		if err := emit(ctx, &types.EventConfigScored{TaskId: task.Id, ConfigIndex: score.ConfigIndex, Complete: score.Complete, MeanPpm: score.MeanPpm, StdPpm: score.StdPpm}); err != nil {
			return err
		}
	}
	task.Scores, task.HasBest, task.BestConfig = d.Scores, d.HasBest, d.BestConfig
	denom := task.Fee.Denom
	for _, py := range d.Pays {
		addr, err := k.parseAddr(py.role, py.addr)
		if err != nil {
			return err
		}
		coin := sdk.NewCoin(denom, py.amount)
		if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, addr, sdk.NewCoins(coin)); err != nil {
			return err
		}
		if err := emit(ctx, &types.EventPayout{TaskId: task.Id, Recipient: py.addr, Amount: coin, Role: py.role}); err != nil {
			return err
		}
	}
	if d.Refund.IsPositive() {
		client, err := k.parseAddr("client", task.Client)
		if err != nil {
			return err
		}
		if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, client, sdk.NewCoins(sdk.NewCoin(denom, d.Refund))); err != nil {
			return err
		}
	}
	task.Paid = task.Paid.Add(sdk.NewCoin(denom, d.Paid))
	task.Refunded = task.Refunded.Add(sdk.NewCoin(denom, d.Refund))
	task.Escrow = sdk.NewCoin(denom, sdkmath.ZeroInt())
	task.ClosedHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
	task.Status = types.TASK_STATUS_EXPIRED
	var bestMean uint64
	if task.HasBest {
		task.Status = types.TASK_STATUS_COMPLETED
		bestMean = task.Scores[task.BestConfig].MeanPpm
	}
	if err := k.Tasks.Set(ctx, task.Id, *task); err != nil {
		return err
	}
	return emit(ctx, &types.EventTaskClosed{Id: task.Id, Status: task.Status, HasBest: task.HasBest, BestConfig: task.BestConfig,
		BestMeanPpm: bestMean, Paid: task.Paid, Refunded: task.Refunded})
}
