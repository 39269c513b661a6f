package ml_test

import (
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mltest"
)

// The tiny Transformer: 2 causal layers of width 16 with 4 heads, learned
// positions, the last token's head (next-token prediction), dropout; and
// the tiny ViT on the ResNet golden images.
const (
	transformerGoldenSpec = "transformer:12-16-2x16x4-16,causal,head=last,dropout=0.1"
	vitGoldenSpec         = "vit:3x8x8-4-2x16x2-10,mlp=2"
)

// transformerGoldenConfig: AdamW, lr 3e-3, weight decay 0.01, batch 32,
// seed 1, 12 steps.
func transformerGoldenConfig() ml.TrainConfig {
	cfg := ml.DefaultTrainConfig()
	cfg.Optimizer, cfg.LR, cfg.WeightDecay, cfg.BatchSize, cfg.Seed, cfg.Steps = "adamw", 3e-3, 0.01, 32, 1, 12
	return cfg
}

// Golden weights SHA-256 after transformerGoldenConfig's 12 steps, whole
// batches and micro-batches of 8 (dropout masks follow the sample, and
// there is no batch statistic, so the micro-batch run differs only by the
// gradient reduction tree).
const (
	transformerGolden      = mltest.TransformerGolden
	transformerGoldenMicro = "df320aad447a946797d2df705669b51165c25c52e0d900b8de4c4b2c9a6581c8"
	vitGolden              = mltest.ViTGolden
)

// TestTransformerGoldenWeights reproduces the pinned hashes with every CPU
// kernel at 1 and 2 threads, and micro-batches on 1 and 2 CPU devices.
func TestTransformerGoldenWeights(t *testing.T) {
	text := mltest.TextGoldenData(512)
	cfg := transformerGoldenConfig()
	cfg.MicroBatch = 8
	checkGoldens(t, []goldenRun{
		{transformerGoldenSpec, transformerGoldenConfig(), text, transformerGolden},
		{vitGoldenSpec, transformerGoldenConfig(), mltest.ResNetGoldenData(), vitGolden},
	}, goldenRun{transformerGoldenSpec, cfg, text, transformerGoldenMicro})
}

// TestTransformerLearns: 150 AdamW steps on the synthetic next-token task
// take held-out accuracy from chance (1/16) to at least 60% (the rule
// predicts about 7/8 of the labels).
func TestTransformerLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 150 steps")
	}
	train, test := mltest.TextGoldenData(2048), mltest.TextGoldenData(2560)
	test = ml.Dataset{X: test.X[2048*12:], Y: test.Y[2048:], N: 512, Shape: test.Shape, Classes: test.Classes}
	cfg := transformerGoldenConfig()
	cfg.Steps, cfg.LR = 150, 1e-2
	m, err := ml.NewModel(transformerGoldenSpec, 1)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.MustNew(cpu.Options{Threads: 2})
	tr, err := ml.NewTrainer(m, train, cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Run(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	ev, err := ml.Evaluate(m, test, be, 128)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Accuracy < 0.6 {
		t.Errorf("held-out accuracy %.3f after 150 steps, want >= 0.6 (chance 0.0625)", ev.Accuracy)
	}
	t.Logf("held-out accuracy %.3f, loss %.3f", ev.Accuracy, ev.Loss)
}

// TestTransformerHalfPrecisionDevices: bf16 training gives the same step
// hashes on 1 and 2 devices and thread counts.
func TestTransformerHalfPrecisionDevices(t *testing.T) {
	data := mltest.TextGoldenData(512)
	cfg := transformerGoldenConfig()
	cfg.Steps, cfg.Precision, cfg.MicroBatch = 4, ml.PrecisionBF16, 16
	a, ra := parallelRunSeed(t, transformerGoldenSpec, cfg, data, []accel.Backend{cpu.MustNew(cpu.Options{Threads: 1})}, 1)
	b, rb := parallelRunSeed(t, transformerGoldenSpec, cfg, data, []accel.Backend{cpu.MustNew(cpu.Options{Threads: 2}), cpu.MustNew(cpu.Options{Threads: 1})}, 1)
	sameRuns(t, "bf16 transformer, 1 vs 2 devices", a, b, ra, rb)
}
