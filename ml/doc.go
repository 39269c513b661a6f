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
// This package must never call non-canonical math (math.Exp, math.Log, ...;
// use accel/canon), iterate over maps where order reaches the numbers, use
// goroutines whose scheduling reaches the numbers, or import cgo packages,
// the chain module or the network.
package ml
