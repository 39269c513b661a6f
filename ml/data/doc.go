// Package data brings datasets from their source formats (MNIST and
// Fashion-MNIST IDX files, the CIFAR-10/100 binary archives, CSV, image
// folders; HDF5 through the cgo leaf package ml/data/hdf5) into one
// canonical binary form whose SHA-256 is the dataset's identity on chain,
// and serves prepared datasets to training: metadata, deterministic
// train/validation/test splits, normalisation with training-split
// statistics, a verified on-disk cache and lazy (chunked) reading for
// datasets larger than a memory budget.
//
// It must never produce bytes that depend on the machine, the thread count,
// map order or the clock: the same source and options always give the same
// canonical bytes. It never uses cgo (HDF5 lives in ml/data/hdf5), never
// touches the network, and never writes a prepared dataset half way: files
// appear by rename once complete.
//
// # Canonical dataset format, version 1
//
// All integers are little-endian. Let R be the rank of one sample's shape,
// D the product of its dims, S the element size (1 for uint8, 4 for
// float32) and N the number of samples.
//
//	offset     size      field
//	0          8         magic, the ASCII bytes "POUWDSET"
//	8          2         format version, uint16 = 1
//	10         1         dtype, uint8: 1 = uint8, 2 = float32 (IEEE 754 binary32)
//	11         1         R, uint8, 1..8
//	12         4         C, number of classes, uint32, >= 1
//	16         8         N, uint64, >= 1
//	24         4*R       dims d_1..d_R, uint32 each >= 1 (row-major; images are
//	                     channel-first: [C,H,W] = [1,28,28] for MNIST, [3,32,32] for CIFAR)
//	24+4R      P         zero padding, P = (8 - (24+4R) mod 8) mod 8
//	H          N*D*S     samples; sample i starts at H + i*D*S, elements row-major
//	H+N*D*S    4*N       labels, uint32 each, 0 <= label < C
//	H+N*D*S+4N N         split of each sample, uint8: 0 train, 1 validation, 2 test
//
// H = 24 + 4R + P is the header length (a multiple of 8, so float32 samples
// are aligned). The file ends right after the split bytes; any other length
// is an error. float32 samples are finite: NaN and ±Inf are rejected at
// ingest and -0 is stored as +0, so equal values have equal bytes.
// Class ids are defined per source: digit for MNIST, the official label for
// Fashion-MNIST and CIFAR, sorted order of the distinct label strings for
// CSV (or the integer itself when every label is a non-negative integer), the
// sorted subfolder names for image folders. Class names live in the
// metadata (meta.json), not in the canonical bytes.
//
// The dataset's identity is SHA-256 over exactly these bytes.
//
// # Prepared dataset directory
//
// A prepared dataset is a directory holding dataset.pouw (the canonical
// bytes) and meta.json (Meta: name, source, counts, classes and names,
// shape, dtype, label histogram, split, preprocessing, sha256). Load checks
// the file against meta.json's sha256 before returning it.
//
// The split bytes are part of the identity on purpose: the chain's K-fold
// jobs run over the training samples and the final score uses the test
// samples, so two datasets that differ only in their split are different
// datasets.
//
// # Sources
//
//	mnist, fashion-mnist  IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte,
//	                      t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally
//	                      .gz; "train-images.idx3-ubyte" spelling accepted). Training
//	                      samples first, then test; official split. [1,rows,cols] uint8.
//	                      Defaults: the GoMNIST module's data/ folder, Debian's
//	                      /usr/share/datasets/fashion-mnist.
//	cifar10, cifar100     the official "binary version" archive (.tar.gz, .tgz or .tar) or
//	                      its extracted folder: data_batch_1..5.bin then test_batch.bin
//	                      (CIFAR-10), train.bin then test.bin with fine or coarse labels
//	                      (CIFAR-100); class names from batches.meta.txt /
//	                      *_label_names.txt when present. [3,32,32] uint8; official split.
//	csv                   see ParseCSV. [features] float32.
//	hdf5                  see package ml/data/hdf5.
//	images                see LoadImageFolder. [1 or 3,H,W] uint8.
//
// Sources without an official split get a ratio split (default 80/10/10,
// stratified, seed 0; see AssignSplits).
//
// # Cache
//
// Cache keeps prepared directories under a data directory, keyed by
// SHA-256 over the format name, the source files' names and contents
// (HashSources) and the options (Key). A hit is verified against its
// sha256 before use; a damaged entry is reported and rebuilt.
//
// # Lazy reading
//
// Open loads a dataset whose canonical file fits the memory budget and
// otherwise returns a Lazy reader that keeps labels and splits in memory
// and samples in a bounded LRU of file chunks.
//
// # Deterministic arithmetic
//
// Normalisation statistics are computed on the training split only, per
// channel (the first dim of a rank-3 shape, every feature of a rank-1 shape,
// the single channel of a rank-2 shape). For uint8 data sums are exact
// integers; for float32 data they are float64 sums in ascending sample and
// element order with no fused multiply-add. The normalised value is
// float32((float64(x) - mean) / std), with std = 1 where the channel is
// constant.
package data
