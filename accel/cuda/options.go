package cuda

import (
	"errors"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
)

// ErrNoGPU reports that no usable NVIDIA GPU could be opened: cuInit failed
// (no device, no kernel module, no device nodes in a container), the index
// is out of range or the GPU is older than compute capability 8.0.
var ErrNoGPU = errors.New("no usable NVIDIA GPU")

// ErrNotBuilt is returned by Open in a binary built without the cuda tag.
var ErrNotBuilt = errors.New("built without cuda")

// Options configure the CUDA backend.
type Options struct {
	// BudgetFraction is the share of the device memory free at Open that
	// the backend's allocator may hand out, in (0, 1]; 0 means
	// accel.DefaultBudgetFraction (0.8).
	BudgetFraction float64
	// FallbackCPU makes an operation whose device memory would exceed the
	// budget run on the CPU backend instead (same bits) rather than fail.
	FallbackCPU bool
	// CPU configures the CPU backend used for FallbackCPU and by OpenOrCPU;
	// its Threads is also what the CUDA backend's Threads reports (the host
	// goroutines ml may use for the work it keeps on the host).
	CPU cpu.Options
	// Kernel picks the GEMM kernel: "auto" (by shape), "t128", "t64",
	// "t32" or "ref". The result bits never depend on it.
	Kernel string
}

// DefaultOptions: budget 0.8, no CPU fallback, automatic GEMM kernel,
// CPU options cpu.DefaultOptions.
func DefaultOptions() Options {
	return Options{BudgetFraction: accel.DefaultBudgetFraction, CPU: cpu.DefaultOptions(), Kernel: "auto"}
}

func (o Options) withDefaults() Options {
	if o.BudgetFraction == 0 {
		o.BudgetFraction = accel.DefaultBudgetFraction
	}
	if o.Kernel == "" {
		o.Kernel = "auto"
	}
	if o.CPU.Threads == 0 {
		o.CPU.Threads = 1
	}
	if o.CPU.Kernel == "" {
		o.CPU.Kernel = "auto"
	}
	return o
}

// cpuFallback opens the CPU backend OpenOrCPU returns, with the reason.
func cpuFallback(o Options, why error) (accel.Backend, string, error) {
	b, err := cpu.New(o.withDefaults().CPU)
	if err != nil {
		return nil, "", err
	}
	return b, why.Error() + "; training on CPU", nil
}
