//go:build !cuda && !cudaemu

package cuda

import "github.com/pouw/pouwd/accel"

// Built reports whether this binary contains the CUDA backend.
const Built = false

// OpenOrCPU returns the CPU backend: this binary was built without the cuda
// tag. The message is "built without cuda; training on CPU".
func OpenOrCPU(index int, o Options) (accel.Backend, string, error) {
	return cpuFallback(o, ErrNotBuilt)
}
