//go:build cuda && !cudaemu

package cuda

import (
	"context"
	"fmt"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/nvml"
)

// Telemetry reads the opened GPU's NVML telemetry (memory, utilisation,
// temperature, power), matching the device by UUID (CUDA and NVML may
// number devices differently).
func (b *Backend) Telemetry(ctx context.Context) (accel.GPUInfo, error) {
	gpus, err := nvml.Prober{}.Probe(ctx)
	if err != nil {
		return accel.GPUInfo{}, err
	}
	for _, g := range gpus {
		if g.UUID == b.inf.UUID {
			return g, nil
		}
	}
	return accel.GPUInfo{}, fmt.Errorf("cuda: NVML lists no GPU with UUID %s (%s)", b.inf.UUID, b.Device())
}
