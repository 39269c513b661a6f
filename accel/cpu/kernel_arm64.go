//go:build arm64 && !purego

package cpu

//go:noescape
func fmaAccNEON(acc *float32, b *float32, n int, a float32)

// neonAxpy is the arm64 row kernel: acc[j] = FMA32(a, b[j], acc[j]).
func neonAxpy(acc []float32, a float32, b []float32) {
	if len(acc) == 0 {
		return
	}
	b = b[:len(acc)]
	fmaAccNEON(&acc[0], &b[0], len(acc), a)
}

// Kernels lists the assembly kernels this machine can run: the NEON row
// kernel (FMLA) used by the row-wise GEMM.
func Kernels() []string { return []string{"neon"} }

func kernelByName(name string) *microKernel {
	if name == "neon" {
		return &microKernel{name: "neon", axpy: neonAxpy}
	}
	return nil
}

func bestKernel() *microKernel { return kernelByName("neon") }

func narrowKernel() *microKernel { return nil }

func transpose16(dst []float32, ldd int, src []float32, lds int) bool { return false }
