//go:build (!amd64 && !arm64) || purego

package cpu

// Kernels lists the assembly kernels this build can run: none here (another
// architecture or the purego tag); the pure-Go kernel is used.
func Kernels() []string { return nil }

func kernelByName(string) *microKernel { return nil }

func bestKernel() *microKernel { return nil }

func narrowKernel() *microKernel { return nil }

func transpose16(dst []float32, ldd int, src []float32, lds int) bool { return false }
