// Package hdf5 reads labelled datasets from HDF5 files through Debian's
// libhdf5 (cgo, `#cgo pkg-config: hdf5`; install libhdf5-dev and
// pkg-config, see scripts/ci/deps-data.sh) and hands them to ml/data in
// canonical form. It is the only package of the data layer that uses cgo,
// so the rest builds with CGO_ENABLED=0; without cgo, or with the nohdf5
// build tag (for a pouwd binary that must not depend on libhdf5.so at run
// time), Load returns an error.
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
