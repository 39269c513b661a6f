package types

import (
	"math/bits"
	"slices"
)

// Quorum is how many of n assigned verifiers must agree:
// ceil(n * quorumBps / 10000), at least 1 and at most n.
func Quorum(n int, quorumBps uint32) int {
	if n <= 0 {
		return 0
	}
	q := (uint64(n)*uint64(quorumBps) + MaxBps - 1) / MaxBps
	if q < 1 {
		q = 1
	}
	if q > uint64(n) {
		q = uint64(n)
	}
	return int(q)
}

// Median of the values: the middle one, or the floor of the mean of the two
// middle ones. The input is not modified. Median of nothing is 0.
func Median(values []uint64) uint64 {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	a, b := s[mid-1], s[mid]
	return a/2 + b/2 + (a%2+b%2)/2
}

// MeanStd returns floor(mean) and floor(sqrt(population variance)) of ppm
// values, in exact integer arithmetic: var = sum((n*x - sum)^2) / n^3, with
// the numerator accumulated in 128 bits (each term is at most (n*1e6)^2).
func MeanStd(values []uint64) (mean, std uint64) {
	n := uint64(len(values))
	if n == 0 {
		return 0, 0
	}
	var sum uint64
	for _, v := range values {
		sum += v
	}
	mean = sum / n
	var hi, lo uint64
	for _, v := range values {
		d := int64(n*v) - int64(sum)
		if d < 0 {
			d = -d
		}
		sqHi, sqLo := bits.Mul64(uint64(d), uint64(d))
		var carry uint64
		lo, carry = bits.Add64(lo, sqLo, 0)
		hi += sqHi + carry
	}
	return mean, isqrt(div128by64(hi, lo, n*n*n))
}

// AbsDiff is |a - b|.
func AbsDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// isqrt is floor(sqrt(x)) by Newton's method on integers.
func isqrt(x uint64) uint64 {
	if x < 2 {
		return x
	}
	r := x
	y := (r + 1) / 2
	for y < r {
		r = y
		y = (r + x/r) / 2
	}
	return r
}

// div128by64 is floor((hi<<64 | lo) / d), saturating at MaxUint64.
func div128by64(hi, lo, d uint64) uint64 {
	if d == 0 {
		return 0
	}
	if hi >= d {
		return ^uint64(0)
	}
	q, _ := bits.Div64(hi, lo, d)
	return q
}
