package keeper_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cosmos/gogoproto/proto"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
	authkeeper "github.com/cosmos/cosmos-sdk/x/auth/keeper"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// midLifecycle leaves every collection and queue non-empty.
func midLifecycle(t *testing.T) *world {
	w := newWorld(t)
	id := w.submit(2, 3, 60_000)
	w.assignedAfterResult(w.miner1, id, 0, "m0", 900_000)
	w.evaluate(id, 0, "m0", 900_000)
	w.assignedAfterResult(w.miner2, id, 1, "m1", 800_000)
	if _, err := w.msgs.SubmitEvaluation(w.ctx, &types.MsgSubmitEvaluation{Verifier: w.job(id, 1).Verifiers[0], TaskId: id, JobIndex: 1, ModelHash: modelHash("m1"), Metrics: acc(800_000)}); err != nil {
		t.Fatal(err)
	}
	w.trainAndSubmit(w.miner1, id, 2, "m2", 700_000) // in the assignment queue
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.msgs.SubmitTask(w.ctx, validTask(w.client, w.dataset, 1, 2, 5_000)); err != nil { // in the seed queue
		t.Fatal(err)
	}
	if _, err := w.msgs.Unbond(w.ctx, &types.MsgUnbond{Address: w.verifiers[2]}); err != nil {
		// verifiers[2] may hold an assignment; unbond another idle verifier instead
		idle := w.account("idle-verifier")
		if _, err := w.msgs.RegisterWorker(w.ctx, validWorker(idle, types.WORKER_ROLE_VERIFIER)); err != nil {
			t.Fatal(err)
		}
		if _, err := w.msgs.Unbond(w.ctx, &types.MsgUnbond{Address: idle}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func TestGenesisRoundTrip(t *testing.T) {
	w := midLifecycle(t)
	exported, err := w.k.ExportGenesis(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := exported.Validate(); err != nil {
		t.Fatalf("exported genesis does not validate: %v", err)
	}
	for name, n := range map[string]int{
		"datasets": len(exported.Datasets), "workers": len(exported.Workers), "tasks": len(exported.Tasks),
		"jobs": len(exported.Jobs), "evaluations": len(exported.Evaluations), "seed queue": len(exported.SeedQueue),
		"assignment queue": len(exported.AssignmentQueue), "deadline queue": len(exported.DeadlineQueue),
		"unbonding queue": len(exported.UnbondingQueue), "verifier pool": len(exported.VerifierPool),
	} {
		if n == 0 {
			t.Fatalf("test state has no %s; the round trip would not cover it", name)
		}
	}
	g := newFixture(t)
	g.ctx = g.ctx.WithBlockHeight(w.height())
	if err := g.k.InitGenesis(g.ctx, *exported); err != nil {
		t.Fatal(err)
	}
	again, err := g.k.ExportGenesis(g.ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := proto.Marshal(exported)
	b, _ := proto.Marshal(again)
	if string(a) != string(b) {
		t.Fatal("export -> import -> export changed the state")
	}
	// And the raw pouwml stores are byte-identical.
	if a, b := storeDump(w.fixture), storeDump(g); a != b {
		t.Fatal("imported store differs from the exporting store")
	}
}

func storeDump(f *fixture) string {
	it := f.ctx.KVStore(f.keys[types.StoreKey]).Iterator(nil, nil)
	defer it.Close()
	out := ""
	for ; it.Valid(); it.Next() {
		out += fmt.Sprintf("%x=%x\n", it.Key(), it.Value())
	}
	return out
}

func TestGenesisValidateRejects(t *testing.T) {
	w := midLifecycle(t)
	base, err := w.k.ExportGenesis(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(g *types.GenesisState){
		"zero sequence":          func(g *types.GenesisState) { g.NextTaskId = 0 },
		"dataset id past seq":    func(g *types.GenesisState) { g.Datasets[0].Id = g.NextDatasetId },
		"duplicate worker":       func(g *types.GenesisState) { g.Workers = append(g.Workers, g.Workers[0]) },
		"orphan job":             func(g *types.GenesisState) { g.Jobs[0].TaskId = 99 },
		"orphan evaluation":      func(g *types.GenesisState) { g.Evaluations[0].JobIndex = 99 },
		"task on no dataset":     func(g *types.GenesisState) { g.Tasks[0].DatasetId = 77 },
		"queue for no task":      func(g *types.GenesisState) { g.DeadlineQueue[0].TaskId = 99 },
		"bad params":             func(g *types.GenesisState) { g.Params.QuorumBps = 0 },
		"pool slot out of range": func(g *types.GenesisState) { g.VerifierPool[0].Slot = 1000 },
		"commitment without optimizer hash": func(g *types.GenesisState) {
			g.Commitments = append(g.Commitments, types.Commitment{TaskId: g.Jobs[0].TaskId, JobIndex: g.Jobs[0].Index, Miner: g.Workers[0].Address, WeightsHash: make([]byte, 32)})
		},
		"commitment with a short weights hash": func(g *types.GenesisState) {
			g.Commitments = append(g.Commitments, types.Commitment{TaskId: g.Jobs[0].TaskId, JobIndex: g.Jobs[0].Index, Miner: g.Workers[0].Address, WeightsHash: make([]byte, 31), OptimizerHash: make([]byte, 32)})
		},
	} {
		bz, err := proto.Marshal(base)
		if err != nil {
			t.Fatal(err)
		}
		g := &types.GenesisState{}
		if err := proto.Unmarshal(bz, g); err != nil {
			t.Fatal(err)
		}
		mut(g)
		if err := g.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestInvariantUnderRandomMsgs drives a long seeded random sequence of
// Msgs, valid and invalid, across many blocks, checking after every block
// that the module account holds exactly the open escrows plus bonds.
func TestInvariantUnderRandomMsgs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	w := newWorld(t)
	f := w.fixture
	var miners, verifiers []string
	miners = append(miners, w.miner1, w.miner2)
	verifiers = append(verifiers, w.verifiers...)
	for i := 0; i < 4; i++ {
		v := f.account(fmt.Sprintf("rv%d", i))
		if _, err := f.msgs.RegisterWorker(f.ctx, validWorker(v, types.WORKER_ROLE_VERIFIER)); err == nil {
			verifiers = append(verifiers, v)
		}
	}
	var tasks []uint64
	accepted, rejected := 0, 0
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for block := 0; block < 300; block++ {
		for n := 0; n < 8; n++ {
			var err error
			switch op := rng.IntN(10); {
			case op == 0 || len(tasks) == 0:
				m := validTask(w.client, w.dataset, 1+rng.IntN(3), 2+rng.IntN(3), int64(1_000+rng.IntN(100_000)))
				m.Deadlines = types.Deadlines{ClaimBlocks: uint64(1 + rng.IntN(15)), TrainingBlocks: uint64(1 + rng.IntN(10)), EvaluationBlocks: uint64(1 + rng.IntN(8))}
				var res *types.MsgSubmitTaskResponse
				if res, err = f.msgs.SubmitTask(f.ctx, m); err == nil {
					tasks = append(tasks, res.Id)
				}
			case op <= 3:
				_, err = f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: pick(miners), TaskId: tasks[rng.IntN(len(tasks))], JobIndex: uint32(rng.IntN(12))})
			case op <= 5:
				id := tasks[rng.IntN(len(tasks))]
				idx := uint32(rng.IntN(12))
				miner := pick(miners)
				if j, e := f.k.Jobs.Get(f.ctx, keeperJobKey(id, idx)); e == nil && j.Miner != "" && rng.IntN(4) > 0 {
					miner = j.Miner
				}
				_, err = f.msgs.SubmitResult(f.ctx, &types.MsgSubmitResult{Miner: miner, TaskId: id, JobIndex: idx, ModelHash: modelHash(fmt.Sprint(id, idx)), Metrics: acc(uint32(rng.IntN(1_000_001)))})
			case op <= 7:
				id := tasks[rng.IntN(len(tasks))]
				idx := uint32(rng.IntN(12))
				ver := pick(verifiers)
				if j, e := f.k.Jobs.Get(f.ctx, keeperJobKey(id, idx)); e == nil && len(j.Verifiers) > 0 && rng.IntN(4) > 0 {
					ver = j.Verifiers[rng.IntN(len(j.Verifiers))]
				}
				model := fmt.Sprint(id, idx)
				if rng.IntN(6) == 0 {
					model = "other"
				}
				_, err = f.msgs.SubmitEvaluation(f.ctx, &types.MsgSubmitEvaluation{Verifier: ver, TaskId: id, JobIndex: idx, ModelHash: modelHash(model), Metrics: acc(uint32(800_000 + rng.IntN(100_000)))})
			case op == 8:
				_, err = f.msgs.CancelTask(f.ctx, &types.MsgCancelTask{Client: w.client, TaskId: tasks[rng.IntN(len(tasks))]})
			default:
				who := pick(append(append([]string{}, miners...), verifiers...))
				if rng.IntN(2) == 0 {
					_, err = f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: who})
				} else {
					m := validWorker(who, types.WORKER_ROLE_MINER)
					if f.worker0(who) == types.WORKER_ROLE_VERIFIER {
						m.Role = types.WORKER_ROLE_VERIFIER
					}
					m.Bond = sdk.NewCoin(denom, sdkmath.NewInt(int64(rng.IntN(2_000_000))))
					_, err = f.msgs.RegisterWorker(f.ctx, m)
				}
			}
			if err == nil {
				accepted++
			} else {
				rejected++
			}
		}
		f.nextBlock() // checks the invariant
	}
	closed := 0
	for _, id := range tasks {
		if f.task(id).Status.IsFinal() {
			closed++
		}
	}
	t.Logf("%d Msgs accepted, %d rejected, %d of %d tasks closed", accepted, rejected, closed, len(tasks))
	if accepted < 200 || rejected < 200 || closed < 5 {
		t.Fatalf("random walk too narrow: %d accepted, %d rejected, %d closed", accepted, rejected, closed)
	}
}

// worker0 returns the role of a worker, or unspecified.
func (f *fixture) worker0(addr string) types.WorkerRole {
	w, err := f.k.Workers.Get(f.ctx, f.addr(addr))
	if err != nil {
		return types.WORKER_ROLE_UNSPECIFIED
	}
	return w.Role
}

// Regression (docs/FAULTS.md): the localnet funds the proof reward pool with
// a bank send; before InitGenesis created the module accounts, that send made
// a plain account at the pool's address and `pouwd q auth module-account
// pouwml_rewards` (and `module-accounts`) failed for the chain's life.
func TestInitGenesisCreatesModuleAccounts(t *testing.T) {
	f := newFixture(t)
	user := f.addr(f.account("pool-funder"))
	queries := authkeeper.NewQueryServer(f.auth)
	for _, name := range []string{types.ModuleName, types.RewardPoolName} {
		addr := f.auth.GetModuleAddress(name)
		if _, ok := f.auth.GetAccount(f.ctx, addr).(sdk.ModuleAccountI); !ok {
			t.Fatalf("after InitGenesis the account at %s is %T, not the module account %q", addr, f.auth.GetAccount(f.ctx, addr), name)
		}
		// Anyone may top up the pool with a plain bank send.
		if err := f.bank.SendCoins(f.ctx, user, addr, sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(1_000)))); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.auth.GetAccount(f.ctx, addr).(sdk.ModuleAccountI); !ok {
			t.Fatalf("a bank send to %q made its account %T", name, f.auth.GetAccount(f.ctx, addr))
		}
		if _, err := queries.ModuleAccountByName(f.ctx, &authtypes.QueryModuleAccountByNameRequest{Name: name}); err != nil {
			t.Fatalf("module-account %s: %v", name, err)
		}
	}

	// A plain account already at the pool's address is refused by name.
	pool := f.auth.GetModuleAddress(types.RewardPoolName)
	f.auth.RemoveAccount(f.ctx, f.auth.GetAccount(f.ctx, pool))
	f.auth.SetAccount(f.ctx, f.auth.NewAccountWithAddress(f.ctx, pool))
	err := f.k.InitGenesis(f.ctx, *types.DefaultGenesis())
	if err == nil || !strings.Contains(err.Error(), types.RewardPoolName) {
		t.Fatalf("InitGenesis over a plain account at the pool's address: %v, want an error naming %s", err, types.RewardPoolName)
	}
}
