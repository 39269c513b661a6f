package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddMatchesGo: the vector Add gives the scalar loop's bits for every
// length (tails included), with signed zeros, subnormals, infinities.
func TestAddMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-40, -1e-40, float32(math.Inf(1)), 3e38}
	for n := 0; n < 100; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			if r.IntN(4) == 0 {
				a[i], b[i] = special[r.IntN(len(special))], special[r.IntN(len(special))]
			}
		}
		want := append([]float32(nil), a...)
		for i := range want {
			want[i] += b[i]
		}
		Add(a, b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n %d: [%d] = %v, scalar %v", n, i, a[i], want[i])
			}
		}
	}
}
