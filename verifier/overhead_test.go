package verifier_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/verifier"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// TestOverhead measures the speed figures of the work-proof protocol
// (version 2; scripts/bench/pouw_overhead.sh runs it):
//
//   - mining overhead: training in sampled mode with what the miner does
//     per step (jobspec.DigestChain: the batch hash, the gradient and
//     weight samples read in place, the chained digest), at every
//     commitment (both state hashes and the checkpoint encoded beside the
//     step's forward and backward passes, ml.Trainer.StepCommitting, then
//     sealed and put in a store on disk on another goroutine, as the
//     miner does) and, after training, the lottery draw of every
//     step, against plain training on the same thread count, in wall and
//     CPU time; the ticket draw also on its own;
//   - verification: verifying a checkpoint against its commitment,
//     resuming and replaying up to the proven step (verifier.ReplayStep,
//     what the verifier does), against training the same steps.
//
// It reports and asserts nothing about time (timings on a shared machine
// vary); POUWD_OVERHEAD=1 runs it. POUWD_OVERHEAD_MODEL,
// POUWD_OVERHEAD_BATCH, POUWD_OVERHEAD_STEPS and POUWD_OVERHEAD_ROUNDS
// choose the model (default the demo's mlp:784-128-10: few FLOPs per
// parameter, the worst case), batch (64), steps per run (300) and the
// paired rounds (11); POUWD_OVERHEAD_NOSTORE=1 leaves out storing the
// checkpoints. Training is SGD with momentum 0.9, so the commitments hash
// an optimizer state as large as the weights.
func TestOverhead(t *testing.T) {
	if os.Getenv("POUWD_OVERHEAD") == "" {
		t.Skip("set POUWD_OVERHEAD=1 to measure")
	}
	spec := envOr("POUWD_OVERHEAD_MODEL", "mlp:784-128-10")
	batch, steps, rounds := envInt(t, "POUWD_OVERHEAD_BATCH", 64), envInt(t, "POUWD_OVERHEAD_STEPS", 300), envInt(t, "POUWD_OVERHEAD_ROUNDS", 11)
	probe, err := ml.NewModel(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := max(4096, 2*batch)
	ss := probe.SampleSize()
	x := make([]float32, n*ss)
	y := make([]int, n)
	for i := range x {
		x[i] = float32((i*2654435761)%255) / 255
	}
	for i := range y {
		y[i] = (i * 7) % 10
	}
	ds := ml.Dataset{X: x, Y: y, N: n, Shape: probe.InShape, Classes: 10}
	be := cpu.MustNew(cpu.Options{Threads: 1})
	cfg := ml.DefaultTrainConfig()
	cfg.Steps, cfg.BatchSize, cfg.Epochs, cfg.Momentum = steps, batch, 0, 0.9
	p := types.DefaultParams()
	every := p.CommitInterval
	// POUWD_OVERHEAD_NOSTORE=1 leaves out sealing and writing the
	// checkpoints (disk, not protocol): what the protocol alone costs.
	noStore := os.Getenv("POUWD_OVERHEAD_NOSTORE") != ""
	minerAddr := []byte("01234567890123456789")
	id := pouw.JobID{TaskID: 1}
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
	params := uint64(probe.NumParams())
	tickets := pouw.TicketCount(p.OmegaBE9, p.OmegaME9, uint64(batch), params, p.MaxTicketsPerStep)
	draw := func(parts []pouw.StepParts) int {
		lot, wins := pouw.NewLottery(tickets, target), 0
		for i, sp := range parts {
			d, err := pouw.StepDigest(id, minerAddr, uint64(i), sp)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, ok := lot.Draw(d, anchor); ok {
				wins++
			}
		}
		return wins
	}
	type cost struct{ wall, cpu time.Duration }
	run := func(mine bool) cost {
		// Each run starts on a collected heap: the garbage of the run
		// before (a model's activations) must not be collected on this
		// run's time.
		runtime.GC()
		tr := newTrainer()
		var hook ml.StepHook
		var parts []pouw.StepParts
		chain := jobspec.NewDigestChain(id, minerAddr)
		if mine {
			tr.SampledSteps()
			parts = make([]pouw.StepParts, 0, steps)
			hook = func(s ml.StepInfo) error {
				if c := s.Commitment; c != nil {
					chain.Commit(c.WeightsHash, c.OptimizerHash)
				}
				sp, _, err := chain.Step(s)
				parts = append(parts, sp)
				return err
			}
		}
		// The miner's checkpointer: each commitment's encoded checkpoint
		// put in a store on disk, as storeCheckpoint does.
		store, err := p2p.OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		type encoded struct {
			key p2p.CkptKey
			b   []byte
		}
		snaps := make(chan encoded, 64)
		free := make(chan []byte, 2)
		stored := make(chan struct{})
		go func() {
			defer close(stored)
			for e := range snaps {
				if noStore {
					continue
				}
				if err := store.PutOwnCheckpoint(e.key, ml.SealCheckpoint(e.b)); err != nil {
					panic(err)
				}
				select {
				case free <- e.b:
				default:
				}
			}
		}()
		c0, w0 := cpuTime(), time.Now()
		for !tr.Done() {
			if mine && tr.StepIndex()%every == 0 {
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				c, _, err := tr.StepCommitting(hook, buf)
				if err != nil {
					t.Fatal(err)
				}
				snaps <- encoded{p2p.CkptKey{TaskID: 1, WeightsHash: c.WeightsHash, OptimizerHash: c.OptimizerHash}, c.Checkpoint}
				continue
			}
			if _, err := tr.Step(hook); err != nil {
				t.Fatal(err)
			}
		}
		close(snaps)
		<-stored
		if mine {
			draw(parts)
		}
		return cost{time.Since(w0), cpuTime() - c0}
	}
	best := func(f func() cost) cost {
		b := f()
		for i := 1; i < rounds; i++ {
			c := f()
			b.wall, b.cpu = min(b.wall, c.wall), min(b.cpu, c.cpu)
		}
		return b
	}
	// Paired and interleaved (plain, mining, then mining, plain, ...): a
	// drift in the machine's speed hits both runs of a pair, and the
	// median of the pairs' ratios is robust to a slow round. Runs of a
	// few hundred milliseconds vary by several percent here.
	var plain, mining cost
	var rw, rc []float64
	for r := 0; r < rounds; r++ {
		var a, b cost
		if r%2 == 0 {
			a, b = run(false), run(true)
		} else {
			b, a = run(true), run(false)
		}
		if r == 0 {
			plain, mining = a, b
		}
		plain.wall, plain.cpu = min(plain.wall, a.wall), min(plain.cpu, a.cpu)
		mining.wall, mining.cpu = min(mining.wall, b.wall), min(mining.cpu, b.cpu)
		rw, rc = append(rw, b.wall.Seconds()/a.wall.Seconds()), append(rc, b.cpu.Seconds()/a.cpu.Seconds())
	}
	pct := func(a, b time.Duration) float64 { return 100 * (a.Seconds()/b.Seconds() - 1) }
	t.Logf("%s (%d parameters), batch %d, %d steps, commit every %d, %d tickets/step, training on 1 thread, %d paired rounds", spec, params, batch, steps, every, tickets, rounds)
	t.Logf("plain training:   best wall %9s  cpu %9s", plain.wall.Round(time.Millisecond), plain.cpu.Round(time.Millisecond))
	t.Logf("mining (pouw/v2): best wall %9s  cpu %9s  (best vs best: wall %+.2f%% cpu %+.2f%%)", mining.wall.Round(time.Millisecond), mining.cpu.Round(time.Millisecond), pct(mining.wall, plain.wall), pct(mining.cpu, plain.cpu))
	mw, qw := medianIQR(rw)
	mc, qc := medianIQR(rc)
	t.Logf("mining overhead, median of paired rounds: wall %+.2f%% (quartiles %+.2f%%..%+.2f%%), cpu %+.2f%% (quartiles %+.2f%%..%+.2f%%)",
		100*(mw-1), 100*(qw[0]-1), 100*(qw[1]-1), 100*(mc-1), 100*(qc[0]-1), 100*(qc[1]-1))

	// The parts on their own, against a training step: robust to a loaded
	// machine, where the end-to-end differences above are noisy.
	perStep := time.Duration(float64(plain.wall) / float64(steps))
	tr := newTrainer()
	tr.SampledSteps()
	var infoParts []pouw.StepParts
	chain := jobspec.NewDigestChain(id, minerAddr)
	chain.Commit(ml.WeightsHash(tr.Model), ml.OptimizerHash(tr.Opt))
	const reps = 2000
	var sample time.Duration
	if _, err := tr.Step(func(s ml.StepInfo) error {
		w0 := time.Now()
		for i := 0; i < reps; i++ {
			sp, _, err := chain.Step(s)
			if err != nil {
				return err
			}
			infoParts = append(infoParts, sp)
		}
		sample = time.Since(w0) / reps
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w0 := time.Now()
	draw(infoParts)
	ticket := time.Since(w0) / reps
	w0 = time.Now()
	const commitReps = 20
	for i := 0; i < commitReps; i++ {
		ml.CommitHashes(tr.Model, tr.Opt)
	}
	commitHash := time.Since(w0) / commitReps
	t.Logf("per step: samples + digest %s (%.2f%% of a %s step), lottery draw %s (%.3f%%); per commitment: both state hashes %s (%.2f%% of the %d steps it covers)",
		sample.Round(100*time.Nanosecond), 100*sample.Seconds()/perStep.Seconds(), perStep.Round(time.Microsecond),
		ticket.Round(10*time.Nanosecond), 100*ticket.Seconds()/perStep.Seconds(),
		commitHash.Round(time.Microsecond), 100*commitHash.Seconds()/(perStep.Seconds()*float64(every)), every)

	// Verification: a checkpoint at the start of an interval, verified
	// against its commitment, resumed and replayed to the proven step k-1
	// (k steps), against training k steps.
	tr = newTrainer()
	var buf bytes.Buffer
	if err := tr.SaveCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	wh, oh := ml.CommitHashes(tr.Model, tr.Opt)
	for _, k := range []int{1, 10, 25, 50} {
		if k > steps {
			break
		}
		replay := best(func() cost {
			runtime.GC()
			w0 := time.Now()
			ck, err := ml.VerifyCheckpoint(buf.Bytes(), wh, oh)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ml.ResumeTrainer(ck, ds, be)
			if err != nil {
				t.Fatal(err)
			}
			dc := jobspec.NewDigestChain(id, minerAddr)
			dc.Commit(wh, oh)
			if _, _, err := verifier.ReplayStep(context.Background(), r, dc, uint64(k-1)); err != nil {
				t.Fatal(err)
			}
			return cost{wall: time.Since(w0)}
		})
		train := perStep * time.Duration(k)
		t.Logf("verify a proof %2d steps after its commitment: %9s vs %9s of training: %.3fx", k, replay.wall.Round(10*time.Microsecond), train.Round(10*time.Microsecond), replay.wall.Seconds()/train.Seconds())
	}
}

// medianIQR returns the median and the quartiles of xs.
func medianIQR(xs []float64) (float64, [2]float64) {
	s := append([]float64(nil), xs...)
	slices.Sort(s)
	at := func(q float64) float64 { return s[int(q*float64(len(s)-1)+0.5)] }
	return at(0.5), [2]float64{at(0.25), at(0.75)}
}

func envInt(t *testing.T, k string, def int) int {
	t.Helper()
	v := os.Getenv(k)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: expected a positive integer", k, v)
	}
	return n
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
