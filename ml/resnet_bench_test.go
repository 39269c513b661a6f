package ml_test

import (
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

// BenchmarkResNet20Step is one SGD-momentum training step of ResNet-20 on
// a 3x32x32 batch of 128 (scripts/bench/enginebench measures samples/s;
// this is for profiling: go test ./ml -run - -bench ResNet20 -cpuprofile).
func BenchmarkResNet20Step(b *testing.B) {
	const n = 256
	r := ml.NewRNG("pouw/bench", 1, 0, 0)
	d := ml.Dataset{X: make([]float32, n*3*32*32), Y: make([]int, n), N: n, Shape: []int{3, 32, 32}, Classes: 10}
	for i := range d.X {
		d.X[i] = r.Float32()
	}
	for i := range d.Y {
		d.Y[i] = r.Intn(10)
	}
	m, err := ml.NewModel("resnet:3x32x32-resnet20-10", 1)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs = 0.01, 0.9, 128, 1000
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

// BenchmarkTransformerStep is one SGD-momentum step of the benchmark
// Transformer (d=256, 4 layers, 8 heads, sequence 128, causal, batch 32;
// enginebench's transformer_d256_l4_s128_b32), for profiling.
func BenchmarkTransformerStep(b *testing.B) {
	const n, seq = 64, 128
	r := ml.NewRNG("pouw/bench", 1, 0, 0)
	d := ml.Dataset{X: make([]float32, n*seq), Y: make([]int, n), N: n, Shape: []int{seq}, Classes: 256}
	for i := range d.X {
		d.X[i] = float32(r.Intn(256))
	}
	for i := range d.Y {
		d.Y[i] = r.Intn(256)
	}
	m, err := ml.NewModel("transformer:128-256-4x256x8-256,causal,head=last", 1)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs = 0.01, 0.9, 32, 1000
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
