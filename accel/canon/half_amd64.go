//go:build amd64 && !purego

package canon

import "golang.org/x/sys/cpu"

// The AVX2 loops compute, per lane, exactly the integer and float32
// operations of RoundBF16 and RoundFP16 (every case evaluated, the result
// selected by comparison masks); half_test.go checks them bit for bit
// against the scalar functions.

//go:noescape
func roundBF16AVX2(dst, src *float32, n int)

//go:noescape
func roundFP16AVX2(dst, src *float32, n int)

var hasAVX2 = cpu.X86.HasAVX2

// roundBF16Fast rounds the longest prefix the vector loop handles and
// returns its length.
func roundBF16Fast(dst, src []float32) int {
	if !hasAVX2 || len(src) < 8 {
		return 0
	}
	n := len(src) &^ 7
	roundBF16AVX2(&dst[0], &src[0], n)
	return n
}

func roundFP16Fast(dst, src []float32) int {
	if !hasAVX2 || len(src) < 8 {
		return 0
	}
	n := len(src) &^ 7
	roundFP16AVX2(&dst[0], &src[0], n)
	return n
}
