package keeper

import (
	"context"
	"fmt"

	"cosmossdk.io/collections"
	"cosmossdk.io/collections/indexes"
	corestore "cosmossdk.io/core/store"
	"github.com/cosmos/gogoproto/proto"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// TaskIndexes indexes tasks by status, so open work is found without a scan.
type TaskIndexes struct {
	Status *indexes.Multi[int32, uint64, types.Task]
}

// IndexesList implements collections.Indexes.
func (i TaskIndexes) IndexesList() []collections.Index[uint64, types.Task] {
	return []collections.Index[uint64, types.Task]{i.Status}
}

// WorkerIndexes indexes workers by role.
type WorkerIndexes struct {
	Role *indexes.Multi[int32, sdk.AccAddress, types.Worker]
}

// IndexesList implements collections.Indexes.
func (i WorkerIndexes) IndexesList() []collections.Index[sdk.AccAddress, types.Worker] {
	return []collections.Index[sdk.AccAddress, types.Worker]{i.Role}
}

// JobKey is (task id, job index).
type JobKey = collections.Pair[uint64, uint32]

// QueueKey is (height, task id, job index).
type QueueKey = collections.Triple[int64, uint64, uint32]

// Keeper holds the x/pouwml state and moves coins through the bank module.
type Keeper struct {
	cdc       codec.BinaryCodec
	authority string
	auth      types.AccountKeeper
	bank      types.BankKeeper

	Schema       collections.Schema
	Params       collections.Item[types.Params]
	DatasetSeq   collections.Sequence
	Datasets     collections.Map[uint64, types.Dataset]
	DatasetBySHA collections.Map[[]byte, uint64]
	Workers      *collections.IndexedMap[sdk.AccAddress, types.Worker, WorkerIndexes]
	TaskSeq      collections.Sequence
	Tasks        *collections.IndexedMap[uint64, types.Task, TaskIndexes]
	Jobs         collections.Map[JobKey, types.Job]
	Evaluations  collections.Map[collections.Triple[uint64, uint32, sdk.AccAddress], types.Evaluation]
	// SeedQueue: (height whose header hash seeds the task, task id).
	SeedQueue collections.KeySet[collections.Pair[int64, uint64]]
	// AssignmentQueue: (height at which verifiers are drawn, task, job).
	AssignmentQueue collections.KeySet[QueueKey]
	// DeadlineQueue: (height at which a job's current deadline passes, task, job).
	DeadlineQueue collections.KeySet[QueueKey]
	// UnbondingQueue: (height at which the bond returns, worker).
	UnbondingQueue collections.KeySet[collections.Pair[int64, sdk.AccAddress]]
	// VerifierPool is a dense array of bonded verifiers (slot -> address),
	// so a pseudo-random draw is one lookup; VerifierSlot is its inverse.
	VerifierPool     collections.Map[uint64, []byte]
	VerifierSlot     collections.Map[sdk.AccAddress, uint64]
	VerifierPoolSize collections.Item[uint64]

	// Proof of useful work.
	// Commitments: (task, job, miner, step) -> weights hash commitment.
	Commitments collections.Map[collections.Quad[uint64, uint32, sdk.AccAddress, uint64], types.Commitment]
	// LastCommit: (task, job, miner) -> the step of the miner's latest commitment.
	LastCommit    collections.Map[collections.Triple[uint64, uint32, sdk.AccAddress], uint64]
	ProofSeq      collections.Sequence
	Proofs        collections.Map[uint64, types.Proof]
	ProofByDigest collections.Map[[]byte, uint64]
	Verdicts      collections.Map[collections.Pair[uint64, sdk.AccAddress], types.Verdict]
	// BlockHashes keeps the last anchor_window_blocks header hashes: the
	// lottery anchors, which past headers do not otherwise keep in state.
	BlockHashes      collections.Map[int64, []byte]
	Target           collections.Item[[]byte]
	IntervalAccepted collections.Item[uint64]
	// ProofQueue: (height at which verifiers are drawn, proof id).
	ProofQueue collections.KeySet[collections.Pair[int64, uint64]]
	// ProofDeadlineQueue: (height at which a verdict phase ends, proof id).
	ProofDeadlineQueue collections.KeySet[collections.Pair[int64, uint64]]
}

// NewKeeper builds the keeper. authority is the address allowed to update
// params (the gov module account).
func NewKeeper(
	cdc codec.BinaryCodec,
	storeService corestore.KVStoreService,
	authority string,
	accountKeeper types.AccountKeeper,
	bankKeeper types.BankKeeper,
) Keeper {
	if _, err := accountKeeper.AddressCodec().StringToBytes(authority); err != nil {
		panic(fmt.Errorf("pouwml: invalid authority address %q: %w", authority, err))
	}
	for _, name := range []string{types.ModuleName, types.RewardPoolName} {
		if addr := accountKeeper.GetModuleAddress(name); addr == nil {
			panic(fmt.Errorf("pouwml: module account %q is not set in the account keeper's permissions", name))
		}
	}
	sb := collections.NewSchemaBuilder(storeService)
	k := Keeper{
		cdc:          cdc,
		authority:    authority,
		auth:         accountKeeper,
		bank:         bankKeeper,
		Params:       collections.NewItem(sb, types.ParamsKey, "params", codec.CollValue[types.Params](cdc)),
		DatasetSeq:   collections.NewSequence(sb, types.DatasetSeqKey, "dataset_seq"),
		Datasets:     collections.NewMap(sb, types.DatasetsKey, "datasets", collections.Uint64Key, codec.CollValue[types.Dataset](cdc)),
		DatasetBySHA: collections.NewMap(sb, types.DatasetBySHAKey, "dataset_by_sha", collections.BytesKey, collections.Uint64Value),
		Workers: collections.NewIndexedMap(sb, types.WorkersKey, "workers", sdk.AccAddressKey, codec.CollValue[types.Worker](cdc),
			WorkerIndexes{Role: indexes.NewMulti(sb, types.WorkersByRoleKey, "workers_by_role", collections.Int32Key, sdk.AccAddressKey,
				func(_ sdk.AccAddress, w types.Worker) (int32, error) { return int32(w.Role), nil })}),
		TaskSeq: collections.NewSequence(sb, types.TaskSeqKey, "task_seq"),
		Tasks: collections.NewIndexedMap(sb, types.TasksKey, "tasks", collections.Uint64Key, codec.CollValue[types.Task](cdc),
			TaskIndexes{Status: indexes.NewMulti(sb, types.TasksByStatusKey, "tasks_by_status", collections.Int32Key, collections.Uint64Key,
				func(_ uint64, t types.Task) (int32, error) { return int32(t.Status), nil })}),
		Jobs: collections.NewMap(sb, types.JobsKey, "jobs", collections.PairKeyCodec(collections.Uint64Key, collections.Uint32Key), codec.CollValue[types.Job](cdc)),
		Evaluations: collections.NewMap(sb, types.EvaluationsKey, "evaluations",
			collections.TripleKeyCodec(collections.Uint64Key, collections.Uint32Key, sdk.AccAddressKey), codec.CollValue[types.Evaluation](cdc)),
		SeedQueue:        collections.NewKeySet(sb, types.SeedQueueKey, "seed_queue", collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
		AssignmentQueue:  collections.NewKeySet(sb, types.AssignmentQueueKey, "assignment_queue", collections.TripleKeyCodec(collections.Int64Key, collections.Uint64Key, collections.Uint32Key)),
		DeadlineQueue:    collections.NewKeySet(sb, types.DeadlineQueueKey, "deadline_queue", collections.TripleKeyCodec(collections.Int64Key, collections.Uint64Key, collections.Uint32Key)),
		UnbondingQueue:   collections.NewKeySet(sb, types.UnbondingQueueKey, "unbonding_queue", collections.PairKeyCodec(collections.Int64Key, sdk.AccAddressKey)),
		VerifierPool:     collections.NewMap(sb, types.VerifierPoolKey, "verifier_pool", collections.Uint64Key, collections.BytesValue),
		VerifierSlot:     collections.NewMap(sb, types.VerifierSlotKey, "verifier_slot", sdk.AccAddressKey, collections.Uint64Value),
		VerifierPoolSize: collections.NewItem(sb, types.VerifierPoolSizeKey, "verifier_pool_size", collections.Uint64Value),
		Commitments: collections.NewMap(sb, types.CommitmentsKey, "commitments",
			collections.QuadKeyCodec(collections.Uint64Key, collections.Uint32Key, sdk.AccAddressKey, collections.Uint64Key), codec.CollValue[types.Commitment](cdc)),
		LastCommit: collections.NewMap(sb, types.LastCommitKey, "last_commit",
			collections.TripleKeyCodec(collections.Uint64Key, collections.Uint32Key, sdk.AccAddressKey), collections.Uint64Value),
		ProofSeq:           collections.NewSequence(sb, types.ProofSeqKey, "proof_seq"),
		Proofs:             collections.NewMap(sb, types.ProofsKey, "proofs", collections.Uint64Key, codec.CollValue[types.Proof](cdc)),
		ProofByDigest:      collections.NewMap(sb, types.ProofByDigestKey, "proof_by_digest", collections.BytesKey, collections.Uint64Value),
		Verdicts:           collections.NewMap(sb, types.VerdictsKey, "verdicts", collections.PairKeyCodec(collections.Uint64Key, sdk.AccAddressKey), codec.CollValue[types.Verdict](cdc)),
		BlockHashes:        collections.NewMap(sb, types.BlockHashesKey, "block_hashes", collections.Int64Key, collections.BytesValue),
		Target:             collections.NewItem(sb, types.TargetKey, "target", collections.BytesValue),
		IntervalAccepted:   collections.NewItem(sb, types.IntervalAcceptedKey, "interval_accepted", collections.Uint64Value),
		ProofQueue:         collections.NewKeySet(sb, types.ProofQueueKey, "proof_queue", collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
		ProofDeadlineQueue: collections.NewKeySet(sb, types.ProofDeadlineQueueKey, "proof_deadline_queue", collections.PairKeyCodec(collections.Int64Key, collections.Uint64Key)),
	}
	schema, err := sb.Build()
	if err != nil {
		panic(err)
	}
	k.Schema = schema
	return k
}

// Authority is the address allowed to update params.
func (k Keeper) Authority() string { return k.authority }

// ModuleAddress is the module account that holds escrows and bonds.
func (k Keeper) ModuleAddress() sdk.AccAddress { return k.auth.GetModuleAddress(types.ModuleName) }

func (k Keeper) addrString(a sdk.AccAddress) string {
	s, err := k.auth.AddressCodec().BytesToString(a)
	if err != nil {
		return a.String()
	}
	return s
}

func (k Keeper) parseAddr(field, s string) (sdk.AccAddress, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: %s is empty", types.ErrInvalidAddress, field)
	}
	bz, err := k.auth.AddressCodec().StringToBytes(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %q: %v", types.ErrInvalidAddress, field, s, err)
	}
	return bz, nil
}

func emit(ctx context.Context, ev proto.Message) error {
	return sdk.UnwrapSDKContext(ctx).EventManager().EmitTypedEvent(ev)
}
