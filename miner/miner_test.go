package miner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/worker/workertest"
	"github.com/pouw/pouwd/x/pouwml/types"
)

const every = 4 // commit interval of the tests' chain

// rig is a miner on an in-memory chain and store, with the tiny task's
// jobs open, and what an honest run of job 0 computes (the real engine,
// trained here without the miner).
type rig struct {
	tiny  *workertest.Tiny
	chain *workertest.Chain
	store *workertest.Store
	cfg   Config
	// Reference run of job 0.
	hashes  []pouw.StepParts   // every step's digest inputs (version 2)
	weights map[uint64]ml.Hash // committed weights hash by commitment step
	model   []byte
	metrics types.FoldMetrics
}

func newRig(t *testing.T) *rig {
	t.Helper()
	tiny, err := workertest.NewTiny()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{tiny: tiny, chain: workertest.NewChain("miner", workertest.Params(every)), store: workertest.NewStore(), weights: map[uint64]ml.Hash{}}
	r.chain.AddTask(tiny.Task, tiny.Record, tiny.Jobs())
	r.cfg = DefaultConfig()
	r.cfg.StateDir, r.cfg.StatusEvery, r.cfg.Logger = t.TempDir(), 0, slog.New(slog.DiscardHandler)
	r.cfg.Devices = []types.Device{{Kind: "cpu", Name: "test cpu", MemoryBytes: 1 << 30}}

	job, err := jobspec.Prepare(&tiny.Task, 0, tiny.Data)
	if err != nil {
		t.Fatal(err)
	}
	model, err := job.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.MustNew(cpu.Options{Threads: 1})
	tr, err := ml.NewTrainer(model, job.Train, job.Config, be)
	if err != nil {
		t.Fatal(err)
	}
	// The digest chain computed here from its definition (pouw package
	// documentation), not with jobspec.DigestChain, which the miner uses.
	tr.SampledSteps()
	id := pouw.JobID{TaskID: tiny.Task.Id}
	var prev pouw.Hash
	for !tr.Done() {
		if s := tr.StepIndex(); s%every == 0 {
			wh, oh := ml.WeightsHash(tr.Model), ml.OptimizerHash(tr.Opt)
			r.weights[s] = wh
			prev = pouw.CommitLink(pouw.Hash(wh), pouw.Hash(oh))
		}
		if _, err := tr.Step(func(s ml.StepInfo) error {
			g, w, err := s.Samples(prev)
			if err != nil {
				return err
			}
			p := pouw.StepParts{Prev: prev, Batch: pouw.Hash(s.Batch), GradSample: g, WeightSample: w}
			r.hashes = append(r.hashes, p)
			prev, err = pouw.StepDigest(id, r.chain.Addr, s.Step, p)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var mb bytes.Buffer
	if err := ml.SaveModel(&mb, tr.Model); err != nil {
		t.Fatal(err)
	}
	r.model = mb.Bytes()
	if r.metrics, err = jobspec.HeldOutMetrics(tr.Model, job, be); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) miner(t *testing.T) *Miner {
	t.Helper()
	m, err := New(r.cfg, r.chain, r.tiny.Datasets, r.store, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	m.commitRetry, m.anchorPoll = time.Millisecond, time.Millisecond
	return m
}

func (r *rig) run(t *testing.T, m *Miner, resume bool) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	task := r.tiny.Task
	return m.RunJob(ctx, &task, 0, resume)
}

// failOn makes broadcasts of messages of type T fail.
func failOn[T sdk.Msg](c *workertest.Chain) {
	c.Fail(func(_ string, msg sdk.Msg) error {
		if _, ok := msg.(T); ok {
			return workertest.ErrInjected
		}
		return nil
	})
}

// failQuery makes the chain query method fail.
func failQuery(c *workertest.Chain, method string) {
	c.Fail(func(m string, _ sdk.Msg) error {
		if m == method {
			return workertest.ErrInjected
		}
		return nil
	})
}

// checkProofs checks that the proofs are the reference run's steps, each
// once, under the commitment each descends from.
func (r *rig) checkProofs(t *testing.T, proofs []*types.MsgSubmitProof) {
	t.Helper()
	if len(proofs) != len(r.hashes) {
		t.Fatalf("%d proofs, expected one per step (%d): every ticket wins", len(proofs), len(r.hashes))
	}
	seen := map[uint64]bool{}
	for _, p := range proofs {
		h := r.hashes[p.Step]
		if seen[p.Step] || p.CommitStep != p.Step-p.Step%every || p.TicketIndex != 0 ||
			!bytes.Equal(p.WeightsBefore, h.Prev[:]) || !bytes.Equal(p.Batch, h.Batch[:]) ||
			!bytes.Equal(p.Gradients, h.GradSample[:]) || !bytes.Equal(p.WeightsAfter, h.WeightSample[:]) || p.DigestVersion != pouw.DigestV2 {
			t.Fatalf("proof of step %d (commit step %d, ticket %d) is not the honest run's", p.Step, p.CommitStep, p.TicketIndex)
		}
		seen[p.Step] = true
	}
}

// checkCommitments checks that the miner committed the reference run's
// weights at every commit_interval steps, once each, with a stored
// checkpoint that verifies against both hashes.
func (r *rig) checkCommitments(t *testing.T) {
	t.Helper()
	res, err := r.chain.Commitments(context.Background(), &types.QueryCommitmentsRequest{TaskId: r.tiny.Task.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commitments) != len(r.weights) {
		t.Fatalf("%d commitments, expected %d (every %d steps)", len(res.Commitments), len(r.weights), every)
	}
	for _, c := range res.Commitments {
		if w := r.weights[c.Step]; !bytes.Equal(c.WeightsHash, w[:]) {
			t.Fatalf("commitment at step %d: weights %x, the honest run has %x", c.Step, c.WeightsHash, w[:])
		}
		key, err := p2p.CommitmentKey(&c)
		if err != nil {
			t.Fatal(err)
		}
		b, err := r.store.Checkpoint(key)
		if err != nil {
			t.Fatalf("commitment at step %d: %v", c.Step, err)
		}
		if _, err := worker.VerifyCheckpoint(key, b); err != nil {
			t.Fatalf("commitment at step %d: %v", c.Step, err)
		}
	}
}

func TestRunJobHonest(t *testing.T) {
	r := newRig(t)
	m := r.miner(t)
	if err := r.run(t, m, false); err != nil {
		t.Fatal(err)
	}
	claims := workertest.Msgs[*types.MsgClaimJob](r.chain)
	if len(claims) != 1 || claims[0].JobIndex != 0 || claims[0].Miner != r.chain.Addr.String() {
		t.Fatalf("claims %v", claims)
	}
	r.checkCommitments(t)
	r.checkProofs(t, workertest.Msgs[*types.MsgSubmitProof](r.chain))
	results := workertest.Msgs[*types.MsgSubmitResult](r.chain)
	mh := sha256.Sum256(r.model)
	if len(results) != 1 || !bytes.Equal(results[0].ModelHash, mh[:]) || results[0].Metrics != r.metrics {
		t.Fatalf("results %v, expected model %x metrics %+v", results, mh[:], r.metrics)
	}
	if b, err := r.store.Model(mh[:]); err != nil || !bytes.Equal(b, r.model) {
		t.Fatalf("final model not served: %v", err)
	}
	// Every proof went out before the result (a proof needs a live claim).
	var sawResult bool
	for _, msg := range workertest.Msgs[sdk.Msg](r.chain) {
		switch msg.(type) {
		case *types.MsgSubmitResult:
			sawResult = true
		case *types.MsgSubmitProof:
			if sawResult {
				t.Fatal("a proof after the result")
			}
		}
	}
	n := uint64(len(r.hashes))
	if s := &m.Stats; s.JobsDone.Load() != 1 || s.Steps.Load() != n || s.ProofsWon.Load() != n || s.ProofsSubmitted.Load() != n ||
		s.TicketsDrawn.Load() != 4*n || s.Commitments.Load() != uint64(len(r.weights)) {
		t.Fatalf("stats: jobs %d steps %d won %d submitted %d tickets %d commitments %d", s.JobsDone.Load(), s.Steps.Load(),
			s.ProofsWon.Load(), s.ProofsSubmitted.Load(), s.TicketsDrawn.Load(), s.Commitments.Load())
	}
	if len(m.Stats.current) != 0 {
		t.Fatal("a finished job is still on the status line")
	}
}

func TestMaxProofsPerJob(t *testing.T) {
	r := newRig(t)
	r.cfg.MaxProofsPerJob = 3
	m := r.miner(t)
	if err := r.run(t, m, false); err != nil {
		t.Fatal(err)
	}
	if p := workertest.Msgs[*types.MsgSubmitProof](r.chain); len(p) != 3 || p[0].Step != 0 || p[2].Step != 2 {
		t.Fatalf("%d proofs, expected the first 3", len(p))
	}
	if len(workertest.Msgs[*types.MsgSubmitResult](r.chain)) != 1 {
		t.Fatal("no result")
	}
}

func TestLottery(t *testing.T) {
	r := newRig(t)
	miner := r.chain.Addr
	id := pouw.JobID{TaskID: 7, JobIndex: 1}
	steps := make([]stepRecord, len(r.hashes))
	for i, h := range r.hashes {
		steps[i] = stepRecord{step: uint64(i), parts: h}
	}
	anchor := workertest.Anchor(9)
	target := pouw.TargetFromProbability(1, 20)
	var want []winner
	for _, s := range steps {
		d, err := pouw.StepDigest(id, miner, s.step, s.parts)
		if err != nil {
			t.Fatal(err)
		}
		// Four tickets: the value lies in one of [j*target, (j+1)*target), j < 4.
		v := new(big.Int).SetBytes(func() []byte { x := pouw.TicketValueV2(d, anchor); return x[:] }())
		if j := new(big.Int).Quo(v, new(big.Int).SetBytes(target[:])); j.Cmp(big.NewInt(4)) < 0 {
			want = append(want, winner{Step: s.step, Parts: s.parts, Ticket: j.Uint64()})
		}
	}
	if len(want) == 0 || len(want) == len(steps) {
		t.Fatalf("%d winners of %d steps: pick another target", len(want), len(steps))
	}
	got, scanned, err := lottery(id, miner, steps, anchor, 4, target, -1)
	if err != nil || scanned != len(steps) || len(got) != len(want) {
		t.Fatalf("lottery: %d winners of %d scanned, %v; want %d", len(got), scanned, err, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("winner %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Pure: the same again; another anchor, miner or job draws other tickets.
	again, _, _ := lottery(id, miner, steps, anchor, 4, target, -1)
	other, _, _ := lottery(id, miner, steps, workertest.Anchor(10), 4, target, -1)
	otherMiner, _, _ := lottery(id, workertest.NewChain("other", types.Params{}).Addr, steps, anchor, 4, target, -1)
	if len(again) != len(got) || (equalWinners(other, got) && equalWinners(otherMiner, got)) {
		t.Fatal("the lottery is not a function of its inputs")
	}
	// A cap stops the scan at its last winner.
	capped, scanned, _ := lottery(id, miner, steps, anchor, 4, target, 1)
	if len(capped) != 1 || capped[0] != want[0] || scanned != int(want[0].Step)+1 {
		t.Fatalf("capped: %v, %d scanned", capped, scanned)
	}
	if none, scanned, _ := lottery(id, miner, steps, anchor, 4, target, 0); len(none) != 0 || scanned != 0 {
		t.Fatal("room 0 drew tickets")
	}
}

func equalWinners(a, b []winner) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestResumeFromJournal(t *testing.T) {
	r := newRig(t)
	ctx, crash := context.WithCancel(context.Background())
	defer crash()
	var first *Miner
	r.cfg.Attack.Step = func(_ uint32, step uint64, _ *pouw.StepParts) {
		if step == 9 { // crash once the commitment at step 8 is on chain
			for first.Stats.Commitments.Load() < 3 && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			crash()
		}
	}
	first = r.miner(t)
	task := r.tiny.Task
	if err := first.RunJob(ctx, &task, 0, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed run: %v", err)
	}
	if n := len(workertest.Msgs[*types.MsgSubmitProof](r.chain)); n != 0 {
		t.Fatalf("the crashed run submitted %d proofs", n)
	}

	// The restarted miner: same chain, store and state directory.
	r.cfg.Attack = Attack{}
	again := r.miner(t)
	if err := r.run(t, again, true); err != nil {
		t.Fatal(err)
	}
	if n := len(workertest.Msgs[*types.MsgClaimJob](r.chain)); n != 1 {
		t.Fatalf("%d claims: a resume must not claim again", n)
	}
	if s := again.Stats.Steps.Load(); s != uint64(len(r.hashes))-8 {
		t.Fatalf("resumed run trained %d steps, expected those after the commitment at step 8", s)
	}
	r.checkCommitments(t)
	// The steps before the restart are drawn from the journal.
	r.checkProofs(t, workertest.Msgs[*types.MsgSubmitProof](r.chain))
	if len(workertest.Msgs[*types.MsgSubmitResult](r.chain)) != 1 {
		t.Fatal("no result")
	}
}

func TestResumeWithoutCheckpoint(t *testing.T) {
	r := newRig(t)
	m := r.miner(t)
	// A commitment on chain whose checkpoint this miner's store lacks.
	w := r.weights[4]
	r.chain.AddCommitment(types.Commitment{TaskId: r.tiny.Task.Id, Miner: r.chain.Addr.String(), Step: 4, WeightsHash: w[:], OptimizerHash: w[:], Height: 1})
	if err := r.run(t, m, true); err == nil || !strings.Contains(err.Error(), "resume") || !errors.Is(err, p2p.ErrNotFound) {
		t.Fatalf("resume without the checkpoint: %v", err)
	}
}

func TestRunJobFailures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(r *rig)
		want  string // in the error
		is    error
		// What still reached the chain: commitments (-1: any number, -2:
		// all of them) and results.
		commitments, results int
	}{
		{"params query", func(r *rig) { failQuery(r.chain, "Params") }, "", workertest.ErrInjected, 0, 0},
		{"dataset record", func(r *rig) { failQuery(r.chain, "Dataset") }, "dataset 1", workertest.ErrInjected, 0, 0},
		{"dataset not held", func(r *rig) { r.tiny.Datasets = worker.MemDatasets{} }, "", worker.ErrNotFound, 0, 0},
		{"claim refused", func(r *rig) {
			r.chain.Fail(func(m string, msg sdk.Msg) error {
				if _, ok := msg.(*types.MsgClaimJob); ok || m == "Job" {
					return workertest.ErrInjected
				}
				return nil
			})
		}, "claim", workertest.ErrInjected, 0, 0},
		{"claimed by another miner", func(r *rig) {
			j := r.tiny.Jobs()[0]
			j.Status, j.Miner = types.JOB_STATUS_CLAIMED, "someone else"
			r.chain.SetJob(j)
		}, "", errClaimLost, 0, 0},
		{"commitment refused", func(r *rig) { failOn[*types.MsgCommitCheckpoint](r.chain) }, "commit", workertest.ErrInjected, 0, 0},
		{"commitments query", func(r *rig) { failQuery(r.chain, "Commitments") }, "commit", workertest.ErrInjected, 0, 0},
		{"store", func(r *rig) { r.store.Fail = workertest.ErrInjected }, "checkpoint at step 0", workertest.ErrInjected, 0, 0},
		{"other weights on chain", func(r *rig) {
			r.chain.AddCommitment(types.Commitment{TaskId: r.tiny.Task.Id, Miner: r.chain.Addr.String(), Step: 4, WeightsHash: make([]byte, 32),
				OptimizerHash: make([]byte, 32), Height: 1})
		}, "the chain holds weights", nil, -1, 0},
		{"result refused", func(r *rig) { failOn[*types.MsgSubmitResult](r.chain) }, "result", workertest.ErrInjected, -2, 0},
		{"lottery query", func(r *rig) { failQuery(r.chain, "Lottery") }, "", context.DeadlineExceeded, -2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			tc.setup(r)
			m := r.miner(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			task := r.tiny.Task
			err := m.RunJob(ctx, &task, 0, false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("error %v, expected one with %q matching %v", err, tc.want, tc.is)
			}
			r.chain.Fail(nil)
			want := tc.commitments
			if want == -2 {
				want = len(r.weights)
			}
			if n := len(workertest.Msgs[*types.MsgCommitCheckpoint](r.chain)); want != -1 && n != want {
				t.Fatalf("%d commitments posted, expected %d", n, want)
			}
			if n := len(workertest.Msgs[*types.MsgSubmitResult](r.chain)); n != tc.results {
				t.Fatalf("%d results, expected %d", n, tc.results)
			}
			if m.Stats.JobsDone.Load() != 0 || len(m.Stats.current) != 0 {
				t.Fatal("a failed job counted as done or left on the status line")
			}
		})
	}
}

func TestProofsRefusedResultStillSubmitted(t *testing.T) {
	r := newRig(t)
	failOn[*types.MsgSubmitProof](r.chain)
	m := r.miner(t)
	if err := r.run(t, m, false); err != nil {
		t.Fatal(err)
	}
	if m.Stats.ProofsSubmitted.Load() != 0 || len(workertest.Msgs[*types.MsgSubmitResult](r.chain)) != 1 {
		t.Fatalf("submitted %d proofs; results %d", m.Stats.ProofsSubmitted.Load(), len(workertest.Msgs[*types.MsgSubmitResult](r.chain)))
	}
}

// TestRunSchedules runs the daemon: it bonds (declaring its devices),
// claims one job at a time (MaxJobs 1) and works every open job of the
// task, with the status line reading progress while jobs train (go test
// -race checks the status fields).
func TestRunSchedules(t *testing.T) {
	r := newRig(t)
	r.cfg.StatusEvery, r.cfg.Poll = time.Millisecond, 5*time.Millisecond
	m := r.miner(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	var runErr error
	go func() { defer wg.Done(); runErr = m.Run(ctx) }()
	jobs := uint64(r.tiny.Task.Cv.Folds)
	for m.Stats.JobsDone.Load() < jobs && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if runErr != nil || m.Stats.JobsDone.Load() != jobs {
		t.Fatalf("run: %v, %d jobs done of %d", runErr, m.Stats.JobsDone.Load(), jobs)
	}
	regs := workertest.Msgs[*types.MsgRegisterWorker](r.chain)
	if len(regs) != 1 || regs[0].Role != types.WORKER_ROLE_MINER || len(regs[0].Devices) != 1 || regs[0].Devices[0] != r.cfg.Devices[0] {
		t.Fatalf("registrations %v", regs)
	}
	if n := len(workertest.Msgs[*types.MsgClaimJob](r.chain)); n != int(jobs) {
		t.Fatalf("%d claims for %d jobs", n, jobs)
	}

	// A chain error while scheduling is returned (Run logs it and polls
	// again), and no job starts.
	failQuery(r.chain, "Tasks")
	var wg2 sync.WaitGroup
	if err := m.schedule(context.Background(), &wg2); !errors.Is(err, workertest.ErrInjected) {
		t.Fatalf("schedule: %v", err)
	}
	wg2.Wait()
}

// fullDisk is a store that refuses every put while full is set (a disk
// with no space left).
type fullDisk struct {
	*workertest.Store
	full atomic.Bool
	hits atomic.Int32
}

func (d *fullDisk) PutOwnCheckpoint(key p2p.CkptKey, b []byte) error {
	if d.full.Load() {
		d.hits.Add(1)
		return errors.New("write /store/tmp/put-1: no space left on device")
	}
	return d.Store.PutOwnCheckpoint(key, b)
}

func (d *fullDisk) PutModel(b []byte) ([]byte, error) {
	if d.full.Load() {
		d.hits.Add(1)
		return nil, errors.New("write /store/tmp/put-2: no space left on device")
	}
	return d.Store.PutModel(b)
}

// Regression (docs/FAULTS.md, row 7a): a job that failed on a full disk was
// never tried again by the daemon, although it still held the claim: the
// claim lapsed at its training deadline (claim_lapse_slash_bps burned) even
// once space was freed; and the miner went on claiming open jobs that
// failed the same way, each lapsing in turn. A failed job whose claim is
// still the miner's is now resumed after retryAfter, and no new job is
// claimed within retryAfter of a failure.
func TestRunRetriesFailedClaimedJob(t *testing.T) {
	r := newRig(t)
	r.cfg.Poll = 5 * time.Millisecond
	disk := &fullDisk{Store: r.store}
	disk.full.Store(true)
	m, err := New(r.cfg, r.chain, r.tiny.Datasets, disk, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	m.commitRetry, m.anchorPoll, m.retryAfter = time.Millisecond, time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = m.Run(ctx) }()
	// The first job claimed fails on the full disk; no other job is
	// claimed meanwhile (it would fail the same way and its claim lapse);
	// the space comes back.
	for disk.hits.Load() == 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(workertest.Msgs[*types.MsgClaimJob](r.chain)); n != 1 {
		t.Fatalf("%d jobs claimed while the disk was full; want only the one that failed", n)
	}
	disk.full.Store(false)
	jobs := uint64(len(r.tiny.Jobs()))
	for m.Stats.JobsDone.Load() < jobs && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if m.Stats.JobsDone.Load() != jobs {
		t.Fatalf("%d of %d jobs done: the job that failed on the full disk was not resumed", m.Stats.JobsDone.Load(), jobs)
	}
	claims := map[uint32]int{}
	for _, c := range workertest.Msgs[*types.MsgClaimJob](r.chain) {
		claims[c.JobIndex]++
	}
	for j, n := range claims {
		if n != 1 {
			t.Fatalf("job %d claimed %d times: a retry resumes the claim it holds", j, n)
		}
	}
	r.checkCommitments(t) // job 0: every commitment once, the honest run's
}

// TestClaimLostJobClaimedWhenOpenAgain: a job whose claim this miner lost
// is not marked failed: once it is open again (the other miner's claim
// lapsed) the next scheduling round claims and trains it.
func TestClaimLostJobClaimedWhenOpenAgain(t *testing.T) {
	r := newRig(t)
	for _, j := range r.tiny.Jobs()[1:] {
		j.Status = types.JOB_STATUS_SETTLED
		r.chain.SetJob(j)
	}
	// The claim tx is refused and the job is not this miner's: a lost claim.
	failOn[*types.MsgClaimJob](r.chain)
	m := r.miner(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	if err := m.schedule(ctx, &wg); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := len(workertest.Msgs[*types.MsgClaimJob](r.chain)); n != 0 {
		t.Fatalf("%d claims landed while refused", n)
	}
	r.chain.Fail(nil)
	if err := m.schedule(ctx, &wg); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := len(workertest.Msgs[*types.MsgClaimJob](r.chain)); n != 1 || m.Stats.JobsDone.Load() != 1 {
		t.Fatalf("after the job opened again: %d claims, %d jobs done; want 1 and 1", n, m.Stats.JobsDone.Load())
	}
}
