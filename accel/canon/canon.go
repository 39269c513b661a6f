package canon

import "math"

// FMA32 returns a*b+c computed exactly and rounded once to float32
// (round to nearest, ties to even): the IEEE-754 fusedMultiplyAdd for
// binary32. It equals the VFMADD*PS instructions on amd64, FMLA/FMADD on
// arm64 and fmaf/__fmaf_rn in CUDA.
//
// Method: a*b is exact in float64 (24+24 < 53 bits). The float64 sum s is
// rounded once; s rounds to the correct float32 unless s is exactly a float32
// rounding midpoint or lies in the float32 subnormal range, in which case the
// exact error of the float64 sum (TwoSum) is used to round s to odd, after
// which rounding to float32 is correct (Boldo and Melquiond).
func FMA32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b)) // exact; conversion forbids fusion
	s := p + float64(c)
	if bits := math.Float64bits(s); bits&0x1fffffff == 0x10000000 || (bits>>52)&0x7ff < 1023-126 {
		return fmaSlow(p, float64(c), s)
	}
	return float32(s)
}

// FMA32Acc sets acc[j] = FMA32(a, b[j], acc[j]) for every j: one step of
// len(acc) independent chains (the inner loop of the pure-Go GEMM).
func FMA32Acc(acc []float32, a float32, b []float32) {
	af := float64(a)
	b = b[:len(acc)]
	for j, bv := range b {
		p := float64(af * float64(bv))
		s := p + float64(acc[j])
		if bits := math.Float64bits(s); bits&0x1fffffff == 0x10000000 || (bits>>52)&0x7ff < 1023-126 {
			acc[j] = fmaSlow(p, float64(acc[j]), s)
			continue
		}
		acc[j] = float32(s)
	}
}

func fmaSlow(p, c, s float64) float32 {
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (c - bb)
	if e == 0 {
		return float32(s)
	}
	bits := math.Float64bits(s)
	if bits&1 == 0 {
		// Round to odd: step s one ulp towards the exact value.
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// Mul32 returns the float32 product a*b rounded on its own (never fused).
func Mul32(a, b float32) float32 { return float32(a * b) }

// Dot32 returns the canonical dot product of x and y: a sequential chain of
// FMA32 over i = 0, 1, ..., len(x)-1 starting from 0. It is the same chain as
// one output of the canonical GEMM.
func Dot32(x, y []float32) float32 {
	y = y[:len(x)]
	var acc float32
	for i := range x {
		acc = FMA32(x[i], y[i], acc)
	}
	return acc
}

// SumLeaf is the largest slice Sum adds sequentially.
const SumLeaf = 16

// Sum returns the canonical sum of x: if len(x) <= SumLeaf the elements are
// added left to right starting from 0 (float32 additions); otherwise
// Sum(x) = Sum(x[:n/2]) + Sum(x[n/2:]) with n = len(x). The tree depends only
// on len(x).
func Sum(x []float32) float32 {
	n := len(x)
	if n <= SumLeaf {
		var s float32
		for _, v := range x {
			s += v
		}
		return s
	}
	if n <= 4*SumLeaf {
		return sum4(x)
	}
	return Sum(x[:n/2]) + Sum(x[n/2:])
}

// sum4 is Sum for SumLeaf < len(x) <= 4·SumLeaf with the leaves' chains
// interleaved (independent additions overlap in the CPU; each leaf still
// adds its elements left to right from 0, and the leaves combine along
// the same tree), so it returns Sum's bits.
func sum4(x []float32) float32 {
	n := len(x)
	a, b := x[:n/2], x[n/2:]
	if len(a) <= SumLeaf { // both children are leaves (len(b) <= len(a)+1 <= SumLeaf+1)
		if len(b) > SumLeaf {
			return seqSum(a) + (seqSum(b[:len(b)/2]) + seqSum(b[len(b)/2:]))
		}
		var sa, sb float32
		for i := range a {
			sa += a[i]
			sb += b[i]
		}
		for _, v := range b[len(a):] {
			sb += v
		}
		return sa + sb
	}
	l0, l1 := a[:len(a)/2], a[len(a)/2:]
	l2, l3 := b[:len(b)/2], b[len(b)/2:]
	if len(l0) > SumLeaf || len(l1) > SumLeaf || len(l2) > SumLeaf || len(l3) > SumLeaf {
		return Sum(a) + Sum(b)
	}
	var s0, s1, s2, s3 float32
	m := len(l0) // the shortest: len(a)/2 <= the others
	for i := 0; i < m; i++ {
		s0 += l0[i]
		s1 += l1[i]
		s2 += l2[i]
		s3 += l3[i]
	}
	for _, v := range l1[m:] {
		s1 += v
	}
	for _, v := range l2[m:] {
		s2 += v
	}
	for _, v := range l3[m:] {
		s3 += v
	}
	return (s0 + s1) + (s2 + s3)
}

func seqSum(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}

// SumSq returns the canonical sum of squared deviations Σ (x_i - mean)²
// using the tree of Sum, each square rounded on its own:
// leaf: s = s + float32(d*d) with d = x_i - mean.
func SumSq(x []float32, mean float32) float32 {
	n := len(x)
	if n <= SumLeaf {
		var s float32
		for _, v := range x {
			d := v - mean
			s += float32(d * d)
		}
		return s
	}
	return SumSq(x[:n/2], mean) + SumSq(x[n/2:], mean)
}

// Sqrt32 returns the correctly rounded float32 square root (IEEE sqrt in
// float64 followed by one rounding is correctly rounded for binary32).
func Sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// horner evaluates c[0] + z*(c[1] + z*(... + z*c[n-1])) with every product
// rounded on its own.
func horner(c []float64, z float64) float64 {
	r := c[len(c)-1]
	for i := len(c) - 2; i >= 0; i-- {
		r = float64(r*z) + c[i]
	}
	return r
}

const (
	ln2Hi  = 6.93147180369123816490e-01 // top 32 bits of ln 2: n*ln2Hi is exact
	ln2Lo  = 1.90821492927058770002e-10 // ln 2 - ln2Hi
	log2e  = 1.44269504088896338700e+00
	ln2    = 0.6931471805599453
	twoDSP = 1.1283791670955126 // 2/sqrt(pi)
)

// exp64 returns e^x in float64 for |x| <= 200 (relative error below 1e-15):
// x = n ln2 + r with |r| <= ln2/2 (Cody-Waite), e^r from the degree-13
// Taylor polynomial, times 2^n.
func exp64(x float64) float64 {
	n := math.Floor(float64(x*log2e) + 0.5)
	r := float64(x-float64(n*ln2Hi)) - float64(n*ln2Lo)
	y := horner(expCoef[:], r)
	return y * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// Exp32 returns e^x. Canonical definition: exp64 above, rounded once to
// float32. Error bound: at most 1 ulp (faithful rounding; the result is the
// correctly rounded one except possibly when e^x lies within about 1e-15
// relative of a rounding midpoint). Exp32(x) = +Inf for x > 88.72284,
// 0 for x < -103.97209 (after correct rounding of tiny results), NaN for NaN.
func Exp32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x > 89:
		return float32(math.Inf(1))
	case x < -104:
		return 0
	}
	return float32(exp64(float64(x)))
}

// log64 returns ln x for finite x > 0 given as float64 of a float32.
func log64(x float64) float64 {
	bits := math.Float64bits(x)
	e := int64((bits>>52)&0x7ff) - 1023
	m := math.Float64frombits(bits&^(0x7ff<<52) | 1023<<52) // [1,2)
	if m > math.Sqrt2 {
		m *= 0.5
		e++
	}
	s := (m - 1) / (m + 1)
	z := float64(s * s)
	lm := float64(float64(2*s) * horner(logCoef[:], z))
	return float64(float64(e)*ln2) + lm
}

// Log32 returns ln x. Canonical definition: x = m 2^e with m in
// [sqrt(1/2), sqrt(2)], ln m = 2s(1 + z/3 + ... + z^11/23) with
// s = (m-1)/(m+1), z = s², result e ln2 + ln m in float64, rounded once to
// float32. Error bound: at most 1 ulp. Log32(0) = -Inf, Log32(x<0) = NaN,
// Log32(+Inf) = +Inf.
func Log32(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < 0:
		return float32(math.NaN())
	case x == 0:
		return float32(math.Inf(-1))
	case math.IsInf(float64(x), 1):
		return x
	}
	return float32(log64(float64(x)))
}

// Tanh32 returns tanh x. Canonical definition, with a = |x|: for a < 0.5 the
// odd Taylor polynomial a(1 - a²/3 + ... ) of degree 35; for 0.5 <= a < 20,
// 1 - 2/(exp64(2a)+1); otherwise 1; the sign of x is applied last and the
// float64 value rounded once to float32. Error bound: at most 1 ulp.
func Tanh32(x float32) float32 {
	if x != x {
		return x
	}
	a := math.Abs(float64(x))
	var t float64
	switch {
	case a < 0.5:
		t = float64(a * horner(tanhCoef[:], float64(a*a)))
	case a < 20:
		t = 1 - 2/(exp64(2*a)+1)
	default:
		t = 1
	}
	if x < 0 {
		t = -t
	}
	return float32(t)
}

// Erf32 returns the error function of x. Canonical definition, with a = |x|:
// for a < 4, (2/sqrt(pi)) a Σ_{n<N} (-1)^n a^{2n}/(n!(2n+1)) evaluated by
// Horner in float64 with N = 18 for a < 1, 34 for a < 2 and 72 for a < 4;
// otherwise 1; the sign of x is applied last and the value rounded once to
// float32. Error bound: at most 1 ulp.
func Erf32(x float32) float32 {
	if x != x {
		return x
	}
	a := math.Abs(float64(x))
	var t float64
	switch {
	case a < 1:
		t = float64(float64(twoDSP*a) * horner(erfCoef[:18], float64(a*a)))
	case a < 2:
		t = float64(float64(twoDSP*a) * horner(erfCoef[:34], float64(a*a)))
	case a < 4:
		t = float64(float64(twoDSP*a) * horner(erfCoef[:], float64(a*a)))
	default:
		t = 1
	}
	if x < 0 {
		t = -t
	}
	return float32(t)
}

// Cody-Waite pieces of pi/2 (fdlibm's rem_pio2 split: the first two have 33
// significant bits, so n·pio2Hi and n·pio2Mid are exact for n < 2^20).
const (
	twoOverPi = 6.36619772367581382433e-01
	pio2Hi    = 1.57079632673412561417e+00
	pio2Mid   = 6.07710050630396597660e-11
	pio2Lo    = 2.02226624871116645580e-21
)

// sinCos64 returns sin x and cos x in float64 for |x| <= 2^20 by x = n·pi/2
// + r (three-part Cody-Waite, |r| <= pi/4), the degree-21 and degree-20
// Taylor polynomials of sin r and cos r, and the quadrant n mod 4.
func sinCos64(x float64) (float64, float64) {
	n := math.Floor(float64(x*twoOverPi) + 0.5)
	r := float64(float64(x-float64(n*pio2Hi))-float64(n*pio2Mid)) - float64(n*pio2Lo)
	z := float64(r * r)
	s := float64(r * horner(sinCoef[:], z))
	c := horner(cosCoef[:], z)
	switch int64(n) & 3 {
	case 1:
		return c, -s
	case 2:
		return -s, -c
	case 3:
		return -c, s
	}
	return s, c
}

// SinCos32 returns sin x and cos x. Canonical definition: sinCos64 above
// on float64(x), each rounded once to float32. Error bound: at most 1 ulp
// for |x| <= 2^20; larger or non-finite x give NaN (the engine uses it for
// sinusoidal position encodings, whose angles are below the sequence
// length).
func SinCos32(x float32) (sin, cos float32) {
	if x != x || x > 1<<20 || x < -(1<<20) {
		nan := float32(math.NaN())
		return nan, nan
	}
	s, c := sinCos64(float64(x))
	return float32(s), float32(c)
}
