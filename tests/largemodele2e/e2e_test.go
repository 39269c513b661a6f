package largemodele2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/libp2p/go-libp2p/core/host"

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

// The text dataset: 16-byte windows of testdata/garden.txt every 8 bytes.
const (
	textFile   = "testdata/garden.txt"
	textSeqLen = 16
	textStride = 8
)

// What both tasks pay and allow, and their seeds.
const (
	taskFee   = 1_000_000 // upouw
	textSeed  = 1
	imageSeed = 2
)

func taskDeadlines() types.Deadlines {
	return types.Deadlines{ClaimBlocks: 400, TrainingBlocks: 400, EvaluationBlocks: 100}
}

// taskCV is 2-fold cross-validation on accuracy. Byte classes are far too
// many for stratified folds of a few hundred windows; the MNIST folds are
// stratified.
func taskCV(stratified bool) types.CVConfig {
	return types.CVConfig{Folds: 2, Stratified: stratified, Metric: types.METRIC_ACCURACY}
}

// transformerConfig is a 2-layer causal next-byte Transformer: DIM 32, 4
// heads, VOCAB 256, MLP ratio 2, FLAGS 1 (causal) + 4 (head on the last
// token), AdamW; 3 epochs of batch 16 (about 33 steps per fold).
func transformerConfig() types.ModelConfig {
	return types.ModelConfig{Architecture: "transformer", Layers: []uint32{2, 32, 4, 256, 2, types.TransformerCausal | types.TransformerLastHead},
		LearningRateE9: 3_000_000, WeightDecayE9: 10_000_000, BatchSize: 16, Epochs: 3, Optimizer: types.OPTIMIZER_ADAMW, Precision: types.PRECISION_FP32}
}

// resnetConfig is a basic-block ResNet of width 4 with two stages of one
// block (CIFAR stem; BatchNorm), SGD with momentum; 3 epochs of batch 16.
func resnetConfig() types.ModelConfig {
	return types.ModelConfig{Architecture: "resnet", Layers: []uint32{types.ResNetBasic, 4, 1, 1},
		LearningRateE9: 50_000_000, MomentumE9: 900_000_000, BatchSize: 16, Epochs: 3, Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
}

// textDataset prepares the text dataset as `pouwd data prepare --source
// text:testdata/garden.txt --seq-len 16 --stride 8` does: the text source,
// the default stratified 80/10/10 split, the canonical form and its
// metadata.
func textDataset(t *testing.T) (*data.Dataset, *data.Meta) {
	t.Helper()
	o, err := data.Options{Kind: data.KindText, Path: textFile, Name: "garden-16",
		Text: &data.TextOptions{SeqLen: textSeqLen, Stride: textStride}}.Normalized()
	if err != nil {
		t.Fatal(err)
	}
	d, files, err := data.LoadSource(o)
	if err != nil {
		t.Fatal(err)
	}
	d, meta, err := data.Build(o, d, files, "")
	if err != nil {
		t.Fatal(err)
	}
	return d, meta
}

// TestLargeModelsEndToEnd: a Transformer task on the text dataset (served
// by storage peers over libp2p) and a ResNet task on MNIST, one
// configuration x 2 folds each, mined by one honest miner per task and
// verified by three verifiers: both tasks COMPLETED with complete CV
// tables, every job ACCEPTED at the verifiers' measurement (each
// verifier's number equal to the miner's claim), every proof a version 2
// proof with the chain's parameter count of its model, ACCEPTED by all its
// verifiers' replays (per task at least one that replays several steps
// from a commitment after step 0), the miners paid their job shares and
// proof rewards to the unit, the verifiers their evaluation shares, and no
// worker slashed, jailed or counted as missing.
func TestLargeModelsEndToEnd(t *testing.T) {
	start := time.Now()
	// Datasets. The text dataset as `data prepare` makes it; the MNIST
	// subset (300 training + 100 test samples) as tests/pouwe2e uses it.
	text, textMeta := textDataset(t)
	mnist := integration.MNISTSubset(t, 300, 100)
	t.Logf("text dataset: %d windows of %d bytes (split %v), %d classes", text.Len(), textSeqLen, textMeta.SplitCounts, text.Classes)

	accounts := append(append([]string(nil), integration.DefaultAccounts...), "storage1", "storage2", "storage3")
	const commitInterval = 5
	n := integration.New(t, integration.Options{Accounts: accounts, TimeoutCommit: 500 * time.Millisecond,
		// 17 tickets per step (batch 16 + 1 for the parameters): a step
		// wins with probability 17/60, so the Transformer's 2 jobs (84
		// steps in all) submit about 24 proofs and the ResNet's (54 steps)
		// about 15, of which about 17 and 10 replay more than one step
		// from a commitment after step 0 (the chance that there is no such
		// proof is below e^-10).
		ModifyGenesis: integration.EasyProofs(commitInterval, 60)})
	t.Logf("network up in %s", time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := types.NewQueryClient(n.ClientCtx())
	bank := banktypes.NewQueryClient(n.ClientCtx())
	addr := func(name string) string { return n.Address(name).String() }
	balance := func(name string) sdkmath.Int {
		r, err := bank.Balance(ctx, &banktypes.QueryBalanceRequest{Address: addr(name), Denom: app.BondDenom})
		if err != nil {
			t.Fatal(err)
		}
		return r.Balance.Amount
	}
	pr, err := q.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	params := pr.Params
	log := integration.Logger()
	clients := integration.Clients(t, n, accounts, log)
	chainID := n.ClientCtx().ChainID
	chain := p2p.QueryChain{Q: q}

	// Three storage peers bond; the client publishes the text dataset as
	// `pouwd data publish --k 2 --m 1` does: Reed-Solomon shards placed on
	// the ring of the bonded storage peers, the record built from
	// meta.json (its source kind "text" gives DATASET_FORMAT_TEXT), the
	// shards pushed to their peers.
	storage := []string{"storage1", "storage2", "storage3"}
	for _, name := range storage {
		h := integration.LoopbackHost(t)
		st, err := p2p.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		svc, err := p2p.NewService(h, p2p.DefaultConfig(chainID), st, chain)
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		n.MustBroadcast(name, &types.MsgRegisterWorker{Address: addr(name), Role: types.WORKER_ROLE_STORAGE,
			Bond: params.MinWorkerBond, PeerId: h.ID().String(), Multiaddrs: p2p.HostAddrs(h)})
	}
	textRaw, err := text.Encode()
	if err != nil {
		t.Fatal(err)
	}
	textSum, err := text.SHA256()
	if err != nil {
		t.Fatal(err)
	}
	textEnc, err := p2p.NewCoder().Encode(textRaw, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	workers, err := chain.StorageWorkers(ctx)
	if err != nil || len(workers) != len(storage) {
		t.Fatalf("storage workers on chain: %d, %v", len(workers), err)
	}
	ring, err := p2p.NewRing(p2p.PeerIDs(workers), p2p.DefaultRingConfig())
	if err != nil {
		t.Fatal(err)
	}
	place, err := ring.Place(textSum[:], 3)
	if err != nil {
		t.Fatal(err)
	}
	textMsg, err := p2pcmd.RegisterDatasetMsg(addr("client"), textMeta, textEnc, p2pcmd.ProvidersOf(place))
	if err != nil {
		t.Fatal(err)
	}
	if textMsg.Format != types.DATASET_FORMAT_TEXT || len(textMsg.FeatureShape) != 1 || textMsg.FeatureShape[0] != textSeqLen || textMsg.NumClasses != types.TextClasses {
		t.Fatalf("text dataset record: format %s, shape %v, %d classes", textMsg.Format, textMsg.FeatureShape, textMsg.NumClasses)
	}
	cl := clients["client"]
	if _, err := cl.Broadcast(ctx, textMsg); err != nil {
		t.Fatal(err)
	}

	// MNIST is registered as tests/pouwe2e registers it; the workers hold
	// it locally. The reward pool is funded for the proofs.
	pool := authtypes.NewModuleAddress(types.RewardPoolName)
	mnistReg := integration.MNISTDatasetMsg(t, addr("client"), "mnist-400", mnist)
	mnistSum := [32]byte(mnistReg.Sha256)
	if _, err := cl.Broadcast(ctx,
		mnistReg,
		&banktypes.MsgSend{FromAddress: addr("client"), ToAddress: pool.String(), Amount: sdk.NewCoins(sdk.NewCoin(app.BondDenom, sdkmath.NewInt(1_000_000_000)))},
	); err != nil {
		t.Fatal(err)
	}
	dsl, err := q.Datasets(ctx, &types.QueryDatasetsRequest{})
	if err != nil || len(dsl.Datasets) != 2 {
		t.Fatalf("datasets: %v %v", dsl, err)
	}
	records := map[uint64]types.Dataset{}
	var textID, mnistID uint64
	for _, d := range dsl.Datasets {
		records[d.Id] = d
		switch d.Format {
		case types.DATASET_FORMAT_TEXT:
			textID = d.Id
		case types.DATASET_FORMAT_MNIST:
			mnistID = d.Id
		}
	}
	if textID == 0 || mnistID == 0 {
		t.Fatalf("datasets: %+v", dsl.Datasets)
	}
	{
		publisher, err := p2p.NewService(integration.LoopbackHost(t), p2p.DefaultConfig(chainID), nil, chain)
		if err != nil {
			t.Fatal(err)
		}
		p2p.AddWorkerAddrs(publisher.Host(), workers)
		if err := publisher.PushShards(ctx, textID, textEnc.Shards, p2p.PlacementPeers(place), nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("text dataset %d published (%d bytes, 2+1 shards on %d storage peers); MNIST subset is dataset %d", textID, len(textRaw), len(storage), mnistID)

	// The tasks: one configuration x 2 folds each.
	submit := func(dataset uint64, c types.ModelConfig, stratified bool, seed uint64) uint64 {
		if _, err := cl.Broadcast(ctx, &types.MsgSubmitTask{Client: addr("client"), DatasetId: dataset, Configs: []types.ModelConfig{c},
			Cv: taskCV(stratified), Seed: seed, Deadlines: taskDeadlines(), Fee: sdk.NewCoin(app.BondDenom, sdkmath.NewInt(taskFee))}); err != nil {
			t.Fatalf("submit %s task: %v", c.Architecture, err)
		}
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
	taskText := submit(textID, transformerConfig(), false, textSeed)
	taskImage := submit(mnistID, resnetConfig(), true, imageSeed)
	tasks := []struct {
		id      uint64
		family  string
		miner   string
		dataset types.Dataset
		config  types.ModelConfig
	}{
		{taskText, "transformer on text", "miner1", records[textID], transformerConfig()},
		{taskImage, "resnet on MNIST", "miner2", records[mnistID], resnetConfig()},
	}
	for _, tk := range tasks {
		integration.WaitFor(t, fmt.Sprintf("task %d fold seed", tk.id), 30*time.Second, func() bool {
			r, err := q.Task(ctx, &types.QueryTaskRequest{Id: tk.id})
			return err == nil && len(r.Task.FoldSeed) == 32
		})
	}

	be, err := cpu.New(cpu.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Every miner and verifier is wired as `pouwd miner|verifier start`
	// wires it (cmd/pouwd/workercmd): a libp2p host on loopback, a blob
	// service (serving the miner's store), datasets held locally (MNIST)
	// or fetched from the storage ring (the text dataset).
	local := worker.MemDatasets{mnistSum: mnist}
	node := func(name string, st *p2p.Store) (host.Host, *worker.P2PDatasets) {
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
		return h, &worker.P2PDatasets{Local: local, Service: svc, Chain: p2p.QueryChain{Q: clients[name].Query}, Ring: p2p.DefaultRingConfig(), Log: log}
	}

	// Verifiers: bonded first, so that their balances afterwards show
	// exactly what they were paid.
	verifierNames := []string{"verifier1", "verifier2", "verifier3"}
	var verifiers []*verifier.Verifier
	startBalance := map[string]sdkmath.Int{}
	for _, name := range verifierNames {
		h, datasets := node(name, nil)
		vc := verifier.DefaultConfig()
		vc.Poll, vc.Logger, vc.StateDir = 300*time.Millisecond, log, t.TempDir()
		vc.PeerID, vc.Multiaddrs = h.ID().String(), p2p.HostAddrs(h)
		fetcher, err := verifier.NewP2PFetcher(h, chainID, clients[name].Query)
		if err != nil {
			t.Fatal(err)
		}
		v, err := verifier.New(vc, worker.NewClient(clients[name]), datasets, fetcher, be)
		if err != nil {
			t.Fatal(err)
		}
		if err := worker.EnsureBonded(ctx, worker.NewClient(clients[name]), types.WORKER_ROLE_VERIFIER, vc.Config, log); err != nil {
			t.Fatal(err)
		}
		startBalance[name] = balance(name)
		verifiers = append(verifiers, v)
		go func() { _ = v.Run(ctx) }()
	}

	// One honest miner per task.
	miners := map[string]*miner.Miner{}
	for _, tk := range tasks {
		st, err := p2p.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		h, datasets := node(tk.miner, st)
		cfg := miner.DefaultConfig()
		cfg.Poll, cfg.Logger, cfg.Tasks, cfg.StatusEvery, cfg.StateDir = 300*time.Millisecond, log, []uint64{tk.id}, 0, t.TempDir()
		cfg.PeerID, cfg.Multiaddrs = h.ID().String(), p2p.HostAddrs(h)
		m, err := miner.New(cfg, worker.NewClient(clients[tk.miner]), datasets, st, be)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.EnsureBonded(ctx); err != nil {
			t.Fatal(err)
		}
		startBalance[tk.miner] = balance(tk.miner)
		miners[tk.miner] = m
		go func() { _ = m.Run(ctx) }()
	}

	// Both tasks complete.
	for _, tk := range tasks {
		integration.WaitFor(t, fmt.Sprintf("task %d (%s) completed", tk.id, tk.family), 240*time.Second, func() bool {
			r, err := q.Task(ctx, &types.QueryTaskRequest{Id: tk.id})
			if err == nil && (r.Task.Status == types.TASK_STATUS_EXPIRED || r.Task.Status == types.TASK_STATUS_CANCELLED) {
				t.Fatalf("task %d (%s) ended %s", tk.id, tk.family, r.Task.Status)
			}
			return err == nil && r.Task.Status == types.TASK_STATUS_COMPLETED
		})
		t.Logf("task %d (%s) COMPLETED after %s", tk.id, tk.family, time.Since(start).Round(time.Millisecond))
	}

	// Every proof settles.
	proofs := func() []types.Proof {
		var out []types.Proof
		for id := uint64(1); ; id++ {
			r, err := q.Proof(ctx, &types.QueryProofRequest{Id: id})
			if err != nil {
				return out
			}
			out = append(out, r.Proof)
		}
	}
	integration.WaitFor(t, "every proof settled", 180*time.Second, func() bool {
		for _, p := range proofs() {
			switch p.Status {
			case types.PROOF_STATUS_ACCEPTED, types.PROOF_STATUS_REJECTED, types.PROOF_STATUS_UNDECIDED:
			default:
				return false
			}
		}
		return true
	})
	allProofs := proofs()

	// The CV tables, the jobs and the proofs of each task.
	jobShare := sdkmath.NewInt(taskFee).QuoRaw(2)
	minerShare := jobShare.MulRaw(int64(params.MinerFeeBps)).QuoRaw(types.MaxBps)
	verifierPot := jobShare.Sub(minerShare)
	verifierPaid := map[string]sdkmath.Int{}
	for _, name := range verifierNames {
		verifierPaid[name] = sdkmath.ZeroInt()
	}
	byAddr := map[string]string{}
	for _, name := range verifierNames {
		byAddr[addr(name)] = name
	}
	for _, tk := range tasks {
		table, err := q.CVTable(ctx, &types.QueryCVTableRequest{TaskId: tk.id})
		if err != nil {
			t.Fatal(err)
		}
		if table.Status != types.TASK_STATUS_COMPLETED || !table.HasBest || table.BestConfig != 0 || len(table.Rows) != 1 {
			t.Fatalf("task %d (%s) CV table: status %s, best %v/%d, %d rows", tk.id, tk.family, table.Status, table.HasBest, table.BestConfig, len(table.Rows))
		}
		score := table.Rows[0].Score
		if !score.Complete || score.FoldsSettled != 2 || score.MeanPpm == 0 {
			t.Fatalf("task %d (%s) CV score %+v: expected both folds settled, a mean above 0", tk.id, tk.family, score)
		}
		jobs, err := q.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: tk.id})
		if err != nil || len(jobs.Jobs) != 2 {
			t.Fatalf("task %d jobs: %v %v", tk.id, jobs, err)
		}
		for _, j := range jobs.Jobs {
			if j.Status != types.JOB_STATUS_SETTLED || j.Outcome != types.JOB_OUTCOME_ACCEPTED || j.Miner != addr(tk.miner) ||
				j.VerifiedPpm != uint64(j.Claimed.AccuracyPpm) || len(j.ModelHash) != 32 {
				t.Fatalf("task %d (%s) job %d: %s %s by %s, claimed %d verified %d", tk.id, tk.family, j.Index, j.Status, j.Outcome, j.Miner, j.Claimed.AccuracyPpm, j.VerifiedPpm)
			}
			ev, err := q.Evaluations(ctx, &types.QueryEvaluationsRequest{TaskId: tk.id, JobIndex: j.Index})
			if err != nil || len(ev.Evaluations) == 0 {
				t.Fatalf("task %d job %d evaluations: %v %v", tk.id, j.Index, ev, err)
			}
			each := verifierPot.QuoRaw(int64(len(ev.Evaluations)))
			for _, e := range ev.Evaluations {
				if e.Metrics.AccuracyPpm != j.Claimed.AccuracyPpm {
					t.Fatalf("task %d job %d: %s measured %d ppm, the miner claimed %d", tk.id, j.Index, e.Verifier, e.Metrics.AccuracyPpm, j.Claimed.AccuracyPpm)
				}
				name, ok := byAddr[e.Verifier]
				if !ok {
					t.Fatalf("task %d job %d evaluated by %s, not one of the verifiers", tk.id, j.Index, e.Verifier)
				}
				verifierPaid[name] = verifierPaid[name].Add(each)
			}
		}
		t.Logf("task %d (%s): CV accuracy mean %.2f%% std %.2f%% over folds %d and %d ppm", tk.id, tk.family,
			float64(score.MeanPpm)/1e4, float64(score.StdPpm)/1e4, jobs.Jobs[0].VerifiedPpm, jobs.Jobs[1].VerifiedPpm)

		// Proofs: version 2, replayed and accepted by every assigned
		// verifier, with the chain's parameter count of this model family.
		wantParams, err := types.DatasetModelParams(tk.config, tk.dataset)
		if err != nil {
			t.Fatal(err)
		}
		var accepted []types.Proof
		for _, p := range allProofs {
			if p.TaskId != tk.id {
				continue
			}
			if p.Miner != addr(tk.miner) || p.Status != types.PROOF_STATUS_ACCEPTED || p.DigestVersion != pouw.DigestV2 ||
				p.ParamCount != wantParams || p.Rejects != 0 || p.Accepts != uint32(len(p.Verifiers)) || len(p.Verifiers) != int(params.VerifiersPerProof) {
				t.Fatalf("task %d (%s) proof %d: %s by %s, digest v%d, %d params (want %d), %d/%d accepts, %d rejects", tk.id, tk.family, p.Id, p.Status,
					p.Miner, p.DigestVersion, p.ParamCount, wantParams, p.Accepts, len(p.Verifiers), p.Rejects)
			}
			if p.Step < p.CommitStep || p.Step >= p.CommitStep+commitInterval || p.CommitStep%commitInterval != 0 {
				t.Fatalf("task %d proof %d: step %d from commitment %d", tk.id, p.Id, p.Step, p.CommitStep)
			}
			accepted = append(accepted, p)
		}
		// At least one replay starts from a commitment after step 0 (weights
		// trained, BatchNorm statistics or Adam moments and momentum in the
		// optimizer hash) and replays more than the committed step.
		later := 0
		for _, p := range accepted {
			if p.CommitStep > 0 && p.Step > p.CommitStep {
				later++
			}
		}
		if len(accepted) == 0 || later == 0 {
			t.Fatalf("task %d (%s): %d proofs accepted, %d of them replayed from a commitment after step 0: expected at least one", tk.id, tk.family, len(accepted), later)
		}
		var steps []string
		for _, p := range accepted {
			steps = append(steps, fmt.Sprintf("%d/%d:%d", p.JobIndex, p.CommitStep, p.Step))
		}
		t.Logf("task %d (%s): %d proofs accepted (%d params; job/commitment:step %s)", tk.id, tk.family, len(accepted), wantParams, strings.Join(steps, " "))

		// The miner: paid its share of both jobs and the reward of every
		// accepted proof, to the unit; bond intact, never jailed.
		want := minerShare.MulRaw(2).Add(params.RewardPerProof.Amount.MulRaw(int64(len(accepted))))
		if got := balance(tk.miner).Sub(startBalance[tk.miner]); !got.Equal(want) {
			t.Fatalf("%s was paid %s, want %s (2 job shares of %s, %d proof rewards of %s)", tk.miner, got, want, minerShare, len(accepted), params.RewardPerProof)
		}
		st := &miners[tk.miner].Stats
		t.Logf("%s: paid %s%s; %d steps, %d commitments, %d proofs won, %d submitted", tk.miner, want, app.BondDenom,
			st.Steps.Load(), st.Commitments.Load(), st.ProofsWon.Load(), st.ProofsSubmitted.Load())
	}

	// Verifiers: paid their evaluation shares to the unit; nothing
	// rejected by anyone.
	for i, name := range verifierNames {
		if got := balance(name).Sub(startBalance[name]); !got.Equal(verifierPaid[name]) {
			t.Fatalf("%s was paid %s, want %s", name, got, verifierPaid[name])
		}
		s := &verifiers[i].Stats
		if s.ProofsRejected.Load() != 0 {
			t.Fatalf("%s rejected %d proofs", name, s.ProofsRejected.Load())
		}
		t.Logf("%s: paid %s%s; %d proofs replayed and accepted, %d models measured", name, verifierPaid[name], app.BondDenom,
			s.ProofsAccepted.Load(), s.Evaluations.Load())
	}

	// Nobody slashed or jailed.
	var everyone []string
	everyone = append(everyone, storage...)
	everyone = append(everyone, verifierNames...)
	everyone = append(everyone, "miner1", "miner2")
	sort.Strings(everyone)
	for _, name := range everyone {
		w, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr(name)})
		if err != nil {
			t.Fatal(err)
		}
		if !w.Worker.Bond.Equal(params.MinWorkerBond) || w.Worker.JailedUntil != 0 || w.Worker.RejectedCount != 0 || w.Worker.MissedCount != 0 {
			t.Fatalf("%s (%s): bond %s (bonded %s), jailed until %d, %d rejected, %d missed: expected no slash", name, w.Worker.Role, w.Worker.Bond,
				params.MinWorkerBond, w.Worker.JailedUntil, w.Worker.RejectedCount, w.Worker.MissedCount)
		}
	}
	t.Logf("nobody slashed or jailed (%d workers); total %s", len(everyone), time.Since(start).Round(time.Millisecond))
}
