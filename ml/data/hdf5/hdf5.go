//go:build (linux || darwin || freebsd) && !nohdf5

package hdf5

import (
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"

	"github.com/pouw/pouwd/ml/data"
)

// libMu serialises every libhdf5 call (the Debian build is not thread-safe).
var libMu sync.Mutex

// maxElements bounds one dataset (2 Gi elements, 8 GiB as float32), so a
// small file whose dataspace claims more cannot make us allocate it.
const maxElements = 1 << 31

type info struct {
	dims       []int
	kind, size int
	signed     bool
	elements   int
}

// objectKind says what name is in f: 1 a dataset, 0 missing (or an
// intermediate group missing), 2 another kind of object, -1 an error.
func (l *lib) objectKind(f hid, name string) int {
	if l.lExists(f, name, h5pDefault) <= 0 {
		return 0
	}
	o := l.oOpen(f, name, h5pDefault)
	if o < 0 {
		return -1
	}
	defer l.oClose(o)
	if l.iGetType(o) == h5iDataset {
		return 1
	}
	return 2
}

// rawInfo is a dataset's dataspace and element type as libhdf5 reports it.
type rawInfo struct {
	rank       int
	dims       [maxRank]uint64
	class      int32
	size       int
	signed     bool
	rankTooBig bool
}

func (l *lib) datasetInfo(f hid, name string) (rawInfo, bool) {
	var r rawInfo
	d := l.dOpen2(f, name, h5pDefault)
	if d < 0 {
		return r, false
	}
	defer l.dClose(d)
	s := l.dGetSpace(d)
	if s < 0 {
		return r, false
	}
	defer l.sClose(s)
	t := l.dGetType(d)
	if t < 0 {
		return r, false
	}
	defer l.tClose(t)
	rank := l.sGetSimpleExtentNdims(s)
	if rank < 0 {
		return r, false
	}
	if rank > maxRank {
		r.rankTooBig = true
		return r, true
	}
	r.rank = int(rank)
	if rank > 0 && l.sGetSimpleExtentDims(s, unsafe.Pointer(&r.dims[0]), nil) < 0 {
		return r, false
	}
	r.class = l.tGetClass(t)
	r.size = int(l.tGetSize(t))
	r.signed = r.class != h5tInteger || l.tGetSign(t) == h5tSgn2
	return r, true
}

func dsInfo(l *lib, f hid, path, name, role string) (info, error) {
	switch l.objectKind(f, name) {
	case 0:
		return info{}, fmt.Errorf("%w: %w: %s: no dataset named %q, expected it to hold the samples' %s", data.ErrSource, ErrHDF5, path, name, role)
	case 2:
		return info{}, fmt.Errorf("%w: %w: %s: %q is a group or other object, expected a dataset", data.ErrSource, ErrHDF5, path, name)
	case -1:
		return info{}, fmt.Errorf("%w: %w: %s: cannot inspect %q", data.ErrSource, ErrHDF5, path, name)
	}
	r, ok := l.datasetInfo(f, name)
	if !ok {
		return info{}, fmt.Errorf("%w: %w: %s: cannot open dataset %q", data.ErrSource, ErrHDF5, path, name)
	}
	if r.rankTooBig {
		return info{}, fmt.Errorf("%w: %w: %s: dataset %q has rank above %d", data.ErrSource, ErrHDF5, path, name, maxRank)
	}
	in := info{size: r.size, signed: r.signed, elements: 1}
	switch r.class {
	case h5tInteger:
		in.kind = 1
	case h5tFloat:
		in.kind = 2
	}
	for i := 0; i < r.rank; i++ {
		v := r.dims[i]
		if v == 0 || v > maxElements {
			return info{}, fmt.Errorf("%w: %w: %s: dataset %q dimension %d is %d, expected 1..2^31", data.ErrSource, ErrHDF5, path, name, i, v)
		}
		in.dims = append(in.dims, int(v))
		in.elements *= int(v)
		if in.elements > maxElements {
			return info{}, fmt.Errorf("%w: %w: %s: dataset %q has more than 2^31 elements, the most this reader accepts", data.ErrSource, ErrHDF5, path, name)
		}
	}
	if r.rank == 0 {
		return info{}, fmt.Errorf("%w: %w: %s: dataset %q is a scalar, expected an array with one row per sample", data.ErrSource, ErrHDF5, path, name)
	}
	if in.kind == 0 {
		return info{}, fmt.Errorf("%w: %w: %s: dataset %q is neither integer nor float, expected numbers", data.ErrSource, ErrHDF5, path, name)
	}
	return in, nil
}

// read converts the whole dataset name into memType (libhdf5 converts
// and decompresses) and writes it to buf, which holds every element.
func read(l *lib, f hid, path, name string, memType hid, buf unsafe.Pointer) error {
	d := l.dOpen2(f, name, h5pDefault)
	if d < 0 {
		return fmt.Errorf("%w: %w: %s: cannot open dataset %q", data.ErrSource, ErrHDF5, path, name)
	}
	defer l.dClose(d)
	if l.dRead(d, memType, h5sAll, h5sAll, h5pDefault, buf) < 0 {
		return fmt.Errorf("%w: %w: %s: reading dataset %q failed (corrupt or unsupported filter)", data.ErrSource, ErrHDF5, path, name)
	}
	return nil
}

// Load reads the features and labels datasets named in opt from the HDF5
// file at path. The result has no split (ml/data assigns one by ratio).
func Load(path string, opt data.HDF5Options) (*data.Dataset, []string, error) {
	if opt.Features == "" || opt.Labels == "" {
		return nil, nil, fmt.Errorf("%w: hdf5 needs the features and labels dataset names", data.ErrOptions)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", data.ErrSource, err)
	}
	l, err := library()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", data.ErrSource, path, err)
	}
	libMu.Lock()
	defer libMu.Unlock()
	fapl := l.pCreate(l.fileAccess)
	if fapl < 0 {
		return nil, nil, fmt.Errorf("%w: %w: %s: H5Pcreate(H5P_FILE_ACCESS) failed", data.ErrSource, ErrHDF5, path)
	}
	f := l.fOpen(path, h5fAccRDOnly, fapl)
	l.pClose(fapl)
	if f < 0 {
		return nil, nil, fmt.Errorf("%w: %w: %s: not an HDF5 file (or unreadable), expected an HDF5 file with datasets %q and %q", data.ErrSource, ErrHDF5, path, opt.Features, opt.Labels)
	}
	defer l.fClose(f)

	fi, err := dsInfo(l, f, path, opt.Features, "features")
	if err != nil {
		return nil, nil, err
	}
	li, err := dsInfo(l, f, path, opt.Labels, "labels")
	if err != nil {
		return nil, nil, err
	}
	n := fi.dims[0]
	if !(len(li.dims) == 1 || (len(li.dims) == 2 && li.dims[1] == 1)) || li.dims[0] != n {
		return nil, nil, fmt.Errorf("%w: %w: %s: labels %q have shape %v, expected (%d) or (%d, 1) to match features %q of shape %v", data.ErrSource, ErrHDF5, path, opt.Labels, li.dims, n, n, opt.Features, fi.dims)
	}
	if li.kind != 1 {
		return nil, nil, fmt.Errorf("%w: %w: %s: labels %q are floats, expected integer class ids", data.ErrSource, ErrHDF5, path, opt.Labels)
	}
	shape := []int{1}
	if len(fi.dims) > 1 {
		shape = append([]int(nil), fi.dims[1:]...)
	}
	d := &data.Dataset{Shape: shape}
	if fi.kind == 1 && fi.size == 1 && !fi.signed {
		d.DType = data.Uint8
		d.U8 = make([]byte, fi.elements)
		err = read(l, f, path, opt.Features, l.nativeUint8, unsafe.Pointer(&d.U8[0]))
	} else {
		d.DType = data.Float32
		d.F32 = make([]float32, fi.elements)
		err = read(l, f, path, opt.Features, l.nativeFloat, unsafe.Pointer(&d.F32[0]))
	}
	if err != nil {
		return nil, nil, err
	}
	dim := fi.elements / n
	for j, v := range d.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("%w: %w: %s: %q sample %d element %d is %v, expected a finite number", data.ErrSource, ErrHDF5, path, opt.Features, j/dim, j%dim, v)
		}
		if v == 0 {
			d.F32[j] = 0
		}
	}
	lab := make([]int64, n)
	if err := read(l, f, path, opt.Labels, l.nativeInt64, unsafe.Pointer(&lab[0])); err != nil {
		return nil, nil, err
	}
	maxl := int64(-1)
	d.Labels = make([]int, n)
	for i, v := range lab {
		if v < 0 || v >= 1<<20 {
			return nil, nil, fmt.Errorf("%w: %w: %s: label %d of sample %d in %q, expected 0..2^20-1", data.ErrSource, ErrHDF5, path, v, i, opt.Labels)
		}
		d.Labels[i] = int(v)
		maxl = max(maxl, v)
	}
	d.Classes = int(maxl) + 1
	for i := 0; i < d.Classes; i++ {
		d.ClassNames = append(d.ClassNames, fmt.Sprint(i))
	}
	d.Split = make([]uint8, n)
	return d, []string{path}, nil
}
