package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/monitor"
)

// SchemaVersion is the report format this package writes and reads.
// Adding an optional field keeps the version; renaming, removing or
// changing the meaning of one bumps it.
const SchemaVersion = 1

// Kind is what ran.
type Kind string

// The kinds of run.
const (
	KindTrain    Kind = "train"     // pouwd ml train
	KindCV       Kind = "cv"        // one job of pouwd ml cv
	KindMinerJob Kind = "miner-job" // a job a miner trained
)

// Report is one run's report; see the package comment for every field.
type Report struct {
	SchemaVersion int       `json:"schema_version"`
	Kind          Kind      `json:"kind"`
	ID            string    `json:"id,omitempty"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	// DurationSeconds is FinishedAt - StartedAt.
	DurationSeconds float64 `json:"duration_seconds"`

	Config      Config      `json:"config"`
	Dataset     Dataset     `json:"dataset"`
	Epochs      []Epoch     `json:"epochs"`
	Steps       StepStats   `json:"steps"`
	Resources   Resources   `json:"resources"`
	Profile     []OpProfile `json:"profile,omitempty"`
	Environment Environment `json:"environment"`
	Memory      Memory      `json:"memory"`
	Advice      []Finding   `json:"advice"`
}

// Config is the training configuration: the fields every kind of run
// shares, typed, and Labels for what only one kind has.
type Config struct {
	// Model is the model spec (ml.ParseSpec's grammar); Params its
	// trainable parameters; FLOPsPerSample one sample's forward pass
	// (ml.Model.FLOPs; a training step costs about 3x).
	Model          string `json:"model"`
	Params         int    `json:"params"`
	FLOPsPerSample int64  `json:"flops_per_sample,omitempty"`
	// Batch is the batch size; MicroBatch the micro-batch size (0: whole
	// batches).
	Batch      int `json:"batch"`
	MicroBatch int `json:"micro_batch,omitempty"`
	// Epochs is the epochs asked for (0 when only Steps bounds the run);
	// Steps the run's planned total steps.
	Epochs      int     `json:"epochs"`
	Steps       uint64  `json:"steps"`
	Optimizer   string  `json:"optimizer"`
	LR          float32 `json:"lr"`
	Momentum    float32 `json:"momentum,omitempty"`
	WeightDecay float32 `json:"weight_decay,omitempty"`
	// Precision is fp32, bf16 or fp16 (never empty).
	Precision string `json:"precision"`
	// Threads is the CPU threads of each device; Devices the devices
	// running micro-batches (1 without); Backend the first device's
	// accel.Backend name (cpu/avx512, cuda/auto (NVIDIA H100), ...).
	Threads int    `json:"threads"`
	Devices int    `json:"devices"`
	Backend string `json:"backend"`
	// Recompute is the recomputation segment in residual blocks (0: off).
	Recompute int    `json:"recompute,omitempty"`
	Seed      uint64 `json:"seed"`
	// Labels hold what only one kind of run has: a CV job's "config" and
	// "fold", a miner job's "job" and "task", and so on.
	Labels map[string]string `json:"labels,omitempty"`
}

// Dataset describes the training data.
type Dataset struct {
	Name string `json:"name"`
	// Hash is a hex SHA-256; HashOf says of what: HashCanonical (the
	// prepared dataset's canonical file, what the chain registers) or
	// HashSamples (Fingerprint of the loaded samples).
	Hash   string `json:"hash,omitempty"`
	HashOf string `json:"hash_of,omitempty"`
	// Samples is the training samples; TestSamples the held-out ones.
	Samples     int   `json:"samples"`
	TestSamples int   `json:"test_samples,omitempty"`
	Shape       []int `json:"shape"`
	Classes     int   `json:"classes"`
}

// What Dataset.Hash is a hash of.
const (
	HashCanonical = "canonical"
	HashSamples   = "samples"
)

// Epoch is one epoch's metrics.
type Epoch struct {
	// Epoch counts from 1 (a resumed run continues its numbering).
	Epoch int `json:"epoch"`
	// Steps is the steps recorded in this epoch; EndStep the global step
	// count when it ended.
	Steps   uint64 `json:"steps"`
	EndStep uint64 `json:"end_step"`
	// Loss is the mean training loss of the epoch's steps; Accuracy the
	// training accuracy when the run measured it.
	Loss     Float    `json:"loss"`
	Accuracy *float64 `json:"accuracy,omitempty"`
	// HeldOut holds metrics measured on held-out data at the epoch's end
	// ("accuracy", "loss", "f1_macro", ...).
	HeldOut map[string]Float `json:"held_out,omitempty"`
	// Seconds is the wall time since the previous epoch ended (or the
	// recording began); SamplesPerSecond the epoch's samples over it.
	Seconds          float64 `json:"seconds"`
	SamplesPerSecond float64 `json:"samples_per_second"`
	// Partial marks an epoch the run stopped inside (a --steps limit).
	Partial bool `json:"partial,omitempty"`
}

// StepStats summarise the step times. The percentiles come from a
// logarithmic histogram of 1%-wide buckets (within 1% of the exact value),
// so their cost does not grow with the run.
type StepStats struct {
	Count            uint64  `json:"count"`
	Samples          uint64  `json:"samples"`
	TotalSeconds     float64 `json:"total_seconds"`
	MeanSeconds      float64 `json:"mean_seconds"`
	MinSeconds       float64 `json:"min_seconds"`
	P50Seconds       float64 `json:"p50_seconds"`
	P90Seconds       float64 `json:"p90_seconds"`
	P99Seconds       float64 `json:"p99_seconds"`
	MaxSeconds       float64 `json:"max_seconds"`
	SamplesPerSecond float64 `json:"samples_per_second"`
	// Series is the bounded history of individual steps.
	Series History[StepPoint] `json:"series"`
}

// StepPoint is one recorded step.
type StepPoint struct {
	// Step is the global step index (0-based).
	Step uint64 `json:"step"`
	// T is the seconds from the run's start to the step's end; Seconds
	// the step's own duration.
	T       float64 `json:"t"`
	Seconds float64 `json:"seconds"`
	Loss    Float   `json:"loss"`
	// Samples is the samples trained since the recording began, this
	// step's included.
	Samples uint64 `json:"samples"`
}

// Resources are the run's resource readings.
type Resources struct {
	// IntervalSeconds is the sampling interval (0: not sampled).
	IntervalSeconds float64 `json:"interval_seconds"`
	// Summary is computed over every reading, History keeps a bounded
	// spread of them.
	Summary ResourceSummary            `json:"summary"`
	History History[monitor.Resources] `json:"history"`
}

// OpProfile is one row of the engine's profile (ml.Profiler.Report's
// Ops, kept as they are): an operation, its calls, the seconds spent
// (split forward, backward, recomputed), the bytes it moved and the
// floating-point operations it did; Share is its part of the profiled
// time (0-1), GFLOPS its rate and PeakPercent that rate against the
// backend's measured GEMM peak.
type OpProfile = ml.OpProfile

// Memory compares the estimator's prediction with what the run used.
type Memory struct {
	// PredictedPeakBytes is ml.EstimateTraining's live peak of one step.
	PredictedPeakBytes uint64 `json:"predicted_peak_bytes"`
	// MeasuredPeakRSSBytes is the largest process RSS of the readings;
	// MeasuredPeakHeapBytes the largest Go heap (live and unswept
	// objects) seen at the same moments. Both are sampled, so a peak
	// between two readings is missed.
	MeasuredPeakRSSBytes  uint64 `json:"measured_peak_rss_bytes"`
	MeasuredPeakHeapBytes uint64 `json:"measured_peak_heap_bytes"`
	// AvailableBytes is the memory the run could use: the machine's
	// available memory when the run started plus what the process held
	// then (or what the caller set).
	AvailableBytes uint64 `json:"available_bytes"`
}

// Float is a float64 that survives JSON when it is not finite: a training
// loss can be NaN or infinite and encoding/json refuses those. A finite
// value is a JSON number; NaN, +Inf and -Inf are the strings "NaN",
// "+Inf" and "-Inf".
type Float float64

// MarshalJSON writes a number, or a string for NaN and infinities.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads MarshalJSON's forms.
func (f *Float) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "NaN":
			*f = Float(math.NaN())
		case "+Inf", "Inf":
			*f = Float(math.Inf(1))
		case "-Inf":
			*f = Float(math.Inf(-1))
		default:
			return fmt.Errorf("number %q: expected a JSON number, \"NaN\", \"+Inf\" or \"-Inf\"", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Validate checks what a reader relies on: the schema version, the kind,
// and counts that are consistent.
func (r *Report) Validate() error {
	var errs []error
	if r.SchemaVersion != SchemaVersion {
		errs = append(errs, fmt.Errorf("schema_version %d, expected %d", r.SchemaVersion, SchemaVersion))
	}
	switch r.Kind {
	case KindTrain, KindCV, KindMinerJob:
	default:
		errs = append(errs, fmt.Errorf("kind %q, expected %s, %s or %s", r.Kind, KindTrain, KindCV, KindMinerJob))
	}
	if r.Config.Batch < 0 || r.Config.Threads < 0 || r.Config.Devices < 0 || r.Dataset.Samples < 0 {
		errs = append(errs, fmt.Errorf("config batch %d, threads %d, devices %d, dataset samples %d: expected >= 0",
			r.Config.Batch, r.Config.Threads, r.Config.Devices, r.Dataset.Samples))
	}
	if !r.FinishedAt.IsZero() && r.FinishedAt.Before(r.StartedAt) {
		errs = append(errs, fmt.Errorf("finished_at %s before started_at %s", r.FinishedAt.Format(time.RFC3339), r.StartedAt.Format(time.RFC3339)))
	}
	for i, p := range r.Profile {
		if p.Op == "" || p.Seconds < 0 || p.Share < 0 || p.Share > 1.000001 {
			errs = append(errs, fmt.Errorf("profile row %d (%q): expected an op name, seconds >= 0 and a share in [0, 1]", i, p.Op))
		}
	}
	return errors.Join(errs...)
}

// Encode writes r as indented JSON.
func (r *Report) Encode(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Decode reads one report from JSON, checks its schema_version before
// anything else and then validates it. name names the source in errors.
func Decode(data []byte, name string) (*Report, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("report %s: empty, expected a run report (JSON with schema_version %d)", name, SchemaVersion)
	}
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		// Name the problem: a cut-off file and a file of another format
		// need different fixes.
		var syn *json.SyntaxError
		if (data[0] == '{' || data[0] == '[') && errors.As(err, &syn) && syn.Offset >= int64(len(data)) {
			return nil, fmt.Errorf("report %s: truncated JSON (%d bytes, it ends inside the object): %v", name, len(data), err)
		}
		return nil, fmt.Errorf("report %s: not JSON, expected a run report (JSON with schema_version %d): %v", name, SchemaVersion, err)
	}
	if _, ok := probe.(map[string]any); !ok {
		return nil, fmt.Errorf("report %s: a JSON %s, expected a run report (a JSON object with schema_version %d)", name, jsonKind(probe), SchemaVersion)
	}
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.SchemaVersion == nil {
		return nil, fmt.Errorf("report %s: not a run report: a JSON object with schema_version expected", name)
	}
	if *head.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("report %s: schema_version %d, this pouwd reads version %d (written by another pouwd version?)", name, *head.SchemaVersion, SchemaVersion)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("report %s: %v", name, err)
	}
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("report %s: %w", name, err)
	}
	return &r, nil
}

// Read reads and validates the report at path.
func Read(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	return Decode(data, path)
}

// Write writes r to path as indented JSON, atomically: a temporary file in
// the same directory, synced, then renamed, so a crash never leaves half
// a report.
func (r *Report) Write(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".report-*.json")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := r.Encode(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// jsonKind names a decoded JSON value's type for errors.
func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "object"
}
