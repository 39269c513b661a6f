package canon

import (
	"math"
	"math/rand/v2"
	"testing"
)

// sumRef is Sum's definition written out (the tree, sequential leaves).
func sumRef(x []float32) float32 {
	n := len(x)
	if n <= SumLeaf {
		var s float32
		for _, v := range x {
			s += v
		}
		return s
	}
	return sumRef(x[:n/2]) + sumRef(x[n/2:])
}

// TestSumMatchesDefinition: the interleaved leaves of Sum give the
// definition's bits for every length up to 600 and some large ones.
func TestSumMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, 1<<17+8)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * float32(math.Exp(float64(r.IntN(40)-20)))
	}
	lens := []int{1 << 17, 1<<17 + 3, 100000, 8192, 4097}
	for n := 0; n <= 600; n++ {
		lens = append(lens, n)
	}
	for _, n := range lens {
		for _, off := range []int{0, 1} {
			v := x[off : off+n]
			if got, want := Sum(v), sumRef(v); math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n %d: Sum %v, definition %v", n, got, want)
			}
		}
	}
}
