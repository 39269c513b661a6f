//go:build (linux || darwin || freebsd) && !nohdf5

package hdf5

import (
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pouw/pouwd/ml/data"
)

// writeH5 runs a python3-h5py script (Debian's /usr/bin/python3) that
// writes test files into dir.
func writeH5(t testing.TB, dir string) {
	t.Helper()
	py := "/usr/bin/python3"
	script := `
import sys, h5py, numpy as np
d = sys.argv[1]
n = 50
x8 = (np.arange(n * 4 * 3, dtype=np.int64) * 7 % 256).astype(np.uint8).reshape(n, 4, 3)
y = (np.arange(n) * 3 % 5).astype(np.int32)
with h5py.File(d + "/u8_gzip.h5", "w") as f:
    f.create_dataset("x", data=x8, chunks=(8, 4, 3), compression="gzip", compression_opts=6)
    f.create_dataset("y", data=y, chunks=(16,), compression="gzip")
with h5py.File(d + "/u8_plain.h5", "w") as f:
    f.create_dataset("x", data=x8)
    f.create_dataset("y", data=y.astype(np.uint8).reshape(n, 1))
with h5py.File(d + "/f64.h5", "w") as f:
    g = f.create_group("train")
    g.create_dataset("features", data=np.linspace(-1, 1, n * 6).reshape(n, 6), chunks=(10, 6), compression="gzip")
    g.create_dataset("labels", data=(np.arange(n) % 3).astype(np.int64))
    f.create_dataset("flabels", data=np.zeros(n))
    f.create_dataset("short", data=np.zeros(n - 1, dtype=np.int64))
    f.create_dataset("neg", data=-np.ones(n, dtype=np.int64))
    f.create_dataset("nan", data=np.full((n, 2), np.nan))
`
	cmd := exec.Command(py, "-c", script, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writing HDF5 test files with %s + h5py failed (run scripts/ci/deps-data.sh): %v\n%s", py, err, out)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeH5(t, dir)
	gzd, files, err := Load(filepath.Join(dir, "u8_gzip.h5"), data.HDF5Options{Features: "x", Labels: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if gzd.DType != data.Uint8 || gzd.Len() != 50 || gzd.Classes != 5 || len(gzd.Shape) != 2 || gzd.Shape[0] != 4 || len(files) != 1 {
		t.Fatalf("u8: dtype %v n %d classes %d shape %v", gzd.DType, gzd.Len(), gzd.Classes, gzd.Shape)
	}
	for i, v := range gzd.U8 {
		if v != byte(i*7%256) {
			t.Fatalf("element %d = %d, expected %d", i, v, i*7%256)
		}
	}
	if gzd.Labels[7] != 21%5 {
		t.Fatalf("label 7 = %d", gzd.Labels[7])
	}
	plain, _, err := Load(filepath.Join(dir, "u8_plain.h5"), data.HDF5Options{Features: "x", Labels: "y"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := gzd.SHA256()
	b, _ := plain.SHA256()
	if a != b {
		t.Fatal("chunked+gzip and contiguous files with the same data give different canonical bytes")
	}
	f, _, err := Load(filepath.Join(dir, "f64.h5"), data.HDF5Options{Features: "/train/features", Labels: "train/labels"})
	if err != nil {
		t.Fatal(err)
	}
	if f.DType != data.Float32 || f.Dim() != 6 || f.F32[0] != -1 || f.F32[len(f.F32)-1] != 1 || f.Classes != 3 {
		t.Fatalf("f64: %v dim %d first %v last %v", f.DType, f.Dim(), f.F32[0], f.F32[len(f.F32)-1])
	}
	// through the cache/prepare path, hash pinned
	r, err := (*data.Cache)(nil).Prepare(data.Options{Kind: data.KindHDF5, Path: filepath.Join(dir, "u8_gzip.h5")}, LoadFunc, filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Meta.Count != 50 || r.Meta.SplitCounts.Train != 40 {
		t.Fatalf("prepared meta %+v", r.Meta)
	}
	if got := hex.EncodeToString(a[:]); got != pinnedU8 {
		t.Errorf("canonical sha256 of u8_gzip.h5 is %s, pinned %s", got, pinnedU8)
	}
}

// pinned: canonical bytes of the data written by writeH5 (no split applied)
const pinnedU8 = "3c337f8560409181091fd1dcf4d5f941d9f31728bc176941399f7918a294aa64"

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	writeH5(t, dir)
	p := filepath.Join(dir, "f64.h5")
	notH5 := filepath.Join(dir, "junk.h5")
	if err := os.WriteFile(notH5, []byte("not hdf5 at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, x, y, want string
	}{
		{p, "missing", "train/labels", `no dataset named "missing", expected it to hold the samples' features`},
		{p, "train/features", "nolabels", `no dataset named "nolabels", expected it to hold the samples' labels`},
		{p, "train/features", "/no/such/group", `no dataset named "/no/such/group"`},
		{p, "train", "train/labels", "is a group"},
		{p, "train/features", "flabels", "are floats, expected integer class ids"},
		{p, "train/features", "short", "expected (50) or (50, 1)"},
		{p, "train/features", "neg", "label -1 of sample 0"},
		{p, "nan", "train/labels", "is NaN, expected a finite number"},
		{notH5, "x", "y", "not an HDF5 file"},
	} {
		_, _, err := Load(c.path, data.HDF5Options{Features: c.x, Labels: c.y})
		if err == nil || !errors.Is(err, data.ErrSource) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("Load(%s, %s, %s): %v, expected an error naming the file and containing %q", filepath.Base(c.path), c.x, c.y, err, c.want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	writeH5(f, dir)
	for _, n := range []string{"u8_gzip.h5", "u8_plain.h5"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.h5")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		d, _, err := Load(p, data.HDF5Options{Features: "x", Labels: "y"})
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("loaded dataset invalid: %v", err)
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzLoad from writeH5's files:
// POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./ml/data/hdf5
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	dir := t.TempDir()
	writeH5(t, dir)
	out := filepath.Join("testdata", "fuzz", "FuzzLoad")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"u8_gzip.h5", "u8_plain.h5"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(out, "seed"+strconv.Itoa(i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMissingLibraryNamesThePackage(t *testing.T) {
	t.Setenv(LibraryEnv, "/nonexistent/libhdf5.so.103")
	_, err := loadLibrary()
	if !errors.Is(err, ErrNoLibrary) || !errors.Is(err, ErrHDF5) {
		t.Fatalf("loadLibrary with %s pointing at a missing file: %v, expected ErrNoLibrary", LibraryEnv, err)
	}
	for _, want := range []string{"/nonexistent/libhdf5.so.103", "libhdf5-103-1", LibraryEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
