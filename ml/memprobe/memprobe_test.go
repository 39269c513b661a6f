package memprobe

import (
	"runtime"
	"testing"
	"time"
)

// TestPeakSeesAllocation: a 64 MiB allocation held across f's end is in
// the peak, and the peak is at least the heap before f.
func TestPeakSeesAllocation(t *testing.T) {
	runtime.GC()
	before := HeapObjects()
	var keep []byte
	peak, err := Peak(100*time.Microsecond, func() error {
		keep = make([]byte, 64<<20)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if peak < before+64<<20 {
		t.Fatalf("peak %d, want at least %d before + 64 MiB", peak, before)
	}
	runtime.KeepAlive(keep)
}
