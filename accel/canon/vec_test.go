package canon

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestErf32SliceSameBits: Erf32Slice (its AVX-512 loop where the CPU has
// one, the portable loop elsewhere) gives Erf32's bits for every value:
// random bit patterns of every exponent, random values in each of Erf32's
// ranges and mixed across them within one vector, the boundaries 1, 2 and
// 4 and their neighbours, zeros of both signs, subnormals, infinities and
// NaNs, at lengths that leave tails after the 32-value blocks.
func TestErf32SliceSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var src []float32
	for i := 0; i < 1<<20; i++ {
		src = append(src, math.Float32frombits(rng.Uint32()))
	}
	for i := 0; i < 1<<20; i++ {
		// Mostly GELU-like arguments, mixing Erf32's ranges in one vector.
		src = append(src, float32(rng.NormFloat64()*2))
	}
	for i := 0; i < 1<<16; i++ {
		src = append(src, float32(rng.Float64()*0.999)) // all below 1: the short path only
	}
	for _, b := range []float32{1, 2, 4} {
		for _, v := range []float32{b, math.Nextafter32(b, 0), math.Nextafter32(b, 10)} {
			src = append(src, v, -v)
		}
	}
	nan := float32(math.NaN())
	src = append(src, 0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), nan, -nan, math.MaxFloat32, -math.MaxFloat32)
	for _, n := range []int{len(src), len(src) - 1, 33, 31, 32, 64 + 7} {
		in := src[len(src)-n:]
		got := make([]float32, n)
		Erf32Slice(got, in)
		inPlace := append([]float32(nil), in...)
		Erf32Slice(inPlace, inPlace) // dst == src, as ml calls it
		for i, x := range in {
			want := Erf32(x)
			for _, g := range []float32{got[i], inPlace[i]} {
				if math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("length %d, value %d: Erf32Slice(%g [%#08x]) = %g [%#08x], Erf32 gives %g [%#08x]", n, i, x, math.Float32bits(x),
						g, math.Float32bits(g), want, math.Float32bits(want))
				}
			}
		}
	}
	// Mixed vectors: every lane pattern of short/mid/long/huge in 8 lanes.
	vals := []float32{0.5, -1.5, 3.0, -7, 0.25, 1.999, -3.999, 100}
	in := make([]float32, 0, 4096)
	for m := 0; m < 512; m++ {
		for l := 0; l < 8; l++ {
			in = append(in, vals[(m>>(l%3)+l)%len(vals)]*float32(1+l)/8)
		}
	}
	got := make([]float32, len(in))
	Erf32Slice(got, in)
	for i, x := range in {
		if want := Erf32(x); math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Fatalf("mixed value %d: Erf32Slice(%g) = %g, Erf32 gives %g", i, x, got[i], want)
		}
	}
}

func BenchmarkErf32Slice(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 0.7) // GELU's x/sqrt(2) of unit-variance activations
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for i := 0; i < b.N; i++ {
		Erf32Slice(dst, src)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
}

// TestExp32SliceSameBits: Exp32Slice gives Exp32's bits for random bit
// patterns, softmax-like and GELU-like arguments, the range ends -104 and
// 89 and their neighbours, zeros, subnormals, infinities and NaNs, at
// lengths that leave tails.
func TestExp32SliceSameBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var src []float32
	for i := 0; i < 1<<20; i++ {
		src = append(src, math.Float32frombits(rng.Uint32()))
	}
	for i := 0; i < 1<<20; i++ {
		src = append(src, float32(-rng.ExpFloat64()*8)) // x - max of a softmax row
	}
	for i := 0; i < 1<<18; i++ {
		src = append(src, float32((rng.Float64()*2-1)*110)) // across the whole range and past its ends
	}
	for _, b := range []float32{-104, 89, 0, 88.72284, -103.97209} {
		src = append(src, b, math.Nextafter32(b, -200), math.Nextafter32(b, 200))
	}
	nan := float32(math.NaN())
	src = append(src, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), nan, -nan)
	for _, n := range []int{len(src), len(src) - 5, 32, 63} {
		in := src[len(src)-n:]
		got := make([]float32, n)
		Exp32Slice(got, in)
		inPlace := append([]float32(nil), in...)
		Exp32Slice(inPlace, inPlace) // dst == src, as ml calls it
		for i, x := range in {
			want := Exp32(x)
			for _, g := range []float32{got[i], inPlace[i]} {
				if math.Float32bits(g) != math.Float32bits(want) {
					t.Fatalf("length %d, value %d: Exp32Slice(%g [%#08x]) = %g [%#08x], Exp32 gives %g [%#08x]", n, i, x, math.Float32bits(x),
						g, math.Float32bits(g), want, math.Float32bits(want))
				}
			}
		}
	}
}

func BenchmarkExp32Slice(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(-rng.ExpFloat64() * 8)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(4 * len(src)))
	for i := 0; i < b.N; i++ {
		Exp32Slice(dst, src)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(src)), "ns/value")
}
