package types

import "cosmossdk.io/collections"

const (
	// ModuleName is the module's name, store key and module account name.
	ModuleName = "pouwml"
	// StoreKey is the module's KV store key.
	StoreKey = ModuleName
)

// Collection prefixes. Never renumber: they are the on-disk layout.
var (
	ParamsKey           = collections.NewPrefix(0)
	DatasetSeqKey       = collections.NewPrefix(1)
	DatasetsKey         = collections.NewPrefix(2)
	DatasetBySHAKey     = collections.NewPrefix(3)
	WorkersKey          = collections.NewPrefix(4)
	WorkersByRoleKey    = collections.NewPrefix(5)
	TaskSeqKey          = collections.NewPrefix(6)
	TasksKey            = collections.NewPrefix(7)
	TasksByStatusKey    = collections.NewPrefix(8)
	JobsKey             = collections.NewPrefix(9)
	EvaluationsKey      = collections.NewPrefix(10)
	SeedQueueKey        = collections.NewPrefix(11)
	AssignmentQueueKey  = collections.NewPrefix(12)
	DeadlineQueueKey    = collections.NewPrefix(13)
	UnbondingQueueKey   = collections.NewPrefix(14)
	VerifierPoolKey     = collections.NewPrefix(15)
	VerifierSlotKey     = collections.NewPrefix(16)
	VerifierPoolSizeKey = collections.NewPrefix(17)

	CommitmentsKey        = collections.NewPrefix(18)
	LastCommitKey         = collections.NewPrefix(19)
	ProofSeqKey           = collections.NewPrefix(20)
	ProofsKey             = collections.NewPrefix(21)
	ProofByDigestKey      = collections.NewPrefix(22)
	VerdictsKey           = collections.NewPrefix(23)
	BlockHashesKey        = collections.NewPrefix(24)
	TargetKey             = collections.NewPrefix(25)
	IntervalAcceptedKey   = collections.NewPrefix(26)
	ProofQueueKey         = collections.NewPrefix(27)
	ProofDeadlineQueueKey = collections.NewPrefix(28)
)

// RewardPoolName is the module account that pays proof rewards; it is
// funded at genesis (and by anyone who sends coins to it).
const RewardPoolName = "pouwml_rewards"
