//go:build amd64 && !purego

package canon

import "golang.org/x/sys/cpu"

// erfAVX512 computes Erf32 of n values (n a positive multiple of 32) with
// Erf32's float64 operations, 8 lanes at a time (erf_amd64.s); NaN inputs
// give unspecified lanes, so Erf32Slice never passes a block holding one.
// vec_test.go checks it bit for bit against Erf32.
//
//go:noescape
func erfAVX512(dst, src *float32, n int, coef *float64)

var hasAVX512DQ = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// erfFast computes the longest prefix of 32-value blocks with AVX-512 and
// returns its length (0 without AVX-512 or for fewer than 32 values).
func erfFast(dst, src []float32) int {
	if !hasAVX512DQ || len(src) < 32 {
		return 0
	}
	n := len(src) &^ 31
	erfAVX512(&dst[0], &src[0], n, &erfCoef[0])
	return n
}

// expAVX512 computes Exp32 of n values (n a positive multiple of 32) with
// exp64's float64 operations, 8 lanes at a time (exp_amd64.s); lanes
// outside Exp32's polynomial range (expCommon) are unspecified, so
// Exp32Slice never passes a block holding one.
//
//go:noescape
func expAVX512(dst, src *float32, n int, coef *float64)

// expFast is erfFast for Exp32.
func expFast(dst, src []float32) int {
	if !hasAVX512DQ || len(src) < 32 {
		return 0
	}
	n := len(src) &^ 31
	expAVX512(&dst[0], &src[0], n, &expCoef[0])
	return n
}
