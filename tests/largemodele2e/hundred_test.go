package largemodele2e

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/app"
	"github.com/pouw/pouwd/cmd/pouwd/p2pcmd"
	"github.com/pouw/pouwd/miner"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/tests/integration"
	"github.com/pouw/pouwd/verifier"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// hundredMillionEnv turns on TestHundredMillionParameterTask: it needs
// about 16 GB of memory and 5 to 10 minutes on 2 cores, so it is not part
// of `make test`.
const hundredMillionEnv = "POUWD_E2E_100M"

// hundredMillionConfig is a causal next-byte Transformer of 16 layers of
// width 768 with 12 heads and MLP ratio 4 over 128-byte windows: 113.6M
// parameters (`pouwd ml estimate --model
// transformer:128-256-16x768x12-256,causal,head=last`). AdamW, bf16
// activations, batch 8, one epoch.
func hundredMillionConfig() types.ModelConfig {
	return types.ModelConfig{Architecture: "transformer", Layers: []uint32{16, 768, 12, 256, 4, types.TransformerCausal | types.TransformerLastHead},
		LearningRateE9: 300_000, WeightDecayE9: 10_000_000, BatchSize: 8, Epochs: 1, Optimizer: types.OPTIMIZER_ADAMW, Precision: types.PRECISION_BF16}
}

// oneVerifierPerProof is a genesis modifier: each proof is replayed by
// one verifier (each replay of this model holds several GB), with long
// verdict windows. It runs after EasyProofs.
func oneVerifierPerProof(cdc codec.Codec, genesis app.GenesisState) error {
	var g types.GenesisState
	if err := cdc.UnmarshalJSON(genesis[types.ModuleName], &g); err != nil {
		return err
	}
	g.Params.VerifiersPerProof = 1
	// A replay of this model takes tens of seconds on 2 cores (the
	// checkpoint's 1.4 GB cross, then a step), one proof after another:
	// windows of 1000 blocks (8 minutes at 0.5 s) instead of EasyProofs' 60.
	g.Params.VerdictCommitBlocks = 1000
	g.Params.VerdictRevealBlocks = 1000
	genesis[types.ModuleName] = cdc.MustMarshalJSON(&g)
	return nil
}

// TestHundredMillionParameterTask mines a task on a 100M+ parameter
// Transformer on the in-process 4-validator chain: 2-fold CV of one
// configuration on 128-byte windows of testdata/garden.txt, one miner (the
// memory budget decides whether it recomputes activations) and one
// verifier per proof. Every step wins a proof; the task completes, both
// jobs are accepted at the verifier's measurement, and the proofs of this
// model (its parameter count on chain) are replayed and accepted.
func TestHundredMillionParameterTask(t *testing.T) {
	if os.Getenv(hundredMillionEnv) == "" {
		t.Skipf("set %s=1 to mine a 113.6M-parameter Transformer task (about 16 GB of memory, 5-10 minutes)", hundredMillionEnv)
	}
	start := time.Now()
	o, err := data.Options{Kind: data.KindText, Path: textFile, Name: "garden-128",
		Text: &data.TextOptions{SeqLen: 128, Stride: 64, MaxSamples: 40}}.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	d, files, err := data.LoadSource(o)
	if err != nil {
		t.Fatal(err)
	}
	text, meta, err := data.Build(o, d, files, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("text dataset: %d windows of 128 bytes (split %v)", text.Len(), meta.SplitCounts)

	n := integration.New(t, integration.Options{TimeoutCommit: 500 * time.Millisecond,
		ModifyGenesis: func(cdc codec.Codec, g app.GenesisState) error {
			// Commitments every step; every ticket wins.
			if err := integration.EasyProofs(1, 1)(cdc, g); err != nil {
				return err
			}
			return oneVerifierPerProof(cdc, g)
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := types.NewQueryClient(n.ClientCtx())
	addr := func(name string) string { return n.Address(name).String() }
	log := integration.Logger()
	clients := integration.Clients(t, n, integration.DefaultAccounts, log)
	chainID := n.ClientCtx().ChainID
	cl := clients["client"]

	raw, err := text.Encode()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := p2p.NewCoder().Encode(raw, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := p2pcmd.RegisterDatasetMsg(addr("client"), meta, enc, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := authtypes.NewModuleAddress(types.RewardPoolName)
	if _, err := cl.Broadcast(ctx, reg,
		&banktypes.MsgSend{FromAddress: addr("client"), ToAddress: pool.String(), Amount: sdk.NewCoins(sdk.NewCoin(app.BondDenom, sdkmath.NewInt(1_000_000_000)))},
	); err != nil {
		t.Fatal(err)
	}
	ds, err := q.Datasets(ctx, &types.QueryDatasetsRequest{})
	if err != nil || len(ds.Datasets) != 1 {
		t.Fatalf("datasets: %v %v", ds, err)
	}
	record := ds.Datasets[0]
	config := hundredMillionConfig()
	wantParams, err := types.DatasetModelParams(config, record)
	if err != nil {
		t.Fatal(err)
	}
	if wantParams < 100_000_000 {
		t.Fatalf("the model has %d parameters on chain, expected over 100M", wantParams)
	}
	if _, err := cl.Broadcast(ctx, &types.MsgSubmitTask{Client: addr("client"), DatasetId: record.Id, Configs: []types.ModelConfig{config},
		Cv: taskCV(false), Seed: textSeed, Deadlines: types.Deadlines{ClaimBlocks: 2000, TrainingBlocks: 2000, EvaluationBlocks: 1000},
		Fee: sdk.NewCoin(app.BondDenom, sdkmath.NewInt(taskFee))}); err != nil {
		t.Fatalf("submit the 100M task: %v", err)
	}
	const taskID = 1
	integration.WaitFor(t, "fold seed", 30*time.Second, func() bool {
		r, err := q.Task(ctx, &types.QueryTaskRequest{Id: taskID})
		return err == nil && len(r.Task.FoldSeed) == 32
	})

	be, err := cpu.New(cpu.Options{Threads: runtime.NumCPU()})
	if err != nil {
		t.Fatal(err)
	}
	sum := [32]byte(reg.Sha256)
	local := worker.MemDatasets{sum: text}
	blobs := func(st *p2p.Store) *p2p.Service {
		h := integration.LoopbackHost(t)
		svc, err := p2p.NewService(h, p2p.BlobConfig(chainID), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st != nil {
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return svc
	}

	// The verifier replays one proof at a time.
	vsvc := blobs(nil)
	vc := verifier.DefaultConfig()
	vc.Workers, vc.Poll, vc.Logger, vc.StateDir = 1, 300*time.Millisecond, log, t.TempDir()
	vc.PeerID, vc.Multiaddrs = vsvc.Host().ID().String(), p2p.HostAddrs(vsvc.Host())
	fetcher, err := verifier.NewP2PFetcher(vsvc.Host(), chainID, clients["verifier1"].Query)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verifier.New(vc, worker.NewClient(clients["verifier1"]), local, fetcher, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.EnsureBonded(ctx, worker.NewClient(clients["verifier1"]), types.WORKER_ROLE_VERIFIER, vc.Config, log); err != nil {
		t.Fatal(err)
	}
	go func() { _ = v.Run(ctx) }()

	st, err := p2p.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	msvc := blobs(st)
	mc := miner.DefaultConfig()
	mc.Poll, mc.Logger, mc.Tasks, mc.StatusEvery, mc.StateDir = 300*time.Millisecond, log, []uint64{taskID}, 10*time.Second, t.TempDir()
	mc.PeerID, mc.Multiaddrs = msvc.Host().ID().String(), p2p.HostAddrs(msvc.Host())
	m, err := miner.New(mc, worker.NewClient(clients["miner1"]), local, st, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBonded(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Run(ctx) }()

	integration.WaitFor(t, "the 100M task completed", 30*time.Minute, func() bool {
		r, err := q.Task(ctx, &types.QueryTaskRequest{Id: taskID})
		if err == nil && (r.Task.Status == types.TASK_STATUS_EXPIRED || r.Task.Status == types.TASK_STATUS_CANCELLED) {
			t.Fatalf("task ended %s", r.Task.Status)
		}
		return err == nil && r.Task.Status == types.TASK_STATUS_COMPLETED
	})
	t.Logf("task COMPLETED after %s", time.Since(start).Round(time.Second))

	jobs, err := q.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: taskID})
	if err != nil || len(jobs.Jobs) != 2 {
		t.Fatalf("jobs: %v %v", jobs, err)
	}
	for _, j := range jobs.Jobs {
		if j.Status != types.JOB_STATUS_SETTLED || j.Outcome != types.JOB_OUTCOME_ACCEPTED || j.Miner != addr("miner1") || j.VerifiedPpm != uint64(j.Claimed.AccuracyPpm) {
			t.Fatalf("job %d: %s %s by %s, claimed %d verified %d", j.Index, j.Status, j.Outcome, j.Miner, j.Claimed.AccuracyPpm, j.VerifiedPpm)
		}
	}
	integration.WaitFor(t, "every proof settled", 20*time.Minute, func() bool {
		r, err := q.Proof(ctx, &types.QueryProofRequest{Id: 1})
		if err != nil {
			return false
		}
		for id := uint64(1); ; id++ {
			r, err = q.Proof(ctx, &types.QueryProofRequest{Id: id})
			if err != nil {
				return true
			}
			if r.Proof.Status != types.PROOF_STATUS_ACCEPTED && r.Proof.Status != types.PROOF_STATUS_REJECTED && r.Proof.Status != types.PROOF_STATUS_UNDECIDED {
				return false
			}
		}
	})
	accepted := 0
	for id := uint64(1); ; id++ {
		r, err := q.Proof(ctx, &types.QueryProofRequest{Id: id})
		if err != nil {
			break
		}
		p := r.Proof
		if p.Status != types.PROOF_STATUS_ACCEPTED || p.ParamCount != wantParams || p.DigestVersion != pouw.DigestV2 || p.Accepts != 1 {
			t.Fatalf("proof %d (job %d, step %d): %s, %d params (want %d), digest v%d, %d accepts", p.Id, p.JobIndex, p.Step, p.Status, p.ParamCount, wantParams, p.DigestVersion, p.Accepts)
		}
		accepted++
	}
	if accepted == 0 {
		t.Fatal("no proof of the 100M model was submitted")
	}
	t.Logf("%d proofs of the %d-parameter model replayed and accepted; jobs measured %d and %d ppm; total %s", accepted, wantParams,
		jobs.Jobs[0].VerifiedPpm, jobs.Jobs[1].VerifiedPpm, time.Since(start).Round(time.Second))
}
