//go:build cuda || cudaemu

package devtrain_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/devtrain"
	"github.com/pouw/pouwd/ml/mnist"
	"github.com/pouw/pouwd/pouw"
)

// openDevice opens GPU 0 (tag cuda; skips without one) or the host
// emulator (tag cudaemu) for training.
func openDevice(t testing.TB) *cuda.Backend {
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

// trace is what a run exposes of every step: the version 1 hashes (default
// mode) or the pouw/v2 samples (sampled mode), the losses, the commitment
// made at step 1, and at the end the checkpoint's bytes.
type trace struct {
	steps      []ml.StepInfo
	samples    [][2]pouw.Hash
	commitment *ml.Commitment
	checkpoint []byte
	weights    string
}

// train runs steps steps of spec from seed 3 on data, on the host or
// resident on b, in default or sampled mode, committing at step 1.
func train(t *testing.T, b *cuda.Backend, spec string, cfg ml.TrainConfig, data ml.Dataset, steps int, sampled bool) trace {
	t.Helper()
	m, err := ml.NewModel(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	host, err := cpu.New(cpu.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Steps, cfg.Epochs = steps, 0
	tr, err := ml.NewTrainer(m, data, cfg, host)
	if err != nil {
		t.Fatal(err)
	}
	if sampled {
		tr.SampledSteps()
	}
	if b != nil {
		d, err := devtrain.New(b, tr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		if err := tr.SetResident(d); err != nil {
			t.Fatal(err)
		}
	}
	var tc trace
	hook := func(s ml.StepInfo) error {
		if sampled {
			g, w, err := s.Samples(pouw.Hash{byte(s.Step), 9})
			if err != nil {
				return err
			}
			tc.samples = append(tc.samples, [2]pouw.Hash{g, w})
		}
		s.Indices, s.Commitment = nil, nil
		tc.steps = append(tc.steps, s)
		return nil
	}
	for !tr.Done() {
		if tr.StepIndex() == 1 {
			c, _, err := tr.StepCommitting(hook, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.commitment = c
			continue
		}
		if _, err := tr.Step(hook); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := tr.SaveCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	tc.checkpoint = buf.Bytes()
	h := ml.HashTensors(ml.DomainWeights, ml.WeightsTensors(tr.Model))
	tc.weights = string(h[:])
	return tc
}

func compare(t *testing.T, host, dev trace) {
	t.Helper()
	if len(host.steps) != len(dev.steps) {
		t.Fatalf("%d steps on the host, %d on the device", len(host.steps), len(dev.steps))
	}
	for i := range host.steps {
		h, d := host.steps[i], dev.steps[i]
		h.LossScale, d.LossScale = 0, 0
		if h.Loss != d.Loss || h.WeightsBefore != d.WeightsBefore || h.Grads != d.Grads || h.WeightsAfter != d.WeightsAfter || h.Batch != d.Batch {
			t.Fatalf("step %d differs:\nhost   %+v\ndevice %+v", i, h, d)
		}
	}
	for i := range host.samples {
		if host.samples[i] != dev.samples[i] {
			t.Fatalf("step %d: samples %x on the host, %x on the device", i, host.samples[i], dev.samples[i])
		}
	}
	if host.commitment.WeightsHash != dev.commitment.WeightsHash || host.commitment.OptimizerHash != dev.commitment.OptimizerHash ||
		!bytes.Equal(host.commitment.Checkpoint, dev.commitment.Checkpoint) {
		t.Fatal("the step-1 commitments differ")
	}
	if !bytes.Equal(host.checkpoint, dev.checkpoint) || host.weights != dev.weights {
		t.Fatal("the final checkpoints differ")
	}
}

// TestResidentMatchesHost: every step of a resident run has the host's
// loss, version 1 hashes and pouw/v2 samples, its commitment and final
// checkpoint are the host's bytes, for each activation and optimizer.
func TestResidentMatchesHost(t *testing.T) {
	b := openDevice(t)
	base := ml.DefaultTrainConfig()
	base.BatchSize = 16
	cases := []struct {
		name, spec string
		cfg        func(c *ml.TrainConfig)
	}{
		{"relu-sgd", "mlp:64-32-16-10", func(c *ml.TrainConfig) {}},
		{"gelu-momentum-wd", "mlp:64-24-10,act=gelu", func(c *ml.TrainConfig) { c.Momentum, c.WeightDecay = 0.9, 1e-3 }},
		{"tanh-momentum", "mlp:64-24-10,act=tanh", func(c *ml.TrainConfig) { c.Momentum = 0.5 }},
		{"relu-adam-wd", "mlp:64-32-10", func(c *ml.TrainConfig) { c.Optimizer, c.LR, c.WeightDecay = "adam", 1e-3, 1e-2 }},
		{"relu-adamw", "mlp:64-32-10", func(c *ml.TrainConfig) { c.Optimizer, c.LR, c.WeightDecay = "adamw", 1e-3, 1e-2 }},
		{"cnn-max", "cnn:1x8x8-2x2-10", func(c *ml.TrainConfig) { c.Momentum = 0.9 }},
		{"cnn-avg-fc-adam", "cnn:2x12x12-2x3-10,pool=avg,fc=8", func(c *ml.TrainConfig) { c.Optimizer, c.LR = "adam", 1e-3 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.cfg(&cfg)
			m, err := ml.NewModel(tc.spec, 3)
			if err != nil {
				t.Fatal(err)
			}
			data := ml.SyntheticDataset(m, 64, 5)
			for _, sampled := range []bool{false, true} {
				compare(t, train(t, nil, tc.spec, cfg, data, 5, sampled), train(t, b, tc.spec, cfg, data, 5, sampled))
			}
		})
	}
}

// TestResidentRefuses: what has no device path yet is refused with an
// error naming it, before anything runs.
func TestResidentRefuses(t *testing.T) {
	b := openDevice(t)
	host, _ := cpu.New(cpu.Options{Threads: 1})
	for _, tc := range []struct{ spec, precision, want string }{
		{"resnet:3x8x8-basic-1.1-4-5", "", "no device path yet"},
		{"cnn:1x8x8-1x2-10,bn", "", "normalisation"},
		{"mlp:64-16-10,norm=batch", "", "normalisation"},
		{"mlp:64-16-10,dropout=0.5", "", "Dropout"},
		{"mlp:64-16-10", ml.PrecisionBF16, "precision bf16"},
	} {
		m, err := ml.NewModel(tc.spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.Precision = 8, tc.precision
		tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 16, 1), cfg, host)
		if err != nil {
			t.Fatal(err)
		}
		d, err := devtrain.New(b, tr)
		if err == nil {
			err = tr.SetResident(d)
			d.Close()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: error %v, expected one saying %q", tc.spec, tc.precision, err, tc.want)
		}
	}
}

// TestResidentGolden: the goldens of package ml (mlp:784-256-10 and
// cnn:1x28x28-2x8-10, 200 steps of SGD with momentum on MNIST; ml's
// TestGoldenWeights pins them on every CPU kernel and thread count)
// trained resident on the device give the same weights.
func TestResidentGolden(t *testing.T) {
	for _, g := range []struct{ spec, golden string }{
		{"mlp:784-256-10", "18edb5b14fe5528dab4e4cde5319b46522abcdc8f198a3b527fd3465b29a86c7"},
		{"cnn:1x28x28-2x8-10", "f2b031631dfaabe998187f75e18c819c03e22a1cafea80438eddc29c1dff37f2"},
	} {
		t.Run(g.spec, func(t *testing.T) { residentGolden(t, g.spec, g.golden) })
	}
}

func residentGolden(t *testing.T, spec, golden string) {
	b := openDevice(t)
	dir, err := mnist.FindDir()
	if err != nil {
		t.Fatalf("MNIST: %v", err)
	}
	train, _, err := mnist.Load(dir)
	if err != nil {
		t.Fatalf("MNIST: %v", err)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Seed, cfg.Steps, cfg.Epochs = 0.05, 0.9, 64, 1, 200, 0
	m, err := ml.NewModel(spec, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := cpu.New(cpu.Options{Threads: 1})
	tr, err := ml.NewTrainer(m, train, cfg, host)
	if err != nil {
		t.Fatal(err)
	}
	d, err := devtrain.New(b, tr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := tr.SetResident(d); err != nil {
		t.Fatal(err)
	}
	res, err := tr.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.WeightsSHA256 != golden {
		t.Errorf("%s after 200 resident steps on %s: weights SHA-256 %s, golden %s", spec, b.Name(), res.WeightsSHA256, golden)
	}
}
