package keeper_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	sdkmath "cosmossdk.io/math"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// proofWorld is a world with a claimed job, a funded reward pool and an easy target.
type proofWorld struct {
	*world
	task uint64
}

const rewardPool = 1_000_000

// newProofWorld: each ticket wins with probability 1/odds; a step of the
// tests (101,770 parameters, batch 64) earns 166 tickets, so at odds 400 a
// step wins with probability 166/400.
func newProofWorld(t *testing.T, odds uint64) *proofWorld {
	w := newWorld(t)
	coins := sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(rewardPool)))
	if err := w.bank.MintCoins(w.ctx, faucet, coins); err != nil {
		t.Fatal(err)
	}
	if err := w.bank.SendCoinsFromModuleToModule(w.ctx, faucet, types.RewardPoolName, coins); err != nil {
		t.Fatal(err)
	}
	target := pouw.TargetFromProbability(1, odds)
	if err := w.k.Target.Set(w.ctx, target[:]); err != nil {
		t.Fatal(err)
	}
	id := w.submit(1, 2, 10_000)
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: w.miner1, TaskId: id, JobIndex: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: w.miner2, TaskId: id, JobIndex: 1}); err != nil {
		t.Fatal(err)
	}
	return &proofWorld{world: w, task: id}
}

func weights(step uint64, who string) []byte {
	s := sha256.Sum256([]byte(fmt.Sprintf("weights/%s/%d", who, step)))
	return s[:]
}

// optim is the stand-in optimizer state hash of a miner's step.
func optim(step uint64, who string) []byte {
	s := sha256.Sum256([]byte(fmt.Sprintf("optim/%s/%d", who, step)))
	return s[:]
}

func (pw *proofWorld) commit(miner string, idx uint32, step uint64) {
	pw.t.Helper()
	if _, err := pw.msgs.CommitCheckpoint(pw.ctx, &types.MsgCommitCheckpoint{Miner: miner, TaskId: pw.task, JobIndex: idx, Step: step,
		WeightsHash: weights(step, miner), OptimizerHash: optim(step, miner)}); err != nil {
		pw.t.Fatalf("commit step %d: %v", step, err)
	}
}

// stepMsg builds the proof of a step whose hashes are derived from labels;
// it scans the tickets for a winner against the current target and anchor.
func (pw *proofWorld) stepMsg(miner string, idx uint32, step, commitStep uint64, label string) *types.MsgSubmitProof {
	pw.t.Helper()
	m := &types.MsgSubmitProof{Miner: miner, TaskId: pw.task, JobIndex: idx, Step: step, CommitStep: commitStep, ParamCount: 101_770, DigestVersion: pouw.DigestV2}
	m.WeightsBefore = prevLink(step, commitStep, miner)
	m.Batch = modelHash("batch/" + label)
	m.Gradients = modelHash("grad/" + label)
	m.WeightsAfter = weights(step+1, miner)
	return m
}

func (pw *proofWorld) winning(m *types.MsgSubmitProof) (uint64, bool) {
	c, err := pw.k.Commitments.Get(pw.ctx, collectionsJoin4(pw.task, m.JobIndex, pw.addr(m.Miner), m.CommitStep))
	if err != nil {
		pw.t.Fatal(err)
	}
	anchor, err := pw.k.BlockHashes.Get(pw.ctx, c.Height+1)
	if err != nil {
		pw.t.Fatal(err)
	}
	var parts pouw.StepParts
	copy(parts.Prev[:], m.WeightsBefore)
	copy(parts.Batch[:], m.Batch)
	copy(parts.GradSample[:], m.Gradients)
	copy(parts.WeightSample[:], m.WeightsAfter)
	d, err := pouw.StepDigest(pouw.JobID{TaskID: m.TaskId, JobIndex: m.JobIndex}, pw.addr(m.Miner), m.Step, parts)
	if err != nil {
		pw.t.Fatal(err)
	}
	tb, _ := pw.k.Target.Get(pw.ctx)
	target, _ := pouw.ParseTarget(tb)
	p := pw.params()
	_, j, ok := pouw.NewLottery(pouw.TicketCount(p.OmegaBE9, p.OmegaME9, 64, m.ParamCount, p.MaxTicketsPerStep), target).Draw(d, anchor)
	return j, ok
}

// prevLink is the previous link of a step: at its commitment's step the
// link of the committed stand-in hashes, later a stand-in digest.
func prevLink(step, commitStep uint64, miner string) []byte {
	if step == commitStep {
		var w, o pouw.Hash
		copy(w[:], weights(step, miner))
		copy(o[:], optim(step, miner))
		l := pouw.CommitLink(w, o)
		return l[:]
	}
	s := sha256.Sum256([]byte(fmt.Sprintf("digest/%s/%d", miner, step-1)))
	return s[:]
}

// winningProof returns a proof of some step in [commitStep, commitStep+interval) that wins.
func (pw *proofWorld) winningProof(miner string, idx uint32, commitStep uint64) *types.MsgSubmitProof {
	pw.t.Helper()
	for step := commitStep; step < commitStep+pw.params().CommitInterval; step++ {
		m := pw.stepMsg(miner, idx, step, commitStep, fmt.Sprint(step))
		if j, ok := pw.winning(m); ok {
			m.TicketIndex = j
			return m
		}
	}
	pw.t.Fatal("no winning step in the interval; raise the odds")
	return nil
}

func salt(v string) []byte { s := sha256.Sum256([]byte("salt/" + v)); return s[:16] }

// vote commits then reveals each assigned verifier's verdict.
func (pw *proofWorld) vote(id uint64, verdicts map[string]bool) {
	pw.t.Helper()
	p, err := pw.k.Proofs.Get(pw.ctx, id)
	if err != nil {
		pw.t.Fatal(err)
	}
	var d pouw.Hash
	copy(d[:], p.Digest)
	for v, accept := range verdicts {
		c := pouw.VerdictCommitment(id, pw.addr(v), accept, d, salt(v))
		if _, err := pw.msgs.SubmitVerdict(pw.ctx, &types.MsgSubmitVerdict{Verifier: v, ProofId: id, Commitment: c[:]}); err != nil {
			pw.t.Fatalf("commit verdict of %s: %v", v, err)
		}
	}
	if p, _ = pw.k.Proofs.Get(pw.ctx, id); p.Status != types.PROOF_STATUS_REVEALING {
		for pw.height() <= p.CommitDeadline {
			pw.nextBlock()
		}
	}
	for _, v := range p.Verifiers {
		accept, ok := verdicts[v]
		if !ok {
			continue
		}
		if _, err := pw.msgs.RevealVerdict(pw.ctx, &types.MsgRevealVerdict{Verifier: v, ProofId: id, Accept: accept, Digest: d[:], Salt: salt(v)}); err != nil {
			pw.t.Fatalf("reveal verdict of %s: %v", v, err)
		}
	}
}

func (pw *proofWorld) submitWinning(miner string, idx uint32) uint64 {
	pw.t.Helper()
	pw.commit(miner, idx, 0)
	pw.nextBlock() // the anchor is the next block's hash
	m := pw.winningProof(miner, idx, 0)
	res, err := pw.msgs.SubmitProof(pw.ctx, m)
	if err != nil {
		pw.t.Fatal(err)
	}
	pw.advance(2)
	p, _ := pw.k.Proofs.Get(pw.ctx, res.Id)
	if p.Status != types.PROOF_STATUS_COMMITTING || len(p.Verifiers) != 3 {
		pw.t.Fatalf("proof after assignment: %s with %d verifiers", p.Status, len(p.Verifiers))
	}
	return res.Id
}

func all(vs []string, accept bool) map[string]bool {
	out := map[string]bool{}
	for _, v := range vs {
		out[v] = accept
	}
	return out
}

func TestProofAcceptedPaysReward(t *testing.T) {
	pw := newProofWorld(t, 400)
	before := pw.balance(pw.miner1)
	id := pw.submitWinning(pw.miner1, 0)
	p, _ := pw.k.Proofs.Get(pw.ctx, id)
	pw.vote(id, all(p.Verifiers, true))
	p, _ = pw.k.Proofs.Get(pw.ctx, id)
	if p.Status != types.PROOF_STATUS_ACCEPTED {
		t.Fatalf("proof %s", p.Status)
	}
	if got := pw.balance(pw.miner1) - before; got != pw.params().RewardPerProof.Amount.Int64() {
		t.Fatalf("miner got %d, want the reward %s", got, pw.params().RewardPerProof)
	}
	if n, _ := pw.k.IntervalAccepted.Get(pw.ctx); n != 1 {
		t.Fatalf("interval accepted %d", n)
	}
	for _, v := range p.Verifiers {
		if w := pw.worker(v); w.OpenItems != 0 || w.Bond.Amount.Int64() != 10_000_000 {
			t.Fatalf("verifier %s after an accepted proof: %+v", v, w)
		}
	}
}

// Fabricated gradients, a batch that is not the seeded one, a checkpoint
// that does not match: the chain cannot see those, the replaying verifiers
// can; their quorum of rejects slashes and jails the miner.
func TestRejectedProofSlashesMiner(t *testing.T) {
	pw := newProofWorld(t, 400)
	id := pw.submitWinning(pw.miner1, 0)
	p, _ := pw.k.Proofs.Get(pw.ctx, id)
	bond := pw.worker(pw.miner1).Bond.Amount.Int64()
	votes := all(p.Verifiers, false)
	votes[p.Verifiers[0]] = true // one lazy or lying verifier accepts
	pw.vote(id, votes)
	p, _ = pw.k.Proofs.Get(pw.ctx, id)
	if p.Status != types.PROOF_STATUS_REJECTED || p.Rejects != 2 || p.Accepts != 1 {
		t.Fatalf("proof %s (%d accepts, %d rejects)", p.Status, p.Accepts, p.Rejects)
	}
	m := pw.worker(pw.miner1)
	if want := bond - bond*int64(pw.params().ProofSlashBps)/10_000; m.Bond.Amount.Int64() != want || m.JailedUntil <= pw.height() {
		t.Fatalf("miner after rejected proof: %+v want bond %d", m, want)
	}
	if w := pw.worker(p.Verifiers[0]); w.Bond.Amount.Int64() >= 10_000_000 || w.OutlierCount != 1 {
		t.Fatalf("verifier on the losing side not penalised: %+v", w)
	}
}

func TestSilentVerifiersAndUndecided(t *testing.T) {
	pw := newProofWorld(t, 400)
	id := pw.submitWinning(pw.miner1, 0)
	p, _ := pw.k.Proofs.Get(pw.ctx, id)
	pw.vote(id, map[string]bool{p.Verifiers[0]: true})
	for pw.height() <= p.RevealDeadline {
		pw.nextBlock()
	}
	p, _ = pw.k.Proofs.Get(pw.ctx, id)
	if p.Status != types.PROOF_STATUS_UNDECIDED {
		t.Fatalf("proof with one vote of three: %s", p.Status)
	}
	for _, v := range p.Verifiers[1:] {
		if w := pw.worker(v); w.MissedCount != 1 || w.Bond.Amount.Int64() >= 10_000_000 || w.OpenItems != 0 {
			t.Fatalf("silent verifier %s: %+v", v, w)
		}
	}
}

func TestCommitmentRules(t *testing.T) {
	pw := newProofWorld(t, 400)
	f := pw.fixture
	good := func() *types.MsgCommitCheckpoint {
		return &types.MsgCommitCheckpoint{Miner: pw.miner1, TaskId: pw.task, JobIndex: 0, Step: 0, WeightsHash: weights(0, pw.miner1), OptimizerHash: optim(0, pw.miner1)}
	}
	cases := []struct {
		name string
		want error
		mut  func(m *types.MsgCommitCheckpoint)
	}{
		{"first at step 50", types.ErrInvalidCommitment, func(m *types.MsgCommitCheckpoint) { m.Step = 50 }},
		{"short hash", types.ErrInvalidCommitment, func(m *types.MsgCommitCheckpoint) { m.WeightsHash = []byte{1} }},
		{"no weights hash", types.ErrInvalidCommitment, func(m *types.MsgCommitCheckpoint) { m.WeightsHash = nil }},
		{"not the claimant", types.ErrNotJobMiner, func(m *types.MsgCommitCheckpoint) { m.Miner = pw.miner2 }},
		{"unclaimed job", types.ErrNotJobMiner, func(m *types.MsgCommitCheckpoint) { m.JobIndex = 1 }},
		{"unknown job", types.ErrJobNotFound, func(m *types.MsgCommitCheckpoint) { m.JobIndex = 9 }},
		{"bad miner", types.ErrInvalidAddress, func(m *types.MsgCommitCheckpoint) { m.Miner = "" }},
	}
	for _, c := range cases {
		m := good()
		c.mut(m)
		f.rejects(t, c.name, c.want, func() error { _, err := f.msgs.CommitCheckpoint(f.ctx, m); return err })
	}
	pw.commit(pw.miner1, 0, 0)
	// Re-committing a step, skipping one, or going back: all refused. To get
	// a fresh anchor a miner must train commit_interval more steps.
	for _, step := range []uint64{0, 49, 51, 100} {
		m := good()
		m.Step = step
		f.rejects(t, fmt.Sprint("commit at step ", step, " after step 0"), types.ErrInvalidCommitment, func() error { _, err := f.msgs.CommitCheckpoint(f.ctx, m); return err })
	}
	pw.commit(pw.miner1, 0, 50)
	res, err := pw.query.Commitments(pw.ctx, &types.QueryCommitmentsRequest{TaskId: pw.task, JobIndex: 0})
	if err != nil || len(res.Commitments) != 2 || res.Commitments[1].Step != 50 {
		t.Fatalf("commitments %+v err %v", res, err)
	}
	if c := res.Commitments[1]; !bytes.Equal(c.WeightsHash, weights(50, pw.miner1)) || !bytes.Equal(c.OptimizerHash, optim(50, pw.miner1)) {
		t.Fatalf("stored commitment %+v does not hold both hashes", c)
	}
}

// TestCommitmentBindsOptimizerState: the optimizer state (momentum, Adam
// moments) decides later steps as much as the weights do, so a commitment
// without its 32-byte hash is refused, with an error naming the field, and
// changes nothing; an accepted one stores and emits the hash.
func TestCommitmentBindsOptimizerState(t *testing.T) {
	pw := newProofWorld(t, 400)
	f := pw.fixture
	for _, c := range []struct {
		name string
		hash []byte
	}{{"no optimizer hash", nil}, {"empty optimizer hash", []byte{}}, {"short optimizer hash", make([]byte, 31)}, {"long optimizer hash", make([]byte, 33)}} {
		m := &types.MsgCommitCheckpoint{Miner: pw.miner1, TaskId: pw.task, JobIndex: 0, Step: 0, WeightsHash: weights(0, pw.miner1), OptimizerHash: c.hash}
		var err error
		f.rejects(t, c.name, types.ErrInvalidCommitment, func() error { _, err = f.msgs.CommitCheckpoint(f.ctx, m); return err })
		want := fmt.Sprintf("optimizer_hash must be a 32-byte SHA-256, got %d bytes", len(c.hash))
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q does not say %q", c.name, err, want)
		}
	}
	// Nothing was recorded: the first commitment is still step 0.
	if has, err := pw.k.LastCommit.Has(pw.ctx, collectionsJoin3(pw.task, 0, pw.addr(pw.miner1))); err != nil || has {
		t.Fatalf("a refused commitment left a LastCommit (has %v, err %v)", has, err)
	}
	pw.ctx = pw.ctx.WithEventManager(sdk.NewEventManager())
	pw.commit(pw.miner1, 0, 0)
	c, err := pw.k.Commitments.Get(pw.ctx, collectionsJoin4(pw.task, 0, pw.addr(pw.miner1), 0))
	if err != nil || !bytes.Equal(c.OptimizerHash, optim(0, pw.miner1)) {
		t.Fatalf("stored commitment %+v (err %v) lacks the optimizer hash", c, err)
	}
	found := false
	for _, ev := range pw.ctx.EventManager().Events() {
		if ev.Type != "pouwml.v1.EventCheckpointCommitted" {
			continue
		}
		for _, a := range ev.Attributes {
			if a.Key == "optimizer_hash" && strings.Contains(a.Value, base64.StdEncoding.EncodeToString(optim(0, pw.miner1))) {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("EventCheckpointCommitted does not carry the optimizer hash: %+v", pw.ctx.EventManager().Events())
	}
}

func TestProofRejections(t *testing.T) {
	pw := newProofWorld(t, 400)
	f := pw.fixture
	pw.commit(pw.miner1, 0, 0)
	sameBlock := pw.stepMsg(pw.miner1, 0, 3, 0, "x")
	f.rejects(t, "anchor not yet known", types.ErrAnchorUnavailable, func() error { _, err := f.msgs.SubmitProof(f.ctx, sameBlock); return err })
	pw.nextBlock()
	win := pw.winningProof(pw.miner1, 0, 0)
	// A step of the interval whose one draw loses.
	var losing *types.MsgSubmitProof
	for step := uint64(0); step < pw.params().CommitInterval && losing == nil; step++ {
		if m := pw.stepMsg(pw.miner1, 0, step, 0, fmt.Sprint("lose", step)); !func() bool { _, ok := pw.winning(m); return ok }() {
			losing = m
		}
	}
	if losing == nil {
		t.Fatal("every step of the interval wins; lower the odds")
	}
	cases := []struct {
		name string
		want error
		msg  func() *types.MsgSubmitProof
	}{
		{"losing ticket", types.ErrLosingTicket, func() *types.MsgSubmitProof { return losing }},
		{"another ticket than the draw's", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.TicketIndex++; return &m }},
		{"ticket out of range", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.TicketIndex = 64 + 102; return &m }},
		{"version 1 proof", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.DigestVersion = pouw.DigestV1; return &m }},
		{"no digest version", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.DigestVersion = 0; return &m }},
		{"no commitment at that step", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.CommitStep = 50; return &m }},
		{"step before its commitment", types.ErrInvalidProof, func() *types.MsgSubmitProof {
			m := pw.stepMsg(pw.miner1, 0, 0, 0, "a")
			m.CommitStep, m.Step = 0, 50
			return m
		}},
		{"the chain does not start at the commitment's link", types.ErrInvalidProof, func() *types.MsgSubmitProof {
			m := pw.stepMsg(pw.miner1, 0, 0, 0, "b")
			m.WeightsBefore = prevLink(0, 0, "someone else")
			return m
		}},
		{"short gradient hash", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.Gradients = m.Gradients[:31]; return &m }},
		{"zero parameters", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.ParamCount = 0; return &m }},
		{"too many parameters", types.ErrInvalidProof, func() *types.MsgSubmitProof { m := *win; m.ParamCount = 1 << 41; return &m }},
		// Another miner copying the winning proof: it holds no claim on the
		// job; and on its own job the digest binds it, so the ticket differs.
		{"copied by another miner", types.ErrNotJobMiner, func() *types.MsgSubmitProof { m := *win; m.Miner = pw.miner2; return &m }},
	}
	for _, c := range cases {
		m := c.msg()
		f.rejects(t, c.name, c.want, func() error { _, err := f.msgs.SubmitProof(f.ctx, m); return err })
	}
	if _, err := f.msgs.SubmitProof(f.ctx, win); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "replayed proof", types.ErrDuplicateProof, func() error { _, err := f.msgs.SubmitProof(f.ctx, win); return err })

	// miner2 copies miner1's step hashes onto its own job: another digest.
	pw.commit(pw.miner2, 1, 0)
	pw.nextBlock()
	copied := *win
	copied.Miner, copied.JobIndex = pw.miner2, 1
	copied.WeightsBefore = prevLink(win.Step, 0, pw.miner2)
	var d1, d2 pouw.Hash
	var p1, p2 pouw.StepParts
	copy(p1.Prev[:], win.WeightsBefore)
	copy(p2.Prev[:], copied.WeightsBefore)
	d1, _ = pouw.StepDigest(pouw.JobID{TaskID: pw.task}, pw.addr(pw.miner1), win.Step, p1)
	d2, _ = pouw.StepDigest(pouw.JobID{TaskID: pw.task, JobIndex: 1}, pw.addr(pw.miner2), win.Step, p2)
	if bytes.Equal(d1[:], d2[:]) {
		t.Fatal("copied step hashes give the same digest for another miner")
	}
}

func TestVerdictCommitReveal(t *testing.T) {
	pw := newProofWorld(t, 400)
	f := pw.fixture
	id := pw.submitWinning(pw.miner1, 0)
	p, _ := pw.k.Proofs.Get(pw.ctx, id)
	var d pouw.Hash
	copy(d[:], p.Digest)
	v0, v1 := p.Verifiers[0], p.Verifiers[1]
	c0 := pouw.VerdictCommitment(id, pw.addr(v0), true, d, salt(v0))
	f.rejects(t, "not assigned", types.ErrNotAssigned, func() error {
		_, err := f.msgs.SubmitVerdict(f.ctx, &types.MsgSubmitVerdict{Verifier: pw.miner2, ProofId: id, Commitment: c0[:]})
		return err
	})
	f.rejects(t, "short commitment", types.ErrInvalidVerdict, func() error {
		_, err := f.msgs.SubmitVerdict(f.ctx, &types.MsgSubmitVerdict{Verifier: v0, ProofId: id, Commitment: c0[:8]})
		return err
	})
	f.rejects(t, "unknown proof", types.ErrProofNotFound, func() error {
		_, err := f.msgs.SubmitVerdict(f.ctx, &types.MsgSubmitVerdict{Verifier: v0, ProofId: 99, Commitment: c0[:]})
		return err
	})
	if _, err := f.msgs.SubmitVerdict(f.ctx, &types.MsgSubmitVerdict{Verifier: v0, ProofId: id, Commitment: c0[:]}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "reveal during the commit phase", types.ErrVerdictPhase, func() error {
		_, err := f.msgs.RevealVerdict(f.ctx, &types.MsgRevealVerdict{Verifier: v0, ProofId: id, Accept: true, Digest: d[:], Salt: salt(v0)})
		return err
	})
	// A lazy verifier copies v0's commitment: it cannot open it, because the
	// commitment binds the verifier's address.
	if _, err := f.msgs.SubmitVerdict(f.ctx, &types.MsgSubmitVerdict{Verifier: v1, ProofId: id, Commitment: c0[:]}); err != nil {
		t.Fatal(err)
	}
	f.rejects(t, "second commit", types.ErrAlreadyReported, func() error {
		_, err := f.msgs.SubmitVerdict(f.ctx, &types.MsgSubmitVerdict{Verifier: v0, ProofId: id, Commitment: c0[:]})
		return err
	})
	for pw.height() <= p.CommitDeadline {
		pw.nextBlock()
	}
	f.rejects(t, "copied commitment cannot be opened", types.ErrInvalidVerdict, func() error {
		_, err := f.msgs.RevealVerdict(f.ctx, &types.MsgRevealVerdict{Verifier: v1, ProofId: id, Accept: true, Digest: d[:], Salt: salt(v0)})
		return err
	})
	f.rejects(t, "reveal that does not open the commitment", types.ErrInvalidVerdict, func() error {
		_, err := f.msgs.RevealVerdict(f.ctx, &types.MsgRevealVerdict{Verifier: v0, ProofId: id, Accept: false, Digest: d[:], Salt: salt(v0)})
		return err
	})
	f.rejects(t, "short salt", types.ErrInvalidVerdict, func() error {
		_, err := f.msgs.RevealVerdict(f.ctx, &types.MsgRevealVerdict{Verifier: v0, ProofId: id, Accept: true, Digest: d[:], Salt: []byte("x")})
		return err
	})
	f.rejects(t, "never committed", types.ErrInvalidVerdict, func() error {
		_, err := f.msgs.RevealVerdict(f.ctx, &types.MsgRevealVerdict{Verifier: p.Verifiers[2], ProofId: id, Accept: true, Digest: d[:], Salt: salt(p.Verifiers[2])})
		return err
	})
	if _, err := f.msgs.RevealVerdict(f.ctx, &types.MsgRevealVerdict{Verifier: v0, ProofId: id, Accept: true, Digest: d[:], Salt: salt(v0)}); err != nil {
		t.Fatal(err)
	}
	for pw.height() <= p.RevealDeadline {
		pw.nextBlock()
	}
	p, _ = pw.k.Proofs.Get(pw.ctx, id)
	if p.Status != types.PROOF_STATUS_UNDECIDED || pw.worker(v1).MissedCount != 1 {
		t.Fatalf("proof %s; copier %+v", p.Status, pw.worker(v1))
	}
}

func TestRetarget(t *testing.T) {
	pw := newProofWorld(t, 400)
	pw.setParams(func(p *types.Params) { p.RetargetIntervalBlocks = 10; p.TargetProofsPerInterval = 1 })
	start, _ := pw.k.Target.Get(pw.ctx)
	for pw.height()%10 != 0 {
		pw.nextBlock()
	}
	pw.advance(10) // one full interval with no accepted proof
	eased, _ := pw.k.Target.Get(pw.ctx)
	var s pouw.Hash
	copy(s[:], start)
	if want := pouw.Retarget(s, 0, 1, 4); !bytes.Equal(eased, want[:]) {
		t.Fatalf("after an empty interval target %x, want %x", eased, want)
	}
}

func TestProofGenesisRoundTrip(t *testing.T) {
	pw := newProofWorld(t, 400)
	id := pw.submitWinning(pw.miner1, 0)
	p, _ := pw.k.Proofs.Get(pw.ctx, id)
	var d pouw.Hash
	copy(d[:], p.Digest)
	c := pouw.VerdictCommitment(id, pw.addr(p.Verifiers[0]), true, d, salt("x"))
	if _, err := pw.msgs.SubmitVerdict(pw.ctx, &types.MsgSubmitVerdict{Verifier: p.Verifiers[0], ProofId: id, Commitment: c[:]}); err != nil {
		t.Fatal(err)
	}
	exported, err := pw.k.ExportGenesis(pw.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := exported.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(exported.Proofs) != 1 || len(exported.Verdicts) != 1 || len(exported.Commitments) != 1 || len(exported.BlockHashes) == 0 || len(exported.ProofDeadlines) != 2 {
		t.Fatalf("export misses proof state: %d proofs %d verdicts %d commitments %d hashes %d deadlines",
			len(exported.Proofs), len(exported.Verdicts), len(exported.Commitments), len(exported.BlockHashes), len(exported.ProofDeadlines))
	}
	g := newFixture(t)
	if err := g.k.InitGenesis(g.ctx, *exported); err != nil {
		t.Fatal(err)
	}
	if a, b := storeDump(pw.fixture), storeDump(g); a != b {
		t.Fatal("imported store differs")
	}
}
