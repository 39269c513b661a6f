package keeper

// The chain module's Prometheus series (docs/MONITORING.md, "Chain
// module"). This file is not consensus code: nothing here runs inside
// block execution. The collector reads a read-only query context at the
// latest committed height when Prometheus scrapes the node, the way a gRPC
// query does, so it cannot change state or slow a block down. It is the one
// place in the keeper that converts to float64, because a Prometheus sample
// is a float64; every count is an integer until the sample is built.

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"

	"cosmossdk.io/collections"
	"cosmossdk.io/log/v2"
	sdkmath "cosmossdk.io/math"
	"github.com/prometheus/client_golang/prometheus"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// QueryContextFunc returns a read-only context on the latest committed
// state (app.PouwApp's is BaseApp.CreateQueryContext at the store's latest
// version). Its BlockHeight is the height the state was committed at.
type QueryContextFunc func() (sdk.Context, error)

// ChainSnapshot is what the collector exports, read from one committed
// height. Counts are indexed by the enum value (index 0, UNSPECIFIED, is
// never exported).
type ChainSnapshot struct {
	Height int64
	Tasks  []uint64 // by types.TaskStatus
	Jobs   []uint64 // by types.JobStatus
	Proofs []uint64 // by types.ProofStatus
	// Workers by types.WorkerRole, every registered worker (bonded or
	// unbonding).
	Workers []uint64
	// RewardsPaid is accepted proofs times the current reward_per_proof,
	// in that coin's denom. State keeps no running total of the rewards
	// paid, and adding one would change consensus state for a dashboard;
	// the product is exact as long as reward_per_proof never changed and
	// the reward pool never ran short (it then pays what it holds, see
	// settleProof). RewardPool shows when the pool runs dry.
	RewardsPaid sdkmath.Int
	// RewardPool is the spendable balance of the proof reward pool in the
	// same denom.
	RewardPool sdkmath.Int
	// Difficulty is 2^256 / target: the expected number of tickets per
	// win (4096 at genesis). Zero when the state has no target.
	Difficulty *big.Float
}

// ReadChainSnapshot reads the exported numbers from ctx. It walks the jobs
// and proofs and the task and worker indexes: cheap on the chains this runs
// on, and only ever at scrape time.
func (k Keeper) ReadChainSnapshot(ctx context.Context) (ChainSnapshot, error) {
	s := ChainSnapshot{
		Height:      sdk.UnwrapSDKContext(ctx).BlockHeight(),
		Tasks:       make([]uint64, len(types.TaskStatus_name)),
		Jobs:        make([]uint64, len(types.JobStatus_name)),
		Proofs:      make([]uint64, len(types.ProofStatus_name)),
		Workers:     make([]uint64, len(types.WorkerRole_name)),
		RewardsPaid: sdkmath.ZeroInt(),
		RewardPool:  sdkmath.ZeroInt(),
	}
	for st := range s.Tasks[1:] {
		n, err := countIndex(k.Tasks.Indexes.Status.MatchExact(ctx, int32(st+1)))
		if err != nil {
			return s, fmt.Errorf("counting tasks with status %s: %w", types.TaskStatus(st+1), err)
		}
		s.Tasks[st+1] = n
	}
	for r := range s.Workers[1:] {
		n, err := countIndex(k.Workers.Indexes.Role.MatchExact(ctx, int32(r+1)))
		if err != nil {
			return s, fmt.Errorf("counting workers with role %s: %w", types.WorkerRole(r+1), err)
		}
		s.Workers[r+1] = n
	}
	err := k.Jobs.Walk(ctx, nil, func(_ JobKey, j types.Job) (bool, error) {
		if i := int(j.Status); i > 0 && i < len(s.Jobs) {
			s.Jobs[i]++
		}
		return false, nil
	})
	if err != nil {
		return s, fmt.Errorf("walking jobs: %w", err)
	}
	err = k.Proofs.Walk(ctx, nil, func(_ uint64, p types.Proof) (bool, error) {
		if i := int(p.Status); i > 0 && i < len(s.Proofs) {
			s.Proofs[i]++
		}
		return false, nil
	})
	if err != nil {
		return s, fmt.Errorf("walking proofs: %w", err)
	}

	params, err := k.Params.Get(ctx)
	if err != nil {
		return s, fmt.Errorf("reading params: %w", err)
	}
	if params.RewardPerProof.Amount.IsNil() {
		params.RewardPerProof.Amount = sdkmath.ZeroInt()
	}
	accepted := s.Proofs[types.PROOF_STATUS_ACCEPTED]
	s.RewardsPaid = params.RewardPerProof.Amount.Mul(sdkmath.NewIntFromUint64(accepted))
	if pool := k.auth.GetModuleAddress(types.RewardPoolName); pool != nil && params.RewardPerProof.Denom != "" {
		s.RewardPool = k.bank.SpendableCoins(ctx, pool).AmountOf(params.RewardPerProof.Denom)
	}

	bz, err := k.Target.Get(ctx)
	switch {
	case errors.Is(err, collections.ErrNotFound):
	case err != nil:
		return s, fmt.Errorf("reading the lottery target: %w", err)
	default:
		target, err := pouw.ParseTarget(bz)
		if err != nil {
			return s, fmt.Errorf("the stored lottery target: %w", err)
		}
		two256 := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), 256))
		s.Difficulty = new(big.Float).Quo(two256, new(big.Float).SetInt(new(big.Int).SetBytes(target[:])))
	}
	return s, nil
}

// countIndex counts the primary keys of an index range and closes it.
func countIndex(it interface {
	Valid() bool
	Next()
	Close() error
}, err error) (uint64, error) {
	if err != nil {
		return 0, err
	}
	defer it.Close()
	var n uint64
	for ; it.Valid(); it.Next() {
		n++
	}
	return n, nil
}

// MetricsCollector is a prometheus.Collector over the module's state. A
// scrape reads the latest committed height once; scrapes at the same
// height reuse that reading. When the state cannot be read (before the
// first block, or a pruned version) it exports nothing and logs why: an
// error must not fail the scrape, which also carries CometBFT's series.
type MetricsCollector struct {
	k      Keeper
	query  QueryContextFunc
	logger log.Logger

	tasks, jobs, proofs, workers                      *prometheus.Desc
	rewardsPaid, rewardPool, difficulty, heightMetric *prometheus.Desc

	mu      sync.Mutex
	last    *ChainSnapshot
	lastErr string
}

// NewMetricsCollector returns the collector; query gives it a read-only
// context on the latest committed state. logger may be nil.
func NewMetricsCollector(k Keeper, query QueryContextFunc, logger log.Logger) *MetricsCollector {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pouw_chain_"+name, help, labels, nil)
	}
	return &MetricsCollector{
		k: k, query: query, logger: logger.With("module", "x/"+types.ModuleName, "component", "metrics"),
		tasks:        d("tasks", "Tasks by status, at the latest committed height.", "status"),
		jobs:         d("jobs", "Cross-validation jobs by status, at the latest committed height.", "status"),
		proofs:       d("proofs", "Work proofs by status, at the latest committed height.", "status"),
		workers:      d("workers", "Registered workers (bonded or unbonding) by role.", "role"),
		rewardsPaid:  d("rewards_paid_upouw", "Proof rewards paid so far: accepted proofs times the current reward_per_proof."),
		rewardPool:   d("reward_pool_upouw", "Spendable balance of the proof reward pool (pouwml_rewards)."),
		difficulty:   d("difficulty", "The lottery's current difficulty: 2^256 / target, the expected tickets per win."),
		heightMetric: d("height", "The committed height the pouw_chain series were read at."),
	}
}

// Describe implements prometheus.Collector.
func (c *MetricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasks, c.jobs, c.proofs, c.workers, c.rewardsPaid, c.rewardPool, c.difficulty, c.heightMetric} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *MetricsCollector) Collect(ch chan<- prometheus.Metric) {
	s, ok := c.snapshot()
	if !ok {
		return
	}
	byEnum := func(desc *prometheus.Desc, counts []uint64, names map[int32]string, prefix string) {
		for i := 1; i < len(counts); i++ {
			label := strings.ToLower(strings.TrimPrefix(names[int32(i)], prefix))
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[i]), label)
		}
	}
	byEnum(c.tasks, s.Tasks, types.TaskStatus_name, "TASK_STATUS_")
	byEnum(c.jobs, s.Jobs, types.JobStatus_name, "JOB_STATUS_")
	byEnum(c.proofs, s.Proofs, types.ProofStatus_name, "PROOF_STATUS_")
	byEnum(c.workers, s.Workers, types.WorkerRole_name, "WORKER_ROLE_")
	ch <- prometheus.MustNewConstMetric(c.rewardsPaid, prometheus.GaugeValue, intFloat(s.RewardsPaid))
	ch <- prometheus.MustNewConstMetric(c.rewardPool, prometheus.GaugeValue, intFloat(s.RewardPool))
	if s.Difficulty != nil {
		f, _ := s.Difficulty.Float64()
		ch <- prometheus.MustNewConstMetric(c.difficulty, prometheus.GaugeValue, f)
	}
	ch <- prometheus.MustNewConstMetric(c.heightMetric, prometheus.GaugeValue, float64(s.Height))
}

// snapshot returns the reading at the latest committed height, reading the
// state only when the height moved since the last scrape.
func (c *MetricsCollector) snapshot() (ChainSnapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, err := c.query()
	if err == nil && c.last != nil && c.last.Height == ctx.BlockHeight() {
		return *c.last, true
	}
	var s ChainSnapshot
	if err == nil {
		s, err = c.k.ReadChainSnapshot(ctx)
	}
	if err != nil {
		// Log each distinct failure once: the node not having a block yet
		// is normal at start and would otherwise be logged every scrape.
		if msg := err.Error(); msg != c.lastErr {
			c.logger.Info("chain metrics not read", "err", msg)
			c.lastErr = msg
		}
		return ChainSnapshot{}, false
	}
	c.last, c.lastErr = &s, ""
	return s, true
}

func intFloat(i sdkmath.Int) float64 {
	if i.IsNil() {
		return 0
	}
	f, _ := new(big.Float).SetInt(i.BigInt()).Float64()
	return f
}
