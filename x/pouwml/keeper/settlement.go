package keeper

import (
	"bytes"
	"context"
	"errors"

	"cosmossdk.io/collections"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Settlement: deciding a job from its evaluations and a proof from its
// verdicts, and paying out a task's fee when it closes.

// settleJob decides an ASSIGNED job once every verifier reported, or at its
// evaluation deadline (atDeadline) with whoever reported:
//   - a quorum evaluated the miner's model hash: the verified value is the
//     median of their values; a claim off by more than the tolerance is
//     slashed and jailed (the verified value still stands);
//   - a quorum evaluated some other hash: the result is rejected, the miner
//     slashed and jailed, the job reopened (or failed after max attempts);
//   - no quorum (only at the deadline): the result is re-queued for fresh
//     verifiers (or the job fails after max attempts).
//
// At the deadline, assigned verifiers who did not report are slashed.
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
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if atDeadline {
		if err := k.penaliseAbsent(ctx, job, evals, p); err != nil {
			return err
		}
	}
	q := types.Quorum(len(job.Verifiers), p.QuorumBps)
	var matching, other []types.Evaluation
	for _, e := range evals {
		if sameHash(e.ModelHash, job.ModelHash) {
			matching = append(matching, e)
		} else {
			other = append(other, e)
		}
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
	switch {
	case q > 0 && len(matching) >= q:
		values := make([]uint64, len(matching))
		for i, e := range matching {
			values[i] = e.Metrics.Value(task.Cv.Metric)
		}
		median := types.Median(values)
		for _, e := range evals {
			v := e.Metrics.Value(task.Cv.Metric)
			if sameHash(e.ModelHash, job.ModelHash) && types.AbsDiff(v, median) <= uint64(p.OutlierPpm) {
				continue
			}
			if err := k.recordOutlier(ctx, e, v, median); err != nil {
				return err
			}
		}
		job.VerifiedPpm = median
		job.Status = types.JOB_STATUS_SETTLED
		job.SettledHeight = height
		if types.AbsDiff(job.Claimed.Value(task.Cv.Metric), median) <= uint64(p.MetricTolerancePpm) {
			job.Outcome = types.JOB_OUTCOME_ACCEPTED
			miner.AcceptedCount++
			if err := k.Workers.Set(ctx, minerAddr, miner); err != nil {
				return err
			}
		} else {
			job.Outcome = types.JOB_OUTCOME_MISCLAIMED
			miner.RejectedCount++
			if err := k.slash(ctx, minerAddr, &miner, p.MisclaimSlashBps, "claimed metric off the verified median by more than the tolerance"); err != nil {
				return err
			}
			if err := k.jail(ctx, minerAddr, &miner, p, "misclaimed metric"); err != nil {
				return err
			}
		}
		if err := k.Jobs.Set(ctx, key, job); err != nil {
			return err
		}
		if err := emit(ctx, &types.EventJobSettled{TaskId: job.TaskId, JobIndex: job.Index, VerifiedPpm: median, Outcome: job.Outcome, Reports: uint32(len(evals))}); err != nil {
			return err
		}
		task.JobsEvaluating--
		return k.jobFinal(ctx, &task)
	case q > 0 && len(other) >= q:
		miner.RejectedCount++
		if err := k.slash(ctx, minerAddr, &miner, p.MisclaimSlashBps, "verifiers evaluated a different model than the one claimed"); err != nil {
			return err
		}
		if err := k.jail(ctx, minerAddr, &miner, p, "model hash mismatch"); err != nil {
			return err
		}
		task.JobsEvaluating--
		reopened, err := k.reopenJob(ctx, &task, job, p, height)
		if err != nil {
			return err
		}
		return emit(ctx, &types.EventJobRejected{TaskId: job.TaskId, JobIndex: job.Index, Miner: job.Miner, Reason: "a quorum of verifiers evaluated a different model hash", Reopened: reopened})
	case !atDeadline:
		return nil // wait for the deadline; cannot happen when all reported, kept for safety
	default:
		// No quorum either way: draw fresh verifiers for the same result.
		if err := k.clearEvaluations(ctx, job.TaskId, job.Index); err != nil {
			return err
		}
		job.Attempts++
		if job.Attempts > p.MaxJobAttempts {
			task.JobsEvaluating--
			return k.endJob(ctx, &task, job, types.JOB_STATUS_FAILED)
		}
		job.Status = types.JOB_STATUS_SUBMITTED
		job.Verifiers, job.Reports, job.Deadline, job.AssignedHeight = nil, 0, 0, 0
		if err := k.Jobs.Set(ctx, key, job); err != nil {
			return err
		}
		return k.AssignmentQueue.Set(ctx, collections.Join3(height+1, job.TaskId, job.Index))
	}
}

func (k Keeper) recordOutlier(ctx context.Context, e types.Evaluation, v, median uint64) error {
	addr, err := k.parseAddr("verifier", e.Verifier)
	if err != nil {
		return err
	}
	w, err := k.getWorker(ctx, addr, e.Verifier)
	if err != nil {
		return err
	}
	w.OutlierCount++
	if err := k.Workers.Set(ctx, addr, w); err != nil {
		return err
	}
	return emit(ctx, &types.EventVerifierOutlier{Address: e.Verifier, TaskId: e.TaskId, JobIndex: e.JobIndex, ReportedPpm: v, MedianPpm: median})
}

// penaliseAbsent slashes assigned verifiers that did not report by the deadline.
func (k Keeper) penaliseAbsent(ctx context.Context, job types.Job, evals []types.Evaluation, p types.Params) error {
	for _, v := range job.Verifiers {
		reported := false
		for _, e := range evals {
			if e.Verifier == v {
				reported = true
			}
		}
		if reported {
			continue
		}
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
		if err := k.slash(ctx, addr, &w, p.VerifierMissSlashBps, "missed an evaluation deadline"); err != nil {
			return err
		}
	}
	return nil
}

// sameHash compares model hashes.
func sameHash(a, b []byte) bool { return bytes.Equal(a, b) }

// settleProof decides a proof from its revealed verdicts. With n assigned
// verifiers and quorum q: q accepts pay the reward; q rejects slash and
// jail the miner; otherwise the proof is UNDECIDED. Verifiers that did not
// reveal, or voted against a decided outcome, lose verifier_miss_slash_bps.
func (k Keeper) settleProof(ctx context.Context, proof types.Proof) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	q := uint32(types.Quorum(len(proof.Verifiers), p.QuorumBps))
	minerAddr, err := k.parseAddr("miner", proof.Miner)
	if err != nil {
		return err
	}
	miner, err := k.getWorker(ctx, minerAddr, proof.Miner)
	if err != nil {
		return err
	}
	reward := sdk.NewCoin(p.RewardPerProof.Denom, sdkmath.ZeroInt())
	switch {
	case proof.Accepts >= q:
		proof.Status = types.PROOF_STATUS_ACCEPTED
		pool := k.auth.GetModuleAddress(types.RewardPoolName)
		avail := k.bank.SpendableCoins(ctx, pool).AmountOf(p.RewardPerProof.Denom)
		reward.Amount = sdkmath.MinInt(avail, p.RewardPerProof.Amount)
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
	case proof.Rejects >= q:
		proof.Status = types.PROOF_STATUS_REJECTED
		miner.RejectedCount++
		if err := k.slash(ctx, minerAddr, &miner, p.ProofSlashBps, "proof rejected by a quorum of verifiers"); err != nil {
			return err
		}
		if err := k.jail(ctx, minerAddr, &miner, p, "rejected proof"); err != nil {
			return err
		}
	default:
		proof.Status = types.PROOF_STATUS_UNDECIDED
	}
	decided := proof.Status != types.PROOF_STATUS_UNDECIDED
	for _, v := range proof.Verifiers {
		addr, err := k.parseAddr("verifier", v)
		if err != nil {
			return err
		}
		verdict, err := k.Verdicts.Get(ctx, collections.Join(proof.Id, addr))
		revealed := err == nil && verdict.Revealed
		if err != nil && !errors.Is(err, collections.ErrNotFound) {
			return err
		}
		w, err := k.getWorker(ctx, addr, v)
		if err != nil {
			return err
		}
		if w.OpenItems > 0 {
			w.OpenItems--
		}
		losing := decided && revealed && verdict.Accept != (proof.Status == types.PROOF_STATUS_ACCEPTED)
		switch {
		case !revealed:
			w.MissedCount++
			if err := k.slash(ctx, addr, &w, p.VerifierMissSlashBps, "no verdict revealed on a proof"); err != nil {
				return err
			}
		case losing:
			w.OutlierCount++
			if err := k.slash(ctx, addr, &w, p.VerifierMissSlashBps, "verdict against the quorum"); err != nil {
				return err
			}
		default:
			if err := k.Workers.Set(ctx, addr, w); err != nil {
				return err
			}
		}
	}
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
	for i := range list {
		if list[i].addr == addr && list[i].role == role {
			list[i].amount = list[i].amount.Add(amt)
			return list
		}
	}
	return append(list, payee{addr: addr, role: role, amount: amt})
}

// closeTask scores every configuration, picks the best, pays the fee and
// refunds the rest. Each job is worth floor(fee / jobs); of a settled job's
// share, miner_fee_bps go to its miner (unless it misclaimed) and the rest
// is split equally among the verifiers who reported the verified model.
// Everything not paid (rounding, unsettled jobs, misclaims) goes back to
// the client.
func (k Keeper) closeTask(ctx context.Context, task *types.Task) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	folds := task.Cv.Folds
	jobShare := task.Fee.Amount.QuoRaw(int64(task.JobsTotal))
	minerShare := jobShare.MulRaw(int64(p.MinerFeeBps)).QuoRaw(types.MaxBps)
	verifierPot := jobShare.Sub(minerShare)
	var pays []payee
	scores := make([]types.ConfigScore, 0, len(task.Configs))
	for c := uint32(0); c < uint32(len(task.Configs)); c++ {
		var values []uint64
		for f := uint32(0); f < folds; f++ {
			job, err := k.getJob(ctx, task.Id, c*folds+f)
			if err != nil {
				return err
			}
			if job.Status != types.JOB_STATUS_SETTLED {
				continue
			}
			values = append(values, job.VerifiedPpm)
			if job.Outcome == types.JOB_OUTCOME_ACCEPTED {
				pays = addPay(pays, job.Miner, "miner", minerShare)
			}
			evals, err := k.jobEvaluations(ctx, task.Id, job.Index)
			if err != nil {
				return err
			}
			var reporters []string
			for _, e := range evals {
				if sameHash(e.ModelHash, job.ModelHash) {
					reporters = append(reporters, e.Verifier)
				}
			}
			if len(reporters) > 0 {
				each := verifierPot.QuoRaw(int64(len(reporters)))
				for _, r := range reporters {
					pays = addPay(pays, r, "verifier", each)
				}
			}
		}
		mean, std := types.MeanStd(values)
		score := types.ConfigScore{ConfigIndex: c, Complete: uint32(len(values)) == folds, FoldsSettled: uint32(len(values)), MeanPpm: mean, StdPpm: std}
		scores = append(scores, score)
		if err := emit(ctx, &types.EventConfigScored{TaskId: task.Id, ConfigIndex: c, Complete: score.Complete, MeanPpm: mean, StdPpm: std}); err != nil {
			return err
		}
		if score.Complete && (!task.HasBest || mean > scores[task.BestConfig].MeanPpm) {
			task.HasBest, task.BestConfig = true, c
		}
	}
	task.Scores = scores
	denom := task.Fee.Denom
	paid := sdkmath.ZeroInt()
	for _, py := range pays {
		addr, err := k.parseAddr(py.role, py.addr)
		if err != nil {
			return err
		}
		coin := sdk.NewCoin(denom, py.amount)
		if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, addr, sdk.NewCoins(coin)); err != nil {
			return err
		}
		paid = paid.Add(py.amount)
		if err := emit(ctx, &types.EventPayout{TaskId: task.Id, Recipient: py.addr, Amount: coin, Role: py.role}); err != nil {
			return err
		}
	}
	refund := task.Escrow.Amount.Sub(paid)
	if refund.IsPositive() {
		client, err := k.parseAddr("client", task.Client)
		if err != nil {
			return err
		}
		if err := k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, client, sdk.NewCoins(sdk.NewCoin(denom, refund))); err != nil {
			return err
		}
	}
	task.Paid = task.Paid.Add(sdk.NewCoin(denom, paid))
	task.Refunded = task.Refunded.Add(sdk.NewCoin(denom, refund))
	task.Escrow = sdk.NewCoin(denom, sdkmath.ZeroInt())
	task.ClosedHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
	task.Status = types.TASK_STATUS_EXPIRED
	var bestMean uint64
	if task.HasBest {
		task.Status = types.TASK_STATUS_COMPLETED
		bestMean = scores[task.BestConfig].MeanPpm
	}
	if err := k.Tasks.Set(ctx, task.Id, *task); err != nil {
		return err
	}
	return emit(ctx, &types.EventTaskClosed{Id: task.Id, Status: task.Status, HasBest: task.HasBest, BestConfig: task.BestConfig,
		BestMeanPpm: bestMean, Paid: task.Paid, Refunded: task.Refunded})
}
