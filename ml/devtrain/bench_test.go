//go:build cuda || cudaemu

package devtrain_test

import (
	"errors"
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
		b.Run(where, func(b *testing.B) { benchResident(b, host, spec, batch, where == "device", false) })
	}
}

// residentFamilies are issue 16's speed targets, with the batches
// scripts/bench/torch_gpu_train.py gives PyTorch (the same names): ResNet-20
// at batch 128 and a Transformer of width 512, 6 layers, sequence 256.
var residentFamilies = []struct {
	name, spec string
	batch      int
}{
	{"resnet20_b128", "resnet:3x32x32-resnet20-10", 128},
	{"transformer_d512_l6_s256_b32", "transformer:256-256-6x512x8-256,causal,head=last", 32},
}

// BenchmarkResidentFamilies: training steps (SGD with momentum 0.9, as
// the PyTorch peer) of each model of residentFamilies, resident on the
// device and on the host path with every core, samples/s reported for
// each. scripts/gpu-check.sh runs it on a GPU and puts it beside PyTorch
// eager on the same GPU (torch_gpu_train.py) and beside the host path on
// that machine's CPU. The device side is skipped on the emulator (which
// runs the kernels on this CPU, one at a time: nothing to measure) and
// where a family has no device path yet.
func BenchmarkResidentFamilies(b *testing.B) {
	host, err := cpu.New(cpu.Options{Threads: runtime.NumCPU()})
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range residentFamilies {
		for _, where := range []string{"device", "host"} {
			b.Run(f.name+"/"+where, func(b *testing.B) {
				benchResident(b, host, f.spec, f.batch, where == "device", true)
			})
		}
	}
}

// benchResident measures training steps (SGD with momentum 0.9) of spec at
// the batch size, resident on the device or on the host path with host,
// and reports samples/s. skipEmulated skips the device side on the
// emulator; a model with no device path is skipped, not failed.
func benchResident(b *testing.B, host *cpu.Backend, spec string, batch int, device, skipEmulated bool) {
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
	if device {
		dev := openDevice(b)
		if skipEmulated && dev.Emulated() {
			b.Skip("the emulator runs device kernels on this CPU: no device speed to measure")
		}
		d, err := devtrain.New(dev, tr)
		if errors.Is(err, devtrain.ErrUnsupported) {
			b.Skipf("no device path: %v", err)
		} else if err != nil {
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
}
