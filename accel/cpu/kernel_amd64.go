//go:build amd64 && !purego

package cpu

import "golang.org/x/sys/cpu"

//go:generate sh -c "python3 gen_kernels.py > kernel_amd64.s"

//go:noescape
func kernAVX512(kc int, a, b, c *float32, ldb, ldc int, accum bool)

//go:noescape
func kernAVX2(kc int, a, b, c *float32, ldb, ldc int, accum bool)

var (
	avx512 = &microKernel{name: "avx512", mr: 8, nr: 48, fn: kernAVX512}
	avx2   = &microKernel{name: "avx2", mr: 6, nr: 16, fn: kernAVX2}
)

func hasAVX512() bool { return cpu.X86.HasAVX512F && cpu.X86.HasFMA }
func hasAVX2() bool   { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// Kernels lists the assembly kernels this machine can run, fastest first.
func Kernels() []string {
	var ks []string
	if hasAVX512() {
		ks = append(ks, "avx512")
	}
	if hasAVX2() {
		ks = append(ks, "avx2")
	}
	return ks
}

func kernelByName(name string) *microKernel {
	switch {
	case name == "avx512" && hasAVX512():
		return avx512
	case name == "avx2" && hasAVX2():
		return avx2
	}
	return nil
}

func bestKernel() *microKernel {
	if ks := Kernels(); len(ks) > 0 {
		return kernelByName(ks[0])
	}
	return nil
}

// narrowKernel is the kernel for narrow GEMMs when the best one is wider.
func narrowKernel() *microKernel {
	if hasAVX512() && hasAVX2() {
		return avx2
	}
	return nil
}

//go:noescape
func transpose16AVX512(dst *float32, ldd int, src *float32, lds int)

// transpose16 transposes 16x16 blocks when AVX-512 is present.
func transpose16(dst []float32, ldd int, src []float32, lds int) bool {
	if !hasAVX512() {
		return false
	}
	_ = dst[15*ldd+15]
	_ = src[15*lds+15]
	transpose16AVX512(&dst[0], ldd, &src[0], lds)
	return true
}
