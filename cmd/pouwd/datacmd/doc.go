// Package datacmd holds pouwd's dataset and cross-validation commands:
// `pouwd data prepare|info` (NewCommand) and `pouwd ml cv` (NewCVCommand).
// It parses flags, calls ml/data, ml/data/hdf5, ml/cv and ml/cv/engine,
// and prints tables, JSON and plots.
//
// It must never import the Cosmos SDK or the chain module (so it builds in
// seconds), never compute anything the library packages should own (fold
// rules, hashes, metrics), and never write a partial output: datasets
// appear by rename, plots are written to a temporary file first.
package datacmd
