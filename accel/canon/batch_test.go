package canon

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSlicesEqualScalar: the batched functions give the scalar functions'
// bits on every element: random values in and out of the common ranges,
// specials and every length 0..9 (the scalar tail).
func TestSlicesEqualScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0.999999, -0.999999, 88.72, 89, 89.01, -103.9, -104, -104.1,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-40, -1e-40, 3.9, 4, 1e30}
	var xs []float32
	xs = append(xs, specials...)
	for i := 0; i < 200000; i++ {
		switch i % 4 {
		case 0:
			xs = append(xs, float32(r.NormFloat64()))
		case 1:
			xs = append(xs, float32(r.Float64()*200-105))
		case 2:
			xs = append(xs, float32(r.Float64()*2-1))
		default:
			xs = append(xs, math.Float32frombits(uint32(r.Uint64())))
		}
	}
	for _, f := range []struct {
		name   string
		slice  func(dst, src []float32)
		scalar func(float32) float32
	}{{"Exp32Slice", Exp32Slice, Exp32}, {"Erf32Slice", Erf32Slice, Erf32}} {
		for n := 0; n <= 9; n++ {
			check(t, f.name, f.slice, f.scalar, xs[:n])
		}
		check(t, f.name, f.slice, f.scalar, xs)
		check(t, f.name, f.slice, f.scalar, xs[3:])
	}
}

func check(t *testing.T, name string, slice func(dst, src []float32), scalar func(float32) float32, xs []float32) {
	t.Helper()
	got := make([]float32, len(xs))
	slice(got, xs)
	for i, x := range xs {
		w := scalar(x)
		if math.Float32bits(got[i]) != math.Float32bits(w) && !(w != w && got[i] != got[i]) {
			t.Fatalf("%s: element %d (%v) = %v, scalar %v", name, i, x, got[i], w)
		}
	}
}

// benchScalarVsSlice times scalar element by element against slice over
// 4096 inputs x(i).
func benchScalarVsSlice(b *testing.B, x func(i int) float32, scalar func(float32) float32, slice func(dst, src []float32)) {
	xs := make([]float32, 4096)
	for i := range xs {
		xs[i] = x(i)
	}
	dst := make([]float32, len(xs))
	b.Run("scalar", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for j, v := range xs {
				dst[j] = scalar(v)
			}
		}
	})
	b.Run("slice", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			slice(dst, xs)
		}
	})
}

func BenchmarkExp32(b *testing.B) {
	benchScalarVsSlice(b, func(i int) float32 { return float32(i%200)/10 - 10 }, Exp32, Exp32Slice)
}

func BenchmarkErf32(b *testing.B) {
	benchScalarVsSlice(b, func(i int) float32 { return float32(i%200)/100 - 1 }, Erf32, Erf32Slice)
}
