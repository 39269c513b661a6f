package report

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fakeEstimator predicts fixed + batch x perSample bytes; recomputation
// every n of 8 residual blocks keeps (1/n + n/8) of the activations of
// no recomputation's 2 (best at n = 3), or fails for a model without
// residual blocks. bf16 halves activations.
type fakeEstimator struct {
	fixed, perSample float64
	noResidual       bool
}

func (f fakeEstimator) PeakBytes(batch, recompute int) (uint64, error) {
	act := float64(batch) * f.perSample
	switch {
	case recompute > 0 && f.noResidual:
		return 0, errors.New("no residual blocks")
	case recompute > 0:
		act *= 1/float64(recompute) + float64(recompute)/8
	default:
		act *= 2
	}
	return uint64(f.fixed + act), nil
}

func (f fakeEstimator) ActivationBytes(batch int, precision string) (uint64, error) {
	a := float64(batch) * f.perSample
	if precision == "bf16" {
		a /= 2
	}
	return uint64(a), nil
}

// baseReport is a healthy CPU run: 4 threads of 8 cores, batch 64 of
// 60000 samples, CPU half busy, 1 GiB used of 16 GiB.
func baseReport() *Report {
	return &Report{SchemaVersion: SchemaVersion, Kind: KindTrain,
		Config: Config{Model: "mlp:784-256-10", Params: 203530, FLOPsPerSample: 1e6, Batch: 64, Steps: 1000, Optimizer: "sgd",
			LR: 0.1, Precision: "fp32", Threads: 4, Devices: 1, Backend: "cpu/avx512"},
		Dataset:     Dataset{Name: "mnist", Samples: 60000, Shape: []int{1, 28, 28}, Classes: 10},
		Environment: Environment{CPUCores: 8, CPUFeatures: []string{"avx2", "avx512f", "avx512bf16"}},
		Resources:   Resources{IntervalSeconds: 5, Summary: ResourceSummary{Readings: 20, MeanCPUPercent: 45, Cores: 8, PeakRSSBytes: 1 << 30}},
		Memory:      Memory{PredictedPeakBytes: 8 << 30, MeasuredPeakRSSBytes: 9 << 30, AvailableBytes: 16 << 30},
		Profile: []OpProfile{{Op: "gemm", Seconds: 3, Share: 0.3}, {Op: "data.gather", Seconds: 0.5, Share: 0.05},
			{Op: "relu", Seconds: 6.5, Share: 0.65}},
	}
}

// finding returns the rule's finding among fs, or nil.
func finding(fs []Finding, rule string) *Finding {
	for i := range fs {
		if fs[i].Rule == rule {
			return &fs[i]
		}
	}
	return nil
}

// TestAdviceRules: each rule fires on a report built to trigger it, with
// the triggering numbers and thresholds as evidence, and stays silent on
// one that does not.
func TestAdviceRules(t *testing.T) {
	est := fakeEstimator{fixed: 100 << 20, perSample: 64 << 20} // batch 64: 8 GiB predicted with no recomputation
	for _, c := range []struct {
		name, rule string
		fire       bool
		mutate     func(r *Report)
		evidence   string // the triggering evidence's name
		suggestion string
	}{
		{"threads above cores", "threads-over-cores", true, func(r *Report) { r.Config.Threads = 12 }, "threads (all devices)", "--threads 8"},
		{"devices x threads above cores", "threads-over-cores", true, func(r *Report) { r.Config.Threads, r.Config.Devices, r.Config.MicroBatch = 4, 4, 16 }, "threads (all devices)", "--threads 2"},
		{"threads within cores", "threads-over-cores", false, func(r *Report) {}, "", ""},

		{"few samples per thread", "small-batch", true, func(r *Report) { r.Config.Batch = 16 }, "samples per thread per step", "--batch 32, or --threads 2"},
		{"few samples per micro-batch thread", "small-batch", true, func(r *Report) { r.Config.Batch, r.Config.MicroBatch = 64, 8 }, "samples per thread per step", "--micro-batch 32 --batch 256, or --threads 1"},
		{"low CPU use", "small-batch", true, func(r *Report) { r.Config.Batch = 256; r.Resources.Summary.MeanCPUPercent = 10 }, "mean CPU use", "--threads 1"},
		{"few samples but heavy ones", "small-batch", false, func(r *Report) { r.Config.Batch, r.Config.FLOPsPerSample = 16, 1e9 }, "", ""},
		{"one thread", "small-batch", false, func(r *Report) { r.Config.Batch, r.Config.Threads = 2, 1; r.Resources.Summary.MeanCPUPercent = 1 }, "", ""},
		{"GPU run", "small-batch", false, func(r *Report) { r.Config.Batch, r.Config.Backend = 8, "cuda/auto (NVIDIA H100)" }, "", ""},
		{"enough samples, busy CPU", "small-batch", false, func(r *Report) {}, "", ""},

		{"data loading 30%", "data-loading", true, func(r *Report) { r.Profile[1].Share, r.Profile[2].Share = 0.3, 0.4 }, "data-loading share of the profiled time", ""},
		{"data loading from seconds", "data-loading", true, func(r *Report) {
			r.Profile = []OpProfile{{Op: "gemm", Seconds: 5}, {Op: "DataLoader", Seconds: 2}}
		}, "data-loading share of the profiled time", ""},
		{"data loading 5%", "data-loading", false, func(r *Report) {}, "", ""},
		{"no profile", "data-loading", false, func(r *Report) { r.Profile = nil }, "", ""},

		{"peak near available", "recompute", true, func(r *Report) { r.Memory.MeasuredPeakRSSBytes = 15 << 30 }, "measured peak RSS / available memory", "--recompute 3"},
		{"predicted peak over available", "recompute", true, func(r *Report) { r.Memory.MeasuredPeakRSSBytes, r.Memory.PredictedPeakBytes = 0, 20<<30 }, "predicted peak / available memory", "--recompute 3"},
		{"peak well below", "recompute", false, func(r *Report) {}, "", ""},

		{"memory for twice the batch", "larger-batch", true, func(r *Report) { r.Memory.AvailableBytes = 64 << 30 }, "largest batch that fits", "--batch 128"},
		{"no room to double", "larger-batch", false, func(r *Report) {}, "", ""},
		{"dataset too small to double", "larger-batch", false, func(r *Report) { r.Memory.AvailableBytes, r.Dataset.Samples = 1<<40, 2000 }, "", ""},

		{"GEMM-bound GPU run", "bf16", true, func(r *Report) {
			r.Config.Backend, r.Profile[0].Share, r.Profile[2].Share = "cuda/auto (NVIDIA H100)", 0.7, 0.25
		}, "GEMM share of the profiled time", "--precision bf16"},
		{"large model on GPU", "bf16", true, func(r *Report) {
			r.Config.Backend, r.Config.Params, r.Profile = "cuda/auto (NVIDIA H100)", 50_000_000, nil
		}, "parameters", "--precision bf16"},
		{"GEMM-bound CPU run", "bf16", false, func(r *Report) { r.Profile[0].Share, r.Profile[2].Share = 0.7, 0.25 }, "", ""},
		{"already bf16", "bf16", false, func(r *Report) {
			r.Config.Backend, r.Config.Precision, r.Profile[0].Share = "cuda/auto (NVIDIA H100)", "bf16", 0.9
		}, "", ""},
		{"GPU run not GEMM-bound, small model", "bf16", false, func(r *Report) { r.Config.Backend = "cuda/auto (NVIDIA H100)" }, "", ""},

		{"GPU at 30%", "gpu-underutilised", true, func(r *Report) {
			r.Config.Backend = "cuda/auto (NVIDIA H100)"
			r.Resources.Summary.GPUs = []GPUSummary{{Index: 0, Name: "H100", Readings: 20, MeanUtilPercent: 30}}
		}, "gpu0 mean utilisation", ""},
		{"idle GPU beside a CPU run", "gpu-underutilised", true, func(r *Report) {
			r.Resources.Summary.GPUs = []GPUSummary{{Index: 0, Name: "H100", Readings: 20, MeanUtilPercent: 0}}
		}, "gpu0 mean utilisation", "--device gpu:1"},
		{"GPU at 85%", "gpu-underutilised", false, func(r *Report) {
			r.Config.Backend = "cuda/auto (NVIDIA H100)"
			r.Resources.Summary.GPUs = []GPUSummary{{Index: 0, Name: "H100", Readings: 20, MeanUtilPercent: 85}}
		}, "", ""},
		{"one GPU reading", "gpu-underutilised", false, func(r *Report) {
			r.Resources.Summary.GPUs = []GPUSummary{{Index: 0, Name: "H100", Readings: 1, MeanUtilPercent: 0}}
		}, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := baseReport()
			c.mutate(r)
			fs := Advise(r, est)
			f := finding(fs, c.rule)
			if !c.fire {
				if f != nil {
					t.Fatalf("rule %s fired: %+v", c.rule, *f)
				}
				return
			}
			if f == nil {
				t.Fatalf("rule %s did not fire; findings %+v", c.rule, fs)
			}
			if f.Message == "" || f.Severity != SeverityInfo && f.Severity != SeverityWarning {
				t.Fatalf("finding %+v: expected a message and a severity", *f)
			}
			if f.Suggestion != c.suggestion {
				t.Errorf("suggestion %q, expected %q", f.Suggestion, c.suggestion)
			}
			var trig *Evidence
			for i, e := range f.Evidence {
				if e.Name == c.evidence {
					trig = &f.Evidence[i]
				}
			}
			if trig == nil || trig.Threshold == nil || trig.Op == "" {
				t.Fatalf("evidence %+v: expected %q with its threshold", f.Evidence, c.evidence)
			}
			// The evidence's comparison holds.
			v, th := trig.Value, *trig.Threshold
			if ok := map[string]bool{"<": v < th, "<=": v <= th, ">": v > th, ">=": v >= th}[trig.Op]; !ok {
				t.Fatalf("evidence %s = %v %s %v does not hold", trig.Name, v, trig.Op, th)
			}
		})
	}
}

// TestAdviceBaseIsQuiet: the healthy run draws no advice, and a report
// with no estimator and no readings draws none either (rules skip what
// they cannot judge).
func TestAdviceBaseIsQuiet(t *testing.T) {
	if fs := Advise(baseReport(), fakeEstimator{fixed: 100 << 20, perSample: 64 << 20}); len(fs) != 0 {
		t.Fatalf("findings on a healthy run: %+v", fs)
	}
	if fs := Advise(&Report{SchemaVersion: SchemaVersion, Kind: KindTrain}, nil); fs == nil || len(fs) != 0 {
		t.Fatalf("findings on an empty report: %#v, expected an empty list", fs)
	}
}

// TestAdviceNoResidual: near the memory limit with a model that cannot
// recompute, the advice is micro-batches.
func TestAdviceNoResidual(t *testing.T) {
	r := baseReport()
	r.Memory.MeasuredPeakRSSBytes = 15 << 30
	f := finding(Advise(r, fakeEstimator{fixed: 100 << 20, perSample: 64 << 20, noResidual: true}), "recompute")
	if f == nil || f.Suggestion != "--micro-batch 32" || !strings.Contains(f.Message, "no residual blocks") {
		t.Fatalf("finding %+v, expected micro-batches", f)
	}
}

// TestAdviceRealEstimator: the memory rules with the engine's estimator
// on real model specs: a ResNet near its memory limit is told which
// --recompute saves most, an MLP with room is told a larger batch.
func TestAdviceRealEstimator(t *testing.T) {
	r := baseReport()
	r.Config = Config{Model: "resnet:3x16x16-basic-2.2.2-8-10", Batch: 32, Optimizer: "sgd", Precision: "fp32", Threads: 1, Devices: 1, Backend: "cpu/go"}
	est := SpecEstimator(r.Config)
	peak, err := est.PeakBytes(32, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.Memory = Memory{PredictedPeakBytes: peak, AvailableBytes: peak + peak/20}
	r.Resources.Summary = ResourceSummary{}
	f := finding(Advise(r, est), "recompute")
	if f == nil || !strings.HasPrefix(f.Suggestion, "--recompute ") {
		t.Fatalf("finding %+v, expected a --recompute suggestion", f)
	}
	var n int
	fmt.Sscanf(f.Suggestion, "--recompute %d", &n)
	with, err := est.PeakBytes(32, n)
	if err != nil || with >= peak || !strings.Contains(f.Message, fmtBytes(peak-with)) {
		t.Fatalf("--recompute %d: predicted %d vs %d (%v); message %q should name the saving", n, with, peak, err, f.Message)
	}

	r = baseReport()
	r.Config.Model, r.Config.Threads = "mlp:784-64-10", 1
	r.Memory = Memory{MeasuredPeakRSSBytes: 200 << 20, AvailableBytes: 4 << 30}
	f = finding(Advise(r, SpecEstimator(r.Config)), "larger-batch")
	if f == nil || f.Suggestion != fmt.Sprintf("--batch %d", 64<<5) { // 60000 samples / 16 steps caps it at 2048
		t.Fatalf("finding %+v, expected --batch 2048", f)
	}
}
