package ml

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pouw/pouwd/accel"
)

// The operation-level profiler.
//
// A Profiler attached with Trainer.SetProfiler times every operation of
// the training steps by kind (the op* constants below) and estimates the
// bytes each moves and, for the products Model.FLOPs counts, its
// floating-point operations. It only reads clocks and shapes: no number
// of the computation passes through it, so the bits are those of a run
// without it (TestProfilerSameBits). Detached (the default) it costs a nil
// check per layer and per recorded backward closure.
//
// What is timed, and where:
//
//   - Layers: Ctx.forward wraps every Layer.Forward (Model.layerForward and
//     the paths of a Residual block), and Ctx.record wraps the backward
//     closure the layer records, so each layer's forward, backward and,
//     with SetRecompute, recomputed forward time lands on its kind. Time is
//     exclusive: a Residual block's row holds its own add (and ReLU), its
//     inner layers their own.
//   - The loss (forward and backward), the batch gather (data), the
//     optimizer and the digest: the step's version 1 hashes, the wait for a
//     StepCommitting commitment and the step hook (whatever the hook does,
//     since that is where the work proof hashes its samples).
//   - "other" is the rest of the step's wall time: the tape's own work,
//     half-precision roundings, the micro-batch reduction, waiting for the
//     slowest device.
//
// Several devices (SetDevices): each device's micro-batches are timed on
// an accumulator of its own (no locking on the hot path), merged when the
// step ends. Device rows then add up the devices' busy time, and the
// 100% that Share divides by is the step's wall time plus the busy time of
// devices 1..D-1, so shares still sum to one.
//
// Concurrent trainers may share one Profiler (cv runs folds in parallel):
// each trainer merges its steps under the profiler's lock.

// Op kinds. Their names (opNames) are the stable keys of Profile rows.
type opKind uint8

const (
	opGEMM        opKind = iota // Linear layers
	opConv                      // Conv2d: im2col, GEMM, col2im
	opAttention                 // attention's Q·Kᵀ, softmax, P·V
	opNorm                      // BatchNorm, LayerNorm
	opElementwise               // activations, dropout, residual adds, flatten, positions, patch tokens
	opPool                      // max/avg pooling, global average pooling, token pooling
	opEmbedding                 // token embedding gather/scatter
	opLoss                      // softmax cross-entropy
	opOptimizer                 // the parameter update
	opDigest                    // work-proof hashing the trainer sees, and the step hook
	opData                      // the batch gather
	numOps
)

var opNames = [numOps]string{"gemm", "conv", "attention", "norm", "elementwise", "pool", "embedding", "loss", "optimizer", "digest", "data"}

// Op names of Profile rows.
const (
	ProfileGEMM        = "gemm"
	ProfileConv        = "conv"
	ProfileAttention   = "attention"
	ProfileNorm        = "norm"
	ProfileElementwise = "elementwise"
	ProfilePool        = "pool"
	ProfileEmbedding   = "embedding"
	ProfileLoss        = "loss"
	ProfileOptimizer   = "optimizer"
	ProfileDigest      = "digest"
	ProfileData        = "data"
	// ProfileOther is the step time no other row holds.
	ProfileOther = "other"
)

// Phases of an op's time.
const (
	phForward = iota
	phBackward
	phRecompute
	numPhases
)

type opStat struct {
	calls, ns, bytes, flops uint64
}

func (s *opStat) add(o opStat) {
	s.calls += o.calls
	s.ns += o.ns
	s.bytes += o.bytes
	s.flops += o.flops
}

// profEpoch is the base of the profiler's clock (monotonic nanoseconds).
var profEpoch = time.Now()

func profNow() int64 { return int64(time.Since(profEpoch)) }

// ---------------------------------------------------------------- public API

// Profiler accumulates per-op time, bytes and FLOPs over the steps of the
// trainers it is attached to (Trainer.SetProfiler). It is safe for
// concurrent use: Report may run while training goes on.
type Profiler struct {
	mu       sync.Mutex
	total    profTotals
	last     profTotals
	peak     float64
	peakName string
}

// NewProfiler returns an empty profiler.
func NewProfiler() *Profiler { return &Profiler{} }

// Profile is a profiler's report: one row per op kind that ran, sorted by
// time (longest first; "other" last), JSON-tagged for monitors and
// reports. Seconds are wall time (device time summed over devices with
// several devices); Share is a fraction of TotalSeconds.
type Profile struct {
	Steps uint64 `json:"steps"`
	// StepSeconds is the wall time of the steps (Trainer.Step, the hook
	// included).
	StepSeconds float64 `json:"step_seconds"`
	// TotalSeconds is what Share divides by: StepSeconds plus the busy
	// time of the devices after the first (equal to StepSeconds on one
	// device).
	TotalSeconds float64 `json:"total_seconds"`
	// Devices is the most devices a step ran on.
	Devices int `json:"devices"`
	// PeakGFLOPS is the backend's measured GEMM rate (SetPeak,
	// MeasurePeak), 0 when not measured; PeakBackend names the backend.
	PeakGFLOPS  float64 `json:"peak_gflops,omitempty"`
	PeakBackend string  `json:"peak_backend,omitempty"`
	// BackgroundDigestSeconds is the time StepCommitting's goroutine spent
	// hashing and encoding commitments, overlapped with training (the
	// digest row holds only the wait for it).
	BackgroundDigestSeconds float64     `json:"background_digest_seconds,omitempty"`
	Ops                     []OpProfile `json:"ops"`
}

// OpProfile is one op kind's row.
type OpProfile struct {
	Op string `json:"op"`
	// Calls counts timed invocations: a layer's forward, backward and
	// recomputed forward each count one.
	Calls   uint64  `json:"calls"`
	Seconds float64 `json:"seconds"`
	// ForwardSeconds, BackwardSeconds and RecomputeSeconds split Seconds
	// for the layer ops and the loss.
	ForwardSeconds   float64 `json:"forward_seconds,omitempty"`
	BackwardSeconds  float64 `json:"backward_seconds,omitempty"`
	RecomputeSeconds float64 `json:"recompute_seconds,omitempty"`
	// Bytes is an estimate from shapes of the bytes read and written
	// (inputs, outputs, weights, gradients, optimizer state, scratch such
	// as im2col columns) at 4 bytes a value.
	Bytes uint64 `json:"bytes"`
	// FLOPs counts 2 per multiply-add of the products Model.FLOPs counts
	// (Linear, Conv2d, attention's Q·Kᵀ and P·V) in forward, backward and
	// recomputed passes; other ops count 0.
	FLOPs uint64 `json:"flops"`
	// Share is Seconds / Profile.TotalSeconds.
	Share float64 `json:"share"`
	// GFLOPS is FLOPs / Seconds / 1e9; PeakPercent is 100·GFLOPS /
	// Profile.PeakGFLOPS (0 without a peak or FLOPs).
	GFLOPS      float64 `json:"gflops"`
	PeakPercent float64 `json:"peak_percent,omitempty"`
	// GBPerSecond is Bytes / Seconds / 1e9.
	GBPerSecond float64 `json:"gb_per_second"`
}

// Report returns the totals of every step profiled so far.
func (p *Profiler) Report() Profile {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total.profile(p.peak, p.peakName)
}

// LastStep returns the profile of the last step that finished.
func (p *Profiler) LastStep() Profile {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last.profile(p.peak, p.peakName)
}

// Reset forgets every step (the peak stays).
func (p *Profiler) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total, p.last = profTotals{}, profTotals{}
}

// SetPeak sets the peak GEMM rate rows are compared with.
func (p *Profiler) SetPeak(gflops float64, backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.peak, p.peakName = gflops, backend
}

// MeasurePeak measures b's GEMM rate with MeasureGEMM on a 512 x 512 x
// 512 product and sets it as the peak; it returns the rate.
func (p *Profiler) MeasurePeak(b accel.Backend) float64 {
	g := MeasureGEMM(b, 512)
	p.SetPeak(g, b.Name())
	return g
}

// MeasureGEMM returns the GFLOP/s b achieves on an n x n x n GEMM (2·n³
// operations): the best of at least two timed repetitions after a warm-up,
// repeated while under 0.2 s have passed (at most 20). Engine GEMMs are
// smaller and thinner, so rows usually stay below it.
func MeasureGEMM(b accel.Backend, n int) float64 {
	if n < 1 {
		n = 1
	}
	a, bm, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		// Small exact values: no overflow or subnormals to slow a kernel.
		a[i] = float32(i%7-3) / 8
		bm[i] = float32(i%5-2) / 4
	}
	b.Gemm(false, false, n, n, n, a, n, bm, n, c, n) // warm-up: pages, caches, a device's JIT
	best := time.Duration(0)
	start := time.Now()
	for rep := 0; rep < 20 && (rep < 2 || time.Since(start) < 200*time.Millisecond); rep++ {
		t0 := time.Now()
		b.Gemm(false, false, n, n, n, a, n, bm, n, c, n)
		if d := time.Since(t0); best == 0 || d < best {
			best = d
		}
	}
	if best <= 0 {
		best = 1
	}
	return 2 * float64(n) * float64(n) * float64(n) / best.Seconds() / 1e9
}

// WriteTable prints the profile as a table: per op its calls, seconds,
// share of the step time, forward/backward split, GFLOP/s against the
// peak and GB/s.
func (p Profile) WriteTable(w io.Writer) error {
	per := 0.0
	if p.Steps > 0 {
		per = p.StepSeconds / float64(p.Steps)
	}
	head := fmt.Sprintf("profile: %d steps, %.3f s of step time (%.2f ms per step)", p.Steps, p.StepSeconds, 1000*per)
	if p.Devices > 1 {
		head += fmt.Sprintf(", %d devices (device rows sum their time; 100%% = %.3f s)", p.Devices, p.TotalSeconds)
	}
	if p.PeakGFLOPS > 0 {
		head += fmt.Sprintf("; measured GEMM peak %.1f GFLOP/s (%s)", p.PeakGFLOPS, p.PeakBackend)
	}
	if _, err := fmt.Fprintln(w, head); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcalls\tseconds\tshare\tfwd s\tbwd s\trecomp s\tGFLOP\tGFLOP/s\t% peak\tGB\tGB/s\t")
	dash := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	var share float64
	for _, r := range p.Ops {
		share += r.Share
		calls := fmt.Sprint(r.Calls)
		if r.Op == ProfileOther {
			calls = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.1f%%\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Op, calls, r.Seconds, 100*r.Share,
			dash(r.ForwardSeconds, "%.4f"), dash(r.BackwardSeconds, "%.4f"), dash(r.RecomputeSeconds, "%.4f"),
			dash(float64(r.FLOPs)/1e9, "%.3f"), dash(r.GFLOPS, "%.2f"), dash(r.PeakPercent, "%.1f%%"),
			dash(float64(r.Bytes)/1e9, "%.3f"), dash(r.GBPerSecond, "%.2f"))
	}
	fmt.Fprintf(tw, "total\t\t%.4f\t%.1f%%\t\t\t\t\t\t\t\t\t\n", p.TotalSeconds, 100*share)
	if err := tw.Flush(); err != nil {
		return err
	}
	if p.BackgroundDigestSeconds > 0 {
		_, err := fmt.Fprintf(w, "commitment hashing in the background: %.3f s (overlapped with training)\n", p.BackgroundDigestSeconds)
		return err
	}
	return nil
}

// ---------------------------------------------------------------- totals

type profTotals struct {
	steps    uint64
	stepNs   int64
	budgetNs int64
	bgNs     int64
	devices  int
	ops      [numOps][numPhases]opStat
}

func (t *profTotals) add(o *profTotals) {
	t.steps += o.steps
	t.stepNs += o.stepNs
	t.budgetNs += o.budgetNs
	t.bgNs += o.bgNs
	t.devices = max(t.devices, o.devices)
	for k := range t.ops {
		for ph := range t.ops[k] {
			t.ops[k][ph].add(o.ops[k][ph])
		}
	}
}

func (t *profTotals) profile(peak float64, peakName string) Profile {
	p := Profile{Steps: t.steps, StepSeconds: float64(t.stepNs) / 1e9, TotalSeconds: float64(t.budgetNs) / 1e9,
		Devices: t.devices, PeakGFLOPS: peak, PeakBackend: peakName, BackgroundDigestSeconds: float64(t.bgNs) / 1e9,
		Ops: []OpProfile{}}
	var attributed float64
	for k := range t.ops {
		var s opStat
		for _, ph := range t.ops[k] {
			s.add(ph)
		}
		if s.calls == 0 {
			continue
		}
		r := OpProfile{Op: opNames[k], Calls: s.calls, Seconds: float64(s.ns) / 1e9, Bytes: s.bytes, FLOPs: s.flops}
		if k < int(opOptimizer) { // layer ops and the loss have phases
			r.ForwardSeconds = float64(t.ops[k][phForward].ns) / 1e9
			r.BackwardSeconds = float64(t.ops[k][phBackward].ns) / 1e9
			r.RecomputeSeconds = float64(t.ops[k][phRecompute].ns) / 1e9
		}
		attributed += r.Seconds
		p.Ops = append(p.Ops, r)
	}
	sort.SliceStable(p.Ops, func(i, j int) bool { return p.Ops[i].Seconds > p.Ops[j].Seconds })
	if t.steps > 0 {
		// Clock reads around nested calls can make the sum overshoot the
		// wall time by nanoseconds: "other" is never negative.
		p.Ops = append(p.Ops, OpProfile{Op: ProfileOther, Seconds: max(0, p.TotalSeconds-attributed)})
	}
	for i := range p.Ops {
		r := &p.Ops[i]
		if p.TotalSeconds > 0 {
			r.Share = r.Seconds / p.TotalSeconds
		}
		if r.Seconds > 0 {
			r.GFLOPS = float64(r.FLOPs) / r.Seconds / 1e9
			r.GBPerSecond = float64(r.Bytes) / r.Seconds / 1e9
		}
		if peak > 0 && r.GFLOPS > 0 {
			r.PeakPercent = 100 * r.GFLOPS / peak
		}
	}
	return p
}

// ---------------------------------------------------------------- per-trainer state

// SetProfiler attaches p to the trainer's steps (nil detaches it). The
// profiler never changes a bit of the computation.
func (t *Trainer) SetProfiler(p *Profiler) {
	if p == nil {
		t.prof = nil
		return
	}
	r := &profRun{p: p, host: newProfDev()}
	for _, q := range t.Model.params {
		r.stateBytes += 4 * uint64(q.T.Numel())
		if !q.Buffer {
			r.gradBytes += 4 * uint64(q.T.Numel())
		}
	}
	// The update reads the weight and its gradient and writes the weight;
	// each optimizer slot is read and written.
	r.optBytes = r.gradBytes * uint64(3+2*t.Opt.Slots())
	t.prof = r
}

// Profiler returns the attached profiler (nil when none).
func (t *Trainer) Profiler() *Profiler {
	if t.prof == nil {
		return nil
	}
	return t.prof.p
}

// profRun is one trainer's profiling state: an accumulator for the
// trainer's goroutine (whole-batch passes and host work) and one per
// micro-batch device, all merged into the Profiler when a step ends.
type profRun struct {
	p     *Profiler
	host  *profDev
	devs  []*profDev
	start int64
	bgNs  int64
	// bytes of the whole state, the trainable parameters' gradients and an
	// optimizer step
	stateBytes, gradBytes, optBytes uint64
}

// stepBegin starts a step's clock and makes one accumulator per device
// before any device goroutine starts (they only read r.devs).
func (r *profRun) stepBegin(t *Trainer) {
	if t.mp != nil && t.mp.par != nil {
		for len(r.devs) < len(t.mp.par.devices) {
			r.devs = append(r.devs, newProfDev())
		}
	}
	r.host.reset()
	for _, d := range r.devs {
		d.reset()
	}
	r.bgNs = 0
	r.start = profNow()
}

// stepEnd merges the step into the profiler.
func (r *profRun) stepEnd(t *Trainer) {
	wall := profNow() - r.start
	st := profTotals{steps: 1, stepNs: wall, budgetNs: wall, bgNs: r.bgNs, devices: 1}
	st.addDev(r.host)
	if t.mp != nil && t.mp.par != nil {
		st.devices = len(t.mp.par.devices)
		for i, d := range r.devs[:st.devices] {
			busy := st.addDev(d)
			if i > 0 {
				st.budgetNs += busy
			}
		}
	}
	r.p.mu.Lock()
	r.p.total.add(&st)
	r.p.last = st
	r.p.mu.Unlock()
}

// addDev adds a device's step into t and returns its busy nanoseconds.
func (t *profTotals) addDev(d *profDev) int64 {
	var busy uint64
	for k := range d.acc {
		for ph := range d.acc[k] {
			t.ops[k][ph].add(d.acc[k][ph])
			busy += d.acc[k][ph].ns
		}
	}
	return int64(busy)
}

// device returns the accumulator of replica rep of p (nil when not
// profiling).
func (r *profRun) device(p *parallel, rep *replica) *profDev {
	if r == nil {
		return nil
	}
	for i, q := range p.reps {
		if q == rep && i < len(r.devs) {
			return r.devs[i]
		}
	}
	// Not reached (stepBegin made one per device); unprofiled rather than
	// sharing another goroutine's accumulator.
	return nil
}

// begin and end time host work of op on the trainer's goroutine.
func (r *profRun) begin(op opKind, bytes uint64) {
	if r != nil {
		r.host.push(op, phForward, bytes, 0)
	}
}

func (r *profRun) end() { r.hostDev().end() }

// hostDev is the accumulator of the trainer's goroutine (nil when not
// profiling).
func (r *profRun) hostDev() *profDev {
	if r == nil {
		return nil
	}
	return r.host
}

// The byte counts of host work (0 when not profiling).
func (r *profRun) weightBytes() uint64 {
	if r == nil {
		return 0
	}
	return r.stateBytes
}

func (r *profRun) gradsBytes() uint64 {
	if r == nil {
		return 0
	}
	return r.gradBytes
}

func (r *profRun) optimizerBytes() uint64 {
	if r == nil {
		return 0
	}
	return r.optBytes
}

// background records a commitment's hashing time, spent on another
// goroutine while the step ran.
func (r *profRun) background(d time.Duration) {
	if r != nil {
		r.bgNs += int64(d)
	}
}

// batchBytes is the data op's traffic for n samples of ss values: each
// value read and written, each label read and written.
func batchBytes(n, ss int) uint64 { return uint64(n) * (8*uint64(ss) + 16) }

// ---------------------------------------------------------------- per-device accumulator

// profDev accumulates one goroutine's timings: a stack of open frames
// (for exclusive times of nested calls) and per op and phase totals.
type profDev struct {
	acc         [numOps][numPhases]opStat
	stack       []profFrame
	cur         *layerCost // the layer whose Forward runs (for Ctx.record)
	recomputing int        // > 0 inside a recomputed segment's backward entry
	costs       map[Layer]*layerCost
}

type profFrame struct {
	op           opKind
	ph           uint8
	start, child int64
}

func newProfDev() *profDev {
	return &profDev{stack: make([]profFrame, 0, 16), costs: map[Layer]*layerCost{}}
}

func (d *profDev) reset() {
	d.acc = [numOps][numPhases]opStat{}
	d.stack = d.stack[:0]
	d.cur, d.recomputing = nil, 0
}

// begin and end time work of op on the device's goroutine (nothing when
// d is nil).
func (d *profDev) begin(op opKind, bytes uint64) {
	if d != nil {
		d.push(op, phForward, bytes, 0)
	}
}

func (d *profDev) end() {
	if d != nil {
		d.pop()
	}
}

func (d *profDev) push(op opKind, ph uint8, bytes, flops uint64) {
	s := &d.acc[op][ph]
	s.calls++
	s.bytes += bytes
	s.flops += flops
	d.stack = append(d.stack, profFrame{op: op, ph: ph, start: profNow()})
}

// pop closes the innermost frame: its time less its children's goes to
// its op, and its whole time counts as a child of the frame around it.
func (d *profDev) pop() {
	n := len(d.stack) - 1
	if n < 0 {
		return
	}
	f := d.stack[n]
	d.stack = d.stack[:n]
	el := profNow() - f.start
	if self := el - f.child; self > 0 {
		d.acc[f.op][f.ph].ns += uint64(self)
	}
	if n > 0 {
		d.stack[n-1].child += el
	}
}

// recompute marks the backward entry of a recomputed segment (on) and its
// end (off): forward passes in between are recomputation.
func (d *profDev) recompute(on bool) {
	if d == nil {
		return
	}
	if on {
		d.recomputing++
	} else {
		d.recomputing--
	}
}

// forward runs l.Forward, timed when the context profiles. Layers call
// their sub-layers through it (Model.layerForward, Residual).
func (c *Ctx) forward(l Layer, x *Tensor) *Tensor {
	if c.prof == nil {
		return l.Forward(c, x)
	}
	return c.prof.forward(c, l, x)
}

func (d *profDev) forward(c *Ctx, l Layer, x *Tensor) *Tensor {
	lc := d.cost(l, x)
	ph := uint8(phForward)
	if d.recomputing > 0 {
		ph = phRecompute
	}
	d.push(lc.op, ph, lc.fwdBytes, lc.fwdFLOPs)
	prev := d.cur
	d.cur = lc
	y := l.Forward(c, x)
	d.cur = prev
	d.pop()
	return y
}

// lossForward is SoftmaxCrossEntropy, timed as the loss when profiling.
func lossForward(c *Ctx, logits *Tensor, labels []int) (*Tensor, error) {
	if c.prof == nil {
		return SoftmaxCrossEntropy(c, logits, labels)
	}
	return c.prof.loss(c, logits, labels)
}

func (d *profDev) loss(c *Ctx, logits *Tensor, labels []int) (*Tensor, error) {
	v := uint64(logits.Numel())
	lc := &layerCost{op: opLoss, fwdBytes: 4 * (2*v + uint64(len(labels))), bwdBytes: 4 * 2 * v}
	d.push(opLoss, phForward, lc.fwdBytes, 0)
	prev := d.cur
	d.cur = lc
	out, err := SoftmaxCrossEntropy(c, logits, labels)
	d.cur = prev
	d.pop()
	return out, err
}

// wrap returns the backward closure of the layer whose Forward is running,
// timed as that layer's backward.
func (d *profDev) wrap(back func()) func() {
	lc := d.cur
	if lc == nil {
		return back
	}
	return func() {
		d.push(lc.op, phBackward, lc.bwdBytes, lc.bwdFLOPs)
		back()
		d.pop()
	}
}

// layerCost is a layer's kind and its estimated traffic and FLOPs for one
// input shape.
type layerCost struct {
	in                                     []int
	op                                     opKind
	fwdBytes, bwdBytes, fwdFLOPs, bwdFLOPs uint64
}

// cost returns l's cost for input x, computed once per layer and shape.
func (d *profDev) cost(l Layer, x *Tensor) *layerCost {
	if lc := d.costs[l]; lc != nil && equalShape(lc.in, x.Shape) {
		return lc
	}
	lc := layerCostOf(l, x)
	d.costs[l] = lc
	return lc
}

// layerCostOf estimates a layer's bytes (4 per value read or written:
// inputs, outputs, weights and gradients, scratch) and takes its forward
// FLOPs from Model.FLOPs' rules (seqFLOPs); backward costs one product
// per weight gradient and one per input gradient, each the size of the
// forward product.
func layerCostOf(l Layer, x *Tensor) *layerCost {
	lc := &layerCost{in: append([]int(nil), x.Shape...), op: opElementwise}
	if len(x.Shape) == 0 {
		return lc
	}
	n := uint64(x.Shape[0])
	in := uint64(x.Numel())
	outShape, err := l.OutShape(x.Shape[1:])
	out := in
	if err == nil {
		out = n * uint64(numel(outShape))
	}
	var flops uint64
	if _, nested := l.(*Residual); !nested && err == nil {
		if f, err := seqFLOPs([]Layer{l}, x.Shape[1:]); err == nil {
			flops = n * uint64(f)
		}
	}
	xg := uint64(0) // 1 when backward computes the input's gradient
	if x.needGrad {
		xg = 1
	}
	const f4 = 4
	switch l := l.(type) {
	case *Linear:
		lc.op = opGEMM
		w := uint64(l.In*l.Out + l.Out)
		lc.fwdBytes = f4 * (in + w + 2*out) // GEMM, then the bias pass over the output
		lc.bwdBytes = f4 * (in + 2*out + 2*w + xg*(out+w+in))
		lc.fwdFLOPs, lc.bwdFLOPs = flops, flops*(1+xg)
	case *Conv2d:
		lc.op = opConv
		w := uint64(l.Cout * l.Cin * l.K * l.K)
		cols := out / uint64(l.Cout) * uint64(l.Cin*l.K*l.K)
		// im2col (read x, write columns), GEMM (columns, W, output),
		// the layout and bias pass over the output.
		lc.fwdBytes = f4 * (in + 2*cols + w + 3*out)
		// dout transpose, dW GEMM, bias sums; dX: GEMM into the columns
		// and col2im.
		lc.bwdBytes = f4 * (3*out + cols + w + out + xg*(w+out+2*cols+in))
		lc.fwdFLOPs, lc.bwdFLOPs = flops, flops*(1+xg)
	case *Attention:
		lc.op = opAttention
		probs := n * uint64(l.Heads*x.Shape[1]*x.Shape[1])
		// Q, K, V read; scores written, softmaxed in place, read by P·V.
		lc.fwdBytes = f4 * (in + 3*probs + out)
		// dO and V into dP, P and dP into dS, then dQ, dK, dV.
		lc.bwdBytes = f4 * (out + 2*in + 4*probs)
		lc.fwdFLOPs, lc.bwdFLOPs = flops, 2*flops
	case *Norm:
		lc.op = opNorm
		p := uint64(2 * l.C)
		// statistics, normalise (x̂ kept), scale and shift
		lc.fwdBytes = f4 * (3*in + 2*out + p)
		lc.bwdBytes = f4 * (4*in + 2*p)
	case *Pool2d, *MaxPool, *GlobalAvgPool, *TokenPool:
		lc.op = opPool
		lc.fwdBytes = f4 * (in + 2*out) // output and argmax indices
		lc.bwdBytes = f4 * (2*out + 2*in)
	case *Embedding:
		lc.op = opEmbedding
		lc.fwdBytes = f4 * (in + 2*out) // ids, rows read, rows written
		lc.bwdBytes = f4 * (in + 3*out) // dy read, gradient rows read and written
	case *Residual:
		lc.fwdBytes = f4 * 3 * out // two inputs, one output
		lc.bwdBytes = f4 * 4 * out // dy and the mask, two gradients
	default: // activations, dropout, flatten, positions, patch tokens
		lc.fwdBytes = f4 * (in + out)
		lc.bwdBytes = f4 * (2*out + in)
	}
	return lc
}
