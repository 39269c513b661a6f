package miner

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
)

// TestOverhead measures what mining adds to training (step hashes, work
// digest, ticket scan; commitments are asynchronous) and what verifying a
// proof costs against training the steps it replays (checkpoint parse,
// resume, replay with hashes). It reports and does not assert: timings on
// a shared machine vary. POUWD_OVERHEAD=1 runs it.
func TestOverhead(t *testing.T) {
	if os.Getenv("POUWD_OVERHEAD") == "" {
		t.Skip("set POUWD_OVERHEAD=1 to measure")
	}
	const n, steps, interval = 4096, 200, 50
	x := make([]float32, n*784)
	y := make([]int, n)
	for i := range x {
		x[i] = float32(i%255) / 255
	}
	for i := range y {
		y[i] = (i * 7) % 10
	}
	ds := ml.Dataset{X: x, Y: y, N: n, Shape: []int{1, 28, 28}, Classes: 10}
	be, err := cpu.New(cpu.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.Steps = steps
	train := func(hook ml.StepHook) time.Duration {
		m, err := ml.NewModel("mlp:784-128-10", 1)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ml.NewTrainer(m, ds, cfg, be)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for !tr.Done() {
			if _, err := tr.Step(hook); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	}
	miner := []byte("01234567890123456789")
	anchor := bytes.Repeat([]byte{1}, 32)
	target := pouw.TargetFromProbability(1, 4096)
	tickets := pouw.TicketCount(1_000_000_000, 1_000, 64, 101_770, 1<<20)
	mining := func(s ml.StepInfo) error {
		h := pouw.StepHashes{WeightsBefore: pouw.Hash(s.WeightsBefore), Batch: pouw.Hash(s.Batch), Gradients: pouw.Hash(s.Grads), WeightsAfter: pouw.Hash(s.WeightsAfter)}
		d, err := pouw.WorkDigest(pouw.JobID{TaskID: 1, JobIndex: 0}, miner, s.Step, h)
		if err != nil {
			return err
		}
		pouw.FirstWinner(d, anchor, tickets, target)
		return nil
	}
	best := func(f func() time.Duration) time.Duration {
		b := f()
		for i := 0; i < 2; i++ {
			b = min(b, f())
		}
		return b
	}
	plain := best(func() time.Duration { return train(nil) })
	mined := best(func() time.Duration { return train(mining) })
	t.Logf("training %d steps of mlp:784-128-10, batch 64: %s plain, %s mining (%d tickets/step): overhead %.2f%%",
		steps, plain, mined, tickets, 100*(mined.Seconds()/plain.Seconds()-1))

	// Verify: parse a checkpoint, resume and replay a whole commit interval
	// with hashes, against training those steps without them.
	m, _ := ml.NewModel("mlp:784-128-10", 1)
	tr, _ := ml.NewTrainer(m, ds, cfg, be)
	var buf bytes.Buffer
	if err := tr.SaveCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	replay := best(func() time.Duration {
		start := time.Now()
		ck, err := ml.ParseCheckpoint(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		r, err := ml.ResumeTrainer(ck, ds, be)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < interval; i++ {
			if _, err := r.Step(mining); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start)
	})
	trainInterval := time.Duration(float64(plain) * interval / steps)
	t.Logf("verifying a proof at the end of a %d-step interval: %s vs %s of training: %.2fx", interval, replay, trainInterval, replay.Seconds()/trainInterval.Seconds())
}
