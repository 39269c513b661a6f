// Package data brings datasets from their source formats (MNIST and
// Fashion-MNIST IDX files, the CIFAR-10/100 binary archives, CSV, image
// folders, UTF-8 text cut into byte-level next-token windows (text.go);
// HDF5 through the cgo leaf package ml/data/hdf5) into one
// canonical binary form whose SHA-256 is the dataset's identity on chain,
// and serves prepared datasets to training: metadata, deterministic
// train/validation/test splits, normalisation with training-split
// statistics, a verified on-disk cache and lazy (chunked) reading for
// datasets larger than a memory budget.
//
// The canonical form (Dataset.Encode, Decode; byte layout in docs/PROTOCOL.md,
// "Canonical dataset form") holds the samples, the labels and each
// sample's split. The split is part of the identity on purpose: K-fold jobs
// run over CVPool (every non-test sample), so two datasets that differ only
// in their split are different datasets. Class names live in meta.json
// (Meta), not in the canonical bytes. A prepared dataset is a directory
// with dataset.pouw and meta.json; Load checks the file against the
// recorded SHA-256 before returning it, Open returns a Lazy reader when
// the file does not fit the budget, and a Cache hit is verified the same
// way (a damaged entry is reported and rebuilt).
//
// Invariants:
//
//   - The same source and options always give the same canonical bytes:
//     nothing depends on the machine, the thread count, map order or the
//     clock. float32 samples are finite, and -0 is stored as +0, so equal
//     values have equal bytes.
//   - Normalisation statistics come from the training split only; uint8
//     sums are exact integers, float32 sums are float64 in ascending sample
//     and element order with no fused multiply-add.
//   - Text samples are byte token ids stored as exact float32 integers
//     0..255 and are never scaled: a text source refuses normalisation.
//
// It must never use cgo (HDF5 lives in ml/data/hdf5), never touch the
// network, and never write a prepared dataset half way: files appear by
// rename once complete.
package data
