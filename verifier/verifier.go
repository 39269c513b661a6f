package verifier

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Config configures a Verifier. The shared fields (Poll, PeerID,
// Multiaddrs, Devices, Logger; StateDir, when set, keeps committed
// verdicts with their salts on disk, so a restarted verifier still reveals
// them) are worker.Config's.
type Config struct {
	worker.Config
	// Workers bounds concurrent replays and evaluations (default 2).
	Workers int
	// FetchAttempts per checkpoint or model (default 3), FetchWait apart.
	FetchAttempts int
	FetchWait     time.Duration
	// BusyWait is how long a miner that refuses as busy (p2p.IsBusy: it is
	// sending its checkpoints or models to other verifiers, a few GB each
	// for a large model) is asked again, FetchWait apart, before the
	// refusal counts as a failed attempt (default 5 minutes).
	BusyWait time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Config: worker.DefaultConfig(), Workers: 2, FetchAttempts: 3, FetchWait: time.Second, BusyWait: 5 * time.Minute}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.Workers < 1 || c.FetchAttempts < 1 || c.FetchWait < 0 || c.BusyWait < 0 {
		return fmt.Errorf("verifier: workers %d, fetch attempts %d, fetch wait %s, busy wait %s: expected >= 1, >= 1, >= 0, >= 0",
			c.Workers, c.FetchAttempts, c.FetchWait, c.BusyWait)
	}
	return c.Config.Validate("verifier")
}

// Stats count the verifier's work.
type Stats struct {
	ProofsAccepted, ProofsRejected, Revealed, Evaluations atomic.Uint64
}

// Verdict is the outcome of replaying a proof (Check).
type Verdict struct {
	// Accept is whether the proof holds: every recomputed hash, the digest,
	// the parameter count, the ticket and the lottery value match.
	Accept bool
	// Digest is the recomputed work digest; zero when the replay did not
	// get that far (no commitment, no checkpoint, a step out of range).
	Digest pouw.Hash
	// Reason says why a rejected proof does not hold (empty on accept).
	Reason string
}

func accept(d pouw.Hash) Verdict { return Verdict{Accept: true, Digest: d} }

func reject(d pouw.Hash, format string, args ...any) Verdict {
	return Verdict{Digest: d, Reason: fmt.Sprintf(format, args...)}
}

// ballot is a verdict on its way to the chain: committed as
// pouw.VerdictCommitment(proof, verifier, accept, digest, salt), then
// revealed with the same accept, digest and salt. sent: a commit tx
// carrying it was broadcast, so its commitment may be on chain even where
// committed is false (the broadcast failed after the tx went out, or the
// process died before it learned the outcome); such a ballot is still
// revealed, on its own, in case it landed.
type ballot struct {
	committed bool
	sent      bool
	commit    pouw.Hash
	accept    bool
	digest    pouw.Hash
	salt      []byte
}

// Verifier is the daemon.
type Verifier struct {
	cfg      Config
	chain    Chain
	datasets worker.Datasets
	fetch    Fetcher
	backend  accel.Backend
	log      *slog.Logger
	Stats    Stats
	// Metrics are the Prometheus series (register them in the process's
	// registry); they read Stats.
	Metrics *Metrics

	mu        sync.Mutex
	nextProof uint64
	watch     map[uint64]bool      // proofs not yet assigned or settled
	verdicts  map[uint64]*ballot   // committed, not yet revealed
	busy      map[string]bool      // work in progress
	done      map[string]bool      // work finished (evaluations, commits)
	judges    *gate                // proof replays, earliest commit deadline first
	evals     *gate                // model evaluations and dataset loads: never starved by a flood of proofs
	assigned  map[uint64]time.Time // when each proof was first seen assigned here (verdict latency)
	jobs      jobspec.Preparer     // the folds of the jobs in flight, gathered once
}

// New builds a verifier.
func New(cfg Config, chain Chain, datasets worker.Datasets, fetch Fetcher, backend accel.Backend) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	v := &Verifier{cfg: cfg, chain: chain, datasets: datasets, fetch: fetch, backend: backend,
		log: cfg.Logger.With("verifier", chain.Address().String()), nextProof: 1, watch: map[uint64]bool{},
		verdicts: map[uint64]*ballot{}, busy: map[string]bool{}, done: map[string]bool{}, judges: newGate(cfg.Workers), evals: newGate(1),
		assigned: map[uint64]time.Time{}}
	v.Metrics = newMetrics(&v.Stats)
	if err := v.load(); err != nil {
		return nil, fmt.Errorf("verifier: state %s: %w", cfg.StateDir, err)
	}
	return v, nil
}

// Run bonds, then works assignments until ctx ends.
func (v *Verifier) Run(ctx context.Context) error {
	if err := worker.EnsureBonded(ctx, v.chain, types.WORKER_ROLE_VERIFIER, v.cfg.Config, v.log); err != nil {
		return fmt.Errorf("verifier: bond: %w", err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		worker.KeepBonded(ctx, v.chain, types.WORKER_ROLE_VERIFIER, v.cfg.TopUpEvery, v.log)
	}()
	t := time.NewTicker(v.cfg.Poll)
	defer t.Stop()
	for {
		if err := v.pollProofs(ctx, &wg); err != nil && ctx.Err() == nil {
			v.log.Warn("proofs", "err", err)
		}
		if err := v.pollJobs(ctx, &wg); err != nil && ctx.Err() == nil {
			v.log.Warn("jobs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// start runs fn once gate g admits it (earliest deadline first) unless
// work key is busy or done.
func (v *Verifier) start(ctx context.Context, wg *sync.WaitGroup, g *gate, deadline int64, key string, fn func(context.Context) error) {
	v.mu.Lock()
	if v.busy[key] || v.done[key] {
		v.mu.Unlock()
		return
	}
	v.busy[key] = true
	v.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if g.enter(ctx, deadline) != nil {
			v.mu.Lock()
			delete(v.busy, key)
			v.mu.Unlock()
			return
		}
		err := fn(ctx)
		g.leave()
		v.mu.Lock()
		delete(v.busy, key)
		if err == nil {
			v.done[key] = true
		}
		v.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			v.log.Warn("work failed; will retry", "work", key, "err", err)
		}
	}()
}

// pollProofs discovers new proofs by id, judges those this verifier is
// among the verifiers of, commits the verdicts judged and reveals those
// whose proof is REVEALING.
func (v *Verifier) pollProofs(ctx context.Context, wg *sync.WaitGroup) error {
	// Discover new proofs by id: ids are dense, so the first one the chain
	// does not have (NotFound) is the end of the list; any other error is
	// an error, and the next poll starts again from the same id.
	for {
		_, err := v.chain.Proof(ctx, &types.QueryProofRequest{Id: v.nextProof})
		if status.Code(err) == codes.NotFound {
			break
		}
		if err != nil {
			return fmt.Errorf("proof %d: %w", v.nextProof, err)
		}
		v.mu.Lock()
		v.watch[v.nextProof] = true
		v.nextProof++
		v.mu.Unlock()
	}
	v.mu.Lock()
	ids := make([]uint64, 0, len(v.watch))
	for id := range v.watch {
		ids = append(ids, id)
	}
	v.mu.Unlock()
	me := v.chain.Address().String()
	// This poll commits the verdicts judged before it: one that a replay
	// started here finishes meanwhile waits for the next poll, whatever
	// the timing (a poll's txs do not depend on how fast a replay ran).
	toCommit := v.uncommitted()
	var reveals, unsure []sdk.Msg
	var revealed, unsureIDs []uint64
	for _, id := range ids {
		res, err := v.chain.Proof(ctx, &types.QueryProofRequest{Id: id})
		if err != nil {
			return err
		}
		p := res.Proof
		switch p.Status {
		case types.PROOF_STATUS_PENDING:
			continue
		case types.PROOF_STATUS_COMMITTING:
			if !slices.Contains(p.Verifiers, me) {
				v.forget(id)
				continue
			}
			v.assignedAt(id, time.Now())
			v.start(ctx, wg, v.judges, p.CommitDeadline, fmt.Sprintf("proof/%d", id), func(ctx context.Context) error { return v.judge(ctx, p) })
		case types.PROOF_STATUS_REVEALING:
			v.mu.Lock()
			vd := v.verdicts[id]
			v.mu.Unlock()
			if vd == nil || !(vd.committed || vd.sent) {
				if !slices.Contains(p.Verifiers, me) {
					v.forget(id)
				}
				continue
			}
			msg := &types.MsgRevealVerdict{Verifier: me, ProofId: id, Accept: vd.accept, Digest: vd.digest[:], Salt: vd.salt}
			if vd.committed {
				reveals = append(reveals, msg)
				revealed = append(revealed, id)
			} else {
				unsure = append(unsure, msg)
				unsureIDs = append(unsureIDs, id)
			}
		default: // settled
			v.forget(id)
		}
	}
	// Reveals go out before this poll's commitments, and a refused commit
	// tx is returned only after them: reveals have the shorter window, and
	// a commit refused poll after poll must not cost the reveals of other
	// proofs.
	var revealErr error
	if len(reveals) > 0 {
		if _, err := v.chain.Broadcast(ctx, reveals...); err != nil {
			revealErr = fmt.Errorf("reveal %v: %w", revealed, err)
		} else {
			v.Stats.Revealed.Add(uint64(len(reveals)))
			v.observeRevealed(revealed, time.Now())
			for _, id := range revealed {
				v.forget(id)
			}
			v.log.Info("verdicts revealed", "proofs", revealed)
		}
	}
	// Commitments whose landing this verifier never saw: each revealed in
	// its own tx (a refusal, there being no such commitment on chain, must
	// not sink the others), tried again while the proof is REVEALING.
	for i, m := range unsure {
		id := unsureIDs[i]
		if _, err := v.chain.Broadcast(ctx, m); err != nil {
			v.log.Info("reveal of a verdict whose commit was not confirmed refused; trying again while the proof is revealing", "proof", id, "err", err)
			continue
		}
		v.Stats.Revealed.Add(1)
		v.observeRevealed([]uint64{id}, time.Now())
		v.forget(id)
		v.log.Info("verdicts revealed", "proofs", []uint64{id}, "commit", "not confirmed before")
	}
	return errors.Join(revealErr, v.commitVerdictsOf(ctx, toCommit))
}

func (v *Verifier) forget(id uint64) {
	v.mu.Lock()
	delete(v.watch, id)
	delete(v.verdicts, id)
	delete(v.assigned, id)
	v.mu.Unlock()
	if v.cfg.StateDir != "" {
		_ = os.Remove(filepath.Join(v.cfg.StateDir, fmt.Sprintf("verdict-%d.json", id)))
	}
}

type savedVerdict struct {
	Proof  uint64 `json:"proof"`
	Accept bool   `json:"accept"`
	Digest []byte `json:"digest"`
	Salt   []byte `json:"salt"`
	Commit []byte `json:"commitment"`
	// Pending: saved before its commit tx was broadcast, not yet seen
	// committed (files written before this field existed were saved only
	// once committed).
	Pending bool `json:"pending,omitempty"`
}

// decodeSavedVerdict reads a saved verdict file: JSON with a 32-byte
// digest and commitment and a salt the chain accepts at reveal (16 to 64
// bytes; this verifier draws 32).
func decodeSavedVerdict(b []byte) (savedVerdict, error) {
	var sv savedVerdict
	if err := json.Unmarshal(b, &sv); err != nil {
		return sv, fmt.Errorf("saved verdict: %w", err)
	}
	if len(sv.Digest) != 32 || len(sv.Commit) != 32 || len(sv.Salt) < 16 || len(sv.Salt) > 64 {
		return sv, fmt.Errorf("saved verdict of proof %d: digest of %d bytes, commitment of %d and salt of %d, expected 32, 32 and 16 to 64",
			sv.Proof, len(sv.Digest), len(sv.Commit), len(sv.Salt))
	}
	return sv, nil
}

// save keeps a verdict on disk (written, then renamed): before its commit
// tx is broadcast (pending), and again once it is committed. Saving only
// after the commit would lose the salt to a crash between the tx landing
// and the save, and with it the reveal: the verifier would be slashed for
// a verdict it committed.
func (v *Verifier) save(id uint64, vd *ballot) {
	if v.cfg.StateDir == "" {
		return
	}
	b, _ := json.Marshal(savedVerdict{Proof: id, Accept: vd.accept, Digest: vd.digest[:], Salt: vd.salt, Commit: vd.commit[:], Pending: !vd.committed})
	p := filepath.Join(v.cfg.StateDir, fmt.Sprintf("verdict-%d.json", id))
	if err := os.WriteFile(p+".tmp", b, 0o600); err == nil {
		err = os.Rename(p+".tmp", p)
		if err != nil {
			v.log.Error("saving verdict", "proof", id, "err", err)
		}
	} else {
		v.log.Error("saving verdict", "proof", id, "err", err)
	}
}

// load restores the committed verdicts of an earlier run.
func (v *Verifier) load() error {
	if v.cfg.StateDir == "" {
		return nil
	}
	if err := os.MkdirAll(v.cfg.StateDir, 0o700); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(v.cfg.StateDir, "verdict-*.json"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		sv, err := decodeSavedVerdict(b)
		if err != nil {
			v.log.Warn("ignoring a damaged saved verdict", "file", f, "err", err)
			continue
		}
		// A pending one may have landed: sent, so it is committed again
		// (the same commitment) while the proof is COMMITTING and revealed
		// on its own once it is REVEALING.
		vd := &ballot{committed: !sv.Pending, sent: true, accept: sv.Accept, salt: sv.Salt}
		copy(vd.digest[:], sv.Digest)
		copy(vd.commit[:], sv.Commit)
		v.verdicts[sv.Proof] = vd
		v.watch[sv.Proof] = true
		v.done[fmt.Sprintf("proof/%d", sv.Proof)] = true
	}
	if len(files) > 0 {
		v.log.Info("restored committed verdicts", "count", len(files))
	}
	return nil
}

// job rebuilds a job from chain records and the local dataset.
func (v *Verifier) job(ctx context.Context, taskID uint64, index uint32) (*types.Task, *jobspec.Job, error) {
	t, err := v.chain.Task(ctx, &types.QueryTaskRequest{Id: taskID})
	if err != nil {
		return nil, nil, err
	}
	rec, err := v.chain.Dataset(ctx, &types.QueryDatasetRequest{Id: t.Task.DatasetId})
	if err != nil {
		return nil, nil, err
	}
	ds, err := v.datasets.Dataset(ctx, &rec.Dataset)
	if err != nil {
		return nil, nil, err
	}
	j, err := v.jobs.Prepare(&t.Task, index, ds)
	return &t.Task, j, err
}

// ReplayStep replays tr, which stands at a commitment, to step, in
// sampled mode (it switches tr to it): chain must start at that
// commitment's state hashes (DigestChain.Commit). Every
// step of the way is sampled in place and chained (a few hundred bytes a
// step; the digest of step i depends on every step since the commitment),
// and the proven step's digest inputs and digest are returned. It costs
// what training those steps costs, plus a microsecond-scale sample per
// step.
func ReplayStep(ctx context.Context, tr *ml.Trainer, chain *jobspec.DigestChain, step uint64) (pouw.StepParts, pouw.Hash, error) {
	if step < tr.StepIndex() || step >= tr.TotalSteps() {
		return pouw.StepParts{}, pouw.Hash{}, fmt.Errorf("replay: step %d is outside [%d, %d)", step, tr.StepIndex(), tr.TotalSteps())
	}
	tr.SampledSteps()
	var parts pouw.StepParts
	var digest pouw.Hash
	hook := func(s ml.StepInfo) (err error) {
		parts, digest, err = chain.Step(s)
		return err
	}
	for tr.StepIndex() <= step {
		if err := ctx.Err(); err != nil {
			return parts, digest, err
		}
		if _, err := tr.Step(hook); err != nil {
			return parts, digest, err
		}
	}
	return parts, digest, nil
}

// Check replays a proof and returns its verdict. An error means the proof
// could not be judged here and now (a chain query failed, the dataset is
// not available, ctx ended): the caller tries again later. Everything the
// miner is answerable for (a missing commitment, a checkpoint not served or
// not the committed one, any hash that differs) is a rejecting verdict.
func (v *Verifier) Check(ctx context.Context, p types.Proof) (Verdict, error) {
	var zero pouw.Hash
	if p.DigestVersion != pouw.DigestV2 {
		// Not the miner's fault: a proof stored before version 2 (the chain
		// accepts no other now). Left to the chain's rules, unjudged.
		return Verdict{}, fmt.Errorf("proof %d has digest version %d; this verifier replays version %d", p.Id, p.DigestVersion, pouw.DigestV2)
	}
	params, err := v.chain.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		return Verdict{}, err
	}
	_, job, err := v.job(ctx, p.TaskId, p.JobIndex)
	if err != nil {
		return Verdict{}, err
	}
	cms, err := v.chain.Commitments(ctx, &types.QueryCommitmentsRequest{TaskId: p.TaskId, JobIndex: p.JobIndex})
	if err != nil {
		return Verdict{}, err
	}
	var commitment *types.Commitment
	for i, c := range cms.Commitments {
		if c.Miner == p.Miner && c.Step == p.CommitStep {
			commitment = &cms.Commitments[i]
		}
	}
	if commitment == nil {
		return reject(zero, "no commitment at step %d", p.CommitStep), nil
	}
	key, err := p2p.CommitmentKey(commitment)
	if err != nil {
		return reject(zero, "commitment at step %d: %v", p.CommitStep, err), nil
	}
	tr, why, err := v.startReplay(ctx, p, job, key)
	if err != nil || why != "" {
		return reject(zero, "%s", why), err
	}
	if p.Step >= tr.TotalSteps() {
		return reject(zero, "step %d is past the job's %d steps", p.Step, tr.TotalSteps()), nil
	}
	minerAddr, err := sdk.AccAddressFromBech32(p.Miner)
	if err != nil {
		return Verdict{}, err
	}
	chain := jobspec.NewDigestChain(pouw.JobID{TaskID: p.TaskId, JobIndex: p.JobIndex}, minerAddr)
	chain.Commit(key.WeightsHash, key.OptimizerHash)
	h, d, err := ReplayStep(ctx, tr, chain, p.Step)
	if err != nil {
		return Verdict{}, err
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{{"previous link", h.Prev[:], p.WeightsBefore}, {"H(B_i)", h.Batch[:], p.Batch}, {"gradient sample", h.GradSample[:], p.Gradients},
		{"weight sample of W_i+1", h.WeightSample[:], p.WeightsAfter}, {"digest", d[:], p.Digest}} {
		if !bytes.Equal(f.got, f.want) {
			return reject(d, "%s recomputed %x, proof says %x", f.name, f.got, f.want), nil
		}
	}
	if n := uint64(tr.Model.NumParams()); n != p.ParamCount {
		return reject(d, "param count %d, proof says %d", n, p.ParamCount), nil
	}
	pp := params.Params
	tickets := pouw.TicketCount(pp.OmegaBE9, pp.OmegaME9, uint64(job.Config.BatchSize), p.ParamCount, pp.MaxTicketsPerStep)
	if val := pouw.TicketValueV2(d, p.Anchor); !bytes.Equal(val[:], p.Value) {
		return reject(d, "lottery value %x, proof says %x", val[:], p.Value), nil
	}
	if p.TicketIndex >= tickets {
		return reject(d, "ticket %d of %d", p.TicketIndex, tickets), nil
	}
	return accept(d), nil
}

// startReplay returns a trainer at the proof's commitment: at step 0 the
// seeded initial state (no fetch), which must be what was committed; later
// the miner's checkpoint, fetched by the commitment's key (verified against
// both hashes), which must be the job's spec, seed, config and position.
// A non-empty why rejects the proof; an error defers it.
func (v *Verifier) startReplay(ctx context.Context, p types.Proof, job *jobspec.Job, key p2p.CkptKey) (tr *ml.Trainer, why string, err error) {
	if p.CommitStep == 0 {
		model, err := job.NewModel()
		if err != nil {
			return nil, "", err
		}
		if tr, err = ml.NewTrainer(model, job.Train, job.Config, v.backend); err != nil {
			return nil, "", err
		}
		wh, oh := ml.WeightsHash(model), ml.OptimizerHash(tr.Opt)
		if wh != key.WeightsHash || oh != key.OptimizerHash {
			return nil, fmt.Sprintf("step-0 commitment (weights %x, optimizer %x) is not the seeded initial state (weights %x, optimizer %x)",
				key.WeightsHash, key.OptimizerHash, wh, oh), nil
		}
		return tr, "", nil
	}
	var ck *ml.Checkpoint
	err = v.fetchRetry(ctx, func() error {
		var err error
		if ck, err = v.fetch.Checkpoint(ctx, p.Miner, key); errors.Is(err, p2p.ErrMismatch) {
			return worker.Permanent(err) // a liar does not mend on a second ask
		}
		return err
	})
	switch {
	case ctx.Err() != nil:
		return nil, "", ctx.Err()
	case errors.Is(err, p2p.ErrMismatch):
		return nil, fmt.Sprintf("served checkpoint does not match the commitment: %v", err), nil
	case err != nil:
		return nil, fmt.Sprintf("checkpoint (weights %x) not served: %v", key.WeightsHash, err), nil
	}
	h := ck.Header
	if h.Spec != job.ModelSpec || h.Seed != job.InitSeed || h.Config != job.Config || h.Step != p.CommitStep {
		return nil, fmt.Sprintf("checkpoint is %s init seed %d config %+v step %d, the job is %s init seed %d config %+v step %d",
			h.Spec, h.Seed, h.Config, h.Step, job.ModelSpec, job.InitSeed, job.Config, p.CommitStep), nil
	}
	if tr, err = ml.ResumeTrainer(ck, job.Train, v.backend); err != nil {
		return nil, fmt.Sprintf("checkpoint cannot resume: %v", err), nil
	}
	return tr, "", nil
}

// commitVerdicts commits every judged verdict not yet committed, in one
// tx (one tx per verdict when the batch is refused).
func (v *Verifier) commitVerdicts(ctx context.Context) error {
	return v.commitVerdictsOf(ctx, v.uncommitted())
}

// uncommitted lists the judged verdicts not yet committed.
func (v *Verifier) uncommitted() []uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	var ids []uint64
	for id, vd := range v.verdicts {
		if !vd.committed {
			ids = append(ids, id)
		}
	}
	return ids
}

// commitVerdictsOf is commitVerdicts for the verdicts pending.
func (v *Verifier) commitVerdictsOf(ctx context.Context, pending []uint64) error {
	me := v.chain.Address().String()
	var ids []uint64
	var msgs []sdk.Msg
	for _, id := range pending {
		// Only proofs still in their commit phase: one late verdict must not
		// sink the others' tx.
		res, err := v.chain.Proof(ctx, &types.QueryProofRequest{Id: id})
		if err != nil {
			return err
		}
		v.mu.Lock()
		vd := v.verdicts[id]
		v.mu.Unlock()
		if vd == nil {
			continue
		}
		if res.Proof.Status != types.PROOF_STATUS_COMMITTING {
			if vd.sent {
				continue // it may be on chain: the reveal finds out
			}
			v.log.Warn("verdict too late: the commit phase is over", "proof", id, "status", res.Proof.Status)
			v.forget(id)
			continue
		}
		ids = append(ids, id)
		msgs = append(msgs, &types.MsgSubmitVerdict{Verifier: me, ProofId: id, Commitment: vd.commit[:]})
	}
	if len(msgs) == 0 {
		return nil
	}
	// On disk before the tx goes out (see save). A ballot sent before may
	// be on chain already: its refusal is no error of the poll.
	resent := make([]bool, len(ids))
	for i, id := range ids {
		v.mu.Lock()
		vd := v.verdicts[id]
		if vd != nil {
			resent[i], vd.sent = vd.sent, true
		}
		v.mu.Unlock()
		if vd != nil {
			v.save(id, vd)
		}
	}
	mark := func(id uint64) {
		v.mu.Lock()
		vd := v.verdicts[id]
		if vd != nil {
			vd.committed = true
		}
		v.mu.Unlock()
		if vd != nil {
			v.save(id, vd)
		}
	}
	if _, err := v.chain.Broadcast(ctx, msgs...); err == nil {
		for _, id := range ids {
			mark(id)
		}
		v.log.Info("verdicts committed", "proofs", ids)
		return nil
	} else if len(msgs) == 1 && !resent[0] {
		return fmt.Errorf("commit verdict on proof %d: %w", ids[0], err)
	}
	for i, m := range msgs {
		if _, err := v.chain.Broadcast(ctx, m); err != nil {
			v.log.Warn("verdict commit refused", "proof", ids[i], "err", err)
			continue
		}
		mark(ids[i])
	}
	return nil
}

// judge replays a proof and records the verdict for commitVerdicts.
func (v *Verifier) judge(ctx context.Context, p types.Proof) error {
	// Waiting for a worker may have outlasted the commit window: a
	// verdict can no longer be committed, and the replay would only keep
	// a worker from proofs still in theirs.
	if cur, err := v.chain.Proof(ctx, &types.QueryProofRequest{Id: p.Id}); err == nil && cur.Proof.Status != types.PROOF_STATUS_COMMITTING {
		v.log.Warn("proof left its commit window before a worker was free; not replayed", "proof", p.Id, "status", cur.Proof.Status)
		return nil
	}
	start := time.Now()
	vd, err := v.Check(ctx, p)
	if err != nil {
		return err
	}
	v.Metrics.replay.Observe(time.Since(start).Seconds())
	ok, d := vd.Accept, vd.Digest
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return err
	}
	if ok {
		copy(d[:], p.Digest)
	} else if d == (pouw.Hash{}) {
		d = sha256.Sum256([]byte("pouw/verifier/unreplayable"))
	}
	c := pouw.VerdictCommitment(p.Id, v.chain.Address(), ok, d, salt)
	v.mu.Lock()
	v.verdicts[p.Id] = &ballot{commit: c, accept: ok, digest: d, salt: salt}
	v.mu.Unlock()
	if ok {
		v.Stats.ProofsAccepted.Add(1)
		v.log.Info("proof replayed: accept", "proof", p.Id, "task", p.TaskId, "job", p.JobIndex, "step", p.Step,
			"replayed", p.Step-p.CommitStep+1, "took", time.Since(start).Round(time.Millisecond))
	} else {
		v.Stats.ProofsRejected.Add(1)
		v.log.Warn("proof replayed: reject", "proof", p.Id, "task", p.TaskId, "job", p.JobIndex, "step", p.Step, "why", vd.Reason)
	}
	return nil
}

func (v *Verifier) pollJobs(ctx context.Context, wg *sync.WaitGroup) error {
	me := v.chain.Address().String()
	for _, st := range []types.TaskStatus{types.TASK_STATUS_TRAINING, types.TASK_STATUS_EVALUATING, types.TASK_STATUS_OPEN} {
		res, err := v.chain.Tasks(ctx, &types.QueryTasksRequest{Status: st})
		if err != nil {
			return err
		}
		for _, t := range res.Tasks {
			v.prefetch(ctx, wg, t.DatasetId)
			jobs, err := v.chain.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: t.Id})
			if err != nil {
				return err
			}
			for _, j := range jobs.Jobs {
				if j.Status != types.JOB_STATUS_ASSIGNED || !slices.Contains(j.Verifiers, me) {
					continue
				}
				v.start(ctx, wg, v.evals, j.Deadline, fmt.Sprintf("eval/%d/%d/%d/%x", j.TaskId, j.Index, j.Attempts, j.ModelHash), func(ctx context.Context) error {
					return v.evaluate(ctx, j)
				})
			}
		}
	}
	return nil
}

// prefetch loads a live task's dataset (over the storage ring when it is
// not on disk) once, as soon as the task is seen: left to the first proof
// drawn for this verifier, the fetch (seconds to tens of seconds) ate into
// that proof's commit window, and on a busy machine every verifier missed
// it and was jailed (the soak found it). It runs on the evaluation
// workers, never delaying a replay; a failure is retried at the next poll.
func (v *Verifier) prefetch(ctx context.Context, wg *sync.WaitGroup, datasetID uint64) {
	v.start(ctx, wg, v.evals, 0, fmt.Sprintf("dataset/%d", datasetID), func(ctx context.Context) error {
		rec, err := v.chain.Dataset(ctx, &types.QueryDatasetRequest{Id: datasetID})
		if err != nil {
			return err
		}
		_, err = v.datasets.Dataset(ctx, &rec.Dataset)
		return err
	})
}

// fetchRetry runs a fetch from a miner: up to FetchAttempts failures,
// FetchWait apart, where a busy refusal (p2p.IsBusy) is waited out for
// BusyWait without using an attempt: a miner sending a large model to
// another verifier is honest and will serve this one next.
func (v *Verifier) fetchRetry(ctx context.Context, try func() error) error {
	busyUntil := time.Now().Add(v.cfg.BusyWait)
	failures := 0
	return worker.Retry(ctx, 0, v.cfg.FetchWait, func() error {
		err := try()
		if err == nil || (p2p.IsBusy(err) && time.Now().Before(busyUntil)) {
			return err
		}
		if failures++; failures >= v.cfg.FetchAttempts {
			return worker.Permanent(err)
		}
		return err
	})
}

// Measure fetches a job's model and measures it on the held-out fold. It
// returns the hash it measured (the zero hash when the model could not be
// had) and the metrics.
func (v *Verifier) Measure(ctx context.Context, j types.Job) ([]byte, types.FoldMetrics, error) {
	bad := make([]byte, 32)
	_, job, err := v.job(ctx, j.TaskId, j.Index)
	if err != nil {
		return nil, types.FoldMetrics{}, err
	}
	var b []byte
	err = v.fetchRetry(ctx, func() error {
		var err error
		b, err = v.fetch.Model(ctx, j.Miner, j.ModelHash)
		return err
	})
	if ctx.Err() != nil {
		return nil, types.FoldMetrics{}, ctx.Err()
	}
	if err != nil {
		v.log.Warn("model not served", "task", j.TaskId, "job", j.Index, "err", err)
		return bad, types.FoldMetrics{}, nil
	}
	if h := sha256.Sum256(b); !bytes.Equal(h[:], j.ModelHash) {
		v.log.Warn("served model does not match its hash", "task", j.TaskId, "job", j.Index)
		return bad, types.FoldMetrics{}, nil
	}
	ck, err := ml.ParseCheckpoint(b)
	if err != nil {
		return bad, types.FoldMetrics{}, nil
	}
	if ck.Header.Spec != job.ModelSpec {
		v.log.Warn("model is not the job's architecture", "got", ck.Header.Spec, "want", job.ModelSpec)
		return bad, types.FoldMetrics{}, nil
	}
	model, err := ck.Model()
	if err != nil {
		return bad, types.FoldMetrics{}, nil
	}
	m, err := jobspec.HeldOutMetrics(model, job, v.backend)
	if err != nil {
		return nil, types.FoldMetrics{}, err
	}
	return j.ModelHash, m, nil
}

func (v *Verifier) evaluate(ctx context.Context, j types.Job) error {
	hash, m, err := v.Measure(ctx, j)
	if err != nil {
		return err
	}
	if _, err := v.chain.Broadcast(ctx, &types.MsgSubmitEvaluation{Verifier: v.chain.Address().String(), TaskId: j.TaskId, JobIndex: j.Index,
		ModelHash: hash, Metrics: m}); err != nil {
		return fmt.Errorf("evaluation of %d/%d: %w", j.TaskId, j.Index, err)
	}
	v.Stats.Evaluations.Add(1)
	v.log.Info("evaluation submitted", "task", j.TaskId, "job", j.Index, "accuracy_ppm", m.AccuracyPpm, "claimed_ppm", j.Claimed.AccuracyPpm)
	return nil
}
