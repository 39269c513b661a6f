package miner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Attack hooks let tests build dishonest miners. Nil hooks are honest.
type Attack struct {
	// Step may change the digest inputs the miner reports for a step
	// (e.g. a fabricated gradient sample) before the lottery is drawn on
	// them; the chain of digests goes on from the honest digest.
	Step func(job uint32, step uint64, p *pouw.StepParts)
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
	// Budget bounds the host memory a job may need: a job on the host
	// path its training step plus its data, a job that will train
	// resident on GPUs what stays on the host (its data, the model's host
	// copy, one batch), each GPU's own budget its device estimate
	// (PlaceOn; memory.go).
	Budget accel.Budget
	// MaxProofsPerJob caps the proofs submitted per job (0: all winners).
	MaxProofsPerJob int
	// StatusEvery is the period of the status log line (0: none).
	StatusEvery time.Duration
	// Tasks restricts the miner to these task ids (empty: all).
	Tasks  []uint64
	Attack Attack
	// ReportDir receives a run report per job (task-T-job-J.json; see
	// report.go); empty: none. ReportKeep bounds how many are kept, the
	// oldest removed first (0: all).
	ReportDir  string
	ReportKeep int
	// Place, when set, is offered each job's trainer once it is built or
	// resumed: it may make the job's steps run resident on a device
	// (ml.Trainer.SetResident; workercmd sets it for --device gpu:N,
	// gpu:N,M,... or gpu:all in CUDA builds, with ml/devtrain, which
	// trains a job's micro-batches resident too, and spreads them over
	// several GPUs when given them: devtrain.PlaceDevices) and returns what detaches and frees that
	// (nil when it attached nothing). An error fails the job.
	Place func(tr *ml.Trainer) (release func() error, err error)
	// PlaceOn are the devices Place trains jobs on (workercmd: every
	// device --device opened; nil: the miner's backend alone), a job
	// without micro-batches on the first alone (JobDevices). The memory
	// check reads them: a job that will train resident there is checked
	// against each GPU's budget with ml's device estimate and against
	// Budget with what stays on the host (devtrain.ResidentEstimates and
	// CheckResident, pouwd ml train's rule), before it is claimed.
	// Without Place every job is checked as a host-path one.
	PlaceOn []accel.Backend
}

// JobDevices are the devices of devs a job with cfg trains on: all of
// them when there is one or the job has micro-batches, else the first
// alone (several devices run a job's micro-batches, reduced on the
// first). workercmd's Place and the miner's memory check both use it.
func JobDevices(devs []accel.Backend, cfg ml.TrainConfig) []accel.Backend {
	if len(devs) > 1 && cfg.MicroBatch == 0 {
		return devs[:1]
	}
	return devs
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

// Stats are the miner's counters (the status line and metrics). Tokens
// are samples times the sequence length for sequence models (samples
// otherwise).
type Stats struct {
	JobsDone, Steps, Samples, Tokens, TicketsDrawn, ProofsWon, ProofsSubmitted, Commitments atomic.Uint64
	mu                                                                                      sync.Mutex
	current                                                                                 map[jobKey]*jobStatus
}

// track adds a job to the status line.
func (s *Stats) track(k jobKey, total uint64) *jobStatus {
	js := &jobStatus{total: total, start: time.Now()}
	s.mu.Lock()
	s.current[k] = js
	s.mu.Unlock()
	return js
}

// untrack removes a job from the status line.
func (s *Stats) untrack(k jobKey) {
	s.mu.Lock()
	delete(s.current, k)
	s.mu.Unlock()
}

// jobStatus is one training job's progress: written by its training
// goroutine, read by the status line, under its own lock.
type jobStatus struct {
	total uint64
	start time.Time

	mu   sync.Mutex
	step uint64
	loss float32
}

func (js *jobStatus) update(step uint64, loss float32) {
	js.mu.Lock()
	js.step, js.loss = step, loss
	js.mu.Unlock()
}

func (js *jobStatus) read() (uint64, float32) {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.step, js.loss
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
	// Metrics are the Prometheus series (register them in the process's
	// registry); they read Stats.
	Metrics *Metrics

	// rewards watches submitted proofs until they settle (rewards.go),
	// every rewardEvery.
	rewards     rewardWatch
	rewardEvery time.Duration

	// commitRetry is the wait before a refused commitment is posted
	// again, anchorPoll the period of asking for a lottery anchor that is
	// not there yet.
	commitRetry, anchorPoll time.Duration

	// retryAfter is the wait before a failed job this miner still holds
	// the claim of is tried again, and before it claims a new job after a
	// job failed.
	retryAfter time.Duration

	mu          sync.Mutex
	running     map[jobKey]bool
	failed      map[jobKey]time.Time // when each job last failed here
	lastFailure time.Time            // when a job last failed here (a claim lost to another miner aside)
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
		log: cfg.Logger.With("miner", chain.Address().String()), running: map[jobKey]bool{}, failed: map[jobKey]time.Time{},
		retryAfter: 30 * time.Second, commitRetry: 2 * time.Second, anchorPoll: 300 * time.Millisecond, rewardEvery: rewardPoll}
	m.Stats.current = map[jobKey]*jobStatus{}
	m.Metrics = newMetrics(&m.Stats)
	m.rewards.pending = map[uint64]bool{}
	return m, nil
}

// LastProgress is when a training job last finished a step, the zero
// time while no job trains (the no_progress alert's source).
func (m *Miner) LastProgress() time.Time { return m.Metrics.LastProgress() }

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
	go m.rewardLoop(ctx)
	go worker.KeepBonded(ctx, m.chain, types.WORKER_ROLE_MINER, m.cfg.TopUpEvery, m.log)
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
	return len(m.cfg.Tasks) == 0 || slices.Contains(m.cfg.Tasks, id)
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
			key := jobKey{task.Id, j.Index}
			m.mu.Lock()
			busy, failedAt, n, lastFailure := m.running[key], m.failed[key], len(m.running), m.lastFailure
			m.mu.Unlock()
			mine := j.Status == types.JOB_STATUS_CLAIMED && j.Miner == me
			if busy {
				continue
			}
			// A job that failed here is not tried again, but for one whose
			// claim this miner still holds: unless it is finished the claim
			// lapses and costs claim_lapse_slash_bps of the bond, and what
			// failed (a full disk, a node or peer unreachable) may have
			// passed. It is resumed from its last commitment, every
			// retryAfter until it is done or the claim is gone.
			if !failedAt.IsZero() && (!mine || time.Since(failedAt) < m.retryAfter) {
				continue
			}
			if !mine && (j.Status != types.JOB_STATUS_OPEN || n >= m.cfg.MaxJobs) {
				continue
			}
			// After a failure, no new claim for retryAfter: what failed (a
			// full disk) would most likely fail the next job too, and each
			// claim held but not worked lapses and is slashed.
			if !mine && time.Since(lastFailure) < m.retryAfter {
				continue
			}
			if !failedAt.IsZero() {
				m.log.Info("retrying a failed job whose claim is still this miner's", "task", task.Id, "job", j.Index, "failed", time.Since(failedAt).Round(time.Second))
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
				// A claim lost to another miner is no failure of the job
				// here: should that miner's claim lapse, the job reopens
				// and this miner claims it like any open job (it used to
				// be skipped for good, and a job whose only other miner
				// died was never trained again: fault row 3b).
				if err != nil && !errors.Is(err, errClaimLost) {
					m.failed[key] = time.Now()
					if ctx.Err() == nil {
						m.lastFailure = m.failed[key]
					}
				} else {
					delete(m.failed, key)
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

func (m *Miner) statusLoop(ctx context.Context) {
	worker.Every(ctx, m.cfg.StatusEvery, func() {
		m.Stats.mu.Lock()
		defer m.Stats.mu.Unlock()
		for k, js := range m.Stats.current {
			step, loss := js.read()
			sps := 0.0
			if el := time.Since(js.start).Seconds(); el > 0 {
				sps = float64(step) / el
			}
			m.log.Info("status", "task", k.task, "job", k.index, "step", step, "of", js.total, "loss", loss, "steps_per_s", fmt.Sprintf("%.1f", sps),
				"tickets", m.Stats.TicketsDrawn.Load(), "won", m.Stats.ProofsWon.Load(), "submitted", m.Stats.ProofsSubmitted.Load())
		}
	})
}
