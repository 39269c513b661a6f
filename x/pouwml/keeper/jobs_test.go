package keeper_test

import (
	"testing"

	"github.com/pouw/pouwd/x/pouwml/types"
)

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

func TestClaimLapseReopensAndSlashes(t *testing.T) {
	w := newWorld(t)
	id := w.submit(1, 2, 10_000)
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 0}); err != nil {
		t.Fatal(err)
	}
	deadline := w.job(id, 0).Deadline
	bond := w.worker(w.miner1).Bond.Amount.Int64()
	for w.height() <= deadline {
		w.nextBlock()
	}
	j := w.job(id, 0)
	if j.Status != types.JOB_STATUS_OPEN || j.Miner != "" {
		t.Fatalf("lapsed job %+v", j)
	}
	m := w.worker(w.miner1)
	if want := bond - bond*int64(w.params().ClaimLapseSlashBps)/10_000; m.Bond.Amount.Int64() != want || m.OpenItems != 0 {
		t.Fatalf("miner after lapse: %+v want bond %d", m, want)
	}
	// After max_job_attempts lapses the job fails for good.
	w.setParams(func(p *types.Params) { p.MaxJobAttempts = 2 })
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 0}); err != nil {
		t.Fatal(err)
	}
	for w.height() <= w.job(id, 0).Deadline {
		w.nextBlock()
	}
	if s := w.job(id, 0).Status; s != types.JOB_STATUS_FAILED {
		t.Fatalf("job after the last attempt: %s", s)
	}
}
