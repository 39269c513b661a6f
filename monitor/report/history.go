package report

import (
	"encoding/json"
	"fmt"
)

// DefaultHistoryCap is the number of entries a History keeps when its
// capacity is not set: 1000 resource readings are 83 minutes at the
// default 5 s interval before the first halving, and a report stays
// under a few megabytes (a reading is about 1 KiB plus 10 bytes per core)
// whatever the run's length.
const DefaultHistoryCap = 1000

// History is a bounded, evenly spread record of a series too long to keep
// whole (resource samples, step times).
//
// The rule: the values offered are numbered 0, 1, 2, ... in order. The
// history keeps exactly the values whose number is a multiple of its
// stride, oldest first, and the stride starts at 1. When a value is to be
// kept and the history already holds cap entries, it first drops every
// second entry (keeping the 1st, 3rd, 5th, ...: the numbers that are
// multiples of twice the stride) and doubles the stride; the new value is
// then kept if its number is a multiple of the new stride. So a history
// holds between cap/2 and cap entries once it has filled, spaced stride
// values apart from the first value on: a long run's history covers the
// whole run at half the resolution or better of what cap allows, and its
// last entry is less than one stride from the end.
//
// The zero History has capacity DefaultHistoryCap. A History is not safe
// for concurrent use; the Recorder guards its own.
type History[T any] struct {
	cap     int
	stride  uint64
	offered uint64
	entries []T
}

// NewHistory returns an empty history keeping at most capacity entries
// (DefaultHistoryCap when capacity <= 0; at least 2).
func NewHistory[T any](capacity int) *History[T] {
	if capacity <= 0 {
		capacity = DefaultHistoryCap
	}
	return &History[T]{cap: max(capacity, 2), stride: 1}
}

func (h *History[T]) init() {
	if h.cap <= 0 {
		h.cap = DefaultHistoryCap
	}
	if h.stride == 0 {
		h.stride = 1
	}
}

// Add offers the next value of the series and reports whether the history
// kept it.
func (h *History[T]) Add(v T) bool {
	h.init()
	n := h.offered
	h.offered++
	if n%h.stride != 0 {
		return false
	}
	if len(h.entries) >= h.cap {
		kept := h.entries[:0]
		for i := 0; i < len(h.entries); i += 2 {
			kept = append(kept, h.entries[i])
		}
		clear(h.entries[len(kept):]) // let dropped values be collected
		h.entries = kept
		h.stride *= 2
		if n%h.stride != 0 {
			return false
		}
	}
	h.entries = append(h.entries, v)
	return true
}

// Entries returns the kept values, oldest first (the history's own slice:
// do not modify it).
func (h *History[T]) Entries() []T { return h.entries }

// Len is the number of kept values.
func (h *History[T]) Len() int { return len(h.entries) }

// Cap is the most values the history keeps.
func (h *History[T]) Cap() int {
	if h.cap <= 0 {
		return DefaultHistoryCap
	}
	return h.cap
}

// Stride is the spacing of the kept values: entry i is offered value
// i*Stride.
func (h *History[T]) Stride() uint64 { return max(h.stride, 1) }

// Offered is the number of values offered so far, kept or not.
func (h *History[T]) Offered() uint64 { return h.offered }

// historyJSON is History's JSON form.
type historyJSON[T any] struct {
	Cap     int    `json:"cap"`
	Stride  uint64 `json:"stride"`
	Offered uint64 `json:"offered"`
	Entries []T    `json:"entries"`
}

// MarshalJSON writes {"cap", "stride", "offered", "entries"}.
func (h History[T]) MarshalJSON() ([]byte, error) {
	e := h.entries
	if e == nil {
		e = []T{}
	}
	return json.Marshal(historyJSON[T]{Cap: h.Cap(), Stride: h.Stride(), Offered: h.offered, Entries: e})
}

// UnmarshalJSON reads MarshalJSON's form and checks that it obeys the
// rule: cap >= 2, a power-of-two stride, at most cap entries, no more
// entries than the offered values at that stride.
func (h *History[T]) UnmarshalJSON(b []byte) error {
	var j historyJSON[T]
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Cap < 2 || j.Stride == 0 || j.Stride&(j.Stride-1) != 0 || len(j.Entries) > j.Cap ||
		uint64(len(j.Entries)) > (j.Offered+j.Stride-1)/j.Stride {
		return fmt.Errorf("history: cap %d, stride %d, %d offered, %d entries: expected cap >= 2, a power-of-two stride, at most cap entries and no more than the offered values at that stride",
			j.Cap, j.Stride, j.Offered, len(j.Entries))
	}
	*h = History[T]{cap: j.Cap, stride: j.Stride, offered: j.Offered, entries: j.Entries}
	return nil
}
