// Package mlcmd is the `pouwd ml` command group: `devices` (CPU and GPU
// detection), `train` (train a model on MNIST with canonical arithmetic,
// with progress, checkpoints and a JSON summary) and `eval` (measure a
// saved checkpoint). The root command mounts NewCommand.
//
// This package must never import the Cosmos SDK or the chain module: it is
// a thin layer over accel and ml and must build fast.
package mlcmd
