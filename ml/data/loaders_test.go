package data

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const (
	mnistSHA256   = "c5bbd8c81182e0aa569ef97eee245576e94ed986c4a4634d38445bbd75f78ef8"
	fashionSHA256 = "3737cdb7ced397c9fbfce67b9cb65aae9ce03c43bddcd8111e20b52a506301d3"
)

func sha(t testing.TB, d *Dataset) string {
	t.Helper()
	s, err := d.SHA256()
	must(t, err)
	return hex.EncodeToString(s[:])
}

// Real MNIST from the GoMNIST module and real Fashion-MNIST from Debian.
func TestRealMNISTAndFashion(t *testing.T) {
	mdir, err := DefaultMNISTDir()
	must(t, err)
	for _, c := range []struct {
		kind, dir, want string
		names           []string
		hist0           int
	}{
		{KindMNIST, mdir, mnistSHA256, MNISTClassNames, 6903},
		{KindFashionMNIST, DefaultFashionMNISTDir, fashionSHA256, FashionMNISTClassNames, 7000},
	} {
		if _, err := os.Stat(c.dir); err != nil {
			t.Fatalf("%s source missing (%v): run scripts/ci/deps-data.sh", c.kind, err)
		}
		var hashes []string
		for _, procs := range []int{1, runtime.NumCPU() * 2} {
			prev := runtime.GOMAXPROCS(procs)
			d, files, err := LoadIDXDir(c.dir, c.names)
			runtime.GOMAXPROCS(prev)
			must(t, err)
			if len(files) != 4 || d.Len() != 70000 || d.Dim() != 784 || d.Classes != 10 {
				t.Fatalf("%s: %d files, %d samples, dim %d, %d classes", c.kind, len(files), d.Len(), d.Dim(), d.Classes)
			}
			if h := Histogram(d.Labels, 10); h[0] != c.hist0 {
				t.Errorf("%s: %d samples of class 0, expected %d", c.kind, h[0], c.hist0)
			}
			if len(d.Indices(Train)) != 60000 || len(d.Indices(Test)) != 10000 {
				t.Errorf("%s: official split %d/%d, expected 60000/10000", c.kind, len(d.Indices(Train)), len(d.Indices(Test)))
			}
			hashes = append(hashes, sha(t, d))
		}
		for _, h := range hashes {
			if h != c.want {
				t.Errorf("%s canonical sha256 %s, expected %s", c.kind, h, c.want)
			}
		}
	}
}

func TestIDXGzAndPlainAgree(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	writeMNISTDir(t, a, 30, 7, 5, 4, true)
	writeMNISTDir(t, b, 30, 7, 5, 4, false)
	da, fa, err := LoadIDXDir(a, MNISTClassNames)
	must(t, err)
	db, _, err := LoadIDXDir(b, MNISTClassNames)
	must(t, err)
	if !strings.HasSuffix(fa[0], ".gz") {
		t.Fatalf("expected gz files, got %v", fa)
	}
	if sha(t, da) != sha(t, db) {
		t.Fatal("gzipped and plain IDX give different canonical bytes")
	}
	if got := da.Shape; got[0] != 1 || got[1] != 5 || got[2] != 4 {
		t.Fatalf("shape %v, expected [1 5 4]", got)
	}
	if da.Labels[31] != 3 || da.Split[30] != Test || da.Split[29] != Train {
		t.Fatalf("labels/split wrong: %v %v", da.Labels[29:32], da.Split[29:32])
	}
}

func TestIDXErrors(t *testing.T) {
	good := idxBytes([]int{3, 2, 2}, make([]byte, 12))
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated data", good[:len(good)-3], "truncated IDX file"},
		{"truncated gz data", gz(t, good[:len(good)-3]), "truncated IDX data"},
		{"wrong magic", append([]byte{1, 2, 8, 3}, good[4:]...), "magic number 0x01020803"},
		{"wrong type", append([]byte{0, 0, 0x0d, 3}, good[4:]...), "type code 0x0d, expected 0x08"},
		{"truncated header", good[:9], "truncated IDX header"},
		{"extra bytes", append(append([]byte{}, good...), 1), "extra bytes"},
		{"zero dim", idxBytes([]int{3, 0}, nil), "dimension 1 is 0"},
		{"tiny", []byte{0, 0}, "at least a 4-byte"},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0}, "gzip"},
		{"gzip claiming 1 GiB", gz(t, idxBytes([]int{1 << 16, 1 << 14}, make([]byte, 100))), "need 1073741824 bytes, got 100"},
	} {
		_, _, err := ParseIDX("f.idx", c.b)
		if err == nil || !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.idx") {
			t.Errorf("%s: error %v, expected ErrSource naming f.idx and containing %q", c.name, err, c.want)
		}
	}
	// a label out of range and a count mismatch, through the directory loader
	dir := t.TempDir()
	writeMNISTDir(t, dir, 10, 5, 2, 2, false)
	must(t, os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), idxBytes([]int{5}, []byte{1, 2, 3, 4, 11}), 0o644))
	if _, _, err := LoadIDXDir(dir, MNISTClassNames); err == nil || !strings.Contains(err.Error(), "label 11 of record 4") {
		t.Errorf("label 11: %v", err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "t10k-labels-idx1-ubyte"), idxBytes([]int{4}, []byte{1, 2, 3, 4}), 0o644))
	if _, _, err := LoadIDXDir(dir, MNISTClassNames); err == nil || !strings.Contains(err.Error(), "5 images but") {
		t.Errorf("count mismatch: %v", err)
	}
	must(t, os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte")))
	if _, _, err := LoadIDXDir(dir, MNISTClassNames); err == nil || !strings.Contains(err.Error(), "no t10k-labels-idx1-ubyte") {
		t.Errorf("missing file: %v", err)
	}
}

func TestCIFAR(t *testing.T) {
	// CIFAR-10: archive and extracted folder give the same bytes
	dir := t.TempDir()
	arch := writeCIFAR(t, dir, false, true, 6)
	folder := writeCIFAR(t, t.TempDir(), false, false, 6)
	a, files, err := LoadCIFAR10(arch)
	must(t, err)
	b, _, err := LoadCIFAR10(folder)
	must(t, err)
	if a.Len() != 36 || a.Classes != 10 || a.ClassNames[9] != "truck" || len(a.Indices(Test)) != 6 || len(files) != 7 {
		t.Fatalf("cifar10: %d samples, %d classes, names %v, %d test, files %v", a.Len(), a.Classes, a.ClassNames, len(a.Indices(Test)), files)
	}
	if sha(t, a) != sha(t, b) {
		t.Fatal("cifar10 archive and folder differ")
	}
	// record 2 of data_batch_2 (seed 1): label (2+1)%10, pixel j = 2*31+j*13+1
	rec := a.U8[(6+2)*cifarPixels : (6+3)*cifarPixels]
	if a.Labels[8] != 3 || rec[0] != byte(63) || rec[1024] != byte((62+1024*13+1)%256) {
		t.Fatalf("cifar10 record decoded wrong: label %d pixels %d %d", a.Labels[8], rec[0], rec[1024])
	}
	// CIFAR-100 fine and coarse
	arch100 := writeCIFAR(t, dir, true, true, 5)
	fine, _, err := LoadCIFAR100(arch100, false)
	must(t, err)
	coarse, _, err := LoadCIFAR100(writeCIFAR(t, t.TempDir(), true, false, 5), true)
	must(t, err)
	if fine.Classes != 100 || coarse.Classes != 20 || fine.Len() != 15 || coarse.ClassNames[19] != "coarse_t" {
		t.Fatalf("cifar100: %d/%d classes, %d samples, %v", fine.Classes, coarse.Classes, fine.Len(), coarse.ClassNames)
	}
	if fine.Labels[3] != (3*7+1)%100 || coarse.Labels[3] != (3+1)%20 {
		t.Fatalf("cifar100 labels fine %d coarse %d", fine.Labels[3], coarse.Labels[3])
	}
	// pinned: the canonical bytes of these generated archives must never change
	if got := sha(t, a); got != "e8a9e8bf072231f866af88c13535e82f5ff22beb659e63d8d64e580639508f31" {
		t.Errorf("cifar10 canonical sha256 changed: %s", got)
	}
	if got := sha(t, fine); got != "8b8c8f6f0a13700f4216093f682c3f1d9cd71ead8f8de922f4f70b5007df9de4" {
		t.Errorf("cifar100 canonical sha256 changed: %s", got)
	}
}

func TestCIFARErrors(t *testing.T) {
	dir := writeCIFAR(t, t.TempDir(), false, false, 3)
	p := filepath.Join(dir, "cifar-10-batches-bin", "data_batch_3.bin")
	b, _ := os.ReadFile(p)
	must(t, os.WriteFile(p, b[:len(b)-100], 0o644))
	_, _, err := LoadCIFAR10(dir)
	if err == nil || !strings.Contains(err.Error(), "data_batch_3.bin") || !strings.Contains(err.Error(), "not a whole number of 3073-byte records: record 2 has 2973 bytes") {
		t.Errorf("short record: %v", err)
	}
	b[3073] = 10 // label of record 1
	must(t, os.WriteFile(p, b, 0o644))
	_, _, err = LoadCIFAR10(dir)
	if err == nil || !strings.Contains(err.Error(), "record 1 (byte offset 3073) has label 10, expected 0..9") {
		t.Errorf("bad label: %v", err)
	}
	must(t, os.Remove(p))
	if _, _, err = LoadCIFAR10(dir); err == nil || !strings.Contains(err.Error(), "no data_batch_3.bin") {
		t.Errorf("missing batch: %v", err)
	}
	// a CIFAR-10 record length in a CIFAR-100 file
	d100 := t.TempDir()
	writeCIFAR(t, d100, true, false, 2)
	must(t, os.WriteFile(filepath.Join(d100, "cifar-100-binary", "test.bin"), cifarRecords(3, false, 0), 0o644))
	if _, _, err = LoadCIFAR100(d100, false); err == nil || !strings.Contains(err.Error(), "3074-byte records") {
		t.Errorf("cifar100 wrong record length: %v", err)
	}
	// not an archive
	junk := filepath.Join(t.TempDir(), "x.tar.gz")
	must(t, os.WriteFile(junk, []byte("this is not a tarball at all, not even close......................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................."), 0o644))
	if _, _, err = LoadCIFAR10(junk); err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("junk archive: %v", err)
	}
}

func TestCSV(t *testing.T) {
	in := "f1,f2,species\n1.5,2,setosa\n-0,3e2,virginica\n4,5, setosa\n0.25,-1,versicolor\n"
	d, err := ParseCSV("iris.csv", strings.NewReader(in), CSVOptions{Label: "species"})
	must(t, err)
	if d.Len() != 4 || d.Dim() != 2 || d.Classes != 3 || strings.Join(d.ClassNames, ",") != "setosa,versicolor,virginica" {
		t.Fatalf("csv: %d rows dim %d classes %v", d.Len(), d.Dim(), d.ClassNames)
	}
	if d.Labels[1] != 2 || d.Labels[2] != 0 || d.F32[2] != 0 || d.F32[3] != 300 {
		t.Fatalf("csv values: labels %v features %v", d.Labels, d.F32)
	}
	// auto header, label by index, integer labels
	d2, err := ParseCSV("n.csv", strings.NewReader("3,0.5,1\n1,0.25,2\n"), CSVOptions{Label: "0"})
	must(t, err)
	if d2.Classes != 4 || d2.Labels[0] != 3 || d2.F32[0] != 0.5 {
		t.Fatalf("integer labels: classes %d labels %v features %v", d2.Classes, d2.Labels, d2.F32)
	}
	// header detected automatically
	d3, err := ParseCSV("h.csv", strings.NewReader("a,b,label\n1,2,x\n"), CSVOptions{})
	must(t, err)
	if d3.Len() != 1 {
		t.Fatalf("auto header: %d rows", d3.Len())
	}
	for _, c := range []struct {
		in, want string
		opt      CSVOptions
	}{
		{"a,b,y\n1,2,x\n3,zz,y\n", `line 3 column 3 (field 2): "zz" is not a number`, CSVOptions{}},
		{"a,b,y\n1,2,\"multi\nline\"\n3,zz,y\n", `line 4 column 3 (field 2): "zz"`, CSVOptions{}},
		{"a,b,y\n1,2,x\n3,4\n", "line 3", CSVOptions{}},
		{"1,2,x\n3,NaN,y\n", `line 2 column 3 (field 2): "NaN" is not finite`, CSVOptions{}},
		{"1,2,x\n3,4,\n", "line 2 column 5 (field 3): empty label", CSVOptions{}},
		{"a,b,y\n1,\"2,x\n", "line 2", CSVOptions{}},
		{"a,b,y\n", "no data rows", CSVOptions{}},
		{"a,b,y\n1,2,3\n", `no column named "label"`, CSVOptions{Label: "label"}},
		{"1,2,3\n", "label column index 7", CSVOptions{Label: "7"}},
	} {
		_, err := ParseCSV("bad.csv", strings.NewReader(c.in), c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "bad.csv") {
			t.Errorf("csv %q: error %v, expected one naming bad.csv and containing %q", c.in, err, c.want)
		}
	}
}

func TestImageFolder(t *testing.T) {
	dir := t.TempDir()
	writeImageFolder(t, dir)
	d, files, err := LoadImageFolder(dir, ImageOptions{Width: 8, Height: 6})
	must(t, err)
	if d.Len() != 8 || d.Classes != 2 || d.ClassNames[0] != "bird" || len(files) != 8 || d.Dim() != 3*6*8 {
		t.Fatalf("images: %d samples, classes %v, files %d, dim %d", d.Len(), d.ClassNames, len(files), d.Dim())
	}
	prev := runtime.GOMAXPROCS(1)
	one, _, err := LoadImageFolder(dir, ImageOptions{Width: 8, Height: 6})
	runtime.GOMAXPROCS(prev)
	must(t, err)
	if sha(t, one) != sha(t, d) {
		t.Fatal("image folder bytes depend on the number of decoding workers")
	}
	g, _, err := LoadImageFolder(dir, ImageOptions{Width: 8, Height: 6, Gray: true})
	must(t, err)
	if g.Dim() != 48 {
		t.Fatalf("gray dim %d", g.Dim())
	}
	// first image of "bird" (class 0) is a.png: R = 10*x at full size;
	// resizing 20 wide -> 8 samples source x = ((2x+1)*20-8)/16
	r := d.U8[:48]
	for x := 0; x < 8; x++ {
		num := (2*x+1)*20 - 8
		fx := num * 65536 / 16
		x0, f := fx>>16, fx&0xffff
		want := (uint64(x0*10)*uint64(65536-f) + uint64((x0+1)*10)*uint64(f) + 1<<15) >> 16
		if uint64(r[x]) != want {
			t.Fatalf("resized red row 0 col %d = %d, expected %d", x, r[x], want)
		}
	}
	// identity resize keeps pixels
	px, err := DecodeImage("a.png", mustRead(t, filepath.Join(dir, "bird", "a.png")), ImageOptions{Width: 20, Height: 16})
	must(t, err)
	if px[5] != 50 || px[20*16+20] != 12 || px[2*20*16] != 100 {
		t.Fatalf("identity resize changed pixels: %d %d %d", px[5], px[20*16+20], px[2*20*16])
	}
	// a file that is not an image is named
	bad := filepath.Join(dir, "cat", "notes.txt")
	must(t, os.WriteFile(bad, []byte("hello"), 0o644))
	if _, _, err := LoadImageFolder(dir, ImageOptions{}); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "not an image") {
		t.Errorf("non-image: %v", err)
	}
	// a truncated PNG is named too
	must(t, os.Remove(bad))
	b := mustRead(t, filepath.Join(dir, "cat", "a.png"))
	trunc := filepath.Join(dir, "cat", "e.png")
	must(t, os.WriteFile(trunc, b[:len(b)/2], 0o644))
	if _, _, err := LoadImageFolder(dir, ImageOptions{}); err == nil || !strings.Contains(err.Error(), trunc) {
		t.Errorf("truncated png: %v", err)
	}
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}
