package ml

import (
	"fmt"

	"github.com/pouw/pouwd/accel/cpu"

	"github.com/pouw/pouwd/accel/canon"
)

// Optimizer updates parameters from their gradients. State returns its
// tensors in canonical order for serialisation; SetState restores them.
type Optimizer interface {
	Name() string
	Step(params []*Param)
	State() []NamedTensor
	SetState([]NamedTensor) error
	// Slots is the number of float32 values of state per parameter value.
	Slots() int
}

// NamedTensor is a named tensor in serialised state.
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// NewOptimizer builds the optimizer the config names for the model's
// trainable parameters.
func NewOptimizer(cfg TrainConfig, params []*Param) (Optimizer, error) {
	var trainable []*Param
	for _, p := range params {
		if !p.Buffer {
			trainable = append(trainable, p)
		}
	}
	switch cfg.Optimizer {
	case "sgd":
		o := &SGD{LR: cfg.LR, Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}
		if o.Momentum != 0 {
			o.vel = zerosLike(trainable, "momentum.")
		}
		return o, nil
	case "adam", "adamw":
		return &Adam{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay,
			Decoupled: cfg.Optimizer == "adamw", b1t: 1, b2t: 1,
			m: zerosLike(trainable, "adam.m."), v: zerosLike(trainable, "adam.v.")}, nil
	}
	return nil, fmt.Errorf("optimizer %q: expected sgd, adam or adamw", cfg.Optimizer)
}

func zerosLike(ps []*Param, prefix string) []NamedTensor {
	out := make([]NamedTensor, len(ps))
	for i, p := range ps {
		out[i] = NamedTensor{Name: prefix + p.Name, Shape: append([]int(nil), p.T.Shape...), Data: make([]float32, p.T.Numel())}
	}
	return out
}

func trainableOf(params []*Param) []*Param {
	var out []*Param
	for _, p := range params {
		if !p.Buffer {
			out = append(out, p)
		}
	}
	return out
}

// optimizerChunk is the most values one worker updates in a piece: every
// parameter tensor is cut into such ranges, so one parallel loop spreads a
// 100M-parameter model's update over the threads.
const optimizerChunk = 1 << 16

// parallelUpdate runs the element-wise update f(pi, lo, hi) (parameter pi
// of the trainable list, values lo..hi-1) over every value of ps, split
// over par's workers (nil, or fewer than two chunks of work: on the
// caller's goroutine). Each value's update reads and writes that value's
// own state only, so how the ranges are split never changes a bit.
func parallelUpdate(par func(n int, f func(lo, hi int)), ps []*Param, f func(pi, lo, hi int)) {
	total := 0
	for _, p := range ps {
		total += len(p.T.Data)
	}
	if par == nil || total < 2*optimizerChunk {
		for pi, p := range ps {
			f(pi, 0, len(p.T.Data))
		}
		return
	}
	type span struct{ pi, lo, hi int }
	spans := make([]span, 0, total/optimizerChunk+len(ps))
	for pi, p := range ps {
		for lo := 0; lo < len(p.T.Data); lo += optimizerChunk {
			spans = append(spans, span{pi, lo, min(lo+optimizerChunk, len(p.T.Data))})
		}
	}
	par(len(spans), func(lo, hi int) {
		for _, s := range spans[lo:hi] {
			f(s.pi, s.lo, s.hi)
		}
	})
}

// SGD with momentum (PyTorch semantics, no dampening). Canonical per value:
// g' = g + float32(wd·w); v = float32(mu·v) + g'; w = w - float32(lr·v)
// (without momentum v = g').
type SGD struct {
	LR, Momentum, WeightDecay float32
	vel                       []NamedTensor
	par                       func(n int, f func(lo, hi int))
}

// parallelOptimizer is an optimizer whose element-wise update the trainer
// spreads over its backend's threads (parallelUpdate: the same bits on any
// thread count).
type parallelOptimizer interface {
	setParallel(par func(n int, f func(lo, hi int)))
}

func (o *SGD) setParallel(par func(n int, f func(lo, hi int)))  { o.par = par }
func (o *Adam) setParallel(par func(n int, f func(lo, hi int))) { o.par = par }

func (o *SGD) Name() string { return "sgd" }
func (o *SGD) Slots() int {
	if o.Momentum != 0 {
		return 1
	}
	return 0
}

func (o *SGD) Step(params []*Param) {
	lr, mu, wd := o.LR, o.Momentum, o.WeightDecay
	ps := trainableOf(params)
	for _, p := range ps {
		p.T.grad() // allocated here, not by the workers
	}
	parallelUpdate(o.par, ps, func(pi, lo, hi int) {
		p := ps[pi]
		w := p.T.Data[lo:hi]
		g := p.T.Grad[lo:hi]
		switch {
		case o.vel == nil && wd == 0:
			for i, gi := range g {
				w[i] -= float32(lr * gi)
			}
		case wd == 0:
			cpu.SGDMomentum(w, o.vel[pi].Data[lo:hi], g, lr, mu) // same bits, vectorised
		default:
			var v []float32
			if o.vel != nil {
				v = o.vel[pi].Data[lo:hi]
			}
			for i, gi := range g {
				d := gi + float32(wd*w[i])
				if v != nil {
					d = float32(mu*v[i]) + d
					v[i] = d
				}
				w[i] -= float32(lr * d)
			}
		}
	})
}

func (o *SGD) State() []NamedTensor { return o.vel }
func (o *SGD) SetState(s []NamedTensor) error {
	return setState(o.vel, s, nil)
}

// Adam and AdamW (PyTorch semantics). Canonical per value, with t the step
// and b1ᵗ, b2ᵗ kept as float64 running products (exact IEEE products):
//
//	Adam:  g = g + float32(wd·w)                 (AdamW instead: w = w - float32(float32(lr·wd)·w))
//	m = float32(b1·m) + float32((1-b1)·g)
//	v = float32(b2·v) + float32(float32((1-b2)·g)·g)
//	denom = Sqrt32(v)/Sqrt32(1-b2ᵗ) + eps;  w = w - float32(float32(lr/(1-b1ᵗ))·(m/denom))
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Decoupled                          bool
	t                                  uint64
	b1t, b2t                           float64
	m, v                               []NamedTensor
	par                                func(n int, f func(lo, hi int))
}

func (o *Adam) Name() string {
	if o.Decoupled {
		return "adamw"
	}
	return "adam"
}
func (o *Adam) Slots() int { return 2 }

// Advance is the scalar part of Step: the step count and the running
// products β1ᵗ and β2ᵗ move one step on. A resident device step
// (Trainer.SetResident) calls it on the host and reads Products, so the
// host optimizer's scalars are always current.
func (o *Adam) Advance() {
	o.t++
	o.b1t *= float64(o.Beta1)
	o.b2t *= float64(o.Beta2)
}

// Products returns β1ᵗ and β2ᵗ for the last step counted (exact float64
// running products).
func (o *Adam) Products() (b1t, b2t float64) { return o.b1t, o.b2t }

func (o *Adam) Step(params []*Param) {
	o.Advance()
	bc1 := float32(1 - o.b1t)
	sbc2 := canon.Sqrt32(float32(1 - o.b2t))
	step := o.LR / bc1
	decay := float32(o.LR * o.WeightDecay)
	omb1, omb2 := 1-o.Beta1, 1-o.Beta2
	ps := trainableOf(params)
	for _, p := range ps {
		p.T.grad() // allocated here, not by the workers
	}
	parallelUpdate(o.par, ps, func(pi, lo, hi int) {
		p := ps[pi]
		w, g := p.T.Data[lo:hi], p.T.Grad[lo:hi]
		m, v := o.m[pi].Data[lo:hi], o.v[pi].Data[lo:hi]
		for i := range w {
			gi := g[i]
			if o.WeightDecay != 0 {
				if o.Decoupled {
					w[i] -= float32(decay * w[i])
				} else {
					gi += float32(o.WeightDecay * w[i])
				}
			}
			m[i] = float32(o.Beta1*m[i]) + float32(omb1*gi)
			v[i] = float32(o.Beta2*v[i]) + float32(float32(omb2*gi)*gi)
			denom := canon.Sqrt32(v[i])/sbc2 + o.Eps
			w[i] -= float32(step * (m[i] / denom))
		}
	})
}

// State holds m, v and a scalar tensor with t, b1ᵗ and b2ᵗ (as float32 bit
// pairs of their float64 values, so they round-trip exactly).
func (o *Adam) State() []NamedTensor {
	s := append(append([]NamedTensor(nil), o.m...), o.v...)
	return append(s, NamedTensor{Name: "adam.step", Shape: []int{6}, Data: packU64(o.t, f64bits(o.b1t), f64bits(o.b2t))})
}

func (o *Adam) SetState(s []NamedTensor) error {
	if len(s) != len(o.m)+len(o.v)+1 {
		return fmt.Errorf("adam state: %d tensors, expected %d", len(s), len(o.m)+len(o.v)+1)
	}
	last := s[len(s)-1]
	if last.Name != "adam.step" || len(last.Data) != 6 {
		return fmt.Errorf("adam state: last tensor %q, expected adam.step with 6 values", last.Name)
	}
	if err := setState(append(append([]NamedTensor(nil), o.m...), o.v...), s[:len(s)-1], nil); err != nil {
		return err
	}
	u := unpackU64(last.Data)
	o.t, o.b1t, o.b2t = u[0], f64frombits(u[1]), f64frombits(u[2])
	return nil
}

func setState(dst, src []NamedTensor, _ any) error {
	if len(dst) != len(src) {
		return fmt.Errorf("optimizer state: %d tensors, expected %d", len(src), len(dst))
	}
	for i := range dst {
		if dst[i].Name != src[i].Name || !equalShape(dst[i].Shape, src[i].Shape) {
			return fmt.Errorf("optimizer state tensor %d: %q %v, expected %q %v", i, src[i].Name, src[i].Shape, dst[i].Name, dst[i].Shape)
		}
		copy(dst[i].Data, src[i].Data)
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
