package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seeds shared by the in-code f.Add calls and the committed corpus
// (testdata/fuzz/<Fuzz>/); regenerate the corpus with
// POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./ml/data
func fuzzSeeds(t testing.TB) map[string][][]byte {
	u8, _ := smallU8().Encode()
	f32, _ := (&Dataset{DType: Float32, Shape: []int{2}, Classes: 2, F32: []float32{1, -2}, Labels: []int{1}, Split: []uint8{0}}).Encode()
	var pngb bytes.Buffer
	g := image.NewGray(image.Rect(0, 0, 3, 2))
	g.Pix = []byte{0, 50, 100, 150, 200, 250}
	png.Encode(&pngb, g)
	return map[string][][]byte{
		"FuzzParseIDX":        {idxBytes([]int{2, 2, 2}, make([]byte, 8)), gz(t, idxBytes([]int{3}, []byte{1, 2, 3})), {0, 0, 8, 1, 0, 0, 0, 9}},
		"FuzzParseCIFARBatch": {cifarRecords(2, false, 0)[:3073*2], cifarRecords(1, true, 3), {9, 1, 2}},
		"FuzzParseCSV":        {[]byte("a,b,y\n1,2,x\n3,4,z\n"), []byte("1,2,3\n4,5,6\n"), []byte("\"a\",1\n")},
		"FuzzDecode":          {u8, f32, u8[:30]},
		"FuzzDecodeImage":     {pngb.Bytes(), []byte("GIF89a"), pngb.Bytes()[:20]},
		"FuzzParseText":       {[]byte("hello world\n"), []byte("Grüße, 世界: déjà vu\r\n"), []byte("h\xe9llo Latin-1"), []byte("cut \xe2\x82"), []byte("ab"), {}},
	}
}

func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	for name, seeds := range fuzzSeeds(t) {
		dir := filepath.Join("testdata", "fuzz", name)
		must(t, os.MkdirAll(dir, 0o755))
		for i, s := range seeds {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644))
		}
	}
}

func addSeeds(f *testing.F, name string) {
	for _, s := range fuzzSeeds(f)[name] {
		f.Add(s)
	}
}

func FuzzParseIDX(f *testing.F) {
	addSeeds(f, "FuzzParseIDX")
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, payload, err := ParseIDX("fuzz.idx", b)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.idx") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		n := 1
		for _, d := range dims {
			n *= d
		}
		if n != len(payload) {
			t.Fatalf("dims %v but %d bytes", dims, len(payload))
		}
	})
}

func FuzzParseCIFARBatch(f *testing.F) {
	addSeeds(f, "FuzzParseCIFARBatch")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range []struct{ rec, lb, classes int }{{cifar10Record, 0, 10}, {cifar100Record, 1, 100}} {
			px, lb, err := ParseCIFARBatch("fuzz.bin", b, c.rec, c.lb, c.classes)
			if err != nil {
				continue
			}
			if len(px) != len(lb)*cifarPixels || len(lb)*c.rec != len(b) {
				t.Fatalf("%d pixels, %d labels from %d bytes", len(px), len(lb), len(b))
			}
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	addSeeds(f, "FuzzParseCSV")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseCSV("fuzz.csv", bytes.NewReader(b), CSVOptions{})
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed CSV is not a valid dataset: %v", err)
		}
		if _, err := d.Encode(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecode(f *testing.F) {
	addSeeds(f, "FuzzDecode")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Decode("fuzz.pouw", b)
		if err != nil {
			return
		}
		// whatever decodes re-encodes to the same bytes
		e, err := d.Encode()
		if err != nil || !bytes.Equal(e, b) {
			t.Fatalf("decode/encode not identity: %v", err)
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	addSeeds(f, "FuzzDecodeImage")
	f.Fuzz(func(t *testing.T, b []byte) {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(b)); err == nil && cfg.Width*cfg.Height > 1<<20 {
			return // keep each run small
		}
		px, err := DecodeImage("fuzz.img", b, ImageOptions{Width: 4, Height: 3})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.img") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(px) != 3*4*3 {
			t.Fatalf("%d pixels", len(px))
		}
	})
}

func FuzzParseText(f *testing.F) {
	addSeeds(f, "FuzzParseText")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opt := range []TextOptions{{SeqLen: 2, Stride: 1}, {SeqLen: 5, Stride: 3}, {SeqLen: 8, Stride: 8, MaxSamples: 2}} {
			d, err := ParseText("fuzz.txt", b, opt)
			if bad := !utf8.Valid(b) || len(b) < opt.SeqLen+1; (err != nil) != bad {
				t.Fatalf("%+v: error %v, but invalid UTF-8 or short: %v", opt, err, bad)
			}
			if err != nil {
				if !errors.Is(err, ErrSource) || !strings.Contains(err.Error(), "fuzz.txt") {
					t.Fatalf("error does not wrap ErrSource and name the file: %v", err)
				}
				continue
			}
			if err := d.Validate(); err != nil {
				t.Fatalf("parsed text is not a valid dataset: %v", err)
			}
			T, s := opt.SeqLen, opt.Stride
			n := (len(b)-T-1)/s + 1
			if opt.MaxSamples > 0 {
				n = min(n, opt.MaxSamples)
			}
			if d.Len() != n {
				t.Fatalf("%+v: %d windows from %d bytes, expected %d", opt, d.Len(), len(b), n)
			}
			for i := 0; i < n; i++ {
				for j := 0; j < T; j++ {
					if d.F32[i*T+j] != float32(b[i*s+j]) {
						t.Fatalf("window %d element %d is %v, expected byte %d", i, j, d.F32[i*T+j], b[i*s+j])
					}
				}
				if d.Labels[i] != int(b[i*s+T]) {
					t.Fatalf("window %d label %d, expected byte %d", i, d.Labels[i], b[i*s+T])
				}
			}
		}
	})
}
