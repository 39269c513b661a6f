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
	"github.com/pouw/pouwd/ml/mltest"
	"github.com/pouw/pouwd/ml/mnist"
	"github.com/pouw/pouwd/pouw"
)

// openDevice opens GPU 0 (tag cuda; skips without one) or the host
// emulator (tag cudaemu) for training.
func openDevice(t testing.TB) *cuda.Backend {
	t.Helper()
	return openDeviceWith(t, cuda.DefaultOptions())
}

// openDeviceWith is openDevice with options (a budget fraction).
func openDeviceWith(t testing.TB, o cuda.Options) *cuda.Backend {
	t.Helper()
	b, err := cuda.OpenForTraining(0, o)
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
	var bs []*cuda.Backend
	if b != nil {
		bs = append(bs, b)
	}
	return trainOn(t, bs, spec, cfg, data, steps, sampled)
}

// trainOn is train resident on the devices bs (NewDevices; none: the
// host).
func trainOn(t *testing.T, bs []*cuda.Backend, spec string, cfg ml.TrainConfig, data ml.Dataset, steps int, sampled bool) trace {
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
	if len(bs) > 0 {
		d, err := devtrain.NewDevices(bs, tr)
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

// matchHost trains spec for steps steps on the host and resident on b, in
// default and sampled mode, and compares every step (compare).
func matchHost(t *testing.T, b *cuda.Backend, spec string, cfg ml.TrainConfig, steps int) {
	t.Helper()
	matchHostOn(t, []*cuda.Backend{b}, spec, cfg, steps)
}

func momentum(c *ml.TrainConfig) { c.LR, c.Momentum = 0.05, 0.9 }
func adam(c *ml.TrainConfig)     { c.Optimizer, c.LR = "adam", 1e-3 }
func adamw(c *ml.TrainConfig)    { c.Optimizer, c.LR, c.WeightDecay = "adamw", 1e-3, 1e-2 }

// residentCases runs each spec with each optimizer setting: batch 8,
// 4 steps (every step commits nothing but step 1, see train).
func residentCases(t *testing.T, specs []string, opts map[string]func(*ml.TrainConfig)) {
	b := openDevice(t)
	for _, spec := range specs {
		for name, o := range opts {
			t.Run(spec+"/"+name, func(t *testing.T) {
				cfg := ml.DefaultTrainConfig()
				cfg.BatchSize = 8
				o(&cfg)
				matchHost(t, b, spec, cfg, 4)
			})
		}
	}
}

// TestResidentResNet: ResNets train resident with the host's bits: basic
// and bottleneck blocks, identity and projection shortcuts (gradients into
// a block's input accumulated in ml/graph.go's order), BatchNorm in
// training with its running statistics (buffers), bias-free convolutions,
// both stems (the imagenet one's padded max pool), global average pooling;
// and BatchNorm, LayerNorm and dropout in CNNs and MLPs.
func TestResidentResNet(t *testing.T) {
	residentCases(t, []string{
		"resnet:3x8x8-basic-1.1-4-5",
		"resnet:3x16x16-bottleneck-1.1-2-3,stem=imagenet",
		"cnn:1x8x8-2x2-10,bn,fc=6,dropout=0.3",
		"mlp:12-10-8-4,norm=batch,act=gelu",
		"mlp:12-10-4,norm=layer,act=tanh,dropout=0.5",
	}, map[string]func(*ml.TrainConfig){"momentum": momentum, "adam": adam})
}

// TestResidentTransformer: Transformers and ViTs train resident with the
// host's bits: token embeddings, learned and sinusoidal positions, causal
// and full attention (per-sample, per-head GEMMs), LayerNorm, per-token
// Linear layers, plain residual blocks, mean and last-token pooling, the
// ViT's patch embedding and patch tokens, and dropout.
func TestResidentTransformer(t *testing.T) {
	residentCases(t, []string{
		"transformer:6-11-1x8x2-11,causal,head=last,pos=sin",
		"transformer:4-8-2x8x2-3,mlp=1",
		"transformer:5-7-1x8x2-4,causal,dropout=0.2",
		"vit:3x8x8-4-1x8x2-5,mlp=2",
		"vit:2x8x8-2-1x8x4-3,mlp=1,dropout=0.1",
	}, map[string]func(*ml.TrainConfig){"momentum": momentum, "adam": adam, "adamw": adamw})
}

// TestResidentMemory: the memory New checks against the budget covers
// what a resident run allocates, its kernels' own buffers included (the
// backend's peak over a few steps), for each family, at sampled steps
// whose hook gathers the pouw/v2 samples on the device (accel/cuda's
// SampleValues allocates its argument block while the run's buffers are
// held). Then the same run on a backend whose budget is exactly what New
// counted trains those steps: nothing it allocates is left uncounted.
func TestResidentMemory(t *testing.T) {
	host, _ := cpu.New(cpu.Options{Threads: 1})
	hook := func(s ml.StepInfo) error {
		_, _, err := s.Samples(pouw.Hash{byte(s.Step), 3})
		return err
	}
	run := func(b *cuda.Backend, spec string) (*devtrain.Trainer, error) {
		m, err := ml.NewModel(spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.Optimizer = 8, "adam"
		tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 16, 1), cfg, host)
		if err != nil {
			t.Fatal(err)
		}
		tr.SampledSteps()
		d, err := devtrain.New(b, tr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		if err := tr.SetResident(d); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if _, err := tr.Step(hook); err != nil {
				return d, err
			}
		}
		return d, nil
	}
	for _, spec := range []string{"mlp:16-12-10", "cnn:1x8x8-2x2-10,fc=6", "resnet:3x16x16-bottleneck-1.1-2-3,stem=imagenet", "transformer:6-11-2x8x2-11,causal,dropout=0.1", "vit:3x8x8-4-1x8x2-5"} {
		b := openDevice(t) // a fresh backend: its peak is this run's
		d, err := run(b, spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		st, err := b.Memory()
		if err != nil {
			t.Fatal(err)
		}
		counted := 4 * uint64(devtrain.Floats(d))
		if st.Peak > counted {
			t.Errorf("%s: peak %d bytes on the device, New counted %d", spec, st.Peak, counted)
		}
		_ = d.Close()
		// A budget of exactly the counted bytes.
		avail := b.Budget().Available
		o := cuda.DefaultOptions()
		o.BudgetFraction = (float64(counted) + 0.5) / float64(avail)
		exact, err := cuda.OpenForTraining(0, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = exact.Close() })
		if lim := exact.Budget().Limit(); lim < counted || lim > counted+4 {
			t.Fatalf("%s: budget %d bytes, expected %d", spec, lim, counted)
		}
		if _, err := run(exact, spec); err != nil {
			t.Errorf("%s on a budget of the %d bytes New counted (peak %d): %v", spec, counted, st.Peak, err)
		}
	}
}

// TestResidentRefuses: what has no device path yet is refused with an
// error naming it, before anything runs: half precision (New wraps
// ErrUnsupported; ml's SetResident refuses it too: the device path trains
// in fp32). Micro-batches train resident (micro_test.go).
func TestResidentRefuses(t *testing.T) {
	b := openDevice(t)
	host, _ := cpu.New(cpu.Options{Threads: 1})
	for _, tc := range []struct {
		spec, precision string
		micro           int
		want            string
	}{
		{"mlp:64-16-10", ml.PrecisionBF16, 0, "precision bf16"},
		{"resnet:3x8x8-basic-1.1-4-5", ml.PrecisionFP16, 0, "precision fp16"},
		{"transformer:4-8-1x8x2-3", ml.PrecisionBF16, 4, "precision bf16"},
	} {
		m, err := ml.NewModel(tc.spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.Precision, cfg.MicroBatch = 8, tc.precision, tc.micro
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

// TestResidentRefusesLayer: a layer without a device path is refused by
// New with an error wrapping ErrUnsupported that names it, so Place keeps
// the run on the host path.
func TestResidentRefusesLayer(t *testing.T) {
	b := openDevice(t)
	host, _ := cpu.New(cpu.Options{Threads: 1})
	m, err := ml.NewModel("mlp:8-6-3", 1)
	if err != nil {
		t.Fatal(err)
	}
	// An activation ml's spec grammar does not make: placing it fails.
	m.Layers[1] = &ml.Activation{Kind: "softsign"}
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize = 8
	tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 16, 1), cfg, host)
	if err != nil {
		t.Fatal(err)
	}
	_, err = devtrain.New(b, tr)
	if !errors.Is(err, devtrain.ErrUnsupported) || !strings.Contains(err.Error(), `activation "softsign"`) {
		t.Errorf("error %v, expected ErrUnsupported naming the activation", err)
	}
	release, note, err := devtrain.Place(b, tr)
	if err != nil || release != nil || !strings.Contains(note, "host path") {
		t.Errorf("Place: release %v, note %q, error %v; expected the host path", release != nil, note, err)
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

// TestResidentGoldenFamilies: package ml's ResNet, Transformer and ViT
// goldens (ml's TestResNetGoldenWeights and TestTransformerGoldenWeights
// pin them on every CPU kernel and thread count; the data generators are
// theirs) trained resident give the same weights.
func TestResidentGoldenFamilies(t *testing.T) {
	b := openDevice(t)
	host, _ := cpu.New(cpu.Options{Threads: 1})
	sgd := ml.DefaultTrainConfig()
	sgd.LR, sgd.Momentum, sgd.WeightDecay, sgd.BatchSize, sgd.Seed, sgd.Steps = 0.05, 0.9, 5e-4, 32, 1, 12
	adamw := ml.DefaultTrainConfig()
	adamw.Optimizer, adamw.LR, adamw.WeightDecay, adamw.BatchSize, adamw.Seed, adamw.Steps = "adamw", 3e-3, 0.01, 32, 1, 12
	for _, g := range []struct {
		spec   string
		cfg    ml.TrainConfig
		data   ml.Dataset
		golden string
	}{
		{"resnet:3x8x8-basic-2.2-8-10", sgd, mltest.ResNetGoldenData(), mltest.ResNetGolden},
		{"transformer:12-16-2x16x4-16,causal,head=last,dropout=0.1", adamw, mltest.TextGoldenData(512), mltest.TransformerGolden},
		{"vit:3x8x8-4-2x16x2-10,mlp=2", adamw, mltest.ResNetGoldenData(), mltest.ViTGolden},
	} {
		t.Run(g.spec, func(t *testing.T) {
			cfg := g.cfg
			cfg.Epochs = 0
			m, err := ml.NewModel(g.spec, cfg.Seed)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := ml.NewTrainer(m, g.data, cfg, host)
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
			if res.WeightsSHA256 != g.golden {
				t.Errorf("%s after %d resident steps: weights SHA-256 %s, golden %s", g.spec, cfg.Steps, res.WeightsSHA256, g.golden)
			}
		})
	}
}
