package report

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/monitor"
)

// Finding is one piece of advice and the numbers behind it.
type Finding struct {
	// Rule names the rule (the Rules' names).
	Rule string `json:"rule"`
	// Severity is "warning" (the run is at risk or wastes much) or
	// "info" (a likely gain).
	Severity string `json:"severity"`
	Message  string `json:"message"`
	// Suggestion is the flag change to try, when there is one.
	Suggestion string     `json:"suggestion,omitempty"`
	Evidence   []Evidence `json:"evidence"`
}

// Evidence is one number a finding rests on: Value, and when it is what
// triggered the rule, the comparison Op ("<", "<=", ">", ">=") against
// Threshold that held. Evidence without a threshold is context.
type Evidence struct {
	Name      string   `json:"name"`
	Value     float64  `json:"value"`
	Unit      string   `json:"unit,omitempty"`
	Op        string   `json:"op,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
}

// Severities.
const (
	SeverityInfo    = "info"
	SeverityWarning = "warning"
)

// Thresholds are the rules' limits.
type Thresholds struct {
	// small-batch: a CPU run with several threads whose samples per
	// thread per step (per-device batch / threads) are below
	// MinSamplesPerThread while each thread's share of a step's work
	// (3 x forward FLOPs x samples per thread) is below MinFLOPPerThread,
	// or whose machine-wide CPU use is below MinCPUUse of what its
	// threads could use (threads / cores).
	MinSamplesPerThread float64
	MinFLOPPerThread    float64
	MinCPUUse           float64
	// data-loading: the data-loading ops' share of the profiled time
	// above MaxDataShare.
	MaxDataShare float64
	// larger-batch: the largest batch (the current one times a power of
	// two, leaving at least MinStepsPerEpoch steps in an epoch of the
	// training samples) whose step still fits in MemoryFraction of the
	// available memory is at least BatchGrowth times the current one.
	BatchGrowth      float64
	MemoryFraction   float64
	MinStepsPerEpoch float64
	// recompute: the peak (measured RSS, or the prediction) at or above
	// RecomputeAt of the available memory.
	RecomputeAt float64
	// bf16: an fp32 run on GPUs whose GEMM ops take at least GEMMShare
	// of the profiled time, or whose model has at least LargeModelParams
	// parameters.
	GEMMShare        float64
	LargeModelParams int
	// gpu-underutilised: a GPU's mean utilisation below MinGPUUtil
	// percent.
	MinGPUUtil float64
	// MinReadings is the resource readings a rule on readings needs.
	MinReadings int
}

// DefaultThresholds are the limits Advise uses.
var DefaultThresholds = Thresholds{
	MinSamplesPerThread: 8,
	MinFLOPPerThread:    1e8, // ~1-10 ms of one core: above it, a step's fork and join is noise
	MinCPUUse:           0.5,
	MaxDataShare:        0.10,
	BatchGrowth:         2,
	MinStepsPerEpoch:    16,
	MemoryFraction:      accel.DefaultBudgetFraction,
	RecomputeAt:         0.9,
	GEMMShare:           0.5,
	LargeModelParams:    10_000_000,
	MinGPUUtil:          50,
	MinReadings:         2,
}

// Rule is one advice rule: a small function of the report (and the
// memory estimator, which may be nil) returning a finding or nil.
type Rule struct {
	Name  string
	Check func(r *Report, est Estimator, th Thresholds) *Finding
}

// Rules are the advice rules, in the order Advise reports them.
var Rules = []Rule{
	{"threads-over-cores", threadsOverCores},
	{"small-batch", smallBatch},
	{"data-loading", dataLoading},
	{"recompute", recompute},
	{"larger-batch", largerBatch},
	{"bf16", bf16},
	{"gpu-underutilised", gpuUnderutilised},
}

// Advise runs every rule with DefaultThresholds.
func Advise(r *Report, est Estimator) []Finding { return AdviseWith(r, est, DefaultThresholds) }

// AdviseWith runs every rule with th; it never returns nil (an empty list
// means nothing to advise).
func AdviseWith(r *Report, est Estimator, th Thresholds) []Finding {
	out := []Finding{}
	for _, rule := range Rules {
		if f := rule.Check(r, est, th); f != nil {
			f.Rule = rule.Name
			out = append(out, *f)
		}
	}
	return out
}

// trig is evidence that triggered a rule; ctxEv is context.
func trig(name string, v float64, unit, op string, threshold float64) Evidence {
	return Evidence{Name: name, Value: v, Unit: unit, Op: op, Threshold: &threshold}
}

func ctxEv(name string, v float64, unit string) Evidence {
	return Evidence{Name: name, Value: v, Unit: unit}
}

// gpuRun reports whether the run's devices are GPUs (the CUDA backend or
// its emulator).
func gpuRun(c Config) bool { return strings.HasPrefix(c.Backend, "cuda") }

// cores is the machine's logical cores as the report knows them.
func cores(r *Report) int {
	if r.Environment.CPUCores > 0 {
		return r.Environment.CPUCores
	}
	return r.Resources.Summary.Cores
}

// deviceBatch is the samples one device's pass holds: the micro-batch,
// or the batch.
func deviceBatch(c Config) int {
	if c.MicroBatch > 0 {
		return c.MicroBatch
	}
	return c.Batch
}

func threadsOverCores(r *Report, _ Estimator, _ Thresholds) *Finding {
	c := r.Config
	n := cores(r)
	total := max(c.Threads, 1) * max(c.Devices, 1)
	if n == 0 || c.Threads == 0 || total <= n {
		return nil
	}
	per := max(n/max(c.Devices, 1), 1)
	return &Finding{Severity: SeverityWarning,
		Message: fmt.Sprintf("%d device(s) x %d threads = %d threads on %d logical cores: the extra threads only take turns (and the kernels' fork and join costs more); the thread count never changes the result",
			max(c.Devices, 1), c.Threads, total, n),
		Suggestion: fmt.Sprintf("--threads %d", per),
		Evidence:   []Evidence{trig("threads (all devices)", float64(total), "", ">", float64(n))}}
}

func smallBatch(r *Report, _ Estimator, th Thresholds) *Finding {
	c := r.Config
	if gpuRun(c) || c.Threads < 2 || c.Batch == 0 {
		return nil
	}
	b := deviceBatch(c)
	spt := float64(b) / float64(c.Threads)
	var ev []Evidence
	few := false
	if spt < th.MinSamplesPerThread {
		work := 3 * float64(c.FLOPsPerSample) * spt
		if c.FLOPsPerSample == 0 {
			ev = append(ev, trig("samples per thread per step", spt, "", "<", th.MinSamplesPerThread))
			few = true
		} else if work < th.MinFLOPPerThread {
			ev = append(ev, trig("samples per thread per step", spt, "", "<", th.MinSamplesPerThread),
				trig("work per thread per step", work, "FLOP", "<", th.MinFLOPPerThread))
			few = true
		}
	}
	n := cores(r)
	s := r.Resources.Summary
	idle := false
	if n > 0 && s.Readings >= th.MinReadings {
		could := 100 * math.Min(1, float64(c.Threads*max(c.Devices, 1))/float64(n))
		if s.MeanCPUPercent < th.MinCPUUse*could {
			ev = append(ev, trig("mean CPU use", s.MeanCPUPercent, "%", "<", th.MinCPUUse*could),
				ctxEv("CPU use the threads could reach", could, "%"))
			idle = true
		}
	}
	if !few && !idle {
		return nil
	}
	ev = append(ev, ctxEv("batch per device", float64(b), ""), ctxEv("threads per device", float64(c.Threads), ""))
	if !few {
		// Enough samples per thread, yet the cores idle: the threads wait
		// on something else (data, memory bandwidth); fewer of them lose
		// nothing.
		busy := max(1, int(math.Round(s.MeanCPUPercent/100*float64(n)/float64(max(c.Devices, 1)))))
		f := &Finding{Severity: SeverityInfo,
			Message: fmt.Sprintf("%d threads per device keep only %.0f%% of the machine's %d cores busy (%.1f cores' worth): they wait on something other than arithmetic (data loading, memory bandwidth, a serial part of the step); a profile shows which, and fewer threads free the cores for other work (the thread count never changes the result)",
				c.Threads, s.MeanCPUPercent, n, s.MeanCPUPercent/100*float64(n)),
			Evidence: ev}
		if busy < c.Threads {
			f.Suggestion = fmt.Sprintf("--threads %d", busy)
		}
		return f
	}
	want := b
	for float64(want)/float64(c.Threads) < th.MinSamplesPerThread {
		want *= 2
	}
	sugg := fmt.Sprintf("--batch %d", want)
	if c.MicroBatch > 0 {
		sugg = fmt.Sprintf("--micro-batch %d --batch %d", want, c.Batch/c.MicroBatch*want)
	}
	sugg += fmt.Sprintf(", or --threads %d", max(1, int(float64(b)/th.MinSamplesPerThread)))
	return &Finding{Severity: SeverityInfo,
		Message: fmt.Sprintf("%d threads share %d samples per step (%.1f each): each thread gets too little work per GEMM to keep the cores busy; a larger batch (part of the result: retune the learning rate) or fewer threads (never changes the result) uses them better",
			c.Threads, b, spt),
		Suggestion: sugg, Evidence: ev}
}

// DataOps are the profile op names (or name parts, split at . / : _ - and
// spaces) that count as data loading; the engine's profiler names its
// batch gather "data" (ml.ProfileData).
var DataOps = []string{"data", "dataload", "dataloader", "load", "loading", "gather", "input", "fetch", "batchload"}

// GEMMOps are the profile op name parts that count as GEMM-bound work:
// the engine profiler's "gemm" (Linear layers), "conv" (im2col and GEMM)
// and "attention" (Q·Kᵀ and P·V), and other profilers' usual names.
var GEMMOps = []string{"gemm", "matmul", "linear", "conv", "conv2d", "im2col", "attention"}

func opMatches(op string, names []string) bool {
	for _, part := range strings.FieldsFunc(strings.ToLower(op), func(r rune) bool { return strings.ContainsRune("./:_- ", r) }) {
		if slices.Contains(names, part) {
			return true
		}
	}
	return false
}

// profileShare is the share of the profiled time of the ops matching
// names, from the rows' Share (or their seconds when no row has one), and
// the matching ops' names.
func profileShare(rows []OpProfile, names []string) (float64, []string) {
	var share, secs, total float64
	var ops []string
	hasShare := false
	for _, p := range rows {
		total += p.Seconds
		hasShare = hasShare || p.Share > 0
		if opMatches(p.Op, names) {
			share += p.Share
			secs += p.Seconds
			ops = append(ops, p.Op)
		}
	}
	if !hasShare {
		if total == 0 {
			return 0, ops
		}
		share = secs / total
	}
	return share, ops
}

func dataLoading(r *Report, _ Estimator, th Thresholds) *Finding {
	share, ops := profileShare(r.Profile, DataOps)
	if share <= th.MaxDataShare {
		return nil
	}
	return &Finding{Severity: SeverityWarning,
		Message: fmt.Sprintf("data loading (%s) takes %.0f%% of the profiled time: the step waits for its batch; keep the dataset in memory (a memory budget above its canonical file's size, so it is not read lazily from disk), put it on a faster disk, or use larger batches so each gather does more",
			strings.Join(ops, ", "), 100*share),
		Evidence: []Evidence{trig("data-loading share of the profiled time", 100*share, "%", ">", 100*th.MaxDataShare)}}
}

// measuredOrPredicted is the run's peak: the measured RSS, or the
// prediction when nothing was measured.
func measuredOrPredicted(m Memory) (uint64, string) {
	if m.MeasuredPeakRSSBytes > 0 {
		return m.MeasuredPeakRSSBytes, "measured peak RSS"
	}
	return m.PredictedPeakBytes, "predicted peak"
}

func recompute(r *Report, est Estimator, th Thresholds) *Finding {
	m, c := r.Memory, r.Config
	peak, what := measuredOrPredicted(m)
	if m.AvailableBytes == 0 || peak == 0 {
		return nil
	}
	ratio := float64(peak) / float64(m.AvailableBytes)
	if ratio < th.RecomputeAt {
		return nil
	}
	f := &Finding{Severity: SeverityWarning,
		Evidence: []Evidence{trig(what+" / available memory", ratio, "", ">=", th.RecomputeAt),
			ctxEv(what, float64(peak), "bytes"), ctxEv("available memory", float64(m.AvailableBytes), "bytes")}}
	base := fmt.Sprintf("the step's peak (%s, %s) is %.0f%% of the memory available to the run (%s): it is near swapping or being killed",
		what, fmtBytes(peak), 100*ratio, fmtBytes(m.AvailableBytes))
	// Find the recomputation segment with the lowest predicted peak.
	bestN, bestPeak, cur := 0, uint64(0), uint64(0)
	if est != nil && c.Batch > 0 {
		var err error
		if cur, err = est.PeakBytes(c.Batch, c.Recompute); err == nil {
			for _, n := range []int{1, 2, 3, 4, 6, 8, 12, 16} {
				p, err := est.PeakBytes(c.Batch, n)
				if err != nil {
					break // no residual blocks to recompute
				}
				if n != c.Recompute && (bestN == 0 || p < bestPeak) {
					bestN, bestPeak = n, p
				}
			}
		}
	}
	if bestN > 0 && bestPeak < cur {
		f.Message = fmt.Sprintf("%s; recomputing activations every %d residual blocks (gradient checkpointing, same result bits) is predicted to save %s per step (%s -> %s predicted)",
			base, bestN, fmtBytes(cur-bestPeak), fmtBytes(cur), fmtBytes(bestPeak))
		f.Suggestion = fmt.Sprintf("--recompute %d", bestN)
		f.Evidence = append(f.Evidence, ctxEv("predicted saving with --recompute "+fmt.Sprint(bestN), float64(cur-bestPeak), "bytes"))
		return f
	}
	f.Message = base + "; the model has no residual blocks to recompute (or recomputation saves nothing more): micro-batches (part of the result) or a smaller batch lower the activations"
	if c.Batch > 1 {
		f.Suggestion = fmt.Sprintf("--micro-batch %d", largestDivisorBelow(c.Batch, deviceBatch(c)))
	}
	return f
}

// largestDivisorBelow is the largest divisor of n below below (1 at
// least).
func largestDivisorBelow(n, below int) int {
	for d := below - 1; d > 1; d-- {
		if n%d == 0 {
			return d
		}
	}
	return 1
}

func largerBatch(r *Report, est Estimator, th Thresholds) *Finding {
	m, c := r.Memory, r.Config
	if est == nil || m.AvailableBytes == 0 || c.Batch == 0 {
		return nil
	}
	cur, err := est.PeakBytes(c.Batch, c.Recompute)
	if err != nil {
		return nil
	}
	// A larger batch adds its prediction's increase to what the run
	// measured, twice: Go's collector at its default GOGC lets the heap
	// carry as much garbage as it holds live memory. Without a measure,
	// the base is the prediction, doubled for the same reason.
	base := 2 * cur
	if m.MeasuredPeakRSSBytes > 0 {
		base = m.MeasuredPeakRSSBytes
	}
	limit := th.MemoryFraction * float64(m.AvailableBytes)
	need := func(p uint64) float64 { return float64(base) + 2*(float64(p)-float64(cur)) }
	best, bestPeak := 0, uint64(0)
	for k := 1; k <= 12; k++ {
		b := c.Batch << k
		if r.Dataset.Samples > 0 && float64(b)*th.MinStepsPerEpoch > float64(r.Dataset.Samples) {
			break
		}
		p, err := est.PeakBytes(b, c.Recompute)
		if err != nil || need(p) > limit {
			break
		}
		best, bestPeak = b, p
	}
	if float64(best) < th.BatchGrowth*float64(c.Batch) {
		return nil
	}
	return &Finding{Severity: SeverityInfo,
		Message: fmt.Sprintf("memory allows batch %d (predicted step peak %s, about %s with the run's other memory and the collector's headroom, within %.0f%% of the %s available): larger batches use the cores better; the batch size is part of the result, so retune the learning rate (about linearly with the batch)",
			best, fmtBytes(bestPeak), fmtBytes(uint64(need(bestPeak))), 100*th.MemoryFraction, fmtBytes(m.AvailableBytes)),
		Suggestion: fmt.Sprintf("--batch %d", best),
		Evidence: []Evidence{trig("largest batch that fits", float64(best), "", ">=", th.BatchGrowth*float64(c.Batch)),
			ctxEv("current batch", float64(c.Batch), ""),
			ctxEv("predicted step peak at that batch", float64(bestPeak), "bytes"),
			ctxEv("memory limit (available x fraction)", limit, "bytes")}}
}

func bf16(r *Report, est Estimator, th Thresholds) *Finding {
	c := r.Config
	// Only a device backend gains: the CPU engine keeps half values in
	// float32 slices (rounding costs time and the weights' half copies
	// add memory), and every GPU the CUDA backend runs on (compute
	// capability 8.0 or newer) has bf16 units.
	if c.Precision != "" && c.Precision != ml.PrecisionFP32 || !gpuRun(c) {
		return nil
	}
	share, ops := profileShare(r.Profile, GEMMOps)
	gemmBound := share >= th.GEMMShare
	large := c.Params >= th.LargeModelParams
	if !gemmBound && !large {
		return nil
	}
	var ev []Evidence
	var why []string
	if gemmBound {
		ev = append(ev, trig("GEMM share of the profiled time", 100*share, "%", ">=", 100*th.GEMMShare))
		why = append(why, fmt.Sprintf("%.0f%% of its profiled time in GEMMs (%s)", 100*share, strings.Join(ops, ", ")))
	}
	if large {
		ev = append(ev, trig("parameters", float64(c.Params), "", ">=", float64(th.LargeModelParams)))
		why = append(why, fmt.Sprintf("%s parameters", siCount(float64(c.Params), "")))
	}
	msg := fmt.Sprintf("an fp32 GPU run with %s: bf16 keeps activations and the weights' forward copies in 2 bytes on the device", strings.Join(why, " and "))
	if est != nil && deviceBatch(c) > 0 {
		a32, err1 := est.ActivationBytes(deviceBatch(c), ml.PrecisionFP32)
		a16, err2 := est.ActivationBytes(deviceBatch(c), ml.PrecisionBF16)
		if err1 == nil && err2 == nil {
			msg += fmt.Sprintf(" (activations held for backward %s -> %s per pass)", fmtBytes(a32), fmtBytes(a16))
			ev = append(ev, ctxEv("activations per pass, fp32", float64(a32), "bytes"), ctxEv("activations per pass, bf16", float64(a16), "bytes"))
		}
	}
	msg += ", which frees device memory for larger batches and halves the traffic of bandwidth-bound kernels; the canonical GEMMs still accumulate in fp32, and the precision is part of the result (other bits than an fp32 run)"
	return &Finding{Severity: SeverityInfo, Message: msg, Suggestion: "--precision bf16", Evidence: ev}
}

func gpuUnderutilised(r *Report, _ Estimator, th Thresholds) *Finding {
	var idle []string
	var ev []Evidence
	for _, g := range r.Resources.Summary.GPUs {
		if g.Readings < th.MinReadings || g.MeanUtilPercent >= th.MinGPUUtil {
			continue
		}
		idle = append(idle, fmt.Sprintf("gpu%d (%s) %.0f%%", g.Index, g.Name, g.MeanUtilPercent))
		ev = append(ev, trig(fmt.Sprintf("gpu%d mean utilisation", g.Index), g.MeanUtilPercent, "%", "<", th.MinGPUUtil))
	}
	if len(idle) == 0 {
		return nil
	}
	if !gpuRun(r.Config) {
		return &Finding{Severity: SeverityInfo,
			Message:    fmt.Sprintf("this run trained on %s while GPUs sat idle (%s): a CUDA build trains on them with the same result bits", orDash(r.Config.Backend), strings.Join(idle, ", ")),
			Suggestion: fmt.Sprintf("--device gpu:%d", len(idle)),
			Evidence:   ev}
	}
	return &Finding{Severity: SeverityWarning,
		Message:  fmt.Sprintf("GPU utilisation is low (%s): the GPU waits for the host (data loading, small kernels, host-side work); larger batches or micro-batches give each kernel more work, and a profile shows where the host spends the step", strings.Join(idle, ", ")),
		Evidence: ev}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtBytes prints b as the monitoring does (monitor.Bytes: B, KiB, MiB,
// GiB, ... with one decimal).
func fmtBytes(b uint64) string { return monitor.Bytes(b) }
