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
	seed   uint64 // the run's seed (dropout masks)
	step   uint64 // the step being run (dropout masks)
	stages []stage
	params []param // the model's parameters and buffers, in ml's order
	// input is the batch (its values; ids for a token embedding), logits
	// the last stage's output.
	input, logits *tensor
	// The int32 labels, the softmax's probabilities, the per-sample losses
	// and their canonical sum.
	labels, prob, losses, lossSum *cuda.Buffer
	classes                       int
	vocab                         int // > 0: the batch holds token ids below it
	// What allocate makes: the buffers the stages asked for (with the
	// values to upload), the links that share a buffer, one scratch
	// buffer the stages share for accumulating gradients, and the most
	// a kernel allocates for itself (NormForward, NormBackward) while it
	// runs, counted in the budget.
	reqs      []request
	links     []func()
	scratchN  int
	scratch   *cuda.Buffer
	transient int
	all       []*cuda.Buffer // every allocation, freed by Close
	stepped   bool           // the gradients exist
}

// param is one model tensor on the device, with its gradient and the
// optimizer's slots (SGD's velocity; Adam's m and v), each paired with
// the host tensor Pull fills. A buffer (BatchNorm's running statistics)
// has only its values.
type param struct {
	p     *ml.Param
	w, g  *cuda.Buffer
	slots []*cuda.Buffer
	host  [][]float32 // the host optimizer's slot tensors, in slots' order
}

// request is a buffer a stage needs: allocate makes it, uploading init
// when it is set.
type request struct {
	dst  **cuda.Buffer
	what string
	n    int
	init []float32
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
	t := &Trainer{b: b, model: m, opt: tr.Opt, batch: tr.Cfg.BatchSize, seed: tr.Cfg.Seed, classes: m.Spec.Classes}
	err := settings(tr.Cfg)
	if err == nil {
		err = t.plan()
	}
	if err != nil {
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

// settings refuses what the device path does not train (ml's
// SetResident refuses them too).
func settings(c ml.TrainConfig) error {
	if c.Precision != "" && c.Precision != ml.PrecisionFP32 {
		return fmt.Errorf("precision %s (the device path trains in fp32 for now)", c.Precision)
	}
	if c.MicroBatch != 0 && c.MicroBatch != c.BatchSize {
		return fmt.Errorf("micro-batches of %d (the device path runs the whole batch)", c.MicroBatch)
	}
	return nil
}

// plan maps the model's layers to stages (stages.go, resnet.go,
// transformer.go), works out which gradient contributions are fresh, and
// checks the optimizer.
func (t *Trainer) plan() error {
	byParam := map[*ml.Param]*param{}
	t.params = make([]param, len(t.model.Params()))
	for i, p := range t.model.Params() {
		t.params[i].p = p
		byParam[p] = &t.params[i]
	}
	t.transient = 1 + t.batch/8 // the loss's SumRows tree
	t.input = &tensor{n: t.batch * t.model.SampleSize()}
	t.reqs = append(t.reqs, request{dst: &t.input.val, what: "batch", n: t.input.n})
	pl := &planner{t: t, byParam: byParam}
	out, shape, err := pl.seq("", t.model.Layers, t.input, t.model.InShape)
	if err != nil {
		return err
	}
	if len(t.stages) == 0 || numel(shape) != t.classes || !out.needGrad {
		return fmt.Errorf("expected the last layer to give the %d classes' logits from trained parameters", t.classes)
	}
	t.logits = out
	// Backward runs the stages in reverse, each contributing to its
	// inputs in order: the first contribution a tensor receives is fresh
	// (ml writes it, or clears the gradient first), the others add.
	seen := map[*tensor]bool{}
	for i := len(t.stages) - 1; i >= 0; i-- {
		c := t.stages[i].core()
		c.fresh = make([]bool, len(c.ins))
		for k, in := range c.ins {
			c.fresh[k] = !seen[in]
			seen[in] = true
		}
	}
	for _, s := range t.stages {
		t.scratchN = max(t.scratchN, s.scratchLen())
	}
	if t.scratchN > 0 {
		t.reqs = append(t.reqs, request{dst: &t.scratch, what: "gradient scratch", n: t.scratchN})
	}
	var trainable []*param
	for i := range t.params {
		if !t.params[i].p.Buffer {
			trainable = append(trainable, &t.params[i])
		}
	}
	switch o := t.opt.(type) {
	case *ml.SGD:
		if st := o.State(); st != nil {
			if len(st) != len(trainable) {
				return fmt.Errorf("sgd state has %d tensors, expected %d", len(st), len(trainable))
			}
			for i, p := range trainable {
				p.host = [][]float32{st[i].Data}
			}
		}
	case *ml.Adam:
		st := o.State() // m..., v..., the step scalars
		n := len(trainable)
		if len(st) != 2*n+1 {
			return fmt.Errorf("adam state has %d tensors, expected %d", len(st), 2*n+1)
		}
		for i, p := range trainable {
			p.host = [][]float32{st[i].Data, st[n+i].Data}
		}
	default:
		return fmt.Errorf("optimizer %s has no device path", t.opt.Name())
	}
	return nil
}

// floats counts the device's float32 values: per parameter its weight,
// gradient and slots (a buffer: its values); every buffer the stages asked
// for (activations, their gradients, workspaces); the scratch, the most a
// kernel allocates while it runs, the labels and the loss buffers.
func (t *Trainer) floats() int {
	n := 0
	for _, p := range t.params {
		if p.p.Buffer {
			n += p.p.T.Numel()
			continue
		}
		n += p.p.T.Numel() * (2 + len(p.host))
	}
	for _, r := range t.reqs {
		n += r.n
	}
	return n + t.transient + t.batch*(1+t.classes+1) + 1
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
		if err = p.w.Upload(p.p.T.Data); err != nil {
			return err
		}
		if p.p.Buffer {
			continue
		}
		if p.g, err = t.alloc(p.p.Name+" gradient", n); err != nil {
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
	for _, r := range t.reqs {
		if *r.dst, err = t.alloc(r.what, r.n); err != nil {
			return err
		}
		if r.init != nil {
			if err = (*r.dst).Upload(r.init); err != nil {
				return err
			}
		}
	}
	for _, link := range t.links {
		link()
	}
	bs := t.batch
	if t.labels, err = t.alloc("labels", bs); err != nil {
		return err
	}
	if t.prob, err = t.alloc("probabilities", bs*t.classes); err != nil {
		return err
	}
	if t.losses, err = t.alloc("losses", bs); err != nil {
		return err
	}
	t.lossSum, err = t.alloc("loss", 1)
	return err
}

// Name implements ml.Resident.
func (t *Trainer) Name() string { return t.b.Device() }

// Step implements ml.Resident: ml's forward, SoftmaxCrossEntropy,
// backward and optimizer step, kernel for kernel.
func (t *Trainer) Step(x []float32, labels []int, step uint64) (float32, error) {
	n := len(labels)
	if n != t.batch || len(x) != n*t.model.SampleSize() {
		return 0, fmt.Errorf("devtrain: a batch of %d samples and %d values, expected %d and %d", n, len(x), t.batch, t.batch*t.model.SampleSize())
	}
	if t.vocab > 0 {
		// The embedding kernel reads the table at the ids: check them as
		// ml's Model.CheckInputs does.
		for i, v := range x {
			if id := int(v); float32(id) != v || id < 0 || id >= t.vocab {
				return 0, fmt.Errorf("devtrain: sample %d position %d holds %v, expected a token id 0..%d", i/t.model.SampleSize(), i%t.model.SampleSize(), v, t.vocab-1)
			}
		}
	}
	lab := make([]int32, n)
	for i, y := range labels {
		if y < 0 || y >= t.classes {
			return 0, fmt.Errorf("devtrain: label %d of row %d, expected 0..%d", y, i, t.classes-1)
		}
		lab[i] = int32(y)
	}
	if err := errors.Join(t.input.val.Upload(x), t.labels.UploadInt32(lab)); err != nil {
		return 0, err
	}
	t.step = step
	if err := t.forward(); err != nil {
		return 0, err
	}
	var sum [1]float32
	if err := t.lossSum.Download(sum[:]); err != nil {
		return 0, err
	}
	if err := t.backward(); err != nil {
		return 0, err
	}
	if err := t.update(); err != nil {
		return 0, err
	}
	t.stepped = true
	return sum[0] / float32(n), nil
}

func (t *Trainer) forward() error {
	for i, s := range t.stages {
		if err := s.forward(t); err != nil {
			return fmt.Errorf("stage %d (%s) forward: %w", i, s.core().name, err)
		}
	}
	n := t.batch
	if err := t.b.SoftmaxXentForward(t.prob, t.losses, t.logits.val, t.labels, n, t.classes); err != nil {
		return err
	}
	return t.b.SumRows(t.lossSum, t.losses, 1, n, n)
}

func (t *Trainer) backward() error {
	n := t.batch
	// The loss's gradient is seeded with 1: g = float32(1/n).
	g := float32(1) / float32(n)
	if err := t.logits.grad.Zero(); err != nil {
		return err
	}
	if err := t.b.SoftmaxXentBackward(t.logits.grad, t.prob, t.labels, n, t.classes, g); err != nil {
		return err
	}
	for i := len(t.stages) - 1; i >= 0; i-- {
		s := t.stages[i]
		if !s.core().out.needGrad { // ml recorded no backward for it
			continue
		}
		if err := s.backward(t); err != nil {
			return fmt.Errorf("stage %d (%s) backward: %w", i, s.core().name, err)
		}
	}
	return nil
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// update is ml.SGD.Step or ml.Adam.Step (whose scalars the trainer has
// advanced) over every trainable parameter.
func (t *Trainer) update() error {
	b := t.b
	for i := range t.params {
		p := &t.params[i]
		if p.p.Buffer {
			continue
		}
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

// SampleValues implements ml.Resident: the gradients of the trainable
// parameters, or every parameter and buffer, in ml's order.
func (t *Trainer) SampleValues(grads bool, prev pouw.Hash, stream int) (uint64, []byte, error) {
	var bufs []*cuda.Buffer
	var n uint64
	for i := range t.params {
		p := &t.params[i]
		x := p.w
		if grads {
			if p.p.Buffer {
				continue
			}
			x = p.g
		}
		bufs = append(bufs, x)
		n += uint64(x.Len())
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
		if p.p.Buffer {
			continue
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
