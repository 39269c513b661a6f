package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"
	"github.com/cosmos/gogoproto/proto"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

func emit(ctx context.Context, ev proto.Message) error {
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(ev)
}

func (k Keeper) getWorker(ctx context.Context, addr sdk.AccAddress, name string) (types.Worker, error) {
	w, err := k.Workers.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return w, errorsmod.Wrapf(types.ErrWorkerNotFound, "%s is not a registered worker", name)
	}
	return w, err
}

// activeWorker returns the worker if it may take new work: registered in
// the role, bonded (not unbonding) at or above the minimum, not jailed.
func (k Keeper) activeWorker(ctx context.Context, addr sdk.AccAddress, name string, role types.WorkerRole, p types.Params, height int64) (types.Worker, error) {
	w, err := k.getWorker(ctx, addr, name)
	if err != nil {
		return w, err
	}
	switch {
	case w.Role != role:
		return w, errorsmod.Wrapf(types.ErrWrongRole, "%s is a %s, expected %s", name, w.Role, role)
	case w.Status != types.WORKER_STATUS_BONDED:
		return w, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is unbonding", name)
	case height < w.JailedUntil:
		return w, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is jailed until height %d", name, w.JailedUntil)
	case w.Bond.Denom != p.MinWorkerBond.Denom || w.Bond.IsLT(p.MinWorkerBond):
		return w, errorsmod.Wrapf(types.ErrInsufficientBond, "%s bonds %s, below the minimum %s", name, w.Bond, p.MinWorkerBond)
	}
	return w, nil
}

func (k Keeper) getTask(ctx context.Context, id uint64) (types.Task, error) {
	t, err := k.Tasks.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return t, errorsmod.Wrapf(types.ErrTaskNotFound, "task %d", id)
	}
	return t, err
}

func (k Keeper) getJob(ctx context.Context, taskID uint64, idx uint32) (types.Job, error) {
	j, err := k.Jobs.Get(ctx, collections.Join(taskID, idx))
	if errors.Is(err, collections.ErrNotFound) {
		return j, errorsmod.Wrapf(types.ErrJobNotFound, "job %d/%d", taskID, idx)
	}
	return j, err
}

// poolAdd appends a verifier to the dense assignment pool.
func (k Keeper) poolAdd(ctx context.Context, addr sdk.AccAddress) error {
	n, err := k.VerifierPoolSize.Get(ctx)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return err
	}
	if err := k.VerifierPool.Set(ctx, n, addr); err != nil {
		return err
	}
	if err := k.VerifierSlot.Set(ctx, addr, n); err != nil {
		return err
	}
	return k.VerifierPoolSize.Set(ctx, n+1)
}

// poolRemove removes a verifier by moving the last slot into its place.
func (k Keeper) poolRemove(ctx context.Context, addr sdk.AccAddress) error {
	slot, err := k.VerifierSlot.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	n, err := k.VerifierPoolSize.Get(ctx)
	if err != nil {
		return err
	}
	last := n - 1
	if slot != last {
		lastAddr, err := k.VerifierPool.Get(ctx, last)
		if err != nil {
			return err
		}
		if err := k.VerifierPool.Set(ctx, slot, lastAddr); err != nil {
			return err
		}
		if err := k.VerifierSlot.Set(ctx, lastAddr, slot); err != nil {
			return err
		}
	}
	if err := k.VerifierPool.Remove(ctx, last); err != nil {
		return err
	}
	if err := k.VerifierSlot.Remove(ctx, addr); err != nil {
		return err
	}
	return k.VerifierPoolSize.Set(ctx, last)
}

// refreshTaskStatus derives a live task's status from its counters and saves it.
func (k Keeper) refreshTaskStatus(ctx context.Context, t *types.Task) error {
	prev := t.Status
	if !t.Status.IsFinal() {
		switch {
		case t.JobsFinal+t.JobsEvaluating == t.JobsTotal && t.JobsEvaluating > 0:
			t.Status = types.TASK_STATUS_EVALUATING
		case t.JobsClaimedEver > 0:
			t.Status = types.TASK_STATUS_TRAINING
		default:
			t.Status = types.TASK_STATUS_OPEN
		}
	}
	if err := k.Tasks.Set(ctx, t.Id, *t); err != nil {
		return err
	}
	if prev != t.Status {
		return emit(ctx, &types.EventTaskStatusChanged{Id: t.Id, Status: t.Status})
	}
	return nil
}

// slash burns bps/10000 of a worker's bond and saves the worker.
func (k Keeper) slash(ctx context.Context, addr sdk.AccAddress, w *types.Worker, bps uint32, reason string) error {
	amt := w.Bond.Amount.MulRaw(int64(bps)).QuoRaw(types.MaxBps)
	if amt.IsPositive() {
		coin := sdk.NewCoin(w.Bond.Denom, amt)
		if err := k.bank.BurnCoins(ctx, types.ModuleName, sdk.NewCoins(coin)); err != nil {
			return err
		}
		w.Bond = w.Bond.Sub(coin)
		if err := emit(ctx, &types.EventWorkerSlashed{Address: w.Address, Amount: coin, Reason: reason}); err != nil {
			return err
		}
	}
	return k.Workers.Set(ctx, addr, *w)
}

// jail keeps a worker from new work for jail_blocks.
func (k Keeper) jail(ctx context.Context, addr sdk.AccAddress, w *types.Worker, p types.Params, reason string) error {
	w.JailedUntil = sdk.UnwrapSDKContext(ctx).BlockHeight() + int64(p.JailBlocks)
	if err := k.Workers.Set(ctx, addr, *w); err != nil {
		return err
	}
	return emit(ctx, &types.EventWorkerJailed{Address: w.Address, JailedUntil: w.JailedUntil, Reason: reason})
}

// jobEvaluations returns a job's evaluations in verifier-address order.
func (k Keeper) jobEvaluations(ctx context.Context, taskID uint64, idx uint32) ([]types.Evaluation, error) {
	rng := collections.NewSuperPrefixedTripleRange[uint64, uint32, sdk.AccAddress](taskID, idx)
	iter, err := k.Evaluations.Iterate(ctx, rng)
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	return iter.Values()
}

func (k Keeper) clearEvaluations(ctx context.Context, taskID uint64, idx uint32) error {
	rng := collections.NewSuperPrefixedTripleRange[uint64, uint32, sdk.AccAddress](taskID, idx)
	iter, err := k.Evaluations.Iterate(ctx, rng)
	if err != nil {
		return err
	}
	keys, err := iter.Keys()
	iter.Close()
	if err != nil {
		return err
	}
	for _, key := range keys {
		if err := k.Evaluations.Remove(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

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

// reopenJob sends a job back to OPEN with a fresh claim window, or fails it
// when its attempts are used up. It saves the job and the task. It reports
// whether the job reopened.
func (k Keeper) reopenJob(ctx context.Context, task *types.Task, job types.Job, p types.Params, height int64) (bool, error) {
	key := collections.Join(job.TaskId, job.Index)
	if err := k.clearEvaluations(ctx, job.TaskId, job.Index); err != nil {
		return false, err
	}
	if job.Attempts >= p.MaxJobAttempts {
		return false, k.endJob(ctx, task, job, types.JOB_STATUS_FAILED)
	}
	job.Status = types.JOB_STATUS_OPEN
	job.Miner, job.ClaimHeight, job.ModelHash, job.Claimed = "", 0, nil, types.FoldMetrics{}
	job.Verifiers, job.Reports, job.AssignedHeight = nil, 0, 0
	job.Deadline = height + int64(task.Deadlines.ClaimBlocks)
	if err := k.Jobs.Set(ctx, key, job); err != nil {
		return false, err
	}
	if err := k.DeadlineQueue.Set(ctx, collections.Join3(job.Deadline, job.TaskId, job.Index)); err != nil {
		return false, err
	}
	return true, k.refreshTaskStatus(ctx, task)
}

// endJob ends a job unsettled (EXPIRED or FAILED): saves it, emits the
// event and counts it final on its task.
func (k Keeper) endJob(ctx context.Context, task *types.Task, job types.Job, status types.JobStatus) error {
	job.Status = status
	if err := k.Jobs.Set(ctx, collections.Join(job.TaskId, job.Index), job); err != nil {
		return err
	}
	if err := emit(ctx, &types.EventJobExpired{TaskId: job.TaskId, JobIndex: job.Index, Status: status}); err != nil {
		return err
	}
	return k.jobFinal(ctx, task)
}

// jobFinal counts one more final job and closes the task when it was the last.
func (k Keeper) jobFinal(ctx context.Context, task *types.Task) error {
	task.JobsFinal++
	if task.JobsFinal < task.JobsTotal {
		return k.refreshTaskStatus(ctx, task)
	}
	return k.closeTask(ctx, task)
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
