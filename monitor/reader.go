package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/nvml"
)

// Options configure a Reader.
type Options struct {
	// DiskPaths are the folders whose file systems are watched (the
	// process's home, store and data folders). A folder that does not
	// exist yet is measured on its nearest existing parent.
	DiskPaths []string
	// PID is the process to read (0: this process).
	PID int
	// NoGPU skips NVML (tests, or a process that must not load the
	// driver library).
	NoGPU bool
}

// firstInterval is how long the first Read waits between two CPU time
// samples: percentages are differences, and a first reading without a
// previous one would otherwise report the average since boot.
const firstInterval = 100 * time.Millisecond

// Reader takes Resources readings of the machine and one process. CPU
// percentages are over the interval since the previous Read (the first
// Read measures over 100 ms). It is safe for concurrent use; readings are
// serialised.
type Reader struct {
	opts Options

	mu       sync.Mutex
	proc     *process.Process
	prevCPU  []cpu.TimesStat // per core, then the total last
	prevProc float64         // process CPU seconds
	prevAt   time.Time
	gpu      *nvml.Session
	noGPU    error // why NVML is not read (no driver): not tried again
}

// NewReader returns a Reader. Nothing is read until Read.
func NewReader(o Options) *Reader {
	if o.PID == 0 {
		o.PID = os.Getpid()
	}
	o.DiskPaths = append([]string(nil), o.DiskPaths...)
	return &Reader{opts: o}
}

// Close releases NVML.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gpu == nil {
		return nil
	}
	err := r.gpu.Close()
	r.gpu = nil
	return err
}

// GPUUnavailable says why the Reader reports no GPUs (nil when it reads
// them, or has not tried yet).
func (r *Reader) GPUUnavailable() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.noGPU
}

// Read takes one reading. Each part is read independently: a part that
// fails is left zero and its error is joined into the returned error, so
// a reading is useful even when, say, the process has no /proc entry
// readable. No GPU driver is not an error (GPUs stays empty).
func (r *Reader) Read(ctx context.Context) (Resources, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	fail := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("monitor: %s: %w", what, err))
		}
	}
	if r.prevCPU == nil {
		// Prime the CPU counters so the first percentages are over a
		// short interval, not since boot.
		if err := r.sampleCPU(ctx, nil); err == nil {
			select {
			case <-ctx.Done():
				return Resources{}, ctx.Err()
			case <-time.After(firstInterval):
			}
		}
	}
	res := Resources{Time: time.Now()}
	fail("cpu", r.sampleCPU(ctx, &res))

	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		res.MemTotalBytes, res.MemUsedBytes, res.MemAvailableBytes = vm.Total, vm.Used, vm.Available
	} else {
		fail("memory", err)
	}
	if sw, err := mem.SwapMemoryWithContext(ctx); err == nil {
		res.SwapTotalBytes, res.SwapUsedBytes = sw.Total, sw.Used
	} else {
		fail("swap", err)
	}
	for _, p := range r.opts.DiskPaths {
		d, err := diskUsage(ctx, p)
		if err != nil {
			fail("disk "+p, err)
			continue
		}
		res.Disks = append(res.Disks, d)
	}
	if rd, wr, err := diskIO(ctx); err == nil {
		res.DiskReadBytes, res.DiskWrittenBytes = rd, wr
	} else {
		fail("disk I/O", err)
	}
	if rx, tx, err := netIO(ctx); err == nil {
		res.NetRecvBytes, res.NetSentBytes = rx, tx
	} else {
		fail("network I/O", err)
	}
	fail("process", r.readProcess(ctx, &res))
	res.GPUs = r.readGPUs(ctx, fail)
	return res, errors.Join(errs...)
}

// busy returns the busy and total CPU seconds of one counter. Guest time
// is already inside user and nice on Linux, so it is not added again.
func busy(t cpu.TimesStat) (b, total float64) {
	total = t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	return total - t.Idle - t.Iowait, total
}

// sampleCPU reads the CPU counters and, when res is not nil, fills its
// percentages from the difference with the previous sample.
func (r *Reader) sampleCPU(ctx context.Context, res *Resources) error {
	per, err := cpu.TimesWithContext(ctx, true)
	if err != nil {
		return err
	}
	all, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return err
	}
	if len(all) != 1 {
		return fmt.Errorf("%d total CPU counters, expected 1", len(all))
	}
	cur := append(per, all[0])
	prev := r.prevCPU
	r.prevCPU = cur
	if res == nil {
		return nil
	}
	pct := func(a, b cpu.TimesStat) float64 {
		b1, t1 := busy(a)
		b2, t2 := busy(b)
		if t2 <= t1 {
			return 0
		}
		return clampPercent((b2 - b1) / (t2 - t1) * 100)
	}
	if len(prev) != len(cur) { // cores came or went: start over
		return nil
	}
	res.CPUPercent = make([]float64, len(per))
	for i := range per {
		res.CPUPercent[i] = pct(prev[i], cur[i])
	}
	res.CPUTotalPercent = pct(prev[len(prev)-1], cur[len(cur)-1])
	return nil
}

func clampPercent(p float64) float64 {
	return min(max(p, 0), 100)
}

// diskUsage measures the file system holding path, or its nearest
// existing parent when path does not exist yet (a store not created).
func diskUsage(ctx context.Context, path string) (DiskUsage, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return DiskUsage{}, err
	}
	at := abs
	for {
		if _, err := os.Stat(at); err == nil {
			break
		}
		parent := filepath.Dir(at)
		if parent == at {
			break
		}
		at = parent
	}
	u, err := disk.UsageWithContext(ctx, at)
	if err != nil {
		return DiskUsage{}, err
	}
	return DiskUsage{Path: path, TotalBytes: u.Total, FreeBytes: u.Free, UsedPercent: u.UsedPercent}, nil
}

// diskIO sums the bytes read and written over the machine's disks. On
// Linux only whole physical devices count (those with a
// /sys/block/NAME/device): partitions, device-mapper and md devices would
// count the same bytes again, and loop and RAM disks are not disks.
func diskIO(ctx context.Context) (read, written uint64, err error) {
	m, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return 0, 0, err
	}
	for name, c := range m {
		if runtime.GOOS == "linux" {
			if _, err := os.Stat(filepath.Join("/sys/block", name, "device")); err != nil {
				continue
			}
		}
		read += c.ReadBytes
		written += c.WriteBytes
	}
	return read, written, nil
}

// netIO sums the bytes received and sent over every interface but the
// loopback (traffic between local processes is not network I/O).
func netIO(ctx context.Context) (recv, sent uint64, err error) {
	nics, err := net.IOCountersWithContext(ctx, true)
	if err != nil {
		return 0, 0, err
	}
	for _, n := range nics {
		if n.Name == "lo" || n.Name == "lo0" {
			continue
		}
		recv += n.BytesRecv
		sent += n.BytesSent
	}
	return recv, sent, nil
}

func (r *Reader) readProcess(ctx context.Context, res *Resources) error {
	if r.proc == nil {
		p, err := process.NewProcessWithContext(ctx, int32(r.opts.PID))
		if err != nil {
			return fmt.Errorf("pid %d: %w", r.opts.PID, err)
		}
		r.proc = p
	}
	var errs []error
	if m, err := r.proc.MemoryInfoWithContext(ctx); err == nil {
		res.ProcessRSSBytes = m.RSS
	} else {
		errs = append(errs, err)
	}
	if n, err := r.proc.NumFDsWithContext(ctx); err == nil {
		res.ProcessOpenFiles = int(n)
	} else {
		errs = append(errs, err)
	}
	if n, err := r.proc.NumThreadsWithContext(ctx); err == nil {
		res.ProcessThreads = int(n)
	} else {
		errs = append(errs, err)
	}
	if t, err := r.proc.TimesWithContext(ctx); err == nil {
		secs := t.User + t.System
		if !r.prevAt.IsZero() {
			if wall := res.Time.Sub(r.prevAt).Seconds(); wall > 0 {
				// Percent of one core: a process busy on 4 cores reads 400.
				res.ProcessCPUPercent = max(secs-r.prevProc, 0) / wall * 100
			}
		}
		r.prevProc, r.prevAt = secs, res.Time
	} else {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readGPUs reads NVML, opening it on first use. No driver is remembered
// and never tried again (it does not appear while a process runs); any
// other failure is reported and the session reopened next time.
func (r *Reader) readGPUs(ctx context.Context, fail func(string, error)) []GPUStats {
	if r.opts.NoGPU || r.noGPU != nil {
		return nil
	}
	if r.gpu == nil {
		s, err := nvml.Open()
		if errors.Is(err, accel.ErrNoDriver) {
			r.noGPU = err
			return nil
		}
		if err != nil {
			fail("gpu", err)
			return nil
		}
		r.gpu = s
	}
	ts, err := r.gpu.Telemetry(ctx)
	if err != nil {
		fail("gpu", err)
		_ = r.gpu.Close()
		r.gpu = nil
		return nil
	}
	out := make([]GPUStats, len(ts))
	for i, t := range ts {
		out[i] = GPUStats{Index: t.Index, Name: t.Name, MemTotalBytes: t.MemoryTotal, MemUsedBytes: t.MemoryUsed,
			UtilPercent: t.UtilGPU, MemUtilPercent: t.UtilMemory, TemperatureC: t.TemperatureC,
			PowerWatts: t.PowerW, PowerLimitW: t.PowerLimitW, Throttled: t.Throttled(), ThrottleReason: t.Reasons,
			ECCErrors: t.ECCUncorrected, SMClockMHz: t.SMClockMHz, MaxSMClockMHz: t.MaxSMClockMHz}
	}
	return out
}
