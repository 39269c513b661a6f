package datacmd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pouw/pouwd/ml/data/hdf5"
)

// cifarArchive writes a small archive in the official CIFAR binary layout.
func cifarArchive(t *testing.T, p string, hundred bool) {
	t.Helper()
	rec := func(n, seed int) []byte {
		var b []byte
		for i := 0; i < n; i++ {
			if hundred {
				b = append(b, byte((i+seed)%20), byte((i*3+seed)%100))
			} else {
				b = append(b, byte((i+seed)%10))
			}
			for j := 0; j < 3072; j++ {
				b = append(b, byte(i*5+j+seed))
			}
		}
		return b
	}
	files := map[string][]byte{}
	var names []string
	top := "cifar-10-batches-bin/"
	if hundred {
		top = "cifar-100-binary/"
		files["train.bin"], files["test.bin"] = rec(8, 1), rec(4, 2)
		names = []string{"train.bin", "test.bin"}
	} else {
		for i, n := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
			files[n] = rec(3, i)
			names = append(names, n)
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: top + n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[n])
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func imageDir(t *testing.T, dir string) {
	t.Helper()
	for c, cls := range []string{"dogs", "cats"} {
		os.MkdirAll(filepath.Join(dir, cls), 0o755)
		for k := 0; k < 5; k++ {
			img := image.NewRGBA(image.Rect(0, 0, 17+k, 13))
			for i := range img.Pix {
				img.Pix[i] = byte(i*(c+1) + k)
			}
			var b bytes.Buffer
			name := filepath.Join(dir, cls, string(rune('a'+k))+".png")
			if k%2 == 1 {
				jpeg.Encode(&b, img, &jpeg.Options{Quality: 85})
				name = name[:len(name)-4] + ".jpg"
			} else {
				png.Encode(&b, img)
			}
			os.WriteFile(name, b.Bytes(), 0o644)
		}
	}
}

// All seven sources prepare through the CLI, twice (built, then from the
// cache, then rebuilt without the cache) with one sha256.
func TestAllSevenSources(t *testing.T) {
	dir := t.TempDir()
	cifarArchive(t, filepath.Join(dir, "c10.tar.gz"), false)
	cifarArchive(t, filepath.Join(dir, "c100.tar.gz"), true)
	writeCSV(t, filepath.Join(dir, "d.csv"), 60)
	imageDir(t, filepath.Join(dir, "img"))
	py := `import h5py, numpy as np, sys
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("x", data=np.arange(40 * 6, dtype=np.float32).reshape(40, 6) / 7, chunks=(8, 6), compression="gzip")
    f.create_dataset("y", data=np.arange(40) % 4)`
	if out, err := exec.Command("/usr/bin/python3", "-c", py, filepath.Join(dir, "d.h5")).CombinedOutput(); err != nil {
		t.Fatalf("h5py (run scripts/ci/deps-data.sh): %v %s", err, out)
	}
	// pinned sha256 of each prepared dataset (real data or the generators above)
	cases := []struct {
		args    []string
		count   int
		classes int
		sha     string
	}{
		{[]string{"--source", "mnist"}, 70000, 10, "c5bbd8c81182e0aa569ef97eee245576e94ed986c4a4634d38445bbd75f78ef8"},
		{[]string{"--source", "fashion-mnist"}, 70000, 10, "3737cdb7ced397c9fbfce67b9cb65aae9ce03c43bddcd8111e20b52a506301d3"},
		{[]string{"--source", "cifar10:" + filepath.Join(dir, "c10.tar.gz")}, 18, 10, "934f2591bc87b0cb44212796b7a18252c33fccbe62ea3c51cad74b6538b6caed"},
		{[]string{"--source", "cifar100:" + filepath.Join(dir, "c100.tar.gz"), "--coarse"}, 12, 20, "8686aa2d90d9eeab724a79c57943cdbd128884d34a1fc15b043b1cbb59ba7992"},
		{[]string{"--source", "csv:" + filepath.Join(dir, "d.csv"), "--label", "kind"}, 60, 3, "a280f76bca080968ccbd310947eeab0a82bec0967e525db55271b9fc89d80015"},
		{[]string{"--source", "hdf5:" + filepath.Join(dir, "d.h5"), "--split", "0.5,0.25,0.25"}, 40, 4, "3b9228c016b347d36809647e9e0d212f95caf129617244ad3023c53d3e36e7a5"},
		{[]string{"--source", "images:" + filepath.Join(dir, "img"), "--size", "8x8", "--gray"}, 10, 2, "e117dc94afcddf2221829739c7c95fdbb18459adf428c562fc3d6573d8aa6502"},
	}
	cache := filepath.Join(dir, "cache")
	for i, c := range cases {
		if !hdf5.Available && c.args[1][:5] == "hdf5:" {
			t.Logf("this build has no HDF5 support (-tags nohdf5): skipping %s", c.args[1])
			continue
		}
		var sums []string
		for _, extra := range [][]string{{"--cache-dir", cache}, {"--cache-dir", cache}, {"--no-cache"}} {
			out := filepath.Join(dir, "out", string(rune('a'+i)))
			args := append(append([]string{"prepare", "--json", "--out", out}, c.args...), extra...)
			stdout, _, err := run(t, NewCommand(), args...)
			if err != nil {
				t.Fatalf("%v: %v", c.args, err)
			}
			var m struct {
				SHA256   string `json:"sha256"`
				Count    int    `json:"count"`
				Classes  int    `json:"classes"`
				CacheHit bool   `json:"cache_hit"`
			}
			if err := json.Unmarshal([]byte(stdout), &m); err != nil {
				t.Fatal(err)
			}
			if m.Count != c.count || m.Classes != c.classes {
				t.Fatalf("%v: %d samples, %d classes, expected %d and %d", c.args, m.Count, m.Classes, c.count, c.classes)
			}
			sums = append(sums, m.SHA256)
			if len(sums) == 2 && !m.CacheHit {
				t.Errorf("%v: second prepare missed the cache", c.args)
			}
		}
		if sums[0] != sums[1] || sums[1] != sums[2] {
			t.Errorf("%v: sha256 not stable: %v", c.args, sums)
		}
		if sums[0] != c.sha {
			t.Errorf("%v: sha256 %s, pinned %s", c.args, sums[0], c.sha)
		}
	}
}
