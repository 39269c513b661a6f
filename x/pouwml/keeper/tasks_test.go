package keeper_test

import (
	"fmt"
	"strings"
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

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

func TestExpiryRefundsEverything(t *testing.T) {
	w := newWorld(t)
	start := w.balance(w.client)
	id := w.submit(2, 3, 10_000)
	w.advance(25)
	task := w.task(id)
	if task.Status != types.TASK_STATUS_EXPIRED || task.JobsFinal != 6 || task.HasBest {
		t.Fatalf("task %+v", task)
	}
	if w.balance(w.client) != start || task.Refunded.Amount.Int64() != 10_000 {
		t.Fatalf("refund: balance delta %d, refunded %s", start-w.balance(w.client), task.Refunded)
	}
}

// TestSubmitTaskModelSize: every configuration must fit the dataset
// (types.ModelParams over its shape and classes) and have at most
// max_model_params trainable parameters; a rejected task changes nothing.
func TestSubmitTaskModelSize(t *testing.T) {
	w := newWorld(t)
	f := w.fixture
	res, err := f.msgs.RegisterDataset(f.ctx, textDataset(w.client, "t"))
	if err != nil {
		t.Fatal(err)
	}
	text := res.Id
	arch := func(a string, layers ...uint32) types.ModelConfig {
		c := mlpConfig(100_000_000)
		c.Architecture, c.Layers = a, layers
		return c
	}
	task := func(dataset uint64, cfgs ...types.ModelConfig) *types.MsgSubmitTask {
		m := validTask(w.client, dataset, 1, 2, 10_000)
		m.Configs = cfgs
		return m
	}
	mlp := mlpConfig(100_000_000) // 784-128-10: 101,770 parameters
	const mlpParams = 784*128 + 128 + 128*10 + 10
	resnet := arch("resnet", 1, 16, 3, 3, 3)       // resnet20 on 1x28x28
	bottleneck := arch("resnet", 2, 8, 1, 1, 1, 1) // imagenet stem
	vit := arch("vit", 7, 2, 32, 4)
	transformer := arch("transformer", 2, 32, 4, 256, 4, types.TransformerCausal|types.TransformerLastHead)
	huge := arch("resnet", 2, 192, 3, 4, 6, 3) // resnet50 at 3x width: 217M parameters on 3x224x224

	// Under the default limit (200M): every architecture that fits.
	for _, m := range []*types.MsgSubmitTask{task(w.dataset, mlp, resnet, bottleneck, vit), task(text, transformer, arch("mlp", 64, 32, 256))} {
		if _, err := f.msgs.SubmitTask(f.ctx, m); err != nil {
			t.Fatalf("%v: %v", m.Configs, err)
		}
	}
	if p := f.params().MaxModelParams; p != 200_000_000 {
		t.Fatalf("default max_model_params %d", p)
	}
	n, err := types.ModelParams(huge, []uint32{1, 28, 28}, 10)
	if err != nil || n <= 200_000_000 {
		t.Fatalf("huge resnet: %d parameters, %v", n, err)
	}
	rejects := func(name string, m *types.MsgSubmitTask, want ...string) {
		t.Helper()
		before := f.balance(w.client)
		f.rejects(t, name, types.ErrInvalidTask, func() error {
			_, err := f.msgs.SubmitTask(f.ctx, m)
			for _, s := range want {
				if err != nil && !strings.Contains(err.Error(), s) {
					t.Errorf("%s: error %q does not say %q", name, err, s)
				}
			}
			return err
		})
		if f.balance(w.client) != before {
			t.Fatalf("%s: the client paid for a rejected task", name)
		}
	}
	rejects("over the default limit", task(w.dataset, mlp, huge),
		"configs[1] (resnet)", fmt.Sprintf("has %d trainable parameters", n), "max_model_params 200000000")

	// Exactly at the limit passes, one below rejects.
	f.setParams(func(p *types.Params) { p.MaxModelParams = mlpParams })
	if _, err := f.msgs.SubmitTask(f.ctx, task(w.dataset, mlp)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	f.setParams(func(p *types.Params) { p.MaxModelParams = mlpParams - 1 })
	rejects("one over the limit", task(w.dataset, arch("mlp", 784, 10), mlp),
		"configs[1] (mlp) has 101770 trainable parameters, more than max_model_params 101769")
	f.setParams(func(p *types.Params) { p.MaxModelParams = types.DefaultParams().MaxModelParams })

	// Configurations that do not fit their dataset.
	for _, c := range []struct {
		name    string
		dataset uint64
		cfg     types.ModelConfig
		want    string
	}{
		{"mlp input width", w.dataset, arch("mlp", 780, 10), "layers[0] = 780 must be the product of the dataset's shape [1 28 28] (784)"},
		{"mlp classes", w.dataset, arch("mlp", 784, 256), "must be the dataset's class count 10"},
		{"transformer on images", w.dataset, transformer, "transformer needs samples of shape [SEQ]"},
		{"resnet on text", text, resnet, "resnet needs [C,H,W] samples"},
		{"cnn on text", text, arch("cnn", 8, 16), "cnn needs [C,H,W] samples"},
		{"vit patch does not divide", w.dataset, arch("vit", 5, 1, 8, 1), "must divide the dataset's image 28x28"},
		{"cnn pools the image away", w.dataset, arch("cnn", 1, 2, 4, 8, 16, 32), "cnn block 4's 2x2 pool needs at least 2x2 pixels, the 28x28 samples are 1x1 there"},
		{"transformer vocabulary below the bytes", text, arch("transformer", 1, 16, 2, 128), "VOCAB must be at least 256"},
	} {
		fits := mlp
		if c.dataset == text {
			fits = arch("mlp", 64, 256)
		}
		rejects(c.name, task(c.dataset, fits, c.cfg), "configs[1]", fmt.Sprintf("does not fit dataset %d", c.dataset), c.want)
	}
}
