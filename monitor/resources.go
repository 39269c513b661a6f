package monitor

import "time"

// Resources is one reading of the machine and this process: what the
// system collector exports as metrics, what run reports keep as their
// resource samples (monitor/report) and what the alert rules read.
// Cumulative counters (disk and network bytes) are totals since boot, so a
// reader of two samples takes their difference; percentages are over the
// interval since the Reader's previous reading.
type Resources struct {
	Time time.Time `json:"time"`

	// CPU: utilisation per logical core and overall, in percent (0-100).
	CPUPercent      []float64 `json:"cpu_percent"`
	CPUTotalPercent float64   `json:"cpu_total_percent"`

	MemTotalBytes     uint64 `json:"mem_total_bytes"`
	MemUsedBytes      uint64 `json:"mem_used_bytes"`
	MemAvailableBytes uint64 `json:"mem_available_bytes"`
	SwapTotalBytes    uint64 `json:"swap_total_bytes"`
	SwapUsedBytes     uint64 `json:"swap_used_bytes"`

	// Disks are the file systems holding the paths the Reader watches
	// (the process's home and data folders).
	Disks []DiskUsage `json:"disks,omitempty"`
	// Disk and network I/O, summed over devices and interfaces.
	DiskReadBytes    uint64 `json:"disk_read_bytes"`
	DiskWrittenBytes uint64 `json:"disk_written_bytes"`
	NetRecvBytes     uint64 `json:"net_recv_bytes"`
	NetSentBytes     uint64 `json:"net_sent_bytes"`

	// This process.
	ProcessRSSBytes   uint64  `json:"process_rss_bytes"`
	ProcessOpenFiles  int     `json:"process_open_files"`
	ProcessThreads    int     `json:"process_threads"`
	ProcessCPUPercent float64 `json:"process_cpu_percent"`

	// GPUs as NVML reports them; empty without a driver.
	GPUs []GPUStats `json:"gpus,omitempty"`
}

// DiskUsage is one watched file system.
type DiskUsage struct {
	Path        string  `json:"path"`
	TotalBytes  uint64  `json:"total_bytes"`
	FreeBytes   uint64  `json:"free_bytes"`
	UsedPercent float64 `json:"used_percent"`
}

// GPUStats is one GPU's telemetry.
type GPUStats struct {
	Index          int     `json:"index"`
	Name           string  `json:"name"`
	MemTotalBytes  uint64  `json:"mem_total_bytes"`
	MemUsedBytes   uint64  `json:"mem_used_bytes"`
	UtilPercent    uint32  `json:"util_percent"`
	MemUtilPercent uint32  `json:"mem_util_percent"`
	TemperatureC   uint32  `json:"temperature_c"`
	PowerWatts     float64 `json:"power_watts"`
	PowerLimitW    float64 `json:"power_limit_watts"`
	// Throttled is true while a reason holds the clocks down (power cap,
	// thermal or hardware slowdown: nvml.Throttling); ThrottleReason lists
	// every active clock event reason, idle included (nvml.Reasons).
	Throttled      bool     `json:"throttled"`
	ThrottleReason []string `json:"throttle_reasons,omitempty"`
	// ECCErrors counts uncorrected ECC errors since the driver loaded.
	ECCErrors uint64 `json:"ecc_errors"`
	// SMClockMHz and MaxSMClockMHz are the SM clock now and its maximum.
	SMClockMHz    uint32 `json:"sm_clock_mhz,omitempty"`
	MaxSMClockMHz uint32 `json:"max_sm_clock_mhz,omitempty"`
}
