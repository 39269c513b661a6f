package ml_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

// recomputeRun trains spec for cfg.Steps steps with activation
// recomputation every `every` residual blocks (0: off) on the devices and
// returns every step's version 1 hashes (weights before and after, batch,
// gradients) and the result.
func recomputeRun(t *testing.T, spec string, cfg ml.TrainConfig, data ml.Dataset, every int, devices []accel.Backend) ([]ml.StepInfo, ml.Result) {
	t.Helper()
	m, err := ml.NewModel(spec, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetRecompute(every); err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, data, cfg, devices[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(devices) > 1 || cfg.MicroBatch > 0 {
		if err := tr.SetDevices(devices...); err != nil {
			t.Fatal(err)
		}
	}
	var log stepLog
	res, err := tr.Run(context.Background(), log.hook)
	if err != nil {
		t.Fatal(err)
	}
	return log.infos, res
}

// TestRecomputeSameBits: training with activation recomputation gives
// every step's gradients and weights, and the final weights, bit for bit
// as without it: a Transformer with dropout, a ViT and a ResNet with
// batch norm; segments of 1, 2 and 3 blocks; fp32 and bf16; whole batches
// and micro-batches over two devices.
func TestRecomputeSameBits(t *testing.T) {
	text, images := textGoldenData(256), resnetGoldenData()
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
				base, rb := recomputeRun(t, tc.spec, cfg, tc.data, 0, devs)
				for _, every := range []int{1, 2, 3} {
					t.Run(fmt.Sprintf("%s/%s/micro%d/every%d", tc.spec, prec, micro, every), func(t *testing.T) {
						got, rg := recomputeRun(t, tc.spec, cfg, tc.data, every, devs)
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
