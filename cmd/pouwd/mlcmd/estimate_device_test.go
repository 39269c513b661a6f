//go:build cuda || cudaemu

package mlcmd

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// TestTrainGPUOverBudget: `ml train --device gpu:0` with a run the GPU's
// budget cannot hold (resident, pouwd ml estimate --device gpu says how
// much it needs) fails before it trains, naming the model, the batch, the
// bytes needed and the GPU's budget, rather than falling back to the host
// path. On the host emulator (tag cudaemu, 1 GiB of memory): a CNN whose
// batch of 4096 needs about 1.3 GiB resident.
func TestTrainGPUOverBudget(t *testing.T) {
	limit := emulatorBudget(t)
	const spec, batch = "cnn:1x28x28-1x16-10", 4096
	est, err := ml.EstimateDevice(spec, ml.EstimateOptions{Batch: batch, Optimizer: "sgd"})
	if err != nil {
		t.Fatal(err)
	}
	if est.PeakBytes <= limit {
		t.Fatalf("%s at batch %d needs %d bytes resident, within the budget of %d: resize the test", spec, batch, est.PeakBytes, limit)
	}
	_, stderr, err := runBoth("train", "--model", spec, "--batch", fmt.Sprint(batch), "--steps", "1", "--device", "gpu:0", "--no-progress")
	if !errors.Is(err, accel.ErrOverBudget) {
		t.Fatalf("train --device gpu:0 over the GPU's budget: error %v, expected one wrapping accel.ErrOverBudget\n%s", err, stderr)
	}
	for _, want := range []string{fmt.Sprintf("model %s with batch %d needs ", spec, batch), fmt.Sprintf("the budget of gpu0 (pouwd CUDA emulator) is %d bytes", limit)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	t.Logf("refusal: %v", err)
	if strings.Contains(stderr, "training resident") || strings.Contains(stderr, "host path") {
		t.Errorf("stderr %q: expected no placement and no fallback", stderr)
	}
}

// emulatorBudget returns GPU 0's memory budget in bytes, skipping the test
// without a GPU and on a real one: the tests that call it size their runs
// for the host emulator's 1 GiB.
func emulatorBudget(t *testing.T) uint64 {
	t.Helper()
	b, err := cuda.OpenForTraining(0, cuda.DefaultOptions())
	if errors.Is(err, cuda.ErrNoGPU) {
		t.Skipf("no usable NVIDIA GPU: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	emulated, limit := b.Emulated(), b.Budget().Limit()
	_ = b.Close()
	if !emulated {
		t.Skip("the run is sized for the emulator's 1 GiB")
	}
	return limit
}
