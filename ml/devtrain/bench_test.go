//go:build cuda || cudaemu

package devtrain_test

import (
	"runtime"
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/devtrain"
)

// BenchmarkResidentStep: training steps of an MLP (SGD with momentum) on
// the host path with every core, and resident on the device, in one run;
// samples/s are reported for both. On the emulator (-tags cudaemu) the
// device side measures nothing useful; scripts/gpu-check.sh runs it on a
// GPU. The model: mlp:784-2048-2048-10 (5.8M parameters), batch 256.
func BenchmarkResidentStep(b *testing.B) {
	const spec, batch = "mlp:784-2048-2048-10", 256
	host, err := cpu.New(cpu.Options{Threads: runtime.NumCPU()})
	if err != nil {
		b.Fatal(err)
	}
	for _, where := range []string{"host", "device"} {
		b.Run(where, func(b *testing.B) {
			m, err := ml.NewModel(spec, 1)
			if err != nil {
				b.Fatal(err)
			}
			cfg := ml.DefaultTrainConfig()
			cfg.BatchSize, cfg.Momentum, cfg.Epochs, cfg.Steps = batch, 0.9, 0, 1<<30
			tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 4*batch, 1), cfg, host)
			if err != nil {
				b.Fatal(err)
			}
			if where == "device" {
				d, err := devtrain.New(openDevice(b), tr)
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				if err := tr.SetResident(d); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := tr.Step(nil); err != nil { // warm-up: buffers, JIT
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := tr.Step(nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
