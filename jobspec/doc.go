// Package jobspec is the mapping from a chain job (a task's configuration
// and fold, x/pouwml/types) to exactly what the training engine runs: the
// model spec string, the TrainConfig, the seeds, and the training and
// held-out samples. Miners and verifiers both call it, so a verifier
// replays the very computation the miner did; any change here is a
// protocol change.
//
// # The rules, byte by byte
//
// Samples. The job's fold positions are those of data.CVPool(split) (every
// non-test sample, ascending index), with their labels; the test fold of
// each position is cv.TaskFolds(labels, folds, stratified, task.fold_seed,
// task.seed). The job of index j = config*folds + fold trains on the
// positions whose fold != fold and is measured on those whose fold ==
// fold, both in ascending dataset index. Engine sample i of the training
// set is TrainIdx[i]; the batch hash H(B_i) is over these engine positions
// (0..len(TrainIdx)-1), as ml.BatchHash defines. Inputs: uint8 samples
// become float32(float64(v)/255) (data.ToFloat32, ml/cv/engine); float32
// samples are used as stored.
//
// Seeds. With integers big-endian and fold_seed the 32 bytes on chain:
//
//	init seed  = BE64(SHA-256("pouw/jobspec/init/v1"  | fold_seed | task.seed u64 | task.id u64 | job u32)[0:8])
//	batch seed = BE64(SHA-256("pouw/jobspec/batch/v1" | fold_seed | task.seed u64 | task.id u64 | job u32)[0:8])
//
// The model is ml.NewModel(spec, init seed), so W_0 (and its hash) is a
// pure function of the task; TrainConfig.Seed is the batch seed (the
// engine's epoch permutation and dropout). Neither is known before the
// chain draws fold_seed.
//
// Model. The configuration's layers (types.proto, ModelConfig.layers) over
// a dataset of sample shape S and CLASSES classes become the spec string,
// with every number in decimal:
//
//	mlp [in, h..., out]                 mlp:in-h...-out (in = the product of S, out = CLASSES)
//	cnn [w, 2w, 4w, ...]                cnn:CxHxW-DEPTHxw-CLASSES, DEPTH = len(layers), S = [C,H,W]
//	resnet [BLOCK, WIDTH, D1, ..., Dn]  resnet:CxHxW-basic|bottleneck-D1.D2...Dn-WIDTH-CLASSES
//	                                    (BLOCK 1 basic, 2 bottleneck; the engine's default stem)
//	transformer [L, D, H, V, R, F]      transformer:SEQ-V-LxDxH-CLASSES[,mlp=R][,pos=sin][,causal][,head=last]
//	                                    (S = [SEQ]; R and F optional, 4 and 0; F bit 0 causal,
//	                                    bit 1 pos=sin, bit 2 head=last)
//	vit [P, L, D, H, R]                 vit:CxHxW-P-LxDxH-CLASSES[,mlp=R] (S = [C,H,W]; R optional, 4)
//
// Options come in the order shown and only when they differ from the
// engine's default (",mlp=4" is never written), so one model has one spec
// string. A layout the engine cannot build (a cnn block that does not
// double, an invalid resnet, transformer or vit encoding, an unknown
// architecture) is ErrUnsupported: a miner skips such jobs; a configuration
// that does not fit the dataset (types.ModelParams fails) is ErrMismatch.
// ml.NewModel(spec, seed).NumParams() equals types.ModelParams, which the
// chain bounds by max_model_params.
//
// TrainConfig. Optimizer sgd/adam/adamw; LR, Momentum, WeightDecay =
// float32(float64(x_e9) / 1e9) (IEEE, the same on every machine); Adam
// betas 0.9/0.999 and eps 1e-8 (ml.DefaultTrainConfig); BatchSize and
// Epochs as configured; Steps 0. Precision FP32 (or unspecified), BF16 or
// FP16 maps to ml's storage precision.
//
// Protocol conversions. DigestChain is the one conversion of the engine's
// steps to the version 2 work digests (the commitment link, each step's
// samples read in place, the chained digests: what a miner draws tickets
// on and a verifier recomputes); HeldOutMetrics measures a model on the job's
// held-out fold in ppm (what a miner claims and a verifier re-measures).
// Both daemons take them from here, so neither depends on the other.
//
// It must never read the clock, the network or any local setting: the
// output is a function of chain records and the dataset bytes only.
//
// Preparer is Prepare with the last few folds' gathered datasets kept and
// shared (a verifier checks many proofs of the same jobs; every
// configuration of a task trains on the same folds): the same Jobs, a
// copy of the dataset less per call.
package jobspec
