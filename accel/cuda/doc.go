// Package cuda is pouwd's CUDA backend: accel.Backend's canonical GEMM on an
// NVIDIA GPU with exactly the bits of accel/cpu, device buffers, and device
// kernels for the other canonical operations of the engine (accel/canon's
// transcendental functions and tree sums, and the elementwise, loss, layer
// and optimizer arithmetic of package ml), all bit-identical to the Go code.
//
// Files: kernels/*.cu (our CUDA C; coef.cuh is generated from accel/canon by
// TestCoefHeader -update) and their committed, embedded PTX
// (scripts/cuda-ptx.sh makes and checks it); kernels.go, options.go and
// notbuilt.go build without tags; backend.go, ops.go, norm.go, transformer.go
// and digest.go need the cuda or cudaemu tag. transformer.go with
// kernels/transformer.cu holds the Transformer's own operations (attention
// softmax and its backward, token pooling, patch tokens, positions and
// canon.SinCos32's sinusoidal table); transformer_test.go checks them, and
// the LayerNorm and GELU a Transformer uses, against package ml itself
// (an external test package, so ml never sits below accel/cuda). digest.go with kernels/digest.cu
// (integer-only) computes on the device the sampled values of the version 2
// work digest (SampleValues, pouw.SamplePositions) and the BLAKE3 leaves of
// the state hash (StateHash, pouw/statehash), so only those bytes cross to
// the host, which hashes them as the CPU path does; driver.go is the small
// driver interface, driver_cu.go and guard_cuda.c the real one
// (gorgonia.org/cu, driver API, links only libcuda.so.1), driver_emu.go with
// emu.cc a host emulator of the same kernels (tag cudaemu); telemetry_*.go
// read the opened GPU's NVML telemetry and nocgo.go turns the tags without
// cgo into a clear compile error. Build and test commands, the cuInit guard
// and how ml drives the device are in docs/ARCHITECTURE.md ("Acceleration").
//
// Invariants:
//
//   - gorgonia.org/cu exits the process from its init when cuInit fails;
//     this package links with -Wl,--wrap=cuInit so that failure becomes
//     ErrNoGPU from Open, and OpenOrCPU falls back to the CPU backend with
//     a message. Any binary that imports gorgonia.org/cu must import this
//     package; nothing else imports cu.
//   - Every float operation in the kernels is an explicitly rounded
//     intrinsic and nvcc runs without contraction, approximation or
//     flush-to-zero; tests check the PTX for it. The GEMM computes each
//     output as one thread's FMA chain over p in order, never split; tiled
//     kernels differ only in speed.
//   - NaN payloads are not canonical on the device: treat a non-finite loss
//     or weight as a failed job before hashing anything.
//   - All device memory comes from one allocator limited by an
//     accel.Budget; a request over it fails with accel.ErrOverBudget.
//
// This package must never launch a kernel that has not been checked bit for
// bit against the Go code, never use cuBLAS, cuDNN, tensor cores or
// split-k, never let nvcc contract or approximate, and never be imported
// by consensus code (x/pouwml).
package cuda
