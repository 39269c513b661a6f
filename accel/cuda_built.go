//go:build cuda

package accel

// CUDABuilt reports whether this binary was built with the cuda tag (and so
// contains the CUDA backend, accel/cuda).
const CUDABuilt = true
