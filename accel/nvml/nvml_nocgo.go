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

// Session is NVML kept open between readings; without cgo on Linux it
// cannot be opened.
type Session struct{}

// Open reports that no driver can be loaded in this build.
func Open() (*Session, error) {
	return nil, fmt.Errorf("%w: built without cgo", accel.ErrNoDriver)
}

// Close does nothing.
func (*Session) Close() error { return nil }

// Telemetry reports that no driver can be loaded in this build.
func (*Session) Telemetry(context.Context) ([]Telemetry, error) {
	return nil, fmt.Errorf("%w: built without cgo", accel.ErrNoDriver)
}
