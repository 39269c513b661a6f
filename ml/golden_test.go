package ml_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mnist"
)

var (
	mnistOnce            sync.Once
	mnistTrain, mnist10k ml.Dataset
	mnistErr             error
)

// loadMNIST loads the real MNIST files from the GoMNIST module (once per
// test binary). The tests need them: the module is a dependency in go.mod.
func loadMNIST(t testing.TB) (ml.Dataset, ml.Dataset) {
	t.Helper()
	mnistOnce.Do(func() {
		dir, err := mnist.FindDir()
		if err != nil {
			mnistErr = err
			return
		}
		mnistTrain, mnist10k, mnistErr = mnist.Load(dir)
	})
	if mnistErr != nil {
		t.Fatalf("MNIST: %v", mnistErr)
	}
	return mnistTrain, mnist10k
}

// goldenConfig is the configuration of the golden vectors: SGD, lr 0.05,
// momentum 0.9, batch 64, seed 1, 200 steps.
func goldenConfig() ml.TrainConfig {
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Seed, cfg.Steps = 0.05, 0.9, 64, 1, 200
	return cfg
}

// Golden weights SHA-256 after 200 steps on MNIST (goldenConfig). These
// are the canonical bits: every kernel, thread count and GOARCH must
// reproduce them.
var goldens = []struct{ name, spec, want string }{
	{"mlp", "mlp:784-256-10", "18edb5b14fe5528dab4e4cde5319b46522abcdc8f198a3b527fd3465b29a86c7"},
	{"cnn", "cnn:1x28x28-2x8-10", "f2b031631dfaabe998187f75e18c819c03e22a1cafea80438eddc29c1dff37f2"},
}

func trainHash(t testing.TB, spec string, cfg ml.TrainConfig, o cpu.Options, data ml.Dataset) string {
	t.Helper()
	return trainOn(t, spec, cfg, cpu.MustNew(o), data).WeightsSHA256
}

// trainOn trains spec from its seed for cfg.Steps steps on backend b.
func trainOn(t testing.TB, spec string, cfg ml.TrainConfig, b accel.Backend, data ml.Dataset) ml.Result {
	t.Helper()
	m, err := ml.NewModel(spec, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, data, cfg, b)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != uint64(cfg.Steps) {
		t.Fatalf("ran %d steps, want %d", res.Steps, cfg.Steps)
	}
	return res
}

// TestGoldenWeights reproduces the golden hashes with every available
// kernel (the assembly ones and pure Go; with -tags purego or on other
// architectures only pure Go exists) and with 1 and 2 threads.
func TestGoldenWeights(t *testing.T) {
	train, _ := loadMNIST(t)
	kernels := append(cpu.Kernels(), "go")
	for _, g := range goldens {
		for _, k := range kernels {
			for _, th := range []int{1, 2} {
				if k == "go" && th == 2 && (len(kernels) > 1 || g.name == "cnn") {
					continue // slow; the Go kernel's threading is covered by accel/cpu's tests
				}
				if k == "go" && len(kernels) > 1 && g.name == "cnn" && testing.Short() {
					continue // slow (emulated FMA); -short skips it, CI runs it
				}
				t.Run(fmt.Sprintf("%s/%s/t%d", g.name, k, th), func(t *testing.T) {
					got := trainHash(t, g.spec, goldenConfig(), cpu.Options{Threads: th, Kernel: k}, train)
					if got != g.want {
						t.Errorf("%s after 200 steps with kernel %s, %d threads: weights SHA-256 %s, golden %s", g.spec, k, th, got, g.want)
					}
				})
			}
		}
	}
}

func TestInitialWeightsHash(t *testing.T) {
	// W_0 is derived from the seed alone; it is what everyone can check.
	a, _ := ml.NewModel("mlp:784-256-10", 1)
	b, _ := ml.NewModel("mlp:784-256-10", 1)
	c, _ := ml.NewModel("mlp:784-256-10", 2)
	ha, hb, hc := ml.WeightsHash(a), ml.WeightsHash(b), ml.WeightsHash(c)
	if ha != hb || ha == hc {
		t.Fatalf("W_0 hashes: seed 1 %s / %s, seed 2 %s", hex.EncodeToString(ha[:]), hex.EncodeToString(hb[:]), hex.EncodeToString(hc[:]))
	}
}
