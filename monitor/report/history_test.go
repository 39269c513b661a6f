package report

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHistoryBoundedAndSpread: whatever the number of values offered, the
// history holds at most cap of them, at least cap/2 once it has filled,
// evenly spaced stride apart from the first value, the last one less than
// a stride from the end.
func TestHistoryBoundedAndSpread(t *testing.T) {
	for _, tc := range []struct{ cap, n int }{{10, 5}, {10, 10}, {10, 11}, {10, 1000}, {7, 12345}, {2, 100}, {1000, 100000}} {
		h := NewHistory[int](tc.cap)
		for i := 0; i < tc.n; i++ {
			h.Add(i)
		}
		e := h.Entries()
		if len(e) > tc.cap || tc.n >= tc.cap && len(e) < tc.cap/2 || tc.n < tc.cap && len(e) != tc.n {
			t.Fatalf("cap %d, %d offered: %d entries, expected at most %d and at least %d", tc.cap, tc.n, len(e), tc.cap, min(tc.n, tc.cap/2))
		}
		s := int(h.Stride())
		for i, v := range e {
			if v != i*s {
				t.Fatalf("cap %d, %d offered: entry %d is value %d, expected %d (stride %d)", tc.cap, tc.n, i, v, i*s, s)
			}
		}
		if last := e[len(e)-1]; tc.n-1-last >= s {
			t.Fatalf("cap %d, %d offered: last entry %d is %d values from the end, expected fewer than the stride %d", tc.cap, tc.n, last, tc.n-1-last, s)
		}
		if h.Offered() != uint64(tc.n) {
			t.Fatalf("offered %d, expected %d", h.Offered(), tc.n)
		}
	}
	var zero History[int]
	zero.Add(1)
	if zero.Cap() != DefaultHistoryCap || zero.Len() != 1 {
		t.Fatalf("zero history: cap %d, len %d, expected %d and 1", zero.Cap(), zero.Len(), DefaultHistoryCap)
	}
}

func TestHistoryJSON(t *testing.T) {
	h := NewHistory[int](4)
	for i := 0; i < 9; i++ {
		h.Add(i)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cap":4,"stride":4,"offered":9,"entries":[0,4,8]}`; string(b) != want {
		t.Fatalf("JSON %s, expected %s", b, want)
	}
	var back History[int]
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Add(9)
	back.Add(10)
	back.Add(11)
	back.Add(12)
	if got := back.Entries(); len(got) != 4 || got[3] != 12 {
		t.Fatalf("a decoded history continues the rule: entries %v, expected [0 4 8 12]", got)
	}
	for _, bad := range []string{
		`{"cap":1,"stride":1,"offered":1,"entries":[0]}`,
		`{"cap":4,"stride":3,"offered":9,"entries":[0,3,6]}`,
		`{"cap":2,"stride":1,"offered":3,"entries":[0,1,2]}`,
		`{"cap":4,"stride":1,"offered":1,"entries":[0,1]}`,
	} {
		var x History[int]
		if err := json.Unmarshal([]byte(bad), &x); err == nil || !strings.Contains(err.Error(), "history") {
			t.Errorf("%s: error %v, expected a history error", bad, err)
		}
	}
}
