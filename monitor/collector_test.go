package monitor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// fixed is a Source returning one reading.
func fixed(r Resources) Source {
	return func(context.Context) (Resources, error) { return r, nil }
}

// TestCollectorRealReading collects a real reading of this machine and
// lints it.
func TestCollectorRealReading(t *testing.T) {
	r := NewReader(Options{DiskPaths: []string{t.TempDir()}})
	defer r.Close()
	c := NewCollector(r.Read)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, name := range []string{"pouw_system_cpu_usage_ratio", "pouw_system_memory_total_bytes", "pouw_system_memory_used_bytes",
		"pouw_system_memory_available_bytes", "pouw_system_swap_total_bytes", "pouw_system_swap_used_bytes",
		"pouw_system_disk_total_bytes", "pouw_system_disk_free_bytes", "pouw_system_disk_read_bytes_total",
		"pouw_system_disk_written_bytes_total", "pouw_system_network_received_bytes_total", "pouw_system_network_sent_bytes_total",
		"pouw_process_resident_memory_bytes", "pouw_process_open_files", "pouw_process_threads", "pouw_process_cpu_usage_ratio"} {
		if n := testutil.CollectAndCount(c, name); n == 0 {
			t.Errorf("%s missing", name)
		}
	}
	if n := testutil.CollectAndCount(c, "pouw_system_cpu_usage_ratio"); n < 2 {
		t.Errorf("%d CPU series, expected the cores and all", n)
	}
}

// TestCollectorValues checks the exported values of an injected reading,
// a GPU included.
func TestCollectorValues(t *testing.T) {
	r := Resources{Time: time.Now(), CPUPercent: []float64{50, 100}, CPUTotalPercent: 75,
		MemTotalBytes: 8 << 30, MemUsedBytes: 2 << 30, MemAvailableBytes: 5 << 30, SwapTotalBytes: 1 << 30, SwapUsedBytes: 0,
		Disks:         []DiskUsage{{Path: "/data", TotalBytes: 1000, FreeBytes: 400}, {Path: "/data", TotalBytes: 1000, FreeBytes: 400}},
		DiskReadBytes: 10, DiskWrittenBytes: 20, NetRecvBytes: 30, NetSentBytes: 40,
		ProcessRSSBytes: 100 << 20, ProcessOpenFiles: 12, ProcessThreads: 9, ProcessCPUPercent: 150,
		GPUs: []GPUStats{{Index: 0, Name: "Test GPU", MemTotalBytes: 80 << 30, MemUsedBytes: 1 << 30, UtilPercent: 97, MemUtilPercent: 40,
			TemperatureC: 88, PowerWatts: 690.5, PowerLimitW: 700, Throttled: true, ThrottleReason: []string{"gpu_idle", "hw_thermal_slowdown"},
			ECCErrors: 2, SMClockMHz: 1500, MaxSMClockMHz: 1980}}}
	c := NewCollector(fixed(r))
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	want := `
# HELP pouw_system_cpu_usage_ratio CPU busy fraction since the previous reading, per core (cpu="0"...) and overall (cpu="all").
# TYPE pouw_system_cpu_usage_ratio gauge
pouw_system_cpu_usage_ratio{cpu="0"} 0.5
pouw_system_cpu_usage_ratio{cpu="1"} 1
pouw_system_cpu_usage_ratio{cpu="all"} 0.75
# HELP pouw_system_disk_free_bytes Free space (for unprivileged users) of the file system holding a watched folder.
# TYPE pouw_system_disk_free_bytes gauge
pouw_system_disk_free_bytes{path="/data"} 400
# HELP pouw_process_cpu_usage_ratio This process's CPU use since the previous reading, in cores (2 = two cores busy).
# TYPE pouw_process_cpu_usage_ratio gauge
pouw_process_cpu_usage_ratio 1.5
# HELP pouw_gpu_utilization_ratio Fraction of NVML's last sample period in which a kernel ran on the GPU.
# TYPE pouw_gpu_utilization_ratio gauge
pouw_gpu_utilization_ratio{gpu="0"} 0.97
# HELP pouw_gpu_ecc_errors_total Uncorrected ECC errors since the driver loaded.
# TYPE pouw_gpu_ecc_errors_total counter
pouw_gpu_ecc_errors_total{gpu="0"} 2
# HELP pouw_gpu_sm_clock_hertz GPU SM clock now.
# TYPE pouw_gpu_sm_clock_hertz gauge
pouw_gpu_sm_clock_hertz{gpu="0"} 1.5e+09
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "pouw_system_cpu_usage_ratio", "pouw_system_disk_free_bytes",
		"pouw_process_cpu_usage_ratio", "pouw_gpu_utilization_ratio", "pouw_gpu_ecc_errors_total", "pouw_gpu_sm_clock_hertz"); err != nil {
		t.Fatal(err)
	}
	// Every throttling reason is a series (0 or 1); idle is not one.
	if n := testutil.CollectAndCount(c, "pouw_gpu_throttled"); n != 7 {
		t.Fatalf("%d pouw_gpu_throttled series, expected the 7 throttling reasons", n)
	}
	out, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "pouw_gpu_throttled")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.Contains(s, `pouw_gpu_throttled{gpu="0",reason="hw_thermal_slowdown"} 1`) ||
		!strings.Contains(s, `pouw_gpu_throttled{gpu="0",reason="sw_power_cap"} 0`) || strings.Contains(s, "gpu_idle") {
		t.Fatalf("throttle series:\n%s", s)
	}
}

// TestCollectorNoReading: a source that cannot read exports nothing (and
// does not fail the scrape).
func TestCollectorNoReading(t *testing.T) {
	c := NewCollector(func(context.Context) (Resources, error) { return Resources{}, context.DeadlineExceeded })
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d series without a reading", n)
	}
}
