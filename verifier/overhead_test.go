package verifier_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/verifier"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// TestOverhead measures the two speed figures of the work-proof protocol
// (scripts/bench/pouw_overhead.sh runs it):
//
//   - mining overhead: training with every step's four hashes, work digest
//     and ticket scan, against plain training, with the hashes computed
//     inline and in the background (ml.Trainer.HashInBackground, what the
//     miner does), in wall time and in CPU time;
//   - verification: parsing a checkpoint, resuming and replaying up to the
//     proven step (verifier.ReplayStep, what the verifier does), against
//     training the same steps.
//
// It reports and asserts nothing about time (timings on a shared machine
// vary); POUWD_OVERHEAD=1 runs it. POUWD_OVERHEAD_MODEL and
// POUWD_OVERHEAD_BATCH choose the model and batch (default the demo's
// mlp:784-128-10 at batch 64, the worst case: few FLOPs per parameter).
func TestOverhead(t *testing.T) {
	if os.Getenv("POUWD_OVERHEAD") == "" {
		t.Skip("set POUWD_OVERHEAD=1 to measure")
	}
	spec := envOr("POUWD_OVERHEAD_MODEL", "mlp:784-128-10")
	batch := 64
	if b := os.Getenv("POUWD_OVERHEAD_BATCH"); b != "" {
		n, err := strconv.Atoi(b)
		if err != nil || n < 1 {
			t.Fatalf("POUWD_OVERHEAD_BATCH=%q: expected a positive batch size", b)
		}
		batch = n
	}
	const n, steps = 8192, 300
	x := make([]float32, n*784)
	y := make([]int, n)
	for i := range x {
		x[i] = float32((i*2654435761)%255) / 255
	}
	for i := range y {
		y[i] = (i * 7) % 10
	}
	ds := ml.Dataset{X: x, Y: y, N: n, Shape: []int{1, 28, 28}, Classes: 10}
	be := cpu.MustNew(cpu.Options{Threads: 1})
	cfg := ml.DefaultTrainConfig()
	cfg.Steps, cfg.BatchSize, cfg.Epochs = steps, batch, 0
	p := types.DefaultParams()
	minerAddr := []byte("01234567890123456789")
	anchor := bytes.Repeat([]byte{1}, 32)
	target := pouw.TargetFromProbability(1, 4096)
	newTrainer := func() *ml.Trainer {
		m, err := ml.NewModel(spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ml.NewTrainer(m, ds, cfg, be)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	tickets := pouw.TicketCount(p.OmegaBE9, p.OmegaME9, uint64(batch), uint64(newTrainer().Model.NumParams()), p.MaxTicketsPerStep)
	mining := func(s ml.StepInfo) error {
		d, err := pouw.WorkDigest(pouw.JobID{TaskID: 1}, minerAddr, s.Step, jobspec.StepHashes(s))
		if err != nil {
			return err
		}
		pouw.FirstWinner(d, anchor, tickets, target)
		return nil
	}
	type cost struct{ wall, cpu time.Duration }
	run := func(hook ml.StepHook, background bool) cost {
		tr := newTrainer()
		if background {
			tr.HashInBackground()
		}
		// The miner's commitments: a snapshot every commit_interval steps,
		// hashed, written and parsed back on another goroutine (as
		// the miner's storeSnapshot does), in both mining variants.
		snaps := make(chan *ml.Checkpoint, 64)
		stored := make(chan struct{})
		go func() {
			defer close(stored)
			for snap := range snaps {
				_ = ml.HashTensors(ml.DomainOptim, snap.Optim)
				var b bytes.Buffer
				if err := snap.Write(&b); err != nil {
					panic(err)
				}
				if _, err := ml.ParseCheckpoint(b.Bytes()); err != nil {
					panic(err)
				}
			}
		}()
		c0, w0 := cpuTime(), time.Now()
		for !tr.Done() {
			if hook != nil && tr.StepIndex()%p.CommitInterval == 0 {
				snaps <- tr.Snapshot()
			}
			if _, err := tr.Step(hook); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.Flush(hook); err != nil {
			t.Fatal(err)
		}
		close(snaps)
		<-stored
		return cost{time.Since(w0), cpuTime() - c0}
	}
	best := func(f func() cost) cost {
		b := f()
		for i := 0; i < 4; i++ {
			c := f()
			b.wall, b.cpu = min(b.wall, c.wall), min(b.cpu, c.cpu)
		}
		return b
	}
	plain := best(func() cost { return run(nil, false) })
	inline := best(func() cost { return run(mining, false) })
	bg := best(func() cost { return run(mining, true) })
	pct := func(a, b time.Duration) float64 { return 100 * (a.Seconds()/b.Seconds() - 1) }
	t.Logf("%s, batch %d, %d steps, %d tickets/step, training on 1 thread", spec, batch, steps, tickets)
	t.Logf("plain training:           wall %8s  cpu %8s", plain.wall.Round(time.Millisecond), plain.cpu.Round(time.Millisecond))
	t.Logf("mining, inline hashes:    wall %8s  cpu %8s  overhead wall %+.1f%% cpu %+.1f%%", inline.wall.Round(time.Millisecond), inline.cpu.Round(time.Millisecond), pct(inline.wall, plain.wall), pct(inline.cpu, plain.cpu))
	t.Logf("mining, background hashes: wall %8s  cpu %8s  overhead wall %+.1f%% cpu %+.1f%%", bg.wall.Round(time.Millisecond), bg.cpu.Round(time.Millisecond), pct(bg.wall, plain.wall), pct(bg.cpu, plain.cpu))

	// The mining work per step on its own (two tensor hashes of the
	// model's size: H(G_i) and H(W_i+1); H(B_i), the digest and the ticket
	// scan), against a training step: robust to a loaded machine, where the
	// end-to-end differences above are noisy.
	m := newTrainer().Model
	const reps = 200
	w0 := time.Now()
	for i := 0; i < reps; i++ {
		a, b := ml.WeightsHash(m), ml.WeightsHash(m)
		if err := mining(ml.StepInfo{Step: uint64(i), WeightsBefore: a, WeightsAfter: b, Batch: ml.BatchHash(make([]int, batch))}); err != nil {
			t.Fatal(err)
		}
	}
	work := time.Since(w0) / reps
	perStep := time.Duration(float64(plain.wall) / steps)
	t.Logf("mining work per step: %s (%d parameters hashed twice, %d tickets) vs %s per training step: %.1f%% of training",
		work.Round(time.Microsecond), m.NumParams(), tickets, perStep.Round(time.Microsecond), 100*work.Seconds()/perStep.Seconds())

	// Verification: a checkpoint at step 0 of an interval, replayed to the
	// proven step k-1 (k steps), against training k steps.
	tr := newTrainer()
	var buf bytes.Buffer
	if err := tr.SaveCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 10, 25, 50} {
		replay := best(func() cost {
			w0 := time.Now()
			ck, err := ml.ParseCheckpoint(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			r, err := ml.ResumeTrainer(ck, ds, be)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.ReplayStep(context.Background(), r, uint64(k-1)); err != nil {
				t.Fatal(err)
			}
			return cost{wall: time.Since(w0)}
		})
		train := perStep * time.Duration(k)
		t.Logf("verify a proof %2d steps after its commitment: %8s vs %8s of training: %.2fx", k, replay.wall.Round(10*time.Microsecond), train.Round(10*time.Microsecond), replay.wall.Seconds()/train.Seconds())
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
