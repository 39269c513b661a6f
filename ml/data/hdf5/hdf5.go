//go:build cgo && !nohdf5

package hdf5

/*
#cgo pkg-config: hdf5
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

static hid_t pouw_open(const char *path) {
	H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
	hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl < 0) return -1;
	hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	H5Pclose(fapl);
	return f;
}

static int pouw_close(hid_t f) { return H5Fclose(f); }

// 1 exists, 0 missing (or an intermediate group missing), -1 error
static int pouw_exists(hid_t f, const char *name) {
	htri_t r = H5Lexists(f, name, H5P_DEFAULT);
	if (r <= 0) return 0;
	hid_t o = H5Oopen(f, name, H5P_DEFAULT);
	if (o < 0) return -1;
	int ds = H5Iget_type(o) == H5I_DATASET;
	H5Oclose(o);
	return ds ? 1 : 2;
}

// kind: 1 integer, 2 float, 0 other
static int pouw_info(hid_t f, const char *name, int *rank, hsize_t *dims, int *kind, int *size, int *is_signed) {
	hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
	if (d < 0) return -1;
	hid_t s = H5Dget_space(d);
	hid_t t = H5Dget_type(d);
	int ret = 0;
	if (s < 0 || t < 0) { ret = -1; goto out; }
	*rank = H5Sget_simple_extent_ndims(s);
	if (*rank < 0 || *rank > 8) { ret = -2; goto out; }
	H5Sget_simple_extent_dims(s, dims, NULL);
	H5T_class_t c = H5Tget_class(t);
	*kind = c == H5T_INTEGER ? 1 : (c == H5T_FLOAT ? 2 : 0);
	*size = (int)H5Tget_size(t);
	*is_signed = c == H5T_INTEGER ? (H5Tget_sign(t) == H5T_SGN_2) : 1;
out:
	if (t >= 0) H5Tclose(t);
	if (s >= 0) H5Sclose(s);
	H5Dclose(d);
	return ret;
}

// as: 0 uint8, 1 float32, 2 int64
static int pouw_read(hid_t f, const char *name, int as, void *buf) {
	hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
	if (d < 0) return -1;
	hid_t mt = as == 0 ? H5T_NATIVE_UINT8 : (as == 1 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT64);
	herr_t r = H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
	H5Dclose(d);
	return r < 0 ? -1 : 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"

	"github.com/pouw/pouwd/ml/data"
)

// Available reports whether this build can read HDF5 files.
const Available = true

// libMu serialises every libhdf5 call (the Debian build is not thread-safe).
var libMu sync.Mutex

// ErrHDF5 wraps every error of this package (and data.ErrSource).
var ErrHDF5 = errors.New("hdf5")

// maxElements bounds one dataset (2 Gi elements, 8 GiB as float32), so a
// small file whose dataspace claims more cannot make us allocate it.
const maxElements = 1 << 31

type info struct {
	dims       []int
	kind, size int
	signed     bool
	elements   int
}

func dsInfo(f C.hid_t, path, name, role string) (info, error) {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	switch C.pouw_exists(f, cn) {
	case 0:
		return info{}, fmt.Errorf("%w: %w: %s: no dataset named %q, expected it to hold the samples' %s", data.ErrSource, ErrHDF5, path, name, role)
	case 2:
		return info{}, fmt.Errorf("%w: %w: %s: %q is a group or other object, expected a dataset", data.ErrSource, ErrHDF5, path, name)
	case -1:
		return info{}, fmt.Errorf("%w: %w: %s: cannot inspect %q", data.ErrSource, ErrHDF5, path, name)
	}
	var rank, kind, size, signed C.int
	var dims [8]C.hsize_t
	if r := C.pouw_info(f, cn, &rank, &dims[0], &kind, &size, &signed); r != 0 {
		if r == -2 {
			return info{}, fmt.Errorf("%w: %w: %s: dataset %q has rank above 8", data.ErrSource, ErrHDF5, path, name)
		}
		return info{}, fmt.Errorf("%w: %w: %s: cannot open dataset %q", data.ErrSource, ErrHDF5, path, name)
	}
	in := info{kind: int(kind), size: int(size), signed: signed != 0, elements: 1}
	for i := 0; i < int(rank); i++ {
		v := uint64(dims[i])
		if v == 0 || v > maxElements {
			return info{}, fmt.Errorf("%w: %w: %s: dataset %q dimension %d is %d, expected 1..2^31", data.ErrSource, ErrHDF5, path, name, i, v)
		}
		in.dims = append(in.dims, int(v))
		in.elements *= int(v)
		if in.elements > maxElements {
			return info{}, fmt.Errorf("%w: %w: %s: dataset %q has more than 2^31 elements, the most this reader accepts", data.ErrSource, ErrHDF5, path, name)
		}
	}
	if rank == 0 {
		return info{}, fmt.Errorf("%w: %w: %s: dataset %q is a scalar, expected an array with one row per sample", data.ErrSource, ErrHDF5, path, name)
	}
	if in.kind == 0 {
		return info{}, fmt.Errorf("%w: %w: %s: dataset %q is neither integer nor float, expected numbers", data.ErrSource, ErrHDF5, path, name)
	}
	return in, nil
}

func read(f C.hid_t, path, name string, as int, buf unsafe.Pointer) error {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	if C.pouw_read(f, cn, C.int(as), buf) != 0 {
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
	libMu.Lock()
	defer libMu.Unlock()
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	f := C.pouw_open(cp)
	if f < 0 {
		return nil, nil, fmt.Errorf("%w: %w: %s: not an HDF5 file (or unreadable), expected an HDF5 file with datasets %q and %q", data.ErrSource, ErrHDF5, path, opt.Features, opt.Labels)
	}
	defer C.pouw_close(f)

	fi, err := dsInfo(f, path, opt.Features, "features")
	if err != nil {
		return nil, nil, err
	}
	li, err := dsInfo(f, path, opt.Labels, "labels")
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
		err = read(f, path, opt.Features, 0, unsafe.Pointer(&d.U8[0]))
	} else {
		d.DType = data.Float32
		d.F32 = make([]float32, fi.elements)
		err = read(f, path, opt.Features, 1, unsafe.Pointer(&d.F32[0]))
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
	if err := read(f, path, opt.Labels, 2, unsafe.Pointer(&lab[0])); err != nil {
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

// LoadFunc adapts Load to data.LoadFunc.
func LoadFunc(o data.Options) (*data.Dataset, []string, error) {
	if o.HDF5 == nil {
		return nil, nil, fmt.Errorf("%w: hdf5 source without dataset names", data.ErrOptions)
	}
	return Load(o.Path, *o.HDF5)
}
