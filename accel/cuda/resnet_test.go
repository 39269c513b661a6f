//go:build cuda || cudaemu

package cuda_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// TestResNetMaxPool: padded max pooling (ml.MaxPool, the ResNet stem's
// 3x3/2 pad 1) on the device against package ml, forward (the first
// maximum among the in-bounds window elements, with ties and zeros of
// both signs) and backward (a fresh gradient, then one added into it).
func TestResNetMaxPool(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(55, 56))
	for _, g := range [][7]int{ // N, C, H, W, K, S, P
		{1, 1, 1, 1, 2, 1, 1}, {2, 3, 8, 8, 3, 2, 1}, {1, 2, 7, 5, 3, 2, 1}, {2, 2, 6, 6, 2, 2, 1},
		{1, 3, 9, 9, 3, 1, 1}, {3, 2, 16, 16, 3, 2, 1}, {1, 1, 4, 4, 5, 1, 2},
	} {
		n, ch, h, w, k, s, p := g[0], g[1], g[2], g[3], g[4], g[5], g[6]
		name := fmt.Sprintf("MaxPool %v", g)
		xs := values(r, n*ch*h*w, 1)
		for i := range xs {
			if r.IntN(3) == 0 {
				xs[i] = float32(r.IntN(3)) // ties
			}
		}
		x := gradInput(append([]float32(nil), xs...), n, ch, h, w)
		p1, p2 := &ml.MaxPool{K: k, S: s, P: p}, &ml.MaxPool{K: k, S: s, P: p}
		c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
		y1 := p1.Forward(c, x)
		y2 := p2.Forward(c, x)
		g1, g2 := values(r, y1.Numel(), 1), values(r, y2.Numel(), 1)
		y1.Grad = g1
		must(t, c.Tape.BackwardFrom(y2, g2))

		geom := cuda.PoolGeom{Planes: n * ch, H: h, W: w, K: k, S: s, P: p}
		dx := cuda.MustBuf(t, b, xs)
		dy := cuda.MustBuf(t, b, make([]float32, y1.Numel()))
		arg := cuda.MustBuf(t, b, make([]float32, y1.Numel()))
		must(t, b.Pool2dForward(dy, arg, dx, geom))
		equalBits(t, name+" y", cuda.Download(t, dy), y1.Data)
		gx := cuda.MustBuf(t, b, values(r, len(xs), 1))
		must(t, gx.Zero()) // ml: x.grad() clears a fresh gradient, then adds
		must(t, b.Pool2dBackward(gx, cuda.MustBuf(t, b, g2), arg, geom))
		must(t, b.Pool2dBackward(gx, cuda.MustBuf(t, b, g1), arg, geom))
		equalBits(t, name+" dx", cuda.Download(t, gx), x.Grad)
	}
	if err := b.Pool2dForward(nil, nil, nil, cuda.PoolGeom{Avg: true, Planes: 1, H: 4, W: 4, K: 2, S: 2, P: 1}); err == nil {
		t.Error("padded average pooling accepted")
	}
}
