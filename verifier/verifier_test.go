package verifier

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/worker/workertest"
	"github.com/pouw/pouwd/x/pouwml/types"
)

const interval = 4 // commit interval of the tests' chain

// honest is a miner's honest run of job 0 of the tiny task with the real
// engine: a commitment (with its checkpoint in the store) every interval
// steps, and every step's hashes.
type honest struct {
	tiny   *workertest.Tiny
	job    *jobspec.Job
	chain  *workertest.Chain // the verifier's view of the chain
	store  *workertest.Store // the miner's store
	miner  sdk.AccAddress
	steps  []pouw.StepParts // every step's digest inputs
	digest []pouw.Hash      // and digest
	model  []byte           // the final model (ml.SaveModel)
	params uint64
}

func newHonest(t *testing.T) *honest {
	t.Helper()
	tiny, err := workertest.NewTiny()
	if err != nil {
		t.Fatal(err)
	}
	chain := workertest.NewChain("verifier", workertest.Params(interval))
	chain.AddTask(tiny.Task, tiny.Record, tiny.Jobs())
	h := &honest{tiny: tiny, chain: chain, store: workertest.NewStore(), miner: workertest.NewChain("miner", types.Params{}).Addr}
	if h.job, err = jobspec.Prepare(&tiny.Task, 0, tiny.Data); err != nil {
		t.Fatal(err)
	}
	model, err := h.job.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(model, h.job.Train, h.job.Config, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	tr.SampledSteps()
	dc := jobspec.NewDigestChain(pouw.JobID{TaskID: tiny.Task.Id}, h.miner)
	for !tr.Done() {
		if s := tr.StepIndex(); s%interval == 0 {
			var buf bytes.Buffer
			if err := tr.SaveCheckpoint(&buf); err != nil {
				t.Fatal(err)
			}
			wh, oh := ml.WeightsHash(tr.Model), ml.OptimizerHash(tr.Opt)
			dc.Commit(wh, oh)
			if err := h.store.PutOwnCheckpoint(p2p.CkptKey{TaskID: tiny.Task.Id, WeightsHash: wh, OptimizerHash: oh}, buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			chain.Mine(1)
			chain.AddCommitment(types.Commitment{TaskId: tiny.Task.Id, Miner: h.miner.String(), Step: s, WeightsHash: wh[:], OptimizerHash: oh[:],
				Height: chain.Height()})
		}
		if _, err := tr.Step(func(s ml.StepInfo) error {
			p, d, err := dc.Step(s)
			h.steps, h.digest = append(h.steps, p), append(h.digest, d)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	h.params = uint64(tr.Model.NumParams())
	var mb bytes.Buffer
	if err := ml.SaveModel(&mb, tr.Model); err != nil {
		t.Fatal(err)
	}
	h.model = mb.Bytes()
	chain.Mine(1)
	return h
}

// proof is the honest miner's proof of step (its first winning ticket:
// the tests' target lets every ticket win), assigned to the verifier.
func (h *honest) proof(t *testing.T, id, step uint64) types.Proof {
	t.Helper()
	hs := h.steps[step]
	d, err := pouw.StepDigest(pouw.JobID{TaskID: h.tiny.Task.Id}, h.miner, step, hs)
	if err != nil || d != h.digest[step] {
		t.Fatalf("step %d: digest %x, the chain's %x (%v)", step, d, h.digest[step], err)
	}
	anchor := workertest.Anchor(int64(step/interval) + 2)
	val := pouw.TicketValueV2(d, anchor)
	return types.Proof{Id: id, TaskId: h.tiny.Task.Id, Miner: h.miner.String(), Step: step, CommitStep: step - step%interval,
		WeightsBefore: hs.Prev[:], Batch: hs.Batch[:], Gradients: hs.GradSample[:], WeightsAfter: hs.WeightSample[:],
		ParamCount: h.params, TicketIndex: 0, Anchor: anchor, Digest: d[:], Value: val[:], Status: types.PROOF_STATUS_COMMITTING,
		Verifiers: []string{h.chain.Addr.String()}, DigestVersion: pouw.DigestV2}
}

func (h *honest) verifier(t *testing.T, stateDir string) (*Verifier, *workertest.Fetcher) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.StateDir, cfg.FetchWait = stateDir, time.Millisecond
	f := &workertest.Fetcher{Store: h.store}
	v, err := New(cfg, h.chain, h.tiny.Datasets, f, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return v, f
}

func TestCheckHonestProof(t *testing.T) {
	h := newHonest(t)
	v, f := h.verifier(t, "")
	for _, step := range []uint64{1, 6, uint64(len(h.steps) - 1)} { // from the seeded start; from fetched checkpoints
		p := h.proof(t, 1, step)
		vd, err := v.Check(context.Background(), p)
		if err != nil || !vd.Accept || vd.Reason != "" || !bytes.Equal(vd.Digest[:], p.Digest) {
			t.Fatalf("step %d: %+v %v", step, vd, err)
		}
	}
	if f.Fetches() != 2 {
		t.Fatalf("%d fetches, expected one per proof past the first commitment", f.Fetches())
	}
}

func TestCheckRejects(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, "")
	flip := func(b []byte) []byte { b = append([]byte(nil), b...); b[0] ^= 1; return b }
	for _, tc := range []struct {
		name   string
		step   uint64
		change func(p *types.Proof)
		reason string
		digest bool // the verdict carries the recomputed digest
	}{
		{"fabricated gradient sample", 5, func(p *types.Proof) { p.Gradients = flip(p.Gradients) }, "gradient sample recomputed", true},
		{"fabricated weight sample", 6, func(p *types.Proof) { p.WeightsAfter = flip(p.WeightsAfter) }, "weight sample of W_i+1 recomputed", true},
		{"previous link of another chain", 7, func(p *types.Proof) { p.WeightsBefore = flip(p.WeightsBefore) }, "previous link recomputed", true},
		{"other batch", 2, func(p *types.Proof) { p.Batch = flip(p.Batch) }, "H(B_i) recomputed", true},
		{"bad digest", 5, func(p *types.Proof) { p.Digest = flip(p.Digest) }, "digest recomputed", true},
		{"another miner's commitment", 5, func(p *types.Proof) { p.Miner = h.chain.Addr.String() }, "no commitment at step 4", false},
		{"param count", 5, func(p *types.Proof) { p.ParamCount++ }, "param count", true},
		{"ticket out of range", 5, func(p *types.Proof) { p.TicketIndex = 8 }, "ticket 8 of 4", true},
		{"lottery value", 5, func(p *types.Proof) { p.Value = flip(p.Value) }, "lottery value", true},
		{"no commitment", 5, func(p *types.Proof) { p.CommitStep = 3 }, "no commitment at step 3", false},
		{"step past the job", 5, func(p *types.Proof) { p.Step, p.CommitStep = 400, 0 }, "past the job's", false},
	} {
		p := h.proof(t, 1, tc.step)
		tc.change(&p)
		vd, err := v.Check(context.Background(), p)
		if err != nil || vd.Accept || !strings.Contains(vd.Reason, tc.reason) || (vd.Digest != pouw.Hash{}) != tc.digest {
			t.Errorf("%s: %+v %v (expected a reject with %q)", tc.name, vd, err, tc.reason)
		}
	}
}

// TestCheckVersion1: a proof stored before version 2 is not judged (an
// error, not a reject that would slash a miner for an upgrade).
func TestCheckVersion1(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, "")
	p := h.proof(t, 1, 5)
	p.DigestVersion = 0
	if vd, err := v.Check(context.Background(), p); err == nil || !strings.Contains(err.Error(), "digest version 0") {
		t.Fatalf("a version 1 proof: %+v %v", vd, err)
	}
}

func TestCheckCheckpointNotTheCommitted(t *testing.T) {
	h := newHonest(t)
	v, f := h.verifier(t, "")
	p := h.proof(t, 1, 9) // commitment at step 8
	cms, _ := h.chain.Commitments(context.Background(), &types.QueryCommitmentsRequest{TaskId: h.tiny.Task.Id})
	var key, other p2p.CkptKey
	for _, c := range cms.Commitments {
		k, err := p2p.CommitmentKey(&c)
		if err != nil {
			t.Fatal(err)
		}
		switch c.Step {
		case 8:
			key = k
		case 4:
			other = k
		}
	}
	// The miner serves another checkpoint (step 4's) under step 8's key.
	b, err := h.store.Checkpoint(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.PutOwnCheckpoint(key, b); err != nil {
		t.Fatal(err)
	}
	vd, err := v.Check(context.Background(), p)
	if err != nil || vd.Accept || !strings.Contains(vd.Reason, "does not match the commitment") {
		t.Fatalf("%+v %v", vd, err)
	}
	if f.Fetches() != 1 {
		t.Fatalf("%d fetches: a mismatch must not be asked again", f.Fetches())
	}

	// A step-0 commitment that is not the seeded initial state.
	h2 := newHonest(t)
	v2, _ := h2.verifier(t, "")
	p0 := h2.proof(t, 1, 1)
	p0.Miner = h2.chain.Addr.String()
	h2.chain.AddCommitment(types.Commitment{TaskId: h2.tiny.Task.Id, Miner: p0.Miner, Step: 0, WeightsHash: key.WeightsHash[:], OptimizerHash: key.OptimizerHash[:]})
	if vd, err := v2.Check(context.Background(), p0); err != nil || vd.Accept || !strings.Contains(vd.Reason, "not the seeded initial state") {
		t.Fatalf("step 0: %+v %v", vd, err)
	}
}

func TestCheckCheckpointNotServed(t *testing.T) {
	h := newHonest(t)
	v, f := h.verifier(t, "")
	f.Err = errors.New("connection refused")
	vd, err := v.Check(context.Background(), h.proof(t, 1, 5))
	if err != nil || vd.Accept || !strings.Contains(vd.Reason, "not served") {
		t.Fatalf("%+v %v", vd, err)
	}
	if f.Fetches() != v.cfg.FetchAttempts {
		t.Fatalf("%d fetches, expected %d attempts", f.Fetches(), v.cfg.FetchAttempts)
	}
	// Ended while waiting: an error, not a verdict.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Check(ctx, h.proof(t, 1, 5)); err == nil {
		t.Fatal("a cancelled check gave a verdict")
	}
}

func TestCheckChainErrors(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, "")
	for _, method := range []string{"Params", "Task", "Dataset", "Commitments"} {
		h.chain.Fail(func(m string, _ sdk.Msg) error {
			if m == method {
				return workertest.ErrInjected
			}
			return nil
		})
		if vd, err := v.Check(context.Background(), h.proof(t, 1, 5)); !errors.Is(err, workertest.ErrInjected) {
			t.Errorf("%s failing: %+v %v (expected the error, not a verdict)", method, vd, err)
		}
	}
	h.chain.Fail(nil)
	// A dataset this verifier does not hold: no verdict either.
	v.datasets = workertest.Tiny{}.Datasets
	if _, err := v.Check(context.Background(), h.proof(t, 1, 5)); err == nil {
		t.Fatal("checked without the dataset")
	}
}

// poll runs one poll of proofs and waits for the replays it started.
func poll(t *testing.T, v *Verifier) error {
	t.Helper()
	var wg sync.WaitGroup
	err := v.pollProofs(context.Background(), &wg)
	wg.Wait()
	return err
}

func TestCommitThenRevealAcrossRestart(t *testing.T) {
	h := newHonest(t)
	dir := t.TempDir()
	v, _ := h.verifier(t, dir)
	good, bad := h.proof(t, 1, 5), h.proof(t, 2, 6)
	bad.Gradients = make([]byte, 32)
	other := h.proof(t, 3, 7)
	other.Verifiers = []string{h.miner.String()} // not this verifier's
	for _, p := range []types.Proof{good, bad, other} {
		h.chain.SetProof(p)
	}
	if err := poll(t, v); err != nil { // discovers and judges
		t.Fatal(err)
	}
	if v.nextProof != 4 || v.watch[3] {
		t.Fatalf("next proof %d, watching %v", v.nextProof, v.watch)
	}
	if err := poll(t, v); err != nil { // commits
		t.Fatal(err)
	}
	commits := workertest.Msgs[*types.MsgSubmitVerdict](h.chain)
	if len(commits) != 2 || v.Stats.ProofsAccepted.Load() != 1 || v.Stats.ProofsRejected.Load() != 1 {
		t.Fatalf("commits %v, stats %d/%d", commits, v.Stats.ProofsAccepted.Load(), v.Stats.ProofsRejected.Load())
	}
	if err := poll(t, v); err != nil || len(workertest.Msgs[*types.MsgSubmitVerdict](h.chain)) != 2 {
		t.Fatalf("committed again: %v", err)
	}

	// Restart: the new verifier reveals what the first committed.
	v2, _ := h.verifier(t, dir)
	for _, p := range []types.Proof{good, bad} {
		p.Status = types.PROOF_STATUS_REVEALING
		h.chain.SetProof(p)
	}
	if err := poll(t, v2); err != nil {
		t.Fatal(err)
	}
	reveals := workertest.Msgs[*types.MsgRevealVerdict](h.chain)
	if len(reveals) != 2 {
		t.Fatalf("reveals %v", reveals)
	}
	for _, r := range reveals {
		var c []byte
		for _, m := range commits {
			if m.ProofId == r.ProofId {
				c = m.Commitment
			}
		}
		var d pouw.Hash
		copy(d[:], r.Digest)
		if got := pouw.VerdictCommitment(r.ProofId, h.chain.Addr, r.Accept, d, r.Salt); !bytes.Equal(got[:], c) {
			t.Fatalf("proof %d: revealed verdict is not the committed one", r.ProofId)
		}
		if r.Accept != (r.ProofId == good.Id) || (r.Accept && !bytes.Equal(r.Digest, good.Digest)) {
			t.Fatalf("proof %d: revealed accept=%v", r.ProofId, r.Accept)
		}
	}
	if len(v2.watch) != 0 || len(v2.verdicts) != 0 {
		t.Fatalf("revealed proofs still held: %v %v", v2.watch, v2.verdicts)
	}
	// Nothing left on disk to reveal again.
	v3, _ := h.verifier(t, dir)
	if len(v3.verdicts) != 0 {
		t.Fatalf("revealed verdicts restored: %v", v3.verdicts)
	}
}

// Regression (docs/FAULTS.md, row 4): a verifier killed after its verdict
// commit tx landed but before it learned so used to restart with nothing on
// disk (the salt was saved only after the commit), re-judge the proof with
// a new salt, fail to commit again, never reveal and be slashed for a
// verdict it had committed. The verdict is now on disk before the tx goes
// out, and a restarted verifier reveals it.
func TestCommitLandedThenCrash(t *testing.T) {
	h := newHonest(t)
	dir, crashed := t.TempDir(), t.TempDir()
	v, _ := h.verifier(t, dir)
	p := h.proof(t, 1, 5)
	h.chain.SetProof(p)
	if err := poll(t, v); err != nil { // discovers and judges
		t.Fatal(err)
	}
	// The commit tx lands; the disk as it was when it went out is what a
	// kill -9 at that moment leaves.
	h.chain.Fail(func(method string, msg sdk.Msg) error {
		if _, ok := msg.(*types.MsgSubmitVerdict); ok && method == "Broadcast" {
			files, _ := os.ReadDir(dir)
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, f.Name()))
				if err == nil {
					err = os.WriteFile(filepath.Join(crashed, f.Name()), b, 0o600)
				}
				if err != nil {
					t.Error(err)
				}
			}
		}
		return nil
	})
	if err := poll(t, v); err != nil { // commits
		t.Fatal(err)
	}
	h.chain.Fail(nil)
	commits := workertest.Msgs[*types.MsgSubmitVerdict](h.chain)
	if len(commits) != 1 {
		t.Fatalf("commits %v", commits)
	}

	// Restarted from the disk of the kill: still in the commit phase it
	// sends the same commitment again (refused or not, no error), then
	// reveals it once the proof is REVEALING.
	v2, _ := h.verifier(t, crashed)
	if err := poll(t, v2); err != nil {
		t.Fatal(err)
	}
	for _, c := range workertest.Msgs[*types.MsgSubmitVerdict](h.chain)[1:] {
		if !bytes.Equal(c.Commitment, commits[0].Commitment) {
			t.Fatal("the restarted verifier committed another verdict")
		}
	}
	p.Status = types.PROOF_STATUS_REVEALING
	h.chain.SetProof(p)
	if err := poll(t, v2); err != nil {
		t.Fatal(err)
	}
	reveals := workertest.Msgs[*types.MsgRevealVerdict](h.chain)
	if len(reveals) != 1 {
		t.Fatalf("the restarted verifier revealed %d verdicts, want 1", len(reveals))
	}
	r := reveals[0]
	var d pouw.Hash
	copy(d[:], r.Digest)
	if got := pouw.VerdictCommitment(r.ProofId, h.chain.Addr, r.Accept, d, r.Salt); !bytes.Equal(got[:], commits[0].Commitment) || !r.Accept {
		t.Fatal("the revealed verdict does not open the committed one")
	}
	if len(v2.verdicts) != 0 {
		t.Fatalf("revealed verdict still held: %v", v2.verdicts)
	}
}

func TestCommitTooLate(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, "")
	p := h.proof(t, 1, 5)
	h.chain.SetProof(p)
	if err := v.judge(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	p.Status = types.PROOF_STATUS_REVEALING // the commit phase ended before the verdict went out
	h.chain.SetProof(p)
	if err := v.commitVerdicts(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(workertest.Msgs[*types.MsgSubmitVerdict](h.chain)) != 0 || len(v.verdicts) != 0 {
		t.Fatal("a late verdict was committed or kept")
	}
}

// TestJudgeSkipsClosedWindow: a proof whose commit window closed while
// it waited for a worker is not replayed (no verdict, no replay counted).
func TestJudgeSkipsClosedWindow(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, "")
	p := h.proof(t, 1, 5)
	late := p
	late.Status = types.PROOF_STATUS_REVEALING
	h.chain.SetProof(late)
	if err := v.judge(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if len(v.verdicts) != 0 || v.Stats.ProofsAccepted.Load()+v.Stats.ProofsRejected.Load() != 0 {
		t.Fatalf("a proof past its commit window was replayed: verdicts %v", v.verdicts)
	}
	h.chain.SetProof(p)
	if err := v.judge(context.Background(), p); err != nil || len(v.verdicts) != 1 {
		t.Fatalf("a proof in its commit window: %v, verdicts %v", err, v.verdicts)
	}
}

func TestPollProofsErrors(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, "")
	h.chain.SetProof(h.proof(t, 1, 5))
	// A query error is not the end of the list: the poll fails and the
	// next one starts from the same id.
	var proofDown atomic.Bool
	proofDown.Store(true)
	h.chain.Fail(func(m string, msg sdk.Msg) error {
		if m == "Proof" && proofDown.Load() {
			return status.Error(codes.Unavailable, "node restarting")
		}
		if _, ok := msg.(*types.MsgSubmitVerdict); ok { // every verdict commit refused
			return workertest.ErrInjected
		}
		return nil
	})
	if err := poll(t, v); status.Code(errors.Unwrap(err)) != codes.Unavailable || v.nextProof != 1 {
		t.Fatalf("poll: %v, next proof %d", err, v.nextProof)
	}
	proofDown.Store(false)
	if err := poll(t, v); (err != nil && !errors.Is(err, workertest.ErrInjected)) || v.nextProof != 2 {
		t.Fatalf("poll: %v, next proof %d", err, v.nextProof)
	}
	// The commit tx refused: the verdict stays pending. The first refusal
	// fails the poll; a refused resend does not (the first tx may have
	// landed), and which poll sent first depends on when the replay ended.
	if err := poll(t, v); (err != nil && !errors.Is(err, workertest.ErrInjected)) || v.verdicts[1] == nil || v.verdicts[1].committed || !v.verdicts[1].sent {
		t.Fatalf("refused commit: %v", err)
	}
	h.chain.Fail(nil)
	if err := poll(t, v); err != nil || !v.verdicts[1].committed {
		t.Fatalf("commit after the refusal: %v", err)
	}
}

func TestMeasureAndEvaluate(t *testing.T) {
	h := newHonest(t)
	v, f := h.verifier(t, "")
	hash, err := h.store.PutModel(h.model)
	if err != nil {
		t.Fatal(err)
	}
	j := types.Job{TaskId: h.tiny.Task.Id, Index: 0, Miner: h.miner.String(), Status: types.JOB_STATUS_ASSIGNED, ModelHash: hash,
		Verifiers: []string{h.chain.Addr.String()}}
	ck, err := ml.ParseCheckpoint(h.model)
	if err != nil {
		t.Fatal(err)
	}
	model, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	want, err := jobspec.HeldOutMetrics(model, h.job, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	got, m, err := v.Measure(context.Background(), j)
	if err != nil || !bytes.Equal(got, hash) || m != want {
		t.Fatalf("measure: %x %+v %v, want %+v", got, m, err, want)
	}

	// A model that is not served, or not the job's architecture: measured
	// under the zero hash.
	zero := make([]byte, 32)
	f.Err = errors.New("gone")
	if got, _, err := v.Measure(context.Background(), j); err != nil || !bytes.Equal(got, zero) {
		t.Fatalf("not served: %x %v", got, err)
	}
	f.Err = nil
	other, err := ml.NewModel("mlp:4-5-3", 1)
	if err != nil {
		t.Fatal(err)
	}
	var ob bytes.Buffer
	if err := ml.SaveModel(&ob, other); err != nil {
		t.Fatal(err)
	}
	oh, _ := h.store.PutModel(ob.Bytes())
	jo := j
	jo.ModelHash = oh
	if got, _, err := v.Measure(context.Background(), jo); err != nil || !bytes.Equal(got, zero) {
		t.Fatalf("other architecture: %x %v", got, err)
	}
	jm := j
	jm.ModelHash = bytes.Repeat([]byte{1}, 32) // a hash the miner serves nothing under
	if got, _, err := v.Measure(context.Background(), jm); err != nil || !bytes.Equal(got, zero) {
		t.Fatalf("unknown hash: %x %v", got, err)
	}

	// evaluate submits the measurement; a refused tx is an error (retried).
	if err := v.evaluate(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	ev := workertest.Msgs[*types.MsgSubmitEvaluation](h.chain)
	if len(ev) != 1 || !bytes.Equal(ev[0].ModelHash, hash) || ev[0].Metrics != want || v.Stats.Evaluations.Load() != 1 {
		t.Fatalf("evaluations %v", ev)
	}
	if got := workertest.Metric(t, v.Metrics, "pouw_verifier_evaluations_total"); got != 1 {
		t.Fatalf("pouw_verifier_evaluations_total = %v after one evaluation", got)
	}
	h.chain.Fail(func(string, sdk.Msg) error { return workertest.ErrInjected })
	if err := v.evaluate(context.Background(), j); !errors.Is(err, workertest.ErrInjected) {
		t.Fatalf("refused evaluation: %v", err)
	}
	h.chain.Fail(nil)

	// pollJobs starts an evaluation of an assigned job once.
	h.chain.SetJob(j)
	for range 2 {
		var wg sync.WaitGroup
		if err := v.pollJobs(context.Background(), &wg); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
	if n := len(workertest.Msgs[*types.MsgSubmitEvaluation](h.chain)); n != 2 {
		t.Fatalf("%d evaluations, expected one more from pollJobs", n)
	}
}

func TestReplayStepRange(t *testing.T) {
	h := newHonest(t)
	model, _ := h.job.NewModel()
	tr, err := ml.NewTrainer(model, h.job.Train, h.job.Config, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	dc := jobspec.NewDigestChain(pouw.JobID{TaskID: h.tiny.Task.Id}, h.miner)
	dc.Commit(ml.WeightsHash(tr.Model), ml.OptimizerHash(tr.Opt))
	got, d, err := ReplayStep(context.Background(), tr, dc, 3)
	if err != nil || got != h.steps[3] || d != h.digest[3] {
		t.Fatalf("replay of step 3: %v", err)
	}
	if _, _, err := ReplayStep(context.Background(), tr, dc, 2); err == nil {
		t.Fatal("replayed a step behind the trainer")
	}
}

// TestRefusedCommitDoesNotHoldUpReveals: a poll whose verdict commit tx is
// refused still sends its reveals first (they have the shorter window), and
// returns the refusal.
func TestRefusedCommitDoesNotHoldUpReveals(t *testing.T) {
	h := newHonest(t)
	v, _ := h.verifier(t, t.TempDir())
	first := h.proof(t, 1, 5)
	h.chain.SetProof(first)
	for range 2 { // judge, then commit
		if err := poll(t, v); err != nil {
			t.Fatal(err)
		}
	}
	if c := workertest.Msgs[*types.MsgSubmitVerdict](h.chain); len(c) != 1 {
		t.Fatalf("commits %v", c)
	}
	// Proof 2's commit is refused from here on; it is judged while proof 1
	// is still in its commit phase.
	h.chain.Fail(func(method string, msg sdk.Msg) error {
		if _, ok := msg.(*types.MsgSubmitVerdict); ok {
			return workertest.ErrInjected
		}
		return nil
	})
	h.chain.SetProof(h.proof(t, 2, 6))
	if err := poll(t, v); err != nil { // judges proof 2 (its verdict is committed by the next poll)
		t.Fatal(err)
	}
	first.Status = types.PROOF_STATUS_REVEALING
	h.chain.SetProof(first)
	err := poll(t, v)
	h.chain.Fail(nil)
	if !errors.Is(err, workertest.ErrInjected) {
		t.Fatalf("poll with the commit refused: %v, expected the refusal", err)
	}
	reveals := workertest.Msgs[*types.MsgRevealVerdict](h.chain)
	if len(reveals) != 1 || reveals[0].ProofId != 1 {
		t.Fatalf("reveals %v: proof 1's reveal was held up by proof 2's refused commit", reveals)
	}
}

// countingDatasets counts the loads it serves.
type countingDatasets struct {
	worker.Datasets
	n atomic.Int32
}

func (c *countingDatasets) Dataset(ctx context.Context, rec *types.Dataset) (*data.Dataset, error) {
	c.n.Add(1)
	return c.Datasets.Dataset(ctx, rec)
}

// TestPrefetchDataset: a live task's dataset is loaded once, when the task
// is first seen, before any proof of it reaches this verifier.
func TestPrefetchDataset(t *testing.T) {
	h := newHonest(t)
	ds := &countingDatasets{Datasets: h.tiny.Datasets}
	v, err := New(DefaultConfig(), h.chain, ds, &workertest.Fetcher{Store: h.store}, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		var wg sync.WaitGroup
		if err := v.pollJobs(context.Background(), &wg); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if got := ds.n.Load(); got != 1 {
			t.Fatalf("after poll %d: %d dataset loads, want 1", i+1, got)
		}
	}
}
