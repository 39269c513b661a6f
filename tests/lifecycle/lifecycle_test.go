package lifecycle

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	sdkmath "cosmossdk.io/math"

	"github.com/cosmos/cosmos-sdk/codec"
	sdk "github.com/cosmos/cosmos-sdk/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"
	minttypes "github.com/cosmos/cosmos-sdk/x/mint/types"

	"github.com/pouw/pouwd/app"
	"github.com/pouw/pouwd/tests/integration"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// TestTaskLifecycle runs a whole cross-validation task on the 4-validator
// network: a dataset, a 2-configuration x 3-fold task, two miners, three
// verifiers; claims, results, verifier draws, evaluations; then the CV
// table, the best configuration, payouts, one misclaim slashed, refunds,
// and every coin accounted for. The metrics are supplied by the test (the
// miner and verifier programs come later).
func TestTaskLifecycle(t *testing.T) {
	// No inflation, so the total supply changes only by what pouwml burns.
	n := integration.New(t, integration.Options{ModifyGenesis: func(cdc codec.Codec, genesis app.GenesisState) error {
		var mint minttypes.GenesisState
		if err := cdc.UnmarshalJSON(genesis[minttypes.ModuleName], &mint); err != nil {
			return err
		}
		mint.Minter.Inflation = sdkmath.LegacyZeroDec()
		mint.Params.InflationMin = sdkmath.LegacyZeroDec()
		mint.Params.InflationMax = sdkmath.LegacyZeroDec()
		mint.Params.InflationRateChange = sdkmath.LegacyZeroDec()
		genesis[minttypes.ModuleName] = cdc.MustMarshalJSON(&mint)
		return nil
	}})
	ctx := context.Background()
	q := types.NewQueryClient(n.ClientCtx())
	addr := func(name string) string { return n.Address(name).String() }
	params, err := q.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p := params.Params

	names := []string{"client", "miner1", "miner2", "verifier1", "verifier2", "verifier3"}
	start := map[string]sdkmath.Int{}
	for _, name := range names {
		start[name] = n.Balance(n.Address(name), app.BondDenom)
	}
	supplyStart := totalSupply(t, n)

	// Dataset: MNIST-shaped, 14 shards with a real Merkle root.
	hashes := make([][]byte, 14)
	for i := range hashes {
		s := sha256.Sum256([]byte(fmt.Sprintf("shard-%d", i)))
		hashes[i] = s[:]
	}
	dsum := sha256.Sum256([]byte("canonical-mnist"))
	n.MustBroadcast("client", &types.MsgRegisterDataset{
		Owner: addr("client"), Name: "mnist", Format: types.DATASET_FORMAT_MNIST, Sha256: dsum[:],
		SampleCount: 70_000, NumClasses: 10, FeatureShape: []uint32{1, 28, 28},
		LabelHistogram: []uint64{6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958},
		Erasure: types.ErasureCode{DataShards: 10, ParityShards: 4, ShardSize: 5_488_002, OriginalSize: 54_880_016,
			ShardHashes: hashes, MerkleRoot: types.MerkleRoot(hashes)},
	})
	ds, err := q.Datasets(ctx, &types.QueryDatasetsRequest{})
	if err != nil || len(ds.Datasets) != 1 {
		t.Fatalf("datasets: %v %v", ds, err)
	}
	datasetID := ds.Datasets[0].Id

	// Workers: two miners, three verifiers, each bonding the minimum.
	peer := "12D3KooWLtxJQg1GQ2VFDMnaoZH2YdkoHN8jL4e8tNAiJPfTPGvv"
	for _, name := range names[1:] {
		role := types.WORKER_ROLE_VERIFIER
		if name == "miner1" || name == "miner2" {
			role = types.WORKER_ROLE_MINER
		}
		n.MustBroadcast(name, &types.MsgRegisterWorker{Address: addr(name), Role: role, Bond: p.MinWorkerBond, PeerId: peer,
			Multiaddrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Devices: []types.Device{{Kind: "cpu", Name: "test", MemoryBytes: 1 << 30}}})
	}

	// Task: 2 configurations x 3 folds, fee 600_011 (rounding is refunded).
	const fee = 600_011
	cfg := func(lr uint64) types.ModelConfig {
		return types.ModelConfig{Architecture: "mlp", Layers: []uint32{784, 128, 10}, LearningRateE9: lr, BatchSize: 64, Epochs: 1,
			Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
	}
	res := n.MustBroadcast("client", &types.MsgSubmitTask{
		Client: addr("client"), DatasetId: datasetID, Configs: []types.ModelConfig{cfg(100_000_000), cfg(50_000_000)},
		Cv: types.CVConfig{Folds: 3, Stratified: true, Metric: types.METRIC_ACCURACY}, Seed: 1,
		Deadlines: types.Deadlines{ClaimBlocks: 50, TrainingBlocks: 50, EvaluationBlocks: 50},
		Fee:       sdk.NewCoin(app.BondDenom, sdkmath.NewInt(fee)),
	})
	tasks, err := q.Tasks(ctx, &types.QueryTasksRequest{Status: types.TASK_STATUS_OPEN})
	if err != nil || len(tasks.Tasks) != 1 {
		t.Fatalf("open tasks: %v %v", tasks, err)
	}
	taskID := tasks.Tasks[0].Id
	waitUntil(t, n, fmt.Sprintf("task %d fold seed", taskID), func() bool {
		task, err := q.Task(ctx, &types.QueryTaskRequest{Id: taskID})
		return err == nil && len(task.Task.FoldSeed) == 32
	})
	_ = res

	// The miners claim and submit. Config 0 folds score 900/910/920 (x1000
	// ppm), config 1 folds 940/930/950: config 1 wins. miner2 overclaims
	// its last job (990_000 vs the verified 950_000) and is slashed for it.
	verified := []uint32{900_000, 910_000, 920_000, 940_000, 930_000, 950_000}
	claimed := append([]uint32(nil), verified...)
	claimed[5] = 990_000
	owner := []string{"miner1", "miner1", "miner1", "miner2", "miner2", "miner2"}
	for _, m := range []string{"miner1", "miner2"} {
		var claims, results []sdk.Msg
		for idx := uint32(0); idx < 6; idx++ {
			if owner[idx] != m {
				continue
			}
			claims = append(claims, &types.MsgClaimJob{Miner: addr(m), TaskId: taskID, JobIndex: idx})
			results = append(results, &types.MsgSubmitResult{Miner: addr(m), TaskId: taskID, JobIndex: idx, ModelHash: model(idx),
				Metrics: types.FoldMetrics{AccuracyPpm: claimed[idx], F1MacroPpm: claimed[idx]}})
		}
		n.MustBroadcast(m, claims...)
		n.MustBroadcast(m, results...)
	}

	// Verifiers are drawn a block later; each reports every job it got.
	waitUntil(t, n, "verifier assignment", func() bool {
		jobs, err := q.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: taskID})
		if err != nil {
			return false
		}
		for _, j := range jobs.Jobs {
			if j.Status != types.JOB_STATUS_ASSIGNED {
				return false
			}
		}
		return true
	})
	jobs, err := q.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: taskID})
	if err != nil {
		t.Fatal(err)
	}
	byVerifier := map[string][]sdk.Msg{}
	for _, j := range jobs.Jobs {
		if len(j.Verifiers) != 3 {
			t.Fatalf("job %d has %d verifiers, want 3", j.Index, len(j.Verifiers))
		}
		if slices.Contains(j.Verifiers, j.Miner) {
			t.Fatalf("job %d assigned to its own miner", j.Index)
		}
		for _, v := range j.Verifiers {
			byVerifier[v] = append(byVerifier[v], &types.MsgSubmitEvaluation{Verifier: v, TaskId: taskID, JobIndex: j.Index,
				ModelHash: model(j.Index), Metrics: types.FoldMetrics{AccuracyPpm: verified[j.Index], F1MacroPpm: verified[j.Index]}})
		}
	}
	for _, name := range names[3:] {
		if msgs := byVerifier[addr(name)]; len(msgs) > 0 {
			n.MustBroadcast(name, msgs...)
		}
	}

	// The task is complete: CV table, best configuration, payouts.
	table, err := q.CVTable(ctx, &types.QueryCVTableRequest{TaskId: taskID})
	if err != nil {
		t.Fatal(err)
	}
	if table.Status != types.TASK_STATUS_COMPLETED || !table.HasBest || table.BestConfig != 1 {
		t.Fatalf("cv table: status %s best %v/%d", table.Status, table.HasBest, table.BestConfig)
	}
	wantScores := []struct{ mean, std uint64 }{{910_000, 8_164}, {940_000, 8_164}}
	for c, row := range table.Rows {
		if !row.Score.Complete || row.Score.MeanPpm != wantScores[c].mean || row.Score.StdPpm != wantScores[c].std {
			t.Fatalf("config %d score %+v, want mean %d std %d", c, row.Score, wantScores[c].mean, wantScores[c].std)
		}
	}
	task, err := q.Task(ctx, &types.QueryTaskRequest{Id: taskID})
	if err != nil {
		t.Fatal(err)
	}
	jobShare := int64(fee / 6)
	minerShare := jobShare * int64(p.MinerFeeBps) / 10_000
	verifierEach := (jobShare - minerShare) / 3
	slash := p.MinWorkerBond.Amount.Int64() * int64(p.MisclaimSlashBps) / 10_000
	delta := func(name string) int64 {
		return n.Balance(n.Address(name), app.BondDenom).Sub(start[name]).Int64()
	}
	bond := p.MinWorkerBond.Amount.Int64()
	if got, want := delta("miner1"), 3*minerShare-bond; got != want {
		t.Fatalf("miner1 balance moved %d, want %d (3 accepted jobs, bond held)", got, want)
	}
	if got, want := delta("miner2"), 2*minerShare-bond; got != want {
		t.Fatalf("miner2 balance moved %d, want %d (2 accepted jobs, 1 misclaim unpaid, bond held)", got, want)
	}
	for _, v := range names[3:] {
		if got, want := delta(v), 6*verifierEach-bond; got != want {
			t.Fatalf("%s balance moved %d, want %d", v, got, want)
		}
	}
	refund := fee - 5*minerShare - 18*verifierEach
	if got := delta("client"); got != -fee+refund {
		t.Fatalf("client balance moved %d, want %d (refund %d)", got, -fee+refund, refund)
	}
	if task.Task.Refunded.Amount.Int64() != refund || task.Task.Paid.Amount.Int64() != fee-refund || !task.Task.Escrow.IsZero() {
		t.Fatalf("task accounting: paid %s refunded %s escrow %s", task.Task.Paid, task.Task.Refunded, task.Task.Escrow)
	}
	w2, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr("miner2")})
	if err != nil {
		t.Fatal(err)
	}
	if w2.Worker.Bond.Amount.Int64() != bond-slash || w2.Worker.RejectedCount != 1 || w2.Worker.JailedUntil == 0 {
		t.Fatalf("miner2 after misclaim: %+v", w2.Worker)
	}
	// Every coin is accounted for: the module account holds exactly the
	// five bonds (less the slash), and the supply shrank by the burned slash.
	module := n.Balance(moduleAddress(), app.BondDenom).Int64()
	if want := 5*bond - slash; module != want {
		t.Fatalf("module account holds %d, want %d", module, want)
	}
	if got := supplyStart.Sub(totalSupply(t, n)).Int64(); got != slash {
		t.Fatalf("supply shrank by %d, want the slashed %d", got, slash)
	}
}

func model(idx uint32) []byte {
	s := sha256.Sum256([]byte(fmt.Sprintf("model-%d", idx)))
	return s[:]
}

func moduleAddress() sdk.AccAddress {
	return sdk.AccAddress(sha256Trunc(types.ModuleName))
}

// sha256Trunc is authtypes.NewModuleAddress without importing it twice.
func sha256Trunc(name string) []byte {
	s := sha256.Sum256([]byte(name))
	return s[:20]
}

func totalSupply(t *testing.T, n *integration.Network) sdkmath.Int {
	t.Helper()
	res, err := banktypes.NewQueryClient(n.ClientCtx()).SupplyOf(context.Background(), &banktypes.QuerySupplyOfRequest{Denom: app.BondDenom})
	if err != nil {
		t.Fatal(err)
	}
	return res.Amount.Amount
}

// waitUntil polls cond once per block for up to 20 blocks.
func waitUntil(t *testing.T, n *integration.Network, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 20; i++ {
		if cond() {
			return
		}
		n.WaitBlocks(1)
	}
	t.Fatalf("timed out waiting for %s", what)
}
