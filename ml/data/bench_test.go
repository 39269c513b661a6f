package data

import (
	"crypto/sha256"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func loadMNISTForBench(b *testing.B) *Dataset {
	b.Helper()
	dir, err := DefaultMNISTDir()
	must(b, err)
	d, _, err := LoadIDXDir(dir, MNISTClassNames)
	must(b, err)
	return d
}

// BenchmarkPrepareMNIST: decompress, canonicalise, hash and write (no cache).
func BenchmarkPrepareMNIST(b *testing.B) {
	dir, err := DefaultMNISTDir()
	must(b, err)
	out := filepath.Join(b.TempDir(), "mnist")
	b.SetBytes(55230040)
	for i := 0; i < b.N; i++ {
		if _, err := (*Cache)(nil).Prepare(Options{Kind: KindMNIST, Path: dir}, nil, out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadPrepared: read a prepared MNIST and verify its sha256.
func BenchmarkLoadPrepared(b *testing.B) {
	dir, err := DefaultMNISTDir()
	must(b, err)
	out := filepath.Join(b.TempDir(), "mnist")
	if _, err := (*Cache)(nil).Prepare(Options{Kind: KindMNIST, Path: dir}, nil, out); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(55230040)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Load(out); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSHA256 is the raw hashing throughput over canonical bytes. It
// also reports MB per CPU-second, which does not depend on how many other
// processes share the cores.
func BenchmarkSHA256(b *testing.B) {
	buf, err := loadMNISTForBench(b).Encode()
	must(b, err)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		sha256.Sum256(buf)
	}
	if c := cpuTime() - c0; c > 0 {
		b.ReportMetric(float64(len(buf))*float64(b.N)/1e6/c.Seconds(), "MB/cpu-s")
	}
}

// BenchmarkDatasetSHA256 hashes through the canonical encoder (WriteTo).
func BenchmarkDatasetSHA256(b *testing.B) {
	d := loadMNISTForBench(b)
	b.SetBytes(d.CanonicalSize())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := d.SHA256(); err != nil {
			b.Fatal(err)
		}
	}
}
