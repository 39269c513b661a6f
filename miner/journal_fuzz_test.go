package miner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/pouw/pouwd/pouw"
)

// FuzzJournalRoundTrip: a step journal on disk after a crash may hold any
// bytes (a torn last record, a damaged sector). Whatever it holds, the
// records read back are exactly the whole records in it, the last one of
// a step winning (recomputed here from the bytes), a torn tail changes
// nothing, and writing what was read through the journal's writer reads
// back the same. Committed seeds: testdata/fuzz/FuzzJournalRoundTrip/ and
// FuzzReadJournal/ (POUWD_WRITE_FUZZ_SEEDS=1 go test -run
// TestWriteJournalFuzzSeeds ./miner).
func FuzzJournalRoundTrip(f *testing.F) {
	for _, s := range journalFuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64*journalRecord {
			return
		}
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "journal"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(journalPath(dir, 3, 4), b, 0o600); err != nil {
			t.Fatal(err)
		}
		recs, err := readJournal(dir, 3, 4)
		if err != nil {
			t.Fatal(err)
		}
		want := map[uint64]pouw.StepParts{}
		whole := b[:len(b)/journalRecord*journalRecord]
		for off := 0; off < len(whole); off += journalRecord {
			r := whole[off : off+journalRecord]
			var h pouw.StepParts
			for i, dst := range []*pouw.Hash{&h.Prev, &h.Batch, &h.GradSample, &h.WeightSample} {
				copy(dst[:], r[8+32*i:])
			}
			want[binary.LittleEndian.Uint64(r)] = h
		}
		if !maps.Equal(recs, want) {
			t.Fatalf("%d records read from %d bytes, expected %d", len(recs), len(b), len(want))
		}
		// Written again through the journal (in step order) and read back.
		dir2 := t.TempDir()
		j, err := openJournal(dir2, 3, 4)
		if err != nil {
			t.Fatal(err)
		}
		steps := slices.Sorted(maps.Keys(recs))
		for _, s := range steps {
			if err := j.add(s, recs[s]); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.close(); err != nil {
			t.Fatal(err)
		}
		back, err := readJournal(dir2, 3, 4)
		if err != nil || !maps.Equal(back, recs) {
			t.Fatalf("rewritten journal reads back %d records (%v), expected %d", len(back), err, len(recs))
		}
		if raw, _ := os.ReadFile(journalPath(dir2, 3, 4)); len(raw) != len(steps)*journalRecord {
			t.Fatalf("%d records written as %d bytes", len(steps), len(raw))
		}
	})
}

// journalFuzzSeeds: whole records (one step twice), a torn tail, a lone
// torn record, nothing.
func journalFuzzSeeds() [][]byte {
	rec := func(step uint64, fill byte) []byte {
		b := binary.LittleEndian.AppendUint64(nil, step)
		return append(b, bytes.Repeat([]byte{fill}, 4*pouw.HashLen)...)
	}
	two := append(rec(0, 1), rec(1, 2)...)
	again := append(append(append([]byte(nil), two...), rec(0, 9)...), rec(1<<63, 3)...)
	return [][]byte{two, again, append(append([]byte(nil), two...), 7, 7, 7), rec(5, 5)[:journalRecord-1], {}}
}

func TestWriteJournalFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	for _, name := range []string{"FuzzJournalRoundTrip", "FuzzReadJournal"} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range journalFuzzSeeds() {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
