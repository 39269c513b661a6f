package miner

import (
	"context"
	"log/slog"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/gogoproto/proto"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/worker/workertest"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// TestMetricsAfterJob: after an honest job the metrics say what the job
// did: one step (and one step and digest observation) per step, the
// samples of every batch, the commitments, tickets and proofs.
func TestMetricsAfterJob(t *testing.T) {
	r := newRig(t)
	m := r.miner(t)
	if err := r.run(t, m, false); err != nil {
		t.Fatal(err)
	}
	n := float64(len(r.hashes))
	batch := float64(r.tiny.Task.Configs[0].BatchSize)
	mt := m.Metrics
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"pouw_miner_steps_total", nil, n},
		{"pouw_miner_samples_total", nil, n * batch},
		{"pouw_miner_tokens_total", nil, n * batch}, // an MLP: a sample is one token
		{"pouw_miner_step_duration_seconds", nil, n},
		{"pouw_miner_digest_duration_seconds", nil, n},
		{"pouw_miner_commitments_total", nil, float64(len(r.weights))},
		{"pouw_miner_commitment_duration_seconds", nil, float64(len(r.weights))},
		{"pouw_miner_tickets_total", nil, 4 * n},
		{"pouw_miner_proofs_won_total", nil, n},
		{"pouw_miner_proofs_submitted_total", nil, float64(len(workertest.Msgs[*types.MsgSubmitProof](r.chain)))},
		{"pouw_miner_proofs_submitted_total", nil, n},
		{"pouw_miner_jobs_finished_total", []string{"outcome", "done"}, 1},
		{"pouw_miner_jobs_finished_total", []string{"outcome", "failed"}, 0},
		{"pouw_miner_jobs", []string{"state", "training"}, 0},
		{"pouw_miner_jobs", []string{"state", "proving"}, 0},
		{"pouw_miner_rewards_earned_upouw_total", nil, 0},
	} {
		if got := workertest.Metric(t, mt, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if l := workertest.Metric(t, mt, "pouw_miner_loss"); l <= 0 {
		t.Errorf("loss %v", l)
	}
	// The job ran within the last minute.
	if sps := workertest.Metric(t, mt, "pouw_miner_steps_per_second"); sps <= 0 {
		t.Errorf("steps per second %v", sps)
	}
	if got, want := workertest.Metric(t, mt, "pouw_miner_samples_per_second"), batch*workertest.Metric(t, mt, "pouw_miner_steps_per_second"); got < want*0.99 || got > want*1.01 {
		t.Errorf("samples per second %v, expected %v", got, want)
	}
	if !m.LastProgress().IsZero() {
		t.Error("progress expected while no job trains")
	}
	problems, err := testutil.CollectAndLint(mt)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsFailedJob(t *testing.T) {
	r := newRig(t)
	failOn[*types.MsgSubmitResult](r.chain)
	m := r.miner(t)
	if err := r.run(t, m, false); err == nil {
		t.Fatal("job with a refused result succeeded")
	}
	if got := workertest.Metric(t, m.Metrics, "pouw_miner_jobs_finished_total", "outcome", "failed"); got != 1 {
		t.Fatalf("failed jobs %v", got)
	}
	if got := workertest.Metric(t, m.Metrics, "pouw_miner_jobs", "state", "proving"); got != 0 {
		t.Fatalf("a failed job still proving: %v", got)
	}
}

func TestProgressWhileTraining(t *testing.T) {
	var mt = newMetrics(&Stats{})
	if !mt.LastProgress().IsZero() {
		t.Fatal("progress before any job")
	}
	mt.enter("", stateTraining)
	started := mt.LastProgress()
	if started.IsZero() || time.Since(started) > time.Minute {
		t.Fatalf("a job entering training is progress: %v", started)
	}
	later := started.Add(time.Second)
	mt.step(later, time.Millisecond, 4, 4, 0.5)
	if !mt.LastProgress().Equal(later) {
		t.Fatalf("last progress %v, expected the step at %v", mt.LastProgress(), later)
	}
	mt.enter(stateTraining, stateProving)
	if !mt.LastProgress().IsZero() {
		t.Fatal("progress expected of a proving job")
	}
}

func TestRateWindow(t *testing.T) {
	var w rateWindow
	t0 := time.Unix(1_800_000_000, 0)
	for i := range 120 { // two steps a second for two minutes, 8 samples and 80 tokens each
		at := t0.Add(time.Duration(i) * 500 * time.Millisecond)
		w.add(at, 8, 80)
	}
	r := w.rates(t0.Add(60 * time.Second))
	if r.steps < 1.9 || r.steps > 2.1 || r.samples < 8*1.9 || r.tokens < 80*1.9 {
		t.Fatalf("rates %+v, expected 2 steps/s", r)
	}
	// A minute later, nothing.
	if r := w.rates(t0.Add(3 * time.Minute)); r.steps != 0 {
		t.Fatalf("rates after a quiet minute %+v", r)
	}
}

// eventsChain is a test chain that also returns block events
// (BlockEvents), as the daemon's chain client does.
type eventsChain struct {
	*workertest.Chain
	events map[int64][]abci.Event
}

func (c eventsChain) FinalizeBlockEvents(_ context.Context, h int64) ([]abci.Event, error) {
	return c.events[h], nil
}

func typedEvent(t *testing.T, ev proto.Message) abci.Event {
	t.Helper()
	e, err := sdk.TypedEventToEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	return abci.Event(e)
}

// TestRewards: the miner learns its proofs' ids from the tx's events,
// follows them to settlement and counts what the accepted ones paid (the
// settlement block's EventProofSettled; reward_per_proof without block
// events).
func TestRewards(t *testing.T) {
	params := workertest.Params(every)
	params.RewardPerProof = sdk.NewInt64Coin("upouw", 1000)
	base := workertest.NewChain("miner", params)
	chain := eventsChain{Chain: base, events: map[int64][]abci.Event{
		9: {typedEvent(t, &types.EventProofSettled{Id: 1, Status: types.PROOF_STATUS_ACCEPTED, Reward: sdk.NewInt64Coin("upouw", 250)})}}}
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := New(cfg, chain, nil, nil, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	res := &sdk.TxResponse{Events: []abci.Event{
		typedEvent(t, &types.EventProofSubmitted{Id: 1, Miner: base.Addr.String()}),
		{Type: "message", Attributes: []abci.EventAttribute{{Key: "action", Value: "/pouwml.v1.MsgSubmitProof"}}},
		typedEvent(t, &types.EventProofSubmitted{Id: 2, Miner: base.Addr.String()}),
		typedEvent(t, &types.EventProofSubmitted{Id: 3, Miner: base.Addr.String()}),
		typedEvent(t, &types.EventProofSubmitted{Id: 4, Miner: base.Addr.String()}),
	}}
	ids := submittedProofs(res)
	if len(ids) != 4 || ids[0] != 1 || ids[3] != 4 {
		t.Fatalf("proof ids %v", ids)
	}
	m.watchProofs(ids)
	me := base.Addr.String()
	base.SetProof(types.Proof{Id: 1, Miner: me, Status: types.PROOF_STATUS_ACCEPTED, SettledHeight: 9})
	base.SetProof(types.Proof{Id: 2, Miner: me, Status: types.PROOF_STATUS_COMMITTING})
	base.SetProof(types.Proof{Id: 3, Miner: me, Status: types.PROOF_STATUS_REJECTED, SettledHeight: 9})
	base.SetProof(types.Proof{Id: 4, Miner: me, Status: types.PROOF_STATUS_ACCEPTED, SettledHeight: 10}) // no event: nominal
	ctx := context.Background()
	if err := m.checkRewards(ctx); err != nil {
		t.Fatal(err)
	}
	if got := workertest.Metric(t, m.Metrics, "pouw_miner_rewards_earned_upouw_total"); got != 250+1000 {
		t.Fatalf("rewards %v, expected 250 (event) + 1000 (reward_per_proof)", got)
	}
	if len(m.rewards.pending) != 1 || !m.rewards.pending[2] {
		t.Fatalf("still watched: %v, expected proof 2 only", m.rewards.pending)
	}
	base.SetProof(types.Proof{Id: 2, Miner: me, Status: types.PROOF_STATUS_UNDECIDED, SettledHeight: 11})
	if err := m.checkRewards(ctx); err != nil {
		t.Fatal(err)
	}
	if got := workertest.Metric(t, m.Metrics, "pouw_miner_rewards_earned_upouw_total"); got != 1250 || len(m.rewards.pending) != 0 {
		t.Fatalf("after an undecided proof: rewards %v, watched %v", got, m.rewards.pending)
	}
}
