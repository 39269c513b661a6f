package accel

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestBudget(t *testing.T) {
	b := Budget{Device: "cpu", Available: 1000, Fraction: 0.8}
	if err := b.Check("mlp", 800); err != nil {
		t.Fatalf("800 of 1000 at 0.8: %v", err)
	}
	err := b.Check("mlp:784-256-10 batch 64", 801)
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), "801 bytes") || !strings.Contains(err.Error(), "1000 bytes available") {
		t.Fatalf("801 of 1000 at 0.8: %v", err)
	}
	if err := (Budget{Fraction: 1.5}).Check("x", 1); err == nil {
		t.Fatal("fraction 1.5 accepted")
	}
}

type noDriver struct{}

func (noDriver) Probe(context.Context) ([]GPUInfo, error) { return nil, ErrNoDriver }

func TestDetect(t *testing.T) {
	d := Detect(context.Background(), noDriver{})
	if d.CPU.Cores < 1 || d.CPU.Arch == "" || d.Selected != "cpu" {
		t.Fatalf("Detect = %+v", d)
	}
	if d.GPUError != "no NVIDIA driver found, using CPU" {
		t.Fatalf("GPUError = %q", d.GPUError)
	}
}

type oneGPU struct{}

func (oneGPU) Probe(context.Context) ([]GPUInfo, error) {
	return []GPUInfo{{Name: "NVIDIA H200", MemoryTotal: 141 << 30}}, nil
}

func TestDetectGPU(t *testing.T) {
	d := Detect(context.Background(), oneGPU{})
	if d.Selected != "cpu" || len(d.GPUs) != 1 || d.CUDABuilt != CUDABuilt {
		t.Fatalf("Detect = %+v", d)
	}
	want := "built without cuda; training on CPU"
	if CUDABuilt {
		want = ""
	}
	if d.GPUError != want {
		t.Fatalf("GPUError = %q, want %q", d.GPUError, want)
	}
}
