package ml_test

import (
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

// benchSteps runs SGD-momentum training steps of spec at the batch size on
// one thread over n synthetic samples (ml.SyntheticDataset;
// scripts/bench/enginebench measures samples/s; these are for profiling:
// go test ./ml -run - -bench Step -cpuprofile).
func benchSteps(b *testing.B, spec string, n, batch int) {
	m, err := ml.NewModel(spec, 1)
	if err != nil {
		b.Fatal(err)
	}
	d := ml.SyntheticDataset(m, n, 1)
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs = 0.01, 0.9, batch, 1000
	tr, err := ml.NewTrainer(m, d, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Step(nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*cfg.BatchSize)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkResNet20Step: ResNet-20 on a 3x32x32 batch of 128.
func BenchmarkResNet20Step(b *testing.B) {
	benchSteps(b, "resnet:3x32x32-resnet20-10", 256, 128)
}

// BenchmarkTransformerStep: the benchmark Transformer (d=256, 4 layers, 8
// heads, sequence 128, causal, batch 32; enginebench's
// transformer_d256_l4_s128_b32).
func BenchmarkTransformerStep(b *testing.B) {
	benchSteps(b, "transformer:128-256-4x256x8-256,causal,head=last", 64, 32)
}
