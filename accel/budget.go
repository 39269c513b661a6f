package accel

import (
	"errors"
	"fmt"
)

// ErrOverBudget reports a model and batch that do not fit the memory budget.
var ErrOverBudget = errors.New("model does not fit the memory budget")

// DefaultBudgetFraction is the share of a device's memory training may use.
const DefaultBudgetFraction = 0.8

// Budget is a memory budget on one device.
type Budget struct {
	// Device names the device, e.g. "cpu" or "gpu0 (NVIDIA H100)".
	Device string
	// Available is the memory the device has free, in bytes.
	Available uint64
	// Fraction of Available training may use, in (0, 1].
	Fraction float64
}

// Validate checks the budget's fields.
func (b Budget) Validate() error {
	if !(b.Fraction > 0 && b.Fraction <= 1) {
		return fmt.Errorf("memory budget fraction = %v, expected 0 < fraction <= 1", b.Fraction)
	}
	return nil
}

// Limit is the number of bytes training may use.
func (b Budget) Limit() uint64 { return uint64(float64(b.Available) * b.Fraction) }

// Check returns an error wrapping ErrOverBudget when need exceeds the
// budget, naming the workload (what, e.g. "model M with batch B"), the
// bytes it needs and the budget: "...: model M with batch B needs N bytes
// (x MiB), the budget of gpu0 (NVIDIA H100) is L bytes (y MiB: fraction
// f of the A bytes available)". Callers check before they allocate.
func (b Budget) Check(what string, need uint64) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if b.Available == 0 {
		return nil // unknown (non-Linux host): nothing to check against
	}
	if limit := b.Limit(); need > limit {
		return fmt.Errorf("%w: %s needs %d bytes (%.1f MiB), the budget of %s is %d bytes (%.1f MiB: fraction %.3g of the %d bytes available)",
			ErrOverBudget, what, need, float64(need)/(1<<20), b.Device, limit, float64(limit)/(1<<20), b.Fraction, b.Available)
	}
	return nil
}

// CPUBudget is the budget for host memory (MemAvailable) at the fraction.
func CPUBudget(fraction float64) Budget {
	_, avail := memInfo()
	return Budget{Device: "cpu", Available: avail, Fraction: fraction}
}
