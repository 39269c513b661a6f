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
