package verifier

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pouw/pouwd/worker/workertest"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// TestMetricsJudgeCommitReveal: one verifier judges two proofs (one good,
// one bad), commits and reveals them; the metrics count both verdicts,
// time both replays and both verdict latencies.
func TestMetricsJudgeCommitReveal(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, t.TempDir())
	good, bad := h.proof(t, 1, 5), h.proof(t, 2, 6)
	bad.Gradients = make([]byte, 32)
	for _, p := range []types.Proof{good, bad} {
		h.chain.SetProof(p)
	}
	for range 2 { // judge, then commit
		if err := poll(t, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []types.Proof{good, bad} {
		p.Status = types.PROOF_STATUS_REVEALING
		h.chain.SetProof(p)
	}
	if err := poll(t, v); err != nil {
		t.Fatal(err)
	}
	if n := len(workertest.Msgs[*types.MsgRevealVerdict](h.chain)); n != 2 {
		t.Fatalf("%d reveals", n)
	}
	m := v.Metrics
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pouw_verifier_proofs_checked_total", []string{"verdict", "accept"}, 1},
		{"pouw_verifier_proofs_checked_total", []string{"verdict", "reject"}, 1},
		{"pouw_verifier_replay_duration_seconds", nil, 2},
		{"pouw_verifier_verdicts_revealed_total", nil, 2},
		{"pouw_verifier_verdict_latency_seconds", nil, 2},
		{"pouw_verifier_evaluations_total", nil, 0},
	} {
		if got := workertest.Metric(t, m, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if len(v.assigned) != 0 {
		t.Fatalf("assignment times of settled proofs kept: %v", v.assigned)
	}
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
