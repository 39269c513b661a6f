package ml_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

// parallelRun trains cfg on the devices and logs every step.
func parallelRun(t *testing.T, spec string, cfg ml.TrainConfig, data ml.Dataset, devices []accel.Backend) ([]ml.StepInfo, ml.Result) {
	t.Helper()
	return parallelRunSeed(t, spec, cfg, data, devices, 5)
}

func parallelRunSeed(t *testing.T, spec string, cfg ml.TrainConfig, data ml.Dataset, devices []accel.Backend, seed uint64) ([]ml.StepInfo, ml.Result) {
	t.Helper()
	return trainLogged(t, spec, cfg, data, devices, seed, 0)
}

// trainLogged trains spec from seed on the devices (SetDevices), with
// activation recomputation every recompute residual blocks (0: none), and
// returns every step's version 1 hashes and the result.
func trainLogged(t *testing.T, spec string, cfg ml.TrainConfig, data ml.Dataset, devices []accel.Backend, seed uint64, recompute int) ([]ml.StepInfo, ml.Result) {
	t.Helper()
	return trainLoggedProfiled(t, spec, cfg, data, devices, seed, recompute, nil)
}

// trainLoggedProfiled is trainLogged with prof attached (nil: none).
func trainLoggedProfiled(t *testing.T, spec string, cfg ml.TrainConfig, data ml.Dataset, devices []accel.Backend, seed uint64, recompute int,
	prof *ml.Profiler) ([]ml.StepInfo, ml.Result) {
	t.Helper()
	m, err := ml.NewModel(spec, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRecompute(recompute); err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, data, cfg, devices[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetDevices(devices...); err != nil {
		t.Fatal(err)
	}
	tr.SetProfiler(prof)
	var log stepLog
	res, err := tr.Run(context.Background(), log.hook)
	if err != nil {
		t.Fatal(err)
	}
	return log.infos, res
}

func sameRuns(t *testing.T, what string, a, b []ml.StepInfo, ra, rb ml.Result) {
	t.Helper()
	if ra.WeightsSHA256 != rb.WeightsSHA256 || len(a) != len(b) {
		t.Fatalf("%s: final weights %s / %s after %d / %d steps", what, ra.WeightsSHA256, rb.WeightsSHA256, len(a), len(b))
	}
	for i := range a {
		if !sameInfo(a[i], b[i]) || a[i].LossScale != b[i].LossScale || a[i].Skipped != b[i].Skipped {
			t.Fatalf("%s: step %d differs:\n%+v\n%+v", what, i, a[i], b[i])
		}
	}
}

var parallelModels = []string{
	"mlp:784-32-10,dropout=0.2,norm=batch",
	"cnn:1x28x28-2x4-10,bn,fc=16,dropout=0.1",
}

// TestParallelDevices: 1, 2 and 4 CPU devices (with different thread
// counts) give identical step hashes and final weights, for an MLP and a
// CNN with batch norm (ghost-batch statistics per micro-batch) and
// dropout, in fp32 and bf16.
func TestParallelDevices(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	for _, spec := range parallelModels {
		for _, prec := range []string{"", "bf16"} {
			t.Run(fmt.Sprintf("%s/%s", spec, prec), func(t *testing.T) {
				cfg := ml.DefaultTrainConfig()
				cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Steps, cfg.Epochs = 0.05, 0.9, 64, 12, 0
				cfg.Precision, cfg.MicroBatch = prec, 16
				a, ra := parallelRun(t, spec, cfg, data, cpus(1))
				for _, devs := range [][]int{{1, 1}, {1, 2, 1, 2}} {
					b, rb := parallelRun(t, spec, cfg, data, cpus(devs...))
					sameRuns(t, fmt.Sprintf("%d devices vs 1", len(devs)), a, b, ra, rb)
				}
			})
		}
	}
}

// TestParallelMicroBatchEqualsPlain: one micro-batch of the whole batch is
// the plain step, bit for bit (fp32 and bf16), and smaller micro-batches
// are a different computation that still trains.
func TestParallelMicroBatchEqualsPlain(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	for _, spec := range parallelModels {
		for _, prec := range []string{"", "bf16"} {
			t.Run(fmt.Sprintf("%s/%s", spec, prec), func(t *testing.T) {
				cfg := ml.DefaultTrainConfig()
				cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Steps, cfg.Epochs = 0.05, 0.9, 32, 12, 0
				cfg.Precision = prec
				a, ra := parallelRun(t, spec, cfg, data, cpus(1))
				cfg.MicroBatch = 32
				b, rb := parallelRun(t, spec, cfg, data, cpus(2))
				sameRuns(t, "micro-batch = batch vs whole batch", a, b, ra, rb)
				cfg.MicroBatch = 8
				c, rc := parallelRun(t, spec, cfg, data, cpus(1, 1))
				if rc.WeightsSHA256 == ra.WeightsSHA256 {
					t.Fatal("micro-batches of 8 give the whole batch's bits")
				}
				if c[len(c)-1].Loss > 1.5*a[len(a)-1].Loss+0.2 {
					t.Fatalf("micro-batches of 8: loss %v, whole batch %v", c[len(c)-1].Loss, a[len(a)-1].Loss)
				}
			})
		}
	}
}

// TestParallelDevicesNeedMicroBatches: several devices without
// micro-batches are refused (the device count must not decide the bits).
func TestParallelDevicesNeedMicroBatches(t *testing.T) {
	train, _ := loadMNIST(t)
	m, _ := ml.NewModel("mlp:784-16-10", 1)
	tr, err := ml.NewTrainer(m, subset(train, 640), ml.DefaultTrainConfig(), cpus(1)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetDevices(cpus(1, 1)...); err == nil {
		t.Fatal("two devices accepted without micro-batches")
	}
	if err := tr.SetDevices(cpus(2)...); err != nil || tr.Backend.Threads() != 2 {
		t.Fatalf("one device: %v", err)
	}
}
