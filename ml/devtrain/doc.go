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
// What runs resident today: MLPs and CNNs (Linear, Conv2d with bias, max
// and average pooling, Flatten, relu, gelu, tanh) with sgd (momentum,
// weight decay), adam and adamw in fp32 without micro-batches. New returns
// an error wrapping ErrUnsupported, naming the first layer or setting it
// cannot place; Place then leaves the run on the host path (with the
// GPU's GEMM). Normalisation, dropout, residual blocks and attention have
// device kernels in accel/cuda already and are the next stages to place
// here (docs/ARCHITECTURE.md, "Acceleration", maps each layer to them).
//
// Without the cuda or cudaemu tag New returns an error saying so.
package devtrain
