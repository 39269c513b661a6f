package verifier

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the verifier's Prometheus series (docs/MONITORING.md,
// pouw_verifier_*). Metrics is a prometheus.Collector: register it in
// the process's registry. The counters read Stats at scrape time.
type Metrics struct {
	stats *Stats

	checked, revealed, evaluations *prometheus.Desc
	replay, latency                prometheus.Histogram
}

func newMetrics(s *Stats) *Metrics {
	return &Metrics{stats: s,
		checked:     prometheus.NewDesc("pouw_verifier_proofs_checked_total", "Proofs replayed and judged, by verdict (accept, reject).", []string{"verdict"}, nil),
		revealed:    prometheus.NewDesc("pouw_verifier_verdicts_revealed_total", "Committed verdicts revealed on chain.", nil, nil),
		evaluations: prometheus.NewDesc("pouw_verifier_evaluations_total", "Held-out evaluations of miners' models submitted.", nil, nil),
		replay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pouw_verifier_replay_duration_seconds",
			Help:    "Replaying one proof: fetching its checkpoint and training from the commitment to the proven step.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pouw_verifier_verdict_latency_seconds",
			Help:    "From the assignment seen (the proof in its commit phase with this verifier among its verifiers) to the verdict revealed.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.checked
	ch <- m.revealed
	ch <- m.evaluations
	m.replay.Describe(ch)
	m.latency.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.stats
	ch <- prometheus.MustNewConstMetric(m.checked, prometheus.CounterValue, float64(s.ProofsAccepted.Load()), "accept")
	ch <- prometheus.MustNewConstMetric(m.checked, prometheus.CounterValue, float64(s.ProofsRejected.Load()), "reject")
	ch <- prometheus.MustNewConstMetric(m.revealed, prometheus.CounterValue, float64(s.Revealed.Load()))
	ch <- prometheus.MustNewConstMetric(m.evaluations, prometheus.CounterValue, float64(s.Evaluations.Load()))
	m.replay.Collect(ch)
	m.latency.Collect(ch)
}

// assignedAt notes when this verifier first saw proof id assigned to it.
func (v *Verifier) assignedAt(id uint64, now time.Time) {
	v.mu.Lock()
	if _, ok := v.assigned[id]; !ok {
		v.assigned[id] = now
	}
	v.mu.Unlock()
}

// observeRevealed records the verdict latency of revealed proofs (those
// whose assignment this run saw: a verdict restored after a restart has
// no start).
func (v *Verifier) observeRevealed(ids []uint64, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range ids {
		if at, ok := v.assigned[id]; ok {
			v.Metrics.latency.Observe(now.Sub(at).Seconds())
		}
	}
}
