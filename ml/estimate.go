package ml

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/pouw"
)

// Memory estimation: the bytes one training step holds on the host
// (Estimate, EstimateModel, EstimateTraining), and below, under "Device
// estimation", the bytes a run resident on a GPU holds there
// (EstimateDevice, EstimateDeviceModel, EstimateResident).
//
// Estimate and EstimateModel predict the peak of the Go heap during a
// training step (Trainer.Step) of this engine, which keeps every tensor
// in float32 slices on the host whatever the backend and the precision:
// a half-precision value is a float32 holding a half value, so bf16 and
// fp16 add the weights' half copies and save nothing on activations here
// (ActivationBytes counts the 2-byte storage a device backend would use).
// The per-layer rules are memWalker.layer's; a layer type without a rule
// is an error.
//
// What a step holds, read from the layers' code:
//
//   - model state: every parameter and buffer, fixed position tables, the
//     parameters' gradients (allocated by the first backward pass and
//     kept), the optimizer's slots (SGD momentum 1, Adam and AdamW 2 per
//     parameter), the half copies of the weights (bf16, fp16);
//   - per pass: the gathered input batch and the labels; every layer
//     output, kept until the next step (most layers reuse an output
//     buffer from step to step, the others are held by the tape, whose
//     backing array keeps the previous step's closures until the next
//     forward pass replaces them); the gradient of every output backward
//     reaches (a reused buffer keeps its gradient from step to step, so
//     those exist from the step's start; the others are allocated as
//     backward reaches them); what the backward passes read (Conv2d's
//     im2col columns, normalised values and 1/std, attention
//     probabilities, dropout masks, pooling argmax indices, embedding ids,
//     the loss's probabilities); workspaces (Conv2d's output-layout
//     buffer, BatchNorm's per-thread gather buffers);
//   - the CPU backend's GEMM scratch: packed panels kept in a pool between
//     calls (gemmScratch, gemmPool), as large as a convolution's columns;
//   - short-lived buffers: backward temporaries (attention's per-head
//     score gradients, a Linear's or attention's input gradient when the
//     input already has a contribution, LayerNorm's row buffers) and the
//     next step's fresh outputs, allocated before the previous step's are
//     released: the largest one is added at the moment it occurs.
//
// The peak is the largest moment of the step's timeline: the end of
// backward, or a moment of the next forward pass. With recomputation
// (Model.SetRecompute) a segment of residual blocks keeps only its output
// (and that output's gradient) through the step; its whole working set
// exists while backward recomputes it, one segment at a time, and the
// peak is the largest of those moments. With micro-batches every device
// holds a replica (its buffers; its weights are the master's), one pass
// at the micro-batch size, and the step keeps one gradient buffer per
// micro-batch besides the master gradients.
//
// Every allocation is rounded up as Go's allocator does (size classes up
// to 32 KiB, whole 8 KiB pages above). Not counted: the dataset and the
// epoch's permutation (proportional to the dataset, not to the step), and
// structs, shapes and closures (a few hundred bytes per layer). Garbage
// the collector has not reclaimed yet is GarbageBytes, GCPercent percent
// of the live peak (the headroom a collector at that GOGC lets the heap
// grow by before it collects), plus, with recomputation, the largest
// buffer a recomputed segment allocates (memWalker.overshoot). With
// GOGC=5 the largest measured peaks of estimate_test.go fall within 8% of
// the estimate; Go's default GOGC=100
// can double the live heap, which a memory limit, debug.SetMemoryLimit,
// bounds).

// EstimateOptions describe the training step to estimate.
type EstimateOptions struct {
	// Batch is the batch size (0: the model state only).
	Batch int
	// Optimizer is sgd (also ""), adam or adamw; Momentum, for sgd, keeps
	// one velocity slot per parameter when nonzero.
	Optimizer string
	Momentum  float32
	// Precision is "", fp32, bf16 or fp16 (TrainConfig.Precision).
	Precision string
	// Recompute is the segment length of activation recomputation in
	// residual blocks (Model.SetRecompute), 0 for none. EstimateModel uses
	// this value, not the model's setting.
	Recompute int
	// MicroBatch is TrainConfig.MicroBatch (0: the whole batch at once).
	MicroBatch int
	// Devices is the number of devices running micro-batches
	// (Trainer.SetDevices), 0 meaning 1; Threads the CPU threads of each
	// (BatchNorm keeps gather buffers per thread, attention backward a
	// score buffer per thread), 0 meaning 1.
	Devices, Threads int
	// GCPercent is the garbage collector's GOGC (debug.SetGCPercent): the
	// estimate adds GCPercent percent of the live peak, the garbage such a
	// collector lets the heap carry (GarbageBytes). 0 estimates the live
	// heap only.
	GCPercent int
}

// MemoryEstimate is the predicted peak of a training step and what it is
// made of at that moment; the byte fields add up to PeakBytes.
type MemoryEstimate struct {
	// Params is the number of trainable parameter values.
	Params int `json:"params"`
	// WeightBytes: parameters, buffers (batch-norm running statistics),
	// fixed position tables, bf16/fp16 weight copies and micro-batch
	// replicas' buffers.
	WeightBytes uint64 `json:"weight_bytes"`
	// GradientBytes: the parameters' gradients (and the micro-batch
	// gradient buffers).
	GradientBytes uint64 `json:"gradient_bytes"`
	// OptimizerBytes: the optimizer's slots.
	OptimizerBytes uint64 `json:"optimizer_bytes"`
	// ActivationBytes: the input batch, layer outputs and what the
	// backward passes read (columns, normalised values, probabilities,
	// masks, indices, ids), at the peak.
	ActivationBytes uint64 `json:"activation_bytes"`
	// ActivationGradBytes: the gradients of layer outputs existing at the
	// peak.
	ActivationGradBytes uint64 `json:"activation_grad_bytes"`
	// WorkspaceBytes: layer scratch buffers and the short-lived buffer of
	// the peak's moment.
	WorkspaceBytes uint64 `json:"workspace_bytes"`
	// GarbageBytes: released memory the collector (at
	// EstimateOptions.GCPercent) has not reclaimed yet at the peak;
	// PeakBytes - GarbageBytes is the live peak.
	GarbageBytes uint64 `json:"garbage_bytes"`
	// OvershootBytes is the part of GarbageBytes that is recomputation's
	// overshoot (memWalker.overshoot): a segment's largest buffer,
	// allocated while a collection runs. Whether a step reaches it depends
	// on when the collector's cycles fall, so a step peaks either at
	// PeakBytes or near PeakBytes - OvershootBytes.
	OvershootBytes uint64 `json:"overshoot_bytes,omitempty"`
	// PeakBytes is the predicted peak of the step.
	PeakBytes uint64 `json:"peak_bytes"`
}

// Estimate builds the model of spec (its weights: 4 bytes per parameter,
// once) and estimates a training step's memory with EstimateModel.
func Estimate(spec string, o EstimateOptions) (MemoryEstimate, error) {
	m, err := NewModel(spec, 1)
	if err != nil {
		return MemoryEstimate{}, err
	}
	return EstimateModel(m, o)
}

// EstimateModel predicts the peak host memory of one training step of m
// with the options (see the top of estimate.go for what it counts).
func EstimateModel(m *Model, o EstimateOptions) (MemoryEstimate, error) {
	var e MemoryEstimate
	slots := 0
	switch o.Optimizer {
	case "", "sgd":
		if o.Momentum != 0 {
			slots = 1
		}
	case "adam", "adamw":
		slots = 2
	default:
		return e, fmt.Errorf("estimate: optimizer %q, expected sgd, adam or adamw", o.Optimizer)
	}
	half := false
	switch o.Precision {
	case "", PrecisionFP32:
	case PrecisionBF16, PrecisionFP16:
		half = true
	default:
		return e, fmt.Errorf("estimate: precision %q, expected fp32, bf16 or fp16", o.Precision)
	}
	switch {
	case o.Batch < 0:
		return e, fmt.Errorf("estimate: batch %d, expected >= 0", o.Batch)
	case o.MicroBatch < 0 || o.MicroBatch > 0 && o.Batch > 0 && o.Batch%o.MicroBatch != 0:
		return e, fmt.Errorf("estimate: micro-batch %d, expected 0 or a divisor of the batch %d", o.MicroBatch, o.Batch)
	case o.Recompute < 0:
		return e, fmt.Errorf("estimate: recompute every %d blocks, expected >= 0", o.Recompute)
	case o.Recompute > 0 && m.residualBlocks() == 0:
		return e, fmt.Errorf("estimate: model %s has no residual blocks to recompute", m.Spec.raw)
	case o.Devices < 0 || o.Threads < 0 || o.GCPercent < 0:
		return e, fmt.Errorf("estimate: %d devices, %d threads, GC percent %d, expected >= 0", o.Devices, o.Threads, o.GCPercent)
	case o.Devices > 1 && o.MicroBatch == 0:
		return e, fmt.Errorf("estimate: %d devices need micro-batches", o.Devices)
	}
	devices, threads := max(o.Devices, 1), max(o.Threads, 1)

	// Model state.
	var trainable, buffers, tables uint64
	for _, p := range m.params {
		b := allocFloats(p.T.Numel())
		if p.Buffer {
			buffers += b
		} else {
			trainable += b
			e.Params += p.T.Numel()
		}
	}
	forEachLayer(m.Layers, func(l Layer) {
		if p, ok := l.(*Positions); ok && p.P == nil {
			tables += allocFloats(len(p.Fixed))
		}
	})
	e.WeightBytes = trainable + buffers + tables
	if half {
		e.WeightBytes += trainable
	}
	e.GradientBytes = trainable
	e.OptimizerBytes = uint64(slots) * trainable
	if o.Batch == 0 {
		e.finish(o.GCPercent)
		return e, nil
	}

	// One pass per device, at the micro-batch size with micro-batches.
	b := o.Batch
	if o.MicroBatch > 0 {
		micro := uint64(o.Batch / o.MicroBatch)
		b = o.MicroBatch
		e.GradientBytes += micro * trainable
		e.WeightBytes += micro*buffers + uint64(devices)*(buffers+tables)
	} else {
		devices = 1
	}
	w := &memWalker{b: b, threads: threads, recompute: o.Recompute}
	pass, err := w.pass(m)
	if err != nil {
		return MemoryEstimate{}, err
	}
	d := uint64(devices)
	e.ActivationBytes, e.ActivationGradBytes, e.WorkspaceBytes = d*pass.act, d*pass.grad, d*pass.work
	e.finish(o.GCPercent)
	if o.GCPercent > 0 {
		// See overshoot: with recomputation the heap also carries one
		// segment allocation on top of the collector's goal.
		e.GarbageBytes += w.overshoot
		e.OvershootBytes = w.overshoot
		e.PeakBytes += w.overshoot
	}
	return e, nil
}

// finish adds the garbage allowance and the peak.
func (e *MemoryEstimate) finish(gcPercent int) {
	live := e.WeightBytes + e.GradientBytes + e.OptimizerBytes + e.ActivationBytes + e.ActivationGradBytes + e.WorkspaceBytes
	e.GarbageBytes = live * uint64(gcPercent) / 100
	e.PeakBytes = live + e.GarbageBytes
}

// goAlloc is the heap bytes of one allocation of n bytes: Go's size class
// up to 32 KiB, whole 8 KiB pages above.
func goAlloc(n uint64) uint64 {
	if n == 0 {
		return 0
	}
	if n > 32768 {
		return (n + 8191) &^ 8191
	}
	for _, c := range goSizeClasses {
		if uint64(c) >= n {
			return uint64(c)
		}
	}
	return 32768
}

// goSizeClasses are the Go allocator's small object sizes
// (internal/runtime/gc.SizeClassToSize).
var goSizeClasses = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

func allocFloats(n int) uint64 { return goAlloc(4 * uint64(n)) }

// memParts splits bytes into activations, their gradients and workspaces.
type memParts struct{ act, grad, work uint64 }

func (p memParts) plus(q memParts) memParts {
	return memParts{p.act + q.act, p.grad + q.grad, p.work + q.work}
}
func (p memParts) total() uint64 { return p.act + p.grad + p.work }

func maxParts(p, q memParts) memParts {
	if q.total() > p.total() {
		return q
	}
	return p
}

// layerMem is what one layer (with the layers inside it) holds in a pass.
type layerMem struct {
	held      memParts // from its forward pass to the next step: outputs, saved values, workspaces
	outGrad   uint64   // its output's gradient, allocated by the consumer's backward
	innerGrad uint64   // gradients of tensors inside it (residual blocks), allocated by its own backward
	// outKept and innerKept: gradients of reused output buffers, allocated
	// by the first step and kept with the buffer, so they exist before the
	// step's backward reaches them (outKept: all of outGrad; innerKept: the
	// part of innerGrad).
	outKept   bool
	innerKept uint64
	trans     memParts // its largest short-lived buffer in backward
	fresh     memParts // what its forward allocates anew every step (live next to the previous step's copy)
}

// keptOut and stepOut split outGrad into the part that exists from the
// step's start and the part its backward allocates.
func (lm layerMem) keptOut() uint64 {
	if lm.outKept {
		return lm.outGrad
	}
	return 0
}

func (lm layerMem) stepOut() uint64 { return lm.outGrad - lm.keptOut() }

// unit is a step of the backward timeline: one top-level layer, or a
// recomputed segment of residual blocks.
type unit struct {
	layerMem
	ws memParts // a segment's working set while backward recomputes it
}

// memWalker applies the per-layer rules at batch b.
type memWalker struct {
	b, threads, recompute int
	panels                []uint64 // the GEMM scratch sizes of the pass
	// largest is the largest single buffer the layers walked so far
	// allocate (an output, a convolution's columns or GEMM output,
	// attention's probabilities, a norm's normalised values).
	largest uint64
	// overshoot is the largest buffer a recomputed segment allocates.
	// Recomputation frees and reallocates a segment's working set one
	// segment after another, so collections run all through backward
	// while the live heap stays near its peak; a collection that starts
	// just before such an allocation ends after it, and the heap then
	// holds the whole buffer beyond the collector's goal, with the
	// previous segment's buffers not swept yet. The one-P measurement of
	// resnet20 (rc=1, its 4.5 MiB first-stage columns) sees it in most
	// runs. Without recomputation the step's buffers stay live until
	// the step ends, so what a late collection leaves is live anyway.
	overshoot uint64
}

// note records a buffer of n bytes (see largest).
func (w *memWalker) note(n uint64) { w.largest = max(w.largest, n) }

// gemmKernel is the register tile (mr x nr) of the CPU backend's best
// GEMM kernel; 0 x 0 for the row-wise kernels (neon, pure Go).
var gemmKernel = func() [2]int {
	if ks := cpu.Kernels(); len(ks) > 0 {
		switch ks[0] {
		case "avx512":
			return [2]int{8, 48}
		case "avx2":
			return [2]int{6, 16}
		}
	}
	return [2]int{}
}()

// gemmScratch records the scratch of a GEMM C[m x n] = op(A)·op(B) with
// inner dimension k, run by par goroutines at once, as accel/cpu
// allocates it. The packed kernels take a packed panel of B (n rounded up
// to the kernel's nr, times min(k, 256)) and per worker a packed block of
// A (64 rows) from a sync.Pool; any request takes any pooled buffer and
// drops one that is too small, so over a step the pool fills with buffers
// of the largest panel sizes, one per buffer in use at once (the B panel
// and a block per worker). The row-wise kernels (neon, pure Go) copy a
// transposed B (k x n) instead, garbage after the call.
func (w *memWalker) gemmScratch(m, n, k int, transB bool, par int) {
	mr, nr := gemmKernel[0], gemmKernel[1]
	var b uint64
	switch {
	case nr == 0 && transB:
		b = allocFloats(k * n)
	case nr != 0:
		if n <= 16 && nr > 16 { // the narrow (avx2) kernel
			mr, nr = 6, 16
		}
		kc := min(k, 256)
		b = max(allocFloats((n+nr-1)/nr*nr*kc), allocFloats(64/mr*mr*kc+mr*nr))
	}
	for i := 0; i < par; i++ {
		w.panels = append(w.panels, b)
	}
}

// gemmPool is the GEMM scratch at the peak: the largest of the panels,
// as many as the pool holds buffers (one B panel and one A block per
// thread), for the packed kernels; the largest transposed copy for the
// row-wise ones. The pool drops a buffer no request has taken for two
// collections: with recomputation, which reallocates every segment's
// buffers, collections run between GEMMs all through the step and the
// pool is mostly empty, so pass counts none.
func (w *memWalker) gemmPool(panels []uint64) uint64 {
	ps := slices.Clone(panels)
	slices.Sort(ps)
	slices.Reverse(ps)
	keep := 1 + w.threads
	if gemmKernel[1] == 0 {
		keep = 1
	}
	var sum uint64
	for i := 0; i < keep && i < len(ps); i++ {
		sum += ps[i]
	}
	return sum
}

// pass returns the parts at the peak of one forward and backward pass
// (loss included) of m.
func (w *memWalker) pass(m *Model) (memParts, error) {
	var units []unit
	shape, need := m.InShape, false
	for i := 0; i < len(m.Layers); {
		var u unit
		if w.recompute == 0 || !isResidual(m.Layers[i]) {
			lm, out, outNeed, err := w.layer(m.Layers[i], shape, need, false)
			if err != nil {
				return memParts{}, err
			}
			u.layerMem, shape, need = lm, out, outNeed
			units = append(units, u)
			i++
			continue
		}
		w.largest = 0
		end := i // the segment: up to recompute consecutive blocks (Model.segmentEnd)
		for end < len(m.Layers) && end-i < w.recompute && isResidual(m.Layers[end]) {
			end++
		}
		// A recomputed segment keeps its output (the last block's
		// buffer, held by the tape) and that output's gradient; the
		// rest exists while backward recomputes it.
		for k := i; k < end; k++ {
			lm, out, outNeed, err := w.layer(m.Layers[k], shape, need, false)
			if err != nil {
				return memParts{}, err
			}
			u.ws = u.ws.plus(lm.held)
			u.ws.grad += lm.outGrad + lm.innerGrad // the segment's buffers are new every step
			u.trans = maxParts(u.trans, lm.trans)
			shape, need = out, outNeed
		}
		w.overshoot = max(w.overshoot, w.largest)
		o := allocFloats(w.b * numel(shape))
		u.held.act = o
		if need {
			u.outGrad = o
		}
		u.fresh = memParts{act: u.ws.act, work: u.ws.work} // the quiet forward's buffers
		units = append(units, u)
		i = end
	}
	b := w.b
	classes := numel(shape)
	// The input batch (gathered into a buffer kept by the trainer), the
	// labels, the loss's probabilities and per-sample losses.
	var level memParts
	level.act = allocFloats(b*numel(m.InShape)) + goAlloc(8*uint64(b)) + allocFloats(b*classes) + allocFloats(b) + 2*goAlloc(4)
	lossFresh := memParts{act: goAlloc(8*uint64(b)) + allocFloats(b*classes) + allocFloats(b)}
	for _, u := range units {
		level = level.plus(u.held)
		level.grad += u.innerKept + u.keptOut()
	}
	if len(units) > 0 {
		level.grad += units[len(units)-1].stepOut()
	}
	// Candidates for the peak, each with the GEMM pool: each moment of
	// backward, a layer's (with a recomputed segment's whole working set),
	// and the next step's forward, which allocates a layer's fresh buffers
	// while the previous step's are still held.
	all := w.gemmPool(w.panels)
	if w.recompute > 0 {
		all = 0 // see gemmPool
	}
	var peak memParts
	consider := func(p memParts, pool uint64) {
		p.work += pool
		peak = maxParts(peak, p)
	}
	consider(level, all)
	for k := len(units) - 1; k >= 0; k-- {
		u := units[k]
		level.grad += u.innerGrad - u.innerKept
		if k > 0 {
			level.grad += units[k-1].stepOut()
		}
		consider(level.plus(u.ws).plus(u.trans), all)
	}
	fresh := lossFresh
	for _, u := range units {
		fresh = maxParts(fresh, u.fresh)
	}
	consider(level.plus(fresh), all)
	return peak, nil
}

func isResidual(l Layer) bool { _, ok := l.(*Residual); return ok }

// hasTrainable reports whether l has trainable parameters (its output
// then needs a gradient).
func hasTrainable(l Layer) bool {
	for _, p := range l.Params() {
		if !p.Buffer {
			return true
		}
	}
	return false
}

// layer is the per-layer rule: l with per-sample input shape in, whose
// input needs a gradient (need) and, when shared, already has a gradient
// contribution when l's backward runs (the first layer of a residual
// block's main path).
func (w *memWalker) layer(l Layer, in []int, need, shared bool) (layerMem, []int, bool, error) {
	var lm layerMem
	out, err := l.OutShape(in)
	if err != nil {
		return lm, nil, false, err
	}
	outNeed := need || hasTrainable(l)
	b := w.b
	nIn, nOut := b*numel(in), b*numel(out)
	o := allocFloats(nOut)
	w.note(o)
	slot := func() { // a reused output buffer and its gradient
		lm.held.act += o
		if outNeed {
			lm.outGrad, lm.outKept = o, true
		}
	}
	switch l := l.(type) {
	case *Linear:
		slot()
		rows := nIn / l.In
		w.gemmScratch(rows, l.Out, l.In, false, 1)
		w.gemmScratch(l.In, l.Out, rows, false, 1)
		if need {
			w.gemmScratch(rows, l.In, l.Out, true, 1)
		}
		if shared && need {
			lm.trans.work = allocFloats(nIn) // gemmGrad's temporary
		}
	case *Activation:
		slot()
		if l.Kind == "gelu" {
			lm.held.act += allocFloats(nIn)                                                       // Φ(x), read by backward
			lm.trans.work = uint64(min(w.threads, (nIn+4095)/4096)) * allocFloats(min(nIn, 4096)) // backward's exponentials per chunk
		}
	case *Flatten, *GlobalAvgPool, *Positions, *PatchTokens:
		slot()
	case *TokenPool:
		slot()
		if !l.Last {
			lm.fresh.work = uint64(w.threads) * allocFloats(in[0])
		}
	case *Dropout:
		if l.P == 0 {
			return lm, in, need, nil // the identity
		}
		// A fresh output and the mask, held by the tape.
		lm.held.act = 2 * o
		if outNeed {
			lm.outGrad = o
		}
		lm.fresh.act = 2 * o
	case *Embedding:
		ids := goAlloc(8 * uint64(nIn))
		lm.held.act = o + ids
		lm.outGrad = o
		lm.fresh.act = o + ids
	case *Norm:
		slot()
		if l.Layer {
			// xhat and 1/std per row (layernorm.go); backward's row buffers
			// per thread.
			rows := nIn / l.C
			lm.held.act += allocFloats(nIn) + allocFloats(rows)
			lm.trans.work = uint64(min(w.threads, rows)) * 2 * allocFloats(l.C)
			break
		}
		lm.held.act += allocFloats(nIn) + allocFloats(l.C) // xhat, 1/std
		workers := min(w.threads, l.C)
		lm.held.work = uint64(2*workers)*allocFloats(nIn/l.C) + goAlloc(uint64(2*workers)*24)
	case *Conv2d:
		oh, ow := out[1], out[2]
		q := b * oh * ow
		lm.held.act = allocFloats(l.Cin * l.K * l.K * q) // im2col columns
		lm.held.work = allocFloats(l.Cout * q)           // GEMM output, [Cout, N·P]
		w.note(lm.held.act)
		w.note(lm.held.work)
		slot()
		r := l.Cin * l.K * l.K
		w.gemmScratch(l.Cout, q, r, false, 1)
		w.gemmScratch(l.Cout, r, q, true, 1)
		if need {
			w.gemmScratch(r, q, l.Cout, false, 1)
		}
	case *Pool2d:
		slot()
		if !l.Avg {
			lm.held.act += goAlloc(4 * uint64(nOut)) // argmax, int32
		}
	case *MaxPool:
		slot()
		lm.held.act += goAlloc(4 * uint64(nOut))
	case *Attention:
		slot()
		t := in[0]
		probs := allocFloats(b * l.Heads * t * t)
		lm.held.act += probs
		w.note(probs)
		dh := in[1] / 3 / l.Heads
		par := min(w.threads, b*l.Heads)
		w.gemmScratch(t, t, dh, true, par)
		w.gemmScratch(t, dh, t, false, par)
		lm.trans.work = uint64(w.threads) * (allocFloats(t*t) + allocFloats(t))
		if shared && need {
			lm.trans.work += allocFloats(nIn)
		}
	case *Residual:
		// The paths' layers, then the block's own output buffer (the
		// identity shortcut is x itself).
		outNeed = false
		for pi, path := range [][]Layer{l.Main, l.Shortcut} {
			shape, pn := in, need
			for k, inner := range path {
				im, next, nn, err := w.layer(inner, shape, pn, pi == 0 && k == 0)
				if err != nil {
					return lm, nil, false, err
				}
				lm.held = lm.held.plus(im.held)
				lm.innerGrad += im.outGrad + im.innerGrad
				lm.innerKept += im.keptOut() + im.innerKept
				lm.trans = maxParts(lm.trans, im.trans)
				lm.fresh = maxParts(lm.fresh, im.fresh)
				shape, pn = next, nn
			}
			outNeed = outNeed || pn
		}
		slot()
	default:
		return lm, nil, false, fmt.Errorf("estimate: layer %T has no memory rule", l)
	}
	return lm, out, outNeed, nil
}

// EstimateTraining estimates the live peak of one training step of m as a
// trainer runs it: cfg's optimizer, precision and micro-batches, m's
// recompute setting, devices replicas with threads threads each. Miners
// and pouwd ml train check it against their memory budget before a job
// starts.
func EstimateTraining(m *Model, cfg TrainConfig, devices, threads int) (MemoryEstimate, error) {
	return EstimateModel(m, EstimateOptions{Batch: cfg.BatchSize, Optimizer: cfg.Optimizer, Momentum: cfg.Momentum,
		Precision: cfg.Precision, Recompute: m.recompute, MicroBatch: cfg.MicroBatch, Devices: devices, Threads: threads})
}

// Device estimation: what a resident run holds on a GPU.
//
// EstimateDevice and EstimateDeviceModel predict the most bytes a
// resident training run (package ml/devtrain, Trainer.SetResident) holds
// on its device: the figure accel/cuda's allocator records
// (MemStats.Peak) and checks against the device's budget (accel.Budget,
// by default 0.8 of the memory free when the backend opens). The rules
// are devWalker.layer's, read from devtrain's planner (stages.go,
// resnet.go, transformer.go); package ml cannot import devtrain, so the
// estimate is computed from the model alone and devtrain's tests check
// the two against the backend's measured peak (ml/devtrain/estimate_test.go).
//
// A resident run allocates every buffer when it is placed and keeps it to
// the end, so its peak is a sum rather than a moment of a timeline:
//
//   - model state: every parameter and buffer, the sinusoidal position
//     tables (uploaded as buffers), the trainable parameters' gradients,
//     the optimizer's slots (SGD momentum 1, Adam and AdamW 2 per
//     parameter);
//   - activations: the batch (its values, or its token ids), the int32
//     labels, the softmax's probabilities, the per-sample losses and their
//     sum; every stage's output (Flatten's is a view of its input),
//     Conv2d's im2col columns (reused for their gradient), normalisation's
//     xhat, means and 1/std per group, attention's probabilities, dropout's
//     masks, max pooling's argmax indices; a residual block's sum has its
//     own output;
//   - activation gradients: the gradient of every stage output backward
//     reaches (a stage with trainable parameters, or one whose input
//     needs a gradient), attention's probability gradients;
//   - workspaces: Conv2d's [Cout, N·P] output (reused for the output
//     gradient in that layout); one gradient scratch the stages share, as
//     large as the largest need (a normalisation's gathered values and
//     backward products, 2 per element and 4 per group; a Linear's or
//     attention's input gradient when the input already holds a
//     contribution, the first stage of a residual block's main path); and
//     what the backend allocates for itself: the tree sums' scratch
//     (SumRows and SumSqRows keep rows·2^D values, D the depth of
//     canon.Sum's leaves, grown to the largest sum and kept: the loss's
//     and every normalisation's), and at a step that samples the work
//     digest (pouw/v2) the gather's argument block (a few words per
//     tensor, freed after the call).
//
// Not counted because a resident step allocates none of it: the host
// path's GEMM staging buffers (accel/cuda's Gemm copies A, B and C into
// buffers it keeps; a resident step runs GemmDevice on its own buffers),
// cuda.NormForward's and NormBackward's temporaries (the stages carve
// them from the shared scratch), the state hash's leaves (a resident run
// hashes on the host). With micro-batches a pass's buffers are at the
// micro-batch size and device 0 keeps the reduction's gradient sums; with
// several devices each holds a replica (EstimateDevicesModel says what).
// Half precision has no device path yet (devtrain.New refuses it, and so
// does EstimateDeviceModel), and a resident run keeps every activation:
// Model.SetRecompute and EstimateOptions.Recompute do not apply. The bytes are those the
// backend's allocator counts, 4 per value; the driver rounds each
// allocation up to its granularity and the CUDA context takes its own
// memory before the budget's free figure is read, which is why the
// budget keeps a fraction of the device in reserve.

// EstimateDevice builds the model of spec and estimates what a resident
// training run holds on a GPU with EstimateDeviceModel.
func EstimateDevice(spec string, o EstimateOptions) (MemoryEstimate, error) {
	m, err := NewModel(spec, 1)
	if err != nil {
		return MemoryEstimate{}, err
	}
	return EstimateDeviceModel(m, o)
}

// EstimateDeviceModel predicts the peak device memory of a resident
// training run of m (see "Device estimation" in estimate.go): the byte
// fields of the result add up to PeakBytes and GarbageBytes is 0. It
// reads o's Batch, Optimizer, Momentum, MicroBatch and Devices; Precision
// must be fp32; Recompute, Threads and GCPercent do not apply to a device.
// With several devices it is device 0's figure, the largest
// (EstimateDevicesModel gives each device's).
func EstimateDeviceModel(m *Model, o EstimateOptions) (MemoryEstimate, error) {
	es, err := EstimateDevicesModel(m, o)
	if err != nil {
		return MemoryEstimate{}, err
	}
	return es[0], nil
}

// EstimateDevices builds the model of spec and estimates each device's
// memory with EstimateDevicesModel.
func EstimateDevices(spec string, o EstimateOptions) ([]MemoryEstimate, error) {
	m, err := NewModel(spec, 1)
	if err != nil {
		return nil, err
	}
	return EstimateDevicesModel(m, o)
}

// EstimateDevicesModel predicts the peak memory of each device of a
// resident run of m over o.Devices GPUs (0 meaning 1; more than one needs
// micro-batches, as devtrain.NewDevices does), device 0 first. Every
// device holds a replica: the parameters and buffers, their gradients,
// one pass's buffers at the micro-batch size (o.MicroBatch, or the batch)
// and the backend's tree scratch, and with several devices each
// BatchNorm's kept variances (a value per channel). Device 0 also holds
// the optimizer's slots, the reduction's gradient sums with micro-batches
// (devtrain/reduce.go: bits.Len(M+1)-1 sets of every trainable parameter
// for M micro-batches per step, one more with several devices; counted in
// GradientBytes) and the digest gather's argument block; the others hold
// none of those, so their figures are equal and below device 0's.
func EstimateDevicesModel(m *Model, o EstimateOptions) ([]MemoryEstimate, error) {
	slots := 0
	switch o.Optimizer {
	case "", "sgd":
		if o.Momentum != 0 {
			slots = 1
		}
	case "adam", "adamw":
		slots = 2
	default:
		return nil, fmt.Errorf("estimate: optimizer %q, expected sgd, adam or adamw", o.Optimizer)
	}
	switch {
	case o.Precision != "" && o.Precision != PrecisionFP32:
		return nil, fmt.Errorf("estimate: precision %s has no device path (a resident run trains in fp32)", o.Precision)
	case o.Batch < 0:
		return nil, fmt.Errorf("estimate: batch %d, expected >= 0", o.Batch)
	case o.MicroBatch < 0 || o.MicroBatch > 0 && o.Batch > 0 && o.Batch%o.MicroBatch != 0:
		return nil, fmt.Errorf("estimate: micro-batch %d, expected 0 or a divisor of the batch %d", o.MicroBatch, o.Batch)
	case o.Devices < 0:
		return nil, fmt.Errorf("estimate: %d devices, expected >= 0", o.Devices)
	case o.Devices > 1 && o.MicroBatch == 0:
		return nil, fmt.Errorf("estimate: %d devices need micro-batches (a replica per device runs micro-batches)", o.Devices)
	}
	devices := max(o.Devices, 1)
	b, micro := o.Batch, 1
	if o.MicroBatch > 0 && o.Batch > 0 {
		b, micro = o.MicroBatch, o.Batch/o.MicroBatch
	}
	// The reduction's gradient sums on device 0 (devtrain's nslots).
	sums := 0
	if micro > 1 {
		sums = bits.Len(uint(micro+1)) - 1
		if devices > 1 {
			sums++
		}
	}

	// Model state: 4 bytes per value, no allocator rounding counted.
	var e, peer MemoryEstimate
	var trainable, buffers uint64
	for _, p := range m.params {
		if p.Buffer {
			buffers += 4 * uint64(p.T.Numel())
		} else {
			trainable += 4 * uint64(p.T.Numel())
			e.Params += p.T.Numel()
		}
	}
	e.WeightBytes = trainable + buffers
	e.GradientBytes = trainable * uint64(1+sums)
	e.OptimizerBytes = uint64(slots) * trainable
	peer.Params, peer.WeightBytes, peer.GradientBytes = e.Params, e.WeightBytes, trainable
	each := func() []MemoryEstimate {
		e.finish(0)
		peer.finish(0)
		es := []MemoryEstimate{e}
		for d := 1; d < devices; d++ {
			es = append(es, peer)
		}
		return es
	}
	if o.Batch == 0 {
		return each(), nil
	}

	w := &devWalker{b: b, keepBN: devices > 1}
	shape, need, err := w.seq(m.Layers, m.InShape, false, false)
	if err != nil {
		return nil, err
	}
	if !need {
		return nil, fmt.Errorf("estimate: model %s: the last layer's output has no gradient (no trained parameters)", m.Spec.raw)
	}
	classes := numel(shape)
	// The pass's samples, the labels, the probabilities, the losses and
	// their sum.
	w.act += b*numel(m.InShape) + b + b*classes + b + 1
	w.tree = max(w.tree, 1<<treeDepth(b)) // the loss's sum
	// The sample gather's arguments (accel/cuda SampleValues, device 0):
	// the 64 samples' words, a base pointer per tensor and the cumulative
	// offsets, 8 bytes each, for every parameter and buffer.
	sampleArgs := 2 * ((pouw.SampleCount+1)/2 + 2*len(m.params) + 1)
	for _, x := range []*MemoryEstimate{&e, &peer} {
		x.WeightBytes += 4 * uint64(w.tables)
		x.ActivationBytes = 4 * uint64(w.act)
		x.ActivationGradBytes = 4 * uint64(w.grad)
		x.WorkspaceBytes = 4 * uint64(w.work+w.scratch+w.tree)
	}
	e.WorkspaceBytes += 4 * uint64(sampleArgs)
	return each(), nil
}

// EstimateResident is EstimateTraining for a resident run on one GPU:
// cfg's batch, optimizer, momentum and micro-batches (see
// EstimateDeviceModel).
func EstimateResident(m *Model, cfg TrainConfig) (MemoryEstimate, error) {
	return EstimateDeviceModel(m, EstimateOptions{Batch: cfg.BatchSize, Optimizer: cfg.Optimizer, Momentum: cfg.Momentum,
		Precision: cfg.Precision, MicroBatch: cfg.MicroBatch})
}

// EstimateResidentDevices is EstimateResident over devices GPUs: each
// device's figure, device 0 first (EstimateDevicesModel).
func EstimateResidentDevices(m *Model, cfg TrainConfig, devices int) ([]MemoryEstimate, error) {
	return EstimateDevicesModel(m, EstimateOptions{Batch: cfg.BatchSize, Optimizer: cfg.Optimizer, Momentum: cfg.Momentum,
		Precision: cfg.Precision, MicroBatch: cfg.MicroBatch, Devices: devices})
}

// EstimateResidentHost is what a resident run of m with cfg keeps on the
// host while its steps run on GPUs: the datasets (their values, labels,
// bytes and row offsets), the model's host copy (its parameters and
// buffers, their gradients and the optimizer's slots, which Trainer.Sync
// fills: EstimateModel at batch 0) and the batch each step gathers and
// uploads (its values, its labels and their int32 copy). The activations
// live on the devices (EstimateResidentDevices). pouwd ml train and the
// miner check it against the host's budget for a run that will train
// resident (ml/devtrain's CheckResident).
func EstimateResidentHost(m *Model, cfg TrainConfig, data ...Dataset) (uint64, error) {
	e, err := EstimateModel(m, EstimateOptions{Optimizer: cfg.Optimizer, Momentum: cfg.Momentum, Precision: cfg.Precision})
	if err != nil {
		return 0, err
	}
	n := e.PeakBytes
	for _, d := range data {
		n += 4*uint64(len(d.X)) + 8*uint64(len(d.Y)) + uint64(len(d.Bytes)) + 8*uint64(len(d.Rows))
	}
	b := uint64(cfg.BatchSize)
	return n + 4*b*uint64(m.SampleSize()) + 8*b + 4*b, nil
}

// devWalker applies the device rules at batch b, counting float32 values.
type devWalker struct {
	b               int
	keepBN          bool // several devices: BatchNorm keeps each pass's variances
	act, grad, work int  // stage buffers (see the parts of MemoryEstimate)
	tables          int  // fixed position tables
	scratch         int  // the shared gradient scratch: the largest need
	tree            int  // the tree sums' scratch: the largest rows·2^D
}

// treeDepth is the depth D of canon.Sum's leaves over n values: the
// smallest D with ceil(n/2^D) <= 16 (accel/cuda's treeSum).
func treeDepth(n int) int {
	d := 0
	for (n+(1<<d)-1)>>d > 16 {
		d++
	}
	return d
}

// seq walks layers in order from per-sample shape in; need says whether
// the input needs a gradient, shared whether it already holds a gradient
// contribution when the first stage's backward runs (the first stage of a
// residual block's main path: the shortcut, or the block's addition,
// contributes first). It returns the output's shape and whether it needs
// a gradient.
func (w *devWalker) seq(layers []Layer, in []int, need, shared bool) ([]int, bool, error) {
	shape := in
	for _, l := range layers {
		out, outNeed, placed, err := w.layer(l, shape, need, shared)
		if err != nil {
			return nil, false, err
		}
		if placed {
			shared = false
		}
		shape, need = out, outNeed
	}
	return shape, need, nil
}

// layer is the per-layer rule of a resident run (devtrain's planner.layer):
// l with per-sample input shape in. placed is false for a layer with no
// stage (Dropout with P = 0, the identity).
func (w *devWalker) layer(l Layer, in []int, need, shared bool) (out []int, outNeed, placed bool, err error) {
	out, err = l.OutShape(in)
	if err != nil {
		return nil, false, false, err
	}
	b := w.b
	nIn, n := b*numel(in), b*numel(out)
	outNeed = need || hasTrainable(l)
	output := func() { // the stage's output and, when backward reaches it, its gradient
		w.act += n
		if outNeed {
			w.grad += n
		}
	}
	switch l := l.(type) {
	case *Linear:
		output()
		if shared && need {
			w.scratch = max(w.scratch, nIn) // dx computed apart, then added
		}
	case *Activation, *GlobalAvgPool, *TokenPool, *PatchTokens, *Embedding:
		output()
	case *Positions:
		output()
		if l.P == nil {
			w.tables += l.T * l.D
		}
	case *Flatten:
		if outNeed { // the values are the input's
			w.grad += n
		}
	case *Dropout:
		if l.P == 0 {
			return in, need, false, nil
		}
		output()
		w.act += n // the mask
	case *Conv2d:
		output()
		w.act += l.Cin * l.K * l.K * b * out[1] * out[2] // the columns
		w.work += n                                      // the output, channels first
	case *Pool2d:
		output()
		if !l.Avg {
			w.act += n // argmax indices
		}
	case *MaxPool:
		output()
		w.act += n
	case *Norm:
		output()
		groups, m := l.C, nIn/l.C // BatchNorm: per channel over the batch and positions
		if l.Layer {
			groups, m = nIn/l.C, l.C // LayerNorm: per row
		}
		w.act += n + 2*groups // xhat, the means, 1/std
		if !l.Layer && w.keepBN {
			w.act += groups // the pass's variances, for device 0's running statistics
		}
		w.scratch = max(w.scratch, 2*n+4*groups)
		w.tree = max(w.tree, groups<<treeDepth(m))
	case *Attention:
		output()
		probs := b * l.Heads * in[0] * in[0]
		w.act += probs
		if need {
			w.grad += probs
			if shared {
				w.scratch = max(w.scratch, nIn)
			}
		}
	case *Residual:
		// The main path's stages, the shortcut's, then the addition's
		// output. The input's first gradient contribution comes from the
		// shortcut (or the addition), so the main path's first stage adds.
		_, mainNeed, err := w.seq(l.Main, in, need, true)
		if err != nil {
			return nil, false, false, err
		}
		scNeed := need
		if len(l.Shortcut) > 0 {
			if _, scNeed, err = w.seq(l.Shortcut, in, need, shared); err != nil {
				return nil, false, false, err
			}
		}
		outNeed = mainNeed || scNeed
		output()
	default:
		return nil, false, false, fmt.Errorf("estimate: layer %T has no device rule", l)
	}
	return out, outNeed, true, nil
}
