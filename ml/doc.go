// Package ml is pouwd's training engine: float32 tensors, a tape autograd,
// layers, MLP and CNN models, optimizers, canonical serialisation with
// SHA-256, verified checkpoints and a deterministic training loop. Miners
// train with it and verifiers replay its steps, so every operation computes
// canonical bits (see accel/canon and accel/cpu): the same on every machine,
// thread count and kernel.
//
// # Public API
//
// Build a model from a spec string (seeded initialisation):
//
//	m, err := ml.NewModel("mlp:784-256-10", 1)           // ReLU MLP, any sizes
//	m, err := ml.NewModel("cnn:1x28x28-2x16-10", 1)      // 2 conv blocks, width 16
//
// Spec grammar (ParseSpec):
//
//	mlp:IN-H1-...-OUT[,act=relu|gelu|tanh][,dropout=P][,norm=batch|layer]
//	cnn:CxHxW-DEPTHxWIDTH-CLASSES[,bn][,pool=max|avg][,fc=HIDDEN][,dropout=P]
//
// A CNN block i (0-based) is conv3x3 (padding 1) with WIDTH*2^i channels,
// optional BatchNorm, ReLU and a 2x2 pool; then an optional hidden Linear
// layer and the classifier.
//
// Train on in-memory samples (row-major float32, one row per sample) and
// int labels:
//
//	ds := ml.Dataset{X: x, Y: y, N: n, Shape: []int{1, 28, 28}, Classes: 10}
//	cfg := ml.DefaultTrainConfig()      // sgd, lr 0.1, batch 64, 1 epoch, seed 1
//	cfg.Optimizer, cfg.LR = "adamw", 1e-3
//	be, _ := cpu.New(cpu.Options{Threads: 2})
//	tr, err := ml.NewTrainer(m, ds, cfg, be)
//	res, err := tr.Run(ctx, func(s ml.StepInfo) error { ...; return nil })
//	ev, err := ml.Evaluate(m, testDS, be, 1000)   // ev.Accuracy, ev.Loss
//	classes, err := m.Predict(be, x, n)           // argmax per sample
//	logits, err := m.Logits(be, x, n)
//	bytes := m.EstimateMemory(batch, tr.Opt.Slots()) // for accel.Budget.Check
//
// Validate configs with TrainConfig.Validate and datasets with
// Dataset.Validate (NewTrainer does both). Optimizers: "sgd" (with
// Momentum, WeightDecay), "adam", "adamw" (Beta1, Beta2, Eps, WeightDecay).
//
// A Model is not safe for concurrent use: layers reuse their output buffers
// from one forward pass to the next. Use one model per goroutine (two
// models built from the same spec and seed are identical).
//
// The hook (nil for none) sees every step with the hashes of the work proof:
// H(W_i) (StepInfo.WeightsBefore), H(B_i) (Batch), H(G_i) (Grads) and
// H(W_{i+1}) (WeightsAfter). Step lets callers drive the loop one step at a
// time.
//
// Hashes and checkpoints:
//
//	ml.WeightsHash(m)                   // SHA-256 of parameters and buffers
//	tr.SaveCheckpoint(w)                // model + optimizer + loop position
//	ck, err := ml.ReadCheckpoint(r, 0)  // verifies magic, version and SHA-256
//	m, err := ck.Model()                // rebuilds the model, checks shapes
//	tr, err := ml.ResumeTrainer(ck, ds, be) // continues bit for bit
//
// Mixed precision, micro-batches and several devices:
//
//	cfg.Precision = "bf16"                 // or "fp16" (dynamic loss scaling); "" = fp32
//	cfg.MicroBatch = 16                    // 0: the whole batch at once
//	tr, err := ml.NewTrainer(m, ds, cfg, be)
//	err = tr.SetDevices(be0, be1, be2, be3) // data parallel; never changes a bit
//	scale, skipped := tr.LossScale()        // fp16: current scale, steps skipped
//	n, err := ml.ActivationBytes(m, 64, "bf16") // activation memory held for backward
//
// Tensors are hashed as SHA-256 over a domain string and, for each tensor in
// the model's fixed parameter order, its name, shape and little-endian
// float32 data (see HashTensors). A batch is hashed as its sample indices
// (uint64 little-endian, in batch order).
//
// # Determinism rules
//
// Every float operation here is canonical: products that feed additions are
// rounded on their own (float32(a*b)) or are exact FMAs inside the backend's
// GEMM; reductions use canon.Sum or a documented sequential chain; random
// numbers come from the SHA-256-keyed SplitMix64 generator in rng.go, keyed
// by seed, purpose and index, never from math/rand or the clock.
//
// # Mixed precision
//
// TrainConfig.Precision is part of the computation (it is in the config,
// so in every checkpoint and in the job the work digest binds); "" is
// fp32 (NewTrainer stores "fp32" as "", so a computation has one
// encoding, and configs without the field encode as before). In "bf16"
// and "fp16" a training step is the fp32 step with these roundings
// (canon.RoundBF16 / canon.RoundFP16: round to nearest even, canonical
// NaN, IEEE overflow), everything else unchanged:
//
//   - the weights the pass reads are half copies of the fp32 master
//     weights, rounded at the start of the step (trainable parameters; the
//     batch-norm running statistics stay fp32);
//   - the input batch and every layer's output are rounded (Flatten and
//     ReLU are skipped: they map half values to half values, so rounding
//     changes no bit);
//   - the gradient of every layer output is rounded once its consumer's
//     backward has produced it, before the layer's own backward reads it;
//   - GEMMs and every other kernel compute in fp32 on these values
//     (canonical chains, as in fp32); parameter gradients, the loss and
//     the optimizer (on the master weights) are fp32.
//
// fp16 uses dynamic loss scaling (bf16 has fp32's range and does not):
// backward is seeded with the scale S instead of 1; the gradients are then
// multiplied by 1/S; if any is not finite the step is skipped (the
// optimizer does not run, the step and its batch count, StepInfo.Skipped
// is set, every NaN in the hashed gradients is the canonical 0x7fc00000)
// and S halves (not below 1); after LossScaleWindow (default 2000)
// consecutive finite steps S doubles (not above 2^24). S starts at 2^16.
// The scaler state (S, good steps, skipped steps) is the last optimizer
// state tensor, "amp.loss_scale", so checkpoints resume it exactly and
// OptimizerHash binds it.
//
// Evaluate, Predict and Logits run fp32 inference on the master weights.
// ActivationBytes reports the activation memory a step holds for backward
// at a precision (MNIST MLP 784-256-10: 1.98x less in bf16 than in fp32;
// CNN 1x28x28-2x8-10: 1.87x); the CPU engine keeps half values in float32
// slices, so the saving is that of a 2-byte store (a device backend's).
//
// # Micro-batches and devices
//
// With TrainConfig.MicroBatch = b > 0 (a divisor of BatchSize B; part of
// the computation like the precision) the batch of a step is split into
// M = B/b consecutive micro-batches. Micro-batch j (samples j·b to
// (j+1)·b-1 of the batch) runs forward, its mean loss and backward on its
// own, giving gradients g_j; the step's gradient is
//
//	G = T(g_0, ..., g_{M-1}) / M      (float32 division; none when M = 1)
//
// where T is the fixed pairwise tree over the micro-batch index: level s =
// 1, 2, 4, ... adds g_{j+s} into g_j for j = 0, 2s, 4s, ... (4 micro-batches:
// (g_0+g_1)+(g_2+g_3); 3: (g_0+g_1)+g_2). The loss is the same tree over
// the micro-batch losses, / M. The tree depends on M only, never on which
// device computes which micro-batch or when it finishes.
//
// Batch norm uses ghost-batch statistics: each micro-batch normalises with
// its own mean and variance, and the running statistics take the update
// of each micro-batch in micro-batch order, r = float32((1-mom)·r) +
// float32(mom·stat_j), j = 0..M-1. Dropout masks are those of the whole
// batch (micro-batch j continues the step's stream at its first sample).
// In half precision each micro-batch is a half-precision pass as above
// (with the loss scale as its seed) and G is unscaled after the division.
// MicroBatch = BatchSize is bit for bit the whole-batch step.
//
// Trainer.SetDevices(b_0, ..., b_{D-1}) runs micro-batch j on device
// j mod D, each device with its own model replica reading the shared
// weights, concurrently; the reduction starts when all are done. 1, 2 or 4
// devices (and any thread counts) give the same bits. Several devices
// need MicroBatch > 0.
//
// This package must never call non-canonical math (math.Exp, math.Log, ...;
// use accel/canon), iterate over maps where order reaches the numbers, use
// goroutines whose scheduling reaches the numbers, or import cgo packages,
// the chain module or the network. (The micro-batch goroutines of
// SetDevices write disjoint buffers; their results are combined in the
// fixed order above, so scheduling never reaches the numbers.)
package ml
