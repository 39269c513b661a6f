package data

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Magic starts every canonical dataset file.
const Magic = "POUWDSET"

// Version is the canonical format version this package writes and reads.
const Version = 1

// MaxRank is the largest sample rank the format allows.
const MaxRank = 8

// Sentinel errors; every returned error wraps one of them and names the
// file, record or field and what was expected.
var (
	ErrFormat  = errors.New("data: malformed canonical dataset")
	ErrSource  = errors.New("data: malformed source")
	ErrOptions = errors.New("data: invalid options")
	ErrCorrupt = errors.New("data: checksum mismatch")
)

// DType is the element type of the samples.
type DType uint8

const (
	Uint8   DType = 1
	Float32 DType = 2
)

func (d DType) String() string {
	switch d {
	case Uint8:
		return "uint8"
	case Float32:
		return "float32"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the element size in bytes.
func (d DType) Size() int {
	if d == Float32 {
		return 4
	}
	return 1
}

// ParseDType parses "uint8" or "float32".
func ParseDType(s string) (DType, error) {
	switch s {
	case "uint8":
		return Uint8, nil
	case "float32":
		return Float32, nil
	}
	return 0, fmt.Errorf("%w: dtype %q, expected uint8 or float32", ErrOptions, s)
}

// Split values stored per sample.
const (
	Train      uint8 = 0
	Validation uint8 = 1
	Test       uint8 = 2
)

// Dataset is a dataset in canonical form, fully in memory. Exactly one of
// U8 and F32 holds the samples, according to DType.
type Dataset struct {
	DType   DType
	Shape   []int // one sample's shape
	Classes int
	U8      []byte
	F32     []float32
	Labels  []int
	Split   []uint8 // per sample: Train, Validation or Test

	ClassNames []string // not part of the canonical bytes
}

// Len is the number of samples.
func (d *Dataset) Len() int { return len(d.Labels) }

// Dim is the number of elements of one sample.
func (d *Dataset) Dim() int { return shapeSize(d.Shape) }

// Label returns sample i's class.
func (d *Dataset) Label(i int) int { return d.Labels[i] }

// Read writes sample i as float32 into dst (len Dim()). uint8 samples are
// converted exactly (0..255, not scaled).
func (d *Dataset) Read(i int, dst []float32) {
	n := d.Dim()
	if d.DType == Uint8 {
		for j, v := range d.U8[i*n : (i+1)*n] {
			dst[j] = float32(v)
		}
		return
	}
	copy(dst, d.F32[i*n:(i+1)*n])
}

// Indices returns the ascending sample indices in split s.
func (d *Dataset) Indices(s uint8) []int {
	var out []int
	for i, v := range d.Split {
		if v == s {
			out = append(out, i)
		}
	}
	return out
}

// CVPool returns the samples that K-fold cross-validation runs over: every
// sample not in the test split (training and validation), in ascending
// index order. Fold rule position p (ml/cv) is sample CVPool(split)[p].
// pouwd ml cv, miners and verifiers all use this order.
func CVPool(split []uint8) []int {
	var out []int
	for i, v := range split {
		if v != Test {
			out = append(out, i)
		}
	}
	return out
}

func shapeSize(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

// HeaderLen is the canonical header length for a sample rank.
func HeaderLen(rank int) int {
	h := 24 + 4*rank
	return h + (8-h%8)%8
}

// CanonicalSize is the total length of the canonical bytes.
func (d *Dataset) CanonicalSize() int64 {
	n := int64(d.Len())
	return int64(HeaderLen(len(d.Shape))) + n*int64(d.Dim()*d.DType.Size()) + 5*n
}

// Validate checks that the dataset can be encoded: consistent lengths,
// labels below Classes, split values known, float32 values finite.
func (d *Dataset) Validate() error {
	if d.DType != Uint8 && d.DType != Float32 {
		return fmt.Errorf("%w: dtype %d, expected uint8 (1) or float32 (2)", ErrFormat, d.DType)
	}
	if len(d.Shape) < 1 || len(d.Shape) > MaxRank {
		return fmt.Errorf("%w: sample rank %d, expected 1..%d", ErrFormat, len(d.Shape), MaxRank)
	}
	for i, v := range d.Shape {
		if v < 1 || v > math.MaxUint32 {
			return fmt.Errorf("%w: dim %d is %d, expected 1..2^32-1", ErrFormat, i, v)
		}
	}
	n := d.Len()
	if n < 1 {
		return fmt.Errorf("%w: no samples, expected at least one", ErrFormat)
	}
	if d.Classes < 1 || d.Classes > math.MaxUint32 {
		return fmt.Errorf("%w: %d classes, expected at least 1", ErrFormat, d.Classes)
	}
	want := n * d.Dim()
	switch d.DType {
	case Uint8:
		if len(d.U8) != want || d.F32 != nil {
			return fmt.Errorf("%w: %d uint8 elements for %d samples of %v, expected %d", ErrFormat, len(d.U8), n, d.Shape, want)
		}
	case Float32:
		if len(d.F32) != want || d.U8 != nil {
			return fmt.Errorf("%w: %d float32 elements for %d samples of %v, expected %d", ErrFormat, len(d.F32), n, d.Shape, want)
		}
		for j, v := range d.F32 {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%w: sample %d element %d is %v, expected a finite number", ErrFormat, j/d.Dim(), j%d.Dim(), v)
			}
		}
	}
	for i, l := range d.Labels {
		if l < 0 || l >= d.Classes {
			return fmt.Errorf("%w: sample %d has label %d, expected 0..%d", ErrFormat, i, l, d.Classes-1)
		}
	}
	if len(d.Split) != n {
		return fmt.Errorf("%w: %d split entries for %d samples, expected one per sample", ErrFormat, len(d.Split), n)
	}
	for i, s := range d.Split {
		if s > Test {
			return fmt.Errorf("%w: sample %d has split %d, expected 0 (train), 1 (validation) or 2 (test)", ErrFormat, i, s)
		}
	}
	if d.ClassNames != nil && len(d.ClassNames) != d.Classes {
		return fmt.Errorf("%w: %d class names for %d classes", ErrFormat, len(d.ClassNames), d.Classes)
	}
	return nil
}

func (d *Dataset) header() []byte {
	h := make([]byte, HeaderLen(len(d.Shape)))
	copy(h, Magic)
	binary.LittleEndian.PutUint16(h[8:], Version)
	h[10] = byte(d.DType)
	h[11] = byte(len(d.Shape))
	binary.LittleEndian.PutUint32(h[12:], uint32(d.Classes))
	binary.LittleEndian.PutUint64(h[16:], uint64(d.Len()))
	for i, v := range d.Shape {
		binary.LittleEndian.PutUint32(h[24+4*i:], uint32(v))
	}
	return h
}

// WriteTo writes the canonical bytes to w. The dataset must be valid.
func (d *Dataset) WriteTo(w io.Writer) (int64, error) {
	if err := d.Validate(); err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	if _, err := cw.Write(d.header()); err != nil {
		return cw.n, err
	}
	buf := make([]byte, 1<<16)
	switch d.DType {
	case Uint8:
		if _, err := cw.Write(d.U8); err != nil {
			return cw.n, err
		}
	case Float32:
		for off := 0; off < len(d.F32); {
			m := min(len(buf)/4, len(d.F32)-off)
			for j, v := range d.F32[off : off+m] {
				if v == 0 {
					v = 0 // -0 -> +0
				}
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			if _, err := cw.Write(buf[:4*m]); err != nil {
				return cw.n, err
			}
			off += m
		}
	}
	for off := 0; off < len(d.Labels); {
		m := min(len(buf)/4, len(d.Labels)-off)
		for j, l := range d.Labels[off : off+m] {
			binary.LittleEndian.PutUint32(buf[4*j:], uint32(l))
		}
		if _, err := cw.Write(buf[:4*m]); err != nil {
			return cw.n, err
		}
		off += m
	}
	_, err := cw.Write(d.Split)
	return cw.n, err
}

// Encode returns the canonical bytes.
func (d *Dataset) Encode() ([]byte, error) {
	w := &sliceWriter{b: make([]byte, 0, d.CanonicalSize())}
	if _, err := d.WriteTo(w); err != nil {
		return nil, err
	}
	return w.b, nil
}

// SHA256 returns the SHA-256 of the canonical bytes: the dataset's identity.
func (d *Dataset) SHA256() ([32]byte, error) {
	h := sha256.New()
	bw := bufio.NewWriterSize(h, 1<<20)
	if _, err := d.WriteTo(bw); err != nil {
		return [32]byte{}, err
	}
	if err := bw.Flush(); err != nil {
		return [32]byte{}, err
	}
	var out [32]byte
	h.Sum(out[:0])
	return out, nil
}

// Header is the fixed part of a canonical file.
type Header struct {
	DType   DType
	Shape   []int
	Classes int
	Count   int
	Len     int // header length in bytes
}

// Dim is the number of elements per sample.
func (h Header) Dim() int { return shapeSize(h.Shape) }

// FileSize is the exact length a canonical file with this header must have.
func (h Header) FileSize() int64 {
	n := int64(h.Count)
	return int64(h.Len) + n*int64(h.Dim()*h.DType.Size()) + 5*n
}

// ParseHeader parses and checks the header at the start of b. name is used
// in error messages (a file path).
func ParseHeader(name string, b []byte) (Header, error) {
	if len(b) < 24 {
		return Header{}, fmt.Errorf("%w: %s: %d bytes, expected at least the 24-byte header", ErrFormat, name, len(b))
	}
	if string(b[:8]) != Magic {
		return Header{}, fmt.Errorf("%w: %s: magic %q, expected %q", ErrFormat, name, b[:8], Magic)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != Version {
		return Header{}, fmt.Errorf("%w: %s: format version %d, expected %d", ErrFormat, name, v, Version)
	}
	h := Header{DType: DType(b[10])}
	if h.DType != Uint8 && h.DType != Float32 {
		return Header{}, fmt.Errorf("%w: %s: dtype byte %d at offset 10, expected 1 (uint8) or 2 (float32)", ErrFormat, name, b[10])
	}
	rank := int(b[11])
	if rank < 1 || rank > MaxRank {
		return Header{}, fmt.Errorf("%w: %s: rank %d at offset 11, expected 1..%d", ErrFormat, name, rank, MaxRank)
	}
	h.Len = HeaderLen(rank)
	if len(b) < h.Len {
		return Header{}, fmt.Errorf("%w: %s: %d bytes, expected a %d-byte header", ErrFormat, name, len(b), h.Len)
	}
	c := binary.LittleEndian.Uint32(b[12:])
	if c < 1 {
		return Header{}, fmt.Errorf("%w: %s: 0 classes at offset 12, expected at least 1", ErrFormat, name)
	}
	h.Classes = int(c)
	cnt := binary.LittleEndian.Uint64(b[16:])
	if cnt < 1 || cnt > 1<<40 {
		return Header{}, fmt.Errorf("%w: %s: sample count %d at offset 16, expected 1..2^40", ErrFormat, name, cnt)
	}
	h.Count = int(cnt)
	dim := uint64(1)
	for i := 0; i < rank; i++ {
		v := binary.LittleEndian.Uint32(b[24+4*i:])
		if v < 1 {
			return Header{}, fmt.Errorf("%w: %s: dim %d is 0 at offset %d, expected >= 1", ErrFormat, name, i, 24+4*i)
		}
		dim *= uint64(v)
		if dim > 1<<40 {
			return Header{}, fmt.Errorf("%w: %s: sample shape too large (> 2^40 elements)", ErrFormat, name)
		}
		h.Shape = append(h.Shape, int(v))
	}
	for i := 24 + 4*rank; i < h.Len; i++ {
		if b[i] != 0 {
			return Header{}, fmt.Errorf("%w: %s: padding byte at offset %d is %d, expected 0", ErrFormat, name, i, b[i])
		}
	}
	if dim*cnt > 1<<46 {
		return Header{}, fmt.Errorf("%w: %s: %d samples of %d elements is too large", ErrFormat, name, cnt, dim)
	}
	return h, nil
}

// Decode parses canonical bytes. uint8 samples alias b (no copy). name is
// used in error messages.
func Decode(name string, b []byte) (*Dataset, error) {
	h, err := ParseHeader(name, b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != h.FileSize() {
		return nil, fmt.Errorf("%w: %s: %d bytes, expected %d for %d samples of %v %s", ErrFormat, name, len(b), h.FileSize(), h.Count, h.Shape, h.DType)
	}
	d := &Dataset{DType: h.DType, Shape: h.Shape, Classes: h.Classes}
	n, dim := h.Count, h.Dim()
	off := h.Len
	if h.DType == Uint8 {
		d.U8 = b[off : off+n*dim]
		off += n * dim
	} else {
		d.F32 = make([]float32, n*dim)
		for j := range d.F32 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[off+4*j:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || (v == 0 && math.Signbit(float64(v))) {
				return nil, fmt.Errorf("%w: %s: sample %d element %d is %v (bits %#08x), expected a finite number and no -0", ErrFormat, name, j/dim, j%dim, v, math.Float32bits(v))
			}
			d.F32[j] = v
		}
		off += 4 * n * dim
	}
	d.Labels = make([]int, n)
	for i := range d.Labels {
		l := binary.LittleEndian.Uint32(b[off+4*i:])
		if int(l) >= h.Classes {
			return nil, fmt.Errorf("%w: %s: label of sample %d is %d, expected 0..%d", ErrFormat, name, i, l, h.Classes-1)
		}
		d.Labels[i] = int(l)
	}
	off += 4 * n
	d.Split = b[off : off+n]
	for i, s := range d.Split {
		if s > Test {
			return nil, fmt.Errorf("%w: %s: split of sample %d is %d, expected 0, 1 or 2", ErrFormat, name, i, s)
		}
	}
	return d, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type sliceWriter struct{ b []byte }

func (s *sliceWriter) Write(p []byte) (int, error) { s.b = append(s.b, p...); return len(p), nil }
