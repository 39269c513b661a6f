package report

import (
	"context"
	"maps"
	"math"
	"runtime/metrics"
	"sort"
	"sync"
	"time"

	"github.com/pouw/pouwd/monitor"
)

// DefaultInterval is the resource sampling interval when Options.Interval
// is 0.
const DefaultInterval = 5 * time.Second

// SampleFunc takes one resource reading (monitor.NewReader(...).Read).
type SampleFunc func(ctx context.Context) (monitor.Resources, error)

// Options configure a Recorder.
type Options struct {
	Kind Kind
	// ID names the run (a miner's job id, a CV job's name); optional.
	ID          string
	Config      Config
	Dataset     Dataset
	Environment Environment
	// Sample, when set, is called on a goroutine of its own at the start,
	// every Interval (DefaultInterval when 0) and at Finish; its readings
	// go to the bounded resource history and the summary. A reading that
	// returns an error is counted as failed, and kept when it holds data
	// anyway (a partial reading).
	Sample   SampleFunc
	Interval time.Duration
	// HistoryCap bounds the resource history and the step series
	// (DefaultHistoryCap when 0).
	HistoryCap int
	// Memory's PredictedPeakBytes (ml.EstimateTraining) and, optionally,
	// AvailableBytes; the measured fields are the Recorder's.
	Memory Memory
	// Estimator serves the memory advice rules (ModelEstimator of the
	// run's model); nil uses SpecEstimator, which builds the model again.
	Estimator Estimator
	// StartStep and StartEpoch are the global step and the epochs done
	// when the recording begins (a resumed run's Trainer.StepIndex and
	// Trainer.Epoch); 0 for a fresh run.
	StartStep  uint64
	StartEpoch int
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
}

// Recorder records one training run into a Report. Step, EndEpoch and
// SetProfile may be called from any goroutine; the resource sampler runs
// on its own.
type Recorder struct {
	o   Options
	now func() time.Time

	mu        sync.Mutex
	rep       Report
	started   time.Time
	step      uint64 // the next step's global index
	samples   uint64 // since the recording began
	hist      stepHistogram
	series    *History[StepPoint]
	epoch     epochAcc
	resources *History[monitor.Resources]
	summary   Summarizer
	heapPeak  uint64

	finishOnce sync.Once
	finished   *Report

	cancel context.CancelFunc
	done   chan struct{}
}

// epochAcc accumulates the current epoch.
type epochAcc struct {
	steps, samples uint64
	lossSum        float64
	start          time.Time
}

// Start begins recording: it notes the start time and starts the sampler
// (when o.Sample is set), which takes its first reading at once and runs
// until Finish or until ctx ends.
func Start(ctx context.Context, o Options) *Recorder {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	r := &Recorder{o: o, now: o.Now, step: o.StartStep,
		series: NewHistory[StepPoint](o.HistoryCap), resources: NewHistory[monitor.Resources](o.HistoryCap)}
	r.started = r.now()
	r.epoch.start = r.started
	r.rep = Report{SchemaVersion: SchemaVersion, Kind: o.Kind, ID: o.ID, StartedAt: r.started,
		Config: o.Config, Dataset: o.Dataset, Environment: o.Environment, Memory: o.Memory}
	if o.Sample != nil {
		r.rep.Resources.IntervalSeconds = o.Interval.Seconds()
		ctx, r.cancel = context.WithCancel(ctx)
		r.done = make(chan struct{})
		go r.sampler(ctx)
	}
	return r
}

func (r *Recorder) sampler(ctx context.Context) {
	defer close(r.done)
	// The first reading here, not in Start: a reader may take a while to
	// prime its counters (monitor's first Read measures CPU over 100 ms).
	r.sample(ctx)
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sample(ctx)
		}
	}
}

// heapSample reads the Go heap's object bytes (live and not yet swept)
// without stopping the world.
var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// sample takes one reading into the history and the summary. A reading
// that comes with an error is still kept when it holds data: monitor's
// Reader reads each part on its own and reports the parts that failed.
func (r *Recorder) sample(ctx context.Context) {
	res, err := r.o.Sample(ctx)
	hs := make([]metrics.Sample, len(heapSample))
	copy(hs, heapSample)
	metrics.Read(hs)
	var heap uint64
	if hs[0].Value.Kind() == metrics.KindUint64 {
		heap = hs[0].Value.Uint64()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heapPeak = max(r.heapPeak, heap)
	if err != nil && ctx.Err() == nil { // a reading cut short by Finish is no failure
		r.summary.Failed(err)
	}
	if err != nil && (ctx.Err() != nil || !usable(res)) {
		return
	}
	if res.Time.IsZero() {
		res.Time = r.now()
	}
	if r.rep.Memory.AvailableBytes == 0 && r.summary.s.Readings == 0 && res.MemAvailableBytes > 0 {
		r.rep.Memory.AvailableBytes = res.MemAvailableBytes + res.ProcessRSSBytes
	}
	r.summary.Add(res)
	r.resources.Add(res)
}

// usable reports whether a reading holds data.
func usable(r monitor.Resources) bool {
	return !r.Time.IsZero() || r.MemTotalBytes > 0 || r.ProcessRSSBytes > 0 || len(r.CPUPercent) > 0
}

// Step records one training step: its duration, its loss and the samples
// it trained (the batch size).
func (r *Recorder) Step(d time.Duration, loss float32, samples int) {
	now := r.now()
	sec := d.Seconds()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples += uint64(samples)
	r.hist.add(sec)
	r.series.Add(StepPoint{Step: r.step, T: now.Sub(r.started).Seconds(), Seconds: sec, Loss: Float(loss), Samples: r.samples})
	r.step++
	r.epoch.steps++
	r.epoch.samples += uint64(samples)
	r.epoch.lossSum += float64(loss)
}

// EndEpoch closes the current epoch. The Recorder numbers it (from
// Options.StartEpoch+1) and fills Steps, EndStep, Loss (the mean loss of
// its steps), Seconds and SamplesPerSecond; the caller gives Accuracy and
// HeldOut when it measured them, and Partial for an epoch the run stopped
// inside. With no step recorded since the previous EndEpoch, m's
// Accuracy and HeldOut are added to that epoch instead: a run that
// evaluates once after its loop calls EndEpoch at every epoch boundary
// and once more with the held-out metrics.
func (r *Recorder) EndEpoch(m Epoch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(r.rep.Epochs); r.epoch.steps == 0 && n > 0 {
		last := &r.rep.Epochs[n-1]
		if m.Accuracy != nil {
			last.Accuracy = m.Accuracy
		}
		if len(m.HeldOut) > 0 && last.HeldOut == nil {
			last.HeldOut = map[string]Float{}
		}
		for k, v := range m.HeldOut {
			last.HeldOut[k] = v
		}
		return
	}
	r.endEpoch(m)
}

func (r *Recorder) endEpoch(m Epoch) {
	now := r.now()
	e := r.epoch
	m.Epoch = r.o.StartEpoch + len(r.rep.Epochs) + 1
	m.Steps, m.EndStep = e.steps, r.step
	if e.steps > 0 {
		m.Loss = Float(e.lossSum / float64(e.steps))
	}
	m.Seconds = now.Sub(e.start).Seconds()
	if m.Seconds > 0 {
		m.SamplesPerSecond = float64(e.samples) / m.Seconds
	}
	r.rep.Epochs = append(r.rep.Epochs, m)
	r.epoch = epochAcc{start: now}
}

// SetProfile sets the report's profile rows (the integrator converts the
// engine's profile).
func (r *Recorder) SetProfile(rows []OpProfile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Profile = append([]OpProfile(nil), rows...)
}

// SetPredictedPeak sets Memory.PredictedPeakBytes when it is known only
// after Start.
func (r *Recorder) SetPredictedPeak(bytes uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Memory.PredictedPeakBytes = bytes
}

// Snapshot returns the report as it stands, without advice: what a long
// run writes now and then.
func (r *Recorder) Snapshot() *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.snapshot(r.now())
}

func (r *Recorder) snapshot(now time.Time) *Report {
	rep := r.rep
	rep.Epochs = append([]Epoch{}, r.rep.Epochs...)
	for i, e := range rep.Epochs { // EndEpoch may add to the last one's map later
		if e.HeldOut != nil {
			rep.Epochs[i].HeldOut = maps.Clone(e.HeldOut)
		}
	}
	if r.rep.Profile != nil {
		rep.Profile = append([]OpProfile(nil), r.rep.Profile...)
	}
	rep.FinishedAt = now
	rep.DurationSeconds = now.Sub(r.started).Seconds()
	rep.Steps = r.hist.stats()
	rep.Steps.Samples = r.samples
	if rep.Steps.TotalSeconds > 0 {
		rep.Steps.SamplesPerSecond = float64(r.samples) / rep.Steps.TotalSeconds
	}
	rep.Steps.Series = cloneHistory(r.series)
	rep.Resources.Summary = r.summary.Summary()
	rep.Resources.History = cloneHistory(r.resources)
	rep.Memory.MeasuredPeakRSSBytes = rep.Resources.Summary.PeakRSSBytes
	rep.Memory.MeasuredPeakHeapBytes = r.heapPeak
	if len(rep.Environment.GPUs) == 0 {
		for _, g := range rep.Resources.Summary.GPUs {
			rep.Environment.GPUs = append(rep.Environment.GPUs, GPU{Index: g.Index, Name: g.Name, MemoryTotalBytes: g.MemTotalBytes})
		}
	}
	return &rep
}

func cloneHistory[T any](h *History[T]) History[T] {
	c := *h
	c.entries = append([]T(nil), h.entries...)
	return c
}

// Finish stops the sampler, takes a last reading, closes an epoch the run
// stopped inside (Partial), and returns the report with its advice
// (Advise with Options.Estimator). Later calls return the same report.
func (r *Recorder) Finish() *Report {
	r.finishOnce.Do(r.finish)
	return r.finished
}

func (r *Recorder) finish() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.sample(ctx)
		cancel()
	}
	r.mu.Lock()
	if r.epoch.steps > 0 {
		r.endEpoch(Epoch{Partial: true})
	}
	rep := r.snapshot(r.now())
	r.mu.Unlock()
	est := r.o.Estimator
	if est == nil {
		est = SpecEstimator(rep.Config)
	}
	rep.Advice = Advise(rep, est)
	r.finished = rep
}

// stepHistogram keeps step-time statistics in constant memory: count,
// sum, extremes and a sparse logarithmic histogram whose bucket k holds
// durations in [base·g^k, base·g^(k+1)) with g = 1.01 and base 1 ns.
type stepHistogram struct {
	n        uint64
	sum      float64
	min, max float64
	buckets  map[int]uint64
}

const histBase, histGrowth = 1e-9, 1.01

func (h *stepHistogram) add(s float64) {
	if !(s >= 0) || math.IsInf(s, 1) {
		return
	}
	if h.buckets == nil {
		h.buckets = map[int]uint64{}
		h.min = s
	}
	h.n++
	h.sum += s
	h.min, h.max = min(h.min, s), max(h.max, s)
	k := 0
	if s > histBase {
		k = int(math.Floor(math.Log(s/histBase) / math.Log(histGrowth)))
	}
	h.buckets[k]++
}

// quantile returns the value below which a fraction q of the durations
// lie: the geometric middle of the bucket holding it, clamped to the
// extremes.
func (h *stepHistogram) quantile(keys []int, q float64) float64 {
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for _, k := range keys {
		seen += h.buckets[k]
		if seen >= rank {
			v := histBase * math.Pow(histGrowth, float64(k)+0.5)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

func (h *stepHistogram) stats() StepStats {
	s := StepStats{Count: h.n, TotalSeconds: h.sum, MinSeconds: h.min, MaxSeconds: h.max}
	if h.n == 0 {
		return s
	}
	s.MeanSeconds = h.sum / float64(h.n)
	keys := make([]int, 0, len(h.buckets))
	for k := range h.buckets {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	s.P50Seconds, s.P90Seconds, s.P99Seconds = h.quantile(keys, 0.50), h.quantile(keys, 0.90), h.quantile(keys, 0.99)
	return s
}
