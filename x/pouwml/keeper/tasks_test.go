package keeper_test

import (
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
