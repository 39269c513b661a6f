package canon

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

const piDigits = "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196"

// bigSinCos reduces x by a 320-bit pi/2 and sums both Taylor series.
func bigSinCos(x float64) (*big.Float, *big.Float) {
	pi, _ := new(big.Float).SetPrec(prec).SetString(piDigits)
	half := new(big.Float).SetPrec(prec).Quo(pi, bf(2))
	k := math.Round(x / (math.Pi / 2))
	r := new(big.Float).SetPrec(prec).Mul(half, bf(k))
	r.Sub(bf(x), r)
	sin, cos := bf(0), bf(0)
	term := bf(1) // r^n / n!
	eps := new(big.Float).SetPrec(prec).SetMantExp(bf(1), -300)
	for n := 0; n < 200; n++ {
		if n > 0 {
			term.Mul(term, r)
			term.Quo(term, bf(float64(n)))
		}
		t := new(big.Float).SetPrec(prec).Set(term)
		if (n/2)%2 == 1 {
			t.Neg(t)
		}
		if n%2 == 0 {
			cos.Add(cos, t)
		} else {
			sin.Add(sin, t)
		}
		if n > 4 && new(big.Float).Abs(term).Cmp(eps) < 0 {
			break
		}
	}
	switch int64(k) & 3 {
	case 1:
		return cos, sin.Neg(sin)
	case 2:
		return sin.Neg(sin), cos.Neg(cos)
	case 3:
		return cos.Neg(cos), sin
	}
	return sin, cos
}

func TestSinCos32AgainstBig(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 800
	}
	r := rand.New(rand.NewPCG(3, 4))
	gens := map[string]func() float32{
		"positions": func() float32 { return float32(r.Float64() * 4096) },
		"wide":      func() float32 { return float32((r.Float64()*2 - 1) * (1 << 20)) },
		"small":     func() float32 { return float32((r.Float64()*2 - 1) * math.Pow(2, -r.Float64()*30)) },
	}
	for _, name := range []string{"positions", "wide", "small"} {
		gen := gens[name]
		t.Run(name, func(t *testing.T) {
			for i := 0; i < n; i++ {
				x := gen()
				s, c := SinCos32(x)
				ws, wc := bigSinCos(float64(x))
				for _, p := range []struct {
					what      string
					got, want float32
				}{{"sin", s, f32(ws)}, {"cos", c, f32(wc)}} {
					// near a zero of sin or cos the float32 result is tiny and
					// its ulp meaningless: compare absolutely there.
					if math.Abs(float64(p.want)) < 1e-6 {
						if math.Abs(float64(p.got-p.want)) > 1e-12 {
							t.Fatalf("%s(%v) = %v, want %v", p.what, x, p.got, p.want)
						}
						continue
					}
					if d := ulpDiff(p.got, p.want); d > 1 {
						t.Fatalf("%s(%v) = %v, want %v (%d ulp)", p.what, x, p.got, p.want, d)
					}
				}
			}
		})
	}
}

func f32(x *big.Float) float32 { v, _ := x.Float32(); return v }

func TestSinCos32Special(t *testing.T) {
	for _, x := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1<<20 + 1<<8, -(1<<20 + 1<<8)} {
		if s, c := SinCos32(x); s == s || c == c {
			t.Errorf("SinCos32(%v) = %v, %v, want NaN", x, s, c)
		}
	}
	if s, c := SinCos32(0); s != 0 || c != 1 || math.Signbit(float64(s)) {
		t.Errorf("SinCos32(0) = %v, %v, want 0, 1", s, c)
	}
	// Known values of the definition (bits pinned: a change of algorithm
	// changes every sinusoidal position encoding, so every such model's
	// digests).
	s, c := SinCos32(1)
	if math.Float32bits(s) != 0x3f576aa4 || math.Float32bits(c) != 0x3f0a5140 {
		t.Errorf("SinCos32(1) = %#x, %#x", math.Float32bits(s), math.Float32bits(c))
	}
}
