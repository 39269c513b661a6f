package engine

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/cv"
	"github.com/pouw/pouwd/ml/data"
)

// Trainer trains engine models on a prepared dataset, in memory
// (*data.Dataset) or read lazily from disk (*data.Lazy). Each job gathers
// its training fold into memory, because the engine trains on in-memory
// tensors.
type Trainer struct {
	Data    data.Samples
	Shape   []int
	Classes int
	Backend accel.Backend
	// Base is the training configuration grid values override.
	Base ml.TrainConfig
	// EvalBatch is the inference batch size (default 1000).
	EvalBatch int
	// MemoryBudget, when > 0, bounds the training fold held on the Go
	// heap: a fold whose float32 rows need more is written to a temporary
	// file under SpillDir (default os.TempDir()) and memory-mapped, so the
	// engine reads it from the page cache (unix only).
	MemoryBudget int64
	SpillDir     string
	// Profiler, when set, profiles every engine job's training steps
	// (ml.Trainer.SetProfiler; jobs running at once share it).
	Profiler *ml.Profiler
	// Observe, when set, is called once per engine job, before it trains,
	// with the job's configuration and trainer; what it returns (nil: no
	// observer for this job) receives each step's wall time and loss and
	// the job's end. `pouwd ml cv --report-dir` records a run report per
	// job through it. Jobs running at once call it concurrently.
	Observe func(c cv.Config, tr *ml.Trainer) JobObserver

	lut *[256]float32
}

// JobObserver watches one engine job's training.
type JobObserver interface {
	Step(d time.Duration, loss float32)
	Done(err error)
}

// New returns a Trainer. uint8 datasets are fed to the engine as
// float32(x/255) (the same values data.ToFloat32 stores); float32 datasets
// as stored.
func New(d *data.Dataset, b accel.Backend, base ml.TrainConfig) *Trainer {
	return NewSamples(d, d.Shape, d.Classes, d.DType, b, base)
}

// NewSamples is New for any data.Samples (e.g. a *data.Lazy from
// data.Open) of the given shape, class count and stored dtype.
func NewSamples(s data.Samples, shape []int, classes int, dt data.DType, b accel.Backend, base ml.TrainConfig) *Trainer {
	t := &Trainer{Data: s, Shape: shape, Classes: classes, Backend: b, Base: base, EvalBatch: 1000}
	if dt == data.Uint8 {
		var lut [256]float32
		for i := range lut {
			lut[i] = float32(float64(i) / 255)
		}
		t.lut = &lut
	}
	return t
}

// Schema implements cv.Trainer: the engine's training hyperparameters
// plus the centroid baseline's shrink.
func (t *Trainer) Schema() cv.Schema {
	return cv.Schema{
		"lr": cv.Float, "momentum": cv.Float, "weight_decay": cv.Float,
		"batch": cv.Int, "epochs": cv.Int, "steps": cv.Int, "seed": cv.Int,
		"optimizer": cv.String, "shrink": cv.Float,
	}
}

// Config returns the engine configuration for a cv configuration.
func (t *Trainer) Config(c cv.Config) (ml.TrainConfig, error) {
	tc := t.Base
	for _, p := range c.Params {
		v := p.Value
		switch p.Name {
		case "lr":
			tc.LR = float32(v.F)
		case "momentum":
			tc.Momentum = float32(v.F)
		case "weight_decay":
			tc.WeightDecay = float32(v.F)
		case "batch":
			tc.BatchSize = int(v.I)
		case "epochs":
			tc.Epochs = int(v.I)
		case "steps":
			tc.Steps = int(v.I)
		case "seed":
			tc.Seed = uint64(v.I)
		case "optimizer":
			tc.Optimizer = v.Text
		case "shrink":
			if !strings.HasPrefix(c.Model, "centroid") {
				return tc, fmt.Errorf("engine: shrink applies to the centroid model only, not %s", c.Model)
			}
		default:
			return tc, fmt.Errorf("engine: unknown hyperparameter %q", p.Name)
		}
	}
	if err := tc.Validate(); err != nil {
		return tc, fmt.Errorf("engine: %s: %w", c, err)
	}
	return tc, nil
}

// row writes sample i as the engine's float32 input.
func (t *Trainer) row(i int, row []float32) {
	dim := len(row)
	mem, _ := t.Data.(*data.Dataset)
	switch {
	case mem != nil && t.lut != nil:
		for e, v := range mem.U8[i*dim : (i+1)*dim] {
			row[e] = t.lut[v]
		}
	case mem != nil:
		copy(row, mem.F32[i*dim:(i+1)*dim])
	default:
		t.Data.Read(i, row) // uint8 values arrive as 0..255
		if t.lut != nil {
			for e, v := range row {
				row[e] = t.lut[int(v)]
			}
		}
	}
}

// gather copies the samples idx as float32 rows.
func (t *Trainer) gather(idx []int) []float32 {
	dim := t.Data.Dim()
	x := make([]float32, len(idx)*dim)
	for j, i := range idx {
		t.row(i, x[j*dim:(j+1)*dim])
	}
	return x
}

// trainRows returns the training fold's rows: on the heap, or spilled to a
// memory-mapped file when they exceed MemoryBudget.
func (t *Trainer) trainRows(idx []int) ([]float32, func(), error) {
	need := int64(len(idx)) * int64(t.Data.Dim()) * 4
	if t.MemoryBudget <= 0 || need <= t.MemoryBudget {
		return t.gather(idx), func() {}, nil
	}
	dir := t.SpillDir
	if dir == "" {
		dir = os.TempDir()
	}
	return t.spill(dir, idx)
}

// Fit implements cv.Trainer.
func (t *Trainer) Fit(ctx context.Context, c cv.Config, train []int, progress func(done, total int)) (cv.Model, error) {
	if c.Model == "centroid" {
		ct := &cv.Centroid{Data: scaled{t}, Classes: t.Classes}
		return ct.Fit(ctx, c, train, progress)
	}
	tc, err := t.Config(c)
	if err != nil {
		return nil, err
	}
	m, err := ml.NewModel(c.Model, tc.Seed)
	if err != nil {
		return nil, fmt.Errorf("engine: model %q: %w", c.Model, err)
	}
	if m.SampleSize() != t.Data.Dim() {
		return nil, fmt.Errorf("engine: model %q takes %d inputs per sample, the dataset has %d (shape %v)", c.Model, m.SampleSize(), t.Data.Dim(), t.Shape)
	}
	y := make([]int, len(train))
	for j, i := range train {
		y[j] = t.Data.Label(i)
	}
	x, release, err := t.trainRows(train)
	if err != nil {
		return nil, err
	}
	defer release()
	ds := ml.Dataset{X: x, Y: y, N: len(train), Shape: t.Shape, Classes: t.Classes}
	tr, err := ml.NewTrainer(m, ds, tc, t.Backend)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", c, err)
	}
	tr.SetProfiler(t.Profiler)
	// The hook only reports progress: sampled steps spare it the version 1
	// SHA-256 state hashes a full hook computes every step (a fifth of a
	// small job's step time), and change no bits.
	tr.SampledSteps()
	var obs JobObserver
	if t.Observe != nil {
		obs = t.Observe(c, tr)
	}
	total := int(tr.TotalSteps())
	last := time.Now()
	_, err = tr.Run(ctx, func(s ml.StepInfo) error {
		if obs != nil {
			now := time.Now()
			obs.Step(now.Sub(last), s.Loss)
			last = now
		}
		progress(int(s.Step)+1, total)
		return nil
	})
	if obs != nil {
		obs.Done(err)
	}
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", c, err)
	}
	return &model{t: t, m: m}, nil
}

type model struct {
	t *Trainer
	m *ml.Model
}

func (m *model) NumParams() int { return m.m.NumParams() }

// FLOPsPerSample is the forward pass's FLOPs (ml.Model.FLOPs; 0 for a
// layer without a rule).
func (m *model) FLOPsPerSample() int64 {
	f, _ := m.m.FLOPs()
	return f
}

// Logits runs the engine's inference in batches of EvalBatch.
func (m *model) Logits(ctx context.Context, idx []int) ([]float32, error) {
	bs := m.t.EvalBatch
	if bs < 1 {
		bs = 1000
	}
	var out []float32
	for s := 0; s < len(idx); s += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		part := idx[s:min(s+bs, len(idx))]
		lg, err := m.m.Logits(m.t.Backend, m.t.gather(part), len(part))
		if err != nil {
			return nil, err
		}
		out = append(out, lg...)
	}
	return out, nil
}

// scaled exposes the trainer's scaled float32 view as cv.Samples.
type scaled struct{ t *Trainer }

func (s scaled) Len() int        { return s.t.Data.Len() }
func (s scaled) Dim() int        { return s.t.Data.Dim() }
func (s scaled) Label(i int) int { return s.t.Data.Label(i) }
func (s scaled) Read(i int, dst []float32) {
	copy(dst, s.t.gather([]int{i}))
}
