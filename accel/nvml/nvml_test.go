package nvml

import (
	"context"
	"errors"
	"testing"

	"github.com/pouw/pouwd/accel"
)

// TestProbe runs NVML detection for real: on a machine without a driver it
// must report accel.ErrNoDriver (not panic); with one it must list GPUs with
// a name and memory.
func TestProbe(t *testing.T) {
	gpus, err := Prober{}.Probe(context.Background())
	if err != nil {
		if !errors.Is(err, accel.ErrNoDriver) {
			t.Fatalf("Probe: %v (expected success or ErrNoDriver)", err)
		}
		d := accel.Detect(context.Background(), Prober{})
		if d.GPUError != "no NVIDIA driver found, using CPU" || d.Selected != "cpu" {
			t.Fatalf("Detect without driver = %+v", d)
		}
		t.Logf("no driver: %v", err)
		return
	}
	for _, g := range gpus {
		if g.Name == "" || g.MemoryTotal == 0 {
			t.Fatalf("GPU %d without name or memory: %+v", g.Index, g)
		}
	}
}
