//go:build cuda || cudaemu

package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/canon"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// The Transformer kernels (kernels/transformer.cu, transformer.go) and the
// LayerNorm and GELU kernels a Transformer uses, checked bit for bit
// against package ml itself: each test runs the ml layer (Forward and its
// recorded backward) and the device operation on the same inputs. This is
// an external test package so that it may import ml (tests/arch lets test
// files import any layer; ml must never import accel/cuda, and an
// in-package test would close a cycle the day an ml file tagged cuda
// does). Every test is named TestTransformer* (scripts/gpu-check.sh runs
// them by that name and fails when one is missing or skipped).

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// equalBits fails at the first value whose bits differ.
func equalBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d is %g (%#08x), want %g (%#08x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// values returns n values of mixed magnitude with exact zeros of both
// signs and tiny values, times scale (no NaN: NaN payloads are not
// canonical on the device, see doc.go).
func values(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		switch r.IntN(20) {
		case 0:
			v[i] = 0
		case 1:
			v[i] = float32(math.Copysign(0, -1))
		case 2:
			v[i] = float32(r.NormFloat64() * 1e-20)
		default:
			v[i] = float32(r.NormFloat64() * scale)
		}
	}
	return v
}

// gradInput wraps data as an ml tensor that needs a gradient, so that the
// layers' backward runs into its Grad. ml creates such tensors only as
// parameters, so this borrows a parameter tensor of a throwaway Linear.
func gradInput(data []float32, shape ...int) *ml.Tensor {
	x := ml.NewLinear("input", 1, 1, 0, 0).W.T
	x.Data, x.Shape, x.Grad = data, shape, nil
	return x
}

func cpuBackend(t *testing.T) accel.Backend {
	t.Helper()
	c, err := cpu.New(cpu.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ---------------------------------------------------------------- attention

// attnRecorder is the accel.Backend of ml.Attention in the softmax test:
// GEMMs run on the CPU backend, and for every (sample, head) pair, which
// ml runs one after another on a backend that is not *cpu.Backend, it
// keeps the operands of the softmax: the products with a transposed B are
// Q·Kᵀ (the raw scores, forward) and dO·Vᵀ (dP, backward); the plain
// products whose A is T x T with stride T are P·V (A = P, forward) and
// dRaw·K (A = dRaw, backward). With inject set, the raw scores and dP of
// the pairs are replaced, in that order, by the given blocks before ml
// reads them (adversarial scores ml's own arithmetic then works on).
type attnRecorder struct {
	cpu    accel.Backend
	t      int
	inject [][]float32
	prods  [][]float32 // raw scores of each pair, then dP of each pair
	lefts  [][]float32 // P of each pair, then dRaw of each pair
}

func (r *attnRecorder) Name() string { return "attention recorder" }
func (r *attnRecorder) Threads() int { return 1 }
func (r *attnRecorder) Gemm(transA, transB bool, m, n, k int, a []float32, lda int, bm []float32, ldb int, c []float32, ldc int) {
	t := r.t
	if !transA && !transB && m == t && k == t && lda == t {
		r.lefts = append(r.lefts, append([]float32(nil), a[:t*t]...))
	}
	r.cpu.Gemm(transA, transB, m, n, k, a, lda, bm, ldb, c, ldc)
	if transB {
		if m != t || n != t || ldc != t {
			panic(fmt.Sprintf("attention recorder: unexpected product %dx%d (ldc %d)", m, n, ldc))
		}
		if len(r.inject) > 0 {
			copy(c[:t*t], r.inject[0])
			r.inject = r.inject[1:]
		}
		r.prods = append(r.prods, append([]float32(nil), c[:t*t]...))
	}
}

// hardScores is a T x T block of scores whose rows are hard cases for the
// softmax: ties, one dominant key, huge finite values (S - mx may be
// -Inf, Exp32 of it +0), subnormals and zeros of both signs, and ordinary
// ones.
func hardScores(r *rand.Rand, t int) []float32 {
	s := make([]float32, t*t)
	for i := 0; i < t; i++ {
		row := s[i*t : (i+1)*t]
		switch i % 6 {
		case 0:
			c := float32(r.NormFloat64() * 10)
			for j := range row {
				row[j] = c
			}
		case 1:
			copy(row, values(r, t, 1))
			row[r.IntN(t)] = 1e4
		case 2:
			for j := range row {
				row[j] = float32(math.Copysign(math.MaxFloat32*r.Float64(), r.NormFloat64()))
			}
		case 3:
			for j := range row {
				row[j] = float32(r.NormFloat64() * 1e-41) // subnormal or zero
			}
			row[0] = float32(math.Copysign(0, -1))
		case 4:
			copy(row, values(r, t, 30))
		default:
			copy(row, values(r, t, 1))
		}
	}
	return s
}

func TestTransformerAttentionSoftmax(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(41, 42))
	type shape struct {
		n, t, d, heads int
	}
	shapes := []shape{{1, 1, 2, 1}, {2, 5, 8, 2}, {1, 16, 12, 3}, {1, 17, 12, 3}, {3, 33, 16, 4}, {1, 70, 8, 2}, {1, 257, 4, 1}, {1, 300, 6, 2}}
	for _, sh := range shapes {
		for _, causal := range []bool{false, true} {
			for _, hard := range []bool{false, true} {
				name := fmt.Sprintf("n=%d T=%d D=%d heads=%d causal=%v hard=%v", sh.n, sh.t, sh.d, sh.heads, causal, hard)
				T, pairs := sh.t, sh.n*sh.heads
				rec := &attnRecorder{cpu: cpuBackend(t), t: T}
				if hard {
					for p := 0; p < pairs; p++ {
						rec.inject = append(rec.inject, hardScores(r, T))
					}
					for p := 0; p < pairs; p++ {
						rec.inject = append(rec.inject, values(r, T*T, []float64{1e-3, 1, 1e3, 1e20}[p%4]))
					}
				}
				// ml: Attention forward and backward.
				x := gradInput(values(r, sh.n*T*3*sh.d, 1), sh.n, T, 3*sh.d)
				att := &ml.Attention{Heads: sh.heads, Causal: causal}
				c := &ml.Ctx{Backend: rec, Tape: &ml.Tape{}, Train: true}
				y := att.Forward(c, x)
				must(t, c.Tape.BackwardFrom(y, values(r, y.Numel(), 1)))
				if len(rec.prods) != 2*pairs || len(rec.lefts) != 2*pairs {
					t.Fatalf("%s: recorded %d score and %d probability blocks, want %d each", name, len(rec.prods), len(rec.lefts), 2*pairs)
				}
				scale := 1 / canon.Sqrt32(float32(sh.d/sh.heads)) // ml's Attention.scale
				join := func(blocks [][]float32) []float32 {
					var v []float32
					for _, blk := range blocks {
						v = append(v, blk...)
					}
					return v
				}
				raw, wantP := join(rec.prods[:pairs]), join(rec.lefts[:pairs])
				dP, wantDRaw := join(rec.prods[pairs:]), join(rec.lefts[pairs:])

				// Device: separate output, and in place as ml does.
				draw := cuda.MustBuf(t, b, raw)
				dp := cuda.MustBuf(t, b, make([]float32, len(raw)))
				must(t, b.AttentionSoftmax(dp, draw, pairs, T, causal, scale))
				equalBits(t, name+" P", cuda.Download(t, dp), wantP)
				must(t, b.AttentionSoftmax(draw, draw, pairs, T, causal, scale))
				equalBits(t, name+" P in place", cuda.Download(t, draw), wantP)

				ddp := cuda.MustBuf(t, b, dP)
				dout := cuda.MustBuf(t, b, make([]float32, len(dP)))
				must(t, b.AttentionSoftmaxBackward(dout, dp, ddp, pairs, T, causal, scale))
				equalBits(t, name+" dRaw", cuda.Download(t, dout), wantDRaw)
				must(t, b.AttentionSoftmaxBackward(ddp, dp, ddp, pairs, T, causal, scale))
				equalBits(t, name+" dRaw in place", cuda.Download(t, ddp), wantDRaw)
			}
		}
	}
}

// ---------------------------------------------------------------- LayerNorm and GELU

func TestTransformerLayerNorm(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(43, 44))
	for _, sh := range [][3]int{{1, 1, 1}, {2, 3, 1}, {2, 5, 8}, {3, 17, 33}, {1, 7, 300}, {2, 64, 64}, {1, 3, 1031}} {
		n, T, d := sh[0], sh[1], sh[2]
		rows := n * T
		name := fmt.Sprintf("LayerNorm [%d %d %d]", n, T, d)
		ln := ml.NewLayerNorm("ln", d)
		copy(ln.Gamma.T.Data, values(r, d, 1))
		copy(ln.Beta.T.Data, values(r, d, 1))
		xs := values(r, rows*d, 3)
		for i := 0; i < d && d > 2; i++ { // a constant row (variance 0)
			xs[i] = 0.75
		}
		x := gradInput(append([]float32(nil), xs...), n, T, d)
		c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
		y := ln.Forward(c, x)
		gy := values(r, y.Numel(), 1)
		must(t, c.Tape.BackwardFrom(y, gy))

		g := cuda.LayerNormGeom(rows, d)
		dx, dgam, dbet := cuda.MustBuf(t, b, xs), cuda.MustBuf(t, b, ln.Gamma.T.Data), cuda.MustBuf(t, b, ln.Beta.T.Data)
		dy, xhat := cuda.MustBuf(t, b, make([]float32, rows*d)), cuda.MustBuf(t, b, make([]float32, rows*d))
		mean, rstd := cuda.MustBuf(t, b, make([]float32, rows)), cuda.MustBuf(t, b, make([]float32, rows))
		must(t, b.NormForward(dy, xhat, mean, rstd, dx, dgam, dbet, nil, nil, g, true, true, ln.Eps, 0))
		equalBits(t, name+" y", cuda.Download(t, dy), y.Data)

		// ml's gradients are fresh: zero, then add.
		ggy := cuda.MustBuf(t, b, gy)
		gx, gg, gb := cuda.MustBuf(t, b, make([]float32, rows*d)), cuda.MustBuf(t, b, make([]float32, d)), cuda.MustBuf(t, b, make([]float32, d))
		must(t, b.NormBackward(gx, gg, gb, ggy, xhat, dgam, rstd, g))
		equalBits(t, name+" dx", cuda.Download(t, gx), x.Grad)
		equalBits(t, name+" dgamma", cuda.Download(t, gg), ln.Gamma.T.Grad)
		equalBits(t, name+" dbeta", cuda.Download(t, gb), ln.Beta.T.Grad)
	}
}

func TestTransformerGELU(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(45, 46))
	for _, n := range []int{1, 17, 256, 1000} {
		xs := values(r, n, 3)
		special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1.5e-45, 0.5, -0.5, 1, -1, 2, -2, 3.99, -3.99, 4, -4, 5, -5, 10, -10, 20, -20, 40, -40, 100, -100, 3e38, -3e38}
		copy(xs, special[:min(n, len(special))])
		x := gradInput(append([]float32(nil), xs...), n)
		act := &ml.Activation{Kind: "gelu"}
		c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
		y := act.Forward(c, x)
		gy := values(r, n, 1)
		must(t, c.Tape.BackwardFrom(y, gy))

		dx, dy := cuda.MustBuf(t, b, xs), cuda.MustBuf(t, b, make([]float32, n))
		must(t, b.GELU(dy, dx))
		equalBits(t, fmt.Sprintf("GELU n=%d", n), cuda.Download(t, dy), y.Data)
		ddx, dgy := cuda.MustBuf(t, b, values(r, n, 1)), cuda.MustBuf(t, b, gy)
		must(t, ddx.Zero()) // ml's fresh gradient: cleared, then added into
		must(t, b.GELUBackwardAcc(ddx, dx, dgy))
		equalBits(t, fmt.Sprintf("GELU backward n=%d", n), cuda.Download(t, ddx), x.Grad)
	}
}

// ---------------------------------------------------------------- pooling, patches, positions

func TestTransformerTokenPool(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(47, 48))
	for _, sh := range [][3]int{{1, 1, 1}, {2, 5, 3}, {3, 16, 8}, {2, 17, 33}, {1, 300, 5}, {4, 64, 20}, {1, 4097, 3}, {2, 33333, 1}} {
		n, T, d := sh[0], sh[1], sh[2]
		for _, modes := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			name := fmt.Sprintf("TokenPool [%d %d %d] last=%v,%v", n, T, d, modes[0], modes[1])
			xs := values(r, n*T*d, 1)
			x := gradInput(append([]float32(nil), xs...), n, T, d)
			tp1, tp2 := &ml.TokenPool{Last: modes[0]}, &ml.TokenPool{Last: modes[1]}
			c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
			y1 := tp1.Forward(c, x)
			y2 := tp2.Forward(c, x)
			g1, g2 := values(r, n*d, 1), values(r, n*d, 1)
			// ml runs tp2's backward first (x's gradient is fresh: written),
			// then tp1's (added), which reads y1.Grad.
			y1.Grad = g1
			must(t, c.Tape.BackwardFrom(y2, g2))

			dx, dy := cuda.MustBuf(t, b, xs), cuda.MustBuf(t, b, make([]float32, n*d))
			must(t, b.TokenPoolForward(dy, dx, n, T, d, modes[0]))
			equalBits(t, name+" y1", cuda.Download(t, dy), y1.Data)
			must(t, b.TokenPoolForward(dy, dx, n, T, d, modes[1]))
			equalBits(t, name+" y2", cuda.Download(t, dy), y2.Data)
			gx := cuda.MustBuf(t, b, values(r, n*T*d, 1)) // garbage: the fresh pass overwrites it
			must(t, b.TokenPoolBackward(gx, cuda.MustBuf(t, b, g2), n, T, d, modes[1], true))
			must(t, b.TokenPoolBackward(gx, cuda.MustBuf(t, b, g1), n, T, d, modes[0], false))
			equalBits(t, name+" dx", cuda.Download(t, gx), x.Grad)
		}
	}
}

func TestTransformerPatchTokens(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(49, 50))
	for _, sh := range [][4]int{{1, 1, 1, 1}, {2, 3, 2, 2}, {2, 8, 4, 4}, {1, 17, 3, 5}, {3, 64, 7, 7}} {
		n, d, h, w := sh[0], sh[1], sh[2], sh[3]
		hw := h * w
		name := fmt.Sprintf("PatchTokens [%d %d %d %d]", n, d, h, w)
		xs := values(r, n*d*hw, 1)
		x := gradInput(append([]float32(nil), xs...), n, d, h, w)
		p1, p2 := &ml.PatchTokens{}, &ml.PatchTokens{}
		c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
		y1 := p1.Forward(c, x)
		y2 := p2.Forward(c, x)
		g1, g2 := values(r, y1.Numel(), 1), values(r, y2.Numel(), 1)
		y1.Grad = g1
		must(t, c.Tape.BackwardFrom(y2, g2))

		dx, dy := cuda.MustBuf(t, b, xs), cuda.MustBuf(t, b, make([]float32, len(xs)))
		must(t, b.PatchTokensForward(dy, dx, n, d, hw))
		equalBits(t, name+" y", cuda.Download(t, dy), y2.Data)
		gx := cuda.MustBuf(t, b, values(r, len(xs), 1))
		must(t, b.PatchTokensBackward(gx, cuda.MustBuf(t, b, g2), n, d, hw, true))
		must(t, b.PatchTokensBackward(gx, cuda.MustBuf(t, b, g1), n, d, hw, false))
		equalBits(t, name+" dx", cuda.Download(t, gx), x.Grad)
	}
}

func TestTransformerPositions(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(51, 52))
	for _, sh := range [][3]int{{1, 1, 1}, {2, 5, 3}, {3, 16, 8}, {5, 17, 33}, {2, 64, 64}} {
		n, T, d := sh[0], sh[1], sh[2]
		m := T * d
		name := fmt.Sprintf("Positions [%d %d %d]", n, T, d)
		tab := values(r, m, 0.02)
		pos := ml.NewLinear("pos_emb", 1, 1, 0, 0).W // a parameter: its tensor gets a gradient
		pos.T.Data, pos.T.Shape = append([]float32(nil), tab...), []int{T, d}
		xs := values(r, n*m, 1)
		x := gradInput(append([]float32(nil), xs...), n, T, d)
		l1, l2 := &ml.Positions{T: T, D: d, P: pos}, &ml.Positions{T: T, D: d, P: pos}
		c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
		y1 := l1.Forward(c, x)
		y1d := append([]float32(nil), y1.Data...)
		y2 := l2.Forward(c, x)
		g1, g2 := values(r, n*m, 1), values(r, n*m, 1)
		y1.Grad = g1
		must(t, c.Tape.BackwardFrom(y2, g2))

		dx, dtab, dy := cuda.MustBuf(t, b, xs), cuda.MustBuf(t, b, tab), cuda.MustBuf(t, b, make([]float32, n*m))
		must(t, b.PositionsForward(dy, dx, dtab, n, m))
		equalBits(t, name+" y1", cuda.Download(t, dy), y1d)
		equalBits(t, name+" y2", cuda.Download(t, dy), y2.Data)
		// dP: l2's backward writes (fresh), l1's adds; dx is dy passed on.
		gp := cuda.MustBuf(t, b, values(r, m, 1))
		dg1, dg2 := cuda.MustBuf(t, b, g1), cuda.MustBuf(t, b, g2)
		must(t, b.ColSumInto(gp, dg2, n, m, true))
		must(t, b.ColSumInto(gp, dg1, n, m, false))
		equalBits(t, name+" dP", cuda.Download(t, gp), pos.T.Grad)
		gx := cuda.MustBuf(t, b, make([]float32, n*m))
		must(t, gx.CopyFrom(dg2))
		must(t, b.Add(gx, dg1))
		equalBits(t, name+" dx", cuda.Download(t, gx), x.Grad)
	}
}

// ---------------------------------------------------------------- sinusoidal positions

func TestTransformerSinCos(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(53, 54))
	xs := []float32{0, float32(math.Copysign(0, -1)), 1.5e-45, -1.5e-45, 1e-30, 1, -1, 1 << 20, -(1 << 20),
		math.Nextafter32(1<<20, 2<<20), -math.Nextafter32(1<<20, 2<<20), 3e38, -3e38,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for k := -40; k <= 40; k++ { // near multiples of π/4 (quadrant and reduction edges)
		v := float32(float64(k) * math.Pi / 4)
		xs = append(xs, v, math.Nextafter32(v, 1e9), math.Nextafter32(v, -1e9))
	}
	for i := 0; i < 300000; i++ {
		switch i % 4 {
		case 3: // a float32 near a large multiple of π/2 (small reduced r, large n)
			xs = append(xs, math.Nextafter32(float32(float64(r.IntN(1<<19))*math.Pi/2), float32(r.NormFloat64())))
		case 0:
			xs = append(xs, float32(r.NormFloat64()*4))
		case 1:
			xs = append(xs, float32((r.Float64()*2-1)*4096))
		default:
			xs = append(xs, float32((r.Float64()*2-1)*(1<<20)))
		}
	}
	n := len(xs)
	ws, wc := make([]float32, n), make([]float32, n)
	for i, v := range xs {
		ws[i], wc[i] = canon.SinCos32(v)
	}
	dx, ds, dc := cuda.MustBuf(t, b, xs), cuda.MustBuf(t, b, make([]float32, n)), cuda.MustBuf(t, b, make([]float32, n))
	must(t, b.SinCos(ds, dc, dx))
	equalBits(t, "SinCos sin", cuda.Download(t, ds), ws)
	equalBits(t, "SinCos cos", cuda.Download(t, dc), wc)
}

func TestTransformerSinusoidalTable(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	shapes := [][2]int{{100, 1}, {64, 256}, {4096, 33}, {1024, 768}}
	for d := 1; d <= 100; d++ { // every width: float32(-2i)/float32(d) for many d
		shapes = append(shapes, [2]int{3, d})
	}
	for _, sh := range shapes {
		T, d := sh[0], sh[1]
		if T*d > 1<<18 && b.Emulated() {
			continue // slow on the emulator
		}
		want := ml.NewSinusoidalPositions(T, d).Fixed
		tab := cuda.MustBuf(t, b, make([]float32, T*d))
		must(t, b.SinusoidalPositions(tab, T, d))
		equalBits(t, fmt.Sprintf("sinusoidal table %dx%d", T, d), cuda.Download(t, tab), want)
	}
}

func TestTransformerEmbedding(t *testing.T) {
	b := cuda.OpenOrSkip(t, cuda.DefaultOptions())
	r := rand.New(rand.NewPCG(53, 54))
	for _, sh := range [][3]int{{1, 1, 1}, {5, 7, 3}, {2, 300, 8}, {40, 64, 33}, {3, 1000, 2}} {
		v, npos, d := sh[0], sh[1], sh[2]
		name := fmt.Sprintf("Embedding V=%d positions=%d D=%d", v, npos, d)
		ids := make([]float32, npos)
		for i := range ids {
			ids[i] = float32(r.IntN(v)) // repeated ids: the backward's order matters
		}
		e := ml.NewEmbedding("emb", v, d, 1, 0)
		copy(e.W.T.Data, values(r, v*d, 1))
		c := &ml.Ctx{Backend: cpuBackend(t), Tape: &ml.Tape{}, Train: true}
		x, err := ml.FromData(append([]float32(nil), ids...), 1, npos)
		must(t, err)
		y := e.Forward(c, x)
		g := values(r, npos*d, 1)
		must(t, c.Tape.BackwardFrom(y, g))

		dids, dtab := cuda.MustBuf(t, b, ids), cuda.MustBuf(t, b, e.W.T.Data)
		dy := cuda.MustBuf(t, b, values(r, npos*d, 1)) // garbage: overwritten
		must(t, b.EmbeddingForward(dy, dids, dtab, npos, d))
		equalBits(t, name+" y", cuda.Download(t, dy), y.Data)
		dg := cuda.MustBuf(t, b, values(r, v*d, 1))
		must(t, dg.Zero()) // ml clears the fresh gradient, then adds
		must(t, b.EmbeddingBackwardAcc(dg, dids, cuda.MustBuf(t, b, g), npos, d))
		equalBits(t, name+" dW", cuda.Download(t, dg), e.W.T.Grad)
	}
}
