package data

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// CIFAR record layout (https://www.cs.toronto.edu/~kriz/cifar.html, "binary
// version"): CIFAR-10 records are 1 label byte + 3072 pixel bytes; CIFAR-100
// records are 1 coarse label byte + 1 fine label byte + 3072 pixel bytes.
// Pixels are 1024 red, 1024 green, 1024 blue, each 32x32 row-major: exactly
// the canonical [3,32,32] channel-first layout.
const (
	cifarPixels    = 3 * 32 * 32
	cifar10Record  = 1 + cifarPixels
	cifar100Record = 2 + cifarPixels
)

var cifar10Train = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}

// CIFAR10ClassNames are the official names (batches.meta.txt).
var CIFAR10ClassNames = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// cifarFiles reads the named base files from a .tar.gz / .tgz / .tar
// archive or from a directory (searched recursively, e.g.
// cifar-10-batches-bin/). Missing names are absent from the map.
func cifarFiles(src string, want []string) (map[string][]byte, []string, error) {
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w] = true
	}
	out := map[string][]byte{}
	var where []string
	st, err := os.Stat(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	if st.IsDir() {
		err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.Type().IsRegular() && wanted[e.Name()] {
				if _, dup := out[e.Name()]; dup {
					return fmt.Errorf("%w: %s: second copy of %s, expected one", ErrSource, p, e.Name())
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				out[e.Name()] = b
				where = append(where, p)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrSource, src, err)
		}
		return out, where, nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrSource, err)
	}
	defer f.Close()
	var r io.Reader = f
	var magic [2]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v, expected a .tar.gz archive or a directory", ErrSource, src, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, nil, err
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrSource, src, err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: reading archive: %v, expected a CIFAR binary .tar.gz", ErrSource, src, err)
		}
		base := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || !wanted[base] {
			continue
		}
		if h.Size > 1<<31 {
			return nil, nil, fmt.Errorf("%w: %s: member %s claims %d bytes", ErrSource, src, h.Name, h.Size)
		}
		if _, dup := out[base]; dup {
			return nil, nil, fmt.Errorf("%w: %s: second member named %s, expected one", ErrSource, src, base)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, tr); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: member %s: %v", ErrSource, src, h.Name, err)
		}
		out[base] = buf.Bytes()
		where = append(where, src+"!"+h.Name)
	}
	return out, where, nil
}

// ParseCIFARBatch checks and splits one CIFAR batch file. recLen is
// cifar10Record or cifar100Record; labelByte selects which label byte is
// the class (0 for CIFAR-10 and CIFAR-100 coarse, 1 for CIFAR-100 fine).
func ParseCIFARBatch(name string, b []byte, recLen, labelByte, classes int) (pixels []byte, labels []int, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: empty, expected %d-byte records", ErrSource, name, recLen)
	}
	if len(b)%recLen != 0 {
		full := len(b) / recLen
		return nil, nil, fmt.Errorf("%w: %s: %d bytes is not a whole number of %d-byte records: record %d has %d bytes", ErrSource, name, len(b), recLen, full, len(b)-full*recLen)
	}
	n := len(b) / recLen
	pixels = make([]byte, n*cifarPixels)
	labels = make([]int, n)
	for i := 0; i < n; i++ {
		rec := b[i*recLen : (i+1)*recLen]
		l := int(rec[labelByte])
		if l >= classes {
			return nil, nil, fmt.Errorf("%w: %s: record %d (byte offset %d) has label %d, expected 0..%d", ErrSource, name, i, i*recLen+labelByte, l, classes-1)
		}
		if recLen == cifar100Record {
			// both label bytes must be in range
			if int(rec[0]) >= 20 || int(rec[1]) >= 100 {
				return nil, nil, fmt.Errorf("%w: %s: record %d has coarse label %d and fine label %d, expected 0..19 and 0..99", ErrSource, name, i, rec[0], rec[1])
			}
		}
		labels[i] = l
		copy(pixels[i*cifarPixels:], rec[recLen-cifarPixels:])
	}
	return pixels, labels, nil
}

func parseNames(name string, b []byte, want int) ([]string, error) {
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" {
			names = append(names, l)
		}
	}
	if len(names) != want {
		return nil, fmt.Errorf("%w: %s: %d class names, expected %d", ErrSource, name, len(names), want)
	}
	return names, nil
}

// LoadCIFAR10 loads CIFAR-10 from the official binary archive
// (cifar-10-binary.tar.gz) or its extracted folder: data_batch_1..5.bin
// (train) then test_batch.bin (test), class names from batches.meta.txt
// when present. Shape [3,32,32], uint8.
func LoadCIFAR10(src string) (*Dataset, []string, error) {
	want := append(append([]string{}, cifar10Train...), "test_batch.bin", "batches.meta.txt")
	files, where, err := cifarFiles(src, want)
	if err != nil {
		return nil, nil, err
	}
	names := CIFAR10ClassNames
	if b, ok := files["batches.meta.txt"]; ok {
		if names, err = parseNames("batches.meta.txt", b, 10); err != nil {
			return nil, nil, err
		}
	}
	d := &Dataset{DType: Uint8, Shape: []int{3, 32, 32}, Classes: 10, ClassNames: names}
	for _, f := range append(append([]string{}, cifar10Train...), "test_batch.bin") {
		b, ok := files[f]
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s: no %s, expected data_batch_1..5.bin and test_batch.bin (CIFAR-10 binary version)", ErrSource, src, f)
		}
		px, lb, err := ParseCIFARBatch(src+": "+f, b, cifar10Record, 0, 10)
		if err != nil {
			return nil, nil, err
		}
		d.U8 = append(d.U8, px...)
		d.Labels = append(d.Labels, lb...)
		s := Train
		if f == "test_batch.bin" {
			s = Test
		}
		for range lb {
			d.Split = append(d.Split, s)
		}
	}
	return d, where, nil
}

// LoadCIFAR100 loads CIFAR-100 from cifar-100-binary.tar.gz or its folder:
// train.bin then test.bin; fine (100 classes, fine_label_names.txt) or
// coarse (20 superclasses, coarse_label_names.txt) labels.
func LoadCIFAR100(src string, coarse bool) (*Dataset, []string, error) {
	files, where, err := cifarFiles(src, []string{"train.bin", "test.bin", "fine_label_names.txt", "coarse_label_names.txt"})
	if err != nil {
		return nil, nil, err
	}
	classes, labelByte, namesFile := 100, 1, "fine_label_names.txt"
	if coarse {
		classes, labelByte, namesFile = 20, 0, "coarse_label_names.txt"
	}
	var names []string
	if b, ok := files[namesFile]; ok {
		if names, err = parseNames(namesFile, b, classes); err != nil {
			return nil, nil, err
		}
	} else {
		for i := 0; i < classes; i++ {
			names = append(names, fmt.Sprint(i))
		}
	}
	d := &Dataset{DType: Uint8, Shape: []int{3, 32, 32}, Classes: classes, ClassNames: names}
	for _, f := range []string{"train.bin", "test.bin"} {
		b, ok := files[f]
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s: no %s, expected train.bin and test.bin (CIFAR-100 binary version)", ErrSource, src, f)
		}
		px, lb, err := ParseCIFARBatch(src+": "+f, b, cifar100Record, labelByte, classes)
		if err != nil {
			return nil, nil, err
		}
		d.U8 = append(d.U8, px...)
		d.Labels = append(d.Labels, lb...)
		s := Train
		if f == "test.bin" {
			s = Test
		}
		for range lb {
			d.Split = append(d.Split, s)
		}
	}
	return d, where, nil
}
