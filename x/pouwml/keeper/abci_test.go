package keeper_test

import (
	"fmt"
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

func TestAssignmentIsDeterministicAndEligible(t *testing.T) {
	run := func() []string {
		w := newWorld(t)
		// More verifiers than a job needs, one of them jailed.
		var extra []string
		for i := 0; i < 6; i++ {
			v := w.account(fmt.Sprintf("extra-verifier%d", i))
			if _, err := w.msgs.RegisterWorker(w.ctx, validWorker(v, types.WORKER_ROLE_VERIFIER)); err != nil {
				t.Fatal(err)
			}
			extra = append(extra, v)
		}
		jailed := w.worker(extra[0])
		jailed.JailedUntil = 1 << 40
		if err := w.k.Workers.Set(w.ctx, w.addr(extra[0]), jailed); err != nil {
			t.Fatal(err)
		}
		id := w.submit(2, 5, 100_000)
		var out []string
		for i := uint32(0); i < 10; i++ {
			miner := w.miner1
			if i%2 == 1 {
				miner = w.miner2
			}
			w.trainAndSubmit(miner, id, i, fmt.Sprint("m", i), 900_000)
		}
		w.advance(2)
		for i := uint32(0); i < 10; i++ {
			j := w.job(id, i)
			if j.Status != types.JOB_STATUS_ASSIGNED || len(j.Verifiers) != 3 {
				t.Fatalf("job %d: %s with %d verifiers", i, j.Status, len(j.Verifiers))
			}
			seen := map[string]bool{}
			for _, v := range j.Verifiers {
				if v == j.Miner || v == extra[0] || seen[v] {
					t.Fatalf("job %d drew %s (miner %s, jailed %s, repeat %v)", i, v, j.Miner, extra[0], seen[v])
				}
				if w.worker(v).Role != types.WORKER_ROLE_VERIFIER {
					t.Fatalf("job %d drew non-verifier %s", i, v)
				}
				seen[v] = true
				out = append(out, v)
			}
		}
		return out
	}
	a, b := run(), run()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("assignment differs between identical runs:\n%v\n%v", a, b)
	}
	distinct := map[string]bool{}
	for _, v := range a {
		distinct[v] = true
	}
	if len(distinct) < 5 {
		t.Fatalf("draws cover only %d of 8 eligible verifiers; not spread", len(distinct))
	}
}

func TestAssignmentDrawVector(t *testing.T) {
	// Pinned so that an accidental change of the draw rule is caught.
	seed := make([]byte, 32)
	got := []uint64{}
	for i := uint32(0); i < 4; i++ {
		got = append(got, keeper.AssignmentDraw(seed, 1, 2, 1, i, 1000))
	}
	want := fmt.Sprint(got)
	again := []uint64{}
	for i := uint32(0); i < 4; i++ {
		again = append(again, keeper.AssignmentDraw(seed, 1, 2, 1, i, 1000))
	}
	if fmt.Sprint(again) != want {
		t.Fatal("draw not deterministic")
	}
	if keeper.AssignmentDraw(seed, 1, 2, 1, 0, 1000) == keeper.AssignmentDraw(seed, 1, 2, 2, 0, 1000) &&
		keeper.AssignmentDraw(seed, 1, 2, 1, 1, 1000) == keeper.AssignmentDraw(seed, 1, 2, 2, 1, 1000) {
		t.Fatal("attempts do not change the draw")
	}
}

func TestMedianSettlementAccepted(t *testing.T) {
	w := newWorld(t)
	id := w.submit(1, 2, 10_000)
	w.assignedAfterResult(w.miner1, id, 0, "m0", 910_000)
	j := w.evaluate(id, 0, "m0", 950_000, 900_000, 910_000)
	if j.Status != types.JOB_STATUS_SETTLED || j.VerifiedPpm != 910_000 || j.Outcome != types.JOB_OUTCOME_ACCEPTED {
		t.Fatalf("job %+v", j)
	}
	if w.worker(w.miner1).AcceptedCount != 1 {
		t.Fatal("accepted count not recorded")
	}
	for _, v := range j.Verifiers {
		if w.worker(v).OpenItems != 0 {
			t.Fatalf("verifier %s still has open items", v)
		}
	}
}

func TestMisclaimSlashesAndJails(t *testing.T) {
	w := newWorld(t)
	id := w.submit(1, 2, 10_000)
	w.assignedAfterResult(w.miner1, id, 0, "m0", 990_000)
	bond := w.worker(w.miner1).Bond.Amount.Int64()
	j := w.evaluate(id, 0, "m0", 900_000)
	if j.Status != types.JOB_STATUS_SETTLED || j.VerifiedPpm != 900_000 || j.Outcome != types.JOB_OUTCOME_MISCLAIMED {
		t.Fatalf("job %+v", j)
	}
	m := w.worker(w.miner1)
	if want := bond - bond*int64(w.params().MisclaimSlashBps)/10_000; m.Bond.Amount.Int64() != want {
		t.Fatalf("bond %s, want %d", m.Bond, want)
	}
	if m.JailedUntil <= w.height() || m.RejectedCount != 1 {
		t.Fatalf("miner not jailed/recorded: %+v", m)
	}
	// Within the tolerance the same claim is accepted.
	w2 := newWorld(t)
	w2.setParams(func(p *types.Params) { p.MetricTolerancePpm = 100_000 })
	id2 := w2.submit(1, 2, 10_000)
	w2.assignedAfterResult(w2.miner1, id2, 0, "m0", 990_000)
	if j := w2.evaluate(id2, 0, "m0", 900_000); j.Outcome != types.JOB_OUTCOME_ACCEPTED {
		t.Fatalf("within tolerance: %s", j.Outcome)
	}
}

// Reports further than outlier_ppm from the median, or on another hash,
// count as outliers: recorded on the verifier, with an event; the job still
// settles on the quorum's median.
func TestOutliersRecorded(t *testing.T) {
	for _, c := range []struct {
		name   string
		models []string
		values []uint32
	}{
		{"far from the median", []string{"m0", "m0", "m0"}, []uint32{900_000, 700_000, 910_000}},
		{"on another hash", []string{"m0", "other", "m0"}, []uint32{900_000, 900_000, 900_000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			id := w.submit(1, 2, 10_000)
			j := w.assignedAfterResult(w.miner1, id, 0, "m0", 900_000)
			for i, v := range j.Verifiers {
				if _, err := w.msgs.SubmitEvaluation(w.ctx, &types.MsgSubmitEvaluation{Verifier: v, TaskId: id, JobIndex: 0, ModelHash: modelHash(c.models[i]), Metrics: acc(c.values[i])}); err != nil {
					t.Fatal(err)
				}
			}
			if j := w.job(id, 0); j.Status != types.JOB_STATUS_SETTLED || j.Outcome != types.JOB_OUTCOME_ACCEPTED || j.VerifiedPpm != 900_000 {
				t.Fatalf("job %+v", j)
			}
			for i, v := range j.Verifiers {
				want := uint64(0)
				if i == 1 {
					want = 1
				}
				if got := w.worker(v).OutlierCount; got != want {
					t.Fatalf("verifier %d (%s): outlier count %d, want %d", i, v, got, want)
				}
			}
			events := 0
			for _, ev := range w.ctx.EventManager().Events() {
				if ev.Type == "pouwml.v1.EventVerifierOutlier" {
					events++
				}
			}
			if events != 1 {
				t.Fatalf("%d outlier events, want 1", events)
			}
		})
	}
}

func TestModelHashMismatchRejectsAndReopens(t *testing.T) {
	w := newWorld(t)
	id := w.submit(1, 2, 10_000)
	j := w.assignedAfterResult(w.miner1, id, 0, "claimed-model", 900_000)
	for _, v := range j.Verifiers {
		if _, err := w.msgs.SubmitEvaluation(w.ctx, &types.MsgSubmitEvaluation{Verifier: v, TaskId: id, JobIndex: 0, ModelHash: modelHash("served-model"), Metrics: acc(500_000)}); err != nil {
			t.Fatal(err)
		}
	}
	j = w.job(id, 0)
	if j.Status != types.JOB_STATUS_OPEN || j.Miner != "" || j.Attempts != 1 {
		t.Fatalf("job after mismatch: %+v", j)
	}
	if m := w.worker(w.miner1); m.RejectedCount != 1 || m.JailedUntil <= w.height() {
		t.Fatalf("miner not penalised: %+v", m)
	}
	if evs, _ := w.query.Evaluations(w.ctx, &types.QueryEvaluationsRequest{TaskId: id, JobIndex: 0}); len(evs.Evaluations) != 0 {
		t.Fatal("stale evaluations kept after reopening")
	}
	// The other miner can now claim it and get it settled.
	w.assignedAfterResult(w.miner2, id, 0, "honest", 800_000)
	if j := w.evaluate(id, 0, "honest", 800_000); j.Status != types.JOB_STATUS_SETTLED {
		t.Fatalf("second attempt: %s", j.Status)
	}
}

func TestAbsentVerifierSlashedAtDeadline(t *testing.T) {
	w := newWorld(t)
	id := w.submit(1, 2, 10_000)
	j := w.assignedAfterResult(w.miner1, id, 0, "m", 900_000)
	absent := j.Verifiers[2]
	bond := w.worker(absent).Bond.Amount.Int64()
	for _, v := range j.Verifiers[:2] {
		if _, err := w.msgs.SubmitEvaluation(w.ctx, &types.MsgSubmitEvaluation{Verifier: v, TaskId: id, JobIndex: 0, ModelHash: modelHash("m"), Metrics: acc(900_000)}); err != nil {
			t.Fatal(err)
		}
	}
	if w.job(id, 0).Status != types.JOB_STATUS_ASSIGNED {
		t.Fatal("settled before the deadline while a verifier is missing")
	}
	for w.height() <= j.Deadline {
		w.nextBlock()
	}
	j = w.job(id, 0)
	if j.Status != types.JOB_STATUS_SETTLED || j.VerifiedPpm != 900_000 {
		t.Fatalf("job at deadline: %+v", j)
	}
	a := w.worker(absent)
	if want := bond - bond*int64(w.params().VerifierMissSlashBps)/10_000; a.Bond.Amount.Int64() != want || a.MissedCount != 1 || a.OpenItems != 0 {
		t.Fatalf("absent verifier: %+v (want bond %d)", a, want)
	}
}

func TestNoQuorumRedrawsVerifiers(t *testing.T) {
	w := newWorld(t)
	id := w.submit(1, 2, 10_000)
	j := w.assignedAfterResult(w.miner1, id, 0, "m", 900_000)
	if _, err := w.msgs.SubmitEvaluation(w.ctx, &types.MsgSubmitEvaluation{Verifier: j.Verifiers[0], TaskId: id, JobIndex: 0, ModelHash: modelHash("m"), Metrics: acc(900_000)}); err != nil {
		t.Fatal(err)
	}
	for w.height() <= j.Deadline+2 {
		w.nextBlock()
	}
	j2 := w.job(id, 0)
	if j2.Status != types.JOB_STATUS_ASSIGNED || j2.Attempts != 2 || j2.Reports != 0 {
		t.Fatalf("after a deadline without quorum: %+v", j2)
	}
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

func TestCompletionScoresBestAndPays(t *testing.T) {
	w := newWorld(t)
	start := w.balance(w.client)
	const fee = 100_003 // not divisible: rounding goes back to the client
	id := w.submit(2, 2, fee)
	values := map[uint32][]uint32{0: {900_000, 910_000}, 1: {950_000, 930_000}}
	for c := uint32(0); c < 2; c++ {
		for f := uint32(0); f < 2; f++ {
			idx := c*2 + f
			w.trainAndSubmit(w.miner1, id, idx, fmt.Sprint("m", idx), values[c][f])
		}
	}
	w.advance(2)
	minerStart := w.balance(w.miner1)
	vStart := map[string]int64{}
	for _, v := range w.verifiers {
		vStart[v] = w.balance(v)
	}
	for c := uint32(0); c < 2; c++ {
		for f := uint32(0); f < 2; f++ {
			idx := c*2 + f
			w.evaluate(id, idx, fmt.Sprint("m", idx), values[c][f])
		}
	}
	task := w.task(id)
	if task.Status != types.TASK_STATUS_COMPLETED || !task.HasBest || task.BestConfig != 1 {
		t.Fatalf("task %s best %v/%d", task.Status, task.HasBest, task.BestConfig)
	}
	if s := task.Scores[0]; s.MeanPpm != 905_000 || s.StdPpm != 5_000 || !s.Complete {
		t.Fatalf("config 0 score %+v", s)
	}
	if s := task.Scores[1]; s.MeanPpm != 940_000 || s.StdPpm != 10_000 {
		t.Fatalf("config 1 score %+v", s)
	}
	jobShare := int64(fee / 4)
	minerShare := jobShare * 8000 / 10_000
	verShare := (jobShare - minerShare) / 3
	if got := w.balance(w.miner1) - minerStart; got != 4*minerShare {
		t.Fatalf("miner got %d, want %d", got, 4*minerShare)
	}
	var verTotal int64
	for _, v := range w.verifiers {
		verTotal += w.balance(v) - vStart[v]
	}
	if verTotal != 4*3*verShare {
		t.Fatalf("verifiers got %d, want %d", verTotal, 4*3*verShare)
	}
	refund := fee - 4*minerShare - verTotal
	if w.balance(w.client) != start-fee+refund || task.Refunded.Amount.Int64() != refund || task.Paid.Amount.Int64()+refund != fee {
		t.Fatalf("client refund: got %d, want %d", w.balance(w.client)-(start-fee), refund)
	}
	table, err := w.query.CVTable(w.ctx, &types.QueryCVTableRequest{TaskId: id})
	if err != nil || len(table.Rows) != 2 || table.BestConfig != 1 || fmt.Sprint(table.Rows[1].FoldPpm) != "[950000 930000]" {
		t.Fatalf("cv table %+v err %v", table, err)
	}
}

func TestTieGoesToLowerIndex(t *testing.T) {
	w := newWorld(t)
	id := w.submit(2, 2, 10_000)
	for idx := uint32(0); idx < 4; idx++ {
		w.trainAndSubmit(w.miner1, id, idx, fmt.Sprint("m", idx), 900_000)
	}
	w.advance(2)
	for idx := uint32(0); idx < 4; idx++ {
		w.evaluate(id, idx, fmt.Sprint("m", idx), 900_000)
	}
	if task := w.task(id); task.BestConfig != 0 || !task.HasBest {
		t.Fatalf("tie: best %d", task.BestConfig)
	}
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
