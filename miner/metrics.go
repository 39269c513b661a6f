package miner

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Job states and outcomes of the pouw_miner_jobs and
// pouw_miner_jobs_finished_total series.
const (
	stateTraining = "training"
	stateProving  = "proving"
	outcomeDone   = "done"
	outcomeFailed = "failed"
)

// Metrics are the miner's Prometheus series (docs/MONITORING.md,
// pouw_miner_*). Metrics is a prometheus.Collector: register it in the
// process's registry. The counters read Stats at scrape time; what
// Stats does not hold is kept here. The training hot path pays a few
// atomic adds, two clock reads and two histogram observations per step.
type Metrics struct {
	stats *Stats

	jobs      *prometheus.GaugeVec
	finished  *prometheus.CounterVec
	loss      prometheus.Gauge
	stepDur   prometheus.Histogram
	digestDur prometheus.Histogram
	commitDur prometheus.Histogram
	rewards   prometheus.Counter
	rate      rateWindow
	all       []prometheus.Collector

	// training counts the jobs in their training phase; lastStep is when
	// any of them last finished a step (unix nanoseconds), or entered
	// training (LastProgress).
	training atomic.Int64
	lastStep atomic.Int64
}

func newMetrics(s *Stats) *Metrics {
	m := &Metrics{stats: s}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	m.jobs = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "pouw_miner_jobs", Help: "Jobs in each state now (training, proving: drawing the lottery and submitting proofs and the result)."}, []string{"state"})
	m.finished = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pouw_miner_jobs_finished_total", Help: "Jobs finished, by outcome (done: result submitted; failed)."}, []string{"outcome"})
	m.loss = prometheus.NewGauge(prometheus.GaugeOpts{Name: "pouw_miner_loss", Help: "The last training step's loss."})
	m.stepDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pouw_miner_step_duration_seconds", Help: "One training step (forward, backward, optimizer, digest sampling).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)})
	m.digestDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pouw_miner_digest_duration_seconds", Help: "One step's work digest (sampling the gradients and weights, chaining the digest).",
		Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12)})
	m.commitDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pouw_miner_commitment_duration_seconds", Help: "One commitment, from hashing the state at its step to its inclusion on chain.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)})
	m.rewards = prometheus.NewCounter(prometheus.CounterOpts{Name: "pouw_miner_rewards_earned_upouw_total", Help: "Proof rewards paid to this miner since it started (EventProofSettled of its accepted proofs)."})
	for _, st := range []string{stateTraining, stateProving} {
		m.jobs.WithLabelValues(st)
	}
	for _, o := range []string{outcomeDone, outcomeFailed} {
		m.finished.WithLabelValues(o)
	}
	rate := func(name, help string, pick func(stepRates) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return pick(m.rate.rates(time.Now())) })
	}
	m.all = []prometheus.Collector{m.jobs, m.finished, m.loss, m.stepDur, m.digestDur, m.commitDur, m.rewards,
		counter("pouw_miner_steps_total", "Training steps run.", &s.Steps),
		counter("pouw_miner_samples_total", "Training samples processed (batch size x steps).", &s.Samples),
		counter("pouw_miner_tokens_total", "Training tokens processed: samples x sequence length for sequence models (transformer), samples otherwise.", &s.Tokens),
		counter("pouw_miner_commitments_total", "Checkpoint commitments posted.", &s.Commitments),
		counter("pouw_miner_tickets_total", "Lottery tickets drawn.", &s.TicketsDrawn),
		counter("pouw_miner_proofs_won_total", "Winning tickets (proofs to submit).", &s.ProofsWon),
		counter("pouw_miner_proofs_submitted_total", "Proofs included on chain.", &s.ProofsSubmitted),
		rate("pouw_miner_steps_per_second", "Training steps per second over the last minute.", func(r stepRates) float64 { return r.steps }),
		rate("pouw_miner_samples_per_second", "Training samples per second over the last minute.", func(r stepRates) float64 { return r.samples }),
		rate("pouw_miner_tokens_per_second", "Training tokens per second over the last minute.", func(r stepRates) float64 { return r.tokens }),
	}
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all {
		c.Collect(ch)
	}
}

// enter moves a job into a state ("" leaves the gauge alone).
func (m *Metrics) enter(from, to string) {
	if from != "" {
		m.jobs.WithLabelValues(from).Dec()
		if from == stateTraining {
			m.training.Add(-1)
		}
	}
	if to != "" {
		m.jobs.WithLabelValues(to).Inc()
		if to == stateTraining {
			m.lastStep.Store(time.Now().UnixNano())
			m.training.Add(1)
		}
	}
}

// step records one training step that took d, at now.
func (m *Metrics) step(now time.Time, d time.Duration, samples, tokens uint64, loss float32) {
	m.stepDur.Observe(d.Seconds())
	m.loss.Set(float64(loss))
	m.lastStep.Store(now.UnixNano())
	m.rate.add(now, samples, tokens)
}

// LastProgress is when a training job last finished a step (or started
// training), the zero time while no job trains: the progress source of
// the no_progress alert (monitor.HealthConfig.Progress).
func (m *Metrics) LastProgress() time.Time {
	if m.training.Load() <= 0 {
		return time.Time{}
	}
	return time.Unix(0, m.lastStep.Load())
}

// stepRates are per-second rates.
type stepRates struct{ steps, samples, tokens float64 }

// rateWindow keeps the last minute of steps in one-second slots, so the
// rates cost a slot update per step and a sum of 60 slots per scrape.
type rateWindow struct {
	mu    sync.Mutex
	first time.Time // the first step seen (the window is shorter before a minute has passed)
	slots [60]struct {
		sec                    int64
		steps, samples, tokens uint64
	}
}

func (w *rateWindow) add(now time.Time, samples, tokens uint64) {
	sec := now.Unix()
	w.mu.Lock()
	if w.first.IsZero() {
		w.first = now
	}
	s := &w.slots[sec%60]
	if s.sec != sec {
		s.sec, s.steps, s.samples, s.tokens = sec, 0, 0, 0
	}
	s.steps++
	s.samples += samples
	s.tokens += tokens
	w.mu.Unlock()
}

// rates are the rates over the minute before now (the complete seconds
// of the window and the current one).
func (w *rateWindow) rates(now time.Time) stepRates {
	sec := now.Unix()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first.IsZero() {
		return stepRates{}
	}
	var r stepRates
	for _, s := range w.slots {
		if s.sec > sec-60 && s.sec <= sec {
			r.steps += float64(s.steps)
			r.samples += float64(s.samples)
			r.tokens += float64(s.tokens)
		}
	}
	span := min(60, now.Sub(w.first).Seconds())
	span = max(span, 1)
	r.steps /= span
	r.samples /= span
	r.tokens /= span
	return r
}
