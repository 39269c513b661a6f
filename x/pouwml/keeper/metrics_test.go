package keeper_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	sdkmath "cosmossdk.io/math"
	"github.com/prometheus/client_golang/prometheus/testutil"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/keeper"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// metricsFixture writes a state with tasks, jobs and proofs in several
// statuses, workers of every role and a funded reward pool.
func metricsFixture(t *testing.T) *fixture {
	f := newFixture(t)
	tasks := []types.TaskStatus{
		types.TASK_STATUS_OPEN, types.TASK_STATUS_TRAINING, types.TASK_STATUS_TRAINING,
		types.TASK_STATUS_COMPLETED, types.TASK_STATUS_COMPLETED, types.TASK_STATUS_COMPLETED, types.TASK_STATUS_EXPIRED,
	}
	for i, st := range tasks {
		if err := f.k.Tasks.Set(f.ctx, uint64(i+1), types.Task{Id: uint64(i + 1), Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	jobs := []types.JobStatus{
		types.JOB_STATUS_OPEN, types.JOB_STATUS_CLAIMED, types.JOB_STATUS_CLAIMED, types.JOB_STATUS_SUBMITTED,
		types.JOB_STATUS_SETTLED, types.JOB_STATUS_SETTLED, types.JOB_STATUS_SETTLED, types.JOB_STATUS_SETTLED, types.JOB_STATUS_FAILED,
	}
	for i, st := range jobs {
		task, idx := uint64(i/3+1), uint32(i%3)
		if err := f.k.Jobs.Set(f.ctx, keeperJobKey(task, idx), types.Job{TaskId: task, Index: idx, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	proofs := []types.ProofStatus{
		types.PROOF_STATUS_PENDING, types.PROOF_STATUS_COMMITTING, types.PROOF_STATUS_REVEALING,
		types.PROOF_STATUS_ACCEPTED, types.PROOF_STATUS_ACCEPTED, types.PROOF_STATUS_ACCEPTED,
		types.PROOF_STATUS_REJECTED, types.PROOF_STATUS_UNDECIDED,
	}
	for i, st := range proofs {
		if err := f.k.Proofs.Set(f.ctx, uint64(i+1), types.Proof{Id: uint64(i + 1), Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	roles := map[string]types.WorkerRole{
		"m1": types.WORKER_ROLE_MINER, "m2": types.WORKER_ROLE_MINER,
		"v1": types.WORKER_ROLE_VERIFIER, "v2": types.WORKER_ROLE_VERIFIER, "v3": types.WORKER_ROLE_VERIFIER,
		"s1": types.WORKER_ROLE_STORAGE,
	}
	for _, name := range []string{"m1", "m2", "v1", "v2", "v3", "s1"} {
		if _, err := f.msgs.RegisterWorker(f.ctx, validWorker(f.account(name), roles[name])); err != nil {
			t.Fatalf("registering %s: %v", name, err)
		}
	}
	pool := sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(5_000_000)))
	if err := f.bank.MintCoins(f.ctx, faucet, pool); err != nil {
		t.Fatal(err)
	}
	if err := f.bank.SendCoinsFromModuleToModule(f.ctx, faucet, types.RewardPoolName, pool); err != nil {
		t.Fatal(err)
	}
	f.setParams(func(p *types.Params) { p.RewardPerProof = sdk.NewCoin(denom, sdkmath.NewInt(10_000)) })
	return f
}

const wantChainMetrics = `
# HELP pouw_chain_difficulty The lottery's current difficulty: 2^256 / target, the expected tickets per win.
# TYPE pouw_chain_difficulty gauge
pouw_chain_difficulty 4096
# HELP pouw_chain_height The committed height the pouw_chain series were read at.
# TYPE pouw_chain_height gauge
pouw_chain_height 1
# HELP pouw_chain_jobs Cross-validation jobs by status, at the latest committed height.
# TYPE pouw_chain_jobs gauge
pouw_chain_jobs{status="assigned"} 0
pouw_chain_jobs{status="cancelled"} 0
pouw_chain_jobs{status="claimed"} 2
pouw_chain_jobs{status="expired"} 0
pouw_chain_jobs{status="failed"} 1
pouw_chain_jobs{status="open"} 1
pouw_chain_jobs{status="settled"} 4
pouw_chain_jobs{status="submitted"} 1
# HELP pouw_chain_proofs Work proofs by status, at the latest committed height.
# TYPE pouw_chain_proofs gauge
pouw_chain_proofs{status="accepted"} 3
pouw_chain_proofs{status="committing"} 1
pouw_chain_proofs{status="pending"} 1
pouw_chain_proofs{status="rejected"} 1
pouw_chain_proofs{status="revealing"} 1
pouw_chain_proofs{status="undecided"} 1
# HELP pouw_chain_reward_pool_upouw Spendable balance of the proof reward pool (pouwml_rewards).
# TYPE pouw_chain_reward_pool_upouw gauge
pouw_chain_reward_pool_upouw 5e+06
# HELP pouw_chain_rewards_paid_upouw Proof rewards paid so far: accepted proofs times the current reward_per_proof.
# TYPE pouw_chain_rewards_paid_upouw gauge
pouw_chain_rewards_paid_upouw 30000
# HELP pouw_chain_tasks Tasks by status, at the latest committed height.
# TYPE pouw_chain_tasks gauge
pouw_chain_tasks{status="cancelled"} 0
pouw_chain_tasks{status="completed"} 3
pouw_chain_tasks{status="evaluating"} 0
pouw_chain_tasks{status="expired"} 1
pouw_chain_tasks{status="open"} 1
pouw_chain_tasks{status="training"} 2
# HELP pouw_chain_workers Registered workers (bonded or unbonding) by role.
# TYPE pouw_chain_workers gauge
pouw_chain_workers{role="miner"} 2
pouw_chain_workers{role="storage"} 1
pouw_chain_workers{role="verifier"} 3
`

func TestMetricsCollectorFixtureState(t *testing.T) {
	f := metricsFixture(t)
	c := keeper.NewMetricsCollector(f.k, func() (sdk.Context, error) { return f.ctx, nil }, nil)
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantChainMetrics)); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Every status of every enum is exported, zeros included, so a
	// dashboard has a series before the first task reaches that status:
	// 6 task, 8 job and 6 proof statuses, 3 roles and 4 scalars.
	if n := testutil.CollectAndCount(c); n != 6+8+6+3+4 {
		t.Errorf("collected %d series, want %d", n, 6+8+6+3+4)
	}
}

// A scrape at an unchanged height reuses the last reading; a new height
// reads the state again.
func TestMetricsCollectorReadsOncePerHeight(t *testing.T) {
	f := metricsFixture(t)
	c := keeper.NewMetricsCollector(f.k, func() (sdk.Context, error) { return f.ctx, nil }, nil)
	proofs := func(accepted int) string {
		return strings.NewReplacer("ACCEPTED", strconv.Itoa(accepted)).Replace(`
# HELP pouw_chain_proofs Work proofs by status, at the latest committed height.
# TYPE pouw_chain_proofs gauge
pouw_chain_proofs{status="accepted"} ACCEPTED
pouw_chain_proofs{status="committing"} 1
pouw_chain_proofs{status="pending"} 1
pouw_chain_proofs{status="rejected"} 1
pouw_chain_proofs{status="revealing"} 1
pouw_chain_proofs{status="undecided"} 1
`)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(proofs(3)), "pouw_chain_proofs"); err != nil {
		t.Fatal(err)
	}
	if err := f.k.Proofs.Set(f.ctx, 100, types.Proof{Id: 100, Status: types.PROOF_STATUS_ACCEPTED}); err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(proofs(3)), "pouw_chain_proofs"); err != nil {
		t.Fatalf("same height, want the cached reading: %v", err)
	}
	f.ctx = f.ctx.WithBlockHeight(2)
	if err := testutil.CollectAndCompare(c, strings.NewReader(proofs(4)), "pouw_chain_proofs"); err != nil {
		t.Fatalf("new height, want a fresh reading: %v", err)
	}
}

// Before the first block (or on any read error) the collector exports
// nothing instead of failing the whole scrape, which carries CometBFT's
// series too.
func TestMetricsCollectorNotReady(t *testing.T) {
	f := newFixture(t)
	c := keeper.NewMetricsCollector(f.k, func() (sdk.Context, error) {
		return sdk.Context{}, errors.New("app is not ready; please wait for first block")
	}, nil)
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("collected %d series from an unreadable state, want 0", n)
	}
	// Describe still lists every family, so registration works at startup.
	if _, err := testutil.CollectAndLint(c); err != nil {
		t.Fatal(err)
	}
}
