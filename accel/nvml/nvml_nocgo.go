//go:build !cgo || !linux

package nvml

import (
	"context"
	"fmt"

	"github.com/pouw/pouwd/accel"
)

// Prober implements accel.GPUProber; without cgo on Linux NVML is not
// available, so it always reports accel.ErrNoDriver.
type Prober struct{}

// Probe reports that no driver can be loaded in this build.
func (Prober) Probe(context.Context) ([]accel.GPUInfo, error) {
	return nil, fmt.Errorf("%w: built without cgo", accel.ErrNoDriver)
}
