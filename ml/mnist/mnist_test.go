package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"
)

func TestLoadRealFiles(t *testing.T) {
	dir, err := FindDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 60000 || test.N != 10000 || train.Shape[1] != 28 || train.Shape[2] != 28 {
		t.Fatalf("sizes: train %d %v, test %d", train.N, train.Shape, test.N)
	}
	// The first training image is a 5 and the first test image a 7.
	if train.Y[0] != 5 || test.Y[0] != 7 {
		t.Fatalf("first labels %d, %d; want 5, 7", train.Y[0], test.Y[0])
	}
	var maxv float32
	for _, v := range train.X[:784] {
		maxv = max(maxv, v)
	}
	if maxv != 1 {
		t.Fatalf("max pixel of image 0 = %v, want 1 (255/255)", maxv)
	}
}

func idx(magic uint32, dims []uint32, payload []byte) []byte {
	var raw bytes.Buffer
	_ = binary.Write(&raw, binary.BigEndian, magic)
	_ = binary.Write(&raw, binary.BigEndian, dims)
	raw.Write(payload)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	return gz.Bytes()
}

func FuzzParseIDX(f *testing.F) {
	f.Add(idx(2051, []uint32{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8}), true)
	f.Add(idx(2049, []uint32{3}, []byte{1, 2, 3}), false)
	f.Add(idx(2051, []uint32{0xffffffff, 4096, 4096}, nil), true)
	f.Fuzz(func(t *testing.T, raw []byte, images bool) {
		magic := uint32(2049)
		if images {
			magic = 2051
		}
		data, rows, cols, err := parseIDX(bytes.NewReader(raw), "fuzz", magic)
		if err != nil {
			return
		}
		if images && len(data)%(rows*cols) != 0 {
			t.Fatalf("%d bytes for %dx%d images", len(data), rows, cols)
		}
	})
}
