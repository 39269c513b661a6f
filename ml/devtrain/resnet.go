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
// of the last dimension). It composes accel/cuda's kernels in the order of
// cuda.NormForward and cuda.NormBackward (checked bit for bit against ml),
// with their temporaries carved from the shared scratch instead of
// allocated per call. xhat, the means and the 1/std are kept for
// backward.
type norm struct {
	base
	gamma, beta, rmean, rvar *param
	geom                     cuda.NormGeom
	eps, mom                 float32
	xhat, mean, rstd         *cuda.Buffer
	// svar keeps the pass's variance for device 0 to update the running
	// statistics in micro-batch order (several devices, reduce.go).
	svar *cuda.Buffer
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
	if s.rmean != nil && t.deferBN {
		pl.want(&s.svar, name+" variances", s.geom.Groups, nil)
	}
	// The tree sums' scratch (SumRows keeps at most an eighth of its
	// input, or a value per group).
	t.transient = max(t.transient, n/8+16*s.geom.Groups)
	pl.add(s)
	return s.out, nil
}

// scratchLen: two values per element and four per group (the gathered
// values or the backward's two products; the sums and variances).
func (s *norm) scratchLen() int { return 2*s.out.n + 4*s.geom.Groups }

// parts carves the scratch: two [Groups, M] buffers and four per group.
func (s *norm) parts(t *Trainer) (a, b, g0, g1, g2, g3 *cuda.Buffer) {
	n, g := s.out.n, s.geom.Groups
	sc := t.scratch
	return sc.Slice(0, n), sc.Slice(n, n), sc.Slice(2*n, g), sc.Slice(2*n+g, g), sc.Slice(2*n+2*g, g), sc.Slice(2*n+3*g, g)
}

// forward is cuda.NormForward in training: gather, mean, variance, the
// running statistics (BatchNorm), then xhat and y.
func (s *norm) forward(t *Trainer) error {
	b, g := t.b, s.geom
	mf := float32(g.M)
	vals, _, sq, variance, _, _ := s.parts(t)
	x := s.x().val
	steps := []func() error{
		func() error { return b.NormGather(vals, x, g) },
		func() error { return b.SumRows(s.mean, vals, g.Groups, g.M, g.M) },
		func() error { return b.NormStats(cuda.NormMean, s.mean, nil, nil, g.Groups, mf, s.eps) },
		func() error { return b.SumSqRows(sq, vals, s.mean, g.Groups, g.M, g.M) },
		func() error { return b.NormStats(cuda.NormVar, sq, variance, s.rstd, g.Groups, mf, s.eps) },
		func() error {
			if s.rmean == nil {
				return nil
			}
			if t.deferBN {
				return s.svar.CopyFrom(variance)
			}
			return b.BatchNormRunning(s.rmean.w, s.rvar.w, s.mean, variance, g.Groups, g.M, s.mom)
		},
		func() error { return b.NormApply(s.out.val, s.xhat, x, s.mean, s.rstd, s.gamma.w, s.beta.w, g) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// backward is cuda.NormBackward: ml clears the fresh dγ and dβ (and a
// fresh dx), then adds; BatchNorm's dβ and dγ are canon.Sum over each
// channel, LayerNorm's sequential over the rows.
func (s *norm) backward(t *Trainer) error {
	b, g := t.b, s.geom
	gbuf, gx, sg, sgx, _, _ := s.parts(t)
	dy := s.out.grad
	steps := []func() error{s.gamma.g.Zero, s.beta.g.Zero}
	if g.SP > 0 {
		steps = append(steps,
			func() error { return b.NormBackwardPrep(gbuf, gx, dy, s.xhat, nil, g) },
			func() error { return b.SumRows(sg, gbuf, g.Groups, g.M, g.M) },
			func() error { return b.SumRows(sgx, gx, g.Groups, g.M, g.M) },
			func() error { return b.Add(s.beta.g, sg) },
			func() error { return b.Add(s.gamma.g, sgx) })
	} else {
		steps = append(steps, func() error { return b.LayerNormParamGrad(s.gamma.g, s.beta.g, dy, s.xhat, g.Groups, g.M) })
	}
	if dx := s.dx(); dx != nil {
		steps = append(steps,
			func() error { return s.zeroIfFresh(0) },
			func() error { return b.NormBackwardPrep(gbuf, gx, dy, s.xhat, s.gamma.w, g) },
			func() error { return b.SumRows(sg, gbuf, g.Groups, g.M, g.M) },
			func() error { return b.SumRows(sgx, gx, g.Groups, g.M, g.M) },
			func() error { return b.NormBackwardDx(dx, s.rstd, gbuf, s.xhat, sg, sgx, g) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}
