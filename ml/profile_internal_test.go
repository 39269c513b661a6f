package ml

import (
	"testing"
	"time"
)

// ProfilerCallCost measures what the profiler adds per timed call: the
// instrumentation of one layer (its cost lookup, the forward frame, the
// wrapped backward closure and its frame) around empty work, halved (a
// layer is two timed calls). BenchmarkProfilerOverhead multiplies it by
// the calls per step for an estimate that machine noise cannot blur.
func ProfilerCallCost() time.Duration {
	d := newProfDev()
	l := &Flatten{}
	x := NewTensor(4, 8)
	const n = 100000
	start := time.Now()
	for i := 0; i < n; i++ {
		lc := d.cost(l, x)
		d.push(lc.op, phForward, lc.fwdBytes, lc.fwdFLOPs)
		d.cur = lc
		back := d.wrap(func() {})
		d.cur = nil
		d.pop()
		back()
	}
	return time.Since(start) / (2 * n)
}

// TestProfilerNested: a frame's time excludes its children's, and the
// children's time is not lost.
func TestProfilerNested(t *testing.T) {
	d := newProfDev()
	d.push(opElementwise, phForward, 0, 0)
	d.push(opGEMM, phForward, 0, 0)
	time.Sleep(2 * time.Millisecond)
	d.pop()
	d.pop()
	outer, inner := d.acc[opElementwise][phForward], d.acc[opGEMM][phForward]
	if inner.ns < uint64(2*time.Millisecond) || outer.ns >= inner.ns || outer.calls != 1 || inner.calls != 1 {
		t.Fatalf("outer %+v, inner %+v", outer, inner)
	}
	d.pop() // an unbalanced pop is ignored
}
