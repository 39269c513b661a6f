//go:build cuda || cudaemu

package devtrain

import (
	"fmt"

	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// A step is a list of stages in ml's forward order: one per layer, and
// for a residual block its main path's stages, its shortcut's, then the
// addition. Each stage kind has its own plan (its buffers), forward and
// backward, composing accel/cuda's kernels as the ml layer composes its
// Go loops: this file holds the MLP and CNN layers, resnet.go the
// residual blocks, batch normalisation and pooling of a ResNet,
// transformer.go the Transformer's and the ViT's layers.
//
// Gradients. ml runs the recorded backward closures in reverse, and each
// adds its contribution into its input's gradient, except the first one a
// tensor receives in a step, which is fresh: ml writes it (a GEMM into
// the gradient, a copy, a masked copy) or clears the gradient and adds
// (x.grad()). The two differ in the sign of a zero, so each stage does
// what its layer does in both cases; plan works out which contributions
// are fresh (the first one in backward order), ml/graph.go's order for a
// tensor used twice included.

// tensor is one activation of the batch on the device: its values and,
// when backward reaches it, its gradient.
type tensor struct {
	n         int // values for the whole batch
	val, grad *cuda.Buffer
	needGrad  bool
}

// stage is one placed layer (or a residual block's addition).
type stage interface {
	core() *base
	forward(t *Trainer) error
	// backward adds the stage's contributions into its inputs' gradients
	// (fresh ones written as ml writes them) and writes its parameters'
	// gradients, from its output's gradient.
	backward(t *Trainer) error
	// scratchLen is the size of the shared scratch buffer the stage needs
	// (to accumulate a gradient ml computes into a temporary first).
	scratchLen() int
}

// base is what every stage has: its name (for errors), its inputs, whether
// its contribution to each input's gradient is fresh, and its output.
type base struct {
	name  string
	ins   []*tensor
	fresh []bool
	out   *tensor
}

func (c *base) core() *base     { return c }
func (c *base) scratchLen() int { return 0 }

// x is the (first) input, dx its gradient or nil when backward does not
// reach it.
func (c *base) x() *tensor { return c.ins[0] }
func (c *base) dx() *cuda.Buffer {
	if !c.ins[0].needGrad {
		return nil
	}
	return c.ins[0].grad
}

// zeroIfFresh clears input i's gradient when this stage's contribution is
// its first (ml's x.grad(): clear, then add).
func (c *base) zeroIfFresh(i int) error {
	if c.fresh[i] {
		return c.ins[i].grad.Zero()
	}
	return nil
}

// from is the view of x from value off to its end (GEMM operands at an
// offset, with a leading dimension).
func from(x *cuda.Buffer, off int) *cuda.Buffer { return x.Slice(off, x.Len()-off) }

// planner maps layers to stages.
type planner struct {
	t       *Trainer
	byParam map[*ml.Param]*param
	used    map[*ml.Param]bool
}

// param returns the device parameter of p.
func (pl *planner) param(p *ml.Param) *param {
	if pl.used == nil {
		pl.used = map[*ml.Param]bool{}
	}
	pl.used[p] = true
	return pl.byParam[p]
}

// want asks for a buffer of n values (uploading init when it is set).
func (pl *planner) want(dst **cuda.Buffer, what string, n int, init []float32) {
	pl.t.reqs = append(pl.t.reqs, request{dst: dst, what: what, n: n, init: init})
}

// tensor makes a stage's output of n values; it needs a gradient when
// the stage has an input or a parameter that does (params).
func (pl *planner) tensor(name string, n int, in *tensor, params bool) *tensor {
	y := &tensor{n: n, needGrad: params || in.needGrad}
	pl.want(&y.val, name+" output", n, nil)
	if y.needGrad {
		pl.want(&y.grad, name+" output gradient", n, nil)
	}
	return y
}

// add appends a stage.
func (pl *planner) add(s stage) { pl.t.stages = append(pl.t.stages, s) }

// seq plans layers in order from x (per-sample shape in), returning the
// last output and its shape.
func (pl *planner) seq(path string, layers []ml.Layer, x *tensor, in []int) (*tensor, []int, error) {
	shape := in
	for i, l := range layers {
		name := fmt.Sprintf("%slayer %d", path, i)
		next, err := l.OutShape(shape)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		if x, err = pl.layer(name, l, x, shape, next); err != nil {
			return nil, nil, err
		}
		shape = next
	}
	if path == "" {
		for _, p := range pl.t.model.Params() {
			if !p.Buffer && !pl.used[p] {
				return nil, nil, fmt.Errorf("parameter %s is not used by a placed layer", p.Name)
			}
		}
	}
	return x, shape, nil
}

// layer plans one layer: x has the per-sample shape in, its output out.
func (pl *planner) layer(name string, l ml.Layer, x *tensor, in, out []int) (*tensor, error) {
	t := pl.t
	bs := t.batch
	n := bs * numel(out)
	switch l := l.(type) {
	case *ml.Linear:
		s := &linear{w: pl.param(l.W), b: pl.param(l.B), in: l.In, outN: l.Out, rows: bs * numel(in) / l.In}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, true)}
		pl.add(s)
		return s.out, nil
	case *ml.Activation:
		switch l.Kind {
		case "relu", "gelu", "tanh":
		default:
			return nil, fmt.Errorf("%s: activation %q has no device path", name, l.Kind)
		}
		s := &act{kind: l.Kind}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
		pl.add(s)
		return s.out, nil
	case *ml.Conv2d:
		s := &conv{w: pl.param(l.W), cout: l.Cout,
			geom: cuda.ConvGeom{N: bs, Cin: l.Cin, H: in[1], W: in[2], K: l.K, S: l.S, P: l.P}}
		if l.B != nil {
			s.bias = pl.param(l.B)
		}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, true)}
		pl.want(&s.col, name+" columns", s.geom.ColLen(), nil)
		pl.want(&s.cnh, name+" output, channels first", n, nil)
		pl.add(s)
		return s.out, nil
	case *ml.Pool2d:
		return pl.pool(name, x, cuda.PoolGeom{Avg: l.Avg, Planes: bs * in[0], H: in[1], W: in[2], K: l.K, S: l.S}, n), nil
	case *ml.MaxPool:
		return pl.pool(name, x, cuda.PoolGeom{Planes: bs * in[0], H: in[1], W: in[2], K: l.K, S: l.S, P: l.P}, n), nil
	case *ml.Flatten:
		s := &flatten{}
		y := &tensor{n: n, needGrad: x.needGrad}
		t.links = append(t.links, func() { y.val = x.val }) // the same values
		if y.needGrad {
			pl.want(&y.grad, name+" output gradient", n, nil)
		}
		s.base = base{name: name, ins: []*tensor{x}, out: y}
		pl.add(s)
		return y, nil
	case *ml.Dropout:
		if l.P == 0 {
			return x, nil // ml's Dropout is then the identity
		}
		s := &dropout{p: l.P, index: l.Index}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
		s.host = make([]float32, n*t.micro)
		pl.want(&s.mask, name+" mask", n, nil)
		pl.add(s)
		return s.out, nil
	case *ml.Norm:
		return pl.norm(name, l, x, in, n)
	case *ml.GlobalAvgPool:
		s := &tokenPool{n: bs * in[0], t: in[1] * in[2], d: 1}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
		pl.add(s)
		return s.out, nil
	case *ml.Residual:
		return pl.residual(name, l, x, in, n)
	case *ml.Attention:
		return pl.attention(name, l, x, in, n)
	case *ml.Positions:
		return pl.positions(name, l, x, n)
	case *ml.TokenPool:
		s := &tokenPool{n: bs, t: in[0], d: in[1], last: l.Last}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
		pl.add(s)
		return s.out, nil
	case *ml.PatchTokens:
		s := &patchTokens{n: bs, d: in[0], hw: in[1] * in[2]}
		s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
		pl.add(s)
		return s.out, nil
	case *ml.Embedding:
		return pl.embedding(name, l, x, in, n)
	}
	return nil, fmt.Errorf("%s (%T) has no device path yet: the device trains Linear, Conv2d, pooling, Flatten, Dropout, relu, gelu, tanh, BatchNorm, LayerNorm, residual blocks, attention, positions, token pooling, patch tokens and token embeddings", name, l)
}

// ---------------------------------------------------------------- Linear

// linear is ml.Linear (plain or per-token: rows = samples or tokens).
type linear struct {
	base
	w, b           *param
	in, outN, rows int
}

func (s *linear) scratchLen() int {
	if s.fresh[0] || !s.x().needGrad {
		return 0
	}
	return s.rows * s.in
}

func (s *linear) forward(t *Trainer) error {
	b := t.b
	if err := b.GemmDevice(false, false, s.rows, s.outN, s.in, s.x().val, s.in, s.w.w, s.outN, s.out.val, s.outN); err != nil {
		return err
	}
	return b.AddBiasRows(s.out.val, s.b.w, s.rows, s.outN)
}

// backward: dW = xᵀ·dy and db = the sequential column sums, both fresh
// (a parameter is used once); dx = dy·Wᵀ written when fresh, else into
// the scratch and added (ml's gemmGrad).
func (s *linear) backward(t *Trainer) error {
	b := t.b
	dy := s.out.grad
	if err := b.GemmDevice(true, false, s.in, s.outN, s.rows, s.x().val, s.in, dy, s.outN, s.w.g, s.outN); err != nil {
		return err
	}
	if err := b.ColSum(s.b.g, dy, s.rows, s.outN); err != nil {
		return err
	}
	dx := s.dx()
	if dx == nil {
		return nil
	}
	if s.fresh[0] {
		return b.GemmDevice(false, true, s.rows, s.in, s.outN, dy, s.outN, s.w.w, s.outN, dx, s.in)
	}
	tmp := t.scratch.Slice(0, s.rows*s.in)
	if err := b.GemmDevice(false, true, s.rows, s.in, s.outN, dy, s.outN, s.w.w, s.outN, tmp, s.in); err != nil {
		return err
	}
	return b.Add(dx, tmp)
}

// ---------------------------------------------------------------- activations

// act is ml.Activation: relu, gelu or tanh.
type act struct {
	base
	kind string
}

func (s *act) forward(t *Trainer) error {
	x, y := s.x().val, s.out.val
	switch s.kind {
	case "relu":
		return t.b.ReLUMask(y, x, x)
	case "gelu":
		return t.b.GELU(y, x)
	}
	return t.b.Tanh(y, x)
}

// backward: a fresh relu gradient is the masked copy, otherwise ml clears
// a fresh gradient and adds.
func (s *act) backward(t *Trainer) error {
	dx, dy := s.dx(), s.out.grad
	if dx == nil {
		return nil
	}
	if s.kind == "relu" {
		if s.fresh[0] {
			return t.b.ReLUMask(dx, s.x().val, dy)
		}
		return t.b.ReLUBackwardAcc(dx, s.x().val, dy)
	}
	if err := s.zeroIfFresh(0); err != nil {
		return err
	}
	if s.kind == "gelu" {
		return t.b.GELUBackwardAcc(dx, s.x().val, dy)
	}
	return t.b.TanhBackwardAcc(dx, s.out.val, dy)
}

// ---------------------------------------------------------------- Conv2d

// conv is ml.Conv2d, with or without bias: the columns (reused for their
// gradient) and the [Cout, N·P] output (reused for its gradient).
type conv struct {
	base
	w, bias  *param
	cout     int
	geom     cuda.ConvGeom
	col, cnh *cuda.Buffer
}

// forward: im2col of the batch, one GEMM to [Cout, N·P], then to
// [N, Cout, P] with the bias added, or copied (the transpose back) without
// one.
func (s *conv) forward(t *Trainer) error {
	b := t.b
	n := s.geom.N
	r, sp := s.geom.Cin*s.geom.K*s.geom.K, s.out.n/(n*s.cout)
	q := n * sp
	if err := b.Im2col(s.col, s.x().val, s.geom); err != nil {
		return err
	}
	if err := b.GemmDevice(false, false, s.cout, q, r, s.w.w, r, s.col, q, s.cnh, q); err != nil {
		return err
	}
	if s.bias == nil {
		// [Cout, N, P] to [N, Cout, P]: the transpose of NCHW to CNHW
		// with the roles of N and C swapped.
		return b.NCHWToCNHW(s.out.val, s.cnh, s.cout, n, sp)
	}
	return b.CNHWToNCHWBias(s.out.val, s.cnh, s.bias.w, n, s.cout, sp)
}

// backward is ml.Conv2d's: the output gradient to [Cout, N·P], dW =
// dout·colᵀ (written), db = zero then each channel's sequential sum
// added, and, when the input needs it, dcol = Wᵀ·dout into the columns'
// buffer and col2im added into dx (cleared first when fresh).
func (s *conv) backward(t *Trainer) error {
	b := t.b
	n := s.geom.N
	r, sp := s.geom.Cin*s.geom.K*s.geom.K, s.out.n/(n*s.cout)
	q := n * sp
	if err := b.NCHWToCNHW(s.cnh, s.out.grad, n, s.cout, sp); err != nil {
		return err
	}
	if err := b.GemmDevice(false, true, s.cout, r, q, s.cnh, q, s.col, q, s.w.g, r); err != nil {
		return err
	}
	if s.bias != nil {
		if err := s.bias.g.Zero(); err != nil {
			return err
		}
		if err := b.RowSumAcc(s.bias.g, s.cnh, s.cout, q); err != nil {
			return err
		}
	}
	dx := s.dx()
	if dx == nil {
		return nil
	}
	if err := b.GemmDevice(true, false, r, q, s.cout, s.w.w, r, s.cnh, q, s.col, q); err != nil {
		return err
	}
	if err := s.zeroIfFresh(0); err != nil {
		return err
	}
	return b.Col2imAcc(dx, s.col, s.geom)
}

// ---------------------------------------------------------------- pooling

// pool is ml.Pool2d, or ml.MaxPool (padding P > 0): max pooling keeps the
// winners' indices.
type pool struct {
	base
	geom cuda.PoolGeom
	arg  *cuda.Buffer
}

func (pl *planner) pool(name string, x *tensor, g cuda.PoolGeom, n int) *tensor {
	s := &pool{geom: g}
	s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, false)}
	if !g.Avg {
		pl.want(&s.arg, name+" pooling indices", n, nil)
	}
	pl.add(s)
	return s.out
}

func (s *pool) forward(t *Trainer) error {
	return t.b.Pool2dForward(s.out.val, s.arg, s.x().val, s.geom)
}

// backward: ml clears a fresh gradient (x.grad()), then adds.
func (s *pool) backward(t *Trainer) error {
	if s.dx() == nil {
		return nil
	}
	if err := s.zeroIfFresh(0); err != nil {
		return err
	}
	return t.b.Pool2dBackward(s.dx(), s.out.grad, s.arg, s.geom)
}

// ---------------------------------------------------------------- Flatten

// flatten is ml.Flatten: its output is its input's values; backward clears
// a fresh gradient and adds (ml's addTo(x.grad(), dy)).
type flatten struct{ base }

func (s *flatten) forward(*Trainer) error { return nil }

func (s *flatten) backward(t *Trainer) error {
	if s.dx() == nil {
		return nil
	}
	if err := s.zeroIfFresh(0); err != nil {
		return err
	}
	return t.b.Add(s.dx(), s.out.grad)
}

// ---------------------------------------------------------------- Dropout

// dropout is ml.Dropout in training: the keep masks of the step's whole
// batch are drawn on the host from ml's stream (NewRNG("pouw/dropout/v1",
// seed, step, Index), one Float32 per element of the whole batch in
// order: kept when >= P, scaled by 1/(1-P)), and a pass uploads its
// micro-batch's slice of them (ml's replicas skip the stream to their
// first sample: the same values); y = mask != 0 ? float32(x·mask) : +0;
// backward clears a fresh gradient and adds float32(dy·mask).
type dropout struct {
	base
	p     float32
	index int
	host  []float32 // the whole batch's masks
	drawn bool      // host holds step's masks
	step  uint64
	mask  *cuda.Buffer
}

func (s *dropout) forward(t *Trainer) error {
	if !s.drawn || s.step != t.step {
		r := ml.NewRNG("pouw/dropout/v1", t.seed, t.step, uint64(s.index))
		scale := 1 / (1 - s.p)
		for i := range s.host {
			s.host[i] = 0
			if r.Float32() >= s.p {
				s.host[i] = scale
			}
		}
		s.drawn, s.step = true, t.step
	}
	n := s.out.n
	if err := s.mask.Upload(s.host[t.cur*n : (t.cur+1)*n]); err != nil {
		return err
	}
	return t.b.DropoutForward(s.out.val, s.x().val, s.mask)
}

func (s *dropout) backward(t *Trainer) error {
	if s.dx() == nil {
		return nil
	}
	if err := s.zeroIfFresh(0); err != nil {
		return err
	}
	return t.b.MulAcc(s.dx(), s.out.grad, s.mask)
}
