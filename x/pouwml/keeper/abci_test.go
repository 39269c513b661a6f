package keeper_test

import (
	"testing"

	"github.com/pouw/pouwd/x/pouwml/keeper"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// assignedAfterResult claims, submits and moves on until verifiers are drawn.
func (w *world) assignedAfterResult(miner string, task uint64, idx uint32, model string, claimed uint32) types.Job {
	w.t.Helper()
	w.trainAndSubmit(miner, task, idx, model, claimed)
	w.advance(2)
	return w.job(task, idx)
}

func TestPerBlockLimitWithThousandsQueued(t *testing.T) {
	w := newWorld(t)
	w.setParams(func(p *types.Params) { p.MaxDeadlinesPerBlock = 100 })
	// 3 tasks x 1000 jobs all expiring at the same height.
	var ids []uint64
	for i := 0; i < 3; i++ {
		m := validTask(w.client, w.dataset, 50, 20, 1_000_000)
		res, err := w.msgs.SubmitTask(w.ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Id)
	}
	queued := func() int {
		n := 0
		_ = w.k.DeadlineQueue.Walk(w.ctx, nil, func(keeper.QueueKey) (bool, error) { n++; return false, nil })
		return n
	}
	if q := queued(); q != 3000 {
		t.Fatalf("queued %d deadlines, want 3000", q)
	}
	deadline := w.job(ids[0], 0).Deadline
	for w.height() < deadline {
		w.nextBlock()
	}
	for step := 0; step < 40 && queued() > 0; step++ {
		before := queued()
		w.nextBlock()
		if done := before - queued(); done > 100 {
			t.Fatalf("one block handled %d deadlines, limit 100", done)
		}
	}
	if q := queued(); q != 0 {
		t.Fatalf("%d deadlines left after 40 blocks", q)
	}
	for _, id := range ids {
		if s := w.task(id).Status; s != types.TASK_STATUS_EXPIRED {
			t.Fatalf("task %d %s", id, s)
		}
	}
}
