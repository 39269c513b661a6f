//go:build cuda || cudaemu

package miner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/ml/devtrain"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/worker/workertest"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// imageTask is task 7: a CNN (one block of 8 channels) on 120 1x8x8
// images of 3 classes (20 held out), batches of 32, one epoch, 3 folds.
// Its host-path step (activations, im2col columns, workspaces) is several
// times what a resident run keeps on the host (the data, the model's
// copy, one batch).
func imageTask(t *testing.T) (types.Task, types.Dataset, *data.Dataset, worker.MemDatasets) {
	t.Helper()
	const n, size = 120, 64
	d := &data.Dataset{DType: data.Uint8, Shape: []int{1, 8, 8}, Classes: 3, U8: make([]byte, size*n), Labels: make([]int, n), Split: make([]uint8, n)}
	for i := range n {
		d.Labels[i] = i % 3
		for e := range size {
			d.U8[size*i+e] = byte(i*7 + e*31 + 40*(i%3))
		}
		if i >= 100 {
			d.Split[i] = data.Test
		}
	}
	sum, err := d.SHA256()
	if err != nil {
		t.Fatal(err)
	}
	cfg := types.ModelConfig{Architecture: "cnn", Layers: []uint32{8}, LearningRateE9: 100_000_000, BatchSize: 32, Epochs: 1,
		Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
	task := types.Task{Id: 7, DatasetId: 1, Seed: 42, FoldSeed: bytes.Repeat([]byte{0xab}, 32), Configs: []types.ModelConfig{cfg},
		Cv: types.CVConfig{Folds: 3, Stratified: true, Metric: types.METRIC_ACCURACY}, Status: types.TASK_STATUS_TRAINING}
	rec := types.Dataset{Id: 1, Name: "images", Sha256: sum[:], SampleCount: n, NumClasses: 3, FeatureShape: []uint32{1, 8, 8}}
	return task, rec, d, worker.MemDatasets{sum: d}
}

// runImageJob runs job 0 of imageTask on a miner of its own chain with
// the host budget and backend be; place, when set, is its Config.Place.
// It returns RunJob's error and the chain.
func runImageJob(t *testing.T, budget accel.Budget, be accel.Backend, place func(*ml.Trainer) (func() error, error)) (error, *workertest.Chain) {
	t.Helper()
	task, rec, _, datasets := imageTask(t)
	chain := workertest.NewChain("miner", workertest.Params(every))
	jobs := make([]types.Job, task.Cv.Folds)
	for i := range jobs {
		jobs[i] = types.Job{TaskId: task.Id, Index: uint32(i), FoldIndex: uint32(i), Status: types.JOB_STATUS_OPEN}
	}
	chain.AddTask(task, rec, jobs)
	cfg := DefaultConfig()
	cfg.StateDir, cfg.StatusEvery, cfg.Logger = t.TempDir(), 0, slog.New(slog.DiscardHandler)
	cfg.Devices = []types.Device{{Kind: "cpu", Name: "test cpu", MemoryBytes: 1 << 30}}
	cfg.Budget, cfg.Place = budget, place
	m, err := New(cfg, chain, datasets, workertest.NewStore(), be)
	if err != nil {
		t.Fatal(err)
	}
	m.commitRetry, m.anchorPoll = time.Millisecond, time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return m.RunJob(ctx, &task, 0, false), chain
}

// imageJob is job 0 of imageTask as the miner rebuilds it, and its model.
func imageJob(t *testing.T) (*jobspec.Job, *ml.Model) {
	t.Helper()
	task, _, d, _ := imageTask(t)
	job, err := jobspec.Prepare(&task, 0, d)
	if err != nil {
		t.Fatal(err)
	}
	model, err := job.NewModel()
	if err != nil {
		t.Fatal(err)
	}
	return job, model
}

func openGPU(t *testing.T, fraction float64) *cuda.Backend {
	t.Helper()
	opts := cuda.DefaultOptions()
	opts.BudgetFraction = fraction
	opts.CPU = cpu.Options{Threads: 1}
	b, err := cuda.Open(0, opts)
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestResidentJobHostBudget: a job that will train resident on the GPU is
// checked against the host's budget with what stays on the host, not with
// the host path's step: with a host budget between the two, the job is
// refused on the CPU (naming the host's budget and the step's bytes,
// before it is claimed) and accepted on the GPU, where it trains resident
// to the CPU's result.
func TestResidentJobHostBudget(t *testing.T) {
	gpu := openGPU(t, 0)
	job, model := imageJob(t)
	step, err := ml.EstimateTraining(model, job.Config, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	hostPath := step.PeakBytes + hostData(job)
	kept, err := ml.EstimateResidentHost(model, job.Config, job.Train, job.HeldOut)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := ml.EstimateResident(model, job.Config)
	if err != nil {
		t.Fatal(err)
	}
	if 2*kept > hostPath || dev.PeakBytes > gpu.Budget().Limit() {
		t.Fatalf("on the host: resident %d bytes, host path %d; on the GPU %d (budget %d): resize the test", kept, hostPath, dev.PeakBytes, gpu.Budget().Limit())
	}
	limit := uint64(math.Sqrt(float64(kept) * float64(hostPath)))
	t.Logf("host: resident %d bytes, host path %d (step %d + data), budget %d; GPU %d bytes (budget %d)", kept, hostPath, step.PeakBytes, limit, dev.PeakBytes, gpu.Budget().Limit())
	budget := accel.Budget{Device: "cpu", Available: limit, Fraction: 1}

	// On the CPU the host path's step does not fit.
	err, chain := runImageJob(t, budget, cpu.MustNew(cpu.Options{Threads: 1}), nil)
	if !errors.Is(err, accel.ErrOverBudget) || !strings.Contains(err.Error(), "task 7 job 0 (") ||
		!strings.Contains(err.Error(), fmt.Sprintf("training step %d bytes", step.PeakBytes)) || !strings.Contains(err.Error(), "the budget of cpu is") {
		t.Fatalf("on the CPU: %v, expected the host's budget to refuse the host path's step", err)
	}
	if c := workertest.Msgs[*types.MsgClaimJob](chain); len(c) != 0 {
		t.Fatalf("on the CPU: %d claims of a job that does not fit", len(c))
	}

	// On the GPU it trains resident, to the bits of a CPU miner with room.
	var placed bool
	place := func(tr *ml.Trainer) (func() error, error) {
		release, note, err := devtrain.Place(gpu, tr)
		placed = release != nil
		if !placed {
			t.Logf("placed on the host path: %s", note)
		}
		return release, err
	}
	err, chain = runImageJob(t, budget, gpu, place)
	if err != nil {
		t.Fatalf("on the GPU with a host budget of %d bytes: %v", limit, err)
	}
	if !placed {
		t.Fatal("the job did not train resident")
	}
	err, ref := runImageJob(t, accel.Budget{Device: "cpu", Available: 1 << 40, Fraction: 1}, cpu.MustNew(cpu.Options{Threads: 1}), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, want := workertest.Msgs[*types.MsgSubmitResult](chain), workertest.Msgs[*types.MsgSubmitResult](ref)
	if len(got) != 1 || len(want) != 1 || !bytes.Equal(got[0].ModelHash, want[0].ModelHash) || got[0].Metrics != want[0].Metrics {
		t.Fatalf("results on the GPU %v, on the CPU %v: expected one each, the same model and metrics", got, want)
	}
}

// TestResidentJobDeviceBudget: a job that will train resident is checked
// against the GPU's budget with ml's device estimate: with a GPU budget
// below it the job is refused before it is claimed, the error naming the
// job, the model, the estimate's bytes and the GPU's budget, even with
// room on the host.
func TestResidentJobDeviceBudget(t *testing.T) {
	gpu := openGPU(t, 1e-6)
	job, model := imageJob(t)
	dev, err := ml.EstimateResident(model, job.Config)
	if err != nil {
		t.Fatal(err)
	}
	if dev.PeakBytes <= gpu.Budget().Limit() {
		t.Fatalf("device estimate %d bytes within the GPU's budget of %d: resize the test", dev.PeakBytes, gpu.Budget().Limit())
	}
	place := func(tr *ml.Trainer) (func() error, error) {
		t.Error("Place called for a job over the GPU's budget")
		return nil, nil
	}
	err, chain := runImageJob(t, accel.Budget{Device: "cpu", Available: 1 << 40, Fraction: 1}, gpu, place)
	want := []string{"task 7 job 0: ", fmt.Sprintf("model %s with batch %d needs %d bytes", model.Spec, job.Config.BatchSize, dev.PeakBytes),
		"the budget of " + gpu.Budget().Device + " is"}
	if !errors.Is(err, accel.ErrOverBudget) {
		t.Fatalf("error %v, expected the GPU's budget to refuse the job", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q, expected it to say %q", err, w)
		}
	}
	if c := workertest.Msgs[*types.MsgClaimJob](chain); len(c) != 0 {
		t.Fatalf("%d claims of a job over the GPU's budget", len(c))
	}
}
