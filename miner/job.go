package miner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// jobKey names a job of a task.
type jobKey struct {
	task  uint64
	index uint32
}

var errClaimLost = errors.New("claimed by another miner")

// commit is one commitment to post.
type commit struct {
	step  uint64
	hash  ml.Hash
	opt   ml.Hash   // ml.OptimizerHash of the trainer's optimizer state
	start time.Time // when its step began (the commitment duration metric)
}

// interval holds the steps that descend from one commitment.
type interval struct {
	commitStep uint64
	height     int64 // inclusion height of the commitment (0 until known)
	steps      []stepRecord
}

type stepRecord struct {
	step  uint64
	parts pouw.StepParts
}

// job is one job's work, from the claim (or the resume of a live claim) to
// the result, in four phases run in order by RunJob: prepare, train, draw,
// submit. Its state is its own; only training runs goroutines beside it
// (a checkpointer and a committer, each owning its state, over channels).
type job struct {
	m      *Miner
	key    jobKey
	task   *types.Task
	resume bool
	log    *slog.Logger

	// Set by prepare.
	params types.Params
	spec   *jobspec.Job
	tr     *ml.Trainer
	// last is the step of the commitment training resumes after (-1: a
	// fresh start), prior the intervals before it, drawn from the journal.
	last  int64
	prior []*interval
	// status is what the status line shows.
	status *jobStatus
	// tokensPerSample is the sequence length of a sequence model's
	// samples (the tokens metric), 1 for other models.
	tokensPerSample uint64
	// report is the job's run report (Config.ReportDir; nil when off).
	report *jobReport
	// release detaches and frees a resident device run (Config.Place).
	release func() error
}

func (m *Miner) newJob(task *types.Task, index uint32, resume bool) *job {
	return &job{m: m, key: jobKey{task.Id, index}, task: task, resume: resume, last: -1,
		log: m.log.With("task", task.Id, "job", index)}
}

// RunJob claims (unless resume) and works one job to its result.
func (m *Miner) RunJob(ctx context.Context, task *types.Task, index uint32, resume bool) (err error) {
	j := m.newJob(task, index, resume)
	state := ""
	move := func(to string) { m.Metrics.enter(state, to); state = to }
	defer func() {
		j.finishReport(err)
		move("")
		switch {
		case err == nil:
			m.Metrics.finished.WithLabelValues(outcomeDone).Inc()
		case ctx.Err() != nil, errors.Is(err, errClaimLost):
			// Shutting down, or never this miner's job: not a failure.
		default:
			m.Metrics.finished.WithLabelValues(outcomeFailed).Inc()
		}
	}()
	if err := j.prepare(ctx); err != nil {
		return err
	}
	defer m.Stats.untrack(j.key)
	move(stateTraining)
	intervals, err := j.train(ctx)
	if j.release != nil {
		// The trained state back on the host (the held-out metrics and
		// the model read it) and the device's memory freed.
		err = errors.Join(err, j.release())
	}
	if err != nil {
		return err
	}
	move(stateProving)
	proofs, err := j.draw(ctx, intervals)
	if err != nil {
		return err
	}
	return j.submit(ctx, proofs)
}

// prepare reads the parameters and the dataset, rebuilds the job
// (jobspec), checks it fits the memory budget, and claims it or, on
// resume, rebuilds the trainer from the checkpoint of the last commitment
// and the intervals before it from the step journal.
func (j *job) prepare(ctx context.Context) error {
	m, task := j.m, j.task
	params, err := m.chain.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		return err
	}
	j.params = params.Params
	if j.params.CommitInterval == 0 {
		return fmt.Errorf("chain commit interval is 0")
	}
	dsRec, err := m.chain.Dataset(ctx, &types.QueryDatasetRequest{Id: task.DatasetId})
	if err != nil {
		return fmt.Errorf("dataset %d: %w", task.DatasetId, err)
	}
	ds, err := m.datasets.Dataset(ctx, &dsRec.Dataset)
	if err != nil {
		return err
	}
	if j.spec, err = jobspec.Prepare(task, j.key.index, ds); err != nil {
		return err
	}
	if m.cfg.Attack.Job != nil {
		m.cfg.Attack.Job(j.spec)
	}
	model, err := j.spec.NewModel()
	if err != nil {
		return err
	}
	what := fmt.Sprintf("task %d job %d", task.Id, j.key.index)
	recompute, resident, err := m.fitJob(model, j.spec, what)
	if err != nil {
		return err
	}
	if j.resume {
		if err := j.resumeFromCommitment(ctx); err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		j.log.Info("resuming from checkpoint", "step", j.last)
	} else {
		if err := j.claim(ctx); err != nil {
			return err
		}
		j.log.Info("claimed", "model", j.spec.ModelSpec, "train", j.spec.Train.N, "held_out", j.spec.HeldOut.N)
		if j.tr, err = ml.NewTrainer(model, j.spec.Train, j.spec.Config, m.backend); err != nil {
			return err
		}
	}
	if recompute > 0 {
		// The same bits with less memory: a local choice, like threads.
		if err := j.tr.Model.SetRecompute(recompute); err != nil {
			return err
		}
		j.log.Info("recomputing activations to fit the memory budget", "every_blocks", recompute)
	}
	if m.cfg.Place != nil {
		if j.release, err = m.cfg.Place(j.tr); err != nil {
			return fmt.Errorf("place the training on the device: %w", err)
		}
	}
	if resident && j.release == nil {
		// Expected resident, placed on the host path after all (Place's
		// note says why): the host holds the whole step.
		if recompute, err = fitMemory(j.tr.Model, j.spec.Config, m.backend.Threads(), m.cfg.Budget, what, hostData(j.spec)); err != nil {
			return err
		}
		if recompute > 0 {
			j.log.Info("recomputing activations to fit the memory budget", "every_blocks", recompute)
		}
	}
	j.status = m.Stats.track(j.key, j.tr.TotalSteps())
	j.tokensPerSample = 1
	if c := task.Configs[j.spec.ConfigIndex]; c.Architecture == "transformer" && len(j.spec.Train.Shape) > 0 {
		// A text sample is a sequence of tokens (shape [length]); images
		// (cnn, resnet, vit) and feature rows (mlp) count as one each.
		j.tokensPerSample = uint64(j.spec.Train.Shape[0])
	}
	j.startReport(ctx, &dsRec.Dataset)
	return nil
}

func (j *job) claim(ctx context.Context) error {
	me := j.m.chain.Address().String()
	if _, err := j.m.chain.Broadcast(ctx, &types.MsgClaimJob{Miner: me, TaskId: j.key.task, JobIndex: j.key.index}); err != nil {
		if cur, qerr := j.m.chain.Job(ctx, &types.QueryJobRequest{TaskId: j.key.task, JobIndex: j.key.index}); qerr == nil && cur.Job.Miner != me {
			return fmt.Errorf("%w: %v", errClaimLost, err)
		}
		return fmt.Errorf("claim: %w", err)
	}
	return nil
}

// resumeFromCommitment rebuilds the trainer from the checkpoint stored for
// the last commitment on chain (none: a fresh trainer) and the intervals
// before it from the step journal.
func (j *job) resumeFromCommitment(ctx context.Context) error {
	m := j.m
	cm, err := j.commitments(ctx)
	if err != nil {
		return err
	}
	if len(cm) == 0 {
		model, err := j.spec.NewModel()
		if err != nil {
			return err
		}
		j.tr, err = ml.NewTrainer(model, j.spec.Train, j.spec.Config, m.backend)
		return err
	}
	last := slices.Max(slices.Collect(maps.Keys(cm)))
	c := cm[last]
	key, err := p2p.CommitmentKey(&c)
	if err != nil {
		return err
	}
	b, err := m.store.Checkpoint(key)
	if err != nil {
		return err
	}
	// The same check a verifier makes: both committed hashes.
	ck, err := ml.VerifyCheckpoint(b, key.WeightsHash, key.OptimizerHash)
	if err != nil {
		return fmt.Errorf("stored checkpoint of the commitment at step %d: %w", last, err)
	}
	tr, err := ml.ResumeTrainer(ck, j.spec.Train, m.backend)
	if err != nil {
		return err
	}
	if tr.StepIndex() != last {
		return fmt.Errorf("stored checkpoint is at step %d, the commitment at step %d", tr.StepIndex(), last)
	}
	j.tr, j.last = tr, int64(last)
	// Steps trained before the crash, up to the last commitment, are not
	// retrained: their lottery is drawn from the journal.
	if j.prior, err = j.journaled(last, cm); err != nil {
		return err
	}
	j.prior = append(j.prior, &interval{commitStep: last, height: c.Height})
	return nil
}

// journaled rebuilds the intervals before the commitment at last from the
// step journal: each journaled step before last goes to the interval of
// its commitment (step - step % interval), with that commitment's height.
// Steps of an interval whose commitment is not on chain are dropped.
func (j *job) journaled(last uint64, cm map[uint64]types.Commitment) ([]*interval, error) {
	dir, every := j.m.cfg.StateDir, j.params.CommitInterval
	if dir == "" {
		return nil, nil
	}
	recs, err := readJournal(dir, j.key.task, j.key.index)
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
		iv.steps = append(iv.steps, stepRecord{step: s, parts: recs[s]})
	}
	if len(out) > 0 {
		j.log.Info("lottery of steps before the restart drawn from the step journal", "steps", len(steps), "intervals", len(out))
	}
	return out, nil
}

// commitments returns this miner's commitments on the job by step.
func (j *job) commitments(ctx context.Context) (map[uint64]types.Commitment, error) {
	res, err := j.m.chain.Commitments(ctx, &types.QueryCommitmentsRequest{TaskId: j.key.task, JobIndex: j.key.index})
	if err != nil {
		return nil, err
	}
	me := j.m.chain.Address().String()
	out := map[uint64]types.Commitment{}
	for _, c := range res.Commitments {
		if c.Miner == me {
			out[c.Step] = c
		}
	}
	return out, nil
}

// train runs the trainer to the end. At every commitment step the trainer
// hashes the state and encodes its checkpoint beside the step's forward
// and backward passes (ml.Trainer.StepCommitting; the hashes start the
// step digests' chain) for the checkpointer, which seals and stores it and
// hands the commitment to the committer, which posts commitments in order;
// training never waits for either. Every step's digest inputs are sampled
// in place, filed in the interval of the commitment they descend from and
// journaled. It returns every interval of the job, with the inclusion
// height of its commitment.
func (j *job) train(ctx context.Context) ([]*interval, error) {
	m, tr, every := j.m, j.tr, j.params.CommitInterval
	intervals := j.prior
	var jr *journal
	if m.cfg.StateDir != "" {
		var err error
		if jr, err = openJournal(m.cfg.StateDir, j.key.task, j.key.index); err != nil {
			return nil, err
		}
		defer jr.close()
	}
	chain := jobspec.NewDigestChain(pouw.JobID{TaskID: j.key.task, JobIndex: j.key.index}, m.chain.Address())
	mt := m.Metrics
	var samples uint64 // the last step's batch, for the metrics after it
	hook := func(s ml.StepInfo) error {
		if c := s.Commitment; c != nil {
			chain.Commit(c.WeightsHash, c.OptimizerHash)
		}
		t0 := time.Now()
		h, _, err := chain.Step(s)
		mt.digestDur.Observe(time.Since(t0).Seconds())
		if err != nil {
			return err
		}
		if m.cfg.Attack.Step != nil {
			m.cfg.Attack.Step(j.key.index, s.Step, &h)
		}
		iv := intervals[len(intervals)-1]
		iv.steps = append(iv.steps, stepRecord{step: s.Step, parts: h})
		if jr != nil {
			// Flushed once an interval is whole: a kill loses at most the
			// steps after the last commitment, which are trained again.
			err := jr.add(s.Step, h)
			if err == nil && (s.Step+1)%every == 0 {
				err = jr.flush()
			}
			if err != nil {
				return fmt.Errorf("step journal: %w", err)
			}
		}
		j.status.update(s.Step+1, s.Loss)
		samples = uint64(len(s.Indices))
		m.Stats.Steps.Add(1)
		m.Stats.Samples.Add(samples)
		m.Stats.Tokens.Add(samples * j.tokensPerSample)
		return nil
	}

	cm := newCommitter(j.post, func(batch []commit) {
		m.Stats.Commitments.Add(uint64(len(batch)))
		now := time.Now()
		for _, c := range batch {
			mt.commitDur.Observe(now.Sub(c.start).Seconds())
		}
	})
	ck := newCheckpointer(j.storeCheckpoint, cm.in)
	go cm.run(ctx)
	go ck.run(ctx)
	// stop ends both and returns the committed heights and their errors.
	stop := func() (map[uint64]int64, error) {
		close(ck.in)
		ckErr := <-ck.done
		res := <-cm.done
		return res.heights, errors.Join(ckErr, res.err)
	}
	// Steps are sampled in place (a few hundred bytes each); the full
	// state is hashed only at commitments.
	tr.SampledSteps()
	for !tr.Done() {
		if err := ctx.Err(); err != nil {
			stop()
			return nil, err
		}
		step := tr.StepIndex()
		start := time.Now()
		var err error
		var loss float32
		switch {
		case int64(step) == j.last:
			// Resumed at this commitment: its chain starts here again.
			chain.Commit(ml.CommitHashes(tr.Model, tr.Opt))
			loss, err = tr.Step(hook)
		case step%every == 0:
			// The state is hashed and encoded beside the step's forward
			// and backward passes; the hook starts the chain from it.
			intervals = append(intervals, &interval{commitStep: step})
			var c *ml.Commitment
			if c, loss, err = tr.StepCommitting(hook, ck.buffer()); err == nil {
				ck.in <- encoded{key: p2p.CkptKey{TaskID: j.key.task, JobIndex: j.key.index, WeightsHash: c.WeightsHash, OptimizerHash: c.OptimizerHash},
					step: step, b: c.Checkpoint, start: start}
			}
		default:
			loss, err = tr.Step(hook)
		}
		if err != nil {
			stop()
			return nil, fmt.Errorf("step %d: %w", step, err)
		}
		now := time.Now()
		mt.step(now, now.Sub(start), samples, samples*j.tokensPerSample, loss)
		j.reportStep(now.Sub(start), loss, samples)
	}
	heights, err := stop()
	if err != nil {
		return nil, err
	}
	for _, iv := range intervals {
		if h, ok := heights[iv.commitStep]; ok {
			iv.height = h
		}
	}
	_, loss := j.status.read()
	j.log.Info("trained", "steps", tr.TotalSteps(), "loss", loss, "commitments", len(intervals))
	return intervals, nil
}

// storeCheckpoint seals a commitment's encoded checkpoint (its trailer)
// and puts it in the store under its key as it is: it was encoded from the
// state whose hashes the key holds (ml.Trainer.StepCommitting), so
// decoding it again would only double the commitment's cost. The store
// copies the bytes, so e.b can be encoded into again.
func (j *job) storeCheckpoint(e encoded) error {
	b := ml.SealCheckpoint(e.b)
	if f := j.m.cfg.Attack.Checkpoint; f != nil {
		b = f(e.step, b)
	}
	return j.m.store.PutOwnCheckpoint(e.key, b)
}

// post commits a batch, skipping what the chain already holds (a tx of an
// earlier run or try that landed late), and returns every step's height.
func (j *job) post(ctx context.Context, batch []commit) (map[uint64]int64, error) {
	m := j.m
	heights := map[uint64]int64{}
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var rest []commit
		var held map[uint64]int64
		if rest, held, err = j.onChain(ctx, batch); err != nil {
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
			msgs[i] = &types.MsgCommitCheckpoint{Miner: m.chain.Address().String(), TaskId: j.key.task, JobIndex: j.key.index, Step: x.step,
				WeightsHash: x.hash[:], OptimizerHash: x.opt[:]}
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
		j.log.Warn("commitment refused; re-reading the chain's commitments", "err", berr)
		batch = rest
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(m.commitRetry):
		}
	}
	return nil, err
}

// onChain splits a batch of commitments into those still to post and the
// heights of those the chain already holds (from an earlier run); a held
// commitment with another hash is an error.
func (j *job) onChain(ctx context.Context, batch []commit) ([]commit, map[uint64]int64, error) {
	cm, err := j.commitments(ctx)
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

// draw scans every interval's steps against its anchor (waiting for the
// anchor block) and the chain's current target, and returns the proofs of
// the winning tickets, at most Config.MaxProofsPerJob (0: all).
func (j *job) draw(ctx context.Context, intervals []*interval) ([]sdk.Msg, error) {
	m, p := j.m, j.params
	me := m.chain.Address()
	params := uint64(j.tr.Model.NumParams())
	tickets := pouw.TicketCount(p.OmegaBE9, p.OmegaME9, uint64(j.spec.Config.BatchSize), params, p.MaxTicketsPerStep)
	room := -1 // proofs still allowed; -1: no cap
	if m.cfg.MaxProofsPerJob > 0 {
		room = m.cfg.MaxProofsPerJob
	}
	var proofs []sdk.Msg
	for _, iv := range intervals {
		if room == 0 {
			break
		}
		// The anchor is the header hash of the block after the
		// commitment's: wait for it.
		anchorHeight := iv.height + 1
		var lot *types.QueryLotteryResponse
		if err := worker.Retry(ctx, 0, m.anchorPoll, func() error {
			var err error
			if lot, err = m.chain.Lottery(ctx, &types.QueryLotteryRequest{AnchorHeight: anchorHeight}); err == nil && len(lot.Anchor) != 32 {
				err = fmt.Errorf("no anchor at height %d yet", anchorHeight)
			}
			return err
		}); err != nil {
			return nil, err
		}
		target, err := pouw.ParseTarget(lot.Target)
		if err != nil {
			return nil, err
		}
		wins, scanned, err := lottery(pouw.JobID{TaskID: j.key.task, JobIndex: j.key.index}, me, iv.steps, lot.Anchor, tickets, target, room)
		if err != nil {
			return nil, err
		}
		m.Stats.TicketsDrawn.Add(uint64(scanned) * tickets)
		m.Stats.ProofsWon.Add(uint64(len(wins)))
		if room > 0 {
			room -= len(wins)
		}
		for _, w := range wins {
			h := w.Parts
			proofs = append(proofs, &types.MsgSubmitProof{Miner: me.String(), TaskId: j.key.task, JobIndex: j.key.index, Step: w.Step, CommitStep: iv.commitStep,
				WeightsBefore: h.Prev[:], Batch: h.Batch[:], Gradients: h.GradSample[:], WeightsAfter: h.WeightSample[:],
				ParamCount: params, TicketIndex: w.Ticket, DigestVersion: pouw.DigestV2})
		}
	}
	j.log.Info("lottery drawn", "winners", len(proofs), "tickets_per_step", tickets)
	return proofs, nil
}

// winner is a step whose ticket won.
type winner struct {
	Step   uint64
	Parts  pouw.StepParts
	Ticket uint64
}

// lottery draws the steps (in order) against an anchor: each step's
// version 2 digest binds the job and the miner, and its one draw
// (pouw.Lottery) wins when its ticket is below tickets. At most room
// winners are returned (room < 0: no cap), with the number of steps
// scanned to find them. It is a pure function of its arguments.
func lottery(id pouw.JobID, miner sdk.AccAddress, steps []stepRecord, anchor []byte, tickets uint64, target pouw.Hash, room int) ([]winner, int, error) {
	var wins []winner
	scanned := 0
	lot := pouw.NewLottery(tickets, target)
	for _, s := range steps {
		if room >= 0 && len(wins) >= room {
			break
		}
		d, err := pouw.StepDigest(id, miner, s.step, s.parts)
		if err != nil {
			return nil, scanned, err
		}
		scanned++
		if _, t, ok := lot.Draw(d, anchor); ok {
			wins = append(wins, winner{Step: s.step, Parts: s.parts, Ticket: t})
		}
	}
	return wins, scanned, nil
}

// submit sends the proofs (a claim must be live for them, so before the
// result; a refused batch is logged and the rest still go), then the
// result: the model's hash, stored and served, and its held-out metrics.
func (j *job) submit(ctx context.Context, proofs []sdk.Msg) error {
	m := j.m
	me := m.chain.Address().String()
	for i := 0; i < len(proofs); i += 16 {
		batch := proofs[i:min(i+16, len(proofs))]
		res, err := m.chain.Broadcast(ctx, batch...)
		if err != nil {
			j.log.Warn("proofs refused", "count", len(batch), "err", err)
			continue
		}
		m.Stats.ProofsSubmitted.Add(uint64(len(batch)))
		m.watchProofs(submittedProofs(res)) // their rewards, once settled
	}
	metrics, err := jobspec.HeldOutMetrics(j.tr.Model, j.spec, m.backend)
	if err != nil {
		return err
	}
	j.reportHeldOut(metrics)
	if m.cfg.Attack.Metrics != nil {
		m.cfg.Attack.Metrics(&metrics)
	}
	var mb bytes.Buffer
	if err := ml.SaveModel(&mb, j.tr.Model); err != nil {
		return err
	}
	hash, err := m.store.PutModel(mb.Bytes())
	if err != nil {
		return fmt.Errorf("store model: %w", err)
	}
	if _, err := m.chain.Broadcast(ctx, &types.MsgSubmitResult{Miner: me, TaskId: j.key.task, JobIndex: j.key.index, ModelHash: hash, Metrics: metrics}); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	m.Stats.JobsDone.Add(1)
	j.log.Info("result submitted", "model", fmt.Sprintf("%x", hash[:8]), "accuracy_ppm", metrics.AccuracyPpm, "f1_ppm", metrics.F1MacroPpm)
	return nil
}
