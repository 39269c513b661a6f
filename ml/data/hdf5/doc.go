// Package hdf5 reads labelled datasets from HDF5 files and hands them to
// ml/data in canonical form. It loads libhdf5 at run time with dlopen
// (github.com/ebitengine/purego), so building pouwd needs no HDF5 headers,
// no pkg-config and no cgo for this package; only reading an HDF5 file
// needs the shared library (Debian: libhdf5-103-1, which python3-h5py and
// libhdf5-dev pull in; POUWD_LIBHDF5 names another one). Without it, Load
// says which package to install. The nohdf5 build tag leaves the loader
// out entirely.
//
// Features come from one named dataset of shape (N, d1, d2, ...) (rank 1
// means one feature per sample), labels from another of shape (N) or (N, 1)
// holding non-negative integers (classes = largest label + 1). Unsigned
// 8-bit features stay uint8; every other integer or float type becomes
// float32 (libhdf5's conversion, round to nearest). Contiguous, chunked and
// gzip-compressed datasets are all read the same way.
//
// It must never write HDF5 files, never follow external links or virtual
// datasets to files the user did not name, and never call libhdf5 from two
// goroutines at once (the Debian build is not thread-safe; a package mutex
// serialises calls).
package hdf5
