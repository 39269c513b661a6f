package ml

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pouw/pouwd/accel"
)

// Dataset is an in-memory labelled dataset: N samples of numel(Shape)
// float32 values each, stored row-major in X, labels in Y (0..Classes-1).
//
// Or, with Bytes set (and X nil), a view of byte samples: sample i is row
// Rows[i] of Bytes (numel(Shape) bytes a row), each byte v read as
// ByteValue(v) = float32(float64(v)/255), the scaling of ml/data's uint8
// datasets. A trainer reads a view sample by sample, so a fold of a
// dataset trains without a float32 copy of its samples (four times the
// bytes); the values, and so every bit of training, are the copy's. Read
// samples through Sample or Values, not X.
type Dataset struct {
	X       []float32
	Y       []int
	N       int
	Shape   []int
	Classes int
	Bytes   []uint8
	Rows    []int
}

// byteValues is ByteValue for every byte.
var byteValues = func() (t [256]float32) {
	for v := range t {
		t[v] = float32(float64(v) / 255)
	}
	return t
}()

// ByteValue is the float32 a byte sample value reads as in a view.
func ByteValue(v uint8) float32 { return byteValues[v] }

// Sample writes sample i's values into dst (numel(Shape) of them).
func (d Dataset) Sample(i int, dst []float32) {
	ss := len(dst)
	if d.Bytes == nil {
		copy(dst, d.X[i*ss:(i+1)*ss])
		return
	}
	for e, v := range d.Bytes[d.Rows[i]*ss : (d.Rows[i]+1)*ss] {
		dst[e] = byteValues[v]
	}
}

// Values returns samples lo..hi-1 row-major: a slice of X, or for a view
// buf (grown as needed) filled with them.
func (d Dataset) Values(lo, hi int, buf []float32) []float32 {
	ss := numel(d.Shape)
	if d.Bytes == nil {
		return d.X[lo*ss : hi*ss]
	}
	if cap(buf) < (hi-lo)*ss {
		buf = make([]float32, (hi-lo)*ss)
	}
	buf = buf[:(hi-lo)*ss]
	for i := lo; i < hi; i++ {
		d.Sample(i, buf[(i-lo)*ss:(i-lo+1)*ss])
	}
	return buf
}

// Validate checks the sizes and labels (and a view's rows).
func (d Dataset) Validate() error {
	ss := numel(d.Shape)
	if d.Bytes != nil {
		if d.N < 1 || len(d.Y) != d.N || len(d.Rows) != d.N || d.X != nil || ss < 1 {
			return fmt.Errorf("dataset view: N = %d, %d labels, %d rows, %d float values, sample shape %v: expected N >= 1, N labels, N rows and no float values",
				d.N, len(d.Y), len(d.Rows), len(d.X), d.Shape)
		}
		for i, r := range d.Rows {
			if r < 0 || (r+1)*ss > len(d.Bytes) {
				return fmt.Errorf("dataset view: sample %d is row %d, expected 0..%d (%d bytes in rows of %d)", i, r, len(d.Bytes)/ss-1, len(d.Bytes), ss)
			}
		}
	} else if d.N < 1 || len(d.Y) != d.N || len(d.X) != d.N*ss {
		return fmt.Errorf("dataset: N = %d, %d labels, %d values for sample shape %v: expected N >= 1, N labels and N*%d values",
			d.N, len(d.Y), len(d.X), d.Shape, ss)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("dataset: label %d of sample %d, expected 0..%d", y, i, d.Classes-1)
		}
	}
	return nil
}

// checkInputs is Model.CheckInputs over the dataset's values (for a view,
// the values of the bytes its rows hold).
func (d Dataset) checkInputs(m *Model) error {
	if d.Bytes == nil {
		return m.CheckInputs(d.X)
	}
	var seen [256]bool
	ss := numel(d.Shape)
	for _, r := range d.Rows {
		for _, v := range d.Bytes[r*ss : (r+1)*ss] {
			seen[v] = true
		}
	}
	var present []float32
	for v, ok := range seen {
		if ok {
			present = append(present, byteValues[v])
		}
	}
	if m.CheckInputs(present) == nil {
		return nil
	}
	row := make([]float32, ss) // the first sample holding a refused value, named as CheckInputs names it
	for i := range d.Rows {
		d.Sample(i, row)
		if err := m.CheckInputs(row); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
	}
	return nil
}

// TrainConfig configures a training run. The zero values of optional
// fields mean "none" (momentum, weight decay) or "until Epochs" (Steps).
type TrainConfig struct {
	Optimizer   string  `json:"optimizer"` // sgd, adam, adamw
	LR          float32 `json:"lr"`
	Momentum    float32 `json:"momentum"`
	WeightDecay float32 `json:"weight_decay"`
	Beta1       float32 `json:"beta1"`
	Beta2       float32 `json:"beta2"`
	Eps         float32 `json:"eps"`
	BatchSize   int     `json:"batch_size"`
	Epochs      int     `json:"epochs"`
	// Steps, when > 0, stops after that many steps in total.
	Steps int    `json:"steps"`
	Seed  uint64 `json:"seed"`
	// Precision is the storage precision of activations, the weights'
	// forward copies and activation gradients: "" (or "fp32", which
	// NewTrainer normalises to ""), "bf16" or "fp16" (with dynamic loss
	// scaling). See the package comment, "Mixed precision".
	Precision string `json:"precision,omitempty"`
	// MicroBatch, when > 0, computes each batch's gradient as the mean of
	// the gradients of BatchSize/MicroBatch micro-batches, summed in a
	// fixed order (it must divide BatchSize). 0 is the whole batch at once.
	// See the package comment, "Micro-batches and devices".
	MicroBatch int `json:"micro_batch,omitempty"`
	// LossScaleWindow is the number of consecutive finite fp16 steps after
	// which the loss scale doubles (0: DefaultLossScaleWindow, 2000).
	LossScaleWindow int `json:"loss_scale_window,omitempty"`
}

// DefaultTrainConfig is plain SGD, lr 0.1, batch 64, one epoch, seed 1
// (Adam defaults: betas 0.9/0.999, eps 1e-8).
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Optimizer: "sgd", LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, BatchSize: 64, Epochs: 1, Seed: 1}
}

// Validate checks the config.
func (c TrainConfig) Validate() error {
	var errs []error
	switch c.Optimizer {
	case "sgd", "adam", "adamw":
	default:
		errs = append(errs, fmt.Errorf("optimizer %q, expected sgd, adam or adamw", c.Optimizer))
	}
	if !(c.LR > 0) {
		errs = append(errs, fmt.Errorf("lr = %v, expected > 0", c.LR))
	}
	if c.Momentum < 0 || c.Momentum >= 1 {
		errs = append(errs, fmt.Errorf("momentum = %v, expected 0 <= momentum < 1", c.Momentum))
	}
	if c.WeightDecay < 0 {
		errs = append(errs, fmt.Errorf("weight decay = %v, expected >= 0", c.WeightDecay))
	}
	if c.Optimizer != "sgd" && (c.Beta1 < 0 || c.Beta1 >= 1 || c.Beta2 < 0 || c.Beta2 >= 1 || !(c.Eps > 0)) {
		errs = append(errs, fmt.Errorf("adam betas %v, %v and eps %v, expected betas in [0, 1) and eps > 0", c.Beta1, c.Beta2, c.Eps))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("batch size = %d, expected >= 1", c.BatchSize))
	}
	if c.Epochs < 1 && c.Steps < 1 {
		errs = append(errs, fmt.Errorf("epochs = %d and steps = %d, expected at least one > 0", c.Epochs, c.Steps))
	}
	if c.Steps < 0 {
		errs = append(errs, fmt.Errorf("steps = %d, expected >= 0", c.Steps))
	}
	switch c.Precision {
	case "", PrecisionFP32, PrecisionBF16, PrecisionFP16:
	default:
		errs = append(errs, fmt.Errorf("precision %q, expected fp32, bf16 or fp16", c.Precision))
	}
	if c.MicroBatch < 0 || c.MicroBatch > 0 && c.BatchSize > 0 && c.BatchSize%c.MicroBatch != 0 {
		errs = append(errs, fmt.Errorf("micro-batch = %d, expected 0 (the whole batch) or a divisor of the batch size %d", c.MicroBatch, c.BatchSize))
	}
	if c.LossScaleWindow < 0 || c.LossScaleWindow > 0 && c.Precision != PrecisionFP16 {
		errs = append(errs, fmt.Errorf("loss scale window = %d, expected >= 0, and 0 unless the precision is fp16", c.LossScaleWindow))
	}
	return errors.Join(errs...)
}

// StepInfo describes one finished training step. In the default mode it
// carries four version 1 hashes of the step (every weight and gradient
// hashed: fingerprints for tests and debugging, 8 bytes per parameter per
// step); in sampled mode (Trainer.SampledSteps, what miners and verifiers
// use) only Batch is set and Samples reads the step's pouw/v2 samples in
// place during the hook call.
type StepInfo struct {
	Step          uint64 // 0-based global step index i
	Epoch         int
	Loss          float32
	Indices       []int // the batch's sample indices (do not retain)
	WeightsBefore Hash  // H(W_i) (default mode)
	Batch         Hash  // H(B_i)
	Grads         Hash  // H(G_i) (default mode)
	WeightsAfter  Hash  // H(W_{i+1}) (default mode)
	// LossScale is the loss scale the step used (fp16), 0 without loss
	// scaling; Skipped reports a step whose gradients were not finite, so
	// the optimizer did not run (WeightsAfter = WeightsBefore).
	LossScale float32
	Skipped   bool
	// Commitment is the commitment of the state before the step
	// (StepCommitting), nil at other steps.
	Commitment *Commitment
	// model is the trained model during the hook call of a sampled step;
	// res, when set, holds its state (a resident device step).
	model *Model
	res   Resident
}

// StepHook receives every step; a non-nil error stops training.
type StepHook func(StepInfo) error

// Trainer runs the canonical training loop: epoch e visits the samples in
// the order NewRNG("pouw/perm/v1", seed, e, 0).Permutation(N), in
// consecutive batches of BatchSize (a final partial batch is dropped); each
// step zeroes gradients, runs forward, SoftmaxCrossEntropy, backward and the
// optimizer. Dropout at global step i uses (seed, i).
type Trainer struct {
	Model   *Model
	Opt     Optimizer
	Cfg     TrainConfig
	Backend accel.Backend
	data    Dataset
	// position
	step       uint64
	epoch      int
	batchInEp  int
	perm       []int
	permEpoch  int
	tape       Tape
	xbuf       []float32
	lastWeight *Hash
	sampled    bool     // SampledSteps: no v1 hashes, samples in place
	mp         *mixed   // non-nil for half precision or micro-batches
	prof       *profRun // SetProfiler (profile.go); nil: off
	res        Resident // SetResident (device.go); nil: the host path
}

// SampledSteps makes Step skip the version 1 hashes: the hook gets the
// step's position, loss and batch hash, and reads the pouw/v2 samples of
// the step in place with StepInfo.Samples while it runs. This is the
// work proof's mode: its cost per step does not grow with the model.
func (t *Trainer) SampledSteps() { t.sampled = true }

// gradViews lists the trainable parameters' gradients (materialising a
// zero gradient for a parameter backward did not reach) as NamedTensors
// that share the buffers.
func gradViews(m *Model) []NamedTensor {
	var ts []NamedTensor
	for _, p := range m.params {
		if !p.Buffer {
			ts = append(ts, NamedTensor{Name: p.Name, Shape: p.T.Shape, Data: p.T.grad()})
		}
	}
	return ts
}

// NewTrainer validates the inputs and prepares training from step 0.
func NewTrainer(m *Model, data Dataset, cfg TrainConfig, b accel.Backend) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("train config: %w", err)
	}
	if err := data.Validate(); err != nil {
		return nil, err
	}
	if numel(data.Shape) != m.SampleSize() {
		return nil, fmt.Errorf("dataset samples have shape %v (%d values), model %s expects %v", data.Shape, numel(data.Shape), m.Spec.raw, m.InShape)
	}
	if data.Classes > m.Spec.Classes {
		return nil, fmt.Errorf("dataset has %d classes, model %s outputs %d", data.Classes, m.Spec.raw, m.Spec.Classes)
	}
	if data.N < cfg.BatchSize {
		return nil, fmt.Errorf("dataset has %d samples, fewer than one batch of %d", data.N, cfg.BatchSize)
	}
	if err := data.checkInputs(m); err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	opt, err := NewOptimizer(cfg, m.Params())
	if err != nil {
		return nil, err
	}
	if cfg.Precision == PrecisionFP32 {
		cfg.Precision = "" // one encoding per computation
	}
	t := &Trainer{Model: m, Opt: opt, Cfg: cfg, Backend: b, data: data, permEpoch: -1}
	t.setupMixed()
	return t, nil
}

// StepsPerEpoch is floor(N / BatchSize).
func (t *Trainer) StepsPerEpoch() int { return t.data.N / t.Cfg.BatchSize }

// TotalSteps is the number of steps Run performs from step 0.
func (t *Trainer) TotalSteps() uint64 {
	total := uint64(t.StepsPerEpoch()) * uint64(max(t.Cfg.Epochs, 0))
	if t.Cfg.Steps > 0 && (t.Cfg.Epochs < 1 || uint64(t.Cfg.Steps) < total) {
		total = uint64(t.Cfg.Steps)
	}
	return total
}

// StepIndex is the number of steps done so far.
func (t *Trainer) StepIndex() uint64 { return t.step }

// Done reports whether the configured steps or epochs are complete.
func (t *Trainer) Done() bool { return t.step >= t.TotalSteps() }

// Epoch is the current epoch.
func (t *Trainer) Epoch() int { return t.epoch }

func (t *Trainer) batchIndices() []int {
	if t.permEpoch != t.epoch {
		t.perm = NewRNG("pouw/perm/v1", t.Cfg.Seed, uint64(t.epoch), 0).Permutation(t.data.N)
		t.permEpoch = t.epoch
	}
	bs := t.Cfg.BatchSize
	return t.perm[t.batchInEp*bs : (t.batchInEp+1)*bs]
}

// Step runs one training step and, with hook != nil, calls hook with it:
// in the default mode with the four version 1 hashes, in sampled mode
// (SampledSteps) with the model for StepInfo.Samples.
func (t *Trainer) Step(hook StepHook) (float32, error) { return t.step1(hook, nil) }

// Commitment is what a miner commits of the state before a step: its
// state hashes (CommitHashes) and the encoded checkpoint body whose header
// names them (SealCheckpoint adds the trailer).
type Commitment struct {
	WeightsHash, OptimizerHash Hash
	Checkpoint                 []byte
}

// StepCommitting is Step at a commitment: while the step's forward and
// backward passes run, another goroutine hashes the state before the step
// (CommitHashes, on one core) and encodes its checkpoint body into buf[:0]
// (grown when too small: pass the last one back). It reads the trainable
// parameters and the optimizer state in place, which only the optimizer
// writes, and a copy of the buffers (batch-norm statistics), which the
// forward pass updates; it is complete before the optimizer runs and
// before hook is called, which finds it in StepInfo.Commitment. So a
// commitment costs training the copy of the buffers and, on a machine
// with a core to spare, no time.
func (t *Trainer) StepCommitting(hook StepHook, buf []byte) (*Commitment, float32, error) {
	// A resident state comes to the host once per commitment.
	if err := t.Sync(); err != nil {
		return nil, 0, err
	}
	c := &Commitment{}
	ws := WeightsTensors(t.Model)
	for i, p := range t.Model.params {
		if p.Buffer {
			ws[i].Data = append([]float32(nil), ws[i].Data...)
		}
	}
	ck := t.checkpoint()
	ck.Weights = ws
	done := make(chan error, 1)
	pc := &pendingCommit{c: c, done: done}
	go func() {
		start := time.Now() // for the profiler: read after done
		// One core: training holds the other.
		c.WeightsHash, c.OptimizerHash = stateHashes(ck.Weights, ck.Optim, 1)
		var err error
		c.Checkpoint, err = ck.encodeCommitment(buf, c.WeightsHash, c.OptimizerHash)
		pc.elapsed = time.Since(start)
		done <- err
	}()
	loss, err := t.step1(hook, pc)
	if err != nil {
		return nil, loss, err
	}
	return c, loss, nil
}

// pendingCommit is a Commitment being made; done gets its error.
type pendingCommit struct {
	c       *Commitment
	done    chan error
	elapsed time.Duration // the goroutine's time, set before done
}

// step1 is Step; with pc, the commitment is waited for before the
// optimizer writes the state (its error stops the step there) and handed
// to the hook.
func (t *Trainer) step1(hook StepHook, pc *pendingCommit) (float32, error) {
	if t.prof != nil {
		t.prof.stepBegin(t)
		defer t.prof.stepEnd(t)
	}
	idx := t.batchIndices()
	var info StepInfo
	full := hook != nil && !t.sampled // the version 1 hashes
	if hook != nil {
		t.prof.begin(opDigest, 8*uint64(len(idx)))
		info.Batch = BatchHash(idx)
		t.prof.end()
	}
	if full {
		if t.lastWeight != nil {
			info.WeightsBefore = *t.lastWeight
		} else {
			if err := t.Sync(); err != nil {
				return 0, err
			}
			t.prof.begin(opDigest, t.prof.weightBytes())
			info.WeightsBefore = weightsSHA256(t.Model)
			t.prof.end()
		}
	}
	var loss float32
	var err error
	if t.res != nil {
		loss, err = t.residentStep(idx) // the optimizer included
	} else {
		t.Model.ZeroGrad()
		loss, err = t.forwardBackward(idx)
	}
	if pc != nil {
		t.prof.begin(opDigest, 0)
		err = errors.Join(err, <-pc.done)
		t.prof.end()
		t.prof.background(pc.elapsed)
		info.Commitment = pc.c
	}
	if err != nil {
		return 0, err
	}
	if full && t.res != nil {
		// The gradients and the updated weights: both are on the
		// device after its step.
		if err := t.Sync(); err != nil {
			return 0, err
		}
	}
	if full {
		t.prof.begin(opDigest, t.prof.gradsBytes())
		info.Grads = GradsHash(t.Model)
		t.prof.end()
	}
	if t.res == nil {
		t.prof.begin(opOptimizer, t.prof.optimizerBytes())
		info.LossScale, info.Skipped = t.optimize()
		t.prof.end()
	}
	info.Step, info.Epoch, info.Loss, info.Indices = t.step, t.epoch, loss, idx
	t.advance()
	t.lastWeight = nil
	if hook == nil {
		return info.Loss, nil
	}
	if full {
		t.prof.begin(opDigest, t.prof.weightBytes())
		info.WeightsAfter = weightsSHA256(t.Model)
		t.prof.end()
		w := info.WeightsAfter
		t.lastWeight = &w
	} else {
		info.model, info.res = t.Model, t.res
	}
	t.prof.begin(opDigest, 0)
	err = hook(info)
	t.prof.end()
	return info.Loss, err
}

// forwardBackward runs the forward pass of the batch idx, the loss and the
// backward pass, leaving the gradients in the parameters.
func (t *Trainer) forwardBackward(idx []int) (float32, error) {
	if t.mp != nil {
		return t.mp.forwardBackward(t, idx)
	}
	bs := len(idx)
	t.prof.begin(opData, batchBytes(bs, t.Model.SampleSize()))
	x, labels := t.gather(idx)
	t.prof.end()
	xt, _ := FromData(x, append([]int{bs}, t.Model.InShape...)...)
	c := &Ctx{Backend: t.Backend, Tape: &t.tape, Train: true, Seed: t.Cfg.Seed, Step: t.step, prof: t.prof.hostDev()}
	logits := t.Model.Forward(c, xt)
	loss, err := lossForward(c, logits, labels)
	if err != nil {
		t.tape.Reset()
		return 0, err
	}
	if err := t.tape.Backward(loss); err != nil {
		return 0, err
	}
	return loss.Data[0], nil
}

// gather copies the samples idx into the trainer's batch buffer (reused
// from step to step) and returns it with their labels.
func (t *Trainer) gather(idx []int) ([]float32, []int) {
	ss := t.Model.SampleSize()
	bs := len(idx)
	if cap(t.xbuf) < bs*ss {
		t.xbuf = make([]float32, bs*ss)
	}
	return gatherBatch(t.xbuf[:bs*ss], t.data, idx, ss)
}

// advance moves the position one step on.
func (t *Trainer) advance() {
	t.step++
	t.batchInEp++
	if t.batchInEp >= t.StepsPerEpoch() {
		t.batchInEp = 0
		t.epoch++
	}
}

// Result summarises a Run.
type Result struct {
	Steps            uint64        `json:"steps"`
	Samples          uint64        `json:"samples"`
	Loss             float32       `json:"loss"`
	Elapsed          time.Duration `json:"-"`
	SamplesPerSecond float64       `json:"samples_per_second"`
	WeightsSHA256    string        `json:"weights_sha256"`
}

// Run trains until Done, calling hook (may be nil) after every step.
func (t *Trainer) Run(ctx context.Context, hook StepHook) (Result, error) {
	start := time.Now()
	first := t.step
	var loss float32
	for !t.Done() {
		err := ctx.Err()
		if err == nil {
			loss, err = t.Step(hook)
		}
		if err != nil {
			r, serr := t.result(first, loss, start)
			return r, errors.Join(err, serr)
		}
	}
	return t.result(first, loss, start)
}

func (t *Trainer) result(first uint64, loss float32, start time.Time) (Result, error) {
	el := time.Since(start)
	r := Result{Steps: t.step - first, Loss: loss, Elapsed: el}
	r.Samples = r.Steps * uint64(t.Cfg.BatchSize)
	if el > 0 {
		r.SamplesPerSecond = float64(r.Samples) / el.Seconds()
	}
	// A fingerprint of the trained weights (version 1's SHA-256, which the
	// golden tests pin), not the work proof's state hash.
	if err := t.Sync(); err != nil {
		return r, err
	}
	h := weightsSHA256(t.Model)
	r.WeightsSHA256 = fmt.Sprintf("%x", h[:])
	return r, nil
}

// EvalResult is the outcome of Evaluate.
type EvalResult struct {
	Accuracy float64 `json:"accuracy"`
	Loss     float64 `json:"loss"`
	Correct  int     `json:"correct"`
	N        int     `json:"n"`
}

// Evaluate runs inference over the dataset in batches and reports accuracy
// and mean loss (the loss averaged in float64 over batches, for display).
func Evaluate(m *Model, d Dataset, b accel.Backend, batch int) (EvalResult, error) {
	if err := d.Validate(); err != nil {
		return EvalResult{}, err
	}
	if batch < 1 {
		batch = 1000
	}
	ss := m.SampleSize()
	if numel(d.Shape) != ss {
		return EvalResult{}, fmt.Errorf("dataset samples have shape %v, model %s expects %v", d.Shape, m.Spec.raw, m.InShape)
	}
	res := EvalResult{N: d.N}
	var lossSum float64
	var buf []float32
	for lo := 0; lo < d.N; lo += batch {
		hi := min(lo+batch, d.N)
		buf = d.Values(lo, hi, buf)
		x, _ := FromData(buf, append([]int{hi - lo}, m.InShape...)...)
		c := &Ctx{Backend: b}
		logits := m.Forward(c, x)
		l, err := SoftmaxCrossEntropy(c, logits, d.Y[lo:hi])
		if err != nil {
			return res, err
		}
		lossSum += float64(l.Data[0]) * float64(hi-lo)
		for i, p := range argmaxRows(logits.Data, hi-lo) {
			if p == d.Y[lo+i] {
				res.Correct++
			}
		}
	}
	res.Accuracy = float64(res.Correct) / float64(d.N)
	res.Loss = lossSum / float64(d.N)
	return res, nil
}
