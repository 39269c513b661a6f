package keeper

import (
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Tasks: submission with its escrow and jobs, cancellation, the fold seed,
// and the status a task derives from its jobs until it closes.

func (s msgServer) SubmitTask(ctx context.Context, msg *types.MsgSubmitTask) (*types.MsgSubmitTaskResponse, error) {
	client, err := s.k.parseAddr("client", msg.Client)
	if err != nil {
		return nil, err
	}
	params, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := s.k.Datasets.Get(ctx, msg.DatasetId)
	if err != nil {
		if errors.Is(err, collections.ErrNotFound) {
			return nil, errorsmod.Wrapf(types.ErrDatasetNotFound, "dataset %d", msg.DatasetId)
		}
		return nil, err
	}
	if len(msg.Configs) == 0 || uint32(len(msg.Configs)) > params.MaxConfigsPerTask {
		return nil, errorsmod.Wrapf(types.ErrInvalidTask, "need 1 to %d configurations, got %d", params.MaxConfigsPerTask, len(msg.Configs))
	}
	for i, c := range msg.Configs {
		if err := types.ValidateModelConfig(c); err != nil {
			return nil, errorsmod.Wrapf(types.ErrInvalidTask, "configs[%d]: %v", i, err)
		}
		// Every configuration must fit the dataset and stay within the
		// governance limit on its size.
		n, err := types.DatasetModelParams(c, ds)
		if err != nil {
			return nil, errorsmod.Wrapf(types.ErrInvalidTask, "configs[%d] (%s) does not fit dataset %d (sample shape %v, %d classes): %v", i, c.Architecture, ds.Id, ds.FeatureShape, ds.NumClasses, err)
		}
		if n > params.MaxModelParams {
			return nil, errorsmod.Wrapf(types.ErrInvalidTask, "configs[%d] (%s) has %d trainable parameters, more than max_model_params %d", i, c.Architecture, n, params.MaxModelParams)
		}
	}
	if err := types.ValidateCV(msg.Cv); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidTask, err.Error())
	}
	if uint64(msg.Cv.Folds) > ds.SampleCount {
		return nil, errorsmod.Wrapf(types.ErrInvalidTask, "%d folds need at least %d samples; dataset %d has %d", msg.Cv.Folds, msg.Cv.Folds, ds.Id, ds.SampleCount)
	}
	jobs := uint64(len(msg.Configs)) * uint64(msg.Cv.Folds)
	if jobs > uint64(params.MaxJobsPerTask) {
		return nil, errorsmod.Wrapf(types.ErrInvalidTask, "%d configurations x %d folds = %d jobs exceeds max_jobs_per_task %d", len(msg.Configs), msg.Cv.Folds, jobs, params.MaxJobsPerTask)
	}
	d := msg.Deadlines
	for _, c := range []struct {
		name    string
		val, hi uint64
	}{{"claim_blocks", d.ClaimBlocks, params.MaxClaimBlocks}, {"training_blocks", d.TrainingBlocks, params.MaxTrainingBlocks}, {"evaluation_blocks", d.EvaluationBlocks, params.MaxEvaluationBlocks}} {
		if c.val == 0 || c.val > c.hi {
			return nil, errorsmod.Wrapf(types.ErrInvalidTask, "deadlines.%s must be in [1, %d], got %d", c.name, c.hi, c.val)
		}
	}
	verifiers := msg.VerifiersPerJob
	if verifiers == 0 {
		verifiers = params.DefaultVerifiersPerJob
	}
	if verifiers > params.MaxVerifiersPerJob {
		return nil, errorsmod.Wrapf(types.ErrInvalidTask, "verifiers_per_job must be at most %d, got %d", params.MaxVerifiersPerJob, verifiers)
	}
	if err := msg.Fee.Validate(); err != nil || msg.Fee.Denom != params.MinTaskFee.Denom || msg.Fee.IsLT(params.MinTaskFee) {
		return nil, errorsmod.Wrapf(types.ErrInsufficientFee, "fee must be at least %s, got %s", params.MinTaskFee, msg.Fee)
	}
	if msg.Fee.Amount.LT(sdkmath.NewIntFromUint64(jobs)) {
		return nil, errorsmod.Wrapf(types.ErrInsufficientFee, "fee %s must pay at least 1%s per job (%d jobs)", msg.Fee, msg.Fee.Denom, jobs)
	}
	if err := s.k.bank.SendCoinsFromAccountToModule(ctx, client, types.ModuleName, sdk.NewCoins(msg.Fee)); err != nil {
		return nil, errorsmod.Wrapf(types.ErrInsufficientFee, "cannot escrow %s from %s: %v", msg.Fee, msg.Client, err)
	}

	id, err := s.k.TaskSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	zero := sdk.NewCoin(msg.Fee.Denom, sdkmath.ZeroInt())
	task := types.Task{
		Id: id, Client: msg.Client, DatasetId: msg.DatasetId, Configs: msg.Configs, Cv: msg.Cv, Seed: msg.Seed,
		Deadlines: msg.Deadlines, VerifiersPerJob: verifiers, Fee: msg.Fee, Escrow: msg.Fee,
		Status: types.TASK_STATUS_OPEN, CreatedHeight: height, JobsTotal: uint32(jobs), Paid: zero, Refunded: zero,
	}
	if err := s.k.Tasks.Set(ctx, id, task); err != nil {
		return nil, err
	}
	// The fold seed is the header hash of the next block, unknown to the client now.
	if err := s.k.SeedQueue.Set(ctx, collections.Join(height+1, id)); err != nil {
		return nil, err
	}
	claimDeadline := height + 1 + int64(d.ClaimBlocks)
	folds := msg.Cv.Folds
	for c := uint32(0); c < uint32(len(msg.Configs)); c++ {
		for f := uint32(0); f < folds; f++ {
			idx := c*folds + f
			job := types.Job{TaskId: id, Index: idx, ConfigIndex: c, FoldIndex: f, Status: types.JOB_STATUS_OPEN, Deadline: claimDeadline}
			if err := s.k.Jobs.Set(ctx, collections.Join(id, idx), job); err != nil {
				return nil, err
			}
			if err := s.k.DeadlineQueue.Set(ctx, collections.Join3(claimDeadline, id, idx)); err != nil {
				return nil, err
			}
		}
	}
	return &types.MsgSubmitTaskResponse{Id: id, Jobs: uint32(jobs)},
		emit(ctx, &types.EventTaskSubmitted{Id: id, Client: msg.Client, DatasetId: msg.DatasetId, Jobs: uint32(jobs), Fee: msg.Fee})
}

func (s msgServer) CancelTask(ctx context.Context, msg *types.MsgCancelTask) (*types.MsgCancelTaskResponse, error) {
	client, err := s.k.parseAddr("client", msg.Client)
	if err != nil {
		return nil, err
	}
	task, err := s.k.getTask(ctx, msg.TaskId)
	if err != nil {
		return nil, err
	}
	if task.Client != msg.Client {
		return nil, errorsmod.Wrapf(types.ErrNotTaskClient, "task %d belongs to %s", task.Id, task.Client)
	}
	if task.Status != types.TASK_STATUS_OPEN || task.JobsClaimedEver > 0 {
		return nil, errorsmod.Wrapf(types.ErrTaskNotCancellable, "task %d is %s with %d jobs claimed; only an open task with no claimed job can be cancelled", task.Id, task.Status, task.JobsClaimedEver)
	}
	refund := task.Escrow
	if refund.IsPositive() {
		if err := s.k.bank.SendCoinsFromModuleToAccount(ctx, types.ModuleName, client, sdk.NewCoins(refund)); err != nil {
			return nil, err
		}
	}
	for idx := uint32(0); idx < task.JobsTotal; idx++ {
		key := collections.Join(task.Id, idx)
		job, err := s.k.Jobs.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		job.Status = types.JOB_STATUS_CANCELLED
		if err := s.k.Jobs.Set(ctx, key, job); err != nil {
			return nil, err
		}
	}
	task.Refunded = task.Refunded.Add(refund)
	task.Escrow = sdk.NewCoin(refund.Denom, sdkmath.ZeroInt())
	task.Status = types.TASK_STATUS_CANCELLED
	task.JobsFinal = task.JobsTotal
	task.ClosedHeight = sdk.UnwrapSDKContext(ctx).BlockHeight()
	if err := s.k.Tasks.Set(ctx, task.Id, task); err != nil {
		return nil, err
	}
	return &types.MsgCancelTaskResponse{}, emit(ctx, &types.EventTaskCancelled{Id: task.Id, Refunded: refund})
}

func (k Keeper) getTask(ctx context.Context, id uint64) (types.Task, error) {
	t, err := k.Tasks.Get(ctx, id)
	if errors.Is(err, collections.ErrNotFound) {
		return t, errorsmod.Wrapf(types.ErrTaskNotFound, "task %d", id)
	}
	return t, err
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

// jobFinal counts one more final job and closes the task when it was the last.
func (k Keeper) jobFinal(ctx context.Context, task *types.Task) error {
	task.JobsFinal++
	if task.JobsFinal < task.JobsTotal {
		return k.refreshTaskStatus(ctx, task)
	}
	return k.closeTask(ctx, task)
}

// seedTasks gives every task submitted in the previous block (up to
// max_seeds_per_block) this block's header hash as its fold seed.
func (k Keeper) seedTasks(ctx context.Context, p types.Params, height int64) error {
	seed := blockSeed(ctx)
	return drainQueue(ctx, k, "seed", k.SeedQueue, collections.NewPrefixUntilPairRange[int64, uint64](height), p.MaxSeedsPerBlock,
		func(c context.Context, key collections.Pair[int64, uint64]) error {
			task, err := k.getTask(c, key.K2())
			if err != nil || task.Status.IsFinal() || len(task.FoldSeed) > 0 {
				return err
			}
			task.FoldSeed = seed
			if err := k.Tasks.Set(c, task.Id, task); err != nil {
				return err
			}
			return emit(c, &types.EventTaskSeeded{Id: task.Id, FoldSeed: seed})
		})
}
