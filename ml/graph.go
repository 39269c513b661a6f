package ml

import (
	"fmt"

	"github.com/pouw/pouwd/accel/canon"
	"github.com/pouw/pouwd/accel/cpu"
)

// This file holds the graph building blocks beyond a plain layer sequence:
// Residual (a tensor feeding two paths whose outputs are added), global
// average pooling and padded max pooling (ResNet's stem).
//
// Gradient accumulation into a tensor used twice. The tape runs closures
// in the reverse of the order they were recorded, and a closure adds its
// contribution into its input's Grad (overwriting when it is the first, see
// Tensor.gradOK). Residual.Forward always runs the main path first, then
// the shortcut path, then the add; so backward runs the add, then the
// shortcut path's closures, then the main path's. The gradient of the
// block input x is therefore, element by element,
//
//	dx = ((shortcut contribution) + main contribution 1) + main contribution 2 ...
//
// in float32 additions in exactly that order: first the shortcut's
// contribution (the masked output gradient itself for an identity
// shortcut, or the 1x1 projection's col2im), then the main path's first
// layer adds its contributions in its own documented order (Conv2d: its
// col2im order). The order depends only on the model, never on threads or
// devices.

// forEachLayer calls f on every layer of ls in canonical order, descending
// into Residual blocks (main path, then shortcut).
func forEachLayer(ls []Layer, f func(Layer)) {
	for _, l := range ls {
		f(l)
		if r, ok := l.(*Residual); ok {
			forEachLayer(r.Main, f)
			forEachLayer(r.Shortcut, f)
		}
	}
}

// ---------------------------------------------------------------- Residual

// Residual is y = ReLU(main(x) + shortcut(x)): Main is a non-empty layer
// sequence, Shortcut a layer sequence or nil for the identity. Forward:
// s = a + b (one float32 addition per element, a from the main path, b
// from the shortcut), y = s > 0 ? s : +0. Backward: g = y > 0 ? dy : 0 goes
// to the main output and to the shortcut output (or x); gradients
// accumulate into x in the order documented at the top of this file.
// Params are the main path's, then the shortcut's, each in layer order.
// With half precision (TrainConfig.Precision) the trainer rounds the
// block's output and its gradient like any layer's; the tensors inside
// the block stay fp32 (a fixed rule, the same on every device).
//
// A Plain block (the Transformer's pre-LayerNorm sublayers) has no ReLU:
// y = a + b, and both paths receive dy unmasked.
type Residual struct {
	Main, Shortcut []Layer
	Plain          bool
	out            *Tensor
}

func (r *Residual) Params() []*Param {
	var ps []*Param
	forEachLayer(append(append([]Layer(nil), r.Main...), r.Shortcut...), func(l Layer) {
		if _, nested := l.(*Residual); !nested {
			ps = append(ps, l.Params()...)
		}
	})
	return ps
}

func seqShape(ls []Layer, in []int) ([]int, error) {
	shape := in
	for _, l := range ls {
		var err error
		if shape, err = l.OutShape(shape); err != nil {
			return nil, err
		}
	}
	return shape, nil
}

func (r *Residual) OutShape(in []int) ([]int, error) {
	if len(r.Main) == 0 {
		return nil, fmt.Errorf("residual: empty main path")
	}
	a, err := seqShape(r.Main, in)
	if err != nil {
		return nil, err
	}
	b, err := seqShape(r.Shortcut, in)
	if err != nil {
		return nil, err
	}
	if !equalShape(a, b) {
		return nil, fmt.Errorf("residual: main path gives %v, shortcut %v", a, b)
	}
	return a, nil
}

// Workspace counts what both paths hold: every inner layer's workspace and
// every inner tensor with its gradient.
func (r *Residual) Workspace(in []int) int {
	total := 0
	for _, path := range [][]Layer{r.Main, r.Shortcut} {
		shape := in
		for _, l := range path {
			total += l.Workspace(shape)
			shape, _ = l.OutShape(shape)
			total += 2 * numel(shape)
		}
	}
	return total
}

func (r *Residual) Forward(c *Ctx, x *Tensor) *Tensor {
	a := x
	for _, l := range r.Main {
		a = c.forward(l, a)
	}
	b := x
	for _, l := range r.Shortcut {
		b = c.forward(l, b)
	}
	if !equalShape(a.Shape, b.Shape) {
		panic(fmt.Sprintf("ml: residual: main path gives %v, shortcut %v", a.Shape, b.Shape))
	}
	y := outTensor(&r.out, a.Shape...)
	n := len(y.Data)
	const chunk = 4096
	c.parallelFor((n+chunk-1)/chunk, func(lo, hi int) {
		lo, hi = lo*chunk, min(hi*chunk, n)
		d, av, bv := y.Data[lo:hi], a.Data[lo:hi], b.Data[lo:hi]
		for i := range d {
			d[i] = av[i] + bv[i]
		}
		if !r.Plain {
			cpu.ReLUMask(d, d, d)
		}
	})
	c.record(y, []*Tensor{a, b}, func() {
		dy := y.Grad
		for _, t := range []*Tensor{a, b} {
			if !t.needGrad {
				continue
			}
			dst, fresh := t.gradDst()
			c.parallelFor((n+chunk-1)/chunk, func(lo, hi int) {
				lo, hi = lo*chunk, min(hi*chunk, n)
				switch {
				case fresh && r.Plain:
					copy(dst[lo:hi], dy[lo:hi])
					return
				case r.Plain:
					addTo(dst[lo:hi], dy[lo:hi])
					return
				case fresh:
					cpu.ReLUMask(dst[lo:hi], y.Data[lo:hi], dy[lo:hi])
					return
				}
				for i := lo; i < hi; i++ {
					if y.Data[i] > 0 {
						dst[i] += dy[i]
					}
				}
			})
		}
	})
	return y
}

// ---------------------------------------------------------------- global average pooling

// GlobalAvgPool maps [N, C, H, W] to [N, C]: y = canon.Sum(plane) / (H·W)
// (correctly rounded division). Backward adds dy / (H·W) to every element
// of the plane.
type GlobalAvgPool struct{ out *Tensor }

func (*GlobalAvgPool) Params() []*Param { return nil }
func (*GlobalAvgPool) OutShape(in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("global average pool: input shape %v, expected [C H W]", in)
	}
	return []int{in[0]}, nil
}
func (*GlobalAvgPool) Workspace([]int) int { return 0 }

func (g *GlobalAvgPool) Forward(c *Ctx, x *Tensor) *Tensor {
	n, ch := x.Shape[0], x.Shape[1]
	hw := x.Shape[2] * x.Shape[3]
	div := float32(hw)
	y := outTensor(&g.out, n, ch)
	for p := range y.Data {
		y.Data[p] = canon.Sum(x.Data[p*hw:(p+1)*hw]) / div
	}
	c.record(y, []*Tensor{x}, func() {
		dx, fresh := x.gradDst()
		c.parallelFor(n*ch, func(lo, hi int) {
			for p := lo; p < hi; p++ {
				gd := y.Grad[p] / div
				d := dx[p*hw : (p+1)*hw]
				for i := range d {
					if fresh {
						d[i] = gd
					} else {
						d[i] += gd
					}
				}
			}
		})
	})
	return y
}

// ---------------------------------------------------------------- padded max pooling

// MaxPool is max pooling over [N, C, H, W] with a K x K window, stride S
// and padding P (padded positions never win, as -Inf padding). The output
// is the first maximum among the in-bounds window elements in row-major
// window order (strict >); backward adds each output's gradient to that
// element, outputs in row-major order, plane by plane.
type MaxPool struct {
	K, S, P int
	out     *Tensor
	arg     []int32
}

func (p *MaxPool) Params() []*Param { return nil }
func (p *MaxPool) dims(h, w int) (int, int) {
	return (h+2*p.P-p.K)/p.S + 1, (w+2*p.P-p.K)/p.S + 1
}
func (p *MaxPool) OutShape(in []int) ([]int, error) {
	if len(in) != 3 || p.P >= p.K || in[1]+2*p.P < p.K || in[2]+2*p.P < p.K {
		return nil, fmt.Errorf("max pool %dx%d/%d pad %d: input shape %v too small", p.K, p.K, p.S, p.P, in)
	}
	oh, ow := p.dims(in[1], in[2])
	return []int{in[0], oh, ow}, nil
}
func (p *MaxPool) Workspace([]int) int { return 0 }

func (p *MaxPool) Forward(c *Ctx, x *Tensor) *Tensor {
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oh, ow := p.dims(h, w)
	y := outTensor(&p.out, n, ch, oh, ow)
	if cap(p.arg) < len(y.Data) {
		p.arg = make([]int32, len(y.Data))
	}
	arg := p.arg[:len(y.Data)]
	planes := n * ch
	c.parallelFor(planes, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x.Data[pl*h*w : (pl+1)*h*w]
			for oy := 0; oy < oh; oy++ {
				y0, y1 := max(0, oy*p.S-p.P), min(h, oy*p.S-p.P+p.K)
				for ox := 0; ox < ow; ox++ {
					x0, x1 := max(0, ox*p.S-p.P), min(w, ox*p.S-p.P+p.K)
					bi := y0*w + x0
					best := src[bi]
					for iy := y0; iy < y1; iy++ {
						for ix := x0; ix < x1; ix++ {
							if v := src[iy*w+ix]; v > best {
								best, bi = v, iy*w+ix
							}
						}
					}
					o := pl*oh*ow + oy*ow + ox
					y.Data[o], arg[o] = best, int32(bi)
				}
			}
		}
	})
	c.record(y, []*Tensor{x}, func() {
		dx := x.grad()
		c.parallelFor(planes, func(lo, hi int) {
			for pl := lo; pl < hi; pl++ {
				d := dx[pl*h*w : (pl+1)*h*w]
				for o := pl * oh * ow; o < (pl+1)*oh*ow; o++ {
					d[arg[o]] += y.Grad[o]
				}
			}
		})
	})
	return y
}

// residualActivation is ActivationBytes' rule for a Residual block: what
// its inner layers' backward passes read (per sample: values at the
// precision, float32 values; per batch: float32 values). The block's own
// output (its ReLU mask) is at the precision.
func residualActivation(r *Residual, in []int) (atPrec, fp32, perBatch uint64, err error) {
	out, err := r.OutShape(in)
	if err != nil {
		return 0, 0, 0, err
	}
	atPrec = uint64(numel(out))
	for _, path := range [][]Layer{r.Main, r.Shortcut} {
		shape := in
		for _, l := range path {
			next, _ := l.OutShape(shape)
			switch l := l.(type) {
			case *Conv2d:
				atPrec += uint64(l.Cin * l.K * l.K * next[1] * next[2])
			case *Norm:
				fp32 += uint64(numel(shape))
				perBatch += uint64(l.C)
			case *Activation, *Linear:
				atPrec += uint64(numel(shape))
			case *Attention:
				atPrec += uint64(numel(shape))
				fp32 += uint64(l.Workspace(shape))
			case *Dropout:
				if l.P > 0 {
					fp32 += uint64(numel(shape))
				}
			case *Residual:
				a, f, p, err := residualActivation(l, shape)
				if err != nil {
					return 0, 0, 0, err
				}
				atPrec, fp32, perBatch = atPrec+a, fp32+f, perBatch+p
			default:
				return 0, 0, 0, fmt.Errorf("activation bytes: layer %T inside a residual block has no rule", l)
			}
			shape = next
		}
	}
	return atPrec, fp32, perBatch, nil
}
