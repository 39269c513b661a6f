//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pouw/pouwd/accel/canon"
	"github.com/pouw/pouwd/accel/cpu"
)

// The references below restate, operation by operation, the Go code of
// package ml (layers.go, loss.go, optim.go, conv.go) that the kernels
// mirror; ml is not imported (it is built on top of accel).

var sizes = []int{1, 3, 17, 65, 129, 255, 1031}

func clone(v []float32) []float32 { return append([]float32(nil), v...) }

const (
	invSqrt2   = float32(0.70710678118654752440)
	invSqrt2Pi = float32(0.39894228040143267794)
)

func geluCDF(x float32) float32 { return float32(0.5 * (1 + canon.Erf32(float32(x*invSqrt2)))) }

func TestElementwise(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range sizes {
		x, y, z := randVals(r, n), randVals(r, n), randVals(r, n)
		x[0] = float32(math.NaN()) // compared, never computed with
		dx, dy := mustBuf(t, b, x), mustBuf(t, b, y)
		out := mustBuf(t, b, make([]float32, n))
		x[0] = 0.25
		if err := dx.Upload(x); err != nil {
			t.Fatal(err)
		}
		check := func(name string, run func() error, want []float32) {
			t.Helper()
			if err := run(); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("%s n=%d", name, n), download(t, out), want)
		}
		reset := func(v []float32) {
			if err := out.Upload(v); err != nil {
				t.Fatal(err)
			}
		}

		want := clone(z)
		for i := range want {
			want[i] += x[i]
		}
		reset(z)
		check("Add", func() error { return b.Add(out, dx) }, want)

		want = clone(z)
		for i := range want {
			want[i] += float32(x[i] * y[i])
		}
		reset(z)
		check("MulAcc", func() error { return b.MulAcc(out, dx, dy) }, want)

		want = make([]float32, n)
		for i := range want {
			want[i] = float32(x[i] * y[i])
		}
		check("Mul", func() error { return b.Mul(out, dx, dy) }, want)

		rows := max(1, n/17)
		cols := n / rows
		want = clone(z)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				want[i*cols+j] += y[j]
			}
		}
		reset(z)
		check("AddBiasRows", func() error { return b.AddBiasRows(out, dy, rows, cols) }, want)

		xn := clone(x)
		xn[n/2] = float32(math.NaN())
		dxn := mustBuf(t, b, xn)
		want = make([]float32, n)
		cpu.ReLUMask(want, xn, y)
		check("ReLUMask", func() error { return b.ReLUMask(out, dxn, dy) }, want)

		want = clone(z)
		for i, v := range xn {
			if v > 0 {
				want[i] += y[i]
			}
		}
		reset(z)
		check("ReLUBackwardAcc", func() error { return b.ReLUBackwardAcc(out, dxn, dy) }, want)

		want = make([]float32, n)
		for i, v := range x {
			want[i] = float32(v * geluCDF(v))
		}
		check("GELU", func() error { return b.GELU(out, dx) }, want)

		want = clone(z)
		for i, v := range x {
			pdf := float32(canon.Exp32(float32(float32(-0.5*v)*v)) * invSqrt2Pi)
			d := geluCDF(v) + float32(v*pdf)
			want[i] += float32(y[i] * d)
		}
		reset(z)
		check("GELUBackwardAcc", func() error { return b.GELUBackwardAcc(out, dx, dy) }, want)

		th := make([]float32, n)
		for i, v := range x {
			th[i] = canon.Tanh32(v)
		}
		dth := mustBuf(t, b, th)
		want = clone(z)
		for i, v := range th {
			want[i] += float32(y[i] * (1 - float32(v*v)))
		}
		reset(z)
		check("TanhBackwardAcc", func() error { return b.TanhBackwardAcc(out, dth, dy) }, want)

		mask := make([]float32, n)
		scale := 1 / (1 - float32(0.3))
		want = make([]float32, n)
		for i, v := range x {
			if r.Float32() >= 0.3 {
				mask[i] = scale
				want[i] = float32(v * scale)
			}
		}
		dmask := mustBuf(t, b, mask)
		reset(z)
		check("DropoutForward", func() error { return b.DropoutForward(out, dx, dmask) }, want)
	}
}

func TestOptimizers(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(13, 14))
	for _, n := range sizes {
		w0, v0, g := randVals(r, n), randVals(r, n), randVals(r, n)
		dw, dv, dg := mustBuf(t, b, w0), mustBuf(t, b, v0), mustBuf(t, b, g)
		reset := func() {
			if err := dw.Upload(w0); err != nil {
				t.Fatal(err)
			}
			if err := dv.Upload(v0); err != nil {
				t.Fatal(err)
			}
		}
		lr, mu, wd := float32(0.05), float32(0.9), float32(1e-3)

		w := clone(w0)
		for i, gi := range g {
			w[i] -= float32(lr * gi)
		}
		reset()
		if err := b.SGD(dw, dg, lr); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "SGD", download(t, dw), w)

		w, v := clone(w0), clone(v0)
		cpu.SGDMomentum(w, v, g, lr, mu)
		reset()
		if err := b.SGDMomentum(dw, dv, dg, lr, mu); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "SGDMomentum w", download(t, dw), w)
		sameBits(t, "SGDMomentum v", download(t, dv), v)

		for _, momentum := range []bool{false, true} {
			w, v = clone(w0), clone(v0)
			for i, gi := range g {
				d := gi + float32(wd*w[i])
				if momentum {
					d = float32(mu*v[i]) + d
					v[i] = d
				}
				w[i] -= float32(lr * d)
			}
			reset()
			var vb *Buffer
			if momentum {
				vb = dv
			}
			if err := b.SGDWeightDecay(dw, vb, dg, lr, mu, wd); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("SGDWeightDecay momentum=%v w", momentum), download(t, dw), w)
			if momentum {
				sameBits(t, "SGDWeightDecay v", download(t, dv), v)
			}
		}

		for _, c := range []struct {
			wd        float32
			decoupled bool
		}{{0, false}, {0.01, false}, {0.01, true}} {
			w := clone(w0)
			m, v := make([]float32, n), make([]float32, n)
			dm, dv2 := mustBuf(t, b, m), mustBuf(t, b, v)
			if err := dw.Upload(w0); err != nil {
				t.Fatal(err)
			}
			lr, b1, b2, eps := float32(1e-3), float32(0.9), float32(0.999), float32(1e-8)
			b1t, b2t := 1.0, 1.0
			for step := 0; step < 3; step++ {
				// ml.Adam.Step, restated.
				b1t *= float64(b1)
				b2t *= float64(b2)
				bc1 := float32(1 - b1t)
				sbc2 := canon.Sqrt32(float32(1 - b2t))
				stepSize := lr / bc1
				decay := float32(lr * c.wd)
				omb1, omb2 := 1-b1, 1-b2
				for i := range w {
					gi := g[i]
					if c.wd != 0 {
						if c.decoupled {
							w[i] -= float32(decay * w[i])
						} else {
							gi += float32(c.wd * w[i])
						}
					}
					m[i] = float32(b1*m[i]) + float32(omb1*gi)
					v[i] = float32(b2*v[i]) + float32(float32(omb2*gi)*gi)
					denom := canon.Sqrt32(v[i])/sbc2 + eps
					w[i] -= float32(stepSize * (m[i] / denom))
				}
				if err := b.Adam(dw, dg, dm, dv2, NewAdamStep(lr, b1, b2, eps, c.wd, c.decoupled, b1t, b2t)); err != nil {
					t.Fatal(err)
				}
			}
			name := fmt.Sprintf("Adam wd=%v decoupled=%v n=%d", c.wd, c.decoupled, n)
			sameBits(t, name+" w", download(t, dw), w)
			sameBits(t, name+" m", download(t, dm), m)
			sameBits(t, name+" v", download(t, dv2), v)
		}
	}
}

func TestTreeSums(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(15, 16))
	ns := []int{0, 1, 3, 15, 16, 17, 31, 32, 33, 47, 48, 49, 65, 100, 129, 255, 256, 257, 1000, 4097, 33333}
	if !emulated {
		ns = append(ns, 1<<20+7, 3000017)
	}
	for _, n := range ns {
		for _, rows := range []int{1, 3} {
			ldx := n + r.IntN(3)
			x := randVals(r, max(1, (rows-1)*ldx+n))
			mean := randVals(r, rows)
			dx, dmean := mustBuf(t, b, x), mustBuf(t, b, mean)
			out := mustBuf(t, b, make([]float32, rows))
			want := make([]float32, rows)
			for i := range want {
				want[i] = canon.Sum(x[i*ldx : i*ldx+n])
			}
			if err := b.SumRows(out, dx, rows, n, ldx); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("Sum n=%d rows=%d", n, rows), download(t, out), want)
			for i := range want {
				want[i] = canon.SumSq(x[i*ldx:i*ldx+n], mean[i])
			}
			if err := b.SumSqRows(out, dx, dmean, rows, n, ldx); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("SumSq n=%d rows=%d", n, rows), download(t, out), want)
		}
	}
	if s, _ := b.Memory(); s.Used == 0 {
		t.Log("scratch freed")
	}
}

func TestColRowSums(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(17, 18))
	for _, rows := range []int{1, 3, 64} {
		for _, cols := range []int{1, 17, 300} {
			m := randVals(r, rows*cols)
			dm := mustBuf(t, b, m)
			// ml colSum.
			want := make([]float32, cols)
			for i := 0; i < rows; i++ {
				for j := range want {
					want[j] += m[i*cols+j]
				}
			}
			out := mustBuf(t, b, randVals(r, cols))
			if err := b.ColSum(out, dm, rows, cols); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "ColSum", download(t, out), want)
			// Conv2d's bias gradient.
			acc0 := randVals(r, rows)
			want = clone(acc0)
			for i := range want {
				var acc float32
				for _, v := range m[i*cols : (i+1)*cols] {
					acc += v
				}
				want[i] += acc
			}
			out2 := mustBuf(t, b, acc0)
			if err := b.RowSumAcc(out2, dm, rows, cols); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "RowSumAcc", download(t, out2), want)
		}
	}
}

func TestSoftmaxXent(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(19, 20))
	for _, c := range [][2]int{{1, 1}, {1, 10}, {64, 10}, {33, 3}, {5, 1000}} {
		n, k := c[0], c[1]
		logits := randVals(r, n*k)
		for i := range logits {
			logits[i] *= 8
		}
		labels := make([]int32, n)
		for i := range labels {
			labels[i] = int32(r.IntN(k))
		}
		// ml.SoftmaxCrossEntropy, restated.
		prob := make([]float32, n*k)
		losses := make([]float32, n)
		for i := 0; i < n; i++ {
			row := logits[i*k : (i+1)*k]
			mx := row[0]
			for _, v := range row[1:] {
				if v > mx {
					mx = v
				}
			}
			var s float32
			pr := prob[i*k : (i+1)*k]
			for j, v := range row {
				e := canon.Exp32(v - mx)
				pr[j] = e
				s += e
			}
			for j := range pr {
				pr[j] /= s
			}
			losses[i] = canon.Log32(s) - (row[labels[i]] - mx)
		}
		loss := canon.Sum(losses) / float32(n)
		g := float32(float32(1.5) / float32(n))
		dx0 := randVals(r, n*k)
		dxWant := clone(dx0)
		for i := 0; i < n; i++ {
			for j := 0; j < k; j++ {
				p := prob[i*k+j]
				if j == int(labels[i]) {
					p -= 1
				}
				dxWant[i*k+j] += float32(p * g)
			}
		}

		dl, dlab := mustBuf(t, b, logits), mustInt32Buf(t, b, labels)
		dprob, dloss := mustBuf(t, b, make([]float32, n*k)), mustBuf(t, b, make([]float32, n))
		if err := b.SoftmaxXentForward(dprob, dloss, dl, dlab, n, k); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "xent prob", download(t, dprob), prob)
		sameBits(t, "xent losses", download(t, dloss), losses)
		sum := mustBuf(t, b, make([]float32, 1))
		if err := b.SumRows(sum, dloss, 1, n, n); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "xent mean loss", []float32{download(t, sum)[0] / float32(n)}, []float32{loss})
		ddx := mustBuf(t, b, dx0)
		if err := b.SoftmaxXentBackward(ddx, dprob, dlab, n, k, g); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "xent dx", download(t, ddx), dxWant)
	}
}

// im2colRef and col2imRef restate ml Conv2d's general (any stride) path.
func im2colRef(g ConvGeom, x []float32) []float32 {
	oh, ow := g.Out()
	P := oh * ow
	Q := g.N * P
	col := make([]float32, g.Cin*g.K*g.K*Q)
	for s := 0; s < g.N; s++ {
		img := x[s*g.Cin*g.H*g.W:]
		r := 0
		for ch := 0; ch < g.Cin; ch++ {
			plane := img[ch*g.H*g.W:]
			for ki := 0; ki < g.K; ki++ {
				for kj := 0; kj < g.K; kj++ {
					for oy := 0; oy < oh; oy++ {
						for ox := 0; ox < ow; ox++ {
							iy, ix := oy*g.S-g.P+ki, ox*g.S-g.P+kj
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								col[r*Q+s*P+oy*ow+ox] = plane[iy*g.W+ix]
							}
						}
					}
					r++
				}
			}
		}
	}
	return col
}

func col2imRef(g ConvGeom, dx, col []float32) {
	oh, ow := g.Out()
	P := oh * ow
	Q := g.N * P
	for s := 0; s < g.N; s++ {
		dimg := dx[s*g.Cin*g.H*g.W:]
		r := 0
		for ch := 0; ch < g.Cin; ch++ {
			plane := dimg[ch*g.H*g.W:]
			for ki := 0; ki < g.K; ki++ {
				for kj := 0; kj < g.K; kj++ {
					src := col[r*Q+s*P:]
					for oy := 0; oy < oh; oy++ {
						iy := oy*g.S - g.P + ki
						if iy < 0 || iy >= g.H {
							continue
						}
						for ox := 0; ox < ow; ox++ {
							if ix := ox*g.S - g.P + kj; ix >= 0 && ix < g.W {
								plane[iy*g.W+ix] += src[oy*ow+ox]
							}
						}
					}
					r++
				}
			}
		}
	}
}

func TestConvLayout(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(21, 22))
	for _, g := range []ConvGeom{{1, 1, 5, 5, 3, 1, 1}, {2, 3, 7, 6, 3, 2, 1}, {3, 2, 8, 8, 5, 1, 2}, {2, 4, 9, 9, 3, 3, 0}, {1, 2, 4, 4, 1, 1, 0}} {
		x := randVals(r, g.N*g.Cin*g.H*g.W)
		dxs := mustBuf(t, b, x)
		col := mustBuf(t, b, make([]float32, g.ColLen()))
		if err := b.Im2col(col, dxs, g); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("Im2col %+v", g), download(t, col), im2colRef(g, x))

		c := randVals(r, g.ColLen())
		d0 := randVals(r, len(x))
		want := clone(d0)
		col2imRef(g, want, c)
		dc, dd := mustBuf(t, b, c), mustBuf(t, b, d0)
		if err := b.Col2imAcc(dd, dc, g); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("Col2imAcc %+v", g), download(t, dd), want)

		// NCHW <-> CNHW with bias (Conv2d forward output and dout copy).
		oh, ow := g.Out()
		sp, C := oh*ow, 3
		v := randVals(r, g.N*C*sp)
		bias := randVals(r, C)
		cn := make([]float32, len(v))
		for s := 0; s < g.N; s++ {
			for co := 0; co < C; co++ {
				copy(cn[co*g.N*sp+s*sp:co*g.N*sp+(s+1)*sp], v[(s*C+co)*sp:(s*C+co+1)*sp])
			}
		}
		dv, dcn, db := mustBuf(t, b, v), mustBuf(t, b, make([]float32, len(v))), mustBuf(t, b, bias)
		if err := b.NCHWToCNHW(dcn, dv, g.N, C, sp); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "NCHWToCNHW", download(t, dcn), cn)
		back := make([]float32, len(v))
		for s := 0; s < g.N; s++ {
			for co := 0; co < C; co++ {
				for i := 0; i < sp; i++ {
					back[(s*C+co)*sp+i] = cn[co*g.N*sp+s*sp+i] + bias[co]
				}
			}
		}
		if err := b.CNHWToNCHWBias(dv, dcn, db, g.N, C, sp); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "CNHWToNCHWBias", download(t, dv), back)
	}
}

func TestPool(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(23, 24))
	for _, g := range []PoolGeom{{false, 6, 8, 8, 2, 2, 0}, {false, 3, 9, 7, 2, 2, 0}, {false, 2, 9, 9, 3, 2, 0}, {false, 2, 5, 5, 3, 1, 0},
		{true, 4, 8, 8, 2, 2, 0}, {true, 2, 9, 9, 3, 2, 0}, {true, 2, 5, 6, 3, 1, 0}} {
		x := randVals(r, g.Planes*g.H*g.W)
		for i := 0; i < len(x); i += 5 {
			x[i] = x[i/2] // ties
		}
		oh, ow := g.Out()
		y := make([]float32, g.Planes*oh*ow)
		arg := make([]int32, len(y))
		div := float32(g.K * g.K)
		// ml Pool2d's general loop.
		for pl := 0; pl < g.Planes; pl++ {
			src := x[pl*g.H*g.W:]
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					base := oy*g.S*g.W + ox*g.S
					o := pl*oh*ow + oy*ow + ox
					if g.Avg {
						var s float32
						for ki := 0; ki < g.K; ki++ {
							for kj := 0; kj < g.K; kj++ {
								s += src[base+ki*g.W+kj]
							}
						}
						y[o] = s / div
						continue
					}
					best, bi := src[base], base
					for ki := 0; ki < g.K; ki++ {
						for kj := 0; kj < g.K; kj++ {
							if v := src[base+ki*g.W+kj]; v > best {
								best, bi = v, base+ki*g.W+kj
							}
						}
					}
					y[o], arg[o] = best, int32(bi)
				}
			}
		}
		if !g.Avg && g.K == 2 && g.S == 2 { // the AVX-512 path ml uses agrees
			y2 := make([]float32, len(y))
			arg2 := make([]int32, len(y))
			for pl := 0; pl < g.Planes; pl++ {
				for oy := 0; oy < oh; oy++ {
					src := x[pl*g.H*g.W:]
					cpu.MaxPool2Row(src[2*oy*g.W:2*oy*g.W+g.W], src[(2*oy+1)*g.W:(2*oy+1)*g.W+g.W], y2[pl*oh*ow+oy*ow:pl*oh*ow+oy*ow+ow], arg2[pl*oh*ow+oy*ow:pl*oh*ow+oy*ow+ow], 2*oy*g.W, g.W)
				}
			}
			sameBits(t, "MaxPool2Row vs loop", y2, y)
		}
		dxs := mustBuf(t, b, x)
		dy := mustBuf(t, b, make([]float32, len(y)))
		darg := mustInt32Buf(t, b, make([]int32, len(y)))
		if err := b.Pool2dForward(dy, darg, dxs, g); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("Pool2dForward %+v", g), download(t, dy), y)
		if !g.Avg {
			got := make([]int32, len(arg))
			if err := darg.DownloadInt32(got); err != nil {
				t.Fatal(err)
			}
			for i := range arg {
				if got[i] != arg[i] {
					t.Fatalf("Pool2dForward %+v: arg[%d] = %d, want %d", g, i, got[i], arg[i])
				}
			}
		}
		// Backward.
		gy := randVals(r, len(y))
		dx0 := randVals(r, len(x))
		want := clone(dx0)
		for pl := 0; pl < g.Planes; pl++ {
			dplane := want[pl*g.H*g.W:]
			for o, gv := range gy[pl*oh*ow : (pl+1)*oh*ow] {
				if !g.Avg {
					dplane[arg[pl*oh*ow+o]] += gv
					continue
				}
				gd := gv / div
				base := (o/ow)*g.S*g.W + (o%ow)*g.S
				for ki := 0; ki < g.K; ki++ {
					for kj := 0; kj < g.K; kj++ {
						dplane[base+ki*g.W+kj] += gd
					}
				}
			}
		}
		ddx, dgy := mustBuf(t, b, dx0), mustBuf(t, b, gy)
		if err := b.Pool2dBackward(ddx, dgy, darg, g); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprintf("Pool2dBackward %+v", g), download(t, ddx), want)
	}
}

// normRef restates ml.Norm's Forward and backward on slices: x's layout
// per NormGeom; returns y, xhat, rstd and updates the running statistics;
// backward adds into dx, dgam, dbet.
type normRef struct {
	g                NormGeom
	eps, mom         float32
	gamma, beta      []float32
	rmean, rvar      []float32
	xhat, rstd, mean []float32
}

func (l *normRef) idx(g, i int) int {
	if l.g.SP == 0 {
		return g*l.g.M + i
	}
	s, p := i/l.g.SP, i%l.g.SP
	return (s*l.g.C+g)*l.g.SP + p
}

func (l *normRef) forward(x []float32, train, update bool) []float32 {
	layer := l.g.SP == 0
	groups, m := l.g.Groups, l.g.M
	y := make([]float32, len(x))
	l.xhat = make([]float32, len(x))
	l.rstd = make([]float32, groups)
	l.mean = make([]float32, groups)
	v := make([]float32, m)
	mf := float32(m)
	for g := 0; g < groups; g++ {
		for i := range v {
			v[i] = x[l.idx(g, i)]
		}
		var mean, rstd float32
		if layer || train {
			mean = canon.Sum(v) / mf
			vr := canon.SumSq(v, mean) / mf
			rstd = 1 / canon.Sqrt32(vr+l.eps)
			if !layer && update {
				unb := vr
				if m > 1 {
					unb = float32(vr*mf) / float32(m-1)
				}
				rm, rv := &l.rmean[g], &l.rvar[g]
				*rm = float32((1-l.mom)**rm) + float32(l.mom*mean)
				*rv = float32((1-l.mom)**rv) + float32(l.mom*unb)
			}
		} else {
			mean = l.rmean[g]
			rstd = 1 / canon.Sqrt32(l.rvar[g]+l.eps)
		}
		l.rstd[g], l.mean[g] = rstd, mean
		for i := 0; i < m; i++ {
			k := l.idx(g, i)
			gm, bt := l.gamma[g%len(l.gamma)], l.beta[g%len(l.beta)]
			if layer {
				gm, bt = l.gamma[i], l.beta[i]
			}
			xh := float32((x[k] - mean) * rstd)
			l.xhat[k] = xh
			y[k] = float32(xh*gm) + bt
		}
	}
	return y
}

func (l *normRef) backward(dy, dx, dgam, dbet []float32) {
	groups, m := l.g.Groups, l.g.M
	gbuf, gx := make([]float32, m), make([]float32, m)
	if l.g.SP > 0 {
		for g := 0; g < groups; g++ {
			for i := 0; i < m; i++ {
				k := l.idx(g, i)
				gbuf[i] = dy[k]
				gx[i] = float32(dy[k] * l.xhat[k])
			}
			dbet[g] += canon.Sum(gbuf)
			dgam[g] += canon.Sum(gx)
		}
	} else {
		for g := 0; g < groups; g++ {
			for i := 0; i < m; i++ {
				k := l.idx(g, i)
				dbet[i] += dy[k]
				dgam[i] += float32(dy[k] * l.xhat[k])
			}
		}
	}
	mf := float32(m)
	for g := 0; g < groups; g++ {
		for i := 0; i < m; i++ {
			k := l.idx(g, i)
			gm := l.gamma[g%len(l.gamma)]
			if l.g.SP == 0 {
				gm = l.gamma[i]
			}
			gbuf[i] = float32(dy[k] * gm)
			gx[i] = float32(gbuf[i] * l.xhat[k])
		}
		sg, sgx := canon.Sum(gbuf), canon.Sum(gx)
		f := float32(l.rstd[g] / mf)
		for i := 0; i < m; i++ {
			k := l.idx(g, i)
			dx[k] += float32(f * (float32(mf*gbuf[i]) - sg - float32(l.xhat[k]*sgx)))
		}
	}
}

func TestNorm(t *testing.T) {
	b := openOrSkip(t, DefaultOptions())
	r := rand.New(rand.NewPCG(25, 26))
	type tc struct {
		name  string
		g     NormGeom
		train bool
	}
	cases := []tc{
		{"batchnorm NCHW train", BatchNormGeom(4, 3, 25), true},
		{"batchnorm NC train", BatchNormGeom(17, 5, 1), true},
		{"batchnorm eval", BatchNormGeom(3, 2, 9), false},
		{"batchnorm n=1", BatchNormGeom(1, 2, 1), true},
		{"layernorm", LayerNormGeom(7, 33), true},
		{"layernorm wide", LayerNormGeom(3, 300), true},
	}
	for _, c := range cases {
		n := c.g.Groups * c.g.M
		pn := c.g.M
		if c.g.SP > 0 {
			pn = c.g.Groups
		}
		x := randVals(r, n)
		ref := &normRef{g: c.g, eps: 1e-5, mom: 0.1, gamma: randVals(r, pn), beta: randVals(r, pn),
			rmean: randVals(r, c.g.Groups), rvar: make([]float32, c.g.Groups)}
		for i := range ref.rvar {
			ref.rvar[i] = float32(r.Float64() + 0.5)
		}
		dgam0, dbet0, dx0 := randVals(r, pn), randVals(r, pn), randVals(r, n)
		dx, dgam, dbet := clone(dx0), clone(dgam0), clone(dbet0)
		drm, drv := mustBuf(t, b, ref.rmean), mustBuf(t, b, ref.rvar)
		y := ref.forward(x, c.train, true)
		dy := randVals(r, n)
		ref.backward(dy, dx, dgam, dbet)

		dX, dG, dB := mustBuf(t, b, x), mustBuf(t, b, ref.gamma), mustBuf(t, b, ref.beta)
		dY, dXh := mustBuf(t, b, make([]float32, n)), mustBuf(t, b, make([]float32, n))
		dMean, dRstd := mustBuf(t, b, make([]float32, c.g.Groups)), mustBuf(t, b, make([]float32, c.g.Groups))
		if err := b.NormForward(dY, dXh, dMean, dRstd, dX, dG, dB, drm, drv, c.g, c.train, true, 1e-5, 0.1); err != nil {
			t.Fatal(err)
		}
		sameBits(t, c.name+" y", download(t, dY), y)
		sameBits(t, c.name+" xhat", download(t, dXh), ref.xhat)
		sameBits(t, c.name+" rstd", download(t, dRstd), ref.rstd)
		if c.g.SP > 0 {
			sameBits(t, c.name+" running mean", download(t, drm), ref.rmean)
			sameBits(t, c.name+" running var", download(t, drv), ref.rvar)
		}
		ddy, ddx, ddg, ddb := mustBuf(t, b, dy), mustBuf(t, b, dx0), mustBuf(t, b, dgam0), mustBuf(t, b, dbet0)
		if err := b.NormBackward(ddx, ddg, ddb, ddy, dXh, dG, dRstd, c.g); err != nil {
			t.Fatal(err)
		}
		sameBits(t, c.name+" dx", download(t, ddx), dx)
		sameBits(t, c.name+" dgamma", download(t, ddg), dgam)
		sameBits(t, c.name+" dbeta", download(t, ddb), dbet)
	}
}
