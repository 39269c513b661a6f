package ml_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mltest"
)

// profiledRun trains spec on the devices, with prof attached when not nil,
// and the version 1 step hashes through a hook (so the digest is timed too).
func profiledRun(t *testing.T, spec string, cfg ml.TrainConfig, data ml.Dataset, devices []accel.Backend, recompute int, prof *ml.Profiler) ([]ml.StepInfo, ml.Result) {
	t.Helper()
	return trainLoggedProfiled(t, spec, cfg, data, devices, cfg.Seed, recompute, prof)
}

// checkProfile checks a report's structure: the steps, the rows wanted,
// shares summing to one, other last, FLOPs where the products are.
func checkProfile(t *testing.T, p ml.Profile, steps uint64, want ...string) {
	t.Helper()
	if p.Steps != steps || !(p.StepSeconds > 0) || p.TotalSeconds < p.StepSeconds {
		t.Fatalf("profile: %d steps, %v s of %v s, want %d steps", p.Steps, p.StepSeconds, p.TotalSeconds, steps)
	}
	rows := map[string]ml.OpProfile{}
	var share float64
	for i, r := range p.Ops {
		rows[r.Op] = r
		share += r.Share
		if r.Seconds < 0 || r.Share < 0 {
			t.Errorf("row %s: %v s, share %v", r.Op, r.Seconds, r.Share)
		}
		if i > 0 && r.Op != ml.ProfileOther && r.Seconds > p.Ops[i-1].Seconds {
			t.Errorf("rows not sorted by time: %s after %s", r.Op, p.Ops[i-1].Op)
		}
	}
	if p.Ops[len(p.Ops)-1].Op != ml.ProfileOther {
		t.Errorf("last row %s, want other", p.Ops[len(p.Ops)-1].Op)
	}
	if math.Abs(share-1) > 1e-6 {
		t.Errorf("shares sum to %v", share)
	}
	for _, op := range want {
		r, ok := rows[op]
		if !ok || r.Calls == 0 {
			t.Errorf("no %s row in %+v", op, p.Ops)
			continue
		}
		switch op {
		case ml.ProfileGEMM, ml.ProfileConv, ml.ProfileAttention:
			if r.FLOPs == 0 || r.BackwardSeconds == 0 {
				t.Errorf("%s: %d FLOPs, %v s backward", op, r.FLOPs, r.BackwardSeconds)
			}
		}
		if op != ml.ProfileDigest && r.Bytes == 0 {
			t.Errorf("%s: no bytes", op)
		}
	}
}

// TestProfilerSameBits: training with the profiler gives the weights and
// every step's hashes of training without it, on 1 and 2 threads, with
// recompute, and with micro-batches over 2 devices; its report has the
// rows of the ops that ran and shares that sum to one.
func TestProfilerSameBits(t *testing.T) {
	const cnn = "cnn:1x12x12-2x4-10,bn,fc=16,dropout=0.1"
	cm, _ := ml.NewModel(cnn, 1)
	images := ml.SyntheticDataset(cm, 128, 1)
	text := mltest.TextGoldenData(128)
	sgd := ml.DefaultTrainConfig()
	sgd.LR, sgd.Momentum, sgd.BatchSize, sgd.Steps, sgd.Epochs = 0.05, 0.9, 16, 5, 0
	adam := transformerGoldenConfig()
	adam.BatchSize, adam.Steps = 16, 5
	for _, tc := range []struct {
		name      string
		spec      string
		cfg       ml.TrainConfig
		data      ml.Dataset
		devices   []accel.Backend
		recompute int
		rows      []string
	}{
		{"cnn/1thread", cnn, sgd, images, cpus(1), 0, []string{"conv", "gemm", "norm", "pool", "elementwise", "loss", "optimizer", "data", "digest"}},
		{"cnn/2threads", cnn, sgd, images, cpus(2), 0, []string{"conv", "gemm", "optimizer", "data"}},
		{"transformer/recompute", transformerGoldenSpec, adam, text, cpus(2), 1, []string{"gemm", "attention", "norm", "embedding", "optimizer", "data", "digest"}},
		{"cnn/2devices", cnn, withMicro(sgd, 8, ""), images, cpus(1, 2), 0, []string{"conv", "gemm", "optimizer", "data"}},
		{"transformer/2devices/recompute/bf16", transformerGoldenSpec, withMicro(adam, 4, ml.PrecisionBF16), text, cpus(2, 1), 1, []string{"gemm", "attention", "optimizer", "data"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, rb := profiledRun(t, tc.spec, tc.cfg, tc.data, tc.devices, tc.recompute, nil)
			prof := ml.NewProfiler()
			got, rg := profiledRun(t, tc.spec, tc.cfg, tc.data, tc.devices, tc.recompute, prof)
			sameRuns(t, "profiled vs not", base, got, rb, rg)
			p := prof.Report()
			var table bytes.Buffer
			_ = p.WriteTable(&table)
			t.Logf("\n%s", table.String())
			checkProfile(t, p, uint64(tc.cfg.Steps), tc.rows...)
			if p.Devices != len(tc.devices) {
				t.Errorf("profile: %d devices, want %d", p.Devices, len(tc.devices))
			}
			if tc.recompute > 0 {
				for _, r := range p.Ops {
					if r.Op == ml.ProfileGEMM && r.RecomputeSeconds == 0 {
						t.Errorf("recompute: no recomputed GEMM time in %+v", r)
					}
				}
			}
			checkProfile(t, prof.LastStep(), 1, tc.rows...)
		})
	}
}

func withMicro(cfg ml.TrainConfig, micro int, precision string) ml.TrainConfig {
	cfg.MicroBatch, cfg.Precision = micro, precision
	return cfg
}

// TestProfilerCommitting: StepCommitting with a profiler gives the bits of
// StepCommitting without one, and the report holds the commitment's
// background hashing and the digest row.
func TestProfilerCommitting(t *testing.T) {
	run := func(prof *ml.Profiler) (string, ml.Hash) {
		m, _ := ml.NewModel("mlp:16-8-4", 1)
		d := ml.SyntheticDataset(m, 64, 1)
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.Steps, cfg.Epochs = 8, 4, 0
		tr, err := ml.NewTrainer(m, d, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
		if err != nil {
			t.Fatal(err)
		}
		tr.SampledSteps()
		tr.SetProfiler(prof)
		var buf []byte
		var last ml.Hash
		for !tr.Done() {
			c, _, err := tr.StepCommitting(func(ml.StepInfo) error { return nil }, buf)
			if err != nil {
				t.Fatal(err)
			}
			buf, last = c.Checkpoint, c.WeightsHash
		}
		return fmt.Sprintf("%x", ml.HashTensors(ml.DomainWeights, ml.WeightsTensors(tr.Model))), last
	}
	wa, ca := run(nil)
	prof := ml.NewProfiler()
	wb, cb := run(prof)
	if wa != wb || ca != cb {
		t.Fatalf("profiled StepCommitting: weights %s / %s, commitment %x / %x", wa, wb, ca, cb)
	}
	p := prof.Report()
	checkProfile(t, p, 4, "gemm", "digest", "optimizer", "data")
	if !(p.BackgroundDigestSeconds > 0) {
		t.Errorf("no background digest time: %+v", p)
	}
}

// TestProfileReport: the table and the JSON form carry the rows, the
// peak, and survive a round trip; Reset forgets the steps; a detached
// trainer reports nothing more.
func TestProfileReport(t *testing.T) {
	m, _ := ml.NewModel("mlp:16-8-4", 1)
	d := ml.SyntheticDataset(m, 64, 1)
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize, cfg.Steps, cfg.Epochs = 8, 3, 0
	be := cpu.MustNew(cpu.Options{Threads: 1})
	tr, err := ml.NewTrainer(m, d, cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	prof := ml.NewProfiler()
	if g := prof.MeasurePeak(be); !(g > 0) {
		t.Fatalf("measured peak %v", g)
	}
	tr.SetProfiler(prof)
	if tr.Profiler() != prof {
		t.Fatal("Profiler() does not return the attached profiler")
	}
	if _, err := tr.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	p := prof.Report()
	checkProfile(t, p, 3, "gemm", "elementwise", "loss", "optimizer", "data")
	if p.PeakGFLOPS <= 0 || p.PeakBackend != be.Name() {
		t.Errorf("peak %v of %q", p.PeakGFLOPS, p.PeakBackend)
	}
	for _, r := range p.Ops {
		if r.Op == ml.ProfileGEMM && !(r.PeakPercent > 0 && r.GFLOPS > 0) {
			t.Errorf("gemm row without a rate against the peak: %+v", r)
		}
	}
	var buf bytes.Buffer
	if err := p.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"profile: 3 steps", "gemm", "optimizer", "other", "% peak", "GFLOP/s", "total"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back ml.Profile
	if err := json.Unmarshal(js, &back); err != nil || back.Steps != p.Steps || len(back.Ops) != len(p.Ops) || back.Ops[0] != p.Ops[0] {
		t.Fatalf("JSON round trip: %v\n%s", err, js)
	}
	for _, k := range []string{`"steps"`, `"step_seconds"`, `"ops"`, `"op"`, `"calls"`, `"seconds"`, `"bytes"`, `"flops"`, `"share"`, `"gflops"`} {
		if !strings.Contains(string(js), k) {
			t.Errorf("JSON lacks %s: %s", k, js)
		}
	}
	prof.Reset()
	tr.SetProfiler(nil)
	if _, err := tr.Step(nil); err != nil {
		t.Fatal(err)
	}
	if p := prof.Report(); p.Steps != 0 || len(p.Ops) != 0 {
		t.Errorf("after Reset and detaching: %+v", p)
	}
}

// BenchmarkProfilerOverhead trains a small CNN and a small Transformer
// (and a tiny one, whose short steps make the per-call cost weigh most)
// with and without the profiler, alternating a step of each trainer so
// that machine noise hits both alike, and reports the profiler's cost as
// overhead-%: the median over the pairs of steps of on/off - 1 (robust to
// the scheduler's outliers), besides the mean step times. Timings are
// reported, never tested.
//
//	go test ./ml -run - -bench ProfilerOverhead -benchtime 300x
func BenchmarkProfilerOverhead(b *testing.B) {
	for _, bc := range []struct {
		name, spec string
		batch      int
		opt        string
	}{
		{"cnn", "cnn:1x28x28-2x8-10,bn,fc=32", 32, "sgd"},
		{"transformer", "transformer:32-64-2x64x4-16,causal", 16, "adamw"},
		{"tiny-transformer", "transformer:12-16-2x16x4-16,causal,head=last,dropout=0.1", 16, "adamw"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mk := func(prof *ml.Profiler) *ml.Trainer {
				m, err := ml.NewModel(bc.spec, 1)
				if err != nil {
					b.Fatal(err)
				}
				d := ml.SyntheticDataset(m, 4*bc.batch, 1)
				cfg := ml.DefaultTrainConfig()
				cfg.Optimizer, cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs = bc.opt, 0.01, 0.9, bc.batch, 1<<20
				tr, err := ml.NewTrainer(m, d, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
				if err != nil {
					b.Fatal(err)
				}
				tr.SetProfiler(prof)
				return tr
			}
			prof := ml.NewProfiler()
			off, on := mk(nil), mk(prof)
			step := func(tr *ml.Trainer) time.Duration {
				t0 := time.Now()
				if _, err := tr.Step(nil); err != nil {
					b.Fatal(err)
				}
				return time.Since(t0)
			}
			for i := 0; i < 3; i++ { // warm-up: buffers, caches
				step(off)
				step(on)
			}
			prof.Reset()
			var tOff, tOn time.Duration
			ratios := make([]float64, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var a, c time.Duration
				if i%2 == 0 {
					a = step(off)
					c = step(on)
				} else {
					c = step(on)
					a = step(off)
				}
				tOff, tOn = tOff+a, tOn+c
				ratios = append(ratios, float64(c)/float64(a))
			}
			b.StopTimer()
			sort.Float64s(ratios)
			b.ReportMetric(float64(tOff.Nanoseconds())/float64(b.N), "ns/step-off")
			b.ReportMetric(float64(tOn.Nanoseconds())/float64(b.N), "ns/step-on")
			b.ReportMetric(100*(ratios[len(ratios)/2]-1), "overhead-%")
			p := prof.Report()
			var calls uint64
			for _, r := range p.Ops {
				calls += r.Calls
			}
			perStep := float64(calls) / float64(max(p.Steps, 1))
			b.ReportMetric(perStep, "timed-calls/step")
			// The estimate: the instrumentation's own cost per call (measured
			// in isolation) times the calls per step.
			b.ReportMetric(100*perStep*float64(ml.ProfilerCallCost())/(float64(tOff)/float64(b.N)), "est-overhead-%")
		})
	}
}
