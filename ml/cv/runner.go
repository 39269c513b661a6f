package cv

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Model is a fitted model, as the runner needs it.
type Model interface {
	// Logits returns len(idx) rows of class scores (row-major, one row
	// per index, Classes wide); the predicted class is the row's argmax
	// (lowest class on ties) and soft voting applies a softmax to them.
	Logits(ctx context.Context, idx []int) ([]float32, error)
	// NumParams is the number of trainable parameters.
	NumParams() int
}

// FLOPser is a Model that knows its forward cost: floating-point
// operations per sample (ml.Model.FLOPs); the report shows it next to the
// parameters.
type FLOPser interface {
	FLOPsPerSample() int64
}

// Trainer fits configurations. It owns the samples; the runner only
// passes sample indices.
type Trainer interface {
	// Schema lists the hyperparameters Fit understands.
	Schema() Schema
	// Fit trains cfg on the training indices. progress (never nil) may be
	// called with (done, total) units of work.
	Fit(ctx context.Context, cfg Config, train []int, progress func(done, total int)) (Model, error)
}

// Event reports a job's progress to the caller.
type Event struct {
	Job, Jobs   int // job number (0-based) and total
	Config      int
	Fold        int
	Done, Total int  // units within the job (from Fit)
	Finished    bool // the job completed; Result is set
	Result      *FoldResult
}

// Options configure a cross-validation run.
type Options struct {
	Folds  FoldSpec
	Metric Metric // ranking metric, default accuracy
	// Workers runs that many jobs at once (default 1). Results never
	// depend on it.
	Workers int
	// Holdout, when set, are sample indices outside the CV folds (e.g. the
	// test split) on which each configuration's fold models are combined
	// by soft and hard voting.
	Holdout       []int
	HoldoutLabels []int // the labels of Holdout, same length
	// Progress receives events; it is called from one goroutine at a time.
	Progress func(Event)
}

// FoldResult is one job's outcome.
type FoldResult struct {
	Fold      int           `json:"fold"`
	Train     int           `json:"train_samples"`
	Test      int           `json:"test_samples"`
	Metrics   Metrics       `json:"metrics"`
	Params    int           `json:"params"`
	FLOPs     int64         `json:"flops_per_sample,omitempty"` // forward, when the model is a FLOPser
	TrainTime time.Duration `json:"train_ns"`
	model     Model
}

// ConfigResult summarises one configuration over its folds.
type ConfigResult struct {
	Index     int           `json:"index"`
	Config    Config        `json:"config"`
	Name      string        `json:"name"`
	Folds     []FoldResult  `json:"folds"`
	Mean      float64       `json:"mean"`
	Std       float64       `json:"std"`
	MeanPPM   int64         `json:"mean_ppm"`
	StdPPM    int64         `json:"std_ppm"`
	Params    int           `json:"params"`
	FLOPs     int64         `json:"flops_per_sample,omitempty"` // forward, 0 when unknown
	TrainTime time.Duration `json:"train_ns"`                   // mean per fold
	// Efficiency: mean metric per million parameters and per training
	// second (per fold).
	PerMParam float64   `json:"metric_per_mparam"`
	PerSecond float64   `json:"metric_per_second"`
	Rank      int       `json:"rank"`      // 1 = best
	Confusion Confusion `json:"confusion"` // summed over the held-out folds
	// Ensembles of the fold models on Options.Holdout (nil without it).
	Soft *Metrics `json:"soft_voting,omitempty"`
	Hard *Metrics `json:"hard_voting,omitempty"`
}

// Report is a whole CV run.
type Report struct {
	Metric  Metric         `json:"metric"`
	Folds   FoldSpec       `json:"folds"`
	Configs []ConfigResult `json:"configs"` // in configuration order
	Best    int            `json:"best"`    // index into Configs
	Elapsed time.Duration  `json:"elapsed_ns"`
}

// Ranked returns the configurations best first.
func (r *Report) Ranked() []ConfigResult {
	out := append([]ConfigResult(nil), r.Configs...)
	sort.Slice(out, func(a, b int) bool { return out[a].Rank < out[b].Rank })
	return out
}

// SeedFromHash derives a fold seed from a hash (e.g. the block hash the
// chain draws fold assignments from): the first four bytes of
// SHA-256("pouw/cv-seed/v1" | h), big-endian.
func SeedFromHash(h []byte) uint32 {
	s := sha256.Sum256(append([]byte("pouw/cv-seed/v1"), h...))
	return binary.BigEndian.Uint32(s[:4])
}

// TaskFolds is the protocol's fold rule for a chain task: the test fold of
// every CV-pool position (data.CVPool of the task's dataset; labels are
// those samples' labels), for K folds, stratified or not, always shuffled,
// with seed SeedFromHash(foldSeed | taskSeed as 8 bytes big-endian), where
// foldSeed is the block hash the chain recorded for the task. Miners,
// verifiers and pouwd ml cv all call this.
func TaskFolds(labels []int, k int, stratified bool, foldSeed []byte, taskSeed uint64) ([]int, error) {
	b := binary.BigEndian.AppendUint64(append([]byte(nil), foldSeed...), taskSeed)
	spec := FoldSpec{K: k, Stratified: stratified, Shuffle: true, Seed: SeedFromHash(b)}
	return Assign(spec, len(labels), labels)
}

// Run cross-validates every configuration on the samples whose labels are
// given (sample i of the trainer's data has label labels[i]; folds are
// over the positions 0..len(labels)-1, translated through idx when the CV
// runs on a subset: pass idx = nil to use the positions themselves).
func Run(ctx context.Context, tr Trainer, classes int, labels []int, idx []int, configs []Config, opt Options) (*Report, error) {
	start := time.Now()
	if opt.Metric == "" {
		opt.Metric = Accuracy
	}
	if _, err := ParseMetric(string(opt.Metric)); err != nil {
		return nil, err
	}
	if opt.Workers < 1 {
		opt.Workers = 1
	}
	if len(configs) == 0 {
		return nil, errors.New("cv: no configurations")
	}
	if len(opt.Holdout) != len(opt.HoldoutLabels) {
		return nil, fmt.Errorf("cv: %d holdout samples but %d holdout labels", len(opt.Holdout), len(opt.HoldoutLabels))
	}
	if idx != nil && len(idx) != len(labels) {
		return nil, fmt.Errorf("cv: %d indices for %d labels", len(idx), len(labels))
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			return nil, fmt.Errorf("cv: label %d of sample %d, expected 0..%d", l, i, classes-1)
		}
	}
	fold, err := Assign(opt.Folds, len(labels), labels)
	if err != nil {
		return nil, err
	}
	sample := func(p int) int {
		if idx == nil {
			return p
		}
		return idx[p]
	}
	type job struct{ c, f int }
	var jobs []job
	for c := range configs {
		for f := 0; f < opt.Folds.K; f++ {
			jobs = append(jobs, job{c, f})
		}
	}
	results := make([][]FoldResult, len(configs))
	for c := range results {
		results[c] = make([]FoldResult, opt.Folds.K)
	}
	var mu sync.Mutex // serialises Progress
	emit := func(e Event) {
		if opt.Progress != nil {
			mu.Lock()
			opt.Progress(e)
			mu.Unlock()
		}
	}
	runJob := func(j int) error {
		jb := jobs[j]
		trainPos, testPos := Split(fold, jb.f)
		train := make([]int, len(trainPos))
		for i, p := range trainPos {
			train[i] = sample(p)
		}
		test := make([]int, len(testPos))
		truth := make([]int, len(testPos))
		for i, p := range testPos {
			test[i], truth[i] = sample(p), labels[p]
		}
		t0 := time.Now()
		m, err := tr.Fit(ctx, configs[jb.c], train, func(done, total int) {
			emit(Event{Job: j, Jobs: len(jobs), Config: jb.c, Fold: jb.f, Done: done, Total: total})
		})
		if err != nil {
			return fmt.Errorf("cv: %s fold %d: %w", configs[jb.c], jb.f, err)
		}
		el := time.Since(t0)
		pred, err := Predict(ctx, m, test, classes)
		if err != nil {
			return fmt.Errorf("cv: %s fold %d: predict: %w", configs[jb.c], jb.f, err)
		}
		met, err := Evaluate(classes, truth, pred)
		if err != nil {
			return err
		}
		r := FoldResult{Fold: jb.f, Train: len(train), Test: len(test), Metrics: met, Params: m.NumParams(), TrainTime: el, model: m}
		if f, ok := m.(FLOPser); ok {
			r.FLOPs = f.FLOPsPerSample()
		}
		results[jb.c][jb.f] = r
		emit(Event{Job: j, Jobs: len(jobs), Config: jb.c, Fold: jb.f, Done: 1, Total: 1, Finished: true, Result: &r})
		return nil
	}
	if err := parallel(ctx, len(jobs), opt.Workers, runJob); err != nil {
		return nil, err
	}
	rep := &Report{Metric: opt.Metric, Folds: opt.Folds}
	for c, cfg := range configs {
		cr := ConfigResult{Index: c, Config: cfg, Name: cfg.String(), Folds: results[c]}
		var vals []float64
		var ppms []int64
		var total time.Duration
		for _, fr := range results[c] {
			v, p := fr.Metrics.Value(opt.Metric)
			vals, ppms = append(vals, v), append(ppms, p)
			total += fr.TrainTime
			cr.Params, cr.FLOPs = fr.Params, fr.FLOPs
			cr.Confusion.Add(fr.Metrics.Confusion)
		}
		cr.Mean, cr.Std = MeanStd(vals)
		cr.MeanPPM, cr.StdPPM = MeanStdPPM(ppms)
		cr.TrainTime = total / time.Duration(len(results[c]))
		if cr.Params > 0 {
			cr.PerMParam = cr.Mean / (float64(cr.Params) / 1e6)
		}
		if s := cr.TrainTime.Seconds(); s > 0 {
			cr.PerSecond = cr.Mean / s
		}
		if len(opt.Holdout) > 0 {
			models := make([]Model, len(results[c]))
			for f, fr := range results[c] {
				models[f] = fr.model
			}
			soft, hard, err := EnsembleMetrics(ctx, models, opt.Holdout, opt.HoldoutLabels, classes)
			if err != nil {
				return nil, err
			}
			cr.Soft, cr.Hard = &soft, &hard
		}
		rep.Configs = append(rep.Configs, cr)
	}
	rank(rep.Configs)
	for i, c := range rep.Configs {
		if c.Rank == 1 {
			rep.Best = i
		}
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// rank orders by mean ppm (higher first), then std ppm (lower), then
// parameter count (lower), then configuration order. Integers only, so
// every party ranks alike.
func rank(cs []ConfigResult) {
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := cs[order[a]], cs[order[b]]
		if x.MeanPPM != y.MeanPPM {
			return x.MeanPPM > y.MeanPPM
		}
		if x.StdPPM != y.StdPPM {
			return x.StdPPM < y.StdPPM
		}
		if x.Params != y.Params {
			return x.Params < y.Params
		}
		return x.Index < y.Index
	})
	for r, i := range order {
		cs[i].Rank = r + 1
	}
}

// parallel runs f(0..n-1) on w workers, stopping at the first error.
func parallel(ctx context.Context, n, w int, f func(int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for k := 0; k < w; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := f(j); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for j := 0; j < n; j++ {
		select {
		case next <- j:
		case <-ctx.Done():
			j = n
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
