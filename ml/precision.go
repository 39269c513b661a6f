package ml

import (
	"fmt"
	"math"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/canon"
)

// Precisions of TrainConfig.Precision.
const (
	PrecisionFP32 = "fp32" // the default; "" means the same
	PrecisionBF16 = "bf16"
	PrecisionFP16 = "fp16"
)

// Dynamic loss scaling constants (fp16).
const (
	// LossScaleInit is the loss scale of step 0: 2^16.
	LossScaleInit = float32(1 << 16)
	// LossScaleMin and LossScaleMax bound the scale (powers of two).
	LossScaleMin = float32(1)
	LossScaleMax = float32(1 << 24)
	// DefaultLossScaleWindow is the number of consecutive steps with
	// finite gradients after which the scale doubles
	// (TrainConfig.LossScaleWindow 0).
	DefaultLossScaleWindow = 2000
)

// halfRounder returns the elementwise rounding of a precision (nil for
// fp32).
func halfRounder(precision string) func(dst, src []float32) {
	switch precision {
	case PrecisionBF16:
		return canon.RoundBF16Slice
	case PrecisionFP16:
		return canon.RoundFP16Slice
	}
	return nil
}

// ---------------------------------------------------------------- loss scaler

// lossScaler wraps the optimizer of an fp16 run with the dynamic loss
// scale, so that the scale is part of the optimizer state: saved in
// checkpoints, restored by ResumeTrainer and bound by OptimizerHash (it
// decides every later step, like momentum does).
//
// Rules (all exact: the scale is a power of two): step i multiplies the
// loss by scale_i (backward is seeded with scale_i instead of 1) and the
// gradients by 1/scale_i after the backward pass. If any gradient is then
// not finite the step is skipped (no optimizer update; the step, its batch
// and its hashes still count), scale_{i+1} = max(scale_i/2, 1) and the
// count of good steps restarts; otherwise the optimizer runs and, after
// window consecutive good steps, scale_{i+1} = min(2·scale_i, 2^24).
type lossScaler struct {
	Optimizer
	scale   float32
	good    uint64 // consecutive finite steps since the scale last changed
	skipped uint64 // skipped steps in total
	window  uint64
}

// lossScaleState is the name of the scaler's state tensor: 6 float32 bit
// patterns holding (uint64 scale bits, good, skipped) as packU64 pairs.
const lossScaleState = "amp.loss_scale"

func (s *lossScaler) State() []NamedTensor {
	st := append([]NamedTensor(nil), s.Optimizer.State()...)
	return append(st, NamedTensor{Name: lossScaleState, Shape: []int{6},
		Data: packU64(uint64(math.Float32bits(s.scale)), s.good, s.skipped)})
}

func (s *lossScaler) SetState(st []NamedTensor) error {
	if len(st) == 0 || st[len(st)-1].Name != lossScaleState || len(st[len(st)-1].Data) != 6 {
		return fmt.Errorf("fp16 optimizer state: the last tensor must be %s with 6 values", lossScaleState)
	}
	u := unpackU64(st[len(st)-1].Data)
	scale := math.Float32frombits(uint32(u[0]))
	if u[0]>>32 != 0 || !(scale >= LossScaleMin && scale <= LossScaleMax) || math.Float32bits(scale)&0x7fffff != 0 {
		return fmt.Errorf("fp16 optimizer state: loss scale %v, expected a power of two in [%v, %v]", scale, LossScaleMin, LossScaleMax)
	}
	if u[1] >= s.window {
		return fmt.Errorf("fp16 optimizer state: %d good steps, expected fewer than the window %d", u[1], s.window)
	}
	if err := s.Optimizer.SetState(st[:len(st)-1]); err != nil {
		return err
	}
	s.scale, s.good, s.skipped = scale, u[1], u[2]
	return nil
}

// update applies the scaling rule after a step.
func (s *lossScaler) update(finite bool) {
	if !finite {
		s.skipped++
		s.good = 0
		if s.scale > LossScaleMin {
			s.scale /= 2
		}
		return
	}
	s.good++
	if s.good >= s.window {
		s.good = 0
		if s.scale < LossScaleMax {
			s.scale *= 2
		}
	}
}

// LossScale reports the trainer's current loss scale and the number of
// steps skipped so far; scale 0 means the run does not scale its loss
// (fp32 and bf16).
func (t *Trainer) LossScale() (scale float32, skipped uint64) {
	if t.mp == nil || t.mp.scaler == nil {
		return 0, 0
	}
	return t.mp.scaler.scale, t.mp.scaler.skipped
}

// ---------------------------------------------------------------- mixed state

// mixed is the trainer state of the extended canonical step: half
// precision, micro-batches and several devices (nil for a plain fp32
// whole-batch step, which keeps the original code path).
type mixed struct {
	precision string
	round     func(dst, src []float32) // nil: fp32
	trainable []*Param                 // the master model's trainable parameters
	half      [][]float32              // their half-precision copies (as float32 values)
	scaler    *lossScaler              // fp16 only
	finite    bool                     // the last step's gradients were finite
	par       *parallel                // MicroBatch > 0
}

// setupMixed prepares t.mp for the config (called by NewTrainer).
func (t *Trainer) setupMixed() {
	c := t.Cfg
	if c.Precision == "" && c.MicroBatch == 0 {
		return
	}
	mx := &mixed{precision: c.Precision, round: halfRounder(c.Precision), trainable: trainableOf(t.Model.params), finite: true}
	if mx.round != nil {
		for _, p := range mx.trainable {
			mx.half = append(mx.half, make([]float32, p.T.Numel()))
		}
	}
	if c.Precision == PrecisionFP16 {
		w := c.LossScaleWindow
		if w == 0 {
			w = DefaultLossScaleWindow
		}
		mx.scaler = &lossScaler{Optimizer: t.Opt, scale: LossScaleInit, window: uint64(w)}
		t.Opt = mx.scaler
	}
	if c.MicroBatch > 0 {
		mx.par = &parallel{devices: []accel.Backend{t.Backend}}
	}
	t.mp = mx
}

// hostThreads is the backend of the step's elementwise host work (weight
// rounding, unscaling, the micro-batch reduction): t.Backend, with the threads
// of all devices when there are several (elementwise work split over any
// number of goroutines gives the same bits).
func (mx *mixed) hostThreads(t *Trainer) accel.Backend {
	if mx.par == nil || len(mx.par.devices) < 2 {
		return t.Backend
	}
	n := 0
	for _, d := range mx.par.devices {
		n += d.Threads()
	}
	return threadCount{t.Backend, n}
}

// threadCount is a backend with another thread count (for Ctx.parallelFor).
type threadCount struct {
	accel.Backend
	n int
}

func (b threadCount) Threads() int { return b.n }

// scale is the loss scale of the current step (1 without scaling).
func (mx *mixed) scale() float32 {
	if mx.scaler == nil {
		return 1
	}
	return mx.scaler.scale
}

// optimize runs the optimizer on the step's gradients, unless dynamic loss
// scaling found them not finite (the step is then skipped), and updates
// the loss scale. It returns the scale the step used (0 without scaling)
// and whether the step was skipped.
func (t *Trainer) optimize() (float32, bool) {
	par := (&Ctx{Backend: t.Backend}).parallelFor
	if t.mp == nil || t.mp.scaler == nil {
		if po, ok := t.Opt.(parallelOptimizer); ok {
			po.setParallel(par)
		}
		t.Opt.Step(t.Model.Params())
		return 0, false
	}
	s := t.mp.scaler
	scale, finite := s.scale, t.mp.finite
	if finite {
		if po, ok := s.Optimizer.(parallelOptimizer); ok {
			po.setParallel(par)
		}
		s.Optimizer.Step(t.Model.Params())
	}
	s.update(finite)
	return scale, !finite
}

// forwardBackward is the extended canonical step's forward and backward
// pass (see the package comment, "Mixed precision" and "Micro-batches").
func (mx *mixed) forwardBackward(t *Trainer, idx []int) (float32, error) {
	c := &Ctx{Backend: mx.hostThreads(t)}
	if mx.round != nil {
		for k, p := range mx.trainable {
			roundPar(c, mx.round, mx.half[k], p.T.Data)
		}
	}
	scale := mx.scale()
	var loss float32
	var err error
	if mx.par != nil {
		loss, err = mx.par.forwardBackward(t, mx, idx, scale)
	} else {
		loss, err = mx.wholeBatch(t, idx, scale)
	}
	if err != nil {
		return 0, err
	}
	mx.finish(c)
	if loss != loss {
		loss = math.Float32frombits(canon.F32NaN)
	}
	return loss, nil
}

// weights returns the weights the forward pass reads for trainable
// parameter k: the half copy, or the master weights in fp32.
func (mx *mixed) weights(k int) []float32 {
	if mx.round != nil {
		return mx.half[k]
	}
	return mx.trainable[k].T.Data
}

// wholeBatch runs the step's batch on the master model (MicroBatch 0)
// with the half weights swapped in for the pass.
func (mx *mixed) wholeBatch(t *Trainer, idx []int, scale float32) (float32, error) {
	masters := make([][]float32, len(mx.trainable))
	for k, p := range mx.trainable {
		masters[k], p.T.Data = p.T.Data, mx.weights(k)
	}
	defer func() {
		for k, p := range mx.trainable {
			p.T.Data = masters[k]
		}
	}()
	ss := t.Model.SampleSize()
	if cap(t.xbuf) < len(idx)*ss {
		t.xbuf = make([]float32, len(idx)*ss)
	}
	t.prof.begin(opData, batchBytes(len(idx), ss))
	x, labels := gatherBatch(t.xbuf[:len(idx)*ss], t.data, idx, ss)
	t.prof.end()
	xt, _ := FromData(x, append([]int{len(idx)}, t.Model.InShape...)...)
	return runPass(&Ctx{Backend: t.Backend, Tape: &t.tape, Train: true, Seed: t.Cfg.Seed, Step: t.step, prof: t.prof.hostDev()}, t.Model, xt, labels, mx.round, scale)
}

// gatherBatch copies the samples idx into x and returns their labels.
func gatherBatch(x []float32, d Dataset, idx []int, ss int) ([]float32, []int) {
	labels := make([]int, len(idx))
	for i, s := range idx {
		d.Sample(s, x[i*ss:(i+1)*ss])
		labels[i] = d.Y[s]
	}
	return x, labels
}

// runPass runs forward (rounding the input and every layer output when
// round is set), the loss and backward seeded with scale, leaving the
// gradients in the model's parameters.
func runPass(c *Ctx, m *Model, x *Tensor, labels []int, round func(dst, src []float32), scale float32) (float32, error) {
	if round != nil {
		roundPar(c, round, x.Data, x.Data)
	}
	logits := forwardRounded(c, m, x, round)
	loss, err := lossForward(c, logits, labels)
	if err != nil {
		c.Tape.Reset()
		return 0, err
	}
	if scale == 1 {
		err = c.Tape.Backward(loss)
	} else {
		err = c.Tape.BackwardFrom(loss, []float32{scale})
	}
	return loss.Data[0], err
}

// forwardRounded is Model.Forward with every layer's output rounded to the
// half precision (round != nil), and every such output's gradient rounded
// once its consumer's backward has produced it, before the layer's own
// backward reads it (Model.layerForward). Flatten and ReLU map half values
// to half values in both directions, so rounding after them is skipped (it
// would change no bit).
func forwardRounded(c *Ctx, m *Model, x *Tensor, round func(dst, src []float32)) *Tensor {
	return m.forward(c, x, round)
}

// halfPreserving reports layers whose forward and backward map half
// values to half values (copies and masks).
func halfPreserving(l Layer) bool {
	switch l := l.(type) {
	case *Flatten:
		return true
	case *Activation:
		return l.Kind == "relu"
	}
	return false
}

// roundPar rounds src into dst in chunks over the backend's threads
// (elementwise, so the split never changes a bit).
func roundPar(c *Ctx, round func(dst, src []float32), dst, src []float32) {
	const chunk = 1 << 14
	n := len(src)
	if n <= chunk {
		round(dst, src)
		return
	}
	c.parallelFor((n+chunk-1)/chunk, func(lo, hi int) {
		lo, hi = lo*chunk, min(hi*chunk, n)
		round(dst[lo:hi], src[lo:hi])
	})
}

// finish unscales the gradients (multiplying by 1/scale, exact for a
// power of two unless the result is subnormal) and checks that they are
// finite. In a skipped step every NaN is replaced by the canonical quiet
// NaN, because NaN payloads differ between CPUs and GPUs and the gradients
// are hashed.
func (mx *mixed) finish(c *Ctx) {
	mx.finite = true
	if mx.scaler == nil {
		return
	}
	inv := 1 / mx.scaler.scale
	var bad uint32 // bit 31 set once an exponent field is all ones (Inf, NaN)
	for _, p := range mx.trainable {
		g := p.T.grad()
		for i, v := range g {
			v = float32(v * inv)
			g[i] = v
			bad |= math.Float32bits(v)&0x7f800000 + 0x00800000
		}
	}
	finite := bad>>31 == 0
	if !finite {
		nan := math.Float32frombits(canon.F32NaN)
		for _, p := range mx.trainable {
			for i, v := range p.T.Grad {
				if v != v {
					p.T.Grad[i] = nan
				}
			}
		}
	}
	mx.finite = finite
}

// ---------------------------------------------------------------- memory

// ActivationBytes returns the bytes of activations a training step of the
// batch size holds between its forward and its backward pass, with
// activations stored at the precision ("" or "fp32": 4 bytes per value,
// "bf16" or "fp16": 2). It counts what the layers' backward passes read:
//
//   - each tensor between layers (the input batch, every layer output)
//     that a backward pass reads, once: the input of Linear and of ReLU and
//     GELU, the output of tanh (at the precision);
//   - Conv2d's im2col columns (copies of half values, so at the precision);
//   - attention's probabilities (float32, Heads·T·T per sample), the
//     embedding's token ids (8 bytes each);
//   - max pooling's argmax indices (int32), Norm's normalised values
//     (float32: they are computed in fp32 and not rounded) and 1/std per
//     group, Dropout's masks and the loss's softmax probabilities (float32).
//
// The CPU engine keeps half-precision values in float32 slices (they are
// exactly half values, so the bits are those of a 2-byte store); the count
// is that of the storage format, which a device backend holds.
func ActivationBytes(m *Model, batch int, precision string) (uint64, error) {
	elem := uint64(4)
	switch precision {
	case "", PrecisionFP32:
	case PrecisionBF16, PrecisionFP16:
		elem = 2
	default:
		return 0, fmt.Errorf("precision %q, expected fp32, bf16 or fp16", precision)
	}
	shapes := [][]int{m.InShape}
	need := make([]bool, len(m.Layers)+1) // need[i]: the input of layer i (i = len: the logits)
	var atPrec, fp32, perBatch uint64     // per-sample values (atPrec, fp32); per-batch float32 values
	for i, l := range m.Layers {
		in := shapes[i]
		out, err := l.OutShape(in)
		if err != nil {
			return 0, err
		}
		shapes = append(shapes, out)
		switch l := l.(type) {
		case *Linear:
			need[i] = true
		case *Activation:
			if l.Kind == "tanh" {
				need[i+1] = true
			} else {
				need[i] = true
			}
		case *Conv2d:
			atPrec += uint64(l.Cin * l.K * l.K * out[1] * out[2])
		case *Pool2d:
			if !l.Avg {
				fp32 += uint64(numel(out))
			}
		case *Norm:
			fp32 += uint64(numel(in))
			if l.Layer {
				fp32 += uint64(numel(in) / l.C)
			} else {
				perBatch += uint64(l.C)
			}
		case *Dropout:
			if l.P > 0 {
				fp32 += uint64(numel(in))
			}
		case *Flatten, *GlobalAvgPool, *Positions, *TokenPool, *PatchTokens:
		case *Embedding:
			fp32 += 2 * uint64(numel(in)) // the ids, as ints
		case *MaxPool:
			fp32 += uint64(numel(out))
		case *Residual:
			a, f, pb, err := residualActivation(l, in)
			if err != nil {
				return 0, err
			}
			atPrec, fp32, perBatch = atPrec+a, fp32+f, perBatch+pb
		default:
			return 0, fmt.Errorf("activation bytes: layer %T has no rule", l)
		}
	}
	fp32 += uint64(numel(shapes[len(shapes)-1])) // softmax probabilities
	for i, n := range need {
		if n {
			atPrec += uint64(numel(shapes[i]))
		}
	}
	b := uint64(batch)
	return b*(atPrec*elem+fp32*4) + perBatch*4, nil
}
