// Package devtrain keeps a training run resident on a CUDA device: the
// model's weights, the batch's activations and their gradients, and the
// optimizer's slots live in accel/cuda buffers, and a whole step (forward,
// softmax cross-entropy, backward, the optimizer) runs as device kernels.
// Per step only the batch goes up and the loss (4 bytes) comes down; the
// work digest's samples are gathered on the device (cuda.SampleValues),
// and the state comes back to the host only where the host must read it
// (a commitment's checkpoint, a saved checkpoint, the end of a run).
//
// It implements ml.Resident, which ml.Trainer drives (Trainer.SetResident):
// the trainer keeps the loop's position, the batch order and the
// optimizer's scalars, so checkpoints, commitments and hooks are the same
// code on both paths. Every kernel it launches is one accel/cuda has
// checked bit for bit against package ml's Go, and each step composes
// them exactly as ml's layers do, so a resident run gives the host's
// digests; tests in this package compare the two step by step (on the
// host emulator with -tags cudaemu, on a GPU with -tags cuda).
//
// What runs resident today: every model family ml.NewModel builds, in
// fp32, whole batches or micro-batches (TrainConfig.MicroBatch), on one
// device or several (NewDevices), with sgd (momentum, weight decay), adam
// and adamw:
//
//   - MLPs and CNNs: Linear, Conv2d, max and average pooling, Flatten,
//     relu, gelu, tanh, BatchNorm and LayerNorm (norm=, bn), Dropout
//     (stages.go, resnet.go);
//   - ResNets (resnet.go): residual blocks (basic and bottleneck, identity
//     and projection shortcuts), BatchNorm in training with its running
//     statistics (buffers), bias-free convolutions, the imagenet stem's
//     padded max pool, global average pooling;
//   - Transformers and ViTs (transformer.go): the token embedding,
//     learned and sinusoidal positions, causal and full multi-head
//     attention (per-sample, per-head GEMMs on buffer views with ml's
//     leading dimensions), LayerNorm, per-token Linear layers, plain
//     residual blocks, mean and last-token pooling, the ViT's patch
//     embedding and patch tokens, dropout (masks drawn on the host from
//     ml's stream and uploaded).
//
// A step is a list of stages in ml's forward order, each with its own
// buffers, forward and backward; a tensor used twice (a residual block's
// input) receives its gradients in ml/graph.go's order, and where ml
// writes a fresh gradient rather than clearing it and adding (a sign of
// zero apart) the stage does the same (stages.go). New returns an error
// wrapping ErrUnsupported, naming the first layer or setting it cannot
// place (half precision, several devices without micro-batches, a layer
// ml's grammar does not make); Place then leaves the run on the host path
// (with the GPU's GEMM), as PlaceDevices does for a mix of GPU and CPU
// devices.
//
// Micro-batches and several devices (reduce.go): each pass is one
// micro-batch, and the step's gradient and loss are ml's reduction of
// theirs (ml/parallel.go): the pairwise tree over the micro-batch index,
// built on device 0 as a binary counter (at most bits.Len(M+1)-1 partial
// sums held, one more with several devices), then / M. With D devices a
// replica on each runs micro-batches d, d+D, ... concurrently; each
// gradient joins the tree on device 0 in micro-batch order (through the
// host), BatchNorm's running statistics are applied there in order from
// each pass's mean and variance, device 0 runs the optimizer and the new
// weights go to the other replicas. The device count changes no bit.
// The memory New checks against the device's budget counts every buffer,
// the most a kernel allocates for itself while it runs and, on device 0,
// the argument block the work digest's gather allocates at a sampled step
// (ml.EstimateDevices predicts each device's figure). A resident run
// keeps every activation for backward: Model.SetRecompute (a host-path
// memory saving that changes no bit) does not apply to it.
//
// Without the cuda or cudaemu tag New returns an error saying so.
package devtrain
