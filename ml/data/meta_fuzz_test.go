package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadMeta: a prepared dataset's meta.json is read by Load and Verify
// (a dataset directory a user or another machine hands over). Whatever
// its bytes, ReadMeta never panics and refuses with an ErrFormat error
// naming meta.json; what it accepts has the format name and a 64-digit
// hash, and re-encodes stably (encode, read, encode gives the same
// bytes). Beside a valid dataset.pouw, Load and Verify agree: both accept
// or both refuse, and what Load accepts matches the file (count, classes,
// shape, dtype, one class name per class). Committed seeds:
// testdata/fuzz/FuzzReadMeta/ (POUWD_WRITE_FUZZ_SEEDS=1 go test -run
// TestWriteMetaFuzzSeeds ./ml/data).
func FuzzReadMeta(f *testing.F) {
	for _, s := range metaFuzzSeeds(f) {
		f.Add(s)
	}
	canon, err := smallU8().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, MetaFile), b, 0o644))
		m, err := ReadMeta(dir)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), MetaFile) {
				t.Fatalf("error %q: expected ErrFormat naming %s", err, MetaFile)
			}
			return
		}
		if m.Format != FormatName || len(m.SHA256) != 64 {
			t.Fatalf("accepted format %q, sha256 %q", m.Format, m.SHA256)
		}
		b2, err := json.Marshal(m)
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, MetaFile), b2, 0o644))
		m2, err := ReadMeta(dir)
		if err != nil {
			t.Fatalf("re-encoded meta refused: %v\n%s", err, b2)
		}
		if b3, _ := json.Marshal(m2); !bytes.Equal(b2, b3) {
			t.Fatalf("re-encoding not stable:\n%s\n%s", b2, b3)
		}
		// Beside a real dataset file.
		must(t, os.WriteFile(filepath.Join(dir, MetaFile), b, 0o644))
		must(t, os.WriteFile(filepath.Join(dir, DataFile), canon, 0o644))
		d, lm, lerr := Load(dir)
		_, verr := Verify(dir)
		if (lerr == nil) != (verr == nil) {
			t.Fatalf("Load says %v, Verify says %v", lerr, verr)
		}
		if lerr != nil {
			if !errors.Is(lerr, ErrFormat) && !errors.Is(lerr, ErrCorrupt) {
				t.Fatalf("Load error %q is neither ErrFormat nor ErrCorrupt", lerr)
			}
			return
		}
		if lm.Count != d.Len() || lm.Classes != d.Classes || fmt.Sprint(lm.Shape) != fmt.Sprint(d.Shape) ||
			lm.DType != d.DType.String() || len(d.ClassNames) != d.Classes {
			t.Fatalf("Load accepted meta %+v for a dataset of %d samples, %d classes, shape %v", lm, d.Len(), d.Classes, d.Shape)
		}
	})
}

// metaFuzzSeeds: the meta.json of smallU8 as prepare writes it, variants
// and near misses.
func metaFuzzSeeds(tb testing.TB) [][]byte {
	canon, err := smallU8().Encode()
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(canon)
	m := Meta{Format: FormatName, Name: "small", Source: KindCSV, SourceFiles: []string{"small.csv"}, Count: 2, Classes: 3,
		ClassNames: []string{"a", "b", "c"}, Shape: []int{1, 2, 3}, DType: "uint8", LabelHistogram: []int{1, 0, 1},
		Split: SplitOptions{Mode: "ratio", TrainPPM: 500_000, TestPPM: 500_000}, SplitCounts: SplitCounts{Train: 1, Test: 1},
		Preprocessing: []Step{{Op: "normalize", Channels: 1, Mean: []float64{0.5}, Std: []float64{0.25}}},
		Bytes:         int64(len(canon)), SHA256: hex.EncodeToString(sum[:])}
	good, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	wrongCount := bytes.Replace(good, []byte(`"count": 2`), []byte(`"count": 3`), 1)
	noNames := bytes.Replace(good, []byte(`"a",`), nil, 1)
	return [][]byte{good, wrongCount, noNames, good[:len(good)/2],
		[]byte(`{"format":"pouw-dataset/1","sha256":"` + strings.Repeat("z", 64) + `"}`),
		[]byte(`{"format":"pouw-dataset/2"}`), []byte(`[]`), []byte(`{"shape":[1e400]}`)}
}

func TestWriteMetaFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadMeta")
	must(t, os.MkdirAll(dir, 0o755))
	for i, s := range metaFuzzSeeds(t) {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644))
	}
}
