package canon

import "math"

// Batched transcendentals: the same definitions as Exp32 and Erf32, element
// by element. On amd64 with AVX-512 (vec_amd64.go) an assembly loop takes
// 32-value blocks, 8 float64 lanes per instruction and four blocks' Horner
// chains interleaved; elsewhere, and for the tail, Go code evaluates four
// at a time with interleaved chains. Every element goes through exactly
// the operations of the scalar function (the same roundings in the same
// order, a multiply and an add never fused), so the bits are equal
// (vec_test.go compares them on millions of values); elements outside the
// common range take the scalar path.

// Exp32Slice sets dst[i] = Exp32(src[i]) for i < len(src). dst and src
// may be the same slice.
func Exp32Slice(dst, src []float32) {
	// The vector loop (AVX-512 where present) does exp64's own float64
	// operations 8 lanes at a time, on blocks whose every value is in the
	// polynomial range; a block holding a NaN or a clamped value takes the
	// portable loop, which gives those Exp32's bits.
	vecSlice(dst, src, allExpCommon, expFast, exp32Portable)
}

// vecSlice runs fast over the blocks of src that common accepts and
// portable over the others and the tail (fewer than 32 values, or all of
// it when fast reports no vector unit by returning 0). Checking a block
// before the vector loop, not fixing lanes after it, keeps dst == src
// right: the vector loop has overwritten the inputs by then.
func vecSlice(dst, src []float32, common func([]float32) bool, fast func(d, s []float32) int, portable func(d, s []float32)) {
	dst = dst[:len(src)]
	i := 0
	for len(src)-i >= 32 {
		n := min(len(src)-i, vecBlock) &^ 31
		d, s := dst[i:i+n], src[i:i+n]
		if common(s) {
			if fast(d, s) == 0 {
				break // no vector unit
			}
		} else {
			portable(d, s)
		}
		i += n
	}
	portable(dst[i:], src[i:])
}

// vecBlock is the most values one vector call takes (a multiple of 32),
// so that a rare special value sends only its block to the portable loop.
const vecBlock = 1024

func allExpCommon(src []float32) bool {
	for _, x := range src {
		if !expCommon(x) {
			return false
		}
	}
	return true
}

// exp32Portable is Exp32Slice's Go loop: four values at a time with
// interleaved chains, any group with a special value through Exp32.
func exp32Portable(dst, src []float32) {
	i := 0
	for ; i+4 <= len(src); i += 4 {
		x0, x1, x2, x3 := src[i], src[i+1], src[i+2], src[i+3]
		if !expCommon(x0) || !expCommon(x1) || !expCommon(x2) || !expCommon(x3) {
			dst[i], dst[i+1], dst[i+2], dst[i+3] = Exp32(x0), Exp32(x1), Exp32(x2), Exp32(x3)
			continue
		}
		a, b, c, d := exp64x4(float64(x0), float64(x1), float64(x2), float64(x3))
		dst[i], dst[i+1], dst[i+2], dst[i+3] = float32(a), float32(b), float32(c), float32(d)
	}
	for ; i < len(src); i++ {
		dst[i] = Exp32(src[i])
	}
}

// expCommon reports x in Exp32's polynomial range (not NaN, not clamped).
func expCommon(x float32) bool { return x >= -104 && x <= 89 }

// exp64x4 is exp64 on four arguments.
func exp64x4(x0, x1, x2, x3 float64) (float64, float64, float64, float64) {
	n0 := math.Floor(float64(x0*log2e) + 0.5)
	n1 := math.Floor(float64(x1*log2e) + 0.5)
	n2 := math.Floor(float64(x2*log2e) + 0.5)
	n3 := math.Floor(float64(x3*log2e) + 0.5)
	r0 := float64(x0-float64(n0*ln2Hi)) - float64(n0*ln2Lo)
	r1 := float64(x1-float64(n1*ln2Hi)) - float64(n1*ln2Lo)
	r2 := float64(x2-float64(n2*ln2Hi)) - float64(n2*ln2Lo)
	r3 := float64(x3-float64(n3*ln2Hi)) - float64(n3*ln2Lo)
	c := expCoef[:]
	y0, y1, y2, y3 := c[len(c)-1], c[len(c)-1], c[len(c)-1], c[len(c)-1]
	for k := len(c) - 2; k >= 0; k-- {
		y0 = float64(y0*r0) + c[k]
		y1 = float64(y1*r1) + c[k]
		y2 = float64(y2*r2) + c[k]
		y3 = float64(y3*r3) + c[k]
	}
	return y0 * math.Float64frombits(uint64(int64(n0)+1023)<<52),
		y1 * math.Float64frombits(uint64(int64(n1)+1023)<<52),
		y2 * math.Float64frombits(uint64(int64(n2)+1023)<<52),
		y3 * math.Float64frombits(uint64(int64(n3)+1023)<<52)
}

// Erf32Slice sets dst[i] = Erf32(src[i]) for i < len(src). dst and src
// may be the same slice.
func Erf32Slice(dst, src []float32) {
	// As in Exp32Slice: the vector loop (AVX-512 where present) does
	// Erf32's own float64 operations 8 lanes at a time on blocks without a
	// NaN; a block with one takes the portable loop (Erf32 of NaN is the
	// NaN itself, payload kept).
	vecSlice(dst, src, noNaN, erfFast, erf32Portable)
}

func noNaN(src []float32) bool {
	for _, x := range src {
		if x != x {
			return false
		}
	}
	return true
}

// erf32Portable is Erf32Slice's Go loop: four values below 1 in magnitude
// at a time with interleaved chains, any other group through Erf32.
func erf32Portable(dst, src []float32) {
	i := 0
	for ; i+4 <= len(src); i += 4 {
		x0, x1, x2, x3 := src[i], src[i+1], src[i+2], src[i+3]
		a0, a1, a2, a3 := math.Abs(float64(x0)), math.Abs(float64(x1)), math.Abs(float64(x2)), math.Abs(float64(x3))
		// NaN compares false, so it takes the scalar path too.
		if !(a0 < 1 && a1 < 1 && a2 < 1 && a3 < 1) {
			dst[i], dst[i+1], dst[i+2], dst[i+3] = Erf32(x0), Erf32(x1), Erf32(x2), Erf32(x3)
			continue
		}
		z0, z1, z2, z3 := float64(a0*a0), float64(a1*a1), float64(a2*a2), float64(a3*a3)
		c := erfCoef[:18]
		h0, h1, h2, h3 := c[17], c[17], c[17], c[17]
		for k := 16; k >= 0; k-- {
			h0 = float64(h0*z0) + c[k]
			h1 = float64(h1*z1) + c[k]
			h2 = float64(h2*z2) + c[k]
			h3 = float64(h3*z3) + c[k]
		}
		t0 := float64(float64(twoDSP*a0) * h0)
		t1 := float64(float64(twoDSP*a1) * h1)
		t2 := float64(float64(twoDSP*a2) * h2)
		t3 := float64(float64(twoDSP*a3) * h3)
		if x0 < 0 {
			t0 = -t0
		}
		if x1 < 0 {
			t1 = -t1
		}
		if x2 < 0 {
			t2 = -t2
		}
		if x3 < 0 {
			t3 = -t3
		}
		dst[i], dst[i+1], dst[i+2], dst[i+3] = float32(t0), float32(t1), float32(t2), float32(t3)
	}
	for ; i < len(src); i++ {
		dst[i] = Erf32(src[i])
	}
}
