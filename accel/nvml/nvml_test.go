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

// TestSessionTelemetry opens an NVML session for real: without a driver
// Open must report accel.ErrNoDriver; with one, every GPU must have a name
// and memory, and two readings in a row must work (the session stays open).
func TestSessionTelemetry(t *testing.T) {
	s, err := Open()
	if err != nil {
		if !errors.Is(err, accel.ErrNoDriver) {
			t.Fatalf("Open: %v (expected success or ErrNoDriver)", err)
		}
		t.Logf("no driver: %v", err)
		return
	}
	defer s.Close()
	for range 2 {
		gpus, err := s.Telemetry(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gpus {
			if g.Name == "" || g.MemoryTotal == 0 || g.MemoryUsed > g.MemoryTotal {
				t.Fatalf("GPU %d: %+v", g.Index, g)
			}
			t.Logf("GPU %d %s: %d/%d MiB, %d%%, %d C, %.0f/%.0f W, SM %d/%d MHz, reasons %v, ECC %v (%d uncorrected)",
				g.Index, g.Name, g.MemoryUsed>>20, g.MemoryTotal>>20, g.UtilGPU, g.TemperatureC, g.PowerW, g.PowerLimitW,
				g.SMClockMHz, g.MaxSMClockMHz, g.Reasons, g.ECCEnabled, g.ECCUncorrected)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Telemetry(context.Background()); err == nil {
		t.Fatal("Telemetry after Close succeeded")
	}
}

func TestReasonNames(t *testing.T) {
	if got := ReasonNames(0x1 | 0x4 | 0x40 | 0x8000); len(got) != 3 || got[0] != "gpu_idle" || got[1] != "sw_power_cap" || got[2] != "hw_thermal_slowdown" {
		t.Fatalf("ReasonNames = %v", got)
	}
	if len(Reasons()) != 11 {
		t.Fatalf("Reasons = %v", Reasons())
	}
	for _, r := range AlertReasons {
		if !Throttling(r) {
			t.Fatalf("alert reason %s is not throttling", r)
		}
	}
	idle := Telemetry{Reasons: []string{"gpu_idle"}}
	capped := Telemetry{Reasons: []string{"gpu_idle", "sw_power_cap"}}
	if idle.Throttled() || !capped.Throttled() {
		t.Fatal("Throttled: idle counts, or the power cap does not")
	}
}
