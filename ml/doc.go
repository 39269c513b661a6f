// Package ml is pouwd's training engine: float32 tensors on an
// accel.Backend, a tape autograd, layers, MLP, CNN, ResNet, Transformer
// and ViT models built from a spec string (ParseSpec holds the grammar:
// mlp:IN-...-OUT, cnn:CxHxW-DEPTHxWIDTH-CLASSES, resnet:CxHxW-PRESET-CLASSES
// and resnet:CxHxW-basic|bottleneck-D1.D2...-WIDTH-CLASSES, with ",width=M"
// width multipliers, transformer:SEQ-VOCAB-LAYERSxDIMxHEADS-CLASSES and
// vit:CxHxW-PATCH-LAYERSxDIMxHEADS-CLASSES; Residual in graph.go is the
// two-path block and documents the order gradients accumulate in;
// attention.go defines multi-head attention's canonical softmax;
// Model.SetRecompute in recompute.go trades compute for activation memory
// with the same bits), optimizers, mixed precision,
// micro-batches over several devices, canonical SHA-256 hashes of weights,
// gradients, batches and optimizer state, checkpoints and a deterministic
// training loop. Miners train with it and verifiers replay its steps, so
// every operation computes canonical bits (accel/canon, accel/cpu): the
// same on every machine, thread count, device count and kernel.
//
// The entry points: NewModel(spec, seed); NewTrainer(model, dataset,
// TrainConfig, backend) (it validates the config and the dataset) and
// Trainer.Run or Trainer.Step, whose hook sees every step: by default
// with four version 1 fingerprints in StepInfo (SHA-256 of W_i, B_i, G_i,
// W_{i+1}: tests and debugging), in sampled mode (Trainer.SampledSteps,
// the work proof's) with StepInfo.Samples reading the step's pouw/v2
// samples in place; Evaluate, Predict and Logits (fp32 inference);
// WeightsHash and OptimizerHash, the commitments' state hashes
// (pouw/statehash, every core), and the v1 HashTensors, GradsHash,
// BatchHash; Trainer.SaveCheckpoint, ReadCheckpoint / ParseCheckpoint
// (format 2: framing trailer and header state hashes checked, one pass;
// format 1 still read) and ResumeTrainer, which continues bit for bit;
// Estimate and EstimateModel (estimate.go), the predicted peak memory of a
// training step (weights, gradients, optimizer state, activations and
// their gradients, workspaces; Model.EstimateMemory is its fp32 shorthand)
// for the memory budget, and ActivationBytes, the activations a device
// backend would store.
//
// Profiling (profile.go): Trainer.SetProfiler(NewProfiler()) times every
// operation of the steps by kind (gemm, conv, attention, norm,
// elementwise, pool, embedding, loss, optimizer, digest, data; "other" is
// the rest of the step) with forward, backward and recomputed time,
// estimates the bytes each moves and takes FLOPs from Model.FLOPs' rules;
// Profiler.Report (totals) and LastStep return a JSON-tagged Profile with
// shares of step time and GFLOP/s against the backend's GEMM rate
// (MeasureGEMM, Profiler.MeasurePeak). Layers are timed by Ctx.forward and
// the backward closures Ctx.record wraps, each device of SetDevices on an
// accumulator of its own merged when the step ends. It reads clocks and
// shapes only, so it never changes a bit; off (the default) it costs a
// nil check per layer.
//
// Invariants:
//
//   - Every float operation is canonical: a product that feeds an addition
//     is rounded on its own (float32(a*b)) or is an exact FMA inside the
//     backend's GEMM; reductions use canon.Sum or a documented sequential
//     chain; random numbers come from the SHA-256-keyed generator in rng.go,
//     keyed by seed, purpose and index.
//   - TrainConfig.Precision and MicroBatch are part of the computation: they
//     are in the config, so in every checkpoint and in what the work digest
//     binds. A half-precision step is the fp32 step with fixed roundings;
//     the micro-batch gradient reduction is a fixed pairwise tree over the
//     micro-batch index, so 1, 2 or 4 devices give the same bits. The exact
//     rules are in docs/ARCHITECTURE.md ("Canonical arithmetic").
//   - The fp16 loss scaler's state is the last optimizer state tensor, so
//     checkpoints resume it and OptimizerHash binds it.
//   - A Model is not safe for concurrent use (layers reuse their output
//     buffers): one model per goroutine; two models from the same spec and
//     seed are identical.
//
// This package must never call non-canonical math (math.Exp, math.Log, ...;
// use accel/canon), iterate over maps where order reaches the numbers, use
// goroutines whose scheduling reaches the numbers, or import cgo packages,
// the chain module or the network. (The micro-batch goroutines of
// SetDevices write disjoint buffers; their results are combined in a fixed
// order, so scheduling never reaches the numbers.)
package ml
