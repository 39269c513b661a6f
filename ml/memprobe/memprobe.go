package memprobe

import (
	"runtime/metrics"
	"sync/atomic"
	"time"
)

const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

// HeapObjects returns the bytes of heap objects now: live objects and
// garbage the collector has not swept yet.
func HeapObjects() int64 { return newReader()() }

// newReader returns a reader of the heap-objects metric that allocates
// nothing per read: under the low GOGC of a measurement, a sampler that
// allocated would trigger collections of its own and lower the peak.
func newReader() func() int64 {
	s := []metrics.Sample{{Name: heapObjectsMetric}}
	return func() int64 {
		metrics.Read(s)
		return int64(s[0].Value.Uint64())
	}
}

// Peak runs f while another goroutine samples HeapObjects every interval,
// and returns the highest sample, counting one taken before f starts and
// one after it returns (a peak that f leaves allocated is seen even when
// the sampler got no time while f ran), with f's error.
func Peak(interval time.Duration, f func() error) (int64, error) {
	var peak atomic.Int64
	read := newReader()
	sample := func() {
		if h := read(); h > peak.Load() {
			peak.Store(h)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	err := f()
	close(stop)
	<-done
	sample()
	return peak.Load(), err
}
