// Package memprobe measures the Go heap of a piece of work: the bytes of
// heap objects now (HeapObjects), and the highest value seen while a
// function runs (Peak), sampled on another goroutine. ml's memory
// estimator is checked against it (ml/estimate_test.go) and
// scripts/bench/recomputebench reports activation memory with it.
//
// It must never be imported by code that trains or verifies: sampling
// costs a goroutine and a runtime/metrics read per interval.
package memprobe
