//go:build cuda || cudaemu

package devtrain

import (
	"errors"
	"fmt"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
)

// Trainer is an ml.Resident on one CUDA device.
type Trainer struct {
	b      *cuda.Backend
	model  *ml.Model
	opt    ml.Optimizer
	batch  int
	stages []stage
	params []param
	// The batch's inputs and int32 labels, the softmax's probabilities, the
	// per-sample losses and their canonical sum.
	x, labels, prob, losses, lossSum *cuda.Buffer
	classes                          int
	all                              []*cuda.Buffer // every allocation, freed by Close
	stepped                          bool           // the gradients exist
}

// stage is one placed layer.
type stage struct {
	kind    stageKind
	w, bias *param
	act     string // kindAct: relu, gelu or tanh
	in, out int    // values per sample
	// kindConv: the geometry per batch (N set at each step), the columns
	// (reused for their gradient) and the [Cout, N·P] output (reused for
	// its gradient); kindPool: the geometry and the max-pooling indices.
	conv     cuda.ConvGeom
	cout     int
	col, cnh *cuda.Buffer
	pool     cuda.PoolGeom
	arg      *cuda.Buffer
	// y is the stage's output, dy its gradient; x is its input (the
	// previous stage's y, or the batch) and dx the gradient of that
	// input (nil for the first stage: the batch needs none).
	y, dy, x, dx *cuda.Buffer
}

type stageKind int

const (
	kindLinear stageKind = iota
	kindAct
	kindConv
	kindPool
	kindFlatten
)

// param is one model tensor on the device, with its gradient and the
// optimizer's slots (SGD's velocity; Adam's m and v), each paired with
// the host tensor Pull fills.
type param struct {
	p     *ml.Param
	w, g  *cuda.Buffer
	slots []*cuda.Buffer
	host  [][]float32 // the host optimizer's slot tensors, in slots' order
}

// New places tr's model, optimizer state and step buffers on b, uploading
// the trainer's current state. It fails, naming why, when a layer, the
// optimizer or a setting has no device path yet, or when the device's
// memory budget cannot hold the run. Attach the result with
// tr.SetResident.
func New(b *cuda.Backend, tr *ml.Trainer) (*Trainer, error) {
	if b == nil || tr == nil {
		return nil, errors.New("devtrain: nil backend or trainer")
	}
	m := tr.Model
	t := &Trainer{b: b, model: m, opt: tr.Opt, batch: tr.Cfg.BatchSize, classes: m.Spec.Classes}
	if err := t.plan(); err != nil {
		return nil, fmt.Errorf("model %s on %s: %w: %w", m.Spec, b.Device(), ErrUnsupported, err)
	}
	if err := b.Budget().Check(fmt.Sprintf("model %s with batch %d", m.Spec, t.batch), 4*uint64(t.floats())); err != nil {
		return nil, err
	}
	if err := t.allocate(); err != nil {
		t.Close()
		return nil, fmt.Errorf("model %s on %s: %w", m.Spec, b.Device(), err)
	}
	return t, nil
}

// plan maps the model's layers to stages and checks the optimizer.
func (t *Trainer) plan() error {
	byParam := map[*ml.Param]int{}
	for i, p := range t.model.Params() {
		if p.Buffer {
			return fmt.Errorf("buffer %s (normalisation statistics) has no device path yet", p.Name)
		}
		byParam[p] = i
		t.params = append(t.params, param{p: p})
	}
	shape := t.model.InShape // per sample
	for i, l := range t.model.Layers {
		in := numel(shape)
		next, err := l.OutShape(shape)
		if err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
		st := stage{in: in, out: numel(next)}
		switch l := l.(type) {
		case *ml.Linear:
			if l.Tokens {
				return fmt.Errorf("layer %d: a per-token Linear has no device path yet", i)
			}
			st.kind, st.w, st.bias = kindLinear, &t.params[byParam[l.W]], &t.params[byParam[l.B]]
		case *ml.Activation:
			switch l.Kind {
			case "relu", "gelu", "tanh":
			default:
				return fmt.Errorf("layer %d: activation %q has no device path", i, l.Kind)
			}
			st.kind, st.act = kindAct, l.Kind
		case *ml.Conv2d:
			if l.B == nil {
				return fmt.Errorf("layer %d: a convolution without bias has no device path yet", i)
			}
			st.kind, st.w, st.bias, st.cout = kindConv, &t.params[byParam[l.W]], &t.params[byParam[l.B]], l.Cout
			st.conv = cuda.ConvGeom{N: t.batch, Cin: l.Cin, H: shape[1], W: shape[2], K: l.K, S: l.S, P: l.P}
		case *ml.Pool2d:
			st.kind = kindPool
			st.pool = cuda.PoolGeom{Avg: l.Avg, Planes: t.batch * shape[0], H: shape[1], W: shape[2], K: l.K, S: l.S}
		case *ml.Flatten:
			st.kind = kindFlatten
		default:
			return fmt.Errorf("layer %d (%T) has no device path yet: the device trains MLPs and CNNs (Linear, Conv2d with bias, pooling, relu, gelu, tanh) for now", i, l)
		}
		t.stages = append(t.stages, st)
		shape = next
	}
	if len(t.stages) == 0 || t.stages[len(t.stages)-1].kind != kindLinear || numel(shape) != t.classes {
		return fmt.Errorf("expected a Linear last layer with %d outputs (the classes)", t.classes)
	}
	switch o := t.opt.(type) {
	case *ml.SGD:
		if st := o.State(); st != nil {
			for i := range t.params {
				t.params[i].host = [][]float32{st[i].Data}
			}
		}
	case *ml.Adam:
		st := o.State() // m..., v..., the step scalars
		n := len(t.params)
		if len(st) != 2*n+1 {
			return fmt.Errorf("adam state has %d tensors, expected %d", len(st), 2*n+1)
		}
		for i := range t.params {
			t.params[i].host = [][]float32{st[i].Data, st[n+i].Data}
		}
	default:
		return fmt.Errorf("optimizer %s has no device path", t.opt.Name())
	}
	return nil
}

// floats counts the device's float32 values: per parameter its weight,
// gradient and slots; per stage its output and output gradient; the batch,
// labels and loss buffers.
func (t *Trainer) floats() int {
	n := 0
	for _, p := range t.params {
		n += p.p.T.Numel() * (2 + len(p.host))
	}
	for _, s := range t.stages {
		n += 2 * t.batch * s.out
		switch {
		case s.kind == kindConv:
			n += s.conv.ColLen() + t.batch*s.out
		case s.kind == kindPool && !s.pool.Avg: // the indices
			n += t.batch * s.out
		case s.kind == kindFlatten: // its output is its input
			n -= t.batch * s.out
		}
	}
	return n + t.batch*(t.model.SampleSize()+1+t.classes+1) + 1
}

func (t *Trainer) alloc(what string, n int) (*cuda.Buffer, error) {
	x, err := t.b.AllocFor(what, n)
	if err == nil {
		t.all = append(t.all, x)
	}
	return x, err
}

// allocate makes every buffer and uploads the state.
func (t *Trainer) allocate() error {
	var err error
	for i := range t.params {
		p := &t.params[i]
		n := p.p.T.Numel()
		if p.w, err = t.alloc(p.p.Name, n); err != nil {
			return err
		}
		if p.g, err = t.alloc(p.p.Name+" gradient", n); err != nil {
			return err
		}
		if err = p.w.Upload(p.p.T.Data); err != nil {
			return err
		}
		for k, h := range p.host {
			s, err := t.alloc(fmt.Sprintf("%s optimizer slot %d", p.p.Name, k), n)
			if err != nil {
				return err
			}
			if err = s.Upload(h); err != nil {
				return err
			}
			p.slots = append(p.slots, s)
		}
	}
	bs := t.batch
	if t.x, err = t.alloc("batch", bs*t.model.SampleSize()); err != nil {
		return err
	}
	if t.labels, err = t.alloc("labels", bs); err != nil {
		return err
	}
	if t.prob, err = t.alloc("probabilities", bs*t.classes); err != nil {
		return err
	}
	if t.losses, err = t.alloc("losses", bs); err != nil {
		return err
	}
	if t.lossSum, err = t.alloc("loss", 1); err != nil {
		return err
	}
	prev, prevGrad := t.x, (*cuda.Buffer)(nil)
	for i := range t.stages {
		s := &t.stages[i]
		switch s.kind {
		case kindConv:
			if s.col, err = t.alloc(fmt.Sprintf("stage %d columns", i), s.conv.ColLen()); err != nil {
				return err
			}
			if s.cnh, err = t.alloc(fmt.Sprintf("stage %d output, channels first", i), bs*s.out); err != nil {
				return err
			}
		case kindPool:
			if !s.pool.Avg {
				if s.arg, err = t.alloc(fmt.Sprintf("stage %d pooling indices", i), bs*s.out); err != nil {
					return err
				}
			}
		}
		if s.kind == kindFlatten {
			s.y = prev // the same values
		} else if s.y, err = t.alloc(fmt.Sprintf("stage %d output", i), bs*s.out); err != nil {
			return err
		}
		if s.dy, err = t.alloc(fmt.Sprintf("stage %d output gradient", i), bs*s.out); err != nil {
			return err
		}
		s.x, s.dx = prev, prevGrad
		prev, prevGrad = s.y, s.dy
	}
	return nil
}

// Name implements ml.Resident.
func (t *Trainer) Name() string { return t.b.Device() }

// Step implements ml.Resident: ml's forward, SoftmaxCrossEntropy,
// backward and optimizer step, kernel for kernel.
func (t *Trainer) Step(x []float32, labels []int, _ uint64) (float32, error) {
	n := len(labels)
	if n != t.batch || len(x) != n*t.model.SampleSize() {
		return 0, fmt.Errorf("devtrain: a batch of %d samples and %d values, expected %d and %d", n, len(x), t.batch, t.batch*t.model.SampleSize())
	}
	lab := make([]int32, n)
	for i, y := range labels {
		if y < 0 || y >= t.classes {
			return 0, fmt.Errorf("devtrain: label %d of row %d, expected 0..%d", y, i, t.classes-1)
		}
		lab[i] = int32(y)
	}
	if err := errors.Join(t.x.Upload(x), t.labels.UploadInt32(lab)); err != nil {
		return 0, err
	}
	if err := t.forward(n); err != nil {
		return 0, err
	}
	var sum [1]float32
	if err := t.lossSum.Download(sum[:]); err != nil {
		return 0, err
	}
	if err := t.backward(n); err != nil {
		return 0, err
	}
	if err := t.update(); err != nil {
		return 0, err
	}
	t.stepped = true
	return sum[0] / float32(n), nil
}

func (t *Trainer) forward(n int) error {
	b := t.b
	for i := range t.stages {
		s := &t.stages[i]
		var err error
		switch {
		case s.kind == kindLinear:
			err = b.GemmDevice(false, false, n, s.out, s.in, s.x, s.in, s.w.w, s.out, s.y, s.out)
			if err == nil {
				err = b.AddBiasRows(s.y, s.bias.w, n, s.out)
			}
		case s.kind == kindConv:
			// ml.Conv2d: im2col of the batch, one GEMM to [Cout, N·P],
			// then to [N, Cout, P] with the bias.
			r, q, sp := s.conv.Cin*s.conv.K*s.conv.K, n*s.out/s.cout, s.out/s.cout
			err = b.Im2col(s.col, s.x, s.conv)
			if err == nil {
				err = b.GemmDevice(false, false, s.cout, q, r, s.w.w, r, s.col, q, s.cnh, q)
			}
			if err == nil {
				err = b.CNHWToNCHWBias(s.y, s.cnh, s.bias.w, n, s.cout, sp)
			}
		case s.kind == kindPool:
			err = b.Pool2dForward(s.y, s.arg, s.x, s.pool)
		case s.kind == kindFlatten:
		case s.act == "relu":
			err = b.ReLUMask(s.y, s.x, s.x)
		case s.act == "gelu":
			err = b.GELU(s.y, s.x)
		case s.act == "tanh":
			err = b.Tanh(s.y, s.x)
		}
		if err != nil {
			return fmt.Errorf("stage %d forward: %w", i, err)
		}
	}
	logits := t.stages[len(t.stages)-1].y
	if err := b.SoftmaxXentForward(t.prob, t.losses, logits, t.labels, n, t.classes); err != nil {
		return err
	}
	return b.SumRows(t.lossSum, t.losses, 1, n, n)
}

func (t *Trainer) backward(n int) error {
	b := t.b
	last := &t.stages[len(t.stages)-1]
	// The loss's gradient is seeded with 1: g = float32(1/n).
	g := float32(1) / float32(n)
	if err := last.dy.Zero(); err != nil {
		return err
	}
	if err := b.SoftmaxXentBackward(last.dy, t.prob, t.labels, n, t.classes, g); err != nil {
		return err
	}
	for i := len(t.stages) - 1; i >= 0; i-- {
		s := &t.stages[i]
		var err error
		switch {
		case s.kind == kindLinear:
			// Each gradient has one contribution: written, not added.
			err = b.GemmDevice(true, false, s.in, s.out, n, s.x, s.in, s.dy, s.out, s.w.g, s.out)
			if err == nil {
				err = b.ColSum(s.bias.g, s.dy, n, s.out)
			}
			if err == nil && s.dx != nil {
				err = b.GemmDevice(false, true, n, s.in, s.out, s.dy, s.out, s.w.w, s.out, s.dx, s.in)
			}
		case s.kind == kindConv:
			err = t.convBackward(s, n)
		case s.kind == kindPool:
			// ml: dx = x.grad() (fresh: zeroed), then the pooled
			// gradients added.
			if s.dx != nil {
				if err = s.dx.Zero(); err == nil {
					err = b.Pool2dBackward(s.dx, s.dy, s.arg, s.pool)
				}
			}
		case s.kind == kindFlatten:
			if s.dx != nil {
				if err = s.dx.Zero(); err == nil {
					err = b.Add(s.dx, s.dy)
				}
			}
		case s.act == "relu":
			if s.dx != nil {
				err = b.ReLUMask(s.dx, s.x, s.dy)
			}
		case s.act == "gelu":
			if s.dx != nil {
				if err = s.dx.Zero(); err == nil {
					err = b.GELUBackwardAcc(s.dx, s.x, s.dy)
				}
			}
		case s.act == "tanh":
			if s.dx != nil {
				if err = s.dx.Zero(); err == nil {
					err = b.TanhBackwardAcc(s.dx, s.y, s.dy)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("stage %d backward: %w", i, err)
		}
	}
	return nil
}

// convBackward is ml.Conv2d's backward: the output gradient to [Cout,
// N·P], dW = dout·colᵀ (written), db = zero then each channel's sequential
// sum added, and, when the input needs it, dcol = Wᵀ·dout into the
// columns' buffer and dx = zero then col2im added.
func (t *Trainer) convBackward(s *stage, n int) error {
	b := t.b
	r, q, sp := s.conv.Cin*s.conv.K*s.conv.K, n*s.out/s.cout, s.out/s.cout
	err := b.NCHWToCNHW(s.cnh, s.dy, n, s.cout, sp)
	if err == nil {
		err = b.GemmDevice(false, true, s.cout, r, q, s.cnh, q, s.col, q, s.w.g, r)
	}
	if err == nil {
		err = s.bias.g.Zero()
	}
	if err == nil {
		err = b.RowSumAcc(s.bias.g, s.cnh, s.cout, q)
	}
	if err != nil || s.dx == nil {
		return err
	}
	if err = b.GemmDevice(true, false, r, q, s.cout, s.w.w, r, s.cnh, q, s.col, q); err == nil {
		if err = s.dx.Zero(); err == nil {
			err = b.Col2imAcc(s.dx, s.col, s.conv)
		}
	}
	return err
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// update is ml.SGD.Step or ml.Adam.Step (whose scalars the trainer has
// advanced) over every parameter.
func (t *Trainer) update() error {
	b := t.b
	for i := range t.params {
		p := &t.params[i]
		var err error
		switch o := t.opt.(type) {
		case *ml.SGD:
			var v *cuda.Buffer
			if len(p.slots) > 0 {
				v = p.slots[0]
			}
			switch {
			case v == nil && o.WeightDecay == 0:
				err = b.SGD(p.w, p.g, o.LR)
			case o.WeightDecay == 0:
				err = b.SGDMomentum(p.w, v, p.g, o.LR, o.Momentum)
			default:
				err = b.SGDWeightDecay(p.w, v, p.g, o.LR, o.Momentum, o.WeightDecay)
			}
		case *ml.Adam:
			b1t, b2t := o.Products()
			s := cuda.NewAdamStep(o.LR, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, o.Decoupled, b1t, b2t)
			err = b.Adam(p.w, p.g, p.slots[0], p.slots[1], s)
		}
		if err != nil {
			return fmt.Errorf("optimizer on %s: %w", p.p.Name, err)
		}
	}
	return nil
}

// SampleValues implements ml.Resident.
func (t *Trainer) SampleValues(grads bool, prev pouw.Hash, stream int) (uint64, []byte, error) {
	bufs := make([]*cuda.Buffer, len(t.params))
	var n uint64
	for i := range t.params {
		bufs[i] = t.params[i].w
		if grads {
			bufs[i] = t.params[i].g
		}
		n += uint64(bufs[i].Len())
	}
	vals, err := t.b.SampleValues(bufs, prev, stream)
	return n, vals, err
}

// Pull implements ml.Resident.
func (t *Trainer) Pull() error {
	for i := range t.params {
		p := &t.params[i]
		if err := p.w.Download(p.p.T.Data); err != nil {
			return fmt.Errorf("%s: %w", p.p.Name, err)
		}
		if t.stepped {
			g := make([]float32, p.g.Len())
			if err := p.g.Download(g); err != nil {
				return fmt.Errorf("%s gradient: %w", p.p.Name, err)
			}
			if err := p.p.T.SetGrad(g); err != nil {
				return err
			}
		}
		for k, s := range p.slots {
			if err := s.Download(p.host[k]); err != nil {
				return fmt.Errorf("%s optimizer slot %d: %w", p.p.Name, k, err)
			}
		}
	}
	return nil
}

// Close frees the device buffers (the backend stays open).
func (t *Trainer) Close() error {
	var errs []error
	for _, x := range t.all {
		errs = append(errs, x.Free())
	}
	t.all = nil
	return errors.Join(errs...)
}

// Place attaches a resident run on be to tr when be is a CUDA backend and
// the model has a device path (see New), returning what detaches it (the
// state back on the host) and frees the device's buffers. A model or
// setting without a device path is not an error: release is nil and note
// says why the steps stay on the host path (where the GPU still runs the
// GEMMs). Other failures (the memory budget, an allocation) are errors.
func Place(be accel.Backend, tr *ml.Trainer) (release func() error, note string, err error) {
	b, ok := be.(*cuda.Backend)
	if !ok {
		return nil, "", nil
	}
	d, err := New(b, tr)
	if errors.Is(err, ErrUnsupported) {
		return nil, err.Error() + "; training on the host path (the GPU runs its GEMMs)", nil
	}
	if err != nil {
		return nil, "", err
	}
	if err := tr.SetResident(d); err != nil {
		_ = d.Close()
		return nil, err.Error() + "; training on the host path (the GPU runs its GEMMs)", nil
	}
	release = func() error { return errors.Join(tr.SetResident(nil), d.Close()) }
	return release, fmt.Sprintf("training resident on %s: weights, activations, gradients and optimizer state on the device", d.Name()), nil
}
