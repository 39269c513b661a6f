package report

import (
	"github.com/pouw/pouwd/monitor"
)

// ResourceSummary is computed over every resource reading of the run, not
// only those the history kept.
type ResourceSummary struct {
	// Readings is the number of readings taken; Errors the readings that
	// failed, LastError the last failure's message.
	Readings  int    `json:"readings"`
	Errors    int    `json:"errors,omitempty"`
	LastError string `json:"last_error,omitempty"`

	// CPU: the machine's overall utilisation (100 = every core busy) and
	// this process's (monitor.Resources.ProcessCPUPercent: CPU time over
	// wall time, 100 = one core busy).
	MeanCPUPercent        float64 `json:"mean_cpu_percent"`
	PeakCPUPercent        float64 `json:"peak_cpu_percent"`
	MeanProcessCPUPercent float64 `json:"mean_process_cpu_percent"`
	// Cores is the logical cores the readings reported (0: none did).
	Cores int `json:"cores,omitempty"`

	PeakRSSBytes         uint64 `json:"peak_rss_bytes"`
	MeanRSSBytes         uint64 `json:"mean_rss_bytes"`
	MemTotalBytes        uint64 `json:"mem_total_bytes"`
	MinMemAvailableBytes uint64 `json:"min_mem_available_bytes"`
	PeakSwapUsedBytes    uint64 `json:"peak_swap_used_bytes,omitempty"`
	PeakProcessThreads   int    `json:"peak_process_threads,omitempty"`

	GPUs []GPUSummary `json:"gpus,omitempty"`
}

// GPUSummary is one GPU over the run.
type GPUSummary struct {
	Index              int     `json:"index"`
	Name               string  `json:"name"`
	Readings           int     `json:"readings"`
	MeanUtilPercent    float64 `json:"mean_util_percent"`
	PeakUtilPercent    float64 `json:"peak_util_percent"`
	MeanMemUtilPercent float64 `json:"mean_mem_util_percent"`
	PeakMemUsedBytes   uint64  `json:"peak_mem_used_bytes"`
	MemTotalBytes      uint64  `json:"mem_total_bytes"`
	MeanPowerWatts     float64 `json:"mean_power_watts,omitempty"`
	PeakTemperatureC   uint32  `json:"peak_temperature_c,omitempty"`
	ThrottledReadings  int     `json:"throttled_readings,omitempty"`
	ECCErrors          uint64  `json:"ecc_errors,omitempty"` // the last reading's count (uncorrected, since boot)
}

// Summarizer accumulates readings into a ResourceSummary: the Recorder
// feeds it every reading; tests and tools that hold a list of readings
// use Summarize.
type Summarizer struct {
	s                     ResourceSummary
	cpuSum, procSum       float64
	rssSum                float64
	gpuUtil, gpuMem, gpuW []float64
}

// Add folds one reading in.
func (a *Summarizer) Add(r monitor.Resources) {
	s := &a.s
	first := s.Readings == 0
	s.Readings++
	a.cpuSum += r.CPUTotalPercent
	a.procSum += r.ProcessCPUPercent
	a.rssSum += float64(r.ProcessRSSBytes)
	s.PeakCPUPercent = max(s.PeakCPUPercent, r.CPUTotalPercent)
	s.Cores = max(s.Cores, len(r.CPUPercent))
	s.PeakRSSBytes = max(s.PeakRSSBytes, r.ProcessRSSBytes)
	s.MemTotalBytes = max(s.MemTotalBytes, r.MemTotalBytes)
	if first || r.MemAvailableBytes < s.MinMemAvailableBytes {
		s.MinMemAvailableBytes = r.MemAvailableBytes
	}
	s.PeakSwapUsedBytes = max(s.PeakSwapUsedBytes, r.SwapUsedBytes)
	s.PeakProcessThreads = max(s.PeakProcessThreads, r.ProcessThreads)
	for _, g := range r.GPUs {
		i := a.gpu(g)
		gs := &s.GPUs[i]
		gs.Readings++
		a.gpuUtil[i] += float64(g.UtilPercent)
		a.gpuMem[i] += float64(g.MemUtilPercent)
		a.gpuW[i] += g.PowerWatts
		gs.PeakUtilPercent = max(gs.PeakUtilPercent, float64(g.UtilPercent))
		gs.PeakMemUsedBytes = max(gs.PeakMemUsedBytes, g.MemUsedBytes)
		gs.MemTotalBytes = max(gs.MemTotalBytes, g.MemTotalBytes)
		gs.PeakTemperatureC = max(gs.PeakTemperatureC, g.TemperatureC)
		gs.ECCErrors = g.ECCErrors
		if g.Throttled {
			gs.ThrottledReadings++
		}
	}
}

// gpu returns the summary index of g's device, adding it when new.
func (a *Summarizer) gpu(g monitor.GPUStats) int {
	for i, gs := range a.s.GPUs {
		if gs.Index == g.Index {
			return i
		}
	}
	a.s.GPUs = append(a.s.GPUs, GPUSummary{Index: g.Index, Name: g.Name})
	a.gpuUtil, a.gpuMem, a.gpuW = append(a.gpuUtil, 0), append(a.gpuMem, 0), append(a.gpuW, 0)
	return len(a.s.GPUs) - 1
}

// Failed counts a reading that returned an error.
func (a *Summarizer) Failed(err error) {
	a.s.Errors++
	a.s.LastError = err.Error()
}

// Summary returns the summary of the readings so far.
func (a *Summarizer) Summary() ResourceSummary {
	s := a.s
	if n := float64(s.Readings); n > 0 {
		s.MeanCPUPercent = a.cpuSum / n
		s.MeanProcessCPUPercent = a.procSum / n
		s.MeanRSSBytes = uint64(a.rssSum / n)
	}
	s.GPUs = append([]GPUSummary(nil), s.GPUs...)
	for i := range s.GPUs {
		if n := float64(s.GPUs[i].Readings); n > 0 {
			s.GPUs[i].MeanUtilPercent = a.gpuUtil[i] / n
			s.GPUs[i].MeanMemUtilPercent = a.gpuMem[i] / n
			s.GPUs[i].MeanPowerWatts = a.gpuW[i] / n
		}
	}
	return s
}

// Summarize summarises a list of readings.
func Summarize(rs []monitor.Resources) ResourceSummary {
	var a Summarizer
	for _, r := range rs {
		a.Add(r)
	}
	return a.Summary()
}
