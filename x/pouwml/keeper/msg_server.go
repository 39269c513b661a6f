package keeper

import (
	"bytes"
	"context"
	"errors"

	"cosmossdk.io/collections"
	errorsmod "cosmossdk.io/errors"
	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Every handler validates everything first and writes only after the last
// check (coins move last among the checks that can fail), so a rejected Msg
// changes nothing even outside a transaction's cache.

type msgServer struct{ k Keeper }

var _ types.MsgServer = msgServer{}

// NewMsgServerImpl returns the Msg service of the module.
func NewMsgServerImpl(k Keeper) types.MsgServer { return msgServer{k: k} }

func (s msgServer) UpdateParams(ctx context.Context, msg *types.MsgUpdateParams) (*types.MsgUpdateParamsResponse, error) {
	if msg.Authority != s.k.authority {
		return nil, errorsmod.Wrapf(types.ErrInvalidAuthority, "expected %s, got %q", s.k.authority, msg.Authority)
	}
	if err := msg.Params.Validate(); err != nil {
		return nil, err
	}
	if err := s.k.Params.Set(ctx, msg.Params); err != nil {
		return nil, err
	}
	return &types.MsgUpdateParamsResponse{}, emit(ctx, &types.EventParamsUpdated{Authority: msg.Authority})
}

func (s msgServer) RegisterDataset(ctx context.Context, msg *types.MsgRegisterDataset) (*types.MsgRegisterDatasetResponse, error) {
	if _, err := s.k.parseAddr("owner", msg.Owner); err != nil {
		return nil, err
	}
	if err := types.ValidateDatasetFields(msg); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidDataset, err.Error())
	}
	if id, err := s.k.DatasetBySHA.Get(ctx, msg.Sha256); err == nil {
		return nil, errorsmod.Wrapf(types.ErrDatasetExists, "sha256 %x is dataset %d", msg.Sha256, id)
	} else if !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	id, err := s.k.DatasetSeq.Next(ctx)
	if err != nil {
		return nil, err
	}
	d := types.Dataset{
		Id: id, Owner: msg.Owner, Name: msg.Name, Format: msg.Format, Sha256: msg.Sha256,
		SampleCount: msg.SampleCount, NumClasses: msg.NumClasses, FeatureShape: msg.FeatureShape,
		LabelHistogram: msg.LabelHistogram, Erasure: msg.Erasure, Providers: msg.Providers,
		RegisteredHeight: sdk.UnwrapSDKContext(ctx).BlockHeight(),
	}
	if err := s.k.Datasets.Set(ctx, id, d); err != nil {
		return nil, err
	}
	if err := s.k.DatasetBySHA.Set(ctx, msg.Sha256, id); err != nil {
		return nil, err
	}
	return &types.MsgRegisterDatasetResponse{Id: id}, emit(ctx, &types.EventDatasetRegistered{Id: id, Owner: msg.Owner, Sha256: msg.Sha256, SampleCount: msg.SampleCount})
}

func (s msgServer) RegisterWorker(ctx context.Context, msg *types.MsgRegisterWorker) (*types.MsgRegisterWorkerResponse, error) {
	addr, err := s.k.parseAddr("address", msg.Address)
	if err != nil {
		return nil, err
	}
	if _, ok := types.WorkerRole_name[int32(msg.Role)]; !ok || msg.Role == types.WORKER_ROLE_UNSPECIFIED {
		return nil, errorsmod.Wrapf(types.ErrInvalidWorker, "role must be miner, verifier or storage, got %d", msg.Role)
	}
	if err := types.ValidatePeerID("peer_id", msg.PeerId); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidWorker, err.Error())
	}
	if err := types.ValidateMultiaddrs(msg.Multiaddrs); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidWorker, err.Error())
	}
	if err := types.ValidateDevices(msg.Devices); err != nil {
		return nil, errorsmod.Wrap(types.ErrInvalidWorker, err.Error())
	}
	params, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	if err := msg.Bond.Validate(); err != nil || msg.Bond.Denom != params.MinWorkerBond.Denom {
		return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond must be a valid amount of %s, got %s", params.MinWorkerBond.Denom, msg.Bond)
	}
	existing, err := s.k.Workers.Get(ctx, addr)
	found := err == nil
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	var w types.Worker
	if found {
		if existing.Role != msg.Role {
			return nil, errorsmod.Wrapf(types.ErrWrongRole, "%s is registered as %s, not %s (one role per account)", msg.Address, existing.Role, msg.Role)
		}
		if existing.Status != types.WORKER_STATUS_BONDED {
			return nil, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is unbonding until height %d", msg.Address, existing.UnbondHeight)
		}
		if !msg.Bond.IsPositive() && !existing.Bond.IsGTE(params.MinWorkerBond) {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s is below the minimum %s; add at least the difference", existing.Bond, params.MinWorkerBond)
		}
		if existing.Bond.Add(msg.Bond).IsLT(params.MinWorkerBond) {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s + %s is below the minimum %s", existing.Bond, msg.Bond, params.MinWorkerBond)
		}
		w = existing
		w.Bond = existing.Bond.Add(msg.Bond)
	} else {
		if msg.Bond.IsLT(params.MinWorkerBond) {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "bond %s is below the minimum %s", msg.Bond, params.MinWorkerBond)
		}
		w = types.Worker{Address: msg.Address, Role: msg.Role, Status: types.WORKER_STATUS_BONDED, Bond: msg.Bond, RegisteredHeight: height}
	}
	w.PeerId, w.Multiaddrs, w.Devices = msg.PeerId, msg.Multiaddrs, msg.Devices
	if msg.Bond.IsPositive() {
		if err := s.k.bank.SendCoinsFromAccountToModule(ctx, addr, types.ModuleName, sdk.NewCoins(msg.Bond)); err != nil {
			return nil, errorsmod.Wrapf(types.ErrInsufficientBond, "cannot bond %s from %s: %v", msg.Bond, msg.Address, err)
		}
	}
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	if !found && w.Role == types.WORKER_ROLE_VERIFIER {
		if err := s.k.poolAdd(ctx, addr); err != nil {
			return nil, err
		}
	}
	return &types.MsgRegisterWorkerResponse{}, emit(ctx, &types.EventWorkerRegistered{Address: msg.Address, Role: msg.Role, Bond: w.Bond, TopUp: found})
}

func (s msgServer) Unbond(ctx context.Context, msg *types.MsgUnbond) (*types.MsgUnbondResponse, error) {
	addr, err := s.k.parseAddr("address", msg.Address)
	if err != nil {
		return nil, err
	}
	w, err := s.k.getWorker(ctx, addr, msg.Address)
	if err != nil {
		return nil, err
	}
	if w.Status != types.WORKER_STATUS_BONDED {
		return nil, errorsmod.Wrapf(types.ErrWorkerNotActive, "%s is already unbonding until height %d", msg.Address, w.UnbondHeight)
	}
	if w.OpenItems > 0 {
		return nil, errorsmod.Wrapf(types.ErrWorkerBusy, "%s holds %d open claims or assignments; finish them first", msg.Address, w.OpenItems)
	}
	params, err := s.k.Params.Get(ctx)
	if err != nil {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	w.Status = types.WORKER_STATUS_UNBONDING
	w.UnbondHeight = height + int64(params.UnbondingDelayBlocks)
	if err := s.k.Workers.Set(ctx, addr, w); err != nil {
		return nil, err
	}
	if err := s.k.UnbondingQueue.Set(ctx, collections.Join(w.UnbondHeight, addr)); err != nil {
		return nil, err
	}
	if w.Role == types.WORKER_ROLE_VERIFIER {
		if err := s.k.poolRemove(ctx, addr); err != nil {
			return nil, err
		}
	}
	return &types.MsgUnbondResponse{UnbondHeight: w.UnbondHeight}, emit(ctx, &types.EventWorkerUnbonding{Address: msg.Address, UnbondHeight: w.UnbondHeight})
}

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
	assigned := false
	for _, v := range job.Verifiers {
		if v == msg.Verifier {
			assigned = true
		}
	}
	if !assigned {
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

// sameHash compares model hashes.
func sameHash(a, b []byte) bool { return bytes.Equal(a, b) }
