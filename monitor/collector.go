package monitor

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pouw/pouwd/accel/nvml"
)

// Source gives the reading a collector exports: a Reader's Read (a fresh
// reading at every scrape, CPU percentages over the interval since the
// previous scrape) or a Monitor's Latest (the newest reading of its
// sampling loop).
type Source func(context.Context) (Resources, error)

// scrapeTimeout bounds a reading taken at scrape time.
const scrapeTimeout = 10 * time.Second

// Collector exports Resources as the pouw_system_*, pouw_process_* and
// pouw_gpu_* series of docs/MONITORING.md.
type Collector struct {
	src Source

	cpu, memTotal, memUsed, memAvail, swapTotal, swapUsed     *prometheus.Desc
	diskTotal, diskFree, diskRead, diskWritten, netRx, netTx  *prometheus.Desc
	rss, openFiles, threads, procCPU                          *prometheus.Desc
	gpuMemTotal, gpuMemUsed, gpuUtil, gpuMemUtil, gpuTemp     *prometheus.Desc
	gpuPower, gpuPowerLimit, gpuSMClock, gpuThrottled, gpuECC *prometheus.Desc
}

// NewCollector returns a collector exporting what src reads.
func NewCollector(src Source) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &Collector{
		src:           src,
		cpu:           d("pouw_system_cpu_usage_ratio", "CPU busy fraction since the previous reading, per core (cpu=\"0\"...) and overall (cpu=\"all\").", "cpu"),
		memTotal:      d("pouw_system_memory_total_bytes", "Total RAM."),
		memUsed:       d("pouw_system_memory_used_bytes", "RAM in use (not counting buffers and page cache)."),
		memAvail:      d("pouw_system_memory_available_bytes", "RAM available to new work without swapping."),
		swapTotal:     d("pouw_system_swap_total_bytes", "Total swap."),
		swapUsed:      d("pouw_system_swap_used_bytes", "Swap in use."),
		diskTotal:     d("pouw_system_disk_total_bytes", "Size of the file system holding a watched folder.", "path"),
		diskFree:      d("pouw_system_disk_free_bytes", "Free space (for unprivileged users) of the file system holding a watched folder.", "path"),
		diskRead:      d("pouw_system_disk_read_bytes_total", "Bytes read from the machine's physical disks since boot."),
		diskWritten:   d("pouw_system_disk_written_bytes_total", "Bytes written to the machine's physical disks since boot."),
		netRx:         d("pouw_system_network_received_bytes_total", "Bytes received on every network interface but the loopback since boot."),
		netTx:         d("pouw_system_network_sent_bytes_total", "Bytes sent on every network interface but the loopback since boot."),
		rss:           d("pouw_process_resident_memory_bytes", "This process's resident set size."),
		openFiles:     d("pouw_process_open_files", "This process's open file descriptors."),
		threads:       d("pouw_process_threads", "This process's OS threads."),
		procCPU:       d("pouw_process_cpu_usage_ratio", "This process's CPU use since the previous reading, in cores (2 = two cores busy)."),
		gpuMemTotal:   d("pouw_gpu_memory_total_bytes", "GPU device memory.", "gpu"),
		gpuMemUsed:    d("pouw_gpu_memory_used_bytes", "GPU device memory in use.", "gpu"),
		gpuUtil:       d("pouw_gpu_utilization_ratio", "Fraction of NVML's last sample period in which a kernel ran on the GPU.", "gpu"),
		gpuMemUtil:    d("pouw_gpu_memory_utilization_ratio", "Fraction of NVML's last sample period in which device memory was read or written.", "gpu"),
		gpuTemp:       d("pouw_gpu_temperature_celsius", "GPU core temperature.", "gpu"),
		gpuPower:      d("pouw_gpu_power_watts", "GPU power draw.", "gpu"),
		gpuPowerLimit: d("pouw_gpu_power_limit_watts", "GPU enforced power limit.", "gpu"),
		gpuSMClock:    d("pouw_gpu_sm_clock_hertz", "GPU SM clock now.", "gpu"),
		gpuThrottled:  d("pouw_gpu_throttled", "1 while the GPU's clocks are held down for this reason (the NVML clock event reasons that are throttling: not idle, not clocks set on purpose).", "gpu", "reason"),
		gpuECC:        d("pouw_gpu_ecc_errors_total", "Uncorrected ECC errors since the driver loaded.", "gpu"),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.cpu, c.memTotal, c.memUsed, c.memAvail, c.swapTotal, c.swapUsed,
		c.diskTotal, c.diskFree, c.diskRead, c.diskWritten, c.netRx, c.netTx, c.rss, c.openFiles, c.threads, c.procCPU,
		c.gpuMemTotal, c.gpuMemUsed, c.gpuUtil, c.gpuMemUtil, c.gpuTemp, c.gpuPower, c.gpuPowerLimit, c.gpuSMClock,
		c.gpuThrottled, c.gpuECC} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A reading that failed in part
// exports the parts it has (a scrape never fails for a missing part:
// that would drop every other series of the process with it); one that
// failed entirely exports nothing.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	r, _ := c.src(ctx)
	if r.Time.IsZero() {
		return
	}
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ctr := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if len(r.CPUPercent) > 0 {
		for i, p := range r.CPUPercent {
			g(c.cpu, p/100, strconv.Itoa(i))
		}
		g(c.cpu, r.CPUTotalPercent/100, "all")
	}
	if r.MemTotalBytes > 0 {
		g(c.memTotal, float64(r.MemTotalBytes))
		g(c.memUsed, float64(r.MemUsedBytes))
		g(c.memAvail, float64(r.MemAvailableBytes))
		g(c.swapTotal, float64(r.SwapTotalBytes))
		g(c.swapUsed, float64(r.SwapUsedBytes))
	}
	seen := map[string]bool{}
	for _, d := range r.Disks {
		if seen[d.Path] { // the same folder watched twice
			continue
		}
		seen[d.Path] = true
		g(c.diskTotal, float64(d.TotalBytes), d.Path)
		g(c.diskFree, float64(d.FreeBytes), d.Path)
	}
	ctr(c.diskRead, float64(r.DiskReadBytes))
	ctr(c.diskWritten, float64(r.DiskWrittenBytes))
	ctr(c.netRx, float64(r.NetRecvBytes))
	ctr(c.netTx, float64(r.NetSentBytes))
	if r.ProcessRSSBytes > 0 {
		g(c.rss, float64(r.ProcessRSSBytes))
		g(c.openFiles, float64(r.ProcessOpenFiles))
		g(c.threads, float64(r.ProcessThreads))
		g(c.procCPU, r.ProcessCPUPercent/100)
	}
	for _, gpu := range r.GPUs {
		id := strconv.Itoa(gpu.Index)
		g(c.gpuMemTotal, float64(gpu.MemTotalBytes), id)
		g(c.gpuMemUsed, float64(gpu.MemUsedBytes), id)
		g(c.gpuUtil, float64(gpu.UtilPercent)/100, id)
		g(c.gpuMemUtil, float64(gpu.MemUtilPercent)/100, id)
		g(c.gpuTemp, float64(gpu.TemperatureC), id)
		g(c.gpuPower, gpu.PowerWatts, id)
		g(c.gpuPowerLimit, gpu.PowerLimitW, id)
		g(c.gpuSMClock, float64(gpu.SMClockMHz)*1e6, id)
		active := map[string]bool{}
		for _, why := range gpu.ThrottleReason {
			active[why] = true
		}
		// Every known reason, 0 or 1: a fixed label set, so a reason's
		// series does not vanish when it clears.
		for _, why := range nvml.Reasons() {
			if !nvml.Throttling(why) {
				continue // idle, or clocks set on purpose
			}
			v := 0.0
			if active[why] {
				v = 1
			}
			g(c.gpuThrottled, v, id, why)
		}
		ctr(c.gpuECC, float64(gpu.ECCErrors), id)
	}
}
