package ml

import (
	"fmt"
	"math"

	"github.com/pouw/pouwd/accel/cpu"

	"github.com/pouw/pouwd/accel/canon"
)

// Param is a named model tensor. Buffers (BatchNorm running statistics) are
// state but receive no gradient and are not touched by optimizers.
type Param struct {
	Name   string
	T      *Tensor
	Buffer bool
}

// Layer is one differentiable stage of a model. Forward takes and returns
// tensors whose first dimension is the batch.
type Layer interface {
	// Forward computes the output and records the backward pass on c.Tape.
	Forward(c *Ctx, x *Tensor) *Tensor
	// Params lists the layer's parameters and buffers in canonical order.
	Params() []*Param
	// OutShape maps a per-sample input shape to the output shape.
	OutShape(in []int) ([]int, error)
	// Workspace is the extra float32 count per sample a forward and
	// backward pass hold besides the output (e.g. im2col columns).
	Workspace(in []int) int
}

func heUniform(t *Tensor, fanIn int, seed uint64, index int) {
	r := NewRNG("pouw/init/v1", seed, uint64(index), 0)
	bound := float32(math.Sqrt(6 / float64(fanIn))) // sqrt is correctly rounded
	for i := range t.Data {
		u := r.Float32()
		t.Data[i] = float32(float32(2*u-1) * bound)
	}
}

func newParam(name string, shape ...int) *Param {
	t := NewTensor(shape...)
	t.needGrad = true
	return &Param{Name: name, T: t}
}

// ---------------------------------------------------------------- Linear

// Linear is y = x·W + b with W stored in x in-by-out layout.
// Canonical: y[i,j] = (FMA chain over p of x[i,p]·W[p,j]) + b[j].
// Backward: dW = xᵀ·dy (chain over the rows in order), db[j] = sequential
// sum of dy[i,j] over i, dx = dy·Wᵀ (chain over j). A plain Linear takes
// each sample's features flattened ([N, ...] with In values per sample) to
// [N, Out]; a per-token Linear (Tokens, the Transformer's) maps the last
// dimension: [N, ..., In] to [N, ..., Out], every token a row.
type Linear struct {
	In, Out int
	Tokens  bool
	W, B    *Param
	out     *Tensor
}

// NewLinear returns a Linear layer initialised He-uniform (bias zero) from
// (seed, index).
func NewLinear(name string, in, out int, seed uint64, index int) *Linear {
	l := &Linear{In: in, Out: out, W: newParam(name+".weight", in, out), B: newParam(name+".bias", out)}
	heUniform(l.W.T, in, seed, index)
	return l
}

func (l *Linear) Params() []*Param { return []*Param{l.W, l.B} }

func (l *Linear) OutShape(in []int) ([]int, error) {
	if l.Tokens {
		if len(in) == 0 || in[len(in)-1] != l.In {
			return nil, fmt.Errorf("linear %s: input shape %v, expected a last dimension of %d", l.W.Name, in, l.In)
		}
		return append(append([]int(nil), in[:len(in)-1]...), l.Out), nil
	}
	if numel(in) != l.In {
		return nil, fmt.Errorf("linear %s: input shape %v has %d features, expected %d", l.W.Name, in, numel(in), l.In)
	}
	return []int{l.Out}, nil
}

func (l *Linear) Workspace([]int) int { return 0 }

func (l *Linear) Forward(c *Ctx, x *Tensor) *Tensor {
	n := len(x.Data) / l.In
	var y *Tensor
	if l.Tokens {
		y = outTensor(&l.out, append(x.Shape[:len(x.Shape)-1:len(x.Shape)-1], l.Out)...)
	} else {
		y = outTensor(&l.out, x.Shape[0], l.Out)
	}
	c.Backend.Gemm(false, false, n, l.Out, l.In, x.Data, l.In, l.W.T.Data, l.Out, y.Data, l.Out)
	b := l.B.T.Data
	for i := 0; i < n; i++ {
		row := y.Data[i*l.Out : (i+1)*l.Out]
		for j := range row {
			row[j] += b[j]
		}
	}
	c.record(y, []*Tensor{x, l.W.T, l.B.T}, func() {
		dy := y.Grad
		if l.W.T.needGrad {
			gemmGrad(c, l.W.T, true, false, l.In, l.Out, n, x.Data, l.In, dy, l.Out)
			db, fresh := l.B.T.gradDst()
			if fresh {
				colSum(db, dy, n, l.Out)
			} else {
				tmp := make([]float32, l.Out)
				colSum(tmp, dy, n, l.Out)
				addTo(db, tmp)
			}
		}
		if x.needGrad {
			gemmGrad(c, x, false, true, n, l.In, l.Out, dy, l.Out, l.W.T.Data, l.Out)
		}
	})
	return y
}

// gemmGrad adds op(A)·op(B) (canonical GEMM, m x n, row stride n) into
// t's gradient, writing it in place when t has no contribution yet.
func gemmGrad(c *Ctx, t *Tensor, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int) {
	dst, fresh := t.gradDst()
	if fresh {
		c.Backend.Gemm(transA, transB, m, n, k, a, lda, b, ldb, dst, n)
		return
	}
	tmp := make([]float32, m*n)
	c.Backend.Gemm(transA, transB, m, n, k, a, lda, b, ldb, tmp, n)
	addTo(dst, tmp)
}

// colSum sets dst[j] = sequential float32 sum over i = 0..rows-1 of
// m[i*cols+j], starting from 0.
func colSum(dst, m []float32, rows, cols int) {
	clear(dst)
	for i := 0; i < rows; i++ {
		addTo(dst, m[i*cols:(i+1)*cols])
	}
}

// ---------------------------------------------------------------- activations

// Activation is an elementwise nonlinearity: "relu", "gelu" or "tanh".
//
//	relu: y = x > 0 ? x : 0; dy/dx = x > 0 ? 1 : 0
//	gelu: y = float32(x·Φ(x)), Φ(x) = float32(0.5·(1 + Erf32(float32(x·(1/√2)))))
//	      dy/dx = Φ(x) + float32(x·φ(x)), φ(x) = float32(Exp32(float32(-0.5·x)·x)·(1/√(2π)))
//	tanh: y = Tanh32(x); dy/dx = 1 - float32(y·y)
//
// Every product is rounded on its own.
type Activation struct {
	Kind string
	out  *Tensor
	cdf  []float32 // gelu: Φ(x) of the forward pass, read by backward
}

func (a *Activation) Params() []*Param                 { return nil }
func (a *Activation) OutShape(in []int) ([]int, error) { return in, nil }
func (a *Activation) Workspace([]int) int              { return 0 }

const (
	invSqrt2   = float32(0.70710678118654752440)
	invSqrt2Pi = float32(0.39894228040143267794)
)

func geluCDF(x float32) float32 {
	return float32(0.5 * (1 + canon.Erf32(float32(x*invSqrt2))))
}

func (a *Activation) Forward(c *Ctx, x *Tensor) *Tensor {
	y := outTensor(&a.out, x.Shape...)
	switch a.Kind {
	case "relu":
		c.parallelFor(len(x.Data)/4096+1, func(lo, hi int) {
			lo, hi = lo*4096, min(hi*4096, len(x.Data))
			cpu.ReLUMask(y.Data[lo:hi], x.Data[lo:hi], x.Data[lo:hi])
		})
	case "gelu":
		cdf := reuse(&a.cdf, len(x.Data))
		elementwise(c, len(x.Data), func(lo, hi int) {
			// geluCDF, with the erf of the chunk batched (canon.Erf32Slice).
			xs, p := x.Data[lo:hi], cdf[lo:hi]
			for i, v := range xs {
				p[i] = float32(v * invSqrt2)
			}
			canon.Erf32Slice(p, p)
			for i, v := range xs {
				p[i] = float32(0.5 * (1 + p[i]))
				y.Data[lo+i] = float32(v * p[i])
			}
		})
	case "tanh":
		for i, v := range x.Data {
			y.Data[i] = canon.Tanh32(v)
		}
	default:
		panic("ml: unknown activation " + a.Kind)
	}
	c.record(y, []*Tensor{x}, func() {
		dy := y.Grad
		if dx, fresh := x.gradDst(); fresh && a.Kind == "relu" {
			c.parallelFor(len(x.Data)/4096+1, func(lo, hi int) {
				lo, hi = lo*4096, min(hi*4096, len(x.Data))
				cpu.ReLUMask(dx[lo:hi], x.Data[lo:hi], dy[lo:hi])
			})
			return
		} else if fresh {
			clear(dx)
		}
		dx := x.Grad
		switch a.Kind {
		case "relu":
			for i, v := range x.Data {
				if v > 0 {
					dx[i] += dy[i]
				}
			}
		case "gelu":
			cdf := a.cdf
			elementwise(c, len(x.Data), func(lo, hi int) {
				e := make([]float32, hi-lo) // φ(x)'s exponential, batched
				for i := range e {
					v := x.Data[lo+i]
					e[i] = float32(float32(-0.5*v) * v)
				}
				canon.Exp32Slice(e, e)
				for i := lo; i < hi; i++ {
					v := x.Data[i]
					pdf := float32(e[i-lo] * invSqrt2Pi)
					d := cdf[i] + float32(v*pdf)
					dx[i] += float32(dy[i] * d)
				}
			})
		case "tanh":
			for i, t := range y.Data {
				dx[i] += float32(dy[i] * (1 - float32(t*t)))
			}
		}
	})
	return y
}

// elementwise splits [0, n) into chunks of 4096 elements over the
// backend's threads, for per-element work (each element is written by one
// chunk only, so the split never changes a bit).
func elementwise(c *Ctx, n int, f func(lo, hi int)) {
	const chunk = 4096
	c.parallelFor((n+chunk-1)/chunk, func(lo, hi int) {
		f(lo*chunk, min(hi*chunk, n))
	})
}

// ---------------------------------------------------------------- Flatten

// Flatten reshapes [N, ...] to [N, prod(...)] (a copy).
type Flatten struct{ out *Tensor }

func (*Flatten) Params() []*Param                 { return nil }
func (*Flatten) OutShape(in []int) ([]int, error) { return []int{numel(in)}, nil }
func (*Flatten) Workspace([]int) int              { return 0 }
func (f *Flatten) Forward(c *Ctx, x *Tensor) *Tensor {
	y := outTensor(&f.out, x.Shape[0], numel(x.Shape[1:]))
	copy(y.Data, x.Data)
	c.record(y, []*Tensor{x}, func() { addTo(x.grad(), y.Grad) })
	return y
}

// ---------------------------------------------------------------- Dropout

// Dropout zeroes each element with probability P during training and scales
// the rest by 1/(1-P): y = float32(x·scale) where kept. The keep mask for
// element e at training step s in layer Index is
// NewRNG("pouw/dropout/v1", seed, s, Index).Float32() >= P, drawn in element
// order over the step's whole batch: a micro-batch (TrainConfig.MicroBatch)
// that starts at sample k of the batch continues the stream at element
// k·(elements per sample), so every sample gets the same mask as in the
// whole batch. Inference is the identity.
type Dropout struct {
	P     float32
	Index int
	// sample0 is the index of the pass's first sample in the step's batch
	// (set on micro-batch replicas).
	sample0 int
}

func (d *Dropout) Params() []*Param                 { return nil }
func (d *Dropout) OutShape(in []int) ([]int, error) { return in, nil }
func (d *Dropout) Workspace(in []int) int           { return numel(in) }
func (d *Dropout) Forward(c *Ctx, x *Tensor) *Tensor {
	if !c.Train || d.P == 0 {
		return x
	}
	r := NewRNG("pouw/dropout/v1", c.Seed, c.Step, uint64(d.Index))
	if d.sample0 > 0 {
		r.skip(uint64(d.sample0) * uint64(len(x.Data)/x.Shape[0]))
	}
	scale := 1 / (1 - d.P)
	mask := make([]float32, len(x.Data))
	y := NewTensor(x.Shape...)
	for i, v := range x.Data {
		if r.Float32() >= d.P {
			mask[i] = scale
			y.Data[i] = float32(v * scale)
		}
	}
	c.record(y, []*Tensor{x}, func() {
		dx := x.grad()
		for i, m := range mask {
			dx[i] += float32(y.Grad[i] * m)
		}
	})
	return y
}

// ---------------------------------------------------------------- Embedding

// Embedding maps integer ids (given as float32 values, exact below 2^24) of
// shape [N, T] to vectors [N, T, D] from a V x D table. Backward adds each
// position's gradient row into the table row of its id, positions in order.
type Embedding struct {
	V, D int
	W    *Param
}

// NewEmbedding returns a table initialised uniform in [-1, 1) from (seed, index).
func NewEmbedding(name string, v, d int, seed uint64, index int) *Embedding {
	e := &Embedding{V: v, D: d, W: newParam(name+".weight", v, d)}
	heUniform(e.W.T, 6, seed, index) // bound sqrt(6/6) = 1
	return e
}

func (e *Embedding) Params() []*Param { return []*Param{e.W} }
func (e *Embedding) OutShape(in []int) ([]int, error) {
	return append(append([]int(nil), in...), e.D), nil
}
func (e *Embedding) Workspace([]int) int { return 0 }
func (e *Embedding) Forward(c *Ctx, x *Tensor) *Tensor {
	shape := append(append([]int(nil), x.Shape...), e.D)
	y := NewTensor(shape...)
	ids := make([]int, len(x.Data))
	for i, v := range x.Data {
		id := int(v)
		if float32(id) != v || id < 0 || id >= e.V {
			panic(fmt.Sprintf("ml: embedding %s: id %v at position %d, expected an integer in [0, %d)", e.W.Name, v, i, e.V))
		}
		ids[i] = id
		copy(y.Data[i*e.D:(i+1)*e.D], e.W.T.Data[id*e.D:(id+1)*e.D])
	}
	c.record(y, []*Tensor{e.W.T}, func() {
		g := e.W.T.grad()
		for i, id := range ids {
			addTo(g[id*e.D:(id+1)*e.D], y.Grad[i*e.D:(i+1)*e.D])
		}
	})
	return y
}
