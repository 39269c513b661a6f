//go:build cuda || cudaemu

package devtrain

import (
	"fmt"

	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// The stages of a ResNet beyond the CNN's: residual blocks, batch
// normalisation with its running statistics (LayerNorm shares the stage),
// bias-free convolutions (stages.go), padded max pooling (the stem, the
// pool stage) and global average pooling (the tokenPool stage over
// [N·C, H·W, 1], transformer.go: canon.Sum of each plane divided by H·W,
// backward float32(dy/(H·W)) written when fresh, else added, as ml's
// GlobalAvgPool).

// ---------------------------------------------------------------- Residual

// residual plans ml.Residual: the main path's stages from x, the
// shortcut's (none for the identity), then the addition. Backward then
// runs the addition (into the main output's gradient, then the shortcut's
// or x's), the shortcut's stages and the main path's, so x's gradient
// receives the shortcut's contribution first (fresh) and the main path's
// first layer's added: ml/graph.go's order.
func (pl *planner) residual(name string, r *ml.Residual, x *tensor, in []int, n int) (*tensor, error) {
	a, _, err := pl.seq(name+" main ", r.Main, x, in)
	if err != nil {
		return nil, err
	}
	sc := x
	if len(r.Shortcut) > 0 {
		if sc, _, err = pl.seq(name+" shortcut ", r.Shortcut, x, in); err != nil {
			return nil, err
		}
	}
	if a.n != n || sc.n != n {
		return nil, fmt.Errorf("%s: the paths give %d and %d values, expected %d", name, a.n, sc.n, n)
	}
	s := &residualAdd{plain: r.Plain}
	y := &tensor{n: n, needGrad: a.needGrad || sc.needGrad}
	pl.want(&y.val, name+" output", n, nil)
	if y.needGrad {
		pl.want(&y.grad, name+" output gradient", n, nil)
	}
	s.base = base{name: name + " addition", ins: []*tensor{a, sc}, out: y}
	pl.add(s)
	return y, nil
}

// residualAdd is the block's y = a + b (one float32 addition per
// element), then y > 0 ? y : +0 unless plain.
type residualAdd struct {
	base
	plain bool
}

func (s *residualAdd) forward(t *Trainer) error {
	y := s.out.val
	if err := y.CopyFrom(s.ins[0].val); err != nil {
		return err
	}
	if err := t.b.Add(y, s.ins[1].val); err != nil {
		return err
	}
	if s.plain {
		return nil
	}
	return t.b.ReLUMask(y, y, y)
}

// backward: each path's output gradient is dy (plain) or dy where y > 0
// (else +0), written when fresh (a copy, or the masked copy), added
// otherwise; the main path's first, as ml.
func (s *residualAdd) backward(t *Trainer) error {
	dy := s.out.grad
	for i, in := range s.ins {
		if !in.needGrad {
			continue
		}
		var err error
		switch {
		case s.plain && s.fresh[i]:
			err = in.grad.CopyFrom(dy)
		case s.plain:
			err = t.b.Add(in.grad, dy)
		case s.fresh[i]:
			err = t.b.ReLUMask(in.grad, s.out.val, dy)
		default:
			err = t.b.ReLUBackwardAcc(in.grad, s.out.val, dy)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------- normalisation

// norm is ml.Norm in training: BatchNorm (statistics per channel over the
// batch and positions, running statistics updated) or LayerNorm (per row
// of the last dimension), with NormForward and NormBackward, which
// compose accel/cuda's kernels in ml's order. xhat, the means and the
// 1/std are kept for backward.
type norm struct {
	base
	gamma, beta, rmean, rvar *param
	geom                     cuda.NormGeom
	eps, mom                 float32
	xhat, mean, rstd         *cuda.Buffer
}

func (pl *planner) norm(name string, l *ml.Norm, x *tensor, in []int, n int) (*tensor, error) {
	t := pl.t
	s := &norm{gamma: pl.param(l.Gamma), beta: pl.param(l.Beta), eps: l.Eps, mom: l.Mom}
	if l.Layer {
		s.geom = cuda.LayerNormGeom(n/l.C, l.C)
	} else {
		if l.RMean == nil || l.RVa == nil {
			return nil, fmt.Errorf("%s: a BatchNorm without running statistics", name)
		}
		s.rmean, s.rvar = pl.param(l.RMean), pl.param(l.RVa)
		s.geom = cuda.BatchNormGeom(t.batch, l.C, numel(in)/l.C)
	}
	s.base = base{name: name, ins: []*tensor{x}, out: pl.tensor(name, n, x, true)}
	pl.want(&s.xhat, name+" normalised values", n, nil)
	pl.want(&s.mean, name+" means", s.geom.Groups, nil)
	pl.want(&s.rstd, name+" 1/std", s.geom.Groups, nil)
	// NormBackward's own buffers (NormForward's are fewer), and the tree
	// sums' (at most an eighth of their input).
	t.transient = max(t.transient, 2*n+2*s.geom.Groups+n/8+16*s.geom.Groups)
	pl.add(s)
	return s.out, nil
}

func (s *norm) forward(t *Trainer) error {
	var rm, rv *cuda.Buffer
	if s.rmean != nil {
		rm, rv = s.rmean.w, s.rvar.w
	}
	return t.b.NormForward(s.out.val, s.xhat, s.mean, s.rstd, s.x().val, s.gamma.w, s.beta.w, rm, rv, s.geom, true, true, s.eps, s.mom)
}

// backward: ml clears the fresh dγ and dβ (and a fresh dx), then adds.
func (s *norm) backward(t *Trainer) error {
	if err := s.gamma.g.Zero(); err != nil {
		return err
	}
	if err := s.beta.g.Zero(); err != nil {
		return err
	}
	dx := s.dx()
	if dx != nil {
		if err := s.zeroIfFresh(0); err != nil {
			return err
		}
	}
	return t.b.NormBackward(dx, s.gamma.g, s.beta.g, s.out.grad, s.xhat, s.gamma.w, s.rstd, s.geom)
}
