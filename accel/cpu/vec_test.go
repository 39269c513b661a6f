package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSGDMomentumMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 100, 1031} {
		w, v, g := randMat(r, n), randMat(r, n), randMat(r, n)
		w2, v2 := append([]float32(nil), w...), append([]float32(nil), v...)
		SGDMomentum(w, v, g, 0.05, 0.9)
		sgdMomentumGo(w2, v2, g, 0.05, 0.9)
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(w2[i]) || math.Float32bits(v[i]) != math.Float32bits(v2[i]) {
				t.Fatalf("n=%d i=%d: w %#x v %#x, Go %#x %#x", n, i, math.Float32bits(w[i]), math.Float32bits(v[i]), math.Float32bits(w2[i]), math.Float32bits(v2[i]))
			}
		}
	}
}

func TestReLUMask(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for _, n := range []int{0, 3, 16, 33, 1000} {
		x, src := randMat(r, n), randMat(r, n)
		if n > 2 {
			x[0], x[1], x[2] = float32(math.NaN()), float32(math.Copysign(0, -1)), float32(math.Inf(1))
		}
		dst := make([]float32, n)
		ReLUMask(dst, x, src)
		for i := range dst {
			want := float32(0)
			if x[i] > 0 {
				want = src[i]
			}
			if math.Float32bits(dst[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d i=%d x=%g: %#x, want %#x", n, i, x[i], math.Float32bits(dst[i]), math.Float32bits(want))
			}
		}
	}
}

func TestMaxPool2Row(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	for _, n := range []int{1, 15, 16, 17, 40} {
		r0, r1 := randMat(r, 2*n+1), randMat(r, 2*n+1)
		for i := 0; i < len(r0); i += 3 { // ties and NaNs
			r1[i] = r0[i]
		}
		if n >= 3 {
			r0[1], r1[4] = float32(math.NaN()), float32(math.NaN())
		}
		y, arg := make([]float32, n), make([]int32, n)
		MaxPool2Row(r0, r1, y, arg, 100, 2*n+7)
		for o := 0; o < n; o++ {
			i := 2 * o
			best, bi := r0[i], 100+i
			for k, v := range []float32{r0[i+1], r1[i], r1[i+1]} {
				if v > best {
					best, bi = v, 100+[]int{i + 1, 2*n + 7 + i, 2*n + 7 + i + 1}[k]
				}
			}
			if math.Float32bits(y[o]) != math.Float32bits(best) || int(arg[o]) != bi {
				t.Fatalf("n=%d o=%d: %g@%d, want %g@%d", n, o, y[o], arg[o], best, bi)
			}
		}
	}
}
