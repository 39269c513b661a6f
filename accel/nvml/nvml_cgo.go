//go:build cgo && linux

package nvml

import (
	"context"
	"fmt"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/pouw/pouwd/accel"
)

// Prober implements accel.GPUProber with NVML.
type Prober struct{}

// Probe initialises NVML, lists the GPUs with their memory, utilisation,
// temperature and power, and shuts NVML down again.
func (Prober) Probe(ctx context.Context) ([]accel.GPUInfo, error) {
	if ret := gonvml.Init(); ret != gonvml.SUCCESS {
		if ret == gonvml.ERROR_LIBRARY_NOT_FOUND || ret == gonvml.ERROR_DRIVER_NOT_LOADED {
			return nil, fmt.Errorf("%w: nvml init: %s", accel.ErrNoDriver, gonvml.ErrorString(ret))
		}
		return nil, fmt.Errorf("nvml init: %s", gonvml.ErrorString(ret))
	}
	defer gonvml.Shutdown()
	driver, _ := gonvml.SystemGetDriverVersion()
	n, ret := gonvml.DeviceGetCount()
	if ret != gonvml.SUCCESS {
		return nil, fmt.Errorf("nvml device count: %s", gonvml.ErrorString(ret))
	}
	gpus := make([]accel.GPUInfo, 0, n)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, ret := gonvml.DeviceGetHandleByIndex(i)
		if ret != gonvml.SUCCESS {
			return nil, fmt.Errorf("nvml device %d: %s", i, gonvml.ErrorString(ret))
		}
		g := accel.GPUInfo{Index: i, Driver: driver}
		g.Name, _ = d.GetName()
		g.UUID, _ = d.GetUUID()
		if mem, ret := d.GetMemoryInfo(); ret == gonvml.SUCCESS {
			g.MemoryTotal, g.MemoryFree = mem.Total, mem.Free
		}
		if u, ret := d.GetUtilizationRates(); ret == gonvml.SUCCESS {
			g.UtilGPU, g.UtilMemory = u.Gpu, u.Memory
		}
		if c, ret := d.GetTemperature(gonvml.TEMPERATURE_GPU); ret == gonvml.SUCCESS {
			g.TemperatureC = c
		}
		if mw, ret := d.GetPowerUsage(); ret == gonvml.SUCCESS {
			g.PowerW = float64(mw) / 1000
		}
		if mw, ret := d.GetEnforcedPowerLimit(); ret == gonvml.SUCCESS {
			g.PowerLimitW = float64(mw) / 1000
		}
		gpus = append(gpus, g)
	}
	return gpus, nil
}
