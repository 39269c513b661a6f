package monitor

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// read takes a reading that must be complete on this machine.
func read(t *testing.T, r *Reader) Resources {
	t.Helper()
	res, err := r.Read(testCtx(t))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return res
}

// TestReaderPlausible reads this machine for real and checks that every
// part is there and makes sense.
func TestReaderPlausible(t *testing.T) {
	dir := t.TempDir()
	notYet := filepath.Join(dir, "store", "not", "created")
	r := NewReader(Options{DiskPaths: []string{dir, notYet}})
	defer r.Close()
	res := read(t, r)

	if res.Time.IsZero() || time.Since(res.Time) > time.Minute {
		t.Fatalf("reading time %v", res.Time)
	}
	if len(res.CPUPercent) == 0 || len(res.CPUPercent) > 4*runtime.NumCPU()+64 {
		t.Fatalf("%d per-core CPU figures on a machine with %d CPUs", len(res.CPUPercent), runtime.NumCPU())
	}
	for i, p := range append(res.CPUPercent, res.CPUTotalPercent) {
		if p < 0 || p > 100 {
			t.Fatalf("CPU %d at %v%%", i, p)
		}
	}
	if res.MemTotalBytes == 0 || res.MemAvailableBytes > res.MemTotalBytes || res.MemUsedBytes > res.MemTotalBytes {
		t.Fatalf("memory total %d used %d available %d", res.MemTotalBytes, res.MemUsedBytes, res.MemAvailableBytes)
	}
	if res.SwapUsedBytes > res.SwapTotalBytes {
		t.Fatalf("swap used %d of %d", res.SwapUsedBytes, res.SwapTotalBytes)
	}
	if len(res.Disks) != 2 || res.Disks[0].Path != dir || res.Disks[1].Path != notYet {
		t.Fatalf("disks %+v, expected %s and %s", res.Disks, dir, notYet)
	}
	for _, d := range res.Disks {
		if d.TotalBytes == 0 || d.FreeBytes > d.TotalBytes || d.UsedPercent < 0 || d.UsedPercent > 100 {
			t.Fatalf("disk %+v", d)
		}
	}
	if res.Disks[0].TotalBytes != res.Disks[1].TotalBytes {
		t.Fatalf("a folder not created yet is not measured on its parent: %+v", res.Disks)
	}
	if res.ProcessRSSBytes < 1<<20 || res.ProcessThreads < 1 || res.ProcessOpenFiles < 3 {
		t.Fatalf("process RSS %d, threads %d, open files %d", res.ProcessRSSBytes, res.ProcessThreads, res.ProcessOpenFiles)
	}
	if err := r.GPUUnavailable(); err != nil {
		t.Logf("no GPUs read: %v", err)
	}
	for _, g := range res.GPUs {
		if g.Name == "" || g.MemTotalBytes == 0 {
			t.Fatalf("GPU %+v", g)
		}
	}
	t.Logf("cpu %.0f%% of %d, mem %s/%s, disk %s free, rss %s, fds %d, threads %d, disk io %s/%s, net %s/%s, gpus %d",
		res.CPUTotalPercent, len(res.CPUPercent), Bytes(res.MemUsedBytes), Bytes(res.MemTotalBytes), Bytes(res.Disks[0].FreeBytes),
		Bytes(res.ProcessRSSBytes), res.ProcessOpenFiles, res.ProcessThreads, Bytes(res.DiskReadBytes), Bytes(res.DiskWrittenBytes),
		Bytes(res.NetRecvBytes), Bytes(res.NetSentBytes), len(res.GPUs))
}

// TestReaderFollowsTheProcess: RSS grows after allocating and touching
// 64 MiB, open files after opening files, and process CPU after burning
// CPU.
func TestReaderFollowsTheProcess(t *testing.T) {
	r := NewReader(Options{NoGPU: true})
	before := read(t, r)

	const size = 64 << 20
	buf := make([]byte, size)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	var files []*os.File
	dir := t.TempDir()
	for i := range 16 {
		f, err := os.Create(filepath.Join(dir, "f"+string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	// Busy for a while, so process CPU since the last reading is well
	// above zero.
	x, until := 0.0, time.Now().Add(300*time.Millisecond)
	for time.Now().Before(until) {
		for i := range 10000 {
			x += float64(i) * 1e-9
		}
	}
	after := read(t, r)
	runtime.KeepAlive(buf)

	if grew := int64(after.ProcessRSSBytes) - int64(before.ProcessRSSBytes); grew < size*3/4 {
		t.Fatalf("RSS grew by %s after touching 64 MiB (%s -> %s)", Bytes(uint64(max(grew, 0))), Bytes(before.ProcessRSSBytes), Bytes(after.ProcessRSSBytes))
	}
	if after.ProcessOpenFiles < before.ProcessOpenFiles+len(files) {
		t.Fatalf("open files %d -> %d after opening %d", before.ProcessOpenFiles, after.ProcessOpenFiles, len(files))
	}
	if after.ProcessCPUPercent < 20 {
		t.Fatalf("process CPU %.1f%% after 300 ms busy (x=%v)", after.ProcessCPUPercent, x)
	}
	if after.CPUTotalPercent <= 0 {
		t.Fatalf("machine CPU %.1f%% while this process was busy", after.CPUTotalPercent)
	}
	// Cumulative counters never go back.
	if after.DiskReadBytes < before.DiskReadBytes || after.NetSentBytes < before.NetSentBytes {
		t.Fatalf("counters went back: %+v -> %+v", before, after)
	}
}

func TestReaderOtherProcess(t *testing.T) {
	r := NewReader(Options{PID: 1 << 30, NoGPU: true}) // no such process
	res, err := r.Read(testCtx(t))
	if err == nil {
		t.Fatal("reading a missing process gave no error")
	}
	if res.MemTotalBytes == 0 {
		t.Fatal("a failed part dropped the rest of the reading")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1288490189: "1.2 GiB", 250 << 30: "250.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
