package miner

import (
	"os"
	"testing"

	"github.com/pouw/pouwd/pouw"
)

// TestJournalRoundTrip: records read back by step, the last record of a
// step wins, a torn final record (a kill mid-write) is ignored, and a
// missing journal is empty.
func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if recs, err := readJournal(dir, 1, 2); err != nil || len(recs) != 0 {
		t.Fatalf("missing journal: %v %v", recs, err)
	}
	h := func(b byte) pouw.StepParts {
		var x pouw.StepParts
		x.Prev[0], x.Batch[1], x.GradSample[2], x.WeightSample[31] = b, b+1, b+2, b+3
		return x
	}
	j, err := openJournal(dir, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for s := uint64(0); s < 7; s++ {
		if err := j.add(s, h(byte(s))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.add(3, h(99)); err != nil { // the same step again, after a restart
		t.Fatal(err)
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(journalPath(dir, 1, 2), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, journalRecord-5)) // torn
	f.Close()
	recs, err := readJournal(dir, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 {
		t.Fatalf("%d steps read back, expected 7", len(recs))
	}
	for s := uint64(0); s < 7; s++ {
		want := h(byte(s))
		if s == 3 {
			want = h(99)
		}
		if recs[s] != want {
			t.Fatalf("step %d: %+v, expected %+v", s, recs[s], want)
		}
	}
	if other, _ := readJournal(dir, 1, 3); len(other) != 0 {
		t.Fatal("another job's journal is not empty")
	}
}

// FuzzReadJournal: any bytes on disk read back without a panic, as whole
// records only.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, journalRecord))
	f.Add(make([]byte, 2*journalRecord+7))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(dir+"/journal", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(journalPath(dir, 1, 1), b, 0o600); err != nil {
			t.Fatal(err)
		}
		recs, err := readJournal(dir, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > len(b)/journalRecord {
			t.Fatalf("%d records from %d bytes", len(recs), len(b))
		}
	})
}
