//go:build (cuda || cudaemu) && !cgo

package cuda

// The cuda and cudaemu build tags need cgo (the CUDA driver API, or the
// emulator's C++ kernels): build with CGO_ENABLED=1 and a C compiler.
var _ = cuda_and_cudaemu_tags_need_cgo_set_CGO_ENABLED_1
