package keeper

import (
	"context"
	"errors"
	"slices"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Jobs: claim, result and evaluations, and the deadlines that expire,
// reopen or settle a job.

func (s msgServer) ClaimJob(ctx context.Context, msg *types.MsgClaimJob) (*types.MsgClaimJobResponse, error) {
	addr, err := s.k.parseAddr("miner", msg.Miner)
	if err != nil {
		return nil, err
	}
	params, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	w, err := s.k.activeWorker(ctx, addr, msg.Miner, types.WORKER_ROLE_MINER, params, height)
	if err != nil {
		return nil, err
	}
	task, err := s.k.getTask(ctx, msg.TaskId)
	if err != nil {
		return nil, err
	}
	if task.Status.IsFinal() {
		return nil, errorsmod.Wrapf(types.ErrJobNotClaimable, "task %d is %s", task.Id, task.Status)
	}
	if len(task.FoldSeed) == 0 {
		return nil, errorsmod.Wrapf(types.ErrTaskNotSeeded, "task %d gets its fold seed from block %d; claim after it", task.Id, task.CreatedHeight+1)
	}
	job, err := s.k.getJob(ctx, msg.TaskId, msg.JobIndex)
	if err != nil {
		return nil, err
	}
	if job.Status != types.JOB_STATUS_OPEN {
		return nil, errorsmod.Wrapf(types.ErrJobNotClaimable, "job %d/%d is %s", job.TaskId, job.Index, job.Status)
	}
	if height > job.Deadline {
		return nil, errorsmod.Wrapf(types.ErrDeadlinePassed, "job %d/%d claim deadline was height %d, now %d", job.TaskId, job.Index, job.Deadline, height)
	}
	job.Status = types.JOB_STATUS_CLAIMED
	job.Miner = msg.Miner
	job.ClaimHeight = height
	job.Deadline = height + int64(task.Deadlines.TrainingBlocks)
	job.Attempts++
	if err := s.k.Jobs.Set(ctx, collections.Join(job.TaskId, job.Index), job); err != nil {
		return nil, err
	}
	if err := s.k.DeadlineQueue.Set(ctx, collections.Join3(job.Deadline, job.TaskId, job.Index)); err != nil {
		return nil, err
	}
	w.OpenItems++
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	task.JobsClaimedEver++
	if err := s.k.refreshTaskStatus(ctx, &task); err != nil {
		return nil, err
	}
	return &types.MsgClaimJobResponse{Deadline: job.Deadline},
		emit(ctx, &types.EventJobClaimed{TaskId: job.TaskId, JobIndex: job.Index, Miner: msg.Miner, Deadline: job.Deadline})
}

func (s msgServer) SubmitResult(ctx context.Context, msg *types.MsgSubmitResult) (*types.MsgSubmitResultResponse, error) {
	addr, err := s.k.parseAddr("miner", msg.Miner)
	if err != nil {
		return nil, err
	}
	if err := types.ValidateHash("model_hash", msg.ModelHash); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidResult, err.Error())
	}
	if err := types.ValidateMetrics(msg.Metrics); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidResult, err.Error())
	}
	task, err := s.k.getTask(ctx, msg.TaskId)
	if err != nil {
		return nil, err
	}
	job, err := s.k.getJob(ctx, msg.TaskId, msg.JobIndex)
	if err != nil {
		return nil, err
	}
	if job.Status != types.JOB_STATUS_CLAIMED {
		return nil, errorsmod.Wrapf(types.ErrInvalidJobState, "job %d/%d is %s, expected CLAIMED", job.TaskId, job.Index, job.Status)
	}
	if job.Miner != msg.Miner {
		return nil, errorsmod.Wrapf(types.ErrNotJobMiner, "job %d/%d is claimed by %s", job.TaskId, job.Index, job.Miner)
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if height > job.Deadline {
		return nil, errorsmod.Wrapf(types.ErrDeadlinePassed, "job %d/%d training deadline was height %d, now %d", job.TaskId, job.Index, job.Deadline, height)
	}
	w, err := s.k.getWorker(ctx, addr, msg.Miner)
	if err != nil {
		return nil, err
	}
	job.Status = types.JOB_STATUS_SUBMITTED
	job.ModelHash = msg.ModelHash
	job.Claimed = msg.Metrics
	// Verifiers are drawn from the next block's hash, which the miner cannot know now.
	job.Deadline = 0
	if err := s.k.Jobs.Set(ctx, collections.Join(job.TaskId, job.Index), job); err != nil {
		return nil, err
	}
	if err := s.k.AssignmentQueue.Set(ctx, collections.Join3(height+1, job.TaskId, job.Index)); err != nil {
		return nil, err
	}
	if w.OpenItems > 0 {
		w.OpenItems--
	}
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	task.JobsEvaluating++
	if err := s.k.refreshTaskStatus(ctx, &task); err != nil {
		return nil, err
	}
	return &types.MsgSubmitResultResponse{}, emit(ctx, &types.EventResultSubmitted{TaskId: job.TaskId, JobIndex: job.Index, Miner: msg.Miner, ModelHash: msg.ModelHash})
}

func (s msgServer) SubmitEvaluation(ctx context.Context, msg *types.MsgSubmitEvaluation) (*types.MsgSubmitEvaluationResponse, error) {
	addr, err := s.k.parseAddr("verifier", msg.Verifier)
	if err != nil {
		return nil, err
	}
	if err := types.ValidateHash("model_hash", msg.ModelHash); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidEvaluation, err.Error())
	}
	if err := types.ValidateMetrics(msg.Metrics); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidEvaluation, err.Error())
	}
	job, err := s.k.getJob(ctx, msg.TaskId, msg.JobIndex)
	if err != nil {
		return nil, err
	}
	if job.Status != types.JOB_STATUS_ASSIGNED {
		return nil, errorsmod.Wrapf(types.ErrInvalidJobState, "job %d/%d is %s, expected ASSIGNED", job.TaskId, job.Index, job.Status)
	}
	if !slices.Contains(job.Verifiers, msg.Verifier) {
		return nil, errorsmod.Wrapf(types.ErrNotAssigned, "%s is not among job %d/%d's verifiers", msg.Verifier, job.TaskId, job.Index)
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if height > job.Deadline {
		return nil, errorsmod.Wrapf(types.ErrDeadlinePassed, "job %d/%d evaluation deadline was height %d, now %d", job.TaskId, job.Index, job.Deadline, height)
	}
	evKey := collections.Join3(job.TaskId, job.Index, addr)
	if has, err := s.k.Evaluations.Has(ctx, evKey); err != nil {
		return nil, err
	} else if has {
		return nil, errorsmod.Wrapf(types.ErrAlreadyReported, "%s already evaluated job %d/%d", msg.Verifier, job.TaskId, job.Index)
	}
	w, err := s.k.getWorker(ctx, addr, msg.Verifier)
	if err != nil {
		return nil, err
	}
	ev := types.Evaluation{TaskId: job.TaskId, JobIndex: job.Index, Verifier: msg.Verifier, ModelHash: msg.ModelHash, Metrics: msg.Metrics, Height: height}
	if err := s.k.Evaluations.Set(ctx, evKey, ev); err != nil {
		return nil, err
	}
	if w.OpenItems > 0 {
		w.OpenItems--
	}
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	job.Reports++
	if err := s.k.Jobs.Set(ctx, collections.Join(job.TaskId, job.Index), job); err != nil {
		return nil, err
	}
	if err := emit(ctx, &types.EventEvaluationSubmitted{TaskId: job.TaskId, JobIndex: job.Index, Verifier: msg.Verifier, ModelHash: msg.ModelHash}); err != nil {
		return nil, err
	}
	settled := false
	if job.Reports == uint32(len(job.Verifiers)) {
		// Everyone assigned has reported: settle now rather than at the deadline.
		if err := s.k.settleJob(ctx, job, false); err != nil {
			return nil, err
		}
		settled = true
	}
	return &types.MsgSubmitEvaluationResponse{Settled: settled}, nil
}

func (k Keeper) getJob(ctx context.Context, taskID uint64, idx uint32) (types.Job, error) {
	j, err := k.Jobs.Get(ctx, collections.Join(taskID, idx))
	if errors.Is(err, collections.ErrNotFound) {
		return j, errorsmod.Wrapf(types.ErrJobNotFound, "job %d/%d", taskID, idx)
	}
	return j, err
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

// reopenJob sends a job back to OPEN with a fresh claim window, or fails it
// when its attempts are used up (exhausted). It saves the job and the task.
// It reports whether the job reopened.
func (k Keeper) reopenJob(ctx context.Context, task *types.Task, job types.Job, exhausted bool, height int64) (bool, error) {
	key := collections.Join(job.TaskId, job.Index)
	if err := k.clearEvaluations(ctx, job.TaskId, job.Index); err != nil {
		return false, err
	}
	if exhausted {
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

// deadlinePassed handles a job whose deadline at height has passed, if that
// deadline is still the job's current one (otherwise the entry is stale).
func (k Keeper) deadlinePassed(ctx context.Context, height int64, taskID uint64, idx uint32, p types.Params) error {
	job, err := k.getJob(ctx, taskID, idx)
	if err != nil {
		return err
	}
	if job.Deadline != height {
		return nil
	}
	task, err := k.getTask(ctx, taskID)
	if err != nil {
		return err
	}
	if task.Status.IsFinal() {
		return nil
	}
	switch job.Status {
	case types.JOB_STATUS_OPEN:
		return k.endJob(ctx, &task, job, types.JOB_STATUS_EXPIRED)
	case types.JOB_STATUS_CLAIMED:
		addr, err := k.parseAddr("miner", job.Miner)
		if err != nil {
			return err
		}
		w, err := k.getWorker(ctx, addr, job.Miner)
		if err != nil {
			return err
		}
		if w.OpenItems > 0 {
			w.OpenItems--
		}
		w.MissedCount++
		if err := k.slash(ctx, addr, &w, p.ClaimLapseSlashBps, "claim missed its training deadline"); err != nil {
			return err
		}
		miner := job.Miner
		reopened, err := k.reopenJob(ctx, &task, job, attemptsUsedUp(job.Attempts, p), sdk.UnwrapSDKContext(ctx).BlockHeight())
		if err != nil {
			return err
		}
		return emit(ctx, &types.EventClaimLapsed{TaskId: taskID, JobIndex: idx, Miner: miner, Reopened: reopened})
	case types.JOB_STATUS_ASSIGNED:
		return k.settleJob(ctx, job, true)
	}
	return nil
}

// enforceJobDeadlines handles the job deadlines that passed by this block
// (up to max_deadlines_per_block).
func (k Keeper) enforceJobDeadlines(ctx context.Context, p types.Params, height int64) error {
	return drainQueue(ctx, k, "deadline", k.DeadlineQueue, collections.NewPrefixUntilTripleRange[int64, uint64, uint32](height), p.MaxDeadlinesPerBlock,
		func(c context.Context, key QueueKey) error {
			return k.deadlinePassed(c, key.K1(), key.K2(), key.K3(), p)
		})
}
