// Package accel is the boundary between pouwd's training engine and the
// hardware it runs on: the Backend interface every compute backend
// implements (the CPU backend in accel/cpu; the CUDA backend in accel/cuda,
// behind the cuda build tag), device detection (CPU features and cores;
// NVIDIA GPUs through a GPUProber such as accel/nvml; CUDABuilt says whether
// the binary has the CUDA backend) and the memory budget that refuses a
// model and batch that will not fit before training starts.
//
// Canonical arithmetic is defined in accel/canon; every Backend must compute
// exactly those bits, whatever its thread count or device.
//
// This package must never import cgo code (NVML lives in the leaf package
// accel/nvml so the engine builds with CGO_ENABLED=0 for any GOARCH), never
// pick a kernel that changes result bits, and never be imported by consensus
// code (x/pouwml).
package accel
