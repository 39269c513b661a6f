// Package miner is the mining daemon (`pouwd miner start`): it bonds as a
// miner, claims open jobs it can run within its memory budget, trains each
// with the engine exactly as package jobspec prescribes, commits its
// weights and optimizer hashes at step 0 and every commit_interval steps,
// keeps (and serves, through a p2p.Store) the checkpoint behind every
// commitment, draws the lottery tickets of every step against the
// commitment's anchor, submits
// the winning proofs, measures the final model on the held-out fold and
// submits the result (model hash = SHA-256 of ml.SaveModel's bytes, fold
// metrics in ppm).
//
// Order of work on one job. Training never waits for the chain: the
// commitments are posted by a per-job committer in order (several in one
// tx when training is ahead), and each step's four hashes are kept until
// its commitment's anchor (the header hash of the block after the
// commitment's) exists; then its tickets are scanned with pouw.FirstWinner
// against the chain's current target. Proofs need a live claim, so every
// proof is submitted before the result.
//
// Step hashes are computed on background goroutines while the next step
// trains (ml.Trainer.HashInBackground), so they cost spare cores rather
// than training time; each step reaches the miner's hook one step late.
//
// Resume. After a crash the miner finds its live claims, reads its last
// commitment on each and resumes training from the checkpoint it stored
// for it (ml.ResumeTrainer: the same bits as a run that never stopped).
// The lottery of the steps before that commitment is drawn from the step
// journal (Config.StateDir), where every step's hashes were recorded.
//
// Serving. The miner's p2p.Store holds its checkpoints under the
// commitment's key (task, job, weights hash, optimizer hash: both hashes
// are on chain, so the optimizer state cannot be picked after the lottery
// anchor is known) and its models under their SHA-256; the daemon serves
// them with the p2p checkpoint and model protocols from the peer id and
// addresses it registers with its bond (verifier.P2PFetcher fetches them).
// Datasets come from a Datasets: a prepared directory or, in the daemon,
// the storage ring over libp2p (P2PDatasets).
//
// It must never submit a step it did not compute (except through the
// explicit Attack hooks, which exist only for tests), never reuse a
// digest, and never let a chain error stop other jobs.
package miner

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Attack hooks let tests build dishonest miners. Nil hooks are honest.
type Attack struct {
	// Step may change the hashes the miner reports for a step (e.g. a
	// fabricated gradient hash) before the lottery is drawn on them.
	Step func(job uint32, step uint64, h *pouw.StepHashes)
	// Job may change the job before training (e.g. a batch seed that is
	// not the seeded one).
	Job func(j *jobspec.Job)
	// Checkpoint may change the bytes served for the commitment at step
	// (the commitment itself stays the honest weights hash).
	Checkpoint func(step uint64, b []byte) []byte
	// Metrics may change the metrics claimed in the result.
	Metrics func(m *types.FoldMetrics)
}

// Config configures a Miner. The shared fields (Poll, PeerID, Multiaddrs,
// Devices, Logger; StateDir keeps the step journals: empty, and a
// restarted miner cannot draw the lottery of steps before its last
// commitment) are worker.Config's.
type Config struct {
	worker.Config
	// MaxJobs is the number of jobs trained at once (default 1).
	MaxJobs int
	// Budget bounds the memory a job may need (model + optimizer + data).
	Budget accel.Budget
	// MaxProofsPerJob caps the proofs submitted per job (0: all winners).
	MaxProofsPerJob int
	// StatusEvery is the period of the status log line (0: none).
	StatusEvery time.Duration
	// Tasks restricts the miner to these task ids (empty: all).
	Tasks  []uint64
	Attack Attack
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Config: worker.DefaultConfig(), MaxJobs: 1, Budget: accel.CPUBudget(0.8), StatusEvery: 5 * time.Second}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.MaxJobs < 1 || c.MaxProofsPerJob < 0 {
		return fmt.Errorf("miner: max jobs %d, max proofs %d: expected >= 1, >= 0", c.MaxJobs, c.MaxProofsPerJob)
	}
	if err := c.Config.Validate("miner"); err != nil {
		return err
	}
	return c.Budget.Validate()
}

// Stats are the miner's counters (the status line and metrics).
type Stats struct {
	JobsDone, Steps, Samples, TicketsDrawn, ProofsWon, ProofsSubmitted, Commitments atomic.Uint64
	mu                                                                              sync.Mutex
	current                                                                         map[[2]uint64]*jobStatus
}

type jobStatus struct {
	step, total uint64
	loss        float32
	start       time.Time
}

// Miner is the daemon.
type Miner struct {
	cfg      Config
	chain    Chain
	datasets worker.Datasets
	store    Store
	backend  accel.Backend
	log      *slog.Logger
	Stats    Stats

	mu      sync.Mutex
	running map[[2]uint64]bool
	failed  map[[2]uint64]bool
}

// New builds a miner.
func New(cfg Config, chain Chain, datasets worker.Datasets, store Store, backend accel.Backend) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Miner{cfg: cfg, chain: chain, datasets: datasets, store: store, backend: backend,
		log: cfg.Logger.With("miner", chain.Address().String()), running: map[[2]uint64]bool{}, failed: map[[2]uint64]bool{}}
	m.Stats.current = map[[2]uint64]*jobStatus{}
	return m, nil
}

// Store is where the miner keeps what it serves.
func (m *Miner) Store() Store { return m.store }

// EnsureBonded registers the miner with the minimum bond when it is not a
// bonded miner with at least the minimum yet (worker.EnsureBonded).
func (m *Miner) EnsureBonded(ctx context.Context) error {
	return worker.EnsureBonded(ctx, m.chain, types.WORKER_ROLE_MINER, m.cfg.Config, m.log)
}

// Run bonds, then claims and trains jobs until ctx ends.
func (m *Miner) Run(ctx context.Context) error {
	if err := m.EnsureBonded(ctx); err != nil {
		return fmt.Errorf("miner: bond: %w", err)
	}
	if m.cfg.StatusEvery > 0 {
		go m.statusLoop(ctx)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(m.cfg.Poll)
	defer t.Stop()
	for {
		if err := m.schedule(ctx, &wg); err != nil && ctx.Err() == nil {
			m.log.Warn("scheduling", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (m *Miner) wantTask(id uint64) bool {
	if len(m.cfg.Tasks) == 0 {
		return true
	}
	for _, t := range m.cfg.Tasks {
		if t == id {
			return true
		}
	}
	return false
}

// schedule resumes live claims of this miner and claims open jobs while
// fewer than MaxJobs run.
func (m *Miner) schedule(ctx context.Context, wg *sync.WaitGroup) error {
	me := m.chain.Address().String()
	var tasks []types.Task
	for _, st := range []types.TaskStatus{types.TASK_STATUS_OPEN, types.TASK_STATUS_TRAINING} {
		res, err := m.chain.Tasks(ctx, &types.QueryTasksRequest{Status: st})
		if err != nil {
			return err
		}
		tasks = append(tasks, res.Tasks...)
	}
	for i := range tasks {
		task := &tasks[i]
		if len(task.FoldSeed) != 32 || !m.wantTask(task.Id) {
			continue
		}
		jobs, err := m.chain.TaskJobs(ctx, &types.QueryTaskJobsRequest{TaskId: task.Id})
		if err != nil {
			return err
		}
		for _, j := range jobs.Jobs {
			key := [2]uint64{task.Id, uint64(j.Index)}
			m.mu.Lock()
			busy, failed, n := m.running[key], m.failed[key], len(m.running)
			m.mu.Unlock()
			if busy || failed {
				continue
			}
			mine := j.Status == types.JOB_STATUS_CLAIMED && j.Miner == me
			if !mine && (j.Status != types.JOB_STATUS_OPEN || n >= m.cfg.MaxJobs) {
				continue
			}
			m.mu.Lock()
			m.running[key] = true
			m.mu.Unlock()
			wg.Add(1)
			go func(task types.Task, index uint32, resume bool) {
				defer wg.Done()
				err := m.RunJob(ctx, &task, index, resume)
				m.mu.Lock()
				delete(m.running, key)
				if err != nil {
					m.failed[key] = true
				}
				m.mu.Unlock()
				if err != nil && ctx.Err() == nil {
					if errors.Is(err, errClaimLost) {
						m.log.Info("job taken by another miner", "task", task.Id, "job", index)
					} else {
						m.log.Error("job failed", "task", task.Id, "job", index, "err", err)
					}
				}
			}(*task, j.Index, mine)
		}
	}
	return nil
}

var errClaimLost = errors.New("claimed by another miner")

// commit is one commitment to post.
type commit struct {
	step uint64
	hash ml.Hash
	opt  ml.Hash // ml.OptimizerHash of the trainer's optimizer state
}

// interval holds the steps that descend from one commitment.
type interval struct {
	commitStep uint64
	height     int64 // inclusion height of the commitment (0 until known)
	steps      []stepRecord
}

type stepRecord struct {
	step   uint64
	hashes pouw.StepHashes
}

// RunJob claims (unless resume) and works one job to its result.
func (m *Miner) RunJob(ctx context.Context, task *types.Task, index uint32, resume bool) error {
	log := m.log.With("task", task.Id, "job", index)
	me := m.chain.Address()
	params, err := m.chain.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		return err
	}
	p := params.Params
	dsRec, err := m.chain.Dataset(ctx, &types.QueryDatasetRequest{Id: task.DatasetId})
	if err != nil {
		return fmt.Errorf("dataset %d: %w", task.DatasetId, err)
	}
	ds, err := m.datasets.Dataset(ctx, &dsRec.Dataset)
	if err != nil {
		return err
	}
	job, err := jobspec.Prepare(task, index, ds)
	if err != nil {
		return err
	}
	if m.cfg.Attack.Job != nil {
		m.cfg.Attack.Job(job)
	}
	model, err := job.NewModel()
	if err != nil {
		return err
	}
	need := model.EstimateMemory(job.Config.BatchSize, 2) + uint64(len(job.Train.X)+len(job.HeldOut.X))*4
	if err := m.cfg.Budget.Check(fmt.Sprintf("task %d job %d (%s)", task.Id, index, job.ModelSpec), need); err != nil {
		return err
	}
	var tr *ml.Trainer
	lastCommitted := int64(-1)
	if resume {
		tr, lastCommitted, err = m.resume(ctx, task.Id, index, job)
		if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		log.Info("resuming from checkpoint", "step", lastCommitted)
	} else {
		if _, err := m.chain.Broadcast(ctx, &types.MsgClaimJob{Miner: me.String(), TaskId: task.Id, JobIndex: index}); err != nil {
			if j, qerr := m.chain.Job(ctx, &types.QueryJobRequest{TaskId: task.Id, JobIndex: index}); qerr == nil && j.Job.Miner != me.String() {
				return fmt.Errorf("%w: %v", errClaimLost, err)
			}
			return fmt.Errorf("claim: %w", err)
		}
		log.Info("claimed", "model", job.ModelSpec, "train", job.Train.N, "held_out", job.HeldOut.N)
		if tr, err = ml.NewTrainer(model, job.Train, job.Config, m.backend); err != nil {
			return err
		}
	}
	total := tr.TotalSteps()
	key := [2]uint64{task.Id, uint64(index)}
	js := &jobStatus{total: total, start: time.Now()}
	m.Stats.mu.Lock()
	m.Stats.current[key] = js
	m.Stats.mu.Unlock()
	defer func() {
		m.Stats.mu.Lock()
		delete(m.Stats.current, key)
		m.Stats.mu.Unlock()
	}()

	c := p.CommitInterval
	tickets := pouw.TicketCount(p.OmegaBE9, p.OmegaME9, uint64(job.Config.BatchSize), uint64(tr.Model.NumParams()), p.MaxTicketsPerStep)

	// The committer posts commitments in order and records their heights.
	var (
		imu       sync.Mutex
		intervals []*interval
		queue     = make(chan commit, 1024)
		commitErr error
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		for first := range queue {
			batch := []commit{first}
		drain:
			for len(batch) < 32 {
				select {
				case x, ok := <-queue:
					if !ok {
						break drain
					}
					batch = append(batch, x)
				default:
					break drain
				}
			}
			heights, err := m.post(ctx, task.Id, index, batch)
			if err != nil {
				commitErr = fmt.Errorf("commit: %w", err)
				for range queue {
				}
				return
			}
			imu.Lock()
			for _, iv := range intervals {
				if h, ok := heights[iv.commitStep]; ok {
					iv.height = h
				}
			}
			imu.Unlock()
			m.Stats.Commitments.Add(uint64(len(batch)))
		}
	}()

	var cur *interval
	if lastCommitted >= 0 {
		cm, err := m.commitments(ctx, task.Id, index)
		if err != nil {
			return err
		}
		// Steps trained before the crash, up to the last commitment, are
		// not retrained: their lottery is drawn from the journal.
		if intervals, err = m.journaled(task.Id, index, c, uint64(lastCommitted), cm); err != nil {
			return err
		}
		cur = &interval{commitStep: uint64(lastCommitted), height: cm[uint64(lastCommitted)].Height}
		intervals = append(intervals, cur)
	}
	var jr *journal
	if m.cfg.StateDir != "" {
		if jr, err = openJournal(m.cfg.StateDir, task.Id, index); err != nil {
			return err
		}
		defer jr.close()
	}
	hook := func(s ml.StepInfo) error {
		h := jobspec.StepHashes(s)
		if m.cfg.Attack.Step != nil {
			m.cfg.Attack.Step(index, s.Step, &h)
		}
		// Background hashing delivers a step after the loop below has
		// opened the next interval: file it by its step, not by "current".
		imu.Lock()
		iv := cur
		for k := len(intervals) - 1; k >= 0; k-- {
			if intervals[k].commitStep <= s.Step {
				iv = intervals[k]
				break
			}
		}
		iv.steps = append(iv.steps, stepRecord{step: s.Step, hashes: h})
		imu.Unlock()
		if jr != nil {
			// Flushed once an interval is whole: a kill loses at most the
			// steps after the last commitment, which are trained again.
			err := jr.add(s.Step, h)
			if err == nil && (s.Step+1)%c == 0 {
				err = jr.flush()
			}
			if err != nil {
				return fmt.Errorf("step journal: %w", err)
			}
		}
		js.loss = s.Loss
		js.step = s.Step + 1
		m.Stats.Steps.Add(1)
		m.Stats.Samples.Add(uint64(len(s.Indices)))
		return nil
	}
	// The checkpointer hashes, writes and stores each commitment's snapshot
	// in order and hands the commitment to the committer; training goes on
	// meanwhile (it only pays for the snapshot's copy).
	snaps := make(chan *ml.Checkpoint, 64)
	var ckptErr error
	go func() {
		defer close(queue)
		for snap := range snaps {
			if ckptErr != nil || ctx.Err() != nil {
				continue // drain
			}
			key, err := m.storeSnapshot(task.Id, index, snap)
			if err != nil {
				ckptErr = fmt.Errorf("checkpoint at step %d: %w", snap.Header.Step, err)
				continue
			}
			queue <- commit{step: snap.Header.Step, hash: key.WeightsHash, opt: key.OptimizerHash}
		}
	}()
	stop := func() {
		close(snaps)
		<-done
	}
	// Step hashes are computed on background goroutines while the next
	// step trains (ml.Trainer.HashInBackground): the same bits, without
	// the hashing in training's critical path when a core is spare.
	tr.HashInBackground()
	for !tr.Done() {
		if err := ctx.Err(); err != nil {
			stop()
			return err
		}
		step := tr.StepIndex()
		if step%c == 0 && int64(step) != lastCommitted {
			imu.Lock()
			cur = &interval{commitStep: step}
			intervals = append(intervals, cur)
			imu.Unlock()
			snaps <- tr.Snapshot()
		}
		if _, err := tr.Step(hook); err != nil {
			stop()
			return fmt.Errorf("step %d: %w", step, err)
		}
	}
	if err := tr.Flush(hook); err != nil {
		stop()
		return err
	}
	stop()
	if err := errors.Join(ckptErr, commitErr); err != nil {
		return err
	}
	log.Info("trained", "steps", total, "loss", js.loss, "commitments", len(intervals))

	// Lottery: scan every interval against its anchor, then submit.
	var proofs []sdk.Msg
	for _, iv := range intervals {
		anchorHeight := iv.height + 1
		// The anchor is the header hash of the block after the
		// commitment's: wait for it.
		var lot *types.QueryLotteryResponse
		if err := worker.Retry(ctx, 0, 300*time.Millisecond, func() error {
			var err error
			if lot, err = m.chain.Lottery(ctx, &types.QueryLotteryRequest{AnchorHeight: anchorHeight}); err == nil && len(lot.Anchor) != 32 {
				err = fmt.Errorf("no anchor at height %d yet", anchorHeight)
			}
			return err
		}); err != nil {
			return err
		}
		target, err := pouw.ParseTarget(lot.Target)
		if err != nil {
			return err
		}
		for _, s := range iv.steps {
			if m.cfg.MaxProofsPerJob > 0 && len(proofs) >= m.cfg.MaxProofsPerJob {
				break
			}
			d, err := pouw.WorkDigest(pouw.JobID{TaskID: task.Id, JobIndex: index}, me, s.step, s.hashes)
			if err != nil {
				return err
			}
			m.Stats.TicketsDrawn.Add(tickets)
			j, ok := pouw.FirstWinner(d, lot.Anchor, tickets, target)
			if !ok {
				continue
			}
			m.Stats.ProofsWon.Add(1)
			h := s.hashes
			proofs = append(proofs, &types.MsgSubmitProof{Miner: me.String(), TaskId: task.Id, JobIndex: index, Step: s.step, CommitStep: iv.commitStep,
				WeightsBefore: h.WeightsBefore[:], Batch: h.Batch[:], Gradients: h.Gradients[:], WeightsAfter: h.WeightsAfter[:],
				ParamCount: uint64(tr.Model.NumParams()), TicketIndex: j})
		}
	}
	for i := 0; i < len(proofs); i += 16 {
		batch := proofs[i:min(i+16, len(proofs))]
		if _, err := m.chain.Broadcast(ctx, batch...); err != nil {
			log.Warn("proofs refused", "count", len(batch), "err", err)
			continue
		}
		m.Stats.ProofsSubmitted.Add(uint64(len(batch)))
	}
	log.Info("lottery drawn", "winners", len(proofs), "tickets_per_step", tickets)

	// Result: the model's hash and its metrics on the held-out fold.
	metrics, err := jobspec.HeldOutMetrics(tr.Model, job, m.backend)
	if err != nil {
		return err
	}
	if m.cfg.Attack.Metrics != nil {
		m.cfg.Attack.Metrics(&metrics)
	}
	var mb bytes.Buffer
	if err := ml.SaveModel(&mb, tr.Model); err != nil {
		return err
	}
	hash, err := m.store.PutModel(mb.Bytes())
	if err != nil {
		return err
	}
	if _, err := m.chain.Broadcast(ctx, &types.MsgSubmitResult{Miner: me.String(), TaskId: task.Id, JobIndex: index, ModelHash: hash, Metrics: metrics}); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	m.Stats.JobsDone.Add(1)
	log.Info("result submitted", "model", fmt.Sprintf("%x", hash[:8]), "accuracy_ppm", metrics.AccuracyPpm, "f1_ppm", metrics.F1MacroPpm)
	return nil
}

// post commits a batch, skipping what the chain already holds (a tx of an
// earlier run or try that landed late), and returns every step's height.
func (m *Miner) post(ctx context.Context, task uint64, index uint32, batch []commit) (map[uint64]int64, error) {
	heights := map[uint64]int64{}
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var rest []commit
		var held map[uint64]int64
		if rest, held, err = m.onChain(ctx, task, index, batch); err != nil {
			return nil, err
		}
		for s, h := range held {
			heights[s] = h
		}
		if len(rest) == 0 {
			return heights, nil
		}
		msgs := make([]sdk.Msg, len(rest))
		for i, x := range rest {
			msgs[i] = &types.MsgCommitCheckpoint{Miner: m.chain.Address().String(), TaskId: task, JobIndex: index, Step: x.step, WeightsHash: x.hash[:], OptimizerHash: x.opt[:]}
		}
		res, berr := m.chain.Broadcast(ctx, msgs...)
		if berr == nil {
			for _, x := range rest {
				heights[x.step] = res.Height
			}
			return heights, nil
		}
		err = berr
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		m.log.Warn("commitment refused; re-reading the chain's commitments", "task", task, "job", index, "err", berr)
		batch = rest
		time.Sleep(2 * time.Second)
	}
	return nil, err
}

// onChain splits a batch of commitments into those still to post and the
// heights of those the chain already holds (from an earlier run); a held
// commitment with another hash is an error.
func (m *Miner) onChain(ctx context.Context, task uint64, index uint32, batch []commit) ([]commit, map[uint64]int64, error) {
	cm, err := m.commitments(ctx, task, index)
	if err != nil {
		return nil, nil, err
	}
	heights := map[uint64]int64{}
	var rest []commit
	for _, x := range batch {
		c, ok := cm[x.step]
		switch {
		case !ok:
			rest = append(rest, x)
		case !bytes.Equal(c.WeightsHash, x.hash[:]):
			return nil, nil, fmt.Errorf("the chain holds weights %x at step %d, this run has %x", c.WeightsHash, x.step, x.hash[:])
		default:
			heights[x.step] = c.Height
		}
	}
	return rest, heights, nil
}

// commitments returns this miner's commitments on a job by step.
func (m *Miner) commitments(ctx context.Context, task uint64, index uint32) (map[uint64]types.Commitment, error) {
	res, err := m.chain.Commitments(ctx, &types.QueryCommitmentsRequest{TaskId: task, JobIndex: index})
	if err != nil {
		return nil, err
	}
	out := map[uint64]types.Commitment{}
	for _, c := range res.Commitments {
		if c.Miner == m.chain.Address().String() {
			out[c.Step] = c
		}
	}
	return out, nil
}

// storeSnapshot hashes a commitment's snapshot (weights and optimizer
// state), writes it and puts it in the store under its key.
func (m *Miner) storeSnapshot(task uint64, index uint32, snap *ml.Checkpoint) (p2p.CkptKey, error) {
	key := p2p.CkptKey{TaskID: task, JobIndex: index, WeightsHash: ml.HashTensors(ml.DomainWeights, snap.Weights),
		OptimizerHash: ml.HashTensors(ml.DomainOptim, snap.Optim)}
	snap.Header.WeightsSHA256 = hex.EncodeToString(key.WeightsHash[:])
	var buf bytes.Buffer
	if err := snap.Write(&buf); err != nil {
		return key, err
	}
	if m.cfg.Attack.Checkpoint != nil {
		return key, m.store.PutCheckpointUnverified(key, m.cfg.Attack.Checkpoint(snap.Header.Step, buf.Bytes()))
	}
	// The store parses the bytes again and checks both hashes, so a
	// serialisation bug can never be served (and committed) silently.
	return key, m.store.PutCheckpoint(key, buf.Bytes(), worker.VerifyCheckpoint)
}

// journaled rebuilds the intervals before the commitment at last from the
// step journal: each journaled step before last goes to the interval of
// its commitment (step - step % interval), with that commitment's height.
// Steps of an interval whose commitment is not on chain are dropped.
func (m *Miner) journaled(task uint64, index uint32, every, last uint64, cm map[uint64]types.Commitment) ([]*interval, error) {
	if m.cfg.StateDir == "" {
		return nil, nil
	}
	recs, err := readJournal(m.cfg.StateDir, task, index)
	if err != nil {
		return nil, err
	}
	steps := make([]uint64, 0, len(recs))
	for s := range recs {
		if s < last {
			steps = append(steps, s)
		}
	}
	slices.Sort(steps)
	var out []*interval
	for _, s := range steps {
		cs := s - s%every
		c, ok := cm[cs]
		if !ok {
			continue
		}
		if len(out) == 0 || out[len(out)-1].commitStep != cs {
			out = append(out, &interval{commitStep: cs, height: c.Height})
		}
		iv := out[len(out)-1]
		iv.steps = append(iv.steps, stepRecord{step: s, hashes: recs[s]})
	}
	if len(out) > 0 {
		m.log.Info("lottery of steps before the restart drawn from the step journal", "task", task, "job", index, "steps", len(steps), "intervals", len(out))
	}
	return out, nil
}

// resume rebuilds the trainer from the checkpoint of the last commitment.
func (m *Miner) resume(ctx context.Context, task uint64, index uint32, job *jobspec.Job) (*ml.Trainer, int64, error) {
	cm, err := m.commitments(ctx, task, index)
	if err != nil {
		return nil, 0, err
	}
	if len(cm) == 0 {
		model, err := job.NewModel()
		if err != nil {
			return nil, 0, err
		}
		tr, err := ml.NewTrainer(model, job.Train, job.Config, m.backend)
		return tr, -1, err
	}
	var last uint64
	for s := range cm {
		last = max(last, s)
	}
	c := cm[last]
	key, err := p2p.CommitmentKey(&c)
	if err != nil {
		return nil, 0, err
	}
	b, err := m.store.Checkpoint(key)
	if err != nil {
		return nil, 0, err
	}
	// The same check a verifier makes: both committed hashes.
	ck, err := ml.VerifyCheckpoint(b, key.WeightsHash, key.OptimizerHash)
	if err != nil {
		return nil, 0, fmt.Errorf("stored checkpoint of the commitment at step %d: %w", last, err)
	}
	tr, err := ml.ResumeTrainer(ck, job.Train, m.backend)
	if err != nil {
		return nil, 0, err
	}
	if tr.StepIndex() != last {
		return nil, 0, fmt.Errorf("stored checkpoint is at step %d, the commitment at step %d", tr.StepIndex(), last)
	}
	return tr, int64(last), nil
}

func (m *Miner) statusLoop(ctx context.Context) {
	t := time.NewTicker(m.cfg.StatusEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.Stats.mu.Lock()
		for k, js := range m.Stats.current {
			sps := 0.0
			if el := time.Since(js.start).Seconds(); el > 0 {
				sps = float64(js.step) / el
			}
			m.log.Info("status", "task", k[0], "job", k[1], "step", js.step, "of", js.total, "loss", js.loss, "steps_per_s", fmt.Sprintf("%.1f", sps),
				"tickets", m.Stats.TicketsDrawn.Load(), "won", m.Stats.ProofsWon.Load(), "submitted", m.Stats.ProofsSubmitted.Load())
		}
		m.Stats.mu.Unlock()
	}
}
