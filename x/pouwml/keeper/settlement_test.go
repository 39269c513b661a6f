package keeper_test

import (
	"fmt"
	"testing"

	"github.com/pouw/pouwd/x/pouwml/types"
)

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
