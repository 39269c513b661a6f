//go:build cuda || cudaemu

package devtrain

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
)

// Trainer is an ml.Resident on one CUDA device, or on several (NewDevices):
// then it is device 0's replica, and peers holds the others'.
type Trainer struct {
	b     *cuda.Backend
	model *ml.Model
	opt   ml.Optimizer
	// batch is the samples of one pass: the micro-batch size
	// (TrainConfig.MicroBatch > 0) or the batch size; micro is the
	// passes per step (BatchSize/batch), cur the one running.
	batch, micro, cur int
	seed              uint64 // the run's seed (dropout masks)
	step              uint64 // the step being run (dropout masks)
	// Several devices (reduce.go): the other devices' replicas (no
	// optimizer slots), and on every replica deferBN: the batch-norm
	// running statistics are updated on device 0 in micro-batch order,
	// from each pass's mean and variance, rather than in the forward pass.
	peers   []*Trainer
	deferBN bool
	// The micro-batch reduction on device 0 (reduce.go): slots gradient
	// sets of every trainable parameter (views per parameter), the
	// pairwise tree's pending partial sums (a stack), the free slots, and
	// the host staging of a transfer between devices.
	slots   []*cuda.Buffer
	views   [][]*cuda.Buffer // [slot][trainable parameter]
	stack   []level
	free    []int
	nslots  int
	staging []float32
	stages  []stage
	params  []param // the model's parameters and buffers, in ml's order
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
	// sampleArgs is the argument block accel/cuda's SampleValues
	// allocates for the work digest's gather at a sampled step (device 0
	// only: the others never sample), freed after the call.
	sampleArgs int
	all        []*cuda.Buffer // every allocation, freed by Close
	stepped    bool           // the gradients exist
	microLoss  []float32      // per micro-batch
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
	return NewDevices([]*cuda.Backend{b}, tr)
}

// NewDevices is New over several devices (reduce.go): a replica of the
// model on each, device d running micro-batches d, d+D, ... of every
// step, their gradients reduced on bs[0] in ml's fixed order, where the
// optimizer runs and from where the new weights go to the others. More
// than one device needs micro-batches (TrainConfig.MicroBatch > 0), as on
// the host path; the device count never changes a bit.
func NewDevices(bs []*cuda.Backend, tr *ml.Trainer) (*Trainer, error) {
	if len(bs) == 0 || tr == nil {
		return nil, errors.New("devtrain: no backend or a nil trainer")
	}
	for i, b := range bs {
		if b == nil {
			return nil, fmt.Errorf("devtrain: backend %d is nil", i)
		}
		for _, o := range bs[:i] {
			if o == b {
				return nil, fmt.Errorf("devtrain: backend %d (%s) is given twice", i, b.Device())
			}
		}
	}
	if len(bs) > 1 && tr.Cfg.MicroBatch == 0 {
		return nil, fmt.Errorf("model %s on %d devices: %w: %d devices need micro-batches (TrainConfig.MicroBatch, a divisor of the batch size %d)", tr.Model.Spec, len(bs), ErrUnsupported, len(bs), tr.Cfg.BatchSize)
	}
	var t *Trainer
	for i, b := range bs {
		r, err := newReplica(b, tr, i, len(bs))
		if err != nil {
			if t != nil {
				_ = t.Close()
			}
			return nil, err
		}
		if i == 0 {
			t = r
		} else {
			t.peers = append(t.peers, r)
		}
	}
	return t, nil
}

// newReplica places the run on b as device index of devices: device 0
// holds the optimizer's slots and the reduction's, the others a replica
// that computes gradients.
func newReplica(b *cuda.Backend, tr *ml.Trainer, index, devices int) (*Trainer, error) {
	m := tr.Model
	t := &Trainer{b: b, model: m, opt: tr.Opt, batch: tr.Cfg.BatchSize, micro: 1, seed: tr.Cfg.Seed, classes: m.Spec.Classes}
	if mb := tr.Cfg.MicroBatch; mb > 0 && tr.Cfg.BatchSize%mb == 0 {
		t.batch, t.micro = mb, tr.Cfg.BatchSize/mb
	}
	t.deferBN = devices > 1
	if index == 0 {
		// SampleValues' argument block, in float32s: 8 bytes for each of
		// the samples' (SampleCount+1)/2 words, a base pointer per tensor,
		// the tensors' T+1 cumulative offsets; T is every parameter and
		// buffer when it samples weights (the most).
		t.sampleArgs = 2 * ((pouw.SampleCount+1)/2 + 2*len(m.Params()) + 1)
	}
	if index == 0 && t.micro > 1 {
		// The most partial sums the tree keeps at once: the bits set in
		// a count of micro-batches (at most micro), and with several
		// devices one more for a gradient arriving from another device.
		t.nslots = bits.Len(uint(t.micro+1)) - 1
		if devices > 1 {
			t.nslots++
		}
	}
	err := settings(tr.Cfg)
	if err == nil {
		err = t.plan(index > 0)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s on %s: %w: %w", m.Spec, b.Device(), ErrUnsupported, err)
	}
	if err := b.Budget().Check(budgetWhat(m, tr.Cfg, index, devices), 4*uint64(t.floats())); err != nil {
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
	if c.MicroBatch < 0 || c.MicroBatch > 0 && c.BatchSize%c.MicroBatch != 0 {
		return fmt.Errorf("micro-batches of %d with batch %d (expected a divisor of the batch size)", c.MicroBatch, c.BatchSize)
	}
	return nil
}

// plan maps the model's layers to stages (stages.go, resnet.go,
// transformer.go), works out which gradient contributions are fresh, and
// checks the optimizer; a peer (a device other than 0) has no optimizer
// slots.
func (t *Trainer) plan(peer bool) error {
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
	if peer {
		switch t.opt.(type) {
		case *ml.SGD, *ml.Adam:
			return nil
		}
		return fmt.Errorf("optimizer %s has no device path", t.opt.Name())
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
// gradient and slots (a buffer: its values); the micro-batch reduction's
// gradient sets (device 0); every buffer the stages asked for
// (activations, their gradients, workspaces); the scratch, the most a
// kernel allocates while it runs (the tree sums' scratch, which the
// backend keeps), the digest gather's argument block at a sampled step
// (device 0, allocated while everything else is held), the labels and
// the loss buffers.
func (t *Trainer) floats() int {
	n := 0
	for _, p := range t.params {
		if p.p.Buffer {
			n += p.p.T.Numel()
			continue
		}
		n += p.p.T.Numel() * (2 + len(p.host) + t.nslots)
	}
	for _, r := range t.reqs {
		n += r.n
	}
	return n + t.transient + t.sampleArgs + t.batch*(1+t.classes+1) + 1
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
	if err := t.allocateSlots(); err != nil {
		return err
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

// Name implements ml.Resident: the device, or the devices.
func (t *Trainer) Name() string {
	if len(t.peers) == 0 {
		return t.b.Device()
	}
	name := t.b.Device()
	for _, p := range t.peers {
		name += ", " + p.b.Device()
	}
	return fmt.Sprintf("%d devices (%s)", 1+len(t.peers), name)
}

// Step implements ml.Resident: ml's forward, SoftmaxCrossEntropy,
// backward and optimizer step, kernel for kernel. With micro-batches each
// pass is one micro-batch, and the step's gradient and loss are their
// reduction in ml's fixed order (reduce.go).
func (t *Trainer) Step(x []float32, labels []int, step uint64) (float32, error) {
	n, ss := len(labels), t.model.SampleSize()
	if n != t.batch*t.micro || len(x) != n*ss {
		return 0, fmt.Errorf("devtrain: a batch of %d samples and %d values, expected %d and %d", n, len(x), t.batch*t.micro, t.batch*t.micro*ss)
	}
	if t.vocab > 0 {
		// The embedding kernel reads the table at the ids: check them as
		// ml's Model.CheckInputs does.
		for i, v := range x {
			if id := int(v); float32(id) != v || id < 0 || id >= t.vocab {
				return 0, fmt.Errorf("devtrain: sample %d position %d holds %v, expected a token id 0..%d", i/ss, i%ss, v, t.vocab-1)
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
	if t.micro == 1 && len(t.peers) == 0 {
		sum, err := t.pass(x, lab, step, 0)
		if err != nil {
			return 0, err
		}
		if err := t.update(); err != nil {
			return 0, err
		}
		t.stepped = true
		return sum / float32(n), nil
	}
	loss, err := t.microStep(x, lab, step)
	if err != nil {
		return 0, err
	}
	if err := t.update(); err != nil {
		return 0, err
	}
	t.stepped = true
	return loss, t.broadcast()
}

// pass runs micro-batch j (the whole batch when there is one) of step:
// its samples x and labels lab go up, forward and backward leave its
// gradients in the parameters' gradient buffers. It returns the sum of
// the pass's per-sample losses.
func (t *Trainer) pass(x []float32, lab []int32, step uint64, j int) (float32, error) {
	if err := errors.Join(t.input.val.Upload(x), t.labels.UploadInt32(lab)); err != nil {
		return 0, err
	}
	t.step, t.cur = step, j
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
	return sum[0], nil
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

// Close frees the device buffers, the other devices' included (the
// backends stay open).
func (t *Trainer) Close() error {
	var errs []error
	for _, x := range t.all {
		errs = append(errs, x.Free())
	}
	t.all = nil
	for _, p := range t.peers {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// gpuBudget returns be's memory budget when be is a GPU (a CUDA backend,
// the emulator's included).
func gpuBudget(be accel.Backend) (accel.Budget, bool) {
	b, ok := be.(*cuda.Backend)
	if !ok || b == nil {
		return accel.Budget{}, false
	}
	return b.Budget(), true
}

// Place attaches a resident run on be to tr when be is a CUDA backend and
// the model has a device path (see New), returning what detaches it (the
// state back on the host) and frees the device's buffers. A model or
// setting without a device path is not an error: release is nil and note
// says why the steps stay on the host path (where the GPU still runs the
// GEMMs). Other failures (the memory budget, an allocation) are errors.
func Place(be accel.Backend, tr *ml.Trainer) (release func() error, note string, err error) {
	return PlaceDevices([]accel.Backend{be}, tr)
}

// PlaceDevices is Place over the devices a run is given (ml.Trainer's
// SetDevices): every one a CUDA backend, the run trains resident on all
// of them (NewDevices: micro-batches spread over the devices, reduced on
// the first). Without a CUDA backend it attaches nothing and says
// nothing; a mix of CUDA and CPU devices stays on the host path, with a
// note saying so.
func PlaceDevices(devs []accel.Backend, tr *ml.Trainer) (release func() error, note string, err error) {
	var bs []*cuda.Backend
	for _, be := range devs {
		if b, ok := be.(*cuda.Backend); ok {
			bs = append(bs, b)
		}
	}
	const host = "; training on the host path (the GPU runs its GEMMs)"
	switch {
	case len(bs) == 0:
		return nil, "", nil
	case len(bs) < len(devs):
		return nil, fmt.Sprintf("%d GPUs and %d CPU devices: %v: a resident run needs every device to be a GPU", len(bs), len(devs)-len(bs), ErrUnsupported) + host, nil
	}
	d, err := NewDevices(bs, tr)
	if errors.Is(err, ErrUnsupported) {
		return nil, err.Error() + host, nil
	}
	if err != nil {
		return nil, "", err
	}
	if err := tr.SetResident(d); err != nil {
		_ = d.Close()
		return nil, err.Error() + host, nil
	}
	release = func() error { return errors.Join(tr.SetResident(nil), d.Close()) }
	note = fmt.Sprintf("training resident on %s: weights, activations, gradients and optimizer state on the device", d.Name())
	switch {
	case len(bs) > 1:
		note = fmt.Sprintf("training resident on %s: a model replica on each, micro-batches of %d spread over them, their gradients reduced on %s in ml's fixed order, where the optimizer runs", d.Name(), d.batch, bs[0].Device())
	case d.micro > 1:
		note += fmt.Sprintf(", %d micro-batches of %d per step", d.micro, d.batch)
	}
	return release, note, nil
}
