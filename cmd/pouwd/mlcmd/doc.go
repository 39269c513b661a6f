// Package mlcmd is the `pouwd ml` command group: `devices` (CPU and GPU
// detection), `train` (train a model on MNIST with canonical arithmetic,
// with progress, checkpoints and a JSON summary; --recompute for gradient
// checkpointing; --profile for the operation profile, --report FILE for a
// run report, trainreport.go), `eval` (measure a saved checkpoint),
// `estimate` (the memory a training step of a model needs, ml.Estimate;
// with --device gpu a run resident on a GPU, ml.EstimateDevice)
// and `report` (print a run report, draw it with --plot; monitor/report).
// train refuses a
// run whose estimate (ml.EstimateTraining) exceeds --memory-fraction of the
// machine's memory before it starts. The root command mounts NewCommand.
//
// train's --precision (fp32, bf16, fp16) and --micro-batch are part of the
// computation (they are in the checkpoint's config); --device (auto, cpu,
// cpu:N for N CPU devices data parallel over micro-batches, gpu:N or
// gpu:all in CUDA builds, resident there where the model has a device
// path, ml/devtrain: gpu:all with --micro-batch spreads the micro-batches
// over every GPU), --threads and --kernel never change a bit.
//
// This package must never import the Cosmos SDK or the chain module: it is
// a thin layer over accel and ml and must build fast.
package mlcmd
