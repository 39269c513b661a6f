package accel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/cpu"
)

// ErrNoDriver reports that no NVIDIA driver (libnvidia-ml) could be loaded.
var ErrNoDriver = errors.New("no NVIDIA driver found")

// CPUInfo describes the host processor.
type CPUInfo struct {
	Arch        string   `json:"arch"`
	Model       string   `json:"model,omitempty"`
	Cores       int      `json:"cores"`
	Features    []string `json:"features"`
	MemoryTotal uint64   `json:"memory_total_bytes"`
	MemoryFree  uint64   `json:"memory_available_bytes"`
}

// GPUInfo describes one GPU as reported by its driver.
type GPUInfo struct {
	Index       int    `json:"index"`
	Name        string `json:"name"`
	UUID        string `json:"uuid,omitempty"`
	MemoryTotal uint64 `json:"memory_total_bytes"`
	MemoryFree  uint64 `json:"memory_free_bytes"`
	UtilGPU     uint32 `json:"utilization_gpu_percent"`
	UtilMemory  uint32 `json:"utilization_memory_percent"`
	Driver      string `json:"driver,omitempty"`
	// Telemetry; zero when the driver does not report it.
	TemperatureC uint32  `json:"temperature_c,omitempty"`
	PowerW       float64 `json:"power_watts,omitempty"`
	PowerLimitW  float64 `json:"power_limit_watts,omitempty"`
}

// GPUProber lists GPUs. accel/nvml implements it; it returns an error
// wrapping ErrNoDriver on machines without an NVIDIA driver.
type GPUProber interface {
	Probe(ctx context.Context) ([]GPUInfo, error)
}

// Devices is the result of Detect.
type Devices struct {
	CPU  CPUInfo   `json:"cpu"`
	GPUs []GPUInfo `json:"gpus"`
	// GPUError explains why no GPU is listed, e.g. "no NVIDIA driver found,
	// using CPU"; empty when the probe succeeded.
	GPUError string `json:"gpu_error,omitempty"`
	// Selected is the device training will use. Detect never opens a GPU,
	// so it is "cpu"; a cuda build opens one with accel/cuda.Open (or
	// OpenOrCPU) and reports it itself.
	Selected string `json:"selected"`
	// CUDABuilt reports whether this binary contains the CUDA backend
	// (build tag cuda).
	CUDABuilt bool `json:"cuda_built"`
}

// NotBuiltMessage is what a binary built without the cuda tag says on a
// machine with an NVIDIA GPU.
const NotBuiltMessage = "built without cuda; training on CPU"

// Detect describes the CPU and, when prober is not nil, the GPUs. On a
// machine with GPUs, a binary built without the cuda tag sets GPUError to
// NotBuiltMessage; a cuda build leaves it empty (the caller opens the GPU
// with accel/cuda and falls back to the CPU with that package's message).
func Detect(ctx context.Context, prober GPUProber) Devices {
	d := Devices{CPU: DetectCPU(), Selected: "cpu", CUDABuilt: CUDABuilt}
	if prober == nil {
		d.GPUError = "GPU detection not built in, using CPU"
		return d
	}
	gpus, err := prober.Probe(ctx)
	switch {
	case errors.Is(err, ErrNoDriver):
		d.GPUError = "no NVIDIA driver found, using CPU"
	case err != nil:
		d.GPUError = fmt.Sprintf("GPU detection failed (%v), using CPU", err)
	case len(gpus) == 0:
		d.GPUError = "NVIDIA driver found but no GPU, using CPU"
	case !CUDABuilt:
		d.GPUError = NotBuiltMessage
	}
	d.GPUs = gpus
	return d
}

// DetectCPU reports the host CPU's architecture, cores, SIMD features and
// memory (from /proc on Linux; zero elsewhere).
func DetectCPU() CPUInfo {
	c := CPUInfo{Arch: runtime.GOARCH, Cores: runtime.NumCPU()}
	switch runtime.GOARCH {
	case "amd64", "386":
		for _, f := range []struct {
			name string
			ok   bool
		}{{"sse4.2", cpu.X86.HasSSE42}, {"avx", cpu.X86.HasAVX}, {"avx2", cpu.X86.HasAVX2}, {"fma", cpu.X86.HasFMA},
			{"avx512f", cpu.X86.HasAVX512F}, {"avx512bw", cpu.X86.HasAVX512BW}, {"avx512vl", cpu.X86.HasAVX512VL},
			{"avx512bf16", cpu.X86.HasAVX512BF16}} {
			if f.ok {
				c.Features = append(c.Features, f.name)
			}
		}
	case "arm64":
		for _, f := range []struct {
			name string
			ok   bool
		}{{"asimd", cpu.ARM64.HasASIMD}, {"fphp", cpu.ARM64.HasFPHP}, {"asimdhp", cpu.ARM64.HasASIMDHP}, {"sve", cpu.ARM64.HasSVE}} {
			if f.ok {
				c.Features = append(c.Features, f.name)
			}
		}
	}
	c.Model = cpuModel()
	c.MemoryTotal, c.MemoryFree = memInfo()
	return c
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memInfo returns MemTotal and MemAvailable in bytes from /proc/meminfo.
func memInfo() (total, avail uint64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseUint(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = v * 1024
		case "MemAvailable:":
			avail = v * 1024
		}
	}
	return total, avail
}
