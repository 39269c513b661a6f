package ml_test

import (
	"fmt"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mltest"
)

// TestRecomputeSameBits: training with activation recomputation gives
// every step's gradients and weights, and the final weights, bit for bit
// as without it: a Transformer with dropout, a ViT and a ResNet with
// batch norm; segments of 1, 2 and 3 blocks; fp32 and bf16; whole batches
// and micro-batches over two devices.
func TestRecomputeSameBits(t *testing.T) {
	text, images := mltest.TextGoldenData(256), mltest.ResNetGoldenData()
	one := []accel.Backend{cpu.MustNew(cpu.Options{Threads: 2})}
	two := []accel.Backend{cpu.MustNew(cpu.Options{Threads: 1}), cpu.MustNew(cpu.Options{Threads: 2})}
	for _, tc := range []struct {
		spec string
		data ml.Dataset
	}{
		{transformerGoldenSpec, text},
		{vitGoldenSpec, images},
		{resnetGoldenSpec, images},
	} {
		for _, prec := range []string{"", ml.PrecisionBF16} {
			for _, micro := range []int{0, 8} {
				cfg := transformerGoldenConfig()
				cfg.Steps, cfg.Precision, cfg.MicroBatch = 4, prec, micro
				devs := one
				if micro > 0 {
					devs = two
				}
				base, rb := trainLogged(t, tc.spec, cfg, tc.data, devs, cfg.Seed, 0)
				for _, every := range []int{1, 2, 3} {
					t.Run(fmt.Sprintf("%s/%s/micro%d/every%d", tc.spec, prec, micro, every), func(t *testing.T) {
						got, rg := trainLogged(t, tc.spec, cfg, tc.data, devs, cfg.Seed, every)
						sameRuns(t, "recompute vs stored activations", base, got, rb, rg)
					})
				}
			}
		}
	}
}

func TestSetRecomputeErrors(t *testing.T) {
	m, err := ml.NewModel("mlp:4-8-3", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRecompute(1); err == nil {
		t.Error("SetRecompute(1) on an MLP accepted")
	}
	if err := m.SetRecompute(-1); err == nil {
		t.Error("SetRecompute(-1) accepted")
	}
	if err := m.SetRecompute(0); err != nil {
		t.Errorf("SetRecompute(0): %v", err)
	}
}
