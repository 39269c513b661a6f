//go:build cuda || cudaemu

package ml_test

import (
	"errors"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mltest"
)

// openTrainingCUDA opens device 0 for training tests, closed when the
// test ends; it skips without a usable GPU (tag cuda). On the host
// emulator (tag cudaemu) it opens the reference kernel: the emulator runs
// a tiled kernel's threads as real threads meeting at barriers, far too
// slow for training, and the reference kernel computes the same bits
// without barriers.
func openTrainingCUDA(t *testing.T) *cuda.Backend {
	t.Helper()
	b, err := cuda.OpenForTraining(0, cuda.DefaultOptions())
	if errors.Is(err, cuda.ErrNoGPU) {
		t.Skipf("no usable NVIDIA GPU: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestGoldenWeightsCUDA reproduces the golden hashes (TestGoldenWeights)
// with the CUDA backend as ml's accel.Backend: every GEMM of training runs
// on the device (tag cuda: a GPU; tag cudaemu: the host emulator of the
// same kernels, for 3 steps against the CPU's bits, as it is slow),
// everything else in ml's canonical Go. The bits must be the CPU's. Without a usable GPU (tag cuda) it skips, saying why.
// scripts/gpu-build.sh builds it for a GPU machine (MNIST comes along in
// build/gpu/mnist; POUWD_MNIST_DIR points the loader at it).
func TestGoldenWeightsCUDA(t *testing.T) {
	b := openTrainingCUDA(t)
	emulated := b.Emulated()
	train, _ := loadMNIST(t)
	for _, g := range goldens {
		t.Run(g.name+"/"+b.Name(), func(t *testing.T) {
			cfg := goldenConfig()
			want := g.want
			if emulated {
				// 200 steps on the emulator take minutes: 3 steps, against
				// the CPU backend's bits for the same 3 steps.
				cfg.Steps = 3
				want = trainHash(t, g.spec, cfg, cpu.Options{Threads: 1}, train)
			}
			res := trainOn(t, g.spec, cfg, b, train)
			if res.WeightsSHA256 != want {
				t.Errorf("%s after %d steps on %s: weights SHA-256 %s, expected %s", g.spec, cfg.Steps, b.Name(), res.WeightsSHA256, want)
			}
			t.Logf("%s on %s: %.0f samples/s (GEMM on the device, the rest on the host)", g.spec, b.Name(), res.SamplesPerSecond)
		})
	}
}

// TestLargeGoldenWeightsCUDA reproduces the ResNet, Transformer and ViT
// golden hashes (TestResNetGoldenWeights, TestTransformerGoldenWeights)
// with every GEMM on the CUDA backend (the emulator's reference kernel
// under cudaemu), all 12 steps: residual blocks, attention and patch
// embeddings give the CPU's bits with device GEMMs.
func TestLargeGoldenWeightsCUDA(t *testing.T) {
	b := openTrainingCUDA(t)
	text, images := mltest.TextGoldenData(512), mltest.ResNetGoldenData()
	for _, g := range []struct {
		spec, want string
		cfg        ml.TrainConfig
		data       ml.Dataset
	}{
		{resnetGoldenSpec, resnetGolden, resnetGoldenConfig(), images},
		{transformerGoldenSpec, transformerGolden, transformerGoldenConfig(), text},
		{vitGoldenSpec, vitGolden, transformerGoldenConfig(), images},
	} {
		t.Run(g.spec, func(t *testing.T) {
			if res := trainOn(t, g.spec, g.cfg, b, g.data); res.WeightsSHA256 != g.want {
				t.Errorf("%s on %s: weights SHA-256 %s, golden %s", g.spec, b.Name(), res.WeightsSHA256, g.want)
			}
		})
	}
}
