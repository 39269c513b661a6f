//go:build cgo && linux

package nvml

import (
	"context"
	"fmt"
	"sync"

	gonvml "github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/pouw/pouwd/accel"
)

// Prober implements accel.GPUProber with NVML.
type Prober struct{}

// Probe initialises NVML, lists the GPUs with their memory, utilisation,
// temperature and power (a Session's Telemetry), and shuts NVML down
// again.
func (Prober) Probe(ctx context.Context) ([]accel.GPUInfo, error) {
	s, err := Open()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	driver, _ := gonvml.SystemGetDriverVersion()
	tel, err := s.Telemetry(ctx)
	if err != nil {
		return nil, err
	}
	gpus := make([]accel.GPUInfo, 0, len(tel))
	for _, t := range tel {
		// NVML's (v1) memory info has total = free + used.
		gpus = append(gpus, accel.GPUInfo{Index: t.Index, Name: t.Name, UUID: t.UUID, Driver: driver,
			MemoryTotal: t.MemoryTotal, MemoryFree: t.MemoryTotal - t.MemoryUsed, UtilGPU: t.UtilGPU, UtilMemory: t.UtilMemory,
			TemperatureC: t.TemperatureC, PowerW: t.PowerW, PowerLimitW: t.PowerLimitW})
	}
	return gpus, nil
}

// clockEventSymbol is the NVML call that replaced
// nvmlDeviceGetCurrentClocksThrottleReasons (driver 535 and later); an
// older driver has only the throttle-reasons call, with the same bits.
const clockEventSymbol = "nvmlDeviceGetCurrentClocksEventReasons"

// Session keeps NVML initialised between telemetry readings: a daemon
// reads every few seconds, and initialising NVML each time costs more
// than the reading. NVML counts its initialisations, so a Session and
// Probe can be used side by side. It is safe for concurrent use.
type Session struct {
	mu       sync.Mutex
	open     bool
	newCalls bool // the driver has clockEventSymbol
}

// Open initialises NVML. Without a driver (or library) the error wraps
// accel.ErrNoDriver.
func Open() (*Session, error) {
	if ret := gonvml.Init(); ret != gonvml.SUCCESS {
		if ret == gonvml.ERROR_LIBRARY_NOT_FOUND || ret == gonvml.ERROR_DRIVER_NOT_LOADED {
			return nil, fmt.Errorf("%w: nvml init: %s", accel.ErrNoDriver, gonvml.ErrorString(ret))
		}
		return nil, fmt.Errorf("nvml init: %s", gonvml.ErrorString(ret))
	}
	s := &Session{open: true}
	// Calling a symbol the loaded library lacks would crash the process,
	// so the newer call is used only when the library has it.
	s.newCalls = gonvml.Extensions().LookupSymbol(clockEventSymbol) == nil
	return s, nil
}

// Close shuts NVML down (once; later calls do nothing).
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return nil
	}
	s.open = false
	if ret := gonvml.Shutdown(); ret != gonvml.SUCCESS {
		return fmt.Errorf("nvml shutdown: %s", gonvml.ErrorString(ret))
	}
	return nil
}

// Telemetry reads every GPU. A value a GPU does not support (power on
// some boards, ECC on consumer cards) is left zero; only failing to list
// the GPUs is an error.
func (s *Session) Telemetry(ctx context.Context) ([]Telemetry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.open {
		return nil, fmt.Errorf("nvml: session closed")
	}
	n, ret := gonvml.DeviceGetCount()
	if ret != gonvml.SUCCESS {
		return nil, fmt.Errorf("nvml device count: %s", gonvml.ErrorString(ret))
	}
	out := make([]Telemetry, 0, n)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, ret := gonvml.DeviceGetHandleByIndex(i)
		if ret != gonvml.SUCCESS {
			return nil, fmt.Errorf("nvml device %d: %s", i, gonvml.ErrorString(ret))
		}
		out = append(out, s.read(i, d))
	}
	return out, nil
}

func (s *Session) read(i int, d gonvml.Device) Telemetry {
	t := Telemetry{Index: i}
	t.Name, _ = d.GetName()
	t.UUID, _ = d.GetUUID()
	if mem, ret := d.GetMemoryInfo(); ret == gonvml.SUCCESS {
		t.MemoryTotal, t.MemoryUsed = mem.Total, mem.Used
	}
	if u, ret := d.GetUtilizationRates(); ret == gonvml.SUCCESS {
		t.UtilGPU, t.UtilMemory = u.Gpu, u.Memory
	}
	if c, ret := d.GetTemperature(gonvml.TEMPERATURE_GPU); ret == gonvml.SUCCESS {
		t.TemperatureC = c
	}
	if mw, ret := d.GetPowerUsage(); ret == gonvml.SUCCESS {
		t.PowerW = float64(mw) / 1000
	}
	if mw, ret := d.GetEnforcedPowerLimit(); ret == gonvml.SUCCESS {
		t.PowerLimitW = float64(mw) / 1000
	}
	if mhz, ret := d.GetClockInfo(gonvml.CLOCK_SM); ret == gonvml.SUCCESS {
		t.SMClockMHz = mhz
	}
	if mhz, ret := d.GetMaxClockInfo(gonvml.CLOCK_SM); ret == gonvml.SUCCESS {
		t.MaxSMClockMHz = mhz
	}
	var mask uint64
	var ret gonvml.Return
	if s.newCalls {
		mask, ret = d.GetCurrentClocksEventReasons()
	} else {
		mask, ret = d.GetCurrentClocksThrottleReasons() //nolint:staticcheck // older drivers have only this call
	}
	if ret == gonvml.SUCCESS {
		t.Reasons = ReasonNames(mask)
	}
	if cur, _, ret := d.GetEccMode(); ret == gonvml.SUCCESS && cur == gonvml.FEATURE_ENABLED {
		t.ECCEnabled = true
		if n, ret := d.GetTotalEccErrors(gonvml.MEMORY_ERROR_TYPE_UNCORRECTED, gonvml.VOLATILE_ECC); ret == gonvml.SUCCESS {
			t.ECCUncorrected = n
		}
	}
	return t
}
