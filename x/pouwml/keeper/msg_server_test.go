package keeper_test

import (
	"errors"
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// rejects runs a Msg that must fail with want and proves it changed no
// state and no balance.
func (f *fixture) rejects(t *testing.T, name string, want error, run func() error) {
	t.Helper()
	before := f.snapshot()
	err := run()
	if err == nil {
		t.Fatalf("%s: accepted, expected %v", name, want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, expected %v", name, err, want)
	}
	if f.snapshot() != before {
		t.Fatalf("%s: rejected Msg changed state", name)
	}
}

func TestUpdateParams(t *testing.T) {
	f := newFixture(t)
	p := f.params()
	p.MinerFeeBps = 7000
	if _, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: f.gov, Params: p}); err != nil {
		t.Fatal(err)
	}
	if got := f.params().MinerFeeBps; got != 7000 {
		t.Fatalf("miner_fee_bps = %d, want 7000", got)
	}
	stranger := f.account("stranger")
	f.rejects(t, "non-authority", types.ErrInvalidAuthority, func() error {
		_, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: stranger, Params: p})
		return err
	})
	for name, mut := range map[string]func(*types.Params){
		"quorum 0":          func(p *types.Params) { p.QuorumBps = 0 },
		"quorum > 100%":     func(p *types.Params) { p.QuorumBps = 10_001 },
		"miner fee > 100%":  func(p *types.Params) { p.MinerFeeBps = 10_001 },
		"default > max":     func(p *types.Params) { p.DefaultVerifiersPerJob = p.MaxVerifiersPerJob + 1 },
		"zero bond":         func(p *types.Params) { p.MinWorkerBond = sdk.NewCoin(denom, sdkmath.ZeroInt()) },
		"bad denom":         func(p *types.Params) { p.MinTaskFee.Denom = "!" },
		"no per-block work": func(p *types.Params) { p.MaxDeadlinesPerBlock = 0 },
	} {
		bad := f.params()
		mut(&bad)
		f.rejects(t, name, types.ErrInvalidParams, func() error {
			_, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: f.gov, Params: bad})
			return err
		})
	}
}

func TestRegisterDataset(t *testing.T) {
	f := newFixture(t)
	owner := f.account("owner")
	res, err := f.msgs.RegisterDataset(f.ctx, validDataset(owner, "a"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.k.Datasets.Get(f.ctx, res.Id)
	if err != nil || d.Owner != owner || d.SampleCount != 1000 || d.RegisteredHeight != f.height() {
		t.Fatalf("stored dataset %+v, err %v", d, err)
	}
	cases := []struct {
		name string
		want error
		mut  func(m *types.MsgRegisterDataset)
	}{
		{"bad owner", types.ErrInvalidAddress, func(m *types.MsgRegisterDataset) { m.Owner = "cosmos1xyz" }},
		{"empty name", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Name = "" }},
		{"long name", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Name = string(make([]byte, 65)) }},
		{"no format", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Format = 0 }},
		{"unknown format", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Format = 99 }},
		{"short sha", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Sha256 = m.Sha256[:31] }},
		{"no samples", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.SampleCount = 0 }},
		{"mnist with 9 classes", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) {
			m.NumClasses = 9
			m.LabelHistogram = m.LabelHistogram[:9]
		}},
		{"histogram length", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.LabelHistogram = m.LabelHistogram[:9] }},
		{"histogram sum", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.LabelHistogram[0]++ }},
		{"no shape", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.FeatureShape = nil }},
		{"zero dim", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.FeatureShape[1] = 0 }},
		{"5 dims", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.FeatureShape = []uint32{1, 1, 1, 1, 1} }},
		{"no parity", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.ParityShards = 0 }},
		{"too many shards", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.DataShards = 253 }},
		{"missing shard hash", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) {
			m.Erasure.ShardHashes = m.Erasure.ShardHashes[:13]
			m.Erasure.MerkleRoot = types.MerkleRoot(m.Erasure.ShardHashes)
		}},
		{"short shard hash", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.ShardHashes[3] = []byte{1, 2} }},
		{"wrong merkle root", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.MerkleRoot = modelHash("x") }},
		{"original too big", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.OriginalSize = 785_001 }},
		{"original too small", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Erasure.OriginalSize = 706_500 }},
		{"bad provider", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Providers = []string{"not a peer id"} }},
		{"duplicate provider", types.ErrInvalidDataset, func(m *types.MsgRegisterDataset) { m.Providers = []string{testPeerID, testPeerID} }},
		{"same sha twice", types.ErrDatasetExists, func(m *types.MsgRegisterDataset) { m.Name = "again" }},
	}
	for _, c := range cases {
		m := validDataset(owner, "a")
		if c.want != types.ErrDatasetExists {
			m = validDataset(owner, "fresh")
		}
		c.mut(m)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.RegisterDataset(f.ctx, m)
			return err
		})
	}
}

func TestRegisterWorker(t *testing.T) {
	f := newFixture(t)
	miner := f.account("miner")
	before := f.balance(miner)
	if _, err := f.msgs.RegisterWorker(f.ctx, validWorker(miner, types.WORKER_ROLE_MINER)); err != nil {
		t.Fatal(err)
	}
	if got := before - f.balance(miner); got != 10_000_000 {
		t.Fatalf("bond moved %d, want 10000000", got)
	}
	// Top-up adds to the bond and replaces the peer info.
	top := validWorker(miner, types.WORKER_ROLE_MINER)
	top.Bond = sdk.NewCoin(denom, sdkmath.NewInt(5))
	top.Multiaddrs = []string{"/ip4/127.0.0.1/udp/4001/quic-v1"}
	if _, err := f.msgs.RegisterWorker(f.ctx, top); err != nil {
		t.Fatal(err)
	}
	if w := f.worker(miner); w.Bond.Amount.Int64() != 10_000_005 || w.Multiaddrs[0] != top.Multiaddrs[0] {
		t.Fatalf("after top-up: %+v", w)
	}
	f.checkInvariant()

	poor := f.account("poor")
	if err := f.bank.SendCoins(f.ctx, f.addr(poor), f.addr(miner), sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(funding-100)))); err != nil {
		t.Fatal(err)
	}
	fresh := f.account("fresh")
	cases := []struct {
		name string
		want error
		msg  *types.MsgRegisterWorker
		mut  func(m *types.MsgRegisterWorker)
	}{
		{"bad address", types.ErrInvalidAddress, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Address = "x" }},
		{"no role", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Role = 0 }},
		{"unknown role", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Role = 9 }},
		{"bad peer id", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.PeerId = "0OIl" + testPeerID }},
		{"short peer id", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.PeerId = "12D3" }},
		{"bad multiaddr", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Multiaddrs = []string{"127.0.0.1:4001"} }},
		{"bad device", types.ErrInvalidWorker, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Devices[0].Kind = "tpu" }},
		{"bond below minimum", types.ErrInsufficientBond, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Bond.Amount = sdkmath.NewInt(999_999) }},
		{"wrong denom", types.ErrInsufficientBond, validWorker(fresh, 1), func(m *types.MsgRegisterWorker) { m.Bond.Denom = "uatom" }},
		{"cannot pay", types.ErrInsufficientBond, validWorker(poor, 1), func(m *types.MsgRegisterWorker) {}},
		{"second role", types.ErrWrongRole, validWorker(miner, types.WORKER_ROLE_VERIFIER), func(m *types.MsgRegisterWorker) {}},
	}
	for _, c := range cases {
		c.mut(c.msg)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.RegisterWorker(f.ctx, c.msg)
			return err
		})
	}
	if _, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: miner}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "unbonding worker", types.ErrWorkerNotActive, func() error {
		_, err := f.msgs.RegisterWorker(f.ctx, validWorker(miner, types.WORKER_ROLE_MINER))
		return err
	})
}

func TestUnbond(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	v := w.verifiers[0]
	start := f.balance(v)
	res, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: v})
	if err != nil {
		t.Fatal(err)
	}
	if res.UnbondHeight != f.height()+int64(f.params().UnbondingDelayBlocks) {
		t.Fatalf("unbond height %d", res.UnbondHeight)
	}
	if size, _ := f.k.VerifierPoolSize.Get(f.ctx); size != 2 {
		t.Fatalf("verifier pool size %d after unbonding, want 2", size)
	}
	f.rejects(t, "twice", types.ErrWorkerNotActive, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: v})
		return err
	})
	f.rejects(t, "unknown", types.ErrWorkerNotFound, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: w.client})
		return err
	})
	f.rejects(t, "bad address", types.ErrInvalidAddress, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: ""})
		return err
	})
	for f.height() < res.UnbondHeight-1 {
		f.nextBlock()
	}
	if f.balance(v) != start {
		t.Fatal("bond returned before the unbonding delay")
	}
	f.nextBlock() // EndBlocker of the unbond height runs at the end of it
	f.nextBlock()
	if got := f.balance(v) - start; got != 10_000_000 {
		t.Fatalf("returned %d, want the 10000000 bond", got)
	}
	if has, _ := f.k.Workers.Has(f.ctx, f.addr(v)); has {
		t.Fatal("worker still registered after unbonding")
	}

	// A miner with a live claim cannot unbond.
	task := w.submit(1, 2, 10_000)
	if _, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: task, JobIndex: 0}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "busy miner", types.ErrWorkerBusy, func() error {
		_, err := f.msgs.Unbond(f.ctx, &types.MsgUnbond{Address: w.miner1})
		return err
	})
}

func TestSubmitTask(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	start := f.balance(w.client)
	res, err := f.msgs.SubmitTask(f.ctx, validTask(w.client, w.dataset, 2, 3, 60_000))
	if err != nil {
		t.Fatal(err)
	}
	if res.Jobs != 6 || f.balance(w.client) != start-60_000 {
		t.Fatalf("jobs %d, client paid %d", res.Jobs, start-f.balance(w.client))
	}
	task := f.task(res.Id)
	if task.Status != types.TASK_STATUS_OPEN || len(task.FoldSeed) != 0 || task.Escrow.Amount.Int64() != 60_000 {
		t.Fatalf("task %+v", task)
	}
	for i := uint32(0); i < 6; i++ {
		j := f.job(res.Id, i)
		if j.ConfigIndex != i/3 || j.FoldIndex != i%3 || j.Status != types.JOB_STATUS_OPEN {
			t.Fatalf("job %d: %+v", i, j)
		}
	}
	f.nextBlock()
	if got := f.task(res.Id).FoldSeed; string(got) != string(headerHash(f.height())) {
		t.Fatalf("fold seed %x, want the header hash of block %d", got, f.height())
	}
	poor := f.account("poor-client")
	if err := f.bank.SendCoins(f.ctx, f.addr(poor), f.addr(w.client), sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(funding-10)))); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		want error
		mut  func(m *types.MsgSubmitTask)
	}{
		{"bad client", types.ErrInvalidAddress, func(m *types.MsgSubmitTask) { m.Client = "pouw1" }},
		{"unknown dataset", types.ErrDatasetNotFound, func(m *types.MsgSubmitTask) { m.DatasetId = 42 }},
		{"no configs", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs = nil }},
		{"unknown architecture", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs[0].Architecture = "svm" }},
		{"zero lr", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs[1].LearningRateE9 = 0 }},
		{"zero batch", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs[0].BatchSize = 0 }},
		{"no layers", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs[0].Layers = nil }},
		{"no optimizer", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs[0].Optimizer = 0 }},
		{"momentum 1", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Configs[0].MomentumE9 = 1_000_000_000 }},
		{"1 fold", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Cv.Folds = 1 }},
		{"21 folds", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Cv.Folds = 21 }},
		{"no metric", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Cv.Metric = 0 }},
		{"no claim deadline", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Deadlines.ClaimBlocks = 0 }},
		{"training deadline too far", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.Deadlines.TrainingBlocks = 1 << 40 }},
		{"too many verifiers", types.ErrInvalidTask, func(m *types.MsgSubmitTask) { m.VerifiersPerJob = 16 }},
		{"too many jobs", types.ErrInvalidTask, func(m *types.MsgSubmitTask) {
			for len(m.Configs) < 60 {
				m.Configs = append(m.Configs, mlpConfig(1000))
			}
			m.Cv.Folds = 20
		}},
		{"fee below minimum", types.ErrInsufficientFee, func(m *types.MsgSubmitTask) { m.Fee.Amount = sdkmath.NewInt(999) }},
		{"fee wrong denom", types.ErrInsufficientFee, func(m *types.MsgSubmitTask) { m.Fee.Denom = "uatom" }},
		{"client cannot pay", types.ErrInsufficientFee, func(m *types.MsgSubmitTask) { m.Client = poor }},
	}
	for _, c := range cases {
		m := validTask(w.client, w.dataset, 2, 3, 60_000)
		c.mut(m)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.SubmitTask(f.ctx, m)
			return err
		})
	}
}

func TestCancelTask(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	start := f.balance(w.client)
	id := w.submit(2, 2, 5_000)
	f.rejects(t, "not the client", types.ErrNotTaskClient, func() error {
		_, err := f.msgs.CancelTask(f.ctx, &types.MsgCancelTask{Client: w.miner1, TaskId: id})
		return err
	})
	f.rejects(t, "unknown task", types.ErrTaskNotFound, func() error {
		_, err := f.msgs.CancelTask(f.ctx, &types.MsgCancelTask{Client: w.client, TaskId: 99})
		return err
	})
	if _, err := f.msgs.CancelTask(f.ctx, &types.MsgCancelTask{Client: w.client, TaskId: id}); err != nil {
		t.Fatal(err)
	}
	if f.balance(w.client) != start {
		t.Fatalf("refund missing: %d", start-f.balance(w.client))
	}
	if task := f.task(id); task.Status != types.TASK_STATUS_CANCELLED || f.job(id, 3).Status != types.JOB_STATUS_CANCELLED {
		t.Fatalf("task %s", task.Status)
	}
	f.rejects(t, "twice", types.ErrTaskNotCancellable, func() error {
		_, err := f.msgs.CancelTask(f.ctx, &types.MsgCancelTask{Client: w.client, TaskId: id})
		return err
	})
	f.rejects(t, "claim of a cancelled task", types.ErrJobNotClaimable, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 0})
		return err
	})
	id2 := w.submit(1, 2, 5_000)
	if _, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id2, JobIndex: 1}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "after a claim", types.ErrTaskNotCancellable, func() error {
		_, err := f.msgs.CancelTask(f.ctx, &types.MsgCancelTask{Client: w.client, TaskId: id2})
		return err
	})
	f.advance(3)
}

func TestClaimJob(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	res, err := f.msgs.SubmitTask(f.ctx, validTask(w.client, w.dataset, 1, 2, 5_000))
	if err != nil {
		t.Fatal(err)
	}
	id := res.Id
	f.rejects(t, "before the fold seed", types.ErrTaskNotSeeded, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 0})
		return err
	})
	f.nextBlock()
	f.rejects(t, "verifier claims", types.ErrWrongRole, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.verifiers[0], TaskId: id, JobIndex: 0})
		return err
	})
	f.rejects(t, "unregistered", types.ErrWorkerNotFound, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.client, TaskId: id, JobIndex: 0})
		return err
	})
	f.rejects(t, "unknown job", types.ErrJobNotFound, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 7})
		return err
	})
	f.rejects(t, "unknown task", types.ErrTaskNotFound, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: 7, JobIndex: 0})
		return err
	})
	r, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 0})
	if err != nil {
		t.Fatal(err)
	}
	j := f.job(id, 0)
	if j.Status != types.JOB_STATUS_CLAIMED || j.Miner != w.miner1 || r.Deadline != f.height()+30 || f.worker(w.miner1).OpenItems != 1 {
		t.Fatalf("claimed job %+v", j)
	}
	if f.task(id).Status != types.TASK_STATUS_TRAINING {
		t.Fatalf("task status %s, want TRAINING", f.task(id).Status)
	}
	f.rejects(t, "second claim", types.ErrJobNotClaimable, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 0})
		return err
	})
	// A jailed miner cannot claim.
	m2 := f.worker(w.miner2)
	m2.JailedUntil = f.height() + 5
	if err := f.k.Workers.Set(f.ctx, f.addr(w.miner2), m2); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "jailed", types.ErrWorkerNotActive, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 1})
		return err
	})
	// Past the claim deadline (20 blocks after the seed block).
	f.advance(25)
	f.rejects(t, "past the claim deadline", types.ErrJobNotClaimable, func() error {
		_, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 1})
		return err
	})
	if got := f.job(id, 1).Status; got != types.JOB_STATUS_EXPIRED {
		t.Fatalf("unclaimed job is %s after its claim deadline, want EXPIRED", got)
	}
}

func TestSubmitResult(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	id := w.submit(1, 2, 5_000)
	if _, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 0}); err != nil {
		t.Fatal(err)
	}
	good := func() *types.MsgSubmitResult {
		return &types.MsgSubmitResult{Miner: w.miner1, TaskId: id, JobIndex: 0, ModelHash: modelHash("m"), Metrics: acc(900_000)}
	}
	cases := []struct {
		name string
		want error
		mut  func(m *types.MsgSubmitResult)
	}{
		{"bad miner", types.ErrInvalidAddress, func(m *types.MsgSubmitResult) { m.Miner = "" }},
		{"other miner", types.ErrNotJobMiner, func(m *types.MsgSubmitResult) { m.Miner = w.miner2 }},
		{"short hash", types.ErrInvalidResult, func(m *types.MsgSubmitResult) { m.ModelHash = []byte("abc") }},
		{"metric over 1e6", types.ErrInvalidResult, func(m *types.MsgSubmitResult) { m.Metrics.F1MacroPpm = 1_000_001 }},
		{"unclaimed job", types.ErrInvalidJobState, func(m *types.MsgSubmitResult) { m.JobIndex = 1 }},
		{"unknown job", types.ErrJobNotFound, func(m *types.MsgSubmitResult) { m.JobIndex = 5 }},
		{"unknown task", types.ErrTaskNotFound, func(m *types.MsgSubmitResult) { m.TaskId = 5 }},
	}
	for _, c := range cases {
		m := good()
		c.mut(m)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.SubmitResult(f.ctx, m)
			return err
		})
	}
	if _, err := f.msgs.SubmitResult(f.ctx, good()); err != nil {
		t.Fatal(err)
	}
	if j := f.job(id, 0); j.Status != types.JOB_STATUS_SUBMITTED || f.worker(w.miner1).OpenItems != 0 {
		t.Fatalf("job after result: %+v", j)
	}
	f.rejects(t, "twice", types.ErrInvalidJobState, func() error {
		_, err := f.msgs.SubmitResult(f.ctx, good())
		return err
	})
	// A result after the training deadline is refused.
	if _, err := f.msgs.ClaimJob(f.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 1}); err != nil {
		t.Fatal(err)
	}
	j := f.job(id, 1)
	late := f.ctx
	f.ctx = f.ctx.WithBlockHeight(j.Deadline + 1)
	f.rejects(t, "late", types.ErrDeadlinePassed, func() error {
		_, err := f.msgs.SubmitResult(f.ctx, &types.MsgSubmitResult{Miner: w.miner2, TaskId: id, JobIndex: 1, ModelHash: modelHash("m2"), Metrics: acc(1)})
		return err
	})
	f.ctx = late
}

func TestSubmitEvaluation(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	id := w.submit(1, 2, 5_000)
	w.trainAndSubmit(w.miner1, id, 0, "m", 900_000)
	f.rejects(t, "before assignment", types.ErrInvalidJobState, func() error {
		_, err := f.msgs.SubmitEvaluation(f.ctx, &types.MsgSubmitEvaluation{Verifier: w.verifiers[0], TaskId: id, JobIndex: 0, ModelHash: modelHash("m"), Metrics: acc(1)})
		return err
	})
	f.advance(2) // drawn at the end of the block after the result
	j := f.job(id, 0)
	if j.Status != types.JOB_STATUS_ASSIGNED || len(j.Verifiers) != 3 {
		t.Fatalf("job after assignment: %+v", j)
	}
	v := j.Verifiers[0]
	good := func() *types.MsgSubmitEvaluation {
		return &types.MsgSubmitEvaluation{Verifier: v, TaskId: id, JobIndex: 0, ModelHash: modelHash("m"), Metrics: acc(900_000)}
	}
	cases := []struct {
		name string
		want error
		mut  func(m *types.MsgSubmitEvaluation)
	}{
		{"bad verifier", types.ErrInvalidAddress, func(m *types.MsgSubmitEvaluation) { m.Verifier = "x" }},
		{"not assigned", types.ErrNotAssigned, func(m *types.MsgSubmitEvaluation) { m.Verifier = w.miner2 }},
		{"short hash", types.ErrInvalidEvaluation, func(m *types.MsgSubmitEvaluation) { m.ModelHash = nil }},
		{"metric over 1e6", types.ErrInvalidEvaluation, func(m *types.MsgSubmitEvaluation) { m.Metrics.AccuracyPpm = 2_000_000 }},
		{"unknown job", types.ErrJobNotFound, func(m *types.MsgSubmitEvaluation) { m.JobIndex = 9 }},
		{"unassigned job", types.ErrInvalidJobState, func(m *types.MsgSubmitEvaluation) { m.JobIndex = 1 }},
	}
	for _, c := range cases {
		m := good()
		c.mut(m)
		f.rejects(t, c.name, c.want, func() error {
			_, err := f.msgs.SubmitEvaluation(f.ctx, m)
			return err
		})
	}
	res, err := f.msgs.SubmitEvaluation(f.ctx, good())
	if err != nil || res.Settled {
		t.Fatalf("first evaluation: settled=%v err=%v", res.GetSettled(), err)
	}
	f.rejects(t, "twice", types.ErrAlreadyReported, func() error {
		_, err := f.msgs.SubmitEvaluation(f.ctx, good())
		return err
	})
	late := f.ctx
	f.ctx = f.ctx.WithBlockHeight(j.Deadline + 1)
	f.rejects(t, "late", types.ErrDeadlinePassed, func() error {
		m := good()
		m.Verifier = j.Verifiers[1]
		_, err := f.msgs.SubmitEvaluation(f.ctx, m)
		return err
	})
	f.ctx = late
}
