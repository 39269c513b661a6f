// Package pouwe2e runs the miner and verifier daemons against the
// in-process 4-validator network (tests/integration): a real MNIST subset,
// a 2-configuration x 2-fold task trained by two honest miners and checked
// by three verifiers (proofs replayed, verdicts committed and revealed,
// models re-measured), ending with accepted proofs, a COMPLETED task and
// its CV table; and three dishonest miners (fabricated gradient hash, a
// batch order that is not the seeded one, a served checkpoint that does
// not match its commitment) whose proofs the verifiers reject and who are
// slashed and jailed; a miner that claims better metrics than its model has
// (MISCLAIMED on the verifiers' numbers, slashed, jailed); a miner that
// crashes and resumes from its last commitment with the same bits; and a
// chainclient retrying colliding sequences.
package pouwe2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/app"
	"github.com/pouw/pouwd/chainclient"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/miner"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/tests/integration"
	"github.com/pouw/pouwd/verifier"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

func TestPoUWEndToEnd(t *testing.T) {
	start := time.Now()
	accounts := append(append([]string(nil), integration.DefaultAccounts...), "cheat1", "cheat2", "cheat3", "resumer", "liar")
	n := integration.New(t, integration.Options{Accounts: accounts, TimeoutCommit: 500 * time.Millisecond,
		ModifyGenesis: integration.EasyProofs(5, 50)})
	t.Logf("network up in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := types.NewQueryClient(n.ClientCtx())
	addr := func(name string) string { return n.Address(name).String() }
	pr, err := q.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	params := pr.Params
	log := integration.Logger()
	clients := integration.Clients(t, n, accounts, log)

	// chainclient: two clients of one key, so their local sequences
	// collide, each send 4 txs at once; the mismatches are retried and all
	// 8 land.
	{
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for k := 0; k < 2; k++ {
			c, err := chainclient.New(n.ClientCtx(), "client", chainclient.Config{Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := c.Broadcast(ctx, &banktypes.MsgSend{FromAddress: addr("client"), ToAddress: addr("miner1"),
						Amount: sdk.NewCoins(sdk.NewCoin(app.BondDenom, sdkmath.NewInt(1)))})
					errs <- err
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent broadcast: %v", err)
			}
		}
		t.Logf("chainclient: 8 concurrent txs from one key over two clients landed")
	}

	// Dataset: 300 training + 100 test samples of MNIST, erasure-coded as
	// the chain records it.
	ds := integration.MNISTSubset(t, 300, 100)
	cl := clients["client"]
	pool := authtypes.NewModuleAddress(types.RewardPoolName)
	mnistReg := integration.MNISTDatasetMsg(t, addr("client"), "mnist-400", ds)
	sum := [32]byte(mnistReg.Sha256)
	if _, err := cl.Broadcast(ctx,
		mnistReg,
		&banktypes.MsgSend{FromAddress: addr("client"), ToAddress: pool.String(), Amount: sdk.NewCoins(sdk.NewCoin(app.BondDenom, sdkmath.NewInt(1_000_000_000)))},
	); err != nil {
		t.Fatal(err)
	}
	dsl, err := q.Datasets(ctx, &types.QueryDatasetsRequest{})
	if err != nil || len(dsl.Datasets) != 1 {
		t.Fatalf("datasets: %v %v", dsl, err)
	}
	datasetID := dsl.Datasets[0].Id

	// Task A (honest): 2 MLP configurations x 2 folds. Task B (attacks):
	// 1 configuration x 3 folds, one job per dishonest miner.
	mlp := func(lr uint64) types.ModelConfig {
		return types.ModelConfig{Architecture: "mlp", Layers: []uint32{784, 32, 10}, LearningRateE9: lr, BatchSize: 16, Epochs: 2,
			Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
	}
	submit := func(configs []types.ModelConfig, folds uint32, seed uint64) uint64 {
		res, err := cl.Broadcast(ctx, &types.MsgSubmitTask{Client: addr("client"), DatasetId: datasetID, Configs: configs,
			Cv: types.CVConfig{Folds: folds, Stratified: true, Metric: types.METRIC_ACCURACY}, Seed: seed,
			Deadlines: types.Deadlines{ClaimBlocks: 400, TrainingBlocks: 400, EvaluationBlocks: 100},
			Fee:       sdk.NewCoin(app.BondDenom, sdkmath.NewInt(1_000_000))})
		if err != nil {
			t.Fatal(err)
		}
		_ = res
		r, err := q.Tasks(ctx, &types.QueryTasksRequest{})
		if err != nil || len(r.Tasks) == 0 {
			t.Fatalf("tasks: %v", err)
		}
		var id uint64
		for _, tk := range r.Tasks {
			id = max(id, tk.Id)
		}
		return id
	}
	taskA := submit([]types.ModelConfig{mlp(100_000_000), mlp(50_000_000)}, 2, 1)
	taskB := submit([]types.ModelConfig{mlp(100_000_000)}, 5, 2)
	for _, id := range []uint64{taskA, taskB} {
		integration.WaitFor(t, fmt.Sprintf("task %d fold seed", id), 30*time.Second, func() bool {
			r, err := q.Task(ctx, &types.QueryTaskRequest{Id: id})
			return err == nil && len(r.Task.FoldSeed) == 32
		})
	}

	be, err := cpu.New(cpu.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	datasets := worker.MemDatasets{sum: ds}
	// Every miner and verifier has its own libp2p host on loopback: miners
	// serve their committed checkpoints and final models from their stores
	// (p2p.BlobConfig), verifiers fetch them from the peer id and addresses
	// the miner registered with its bond.
	chainID := n.ClientCtx().ChainID

	// Verifiers.
	var verifiers []*verifier.Verifier
	for _, name := range []string{"verifier1", "verifier2", "verifier3"} {
		vc := verifier.DefaultConfig()
		vc.Poll, vc.Logger, vc.StateDir = 300*time.Millisecond, log, t.TempDir()
		fetcher, err := verifier.NewP2PFetcher(integration.LoopbackHost(t), chainID, clients[name].Query)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verifier.New(vc, worker.NewClient(clients[name]), datasets, fetcher, be)
		if err != nil {
			t.Fatal(err)
		}
		verifiers = append(verifiers, v)
		go func() { _ = v.Run(ctx) }()
	}

	// Honest miners on task A.
	stateDirs := map[string]string{}
	newMiner := func(name string, att miner.Attack, tasks []uint64) *miner.Miner {
		cfg := miner.DefaultConfig()
		cfg.Poll, cfg.Logger, cfg.Attack, cfg.Tasks, cfg.StatusEvery = 300*time.Millisecond, log, att, tasks, 0
		stateDirs[name] = t.TempDir()
		cfg.StateDir = stateDirs[name]
		st, err := p2p.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		h := integration.LoopbackHost(t)
		svc, err := p2p.NewService(h, p2p.BlobConfig(chainID), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cfg.PeerID, cfg.Multiaddrs = h.ID().String(), p2p.HostAddrs(h)
		m, err := miner.New(cfg, worker.NewClient(clients[name]), datasets, st, be)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, name := range []string{"miner1", "miner2"} {
		m := newMiner(name, miner.Attack{}, []uint64{taskA})
		go func() { _ = m.Run(ctx) }()
	}

	// Dishonest miners on task B, one job each.
	rb, err := q.Task(ctx, &types.QueryTaskRequest{Id: taskB})
	if err != nil {
		t.Fatal(err)
	}
	tB := rb.Task
	job2, err := jobspec.Prepare(&tB, 2, ds)
	if err != nil {
		t.Fatal(err)
	}
	attacks := map[string]miner.Attack{
		"cheat1": {Step: func(_ uint32, step uint64, h *pouw.StepParts) { // fabricated gradient sample
			h.GradSample = sha256.Sum256(binary.BigEndian.AppendUint64([]byte("made up"), step))
		}},
		"cheat2": {Job: func(j *jobspec.Job) { j.Config.Seed++ }}, // not the seeded batch order
		"cheat3": {Checkpoint: func(step uint64, b []byte) []byte { // serves other weights than it committed
			if step == 0 {
				return b
			}
			ck, err := ml.ParseCheckpoint(b)
			if err != nil {
				panic(err)
			}
			tr, err := ml.ResumeTrainer(ck, job2.Train, be)
			if err != nil {
				panic(err)
			}
			tr.Model.Params()[0].T.Data[0] += 0.25
			var buf bytes.Buffer
			if err := tr.SaveCheckpoint(&buf); err != nil {
				panic(err)
			}
			return buf.Bytes()
		}},
	}
	cheats := []string{"cheat1", "cheat2", "cheat3"}
	for i, name := range cheats {
		m := newMiner(name, attacks[name], []uint64{taskB})
		if err := m.EnsureBonded(ctx); err != nil {
			t.Fatal(err)
		}
		go func() { _ = m.RunJob(ctx, &tB, uint32(i), false) }()
	}

	// A miner that crashes at step 12 of job 3 and restarts from its store.
	crashCtx, crash := context.WithCancel(ctx)
	var first *miner.Miner
	first = newMiner("resumer", miner.Attack{Step: func(_ uint32, step uint64, _ *pouw.StepParts) {
		if step == 12 { // crash once commitments beyond step 0 are on chain
			for first.Stats.Commitments.Load() < 2 && crashCtx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
			}
			crash()
		}
	}}, []uint64{taskB})
	if err := first.EnsureBonded(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := make(chan error, 1)
	var resumedSteps, resumedTickets atomic.Uint64
	go func() {
		err := first.RunJob(crashCtx, &tB, 3, false)
		t.Logf("resumer crashed: %v", err)
		cfg := miner.DefaultConfig()
		cfg.Poll, cfg.Logger, cfg.StatusEvery = 300*time.Millisecond, log, 0
		// The restarted miner keeps its store (and the host serving it)
		// and its step journal.
		cfg.StateDir = stateDirs["resumer"]
		again, err := miner.New(cfg, worker.NewClient(clients["resumer"]), datasets, first.Store(), be)
		if err != nil {
			resumed <- err
			return
		}
		err = again.RunJob(ctx, &tB, 3, true)
		resumedSteps.Store(again.Stats.Steps.Load())
		resumedTickets.Store(again.Stats.TicketsDrawn.Load())
		resumed <- err
	}()

	// A miner that claims better metrics than its model has (job 4).
	liar := newMiner("liar", miner.Attack{Metrics: func(m *types.FoldMetrics) { m.AccuracyPpm = min(m.AccuracyPpm+100_000, 1_000_000) }}, []uint64{taskB})
	if err := liar.EnsureBonded(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { _ = liar.RunJob(ctx, &tB, 4, false) }()

	// Task A completes with a CV table.
	integration.WaitFor(t, "task A completed", 150*time.Second, func() bool {
		r, err := q.Task(ctx, &types.QueryTaskRequest{Id: taskA})
		return err == nil && r.Task.Status == types.TASK_STATUS_COMPLETED
	})
	table, err := q.CVTable(ctx, &types.QueryCVTableRequest{TaskId: taskA})
	if err != nil {
		t.Fatal(err)
	}
	if !table.HasBest {
		t.Fatalf("task A has no best configuration: %+v", table)
	}
	t.Logf("task %d COMPLETED after %s; CV table (accuracy ppm):", taskA, time.Since(start).Round(time.Millisecond))
	for c, row := range table.Rows {
		if !row.Score.Complete || row.Score.MeanPpm < 250_000 {
			t.Fatalf("config %d: %+v (expected complete, mean >= 25%%, chance is 10%%)", c, row.Score)
		}
		t.Logf("  config %d: mean %d std %d", c, row.Score.MeanPpm, row.Score.StdPpm)
	}
	t.Logf("  best configuration: %d", table.BestConfig)
	jobs, err := q.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: taskA})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Jobs {
		if j.Outcome != types.JOB_OUTCOME_ACCEPTED || j.VerifiedPpm != uint64(j.Claimed.AccuracyPpm) {
			t.Fatalf("job %d: outcome %s claimed %d verified %d", j.Index, j.Outcome, j.Claimed.AccuracyPpm, j.VerifiedPpm)
		}
	}

	// Every proof settles: the honest miners' accepted, each cheat's rejected.
	proofsBy := func() map[string][]types.Proof {
		out := map[string][]types.Proof{}
		for id := uint64(1); ; id++ {
			r, err := q.Proof(ctx, &types.QueryProofRequest{Id: id})
			if err != nil {
				return out
			}
			out[r.Proof.Miner] = append(out[r.Proof.Miner], r.Proof)
		}
	}
	settled := func(p types.Proof) bool {
		return p.Status == types.PROOF_STATUS_ACCEPTED || p.Status == types.PROOF_STATUS_REJECTED || p.Status == types.PROOF_STATUS_UNDECIDED
	}
	integration.WaitFor(t, "every proof settled and every cheat slashed", 120*time.Second, func() bool {
		all := proofsBy()
		for _, ps := range all {
			for _, p := range ps {
				if !settled(p) {
					return false
				}
			}
		}
		for _, name := range cheats {
			w, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr(name)})
			if err != nil || w.Worker.JailedUntil == 0 {
				return false
			}
		}
		return true
	})
	all := proofsBy()
	count := func(ps []types.Proof, s types.ProofStatus) (k int) {
		for _, p := range ps {
			if p.Status == s {
				k++
			}
		}
		return k
	}
	for _, name := range []string{"miner1", "miner2"} {
		ps := all[addr(name)]
		if count(ps, types.PROOF_STATUS_REJECTED) != 0 || (len(ps) > 0 && count(ps, types.PROOF_STATUS_ACCEPTED) != len(ps)) {
			t.Fatalf("%s: %d proofs, %d accepted, %d rejected", name, len(ps), count(ps, types.PROOF_STATUS_ACCEPTED), count(ps, types.PROOF_STATUS_REJECTED))
		}
		w, _ := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr(name)})
		t.Logf("%s: %d proofs accepted, bond %s, jailed_until %d", name, len(ps), w.Worker.Bond, w.Worker.JailedUntil)
	}
	if len(all[addr("miner1")])+len(all[addr("miner2")]) == 0 {
		t.Fatal("no honest proof at all")
	}
	for _, name := range cheats {
		ps := all[addr(name)]
		w, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr(name)})
		if err != nil {
			t.Fatal(err)
		}
		rej := count(ps, types.PROOF_STATUS_REJECTED)
		if rej == 0 || w.Worker.JailedUntil == 0 || !w.Worker.Bond.IsLT(params.MinWorkerBond) {
			t.Fatalf("%s: %d proofs, %d rejected, bond %s, jailed until %d: expected rejection, slash and jail", name, len(ps), rej, w.Worker.Bond, w.Worker.JailedUntil)
		}
		t.Logf("%s: %d proofs, %d rejected, %d accepted; bond %s (slashed), jailed until %d", name, len(ps), rej,
			count(ps, types.PROOF_STATUS_ACCEPTED), w.Worker.Bond, w.Worker.JailedUntil)
	}
	// The resumed job ends on the bits of an uninterrupted run, and its
	// proofs are accepted.
	if err := <-resumed; err != nil {
		t.Fatalf("resumed job: %v", err)
	}
	job3, err := jobspec.Prepare(&tB, 3, ds)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := job3.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	tr3, err := ml.NewTrainer(m3, job3.Train, job3.Config, be)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr3.Run(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var mb bytes.Buffer
	if err := ml.SaveModel(&mb, m3); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(mb.Bytes())
	jr, err := q.Job(ctx, &types.QueryJobRequest{TaskId: taskB, JobIndex: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(jr.Job.ModelHash, want[:]) {
		t.Fatalf("resumed job's model %x, an uninterrupted run gives %x", jr.Job.ModelHash, want[:])
	}
	if got := resumedSteps.Load(); got == 0 || got >= tr3.TotalSteps() {
		t.Fatalf("the restarted miner trained %d of %d steps: expected a resume from a commitment after step 0", got, tr3.TotalSteps())
	}
	// The steps before the restart were not trained again, but their
	// lottery was drawn from the step journal: every step's tickets.
	tickets := pouw.TicketCount(params.OmegaBE9, params.OmegaME9, uint64(job3.Config.BatchSize), uint64(m3.NumParams()), params.MaxTicketsPerStep)
	if got, want := resumedTickets.Load(), tickets*tr3.TotalSteps(); got != want {
		t.Fatalf("the restarted miner drew %d tickets, expected %d (%d per step, %d steps)", got, want, tickets, tr3.TotalSteps())
	}
	rp := all[addr("resumer")]
	if count(rp, types.PROOF_STATUS_REJECTED) != 0 {
		t.Fatalf("resumer: %d of %d proofs rejected", count(rp, types.PROOF_STATUS_REJECTED), len(rp))
	}
	t.Logf("resumer: crashed at step 12, resumed from its last commitment (trained %d of %d steps after the restart); model %x matches an uninterrupted run; %d proofs accepted",
		resumedSteps.Load(), tr3.TotalSteps(), want[:6], count(rp, types.PROOF_STATUS_ACCEPTED))

	// The liar's result is settled on the verifiers' measurement: MISCLAIMED,
	// slashed and jailed.
	integration.WaitFor(t, "the liar's job settled", 60*time.Second, func() bool {
		j, err := q.Job(ctx, &types.QueryJobRequest{TaskId: taskB, JobIndex: 4})
		return err == nil && j.Job.Status == types.JOB_STATUS_SETTLED
	})
	lj, err := q.Job(ctx, &types.QueryJobRequest{TaskId: taskB, JobIndex: 4})
	if err != nil {
		t.Fatal(err)
	}
	lw, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr("liar")})
	if err != nil {
		t.Fatal(err)
	}
	if lj.Job.Outcome != types.JOB_OUTCOME_MISCLAIMED || lj.Job.VerifiedPpm+100_000 != uint64(lj.Job.Claimed.AccuracyPpm) ||
		lw.Worker.JailedUntil == 0 || !lw.Worker.Bond.IsLT(params.MinWorkerBond) {
		t.Fatalf("liar: outcome %s, claimed %d, verified %d, bond %s, jailed until %d: expected MISCLAIMED at the true value, slashed and jailed",
			lj.Job.Outcome, lj.Job.Claimed.AccuracyPpm, lj.Job.VerifiedPpm, lw.Worker.Bond, lw.Worker.JailedUntil)
	}
	t.Logf("liar: claimed %d ppm, verifiers measured %d: %s; bond %s, jailed until %d", lj.Job.Claimed.AccuracyPpm, lj.Job.VerifiedPpm,
		lj.Job.Outcome, lw.Worker.Bond, lw.Worker.JailedUntil)

	var names []string
	for _, v := range verifiers {
		names = append(names, fmt.Sprintf("accept %d reject %d evals %d", v.Stats.ProofsAccepted.Load(), v.Stats.ProofsRejected.Load(), v.Stats.Evaluations.Load()))
	}
	sort.Strings(names)
	t.Logf("verifiers: %v; total %s", names, time.Since(start).Round(time.Millisecond))
}
