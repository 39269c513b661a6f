package ml

import (
	"fmt"

	"github.com/pouw/pouwd/accel/cpu"

	"github.com/pouw/pouwd/accel/canon"
)

// Conv2d is a 2-D convolution over [N, C, H, W] inputs with square kernel
// K, stride S and zero padding P, computed as im2col + one canonical GEMM.
//
// Canonical order: the columns matrix col has rows r = (c, ki, kj) in that
// nesting and columns q = (n, oy, ox); out[co, q] = (FMA chain over r of
// W[co, r]·col[r, q]) + b[co]. Backward: dW[co, r] = FMA chain over q (all
// samples and positions, in order) of dy[co, q]·col[r, q]; db[co] =
// sequential sum over q; dcol = Wᵀ·dy (chain over co); dx is col2im of dcol,
// adding for each n, then (c, ki, kj), then (oy, ox) in order.
type Conv2d struct {
	Cin, Cout, K, S, P int
	W, B               *Param
	// Scratch reused across steps (a Model is not safe for concurrent use).
	colBuf, outBuf []float32
	outT           *Tensor
}

func reuse(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	return (*buf)[:n]
}

// NewConv2d returns a convolution initialised He-uniform (bias zero).
func NewConv2d(name string, cin, cout, k, s, p int, seed uint64, index int) *Conv2d {
	l := &Conv2d{Cin: cin, Cout: cout, K: k, S: s, P: p,
		W: newParam(name+".weight", cout, cin*k*k), B: newParam(name+".bias", cout)}
	heUniform(l.W.T, cin*k*k, seed, index)
	return l
}

// NewConv2dNoBias returns a convolution without bias (B is nil), as
// torchvision's ResNet convolutions (each is followed by BatchNorm).
func NewConv2dNoBias(name string, cin, cout, k, s, p int, seed uint64, index int) *Conv2d {
	l := &Conv2d{Cin: cin, Cout: cout, K: k, S: s, P: p, W: newParam(name+".weight", cout, cin*k*k)}
	heUniform(l.W.T, cin*k*k, seed, index)
	return l
}

func (l *Conv2d) Params() []*Param {
	if l.B == nil {
		return []*Param{l.W}
	}
	return []*Param{l.W, l.B}
}

func (l *Conv2d) out(h, w int) (int, int) {
	return (h+2*l.P-l.K)/l.S + 1, (w+2*l.P-l.K)/l.S + 1
}

func (l *Conv2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[0] != l.Cin {
		return nil, fmt.Errorf("conv2d %s: input shape %v, expected [%d H W]", l.W.Name, in, l.Cin)
	}
	oh, ow := l.out(in[1], in[2])
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("conv2d %s: input %v too small for kernel %d", l.W.Name, in, l.K)
	}
	return []int{l.Cout, oh, ow}, nil
}

func (l *Conv2d) Workspace(in []int) int {
	oh, ow := l.out(in[1], in[2])
	return 3 * l.Cin * l.K * l.K * oh * ow // col, dcol, out in CNHW
}

func (l *Conv2d) Forward(c *Ctx, x *Tensor) *Tensor {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	oh, ow := l.out(h, w)
	P := oh * ow
	Q := n * P
	R := l.Cin * l.K * l.K
	col := reuse(&l.colBuf, R*Q)
	c.parallelFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			l.im2col(col, Q, s*P, x.Data[s*l.Cin*h*w:(s+1)*l.Cin*h*w], h, w, oh, ow)
		}
	})
	out := reuse(&l.outBuf, l.Cout*Q)
	c.Backend.Gemm(false, false, l.Cout, Q, R, l.W.T.Data, R, col, Q, out, Q)
	y := outTensor(&l.outT, n, l.Cout, oh, ow)
	var b []float32
	var bT *Tensor
	if l.B != nil {
		b, bT = l.B.T.Data, l.B.T
	}
	c.parallelFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			for co := 0; co < l.Cout; co++ {
				src := out[co*Q+s*P : co*Q+(s+1)*P]
				dst := y.Data[(s*l.Cout+co)*P : (s*l.Cout+co+1)*P]
				if b == nil {
					copy(dst, src)
					continue
				}
				for i, v := range src {
					dst[i] = v + b[co]
				}
			}
		}
	})
	c.record(y, []*Tensor{x, l.W.T, bT}, func() {
		dout := out // reuse: [Cout, Q]
		c.parallelFor(n, func(lo, hi int) {
			for s := lo; s < hi; s++ {
				for co := 0; co < l.Cout; co++ {
					copy(dout[co*Q+s*P:co*Q+(s+1)*P], y.Grad[(s*l.Cout+co)*P:(s*l.Cout+co+1)*P])
				}
			}
		})
		if l.W.T.needGrad {
			gemmGrad(c, l.W.T, false, true, l.Cout, R, Q, dout, Q, col, Q)
		}
		if l.W.T.needGrad && l.B != nil {
			db := l.B.T.grad()
			for co := 0; co < l.Cout; co++ {
				var acc float32
				for _, v := range dout[co*Q : (co+1)*Q] {
					acc += v
				}
				db[co] += acc
			}
		}
		if x.needGrad {
			dcol := col // reuse
			c.Backend.Gemm(true, false, R, Q, l.Cout, l.W.T.Data, R, dout, Q, dcol, Q)
			dx := x.grad()
			c.parallelFor(n, func(lo, hi int) {
				for s := lo; s < hi; s++ {
					l.col2im(dx[s*l.Cin*h*w:(s+1)*l.Cin*h*w], dcol, Q, s*P, h, w, oh, ow)
				}
			})
		}
	})
	return y
}

// im2col writes sample img's columns into col[r*ld + q0 + (oy*ow+ox)].
func (l *Conv2d) im2col(col []float32, ld, q0 int, img []float32, h, w, oh, ow int) {
	if l.S == 1 && oh == h && ow == w {
		l.im2colSame(col, ld, q0, img, h, w)
		return
	}
	r := 0
	for ch := 0; ch < l.Cin; ch++ {
		plane := img[ch*h*w : (ch+1)*h*w]
		for ki := 0; ki < l.K; ki++ {
			for kj := 0; kj < l.K; kj++ {
				dst := col[r*ld+q0 : r*ld+q0+oh*ow]
				for oy := 0; oy < oh; oy++ {
					iy := oy*l.S - l.P + ki
					row := dst[oy*ow : (oy+1)*ow]
					if iy < 0 || iy >= h {
						clear(row)
						continue
					}
					src := plane[iy*w : (iy+1)*w]
					if l.S == 1 {
						// ix = ox + kj - P is in [0, w) for ox in [lo, hi).
						off := kj - l.P
						lo, hi := max(0, -off), min(ow, w-off)
						if lo >= hi {
							clear(row)
							continue
						}
						zeroShort(row[:lo])
						copy(row[lo:hi], src[lo+off:hi+off])
						zeroShort(row[hi:])
						continue
					}
					for ox := range row {
						ix := ox*l.S - l.P + kj
						if ix < 0 || ix >= w {
							row[ox] = 0
						} else {
							row[ox] = src[ix]
						}
					}
				}
				r++
			}
		}
	}
}

// col2im adds the columns of one sample back into its input gradient.
func (l *Conv2d) col2im(dimg []float32, col []float32, ld, q0 int, h, w, oh, ow int) {
	if l.S == 1 && oh == h && ow == w {
		l.col2imSame(dimg, col, ld, q0, h, w)
		return
	}
	r := 0
	for ch := 0; ch < l.Cin; ch++ {
		plane := dimg[ch*h*w : (ch+1)*h*w]
		for ki := 0; ki < l.K; ki++ {
			for kj := 0; kj < l.K; kj++ {
				src := col[r*ld+q0 : r*ld+q0+oh*ow]
				for oy := 0; oy < oh; oy++ {
					iy := oy*l.S - l.P + ki
					if iy < 0 || iy >= h {
						continue
					}
					dst := plane[iy*w : (iy+1)*w]
					if l.S == 1 {
						off := kj - l.P
						lo, hi := max(0, -off), min(ow, w-off)
						if lo < hi {
							addTo(dst[lo+off:hi+off], src[oy*ow+lo:oy*ow+hi])
						}
						continue
					}
					for ox := 0; ox < ow; ox++ {
						ix := ox*l.S - l.P + kj
						if ix >= 0 && ix < w {
							dst[ix] += src[oy*ow+ox]
						}
					}
				}
				r++
			}
		}
	}
}

// ---------------------------------------------------------------- pooling

// Pool2d is max or average pooling with a K x K window and stride S (no
// padding) over [N, C, H, W].
//
// Max: the output is the first maximum in row-major window order (strict
// >), and backward adds the gradient to that element. Avg: the output is the
// sequential sum over the window in row-major order divided by K·K
// (correctly rounded division); backward adds dy/(K·K) to every element of
// the window.
type Pool2d struct {
	Avg  bool
	K, S int
	out  *Tensor
	arg  []int32
}

func (p *Pool2d) Params() []*Param { return nil }
func (p *Pool2d) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || in[1] < p.K || in[2] < p.K {
		return nil, fmt.Errorf("pool2d: input shape %v, expected [C H W] with H, W >= %d", in, p.K)
	}
	return []int{in[0], (in[1]-p.K)/p.S + 1, (in[2]-p.K)/p.S + 1}, nil
}
func (p *Pool2d) Workspace(in []int) int { return 0 }

func (p *Pool2d) Forward(c *Ctx, x *Tensor) *Tensor {
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := (h-p.K)/p.S+1, (w-p.K)/p.S+1
	y := outTensor(&p.out, n, ch, oh, ow)
	planes := n * ch
	var arg []int32
	if !p.Avg {
		if cap(p.arg) < len(y.Data) {
			p.arg = make([]int32, len(y.Data))
		}
		arg = p.arg[:len(y.Data)]
	}
	div := float32(p.K * p.K)
	if !p.Avg && p.K == 2 && p.S == 2 {
		c.parallelFor(planes, func(lo, hi int) {
			maxPool2(x.Data[lo*h*w:hi*h*w], y.Data[lo*oh*ow:hi*oh*ow], arg[lo*oh*ow:hi*oh*ow], hi-lo, h, w, oh, ow)
		})
	}
	for pl := 0; pl < planes && (p.Avg || p.K != 2 || p.S != 2); pl++ {
		src := x.Data[pl*h*w : (pl+1)*h*w]
		dst := y.Data[pl*oh*ow : (pl+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				base := oy*p.S*w + ox*p.S
				if p.Avg {
					var s float32
					for ki := 0; ki < p.K; ki++ {
						for kj := 0; kj < p.K; kj++ {
							s += src[base+ki*w+kj]
						}
					}
					dst[oy*ow+ox] = s / div
					continue
				}
				best, bi := src[base], base
				for ki := 0; ki < p.K; ki++ {
					for kj := 0; kj < p.K; kj++ {
						if v := src[base+ki*w+kj]; v > best {
							best, bi = v, base+ki*w+kj
						}
					}
				}
				dst[oy*ow+ox] = best
				arg[pl*oh*ow+oy*ow+ox] = int32(bi)
			}
		}
	}
	c.record(y, []*Tensor{x}, func() {
		dx := x.grad()
		c.parallelFor(planes, func(lo, hi int) { p.backward(dx, y.Grad, arg, lo, hi, h, w, oh, ow, div) })
	})
	return y
}

func (p *Pool2d) backward(dx, dyAll []float32, arg []int32, lo, hi, h, w, oh, ow int, div float32) {
	{
		for pl := lo; pl < hi; pl++ {
			dplane := dx[pl*h*w : (pl+1)*h*w]
			dy := dyAll[pl*oh*ow : (pl+1)*oh*ow]
			for o, g := range dy {
				if !p.Avg {
					dplane[arg[pl*oh*ow+o]] += g
					continue
				}
				gd := g / div
				base := (o/ow)*p.S*w + (o%ow)*p.S
				for ki := 0; ki < p.K; ki++ {
					for kj := 0; kj < p.K; kj++ {
						dplane[base+ki*w+kj] += gd
					}
				}
			}
		}
	}
}

// ---------------------------------------------------------------- normalisation

// Norm is BatchNorm (statistics per channel over the batch and spatial
// positions; input [N, C] or [N, C, H, W]) or LayerNorm (statistics per
// sample over its last dimension).
//
// Canonical: the values of one group are gathered in (n, position) order
// (BatchNorm) or element order (LayerNorm) into a buffer v of length m;
// mean = canon.Sum(v)/m; var = canon.SumSq(v, mean)/m; rstd =
// 1/Sqrt32(var+eps); xhat = float32((x-mean)·rstd); y = float32(xhat·γ)+β.
// Backward: g = float32(dy·γ); with Σg = canon.Sum(g), Σgx =
// canon.Sum(float32(g·xhat)): dx = float32(float32(rstd/m)·
// (float32(m·g) - Σg - float32(xhat·Σgx))); dγ and dβ are sums over the
// group (canon.Sum for BatchNorm, sequential over samples for LayerNorm).
// BatchNorm in training updates running = float32((1-mom)·running) +
// float32(mom·stat) with the unbiased variance; inference uses the running
// statistics.
type Norm struct {
	Layer      bool // LayerNorm when true, BatchNorm otherwise
	C          int  // channels (BatchNorm) or normalised size (LayerNorm)
	Eps, Mom   float32
	Gamma      *Param
	Beta       *Param
	RMean, RVa *Param // BatchNorm buffers
	bn         bnScratch
	ln         lnScratch
}

// NewBatchNorm returns BatchNorm over c channels (γ = 1, β = 0).
func NewBatchNorm(name string, c int) *Norm {
	n := &Norm{C: c, Eps: 1e-5, Mom: 0.1, Gamma: newParam(name+".weight", c), Beta: newParam(name+".bias", c),
		RMean: &Param{Name: name + ".running_mean", T: NewTensor(c), Buffer: true},
		RVa:   &Param{Name: name + ".running_var", T: NewTensor(c), Buffer: true}}
	for i := range n.Gamma.T.Data {
		n.Gamma.T.Data[i] = 1
		n.RVa.T.Data[i] = 1
	}
	return n
}

// NewLayerNorm returns LayerNorm over the last dimension of size d.
func NewLayerNorm(name string, d int) *Norm {
	n := &Norm{Layer: true, C: d, Eps: 1e-5, Gamma: newParam(name+".weight", d), Beta: newParam(name+".bias", d)}
	for i := range n.Gamma.T.Data {
		n.Gamma.T.Data[i] = 1
	}
	return n
}

func (l *Norm) Params() []*Param {
	if l.Layer {
		return []*Param{l.Gamma, l.Beta}
	}
	return []*Param{l.Gamma, l.Beta, l.RMean, l.RVa}
}

func (l *Norm) OutShape(in []int) ([]int, error) {
	if l.Layer && in[len(in)-1] != l.C || !l.Layer && in[0] != l.C {
		return nil, fmt.Errorf("norm %s: input shape %v does not have %d features", l.Gamma.Name, in, l.C)
	}
	return in, nil
}
func (l *Norm) Workspace(in []int) int { return 2 * numel(in) }

// groups returns, for group g, the index of its i-th element: BatchNorm
// groups are channels, LayerNorm groups are rows.
func (l *Norm) layout(x *Tensor) (groups, m int, idx func(g, i int) int) {
	if l.Layer {
		d := l.C
		return len(x.Data) / d, d, func(g, i int) int { return g*d + i }
	}
	n := x.Shape[0]
	sp := len(x.Data) / (n * l.C)
	return l.C, n * sp, func(g, i int) int { s, p := i/sp, i%sp; return (s*l.C+g)*sp + p }
}

// referenceNorm makes LayerNorm run the generic definition below instead
// of its fast path (tests compare the two).
var referenceNorm = false

func (l *Norm) Forward(c *Ctx, x *Tensor) *Tensor {
	if !l.Layer {
		return l.batchNormForward(c, x) // the same bits, faster (batchnorm.go)
	}
	if !referenceNorm {
		return l.layerNormForward(c, x) // the same bits, faster (layernorm.go)
	}
	groups, m := 0, 0
	var idx func(g, i int) int
	groups, m, idx = l.layout(x)
	y := &Tensor{Shape: x.Shape, Data: make([]float32, len(x.Data))}
	xhat := make([]float32, len(x.Data))
	rstds := make([]float32, groups)
	v := make([]float32, m)
	mf := float32(m)
	for g := 0; g < groups; g++ {
		for i := range v {
			v[i] = x.Data[idx(g, i)]
		}
		var mean, rstd float32
		if l.Layer || c.Train {
			mean = canon.Sum(v) / mf
			vr := canon.SumSq(v, mean) / mf
			rstd = 1 / canon.Sqrt32(vr+l.Eps)
			if !l.Layer && c.Tape != nil {
				unb := vr
				if m > 1 {
					unb = float32(vr*mf) / float32(m-1)
				}
				rm, rv := &l.RMean.T.Data[g], &l.RVa.T.Data[g]
				*rm = float32((1-l.Mom)**rm) + float32(l.Mom*mean)
				*rv = float32((1-l.Mom)**rv) + float32(l.Mom*unb)
			}
		} else {
			mean = l.RMean.T.Data[g]
			rstd = 1 / canon.Sqrt32(l.RVa.T.Data[g]+l.Eps)
		}
		rstds[g] = rstd
		for i := 0; i < m; i++ {
			k := idx(g, i)
			var gm, bt float32
			if l.Layer {
				gm, bt = l.Gamma.T.Data[i], l.Beta.T.Data[i]
			} else {
				gm, bt = l.Gamma.T.Data[g], l.Beta.T.Data[g]
			}
			xh := float32((x.Data[k] - mean) * rstd)
			xhat[k] = xh
			y.Data[k] = float32(xh*gm) + bt
		}
	}
	c.record(y, []*Tensor{x, l.Gamma.T, l.Beta.T}, func() {
		gbuf := make([]float32, m)
		gx := make([]float32, m)
		dgam, dbet := l.Gamma.T.grad(), l.Beta.T.grad()
		var dx []float32
		if x.needGrad {
			dx = x.grad()
		}
		if !l.Layer {
			for g := 0; g < groups; g++ {
				for i := 0; i < m; i++ {
					k := idx(g, i)
					gbuf[i] = y.Grad[k]
					gx[i] = float32(y.Grad[k] * xhat[k])
				}
				dbet[g] += canon.Sum(gbuf)
				dgam[g] += canon.Sum(gx)
			}
		} else {
			for g := 0; g < groups; g++ {
				for i := 0; i < m; i++ {
					k := idx(g, i)
					dbet[i] += y.Grad[k]
					dgam[i] += float32(y.Grad[k] * xhat[k])
				}
			}
		}
		if dx == nil {
			return
		}
		for g := 0; g < groups; g++ {
			for i := 0; i < m; i++ {
				k := idx(g, i)
				gm := l.Gamma.T.Data[g%len(l.Gamma.T.Data)]
				if l.Layer {
					gm = l.Gamma.T.Data[i]
				}
				gbuf[i] = float32(y.Grad[k] * gm)
				gx[i] = float32(gbuf[i] * xhat[k])
			}
			sg, sgx := canon.Sum(gbuf), canon.Sum(gx)
			f := float32(rstds[g] / mf)
			for i := 0; i < m; i++ {
				k := idx(g, i)
				dx[k] += float32(f * (float32(mf*gbuf[i]) - sg - float32(xhat[k]*sgx)))
			}
		}
	})
	return y
}

// maxPool2 is Pool2d's max branch for K = S = 2 (same window order: (0,0),
// (0,1), (1,0), (1,1), first maximum wins).
func maxPool2(x, y []float32, arg []int32, planes, h, w, oh, ow int) {
	for pl := 0; pl < planes; pl++ {
		src := x[pl*h*w : (pl+1)*h*w]
		dst := y[pl*oh*ow : (pl+1)*oh*ow]
		ag := arg[pl*oh*ow : (pl+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			r0 := src[2*oy*w : 2*oy*w+w]
			r1 := src[(2*oy+1)*w : (2*oy+1)*w+w]
			cpu.MaxPool2Row(r0, r1, dst[oy*ow:oy*ow+ow], ag[oy*ow:oy*ow+ow], 2*oy*w, w)
		}
	}
}

// sameShift describes, for a stride-1 "same" convolution, the flat shift
// between an output position and the input it reads at kernel offset
// (ki, kj): in = out + dy*w + dx, valid for output rows [y0, y1) and
// columns [x0, x1); the columns outside [x0, x1) wrap into the neighbouring
// row and are fixed up by the callers.
func sameShift(ki, kj, p, h, w int) (dy, dx, y0, y1, x0, x1 int) {
	dy, dx = ki-p, kj-p
	return dy, dx, max(0, -dy), min(h, h-dy), max(0, -dx), min(w, w-dx)
}

// im2colSame is im2col for stride 1 with output size = input size: one
// block copy per (c, ki, kj), then zeros at padded positions. Same values
// as the general path.
func (l *Conv2d) im2colSame(col []float32, ld, q0 int, img []float32, h, w int) {
	hw := h * w
	r := 0
	for ch := 0; ch < l.Cin; ch++ {
		plane := img[ch*hw : (ch+1)*hw]
		for ki := 0; ki < l.K; ki++ {
			for kj := 0; kj < l.K; kj++ {
				dst := col[r*ld+q0 : r*ld+q0+hw]
				r++
				dy, dx, y0, y1, x0, x1 := sameShift(ki, kj, l.P, h, w)
				if y0 >= y1 || x0 >= x1 {
					clear(dst)
					continue
				}
				lo, hi := y0*w, y1*w // output rows with a valid input row
				sh := dy*w + dx
				clear(dst[:lo])
				clear(dst[hi:])
				// Flat copy; the first and last element may fall outside the
				// plane when dx != 0 (they are wrapped columns, zeroed below).
				a, b := lo, hi
				if a+sh < 0 {
					a = -sh
				}
				if b+sh > hw {
					b = hw - sh
				}
				copy(dst[a:b], plane[a+sh:b+sh])
				zeroCols(dst, w, y0, y1, x0, x1)
			}
		}
	}
}

// col2imSame is col2im for stride 1 with output size = input size. It first
// zeroes the column entries of padded positions (they are dropped, and
// adding +0 to a gradient that is never -0 changes nothing), then adds each
// (c, ki, kj) block with one flat loop, in the same (c, ki, kj) order, so
// every input element sees the same additions in the same order.
func (l *Conv2d) col2imSame(dimg []float32, col []float32, ld, q0 int, h, w int) {
	hw := h * w
	r := 0
	for ch := 0; ch < l.Cin; ch++ {
		plane := dimg[ch*hw : (ch+1)*hw]
		for ki := 0; ki < l.K; ki++ {
			for kj := 0; kj < l.K; kj++ {
				src := col[r*ld+q0 : r*ld+q0+hw]
				r++
				dy, dx, y0, y1, x0, x1 := sameShift(ki, kj, l.P, h, w)
				if y0 >= y1 || x0 >= x1 {
					continue
				}
				zeroCols(src, w, y0, y1, x0, x1)
				sh := dy*w + dx
				a, b := y0*w, y1*w
				if a+sh < 0 {
					a = -sh
				}
				if b+sh > hw {
					b = hw - sh
				}
				addTo(plane[a+sh:b+sh], src[a:b])
			}
		}
	}
}
