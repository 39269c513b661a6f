package nvml

// Clock event ("throttle") reasons: the bits of NVML's
// nvmlDeviceGetCurrentClocksEventReasons (formerly
// ...ClocksThrottleReasons), named as the metrics label them. They live in
// a file without build tags so that code exporting them (a fixed label
// set) builds without cgo too.
var reasonBits = []struct {
	bit  uint64
	name string
}{
	{0x1, "gpu_idle"},
	{0x2, "applications_clocks_setting"},
	{0x4, "sw_power_cap"},
	{0x8, "hw_slowdown"},
	{0x10, "sync_boost"},
	{0x20, "sw_thermal_slowdown"},
	{0x40, "hw_thermal_slowdown"},
	{0x80, "hw_power_brake_slowdown"},
	{0x100, "display_clock_setting"},
	{0x200, "board_limit"},
	{0x400, "reliability"},
}

// Reasons lists every clock event reason name this package reports, in
// NVML's bit order.
func Reasons() []string {
	out := make([]string, len(reasonBits))
	for i, r := range reasonBits {
		out[i] = r.name
	}
	return out
}

// ReasonNames names the reasons set in an NVML clock event reason mask
// (bits this package does not know are ignored).
func ReasonNames(mask uint64) []string {
	var out []string
	for _, r := range reasonBits {
		if mask&r.bit != 0 {
			out = append(out, r.name)
		}
	}
	return out
}

// Throttling reports whether a reason holds the clocks below what the
// work asks for. The idle state, clocks someone set on purpose
// (applications or display clocks) and sync boost are not throttling.
func Throttling(reason string) bool {
	switch reason {
	case "gpu_idle", "applications_clocks_setting", "display_clock_setting", "sync_boost":
		return false
	}
	return true
}

// AlertReasons are the reasons that mean something is wrong with the
// machine rather than the GPU running at its configured power limit
// (sw_power_cap and board_limit are normal under full load): hardware
// slowdowns, thermal slowdowns and the power brake.
var AlertReasons = []string{"hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}

// Telemetry is one GPU's live readings.
type Telemetry struct {
	Index int
	Name  string
	UUID  string
	// MemoryTotal and MemoryUsed are device memory in bytes.
	MemoryTotal, MemoryUsed uint64
	// UtilGPU and UtilMemory are percentages (0-100) over NVML's last
	// sample period.
	UtilGPU, UtilMemory uint32
	TemperatureC        uint32
	PowerW, PowerLimitW float64
	// SMClockMHz and MaxSMClockMHz are the SM clock now and its maximum.
	SMClockMHz, MaxSMClockMHz uint32
	// Reasons are the clock event reasons active now (ReasonNames).
	Reasons []string
	// ECCEnabled reports whether ECC is on; ECCUncorrected counts the
	// uncorrected ECC errors since the driver loaded (volatile counter),
	// 0 when ECC is off or not supported.
	ECCEnabled     bool
	ECCUncorrected uint64
}

// Throttled reports whether any active reason is throttling.
func (t Telemetry) Throttled() bool {
	for _, r := range t.Reasons {
		if Throttling(r) {
			return true
		}
	}
	return false
}
