// Package cuda is pouwd's CUDA backend: accel.Backend's canonical GEMM on an
// NVIDIA GPU with exactly the bits of accel/cpu, device buffers, and device
// kernels for the other canonical operations of the engine (accel/canon's
// transcendental functions and tree sums, and the elementwise, loss, layer
// and optimizer arithmetic of package ml), all bit-identical to the Go code.
//
// # Layout
//
//	kernels/*.cu, *.cuh  our CUDA C (no cuBLAS, no CUDA runtime); coef.cuh is
//	                     generated from accel/canon (TestCoefHeader -update)
//	kernels/*.ptx        their PTX (nvcc 11.8, -arch=compute_80, IEEE flags),
//	                     made by scripts/cuda-ptx.sh, committed, go:embed-ded
//	kernels.go           the embedded PTX and the kernel names the Go code
//	                     launches (untagged: its tests run in every build)
//	options.go           Options, ErrNoGPU, ErrNotBuilt (untagged)
//	notbuilt.go          OpenOrCPU without the backend (no cuda tag)
//	backend.go, ops.go,  Backend, Open, OpenOrCPU, the budgeted allocator,
//	norm.go              Gemm, GemmDevice and the device operations
//	                     (build tags cuda or cudaemu)
//	driver.go            the small interface the backend needs from CUDA
//	driver_cu.go,        the real driver: gorgonia.org/cu (driver API, links
//	guard_cuda.c         libcuda.so.1 only) and the cuInit guard (tag cuda)
//	driver_emu.go,       a host emulator of the same kernels (tag cudaemu)
//	emu.cc, emu.h
//	telemetry_*.go       NVML telemetry of the opened GPU (accel/nvml)
//	nocgo.go             a clear compile error for the tags without cgo
//
// # Building
//
// The cuda tag needs cgo, cuda.h and libcuda.so at link time: on Debian
// bookworm enable contrib and non-free and install nvidia-cuda-toolkit
// (CUDA 11.8; it also gives nvcc for scripts/cuda-ptx.sh). The binary links
// only libcuda.so.1 (the driver API) and carries the PTX, which the driver
// JIT-compiles for the GPU at hand, so a binary built on a machine without
// a GPU runs on any machine whose driver supports PTX ISA 7.8 (CUDA 11.8 or
// newer drivers; compute capability 8.0 or newer: A100, H100, H200...).
//
//	go build -tags cuda ./...                    the real backend
//	go test -tags cuda ./accel/cuda/             skips device tests without a GPU
//	go test -tags cudaemu ./accel/cuda/          every device test, on the emulator
//	scripts/cuda-ptx.sh [--check]                regenerate / verify the PTX
//	scripts/gpu-build.sh; scripts/gpu-check.sh   test binary here, run it on a GPU
//
// # No GPU: the cuInit guard
//
// gorgonia.org/cu calls cuInit in its package init and calls os.Exit(1) when
// it fails, before main or any test runs, and Go cannot import a package
// lazily. This package therefore links with -Wl,--wrap=cuInit (in
// driver_cu.go's cgo flags): every reference to cuInit in the binary, cu's
// included, resolves to __wrap_cuInit in guard_cuda.c, which calls the real
// cuInit, records its result and returns success. cu's init then returns
// normally; Open reports the recorded failure as an error wrapping ErrNoGPU
// ("cuInit failed: CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is
// detected") and OpenOrCPU returns the CPU backend with that message plus
// "; training on CPU". TestCuInitGuard fails if the wrap was not applied.
// Any binary that imports gorgonia.org/cu must also import this package (do
// not import cu elsewhere).
//
// What a binary does, by machine:
//
//   - built without the cuda tag: never contains cu; OpenOrCPU says "built
//     without cuda; training on CPU", and accel.Detect says the same when
//     NVML finds a GPU.
//   - cuda tag, driver and GPU: Open works.
//   - cuda tag, driver library but no usable GPU (no device, no kernel
//     module, a container without /dev/nvidia*): Open fails with ErrNoGPU;
//     the process keeps running and can train on the CPU.
//   - cuda tag, no driver library at all: the dynamic loader refuses to start
//     the binary ("error while loading shared libraries: libcuda.so.1"),
//     before any Go code runs. Ship the default build to such machines;
//     scripts/gpu-check.sh checks for libcuda.so.1 first.
//
// # Canonical arithmetic on the device
//
// Every float operation in the kernels is an explicitly rounded intrinsic
// (__fadd_rn, __fmul_rn, __fmaf_rn, __dadd_rn, __dmul_rn, __ddiv_rn,
// __fsqrt_rn, __double2float_rn) and nvcc runs with -fmad=false
// --prec-div=true --prec-sqrt=true --ftz=false, so nothing is contracted,
// reordered, approximated or flushed. Tests check the PTX: only .rn
// instructions, no .ftz/.approx/tensor-core/TF32 instructions, fma.f32 only
// in the GEMM, and every accel/canon coefficient present as its exact
// float64 immediate.
//
// The GEMM computes each C[i,j] as one thread's FMA chain over p = 0..k-1
// from +0, in order, never split over p; tiled kernels (128x128, 64x64 and
// 32x32 output tiles per 256-thread block, staged through shared memory)
// differ only in speed and run exactly k steps (a padded step fma(0,0,-0)
// would turn a -0 result into +0; TestGemmSignedZero checks that).
// accel/canon's Exp32, Log32, Tanh32 and Erf32 are ported operation by
// operation (float64 Horner with every product rounded, one final rounding),
// and canon.Sum's tree is reproduced exactly (kernels/reduce.cu explains
// how), so reductions give canon's bits for every length.
//
// NaN payloads are not canonical: a NaN computed by GPU arithmetic is the
// canonical 0x7fffffff while x86 propagates an operand's payload. Inputs
// that are NaN are passed through unchanged as in Go. Treat a non-finite
// loss or weight as a failed job before hashing anything.
//
// # Memory budget
//
// All device memory of a Backend comes from its allocator, limited to
// Options.BudgetFraction (default accel.DefaultBudgetFraction, 0.8) of the
// device memory free at Open (an accel.Budget). A request over the budget
// fails with an error wrapping accel.ErrOverBudget naming the requested,
// in-use and budget bytes; Gemm on host slices panics with it, or runs on
// the CPU backend (same bits) when Options.FallbackCPU is set. Check the
// model and batch against Backend.Budget() before training, as ml does
// with accel.CPUBudget.
//
// # How ml uses it
//
// Drop-in: open the backend with OpenOrCPU (print the message when it is
// not empty) and pass it wherever an accel.Backend goes. Every Gemm then
// runs on the GPU, with the operands copied over and the product copied
// back; everything else stays on the host. Results are bit-identical to a
// CPU run, so a GPU miner and a CPU verifier agree.
//
// Device-resident (fast): keep parameters, activations and gradients in
// Buffers and call the Backend's methods instead of the Go loops. Without
// changing ml's untagged code, put this in ml files tagged
// "//go:build cuda || cudaemu" that discover the backend with
// c.Backend.(*cuda.Backend). The correspondence, one method per Go loop:
//
//	Linear          GemmDevice; AddBiasRows; ColSum (db, fresh) or ColSum
//	                into a temporary + Add (accumulating)
//	relu            ReLUMask (forward, fresh backward); ReLUBackwardAcc
//	gelu / tanh     GELU, Tanh; GELUBackwardAcc, TanhBackwardAcc
//	Dropout         mask drawn on the host (ml's RNG); DropoutForward;
//	                MulAcc(dx, dy, mask)
//	cross-entropy   SoftmaxXentForward; SumRows(loss)/float32(n) on the
//	                host; SoftmaxXentBackward with g = float32(grad/n)
//	Conv2d          Im2col; GemmDevice; CNHWToNCHWBias; NCHWToCNHW (dout);
//	                GemmDevice (dW, dcol); RowSumAcc (db); Col2imAcc
//	Pool2d          Pool2dForward; Pool2dBackward
//	BatchNorm,      NormForward, NormBackward with BatchNormGeom or
//	LayerNorm       LayerNormGeom (or the primitives they are made of)
//	addTo           Add
//	SGD             SGD, SGDMomentum, SGDWeightDecay
//	Adam, AdamW     Adam with NewAdamStep(...) from ml's running β powers
//	Embedding       stays on the host (gather/scatter by id)
//
// "Acc" methods add into an existing gradient; where ml writes a fresh
// gradient by clearing it first, Zero the buffer first (0 + x is what ml
// computes). Buffers hold float32 or int32 (labels, pooling indices); a
// Download or Sync waits for the kernels and reports their errors. ml's
// golden vectors then hold for both paths; tests/benchmarks for a GPU
// machine are built with scripts/gpu-build.sh.
//
// This package must never launch a kernel that has not been checked bit for
// bit against the Go code, never use cuBLAS, cuDNN, tensor cores or
// split-k, never let nvcc contract or approximate, and never be imported
// by consensus code (x/pouwml).
package cuda
