package canon

import (
	"math"
	"math/bits"
)

// Half-precision formats: bfloat16 (1 sign, 8 exponent, 7 fraction bits;
// the top half of a float32) and IEEE-754 binary16 "fp16" (1 sign, 5
// exponent, 10 fraction bits, bias 15, largest finite 65504, subnormals
// down to 2^-24).
//
// Narrowing (F32ToBF16, F32ToFP16) rounds to nearest, ties to even, as
// IEEE-754 specifies: a value whose magnitude reaches the rounding midpoint
// above the largest finite half value becomes ±Inf, ±Inf stays ±Inf, ±0
// keeps its sign, fp16 results below 2^-14 are correctly rounded
// subnormals (or ±0). Every NaN, whatever its sign and payload, becomes the
// canonical quiet NaN (BF16NaN, FP16NaN): NaN payloads differ between
// CPUs and GPUs, so a canonical value must not carry one.
//
// Widening (BF16ToF32, FP16ToF32) is exact: every half value is a float32.
// Widening a NaN keeps its payload (the canonical NaNs widen to the
// canonical float32 quiet NaN 0x7fc00000).
//
// RoundBF16 and RoundFP16 are the composition widen(narrow(x)): the float32
// value a half-precision store of x holds. They are what package ml applies
// to activations, weight copies and activation gradients in mixed
// precision.
const (
	// BF16NaN is the canonical bfloat16 quiet NaN (positive, zero payload).
	BF16NaN uint16 = 0x7fc0
	// FP16NaN is the canonical binary16 quiet NaN (positive, zero payload).
	FP16NaN uint16 = 0x7e00
	// F32NaN is the bit pattern both canonical half NaNs widen to.
	F32NaN uint32 = 0x7fc00000
	// FP16Max is the largest finite binary16 value.
	FP16Max = 65504
)

// F32ToBF16 rounds f to bfloat16 (round to nearest, ties to even).
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return BF16NaN
	}
	// Adding 0x7fff plus the lowest kept bit rounds the low 16 bits to
	// nearest, ties to even; a carry propagates into the exponent, which is
	// the correct result (up to +Inf, 0x7f80, from the top binade).
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// BF16ToF32 widens a bfloat16 value to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToFP16 rounds f to binary16 (round to nearest, ties to even).
func F32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return FP16NaN
	case a >= 0x477ff000:
		// |f| >= 65520, the midpoint between 65504 and 2^16: rounds to Inf
		// (the tie goes to the even "2^16", which is Inf).
		return sign | 0x7c00
	case a >= 0x38800000:
		// Normal result (|f| >= 2^-14): rebias the exponent (127 -> 15)
		// and round the low 13 fraction bits to nearest even; a carry into
		// the exponent is correct.
		a -= 112 << 23
		a += 0xfff + (a>>13)&1
		return sign | uint16(a>>13)
	case a <= 0x33000000:
		// |f| <= 2^-25, half the smallest subnormal: rounds to ±0 (the tie
		// at 2^-25 goes to the even 0).
		return sign
	default:
		// Subnormal result: the value in units of 2^-24 is m·2^(e-126),
		// m the 24-bit significand; shift right by 126-e (14..24) rounding
		// to nearest even. A result of 0x400 is the smallest normal.
		e := a >> 23
		m := a&0x7fffff | 0x800000
		shift := 126 - e
		q := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && q&1 == 1 {
			q++
		}
		return sign | uint16(q)
	}
}

// FP16ToF32 widens a binary16 value to float32 (exact).
func FP16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	e := uint32(h>>10) & 0x1f
	m := uint32(h & 0x3ff)
	switch e {
	case 0x1f: // Inf or NaN (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | m<<13)
	case 0:
		if m == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal m·2^-24: normalise. m has its leading 1 at bit k
		// (0..9); the value is 1.f·2^(k-24).
		k := uint32(bits.Len32(m) - 1)
		frac := (m &^ (1 << k)) << (23 - k)
		return math.Float32frombits(sign | (k+127-24)<<23 | frac)
	default:
		return math.Float32frombits(sign | (e+112)<<23 | m<<13)
	}
}

// RoundBF16 returns BF16ToF32(F32ToBF16(f)).
func RoundBF16(f float32) float32 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return math.Float32frombits(F32NaN)
	}
	b += 0x7fff + (b>>16)&1
	return math.Float32frombits(b &^ 0xffff)
}

// RoundFP16 returns FP16ToF32(F32ToFP16(f)), computed in the float32
// encoding: normal results round the low 13 fraction bits to nearest even;
// subnormal ones are |f| rounded to a multiple of 2^-24 by one float32
// addition of 0.5 (whose ulp is 2^-24; IEEE addition rounds to nearest
// even) and an exact subtraction.
func RoundFP16(f float32) float32 {
	b := math.Float32bits(f)
	a := b & 0x7fffffff
	switch {
	case a >= 0x38800000 && a < 0x477ff000:
		a += 0xfff + (a>>13)&1
		return math.Float32frombits(b&0x80000000 | a&^0x1fff)
	case a > 0x7f800000:
		return math.Float32frombits(F32NaN)
	case a >= 0x477ff000:
		return math.Float32frombits(b&0x80000000 | 0x7f800000)
	}
	y := float32(math.Float32frombits(a)+0.5) - 0.5
	return math.Float32frombits(b&0x80000000 | math.Float32bits(y))
}

// RoundBF16Slice sets dst[i] = RoundBF16(src[i]); dst and src may be the
// same slice. (The loop is RoundBF16 with the NaN case as a select, which
// the compiler keeps branch-free.)
func RoundBF16Slice(dst, src []float32) {
	dst = dst[:len(src)]
	k := roundBF16Fast(dst, src) // AVX2, same bits
	dst, src = dst[k:], src[k:]
	for i, v := range src {
		b := math.Float32bits(v)
		r := (b + 0x7fff + (b>>16)&1) &^ 0xffff
		if b&0x7fffffff > 0x7f800000 {
			r = F32NaN
		}
		dst[i] = math.Float32frombits(r)
	}
}

// RoundFP16Slice sets dst[i] = RoundFP16(src[i]); dst and src may be the
// same slice. (RoundFP16's normal case is inlined.)
func RoundFP16Slice(dst, src []float32) {
	dst = dst[:len(src)]
	k := roundFP16Fast(dst, src) // AVX2, same bits
	dst, src = dst[k:], src[k:]
	for i, v := range src {
		b := math.Float32bits(v)
		if a := b & 0x7fffffff; a-0x38800000 < 0x477ff000-0x38800000 {
			a += 0xfff + (a>>13)&1
			dst[i] = math.Float32frombits(b&0x80000000 | a&^0x1fff)
			continue
		}
		dst[i] = RoundFP16(v)
	}
}

// F32ToBF16Slice narrows src into dst (len(dst) >= len(src)).
func F32ToBF16Slice(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = F32ToBF16(v)
	}
}

// BF16ToF32Slice widens src into dst (len(dst) >= len(src)).
func BF16ToF32Slice(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = BF16ToF32(h)
	}
}

// F32ToFP16Slice narrows src into dst (len(dst) >= len(src)).
func F32ToFP16Slice(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = F32ToFP16(v)
	}
}

// FP16ToF32Slice widens src into dst (len(dst) >= len(src)).
func FP16ToF32Slice(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = FP16ToF32(h)
	}
}
