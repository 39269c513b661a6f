package canon

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

const prec = 320

func bf(x float64) *big.Float { return new(big.Float).SetPrec(prec).SetFloat64(x) }

// bigExp returns e^x for |x| < 200 to about 250 bits.
func bigExp(x *big.Float) *big.Float {
	// e^x = (e^(x/2^m))^(2^m), Taylor for the small argument.
	m := 0
	y := new(big.Float).SetPrec(prec).Set(x)
	lim := bf(1.0 / 512)
	for new(big.Float).Abs(y).Cmp(lim) > 0 {
		y.Quo(y, bf(2))
		m++
	}
	sum := bf(1)
	term := bf(1)
	eps := new(big.Float).SetPrec(prec).SetMantExp(bf(1), -300)
	for k := 1; k < 200; k++ {
		term.Mul(term, y)
		term.Quo(term, bf(float64(k)))
		sum.Add(sum, term)
		if new(big.Float).Abs(term).Cmp(eps) < 0 {
			break
		}
	}
	for ; m > 0; m-- {
		sum.Mul(sum, sum)
	}
	return sum
}

// bigLog returns ln x for x > 0 by Newton's method on e^y = x.
func bigLog(x *big.Float) *big.Float {
	xf, _ := x.Float64()
	y := bf(math.Log(xf))
	for range 5 {
		e := bigExp(y)
		num := new(big.Float).SetPrec(prec).Sub(x, e)
		den := new(big.Float).SetPrec(prec).Add(x, e)
		num.Quo(num, den)
		num.Mul(num, bf(2))
		y.Add(y, num)
	}
	return y
}

func bigTanh(x *big.Float) *big.Float {
	e := bigExp(new(big.Float).SetPrec(prec).Mul(x, bf(2)))
	num := new(big.Float).SetPrec(prec).Sub(e, bf(1))
	den := new(big.Float).SetPrec(prec).Add(e, bf(1))
	return num.Quo(num, den)
}

// bigErf sums the Taylor series of erf at high precision (|x| <= 6).
func bigErf(x *big.Float) *big.Float {
	p := uint(prec + 200)
	x2 := new(big.Float).SetPrec(p).Mul(x, x)
	term := new(big.Float).SetPrec(p).Set(x) // x^(2n+1)/n! * (-1)^n
	sum := new(big.Float).SetPrec(p).Set(x)
	eps := new(big.Float).SetPrec(p).SetMantExp(big.NewFloat(1), -400)
	for n := 1; n < 2000; n++ {
		term.Mul(term, x2)
		term.Quo(term, new(big.Float).SetPrec(p).SetInt64(int64(-n)))
		t := new(big.Float).SetPrec(p).Quo(term, new(big.Float).SetPrec(p).SetInt64(int64(2*n+1)))
		sum.Add(sum, t)
		if new(big.Float).Abs(t).Cmp(eps) < 0 && n > 10 {
			break
		}
	}
	// 2/sqrt(pi)
	pi := new(big.Float).SetPrec(p)
	pi.SetString("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196")
	sq := new(big.Float).SetPrec(p).Sqrt(pi)
	sum.Mul(sum, bf(2))
	return sum.Quo(sum, sq)
}

// ulpDiff is the distance in representable float32 values between a and b
// (same sign assumed; both finite).
func ulpDiff(a, b float32) int64 {
	ia := int64(math.Float32bits(a) &^ (1 << 31))
	ib := int64(math.Float32bits(b) &^ (1 << 31))
	if math.Signbit(float64(a)) != math.Signbit(float64(b)) {
		return ia + ib
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return d
}

type fnCase struct {
	name string
	f    func(float32) float32
	ref  func(*big.Float) *big.Float
	gen  func(r *rand.Rand) float32
}

func TestTranscendentalsAgainstBig(t *testing.T) {
	n := 6000
	if testing.Short() {
		n = 1000
	}
	r := rand.New(rand.NewPCG(1, 2))
	cases := []fnCase{
		{"Exp32", Exp32, bigExp, func(r *rand.Rand) float32 { return float32(r.Float64()*190 - 102) }},
		{"Exp32/small", Exp32, bigExp, func(r *rand.Rand) float32 { return float32((r.Float64()*2 - 1) * math.Pow(2, -r.Float64()*30)) }},
		{"Log32", Log32, bigLog, func(r *rand.Rand) float32 {
			return math.Float32frombits(uint32(r.Uint64N(0x7f800000-1)) + 1) // any positive finite
		}},
		{"Log32/near1", Log32, bigLog, func(r *rand.Rand) float32 { return float32(1 + (r.Float64()-0.5)*0.01) }},
		{"Tanh32", Tanh32, bigTanh, func(r *rand.Rand) float32 { return float32(r.Float64()*24 - 12) }},
		{"Tanh32/small", Tanh32, bigTanh, func(r *rand.Rand) float32 { return float32((r.Float64()*2 - 1) * math.Pow(2, -r.Float64()*40)) }},
		{"Erf32", Erf32, bigErf, func(r *rand.Rand) float32 { return float32(r.Float64()*10 - 5) }},
		{"Erf32/small", Erf32, bigErf, func(r *rand.Rand) float32 { return float32((r.Float64()*2 - 1) * math.Pow(2, -r.Float64()*40)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exact := 0
			var maxd int64
			for i := 0; i < n; i++ {
				x := c.gen(r)
				got := c.f(x)
				want, _ := c.ref(bf(float64(x))).Float32()
				if math.IsInf(float64(want), 0) || math.IsInf(float64(got), 0) {
					if got != want {
						t.Fatalf("%s(%g) = %g, want %g", c.name, x, got, want)
					}
					continue
				}
				d := ulpDiff(got, want)
				if d > maxd {
					maxd = d
				}
				if d > 1 {
					t.Fatalf("%s(%g [%#x]) = %g [%#x], correctly rounded %g [%#x]: %d ulp, bound is 1",
						c.name, x, math.Float32bits(x), got, math.Float32bits(got), want, math.Float32bits(want), d)
				}
				if d == 0 {
					exact++
				}
			}
			t.Logf("%s: %d inputs, max error %d ulp, %.4f%% correctly rounded", c.name, n, maxd, 100*float64(exact)/float64(n))
		})
	}
}

func TestSpecialValues(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name    string
		got     float32
		want    float32
		wantNaN bool
	}{
		{"Exp32(0)", Exp32(0), 1, false},
		{"Exp32(100)", Exp32(100), inf, false},
		{"Exp32(-200)", Exp32(-200), 0, false},
		{"Exp32(NaN)", Exp32(nan), 0, true},
		{"Log32(1)", Log32(1), 0, false},
		{"Log32(0)", Log32(0), -inf, false},
		{"Log32(-1)", Log32(-1), 0, true},
		{"Log32(Inf)", Log32(inf), inf, false},
		{"Tanh32(0)", Tanh32(0), 0, false},
		{"Tanh32(30)", Tanh32(30), 1, false},
		{"Tanh32(-30)", Tanh32(-30), -1, false},
		{"Erf32(0)", Erf32(0), 0, false},
		{"Erf32(10)", Erf32(10), 1, false},
		{"Erf32(-10)", Erf32(-10), -1, false},
	} {
		if tc.wantNaN {
			if tc.got == tc.got {
				t.Errorf("%s = %g, want NaN", tc.name, tc.got)
			}
			continue
		}
		if tc.got != tc.want {
			t.Errorf("%s = %g, want %g", tc.name, tc.got, tc.want)
		}
	}
}

func TestFMA32AgainstBig(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	rnd := func() float32 {
		switch r.IntN(4) {
		case 0: // any finite
			for {
				f := math.Float32frombits(uint32(r.Uint32()))
				if !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) {
					return f
				}
			}
		case 1: // subnormal range
			return math.Float32frombits(uint32(r.Uint32())&0x807fffff | uint32(r.IntN(3))<<23)
		default:
			return float32(r.NormFloat64())
		}
	}
	n := 400000
	if testing.Short() {
		n = 50000
	}
	for i := 0; i < n; i++ {
		a, b := rnd(), rnd()
		var c float32
		switch r.IntN(3) {
		case 0:
			c = rnd()
		case 1: // cancel most of the product: hits midpoints and tiny results
			c = -float32(a * b)
		default: // product just at a float32 midpoint neighbourhood
			c = float32(a*b) * float32(r.Float64()*1e-7)
		}
		got := FMA32(a, b, c)
		ex := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		ex.Mul(ex, new(big.Float).SetPrec(200).SetFloat64(float64(b)))
		ex.Add(ex, new(big.Float).SetPrec(200).SetFloat64(float64(c)))
		want, _ := ex.Float32()
		if math.IsInf(float64(want), 0) || math.IsInf(float64(got), 0) {
			if got != want {
				t.Fatalf("FMA32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			t.Fatalf("FMA32(%#x, %#x, %#x) = %#x, want %#x", math.Float32bits(a), math.Float32bits(b), math.Float32bits(c), math.Float32bits(got), math.Float32bits(want))
		}
	}
}

func TestFMA32DoubleRoundingCase(t *testing.T) {
	// a*b = 1 + 2^-11 + 2^-24 exactly, a float32 rounding midpoint; c = 2^-80
	// puts the exact sum just above it. The float64 sum loses c and naive
	// rounding to float32 would tie to even (1 + 2^-11); the correct result
	// is 1 + 2^-11 + 2^-23.
	a := float32(1 + 1.0/(1<<12))
	c := float32(math.Ldexp(1, -80))
	want := float32(1 + 1.0/(1<<11) + 1.0/(1<<23))
	if got := FMA32(a, a, c); got != want {
		t.Fatalf("FMA32 double-rounding case = %#x, want %#x", math.Float32bits(got), math.Float32bits(want))
	}
	if naive := float32(float64(a)*float64(a) + float64(c)); naive == want {
		t.Fatalf("test input does not exercise double rounding")
	}
}

func TestSumTree(t *testing.T) {
	x := make([]float32, 1000)
	for i := range x {
		x[i] = 1
	}
	if s := Sum(x); s != 1000 {
		t.Fatalf("Sum of 1000 ones = %g", s)
	}
	// The tree is fixed: a value that is lost in a sequential sum survives.
	y := make([]float32, 64)
	y[0] = 1 << 24
	for i := 1; i < 64; i++ {
		y[i] = 1
	}
	// sequential left-to-right would give 2^24 (each +1 lost); the tree adds
	// the 1s among themselves first in the other leaves.
	got := Sum(y)
	seq := float32(0)
	for _, v := range y {
		seq += v
	}
	if got == seq {
		t.Fatalf("Sum = sequential sum %g; the tree must differ here", got)
	}
	if got != float32(1<<24)+48 {
		t.Fatalf("Sum = %g, want %g", got, float32(1<<24)+48)
	}
}
