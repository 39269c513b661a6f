//go:build (linux || darwin || freebsd) && !nohdf5

package hdf5

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Available reports whether this build can read HDF5 files (when libhdf5
// itself is installed; Load says so when it is not).
const Available = true

// libraryNames are the sonames tried in order: Debian 12's serial build
// (package libhdf5-103-1), the same ABI under its upstream name, Debian
// 13's libhdf5-310, then any development symlink.
var libraryNames = []string{
	"libhdf5_serial.so.103", "libhdf5.so.103",
	"libhdf5_serial.so.310", "libhdf5.so.310",
	"libhdf5_serial.so", "libhdf5.so", "libhdf5.dylib",
}

// hid is HDF5's hid_t (int64_t since 1.10, the oldest version we load).
type hid = int64

// The libhdf5 C API values this package passes (H5*public.h, stable since
// 1.10): default property lists, "all of the dataspace" and the enums.
const (
	h5pDefault   hid = 0
	h5sAll       hid = 0
	h5eDefault   hid = 0
	h5fAccRDOnly     = 0
	h5iDataset       = 5 // H5I_DATASET
	h5tInteger       = 0 // H5T_INTEGER
	h5tFloat         = 1 // H5T_FLOAT
	h5tSgn2          = 1 // H5T_SGN_2 (two's complement)
	maxRank          = 8
)

// lib is libhdf5 loaded with dlopen, every function this package calls and
// the global type and class ids it reads after H5open.
type lib struct {
	open                     func() int32
	eSetAuto2                func(estack hid, fn, data uintptr) int32
	pCreate                  func(cls hid) hid
	pClose                   func(id hid) int32
	fOpen                    func(name string, flags uint32, fapl hid) hid
	fClose                   func(id hid) int32
	lExists                  func(loc hid, name string, lapl hid) int32
	oOpen                    func(loc hid, name string, lapl hid) hid
	oClose                   func(id hid) int32
	iGetType                 func(id hid) int32
	dOpen2                   func(loc hid, name string, dapl hid) hid
	dClose                   func(id hid) int32
	dGetSpace                func(id hid) hid
	dGetType                 func(id hid) hid
	dRead                    func(d, memType, memSpace, fileSpace, xfer hid, buf unsafe.Pointer) int32
	sClose                   func(id hid) int32
	sGetSimpleExtentNdims    func(id hid) int32
	sGetSimpleExtentDims     func(id hid, dims, maxdims unsafe.Pointer) int32
	tClose                   func(id hid) int32
	tGetClass                func(id hid) int32
	tGetSize                 func(id hid) uintptr
	tGetSign                 func(id hid) int32
	nativeUint8, nativeFloat hid
	nativeInt64, fileAccess  hid
	path                     string
}

var (
	loadOnce sync.Once
	loaded   *lib
	loadErr  error
)

// library loads libhdf5 once per process; its error names every place
// tried and the package that provides it.
func library() (*lib, error) {
	loadOnce.Do(func() { loaded, loadErr = loadLibrary() })
	return loaded, loadErr
}

func loadLibrary() (*lib, error) {
	names := libraryNames
	if p := os.Getenv(LibraryEnv); p != "" {
		names = []string{p}
	}
	var handle uintptr
	var tried []string
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			handle = h
			names = []string{n}
			break
		}
		tried = append(tried, n)
	}
	if handle == 0 {
		return nil, fmt.Errorf("%w: %w (tried %s): install Debian's libhdf5-103-1 (Debian 12; libhdf5-310 on Debian 13, libhdf5-dev on either) or set %s to the library's path",
			ErrHDF5, ErrNoLibrary, strings.Join(tried, ", "), LibraryEnv)
	}
	l := &lib{path: names[0]}
	var missing []string
	reg := func(fptr any, name string) {
		if _, err := purego.Dlsym(handle, name); err != nil {
			missing = append(missing, name)
			return
		}
		purego.RegisterLibFunc(fptr, handle, name)
	}
	reg(&l.open, "H5open")
	reg(&l.eSetAuto2, "H5Eset_auto2")
	reg(&l.pCreate, "H5Pcreate")
	reg(&l.pClose, "H5Pclose")
	reg(&l.fOpen, "H5Fopen")
	reg(&l.fClose, "H5Fclose")
	reg(&l.lExists, "H5Lexists")
	reg(&l.oOpen, "H5Oopen")
	reg(&l.oClose, "H5Oclose")
	reg(&l.iGetType, "H5Iget_type")
	reg(&l.dOpen2, "H5Dopen2")
	reg(&l.dClose, "H5Dclose")
	reg(&l.dGetSpace, "H5Dget_space")
	reg(&l.dGetType, "H5Dget_type")
	reg(&l.dRead, "H5Dread")
	reg(&l.sClose, "H5Sclose")
	reg(&l.sGetSimpleExtentNdims, "H5Sget_simple_extent_ndims")
	reg(&l.sGetSimpleExtentDims, "H5Sget_simple_extent_dims")
	reg(&l.tClose, "H5Tclose")
	reg(&l.tGetClass, "H5Tget_class")
	reg(&l.tGetSize, "H5Tget_size")
	reg(&l.tGetSign, "H5Tget_sign")
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s lacks %s: expected libhdf5 1.10 or newer", ErrHDF5, l.path, strings.Join(missing, ", "))
	}
	if l.open() < 0 {
		return nil, fmt.Errorf("%w: %s: H5open failed", ErrHDF5, l.path)
	}
	// The H5T_NATIVE_* and H5P_FILE_ACCESS macros read these globals,
	// which H5open has just set.
	for _, g := range []struct {
		name string
		dst  *hid
	}{
		{"H5T_NATIVE_UINT8_g", &l.nativeUint8},
		{"H5T_NATIVE_FLOAT_g", &l.nativeFloat},
		{"H5T_NATIVE_INT64_g", &l.nativeInt64},
		{"H5P_CLS_FILE_ACCESS_ID_g", &l.fileAccess},
	} {
		addr, err := purego.Dlsym(handle, g.name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s lacks %s: expected libhdf5 1.10 or newer", ErrHDF5, l.path, g.name)
		}
		*g.dst = **(**hid)(unsafe.Pointer(&addr)) // addr is the global's address
	}
	// Errors come back as return values with our own messages; libhdf5's
	// automatic stack dump to stderr would only repeat them.
	l.eSetAuto2(h5eDefault, 0, 0)
	return l, nil
}
