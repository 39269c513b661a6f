package data

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// maxIDXBytes bounds what one IDX file may claim (4 GiB).
const maxIDXBytes = 1 << 32

// ParseIDX parses an IDX file of unsigned bytes (type code 0x08), gzipped
// or not (detected by the gzip magic 1f 8b). It returns the dims from the
// header and the data. name is used in error messages.
func ParseIDX(name string, b []byte) (dims []int, payload []byte, err error) {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: gzip header: %v", ErrSource, name, err)
		}
		hdr := make([]byte, 4)
		if _, err := io.ReadFull(zr, hdr); err != nil {
			return nil, nil, fmt.Errorf("%w: %s: gzip stream: %v, expected an IDX header", ErrSource, name, err)
		}
		dims, err := parseIDXMagic(name, hdr, zr)
		if err != nil {
			return nil, nil, err
		}
		return readIDXPayload(name, dims, zr, true)
	}
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: %s: %d bytes, expected at least a 4-byte IDX magic number", ErrSource, name, len(b))
	}
	r := bytes.NewReader(b[4:])
	dims, err = parseIDXMagic(name, b[:4], r)
	if err != nil {
		return nil, nil, err
	}
	return readIDXPayload(name, dims, r, false)
}

func parseIDXMagic(name string, m []byte, r io.Reader) ([]int, error) {
	if m[0] != 0 || m[1] != 0 {
		return nil, fmt.Errorf("%w: %s: magic number %#08x, expected 0x0000TTNN (IDX: two zero bytes, type, rank)", ErrSource, name, binary.BigEndian.Uint32(m))
	}
	if m[2] != 0x08 {
		return nil, fmt.Errorf("%w: %s: IDX type code %#02x, expected 0x08 (unsigned byte)", ErrSource, name, m[2])
	}
	rank := int(m[3])
	if rank < 1 || rank > 4 {
		return nil, fmt.Errorf("%w: %s: IDX rank %d, expected 1..4", ErrSource, name, rank)
	}
	hb := make([]byte, 4*rank)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("%w: %s: truncated IDX header: expected %d dimension sizes", ErrSource, name, rank)
	}
	dims := make([]int, rank)
	total := uint64(1)
	for i := range dims {
		v := binary.BigEndian.Uint32(hb[4*i:])
		if v == 0 {
			return nil, fmt.Errorf("%w: %s: IDX dimension %d is 0, expected >= 1", ErrSource, name, i)
		}
		dims[i] = int(v)
		total *= uint64(v)
		if total > maxIDXBytes {
			return nil, fmt.Errorf("%w: %s: IDX dims %v claim more than %d bytes", ErrSource, name, dims[:i+1], uint64(maxIDXBytes))
		}
	}
	return dims, nil
}

func readIDXPayload(name string, dims []int, r io.Reader, gz bool) ([]int, []byte, error) {
	total := 1
	for _, v := range dims {
		total *= v
	}
	if br, ok := r.(*bytes.Reader); ok && br.Len() < total {
		return nil, nil, fmt.Errorf("%w: %s: truncated IDX file: dims %v need %d data bytes, file has %d", ErrSource, name, dims, total, br.Len())
	}
	// Grow the buffer as data arrives (capped at 64 MiB up front), so a
	// small gzip stream whose header claims gigabytes cannot make us
	// allocate them.
	buf := make([]byte, 0, min(total, 64<<20))
	for len(buf) < total {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), total)])
		buf = buf[:len(buf)+k]
		if err == io.EOF && len(buf) < total {
			return nil, nil, fmt.Errorf("%w: %s: truncated IDX data: dims %v need %d bytes, got %d", ErrSource, name, dims, total, len(buf))
		}
		if err != nil && err != io.EOF {
			return nil, nil, fmt.Errorf("%w: %s: IDX data after %d of %d bytes: %v", ErrSource, name, len(buf), total, err)
		}
	}
	// trailing garbage is an error too: the file must be exactly the IDX
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k != 0 {
		return nil, nil, fmt.Errorf("%w: %s: extra bytes after the %d data bytes of dims %v", ErrSource, name, total, dims)
	}
	return dims, buf, nil
}

// idxPair loads one images/labels pair.
func idxPair(imgPath, lblPath string, classes int) (imgs []byte, labels []int, rows, cols int, err error) {
	ib, err := os.ReadFile(imgPath)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("%w: %v", ErrSource, err)
	}
	lb, err := os.ReadFile(lblPath)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("%w: %v", ErrSource, err)
	}
	var (
		idims, ldims []int
		lbytes       []byte
		ierr, lerr   error
		done         = make(chan struct{})
	)
	go func() { idims, imgs, ierr = ParseIDX(imgPath, ib); close(done) }()
	ldims, lbytes, lerr = ParseIDX(lblPath, lb)
	<-done
	if ierr != nil {
		return nil, nil, 0, 0, ierr
	}
	if lerr != nil {
		return nil, nil, 0, 0, lerr
	}
	if len(idims) != 3 {
		return nil, nil, 0, 0, fmt.Errorf("%w: %s: IDX rank %d, expected 3 (count, rows, cols) for images", ErrSource, imgPath, len(idims))
	}
	if len(ldims) != 1 {
		return nil, nil, 0, 0, fmt.Errorf("%w: %s: IDX rank %d, expected 1 (count) for labels", ErrSource, lblPath, len(ldims))
	}
	if idims[0] != ldims[0] {
		return nil, nil, 0, 0, fmt.Errorf("%w: %s has %d images but %s has %d labels, expected equal counts", ErrSource, imgPath, idims[0], lblPath, ldims[0])
	}
	labels = make([]int, len(lbytes))
	for i, v := range lbytes {
		if int(v) >= classes {
			return nil, nil, 0, 0, fmt.Errorf("%w: %s: label %d of record %d, expected 0..%d", ErrSource, lblPath, v, i, classes-1)
		}
		labels[i] = int(v)
	}
	return imgs, labels, idims[1], idims[2], nil
}

// findIDX locates base (e.g. "train-images-idx3-ubyte") in dir, gzipped or
// not, also accepting the common "train-images.idx3-ubyte" spelling.
func findIDX(dir, base string) (string, error) {
	alt := strings.Replace(base, "-idx", ".idx", 1) // train-images.idx3-ubyte
	for _, n := range []string{base + ".gz", base, alt + ".gz", alt} {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s: no %s(.gz) file, expected the four MNIST-layout IDX files", ErrSource, dir, base)
}

// MNISTClassNames are the digit names.
var MNISTClassNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionMNISTClassNames are Fashion-MNIST's official class names.
var FashionMNISTClassNames = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist installs.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// LoadIDXDir loads a directory in the MNIST layout (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
// each optionally .gz): the training images first, then the test images,
// with the official split recorded. Shape [1,rows,cols], uint8, 10 classes.
func LoadIDXDir(dir string, classNames []string) (*Dataset, []string, error) {
	var files []string
	type part struct {
		imgs   []byte
		labels []int
		r, c   int
	}
	var parts [2]part
	for k, pre := range []string{"train", "t10k"} {
		ip, err := findIDX(dir, pre+"-images-idx3-ubyte")
		if err != nil {
			return nil, nil, err
		}
		lp, err := findIDX(dir, pre+"-labels-idx1-ubyte")
		if err != nil {
			return nil, nil, err
		}
		files = append(files, ip, lp)
		im, lb, r, c, err := idxPair(ip, lp, len(classNames))
		if err != nil {
			return nil, nil, err
		}
		parts[k] = part{im, lb, r, c}
	}
	if parts[0].r != parts[1].r || parts[0].c != parts[1].c {
		return nil, nil, fmt.Errorf("%w: %s: training images are %dx%d but test images %dx%d, expected the same size", ErrSource, dir, parts[0].r, parts[0].c, parts[1].r, parts[1].c)
	}
	n0, n1 := len(parts[0].labels), len(parts[1].labels)
	d := &Dataset{
		DType:      Uint8,
		Shape:      []int{1, parts[0].r, parts[0].c},
		Classes:    len(classNames),
		U8:         append(parts[0].imgs[:len(parts[0].imgs):len(parts[0].imgs)], parts[1].imgs...),
		Labels:     append(parts[0].labels[:n0:n0], parts[1].labels...),
		Split:      make([]uint8, n0+n1),
		ClassNames: append([]string(nil), classNames...),
	}
	for i := n0; i < n0+n1; i++ {
		d.Split[i] = Test
	}
	return d, files, nil
}
