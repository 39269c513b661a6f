//go:build cuda || cudaemu

package mlcmd

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// TestTrainResident: `ml train --device gpu:0` trains an MLP, a CNN, a
// ResNet and a ViT resident on the device (the host emulator under -tags
// cudaemu) to the CPU's weights, saying so, with micro-batches too; a
// setting without a device
// path (bf16) trains on the host path, also to the CPU's weights, saying
// why. Run with -tags cudaemu (scripts/ci/cuda.sh).
func TestTrainResident(t *testing.T) {
	for _, c := range []struct {
		model string
		extra []string
		want  string
	}{
		{"mlp:784-16-10", nil, "training resident on gpu0"},
		{"cnn:1x28x28-1x2-10,bn", nil, "training resident on gpu0"},
		{"resnet:1x28x28-basic-1.1-2-10", nil, "training resident on gpu0"},
		{"vit:1x28x28-7-1x8x2-10,mlp=1", nil, "training resident on gpu0"},
		{"cnn:1x28x28-1x2-10,bn,dropout=0.2", []string{"--micro-batch", "2"}, "4 micro-batches of 2 per step"},
		{"mlp:784-16-10", []string{"--precision", "bf16"}, "no resident device path: precision bf16"},
	} {
		base := append([]string{"train", "--model", c.model, "--steps", "3", "--batch", "8"}, c.extra...)
		base = append(base, "--json")
		cpu := summaryOf(t, run(t, append(base, "--device", "cpu")...))
		out, stderr, err := runBoth(append(base, "--device", "gpu:0")...)
		if err != nil {
			t.Fatalf("%s on gpu:0: %v\n%s", c.model, err, stderr)
		}
		gpu := summaryOf(t, out)
		if gpu["weights_sha256"] != cpu["weights_sha256"] {
			t.Errorf("%s: gpu:0 weights %v, cpu %v", c.model, gpu["weights_sha256"], cpu["weights_sha256"])
		}
		// Without --json the notes go to stderr.
		if _, stderr, err = runBoth(append(base[:len(base)-1], "--device", "gpu:0", "--no-progress")...); err != nil {
			t.Fatalf("%s on gpu:0: %v\n%s", c.model, err, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%s: stderr %q, expected it to say %q", c.model, stderr, c.want)
		}
	}
}

// TestTrainResidentDevices: `ml train --device gpu:all --micro-batch M`
// over two GPUs (two emulated devices under -tags cudaemu) trains
// resident on both, saying so, to the weights of one CPU device with the
// same micro-batches.
func TestTrainResidentDevices(t *testing.T) {
	t.Setenv("POUW_CUDAEMU_DEVICES", "2") // read by the emulator only
	base := []string{"train", "--model", "cnn:1x28x28-1x2-10,bn", "--steps", "3", "--batch", "8", "--micro-batch", "2"}
	cpu := summaryOf(t, run(t, append(base, "--json", "--device", "cpu")...))
	out, stderr, err := runBoth(append(base, "--json", "--device", "gpu:all")...)
	if err != nil {
		t.Fatalf("gpu:all: %v\n%s", err, stderr)
	}
	if gpu := summaryOf(t, out); gpu["weights_sha256"] != cpu["weights_sha256"] {
		t.Errorf("gpu:all weights %v, cpu %v", gpu["weights_sha256"], cpu["weights_sha256"])
	}
	if _, stderr, err = runBoth(append(base, "--device", "gpu:all", "--no-progress")...); err != nil {
		t.Fatalf("gpu:all: %v\n%s", err, stderr)
	}
	want := "training resident on " // real GPUs: however many there are
	if b, err := cuda.Open(0, cuda.DefaultOptions()); err == nil {
		if b.Emulated() {
			want = "device gpu:all: 2 GPUs"
			if !strings.Contains(stderr, "training resident on 2 devices") {
				t.Errorf("stderr %q, expected it to say it trains resident on 2 devices", stderr)
			}
		}
		_ = b.Close()
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, expected it to say %q", stderr, want)
	}
}

// TestTrainResidentHostBudget: a run that will train resident is checked
// against the GPU's budget with the device estimate and against the host's
// budget with what stays on the host (the datasets, the model's host copy,
// one batch), not with the host path's whole step: with a host budget
// (--memory-fraction) between the two, a CNN at batch 4096 trains resident
// on the emulator, while the same run on the CPU, and on the GPU with
// --profile (which keeps it on the host path), is refused naming the
// host's budget. On the host emulator (tag cudaemu) only: the run is
// sized for its 1 GiB.
func TestTrainResidentHostBudget(t *testing.T) {
	limit := emulatorBudget(t)
	const spec, batch = "cnn:1x28x28-1x8-10", 4096
	dev, err := ml.EstimateDevice(spec, ml.EstimateOptions{Batch: batch, Optimizer: "sgd"})
	if err != nil {
		t.Fatal(err)
	}
	hostPath, err := ml.Estimate(spec, ml.EstimateOptions{Batch: batch, Optimizer: "sgd", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := loadDataset("mnist", "")
	if err != nil {
		t.Skipf("MNIST: %v", err)
	}
	m, err := ml.NewModel(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize, cfg.Steps, cfg.Epochs = batch, 1, 0
	tr, err := ml.NewTrainer(m, train, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := ml.EstimateResidentHost(tr.Model, tr.Cfg, train, test)
	if err != nil {
		t.Fatal(err)
	}
	if dev.PeakBytes > limit || 2*kept > hostPath.PeakBytes {
		t.Fatalf("resident %d bytes (GPU budget %d), on the host %d; the host path %d: resize the test", dev.PeakBytes, limit, kept, hostPath.PeakBytes)
	}
	// A host budget between what the resident run keeps there and the
	// host path's step.
	target := math.Sqrt(float64(kept) * float64(hostPath.PeakBytes))
	fraction := fmt.Sprint(float32(target / float64(accel.CPUBudget(1).Available)))
	t.Logf("GPU %d bytes (budget %d); host: resident %d, host path %d; host budget %.0f bytes (--memory-fraction %s)", dev.PeakBytes, limit, kept, hostPath.PeakBytes, target, fraction)
	args := []string{"train", "--model", spec, "--batch", fmt.Sprint(batch), "--steps", "1", "--memory-fraction", fraction, "--no-progress"}
	_, stderr, err := runBoth(append(args, "--device", "gpu:0")...)
	if err != nil {
		t.Fatalf("gpu:0 with a host budget of %.0f bytes: %v\n%s", target, err, stderr)
	}
	if !strings.Contains(stderr, "training resident on gpu0") {
		t.Errorf("stderr %q, expected it to train resident", stderr)
	}
	for _, extra := range [][]string{{"--device", "cpu"}, {"--device", "gpu:0", "--profile"}} {
		_, stderr, err := runBoth(append(args, extra...)...)
		if !errors.Is(err, accel.ErrOverBudget) || !strings.Contains(err.Error(), "the budget of cpu is") {
			t.Errorf("%v: error %v, expected the host's budget to refuse the host path's step\n%s", extra, err, stderr)
		}
	}
}
