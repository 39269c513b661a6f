package ml_test

import (
	"fmt"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mltest"
)

// resnetGoldenConfig: SGD, lr 0.05, momentum 0.9, weight decay 5e-4, batch
// 32, seed 1, 12 steps.
func resnetGoldenConfig() ml.TrainConfig {
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.WeightDecay, cfg.BatchSize, cfg.Seed, cfg.Steps = 0.05, 0.9, 5e-4, 32, 1, 12
	return cfg
}

// The tiny ResNet: cifar stem, two stages of two basic blocks (identity
// and 1x1 stride-2 projection shortcuts), base width 8.
const resnetGoldenSpec = "resnet:3x8x8-basic-2.2-8-10"

// Golden weights SHA-256 of resnetGoldenSpec after resnetGoldenConfig's 12
// steps: whole batches, and micro-batches of 8 (ghost batch-norm
// statistics per micro-batch, so a different computation).
const (
	resnetGolden      = mltest.ResNetGolden
	resnetGoldenMicro = "2e1625eda9e32e3f9d205241b061fec6903186fad8e407e55859fb94426e36a3"
)

// goldenRun is a training run whose final weights hash is pinned.
type goldenRun struct {
	spec string
	cfg  ml.TrainConfig
	data ml.Dataset
	want string
}

// checkGoldens reproduces each whole-batch run with every CPU kernel at 1
// and 2 threads, and micro (its config has MicroBatch set) on 1 and 2 CPU
// devices with 1 or 2 threads each: neither kernels, threads nor devices
// may change a bit.
func checkGoldens(t *testing.T, runs []goldenRun, micro goldenRun) {
	kernels := append(cpu.Kernels(), "go")
	for _, k := range kernels {
		for _, th := range []int{1, 2} {
			if k == "go" && th == 2 && len(kernels) > 1 {
				continue
			}
			t.Run(fmt.Sprintf("%s/t%d", k, th), func(t *testing.T) {
				for _, g := range runs {
					if got := trainHash(t, g.spec, g.cfg, cpu.Options{Threads: th, Kernel: k}, g.data); got != g.want {
						t.Errorf("%s, kernel %s, %d threads: weights SHA-256 %s, golden %s", g.spec, k, th, got, g.want)
					}
				}
			})
		}
	}
	for _, devs := range [][]int{{1}, {2}, {1, 1}, {2, 1}} {
		t.Run(fmt.Sprintf("micro%d/devices%v", micro.cfg.MicroBatch, devs), func(t *testing.T) {
			var devices []accel.Backend
			for _, th := range devs {
				devices = append(devices, cpu.MustNew(cpu.Options{Threads: th}))
			}
			_, res := parallelRunSeed(t, micro.spec, micro.cfg, micro.data, devices, micro.cfg.Seed)
			if res.WeightsSHA256 != micro.want {
				t.Errorf("%s, micro-batch %d, devices with threads %v: weights SHA-256 %s, golden %s", micro.spec, micro.cfg.MicroBatch, devs, res.WeightsSHA256, micro.want)
			}
		})
	}
}

// TestResNetGoldenWeights reproduces the pinned hashes with every CPU
// kernel at 1 and 2 threads, and the micro-batch hash on 1 and 2 CPU
// devices (SetDevices), so neither threads, kernels nor devices change a
// bit of a residual network's training.
func TestResNetGoldenWeights(t *testing.T) {
	data := mltest.ResNetGoldenData()
	cfg := resnetGoldenConfig()
	cfg.MicroBatch = 8
	checkGoldens(t, []goldenRun{{resnetGoldenSpec, resnetGoldenConfig(), data, resnetGolden}},
		goldenRun{resnetGoldenSpec, cfg, data, resnetGoldenMicro})
}

// TestResNetHalfPrecisionDevices: bf16 training of the tiny ResNet gives
// the same step hashes on 1 and 2 devices and thread counts.
func TestResNetHalfPrecisionDevices(t *testing.T) {
	data := mltest.ResNetGoldenData()
	cfg := resnetGoldenConfig()
	cfg.Steps, cfg.Precision, cfg.MicroBatch = 4, ml.PrecisionBF16, 16
	a, ra := parallelRunSeed(t, resnetGoldenSpec, cfg, data, []accel.Backend{cpu.MustNew(cpu.Options{Threads: 1})}, 1)
	b, rb := parallelRunSeed(t, resnetGoldenSpec, cfg, data, []accel.Backend{cpu.MustNew(cpu.Options{Threads: 2}), cpu.MustNew(cpu.Options{Threads: 1})}, 1)
	sameRuns(t, "bf16 resnet, 1 vs 2 devices", a, b, ra, rb)
}
