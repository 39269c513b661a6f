package ml_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
)

func subset(d ml.Dataset, n int) ml.Dataset {
	ss := len(d.X) / d.N
	return ml.Dataset{X: d.X[:n*ss], Y: d.Y[:n], N: n, Shape: d.Shape, Classes: d.Classes}
}

// resumeModels are the models of the resume tests: dropout, layer norm,
// GELU and AdamW; batch norm, average pooling and SGD with momentum.
var resumeModels = []struct{ spec, opt string }{
	{"mlp:784-32-10,dropout=0.2,norm=layer,act=gelu", "adamw"},
	{"cnn:1x28x28-1x4-10,bn,pool=avg,fc=16", "sgd"},
}

// resumeConfig is their training: 25 steps of batch 64 (2.5 epochs of the
// 640-sample subset, so the permutation changes), lr 0.01, momentum 0.9,
// weight decay 0.01.
func resumeConfig(opt string) ml.TrainConfig {
	cfg := ml.DefaultTrainConfig()
	cfg.Optimizer, cfg.LR, cfg.Momentum, cfg.WeightDecay, cfg.BatchSize, cfg.Steps, cfg.Epochs = opt, 0.01, 0.9, 0.01, 64, 25, 0
	return cfg
}

type stepLog struct{ infos []ml.StepInfo }

func (l *stepLog) hook(s ml.StepInfo) error {
	s.Indices = nil
	l.infos = append(l.infos, s)
	return nil
}

// TestResumeEqualsNeverStopping trains 25 steps (2.5 epochs, so the
// permutation changes) straight through, and again with a checkpoint
// written after step 13, read back and resumed in a fresh trainer. Every
// step's work-proof hashes and the final weights must be identical.
func TestResumeEqualsNeverStopping(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	for _, tc := range resumeModels {
		t.Run(tc.spec, func(t *testing.T) {
			cfg := resumeConfig(tc.opt)
			be := cpu.MustNew(cpu.Options{Threads: 1})
			m, err := ml.NewModel(tc.spec, 7)
			if err != nil {
				t.Fatal(err)
			}
			straight, err := ml.NewTrainer(m, data, cfg, be)
			if err != nil {
				t.Fatal(err)
			}
			var a stepLog
			resA, err := straight.Run(context.Background(), a.hook)
			if err != nil {
				t.Fatal(err)
			}

			m2, _ := ml.NewModel(tc.spec, 7)
			first, _ := ml.NewTrainer(m2, data, cfg, be)
			var b stepLog
			for i := 0; i < 13; i++ {
				if _, err := first.Step(b.hook); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := first.SaveCheckpoint(&buf); err != nil {
				t.Fatal(err)
			}
			ck, err := ml.ReadCheckpoint(bytes.NewReader(buf.Bytes()), 0)
			if err != nil {
				t.Fatal(err)
			}
			second, err := ml.ResumeTrainer(ck, data, cpu.MustNew(cpu.Options{Threads: 2}))
			if err != nil {
				t.Fatal(err)
			}
			resB, err := second.Run(context.Background(), b.hook)
			if err != nil {
				t.Fatal(err)
			}
			if resA.WeightsSHA256 != resB.WeightsSHA256 {
				t.Fatalf("final weights: straight %s, resumed %s", resA.WeightsSHA256, resB.WeightsSHA256)
			}
			if len(a.infos) != 25 || len(b.infos) != 25 {
				t.Fatalf("steps: %d straight, %d resumed", len(a.infos), len(b.infos))
			}
			for i := range a.infos {
				if !sameInfo(a.infos[i], b.infos[i]) {
					t.Fatalf("step %d differs:\nstraight %+v\nresumed  %+v", i, a.infos[i], b.infos[i])
				}
				if i > 0 && a.infos[i].WeightsBefore != a.infos[i-1].WeightsAfter {
					t.Fatalf("step %d: H(W_i) is not the previous H(W_i+1)", i)
				}
			}
		})
	}
}

func TestCheckpointRejectsCorruption(t *testing.T) {
	m, _ := ml.NewModel("mlp:4-3-2", 1)
	var buf bytes.Buffer
	if err := ml.SaveModel(&buf, m); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	ck, err := ml.ReadCheckpoint(bytes.NewReader(good), 0)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ck.Model()
	if err != nil || ml.WeightsHash(m2) != ml.WeightsHash(m) {
		t.Fatalf("round trip: %v", err)
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 1
	other, _ := ml.NewModel("mlp:4-5-2", 1)
	var obuf bytes.Buffer
	_ = ml.SaveModel(&obuf, other)
	ock, _ := ml.ReadCheckpoint(bytes.NewReader(obuf.Bytes()), 0)
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"bit flip", flip},
		{"truncated", good[:len(good)-5]},
		{"foreign", []byte("PK\x03\x04 not a checkpoint at all, just some zip-looking bytes....")},
		{"empty", nil},
	} {
		if _, err := ml.ReadCheckpoint(bytes.NewReader(tc.raw), 0); !errors.Is(err, ml.ErrCheckpoint) {
			t.Errorf("%s: err = %v, want ErrCheckpoint", tc.name, err)
		}
	}
	if _, err := ml.ReadCheckpoint(bytes.NewReader(good), int64(len(good)-1)); !errors.Is(err, ml.ErrCheckpoint) {
		t.Errorf("over the size limit: %v", err)
	}
	// A valid checkpoint of another model must not load into this one.
	if err := ml.LoadWeights(m, ock.Weights); !errors.Is(err, ml.ErrCheckpoint) {
		t.Errorf("foreign shapes loaded: %v", err)
	}
}

func FuzzReadCheckpoint(f *testing.F) {
	m, _ := ml.NewModel("mlp:3-2-2", 1)
	var buf bytes.Buffer
	_ = ml.SaveModel(&buf, m)
	f.Add(buf.Bytes())
	f.Add([]byte("POUWCKPT"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Parse as given, and with a valid SHA-256 trailer so the fuzzer
		// reaches the parser behind the hash check.
		if _, err := ml.ParseCheckpoint(raw); err != nil && !errors.Is(err, ml.ErrCheckpoint) {
			t.Fatalf("error does not wrap ErrCheckpoint: %v", err)
		}
		body := raw
		if len(body) >= 32 {
			body = body[:len(body)-32]
		}
		sum := sha256.Sum256(body)
		ck, err := ml.ParseCheckpoint(append(append([]byte(nil), body...), sum[:]...))
		if err != nil {
			if !errors.Is(err, ml.ErrCheckpoint) {
				t.Fatalf("error does not wrap ErrCheckpoint: %v", err)
			}
			return
		}
		if _, err := ck.Model(); err != nil && !errors.Is(err, ml.ErrCheckpoint) {
			t.Fatalf("Model error does not wrap ErrCheckpoint: %v", err)
		}
	})
}

// TestAccuracy trains for one epoch on the 60,000 MNIST training images
// and measures the 10,000 test images. Hyperparameters (documented
// targets of the issue): SGD, lr 0.05, momentum 0.9, batch 64, seed 1,
// He-uniform init, pixels p/255.
//
//	mlp:784-256-10      >= 96% (canonical result: 96.43%)
//	cnn:1x28x28-2x8-10  >= 98% (canonical result: 98.32%)
//
// Results are canonical bits, so they are the same on every machine.
//
// Without an assembly kernel (purego, or GOARCH without one) the test is
// skipped: the accuracy is a property of the canonical bits, which the
// golden vectors already tie to the assembly kernels, and emulated FMAs
// make a full epoch of the CNN take minutes.
func TestAccuracy(t *testing.T) {
	if len(cpu.Kernels()) == 0 {
		t.Skip("no assembly kernel in this build (purego or GOARCH); see TestGoldenWeights")
	}
	train, test := loadMNIST(t)
	for _, tc := range []struct {
		spec string
		min  float64
	}{
		{"mlp:784-256-10", 0.96},
		{"cnn:1x28x28-2x8-10", 0.98},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			cfg := ml.DefaultTrainConfig()
			cfg.LR, cfg.Momentum = 0.05, 0.9
			be := cpu.MustNew(cpu.Options{Threads: 2})
			m, _ := ml.NewModel(tc.spec, 1)
			tr, err := ml.NewTrainer(m, train, cfg, be)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tr.Run(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := ml.Evaluate(m, test, be, 1000)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d steps, %.0f samples/s, test accuracy %.4f", tc.spec, res.Steps, res.SamplesPerSecond, ev.Accuracy)
			if ev.Accuracy < tc.min {
				t.Fatalf("%s: test accuracy %.4f after one epoch, want >= %.2f", tc.spec, ev.Accuracy, tc.min)
			}
		})
	}
}

func sameInfo(a, b ml.StepInfo) bool {
	return a.Step == b.Step && a.Epoch == b.Epoch && a.Loss == b.Loss && a.WeightsBefore == b.WeightsBefore &&
		a.Batch == b.Batch && a.Grads == b.Grads && a.WeightsAfter == b.WeightsAfter
}

// TestSampledStepsResume: in sampled mode (the work proof's), a run
// checkpointed mid-way and resumed on two threads gives every step's
// samples and batch exactly as an uninterrupted run, each step delivered
// once and in order, and both train the weights of the default mode.
func TestSampledStepsResume(t *testing.T) {
	train, _ := loadMNIST(t)
	data := subset(train, 640)
	for _, tc := range resumeModels {
		t.Run(tc.spec, func(t *testing.T) {
			cfg := resumeConfig(tc.opt)
			be := cpu.MustNew(cpu.Options{Threads: 1})
			type rec struct {
				step     uint64
				batch    ml.Hash
				grad, wt pouw.Hash
			}
			logTo := func(out *[]rec) ml.StepHook {
				return func(s ml.StepInfo) error {
					g, w, err := s.Samples(pouw.Hash{byte(s.Step), 1})
					*out = append(*out, rec{s.Step, s.Batch, g, w})
					return err
				}
			}
			m0, _ := ml.NewModel(tc.spec, 7)
			plain, _ := ml.NewTrainer(m0, data, cfg, be)
			res0, err := plain.Run(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := ml.NewModel(tc.spec, 7)
			straight, _ := ml.NewTrainer(m, data, cfg, be)
			straight.SampledSteps()
			var a []rec
			resA, err := straight.Run(context.Background(), logTo(&a))
			if err != nil {
				t.Fatal(err)
			}

			m2, _ := ml.NewModel(tc.spec, 7)
			first, _ := ml.NewTrainer(m2, data, cfg, be)
			first.SampledSteps()
			var b []rec
			hook := logTo(&b)
			for i := 0; i < 13; i++ {
				if _, err := first.Step(hook); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			if err := first.SaveCheckpoint(&buf); err != nil {
				t.Fatal(err)
			}
			ck, err := ml.ReadCheckpoint(bytes.NewReader(buf.Bytes()), 0)
			if err != nil {
				t.Fatal(err)
			}
			resumed, err := ml.ResumeTrainer(ck, data, cpu.MustNew(cpu.Options{Threads: 2}))
			if err != nil {
				t.Fatal(err)
			}
			resumed.SampledSteps()
			resB, err := resumed.Run(context.Background(), hook)
			if err != nil {
				t.Fatal(err)
			}
			if resA.WeightsSHA256 != resB.WeightsSHA256 || resA.WeightsSHA256 != res0.WeightsSHA256 {
				t.Fatalf("final weights: sampled %s, resumed %s, default mode %s", resA.WeightsSHA256, resB.WeightsSHA256, res0.WeightsSHA256)
			}
			if len(a) != 25 || len(b) != 25 {
				t.Fatalf("steps delivered: %d straight, %d resumed", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] || a[i].step != uint64(i) {
					t.Fatalf("step %d differs:\nstraight %+v\nresumed  %+v", i, a[i], b[i])
				}
			}
		})
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
