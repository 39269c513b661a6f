package report

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/mnist"
	"github.com/pouw/pouwd/monitor"
)

// fakeReader stands in for monitor's reader: readings of a 2-core machine
// with 16 GiB, whose RSS grows by 1 MiB a reading.
func fakeReader() SampleFunc {
	var n atomic.Uint64
	return func(ctx context.Context) (monitor.Resources, error) {
		i := n.Add(1)
		return monitor.Resources{Time: time.Now(), CPUPercent: []float64{80, 60}, CPUTotalPercent: 70,
			MemTotalBytes: 16 << 30, MemUsedBytes: 8 << 30, MemAvailableBytes: 8 << 30,
			ProcessRSSBytes: 100<<20 + i<<20, ProcessThreads: 6, ProcessCPUPercent: 140}, nil
	}
}

// trainSample runs a tiny real training (an MLP on 2048 MNIST images, or
// synthetic samples when the files are missing) with a Recorder: 2.5
// epochs, so the last one is partial, held-out accuracy and loss at each
// epoch's end, resource readings every 2 ms into a history of 8.
func trainSample(t testing.TB) *Report {
	t.Helper()
	m, err := ml.NewModel("mlp:784-32-10", 1)
	if err != nil {
		t.Fatal(err)
	}
	var train, test ml.Dataset
	name := "mnist"
	if dir, err := mnist.FindDir(); err == nil {
		tr, te, err := mnist.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		train, test = subset(tr, 2048), subset(te, 500)
	} else {
		name = "synthetic"
		train, test = ml.SyntheticDataset(m, 2048, 1), ml.SyntheticDataset(m, 500, 2)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize, cfg.Epochs, cfg.Steps, cfg.Momentum = 32, 0, 160, 0.9
	be, err := cpu.New(cpu.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, train, cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	c := ConfigFromTrainer(tr, 1)
	pred, err := ml.EstimateTraining(m, tr.Cfg, 1, be.Threads())
	if err != nil {
		t.Fatal(err)
	}
	rec := Start(context.Background(), Options{Kind: KindTrain, ID: "sample", Config: c,
		Dataset:     DatasetFrom(name, Fingerprint(train), HashSamples, train, test.N),
		Environment: DetectEnvironment("test", nil, false), Sample: fakeReader(), Interval: 2 * time.Millisecond,
		HistoryCap: 8, Memory: Memory{PredictedPeakBytes: pred.PeakBytes}, Estimator: ModelEstimator(m, c)})
	epoch := tr.Epoch()
	for !tr.Done() {
		t0 := time.Now()
		loss, err := tr.Step(nil)
		if err != nil {
			t.Fatal(err)
		}
		rec.Step(time.Since(t0), loss, tr.Cfg.BatchSize)
		time.Sleep(200 * time.Microsecond) // let the sampler run several times on a fast machine
		if tr.Epoch() != epoch {
			epoch = tr.Epoch()
			ev, err := ml.Evaluate(m, test, be, 500)
			if err != nil {
				t.Fatal(err)
			}
			rec.EndEpoch(Epoch{HeldOut: map[string]Float{"accuracy": Float(ev.Accuracy), "loss": Float(ev.Loss)}})
		}
	}
	rec.SetProfile([]OpProfile{
		{Op: "gemm", Calls: 960, Seconds: 0.30, Bytes: 1 << 28, FLOPs: 3e9, Share: 0.75, GFLOPS: 10},
		{Op: "data.gather", Calls: 160, Seconds: 0.02, Bytes: 1 << 24, Share: 0.05},
		{Op: "softmax_xent", Calls: 160, Seconds: 0.08, Bytes: 1 << 20, FLOPs: 1e6, Share: 0.20, GFLOPS: 0.0125},
	})
	return rec.Finish()
}

func subset(d ml.Dataset, n int) ml.Dataset {
	ss := len(d.X) / d.N
	return ml.Dataset{X: d.X[:n*ss], Y: d.Y[:n], N: n, Shape: d.Shape, Classes: d.Classes}
}

var sampleOnce = struct {
	rep *Report
}{}

// sample returns the training sample report, built once per test binary.
func sample(t testing.TB) *Report {
	if sampleOnce.rep == nil {
		sampleOnce.rep = trainSample(t)
	}
	return sampleOnce.rep
}

// TestRecorderRealRun: the recorder's report of a real run has every
// section filled and consistent.
func TestRecorderRealRun(t *testing.T) {
	r := sample(t)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Steps.Count != 160 || r.Steps.Samples != 160*32 {
		t.Fatalf("steps %d, samples %d: expected 160 and %d", r.Steps.Count, r.Steps.Samples, 160*32)
	}
	s := r.Steps
	if !(s.MinSeconds > 0 && s.MinSeconds <= s.P50Seconds && s.P50Seconds <= s.P90Seconds && s.P90Seconds <= s.P99Seconds &&
		s.P99Seconds <= s.MaxSeconds && s.MeanSeconds > 0 && s.SamplesPerSecond > 0) {
		t.Fatalf("step statistics out of order: %+v", s)
	}
	if s.Series.Len() > 8 || s.Series.Len() < 4 || s.Series.Offered() != 160 {
		t.Fatalf("step series: %d kept of %d, expected 4-8 of 160", s.Series.Len(), s.Series.Offered())
	}
	if len(r.Epochs) != 3 || r.Epochs[2].Partial != true || r.Epochs[0].Partial || r.Epochs[0].Steps != 64 || r.Epochs[2].Steps != 32 ||
		r.Epochs[0].Epoch != 1 || r.Epochs[2].EndStep != 160 {
		t.Fatalf("epochs: %+v, expected 2 whole epochs of 64 steps and a partial one of 32", r.Epochs)
	}
	if r.Epochs[1].HeldOut["accuracy"] <= 0.5 || !(r.Epochs[1].Loss < r.Epochs[0].Loss) || len(r.Epochs[2].HeldOut) != 0 {
		t.Fatalf("epochs' metrics: %+v, expected held-out accuracy above 50%% and a falling training loss", r.Epochs)
	}
	res := r.Resources
	if res.Summary.Readings < 3 || res.History.Len() > 8 || res.History.Len() < 2 || res.Summary.PeakRSSBytes < 100<<20 ||
		res.Summary.MeanCPUPercent != 70 || res.Summary.Cores != 2 {
		t.Fatalf("resources: %d readings, %d kept, summary %+v", res.Summary.Readings, res.History.Len(), res.Summary)
	}
	if r.Memory.MeasuredPeakRSSBytes != res.Summary.PeakRSSBytes || r.Memory.PredictedPeakBytes == 0 ||
		r.Memory.MeasuredPeakHeapBytes == 0 || r.Memory.AvailableBytes != 8<<30+101<<20 {
		t.Fatalf("memory: %+v", r.Memory)
	}
	c := r.Config
	if c.Model != "mlp:784-32-10" || c.Params != 784*32+32+32*10+10 || c.Batch != 32 || c.Steps != 160 || c.Optimizer != "sgd" ||
		c.Momentum != 0.9 || c.Precision != "fp32" || c.Threads != 2 || c.Devices != 1 || !strings.HasPrefix(c.Backend, "cpu/") || c.FLOPsPerSample == 0 {
		t.Fatalf("config: %+v", c)
	}
	if d := r.Dataset; d.Samples != 2048 || d.TestSamples != 500 || d.Classes != 10 || len(d.Hash) != 64 || d.HashOf != HashSamples {
		t.Fatalf("dataset: %+v", d)
	}
	if e := r.Environment; e.GoVersion == "" || e.CPUCores == 0 || e.PouwdVersion != "test" {
		t.Fatalf("environment: %+v", e)
	}
	if r.Advice == nil {
		t.Fatal("advice is nil, expected a list (possibly empty)")
	}
}

// TestStepPercentiles: the histogram's percentiles are within 1% of the
// exact ones.
func TestStepPercentiles(t *testing.T) {
	var h stepHistogram
	for i := 1; i <= 1000; i++ {
		h.add(float64(i) * 1e-3)
	}
	s := h.stats()
	for _, c := range []struct{ got, want float64 }{{s.P50Seconds, 0.5}, {s.P90Seconds, 0.9}, {s.P99Seconds, 0.99}, {s.MeanSeconds, 0.5005}, {s.MinSeconds, 0.001}, {s.MaxSeconds, 1}} {
		if math.Abs(c.got-c.want) > 0.01*c.want {
			t.Errorf("got %v, expected %v within 1%%: %+v", c.got, c.want, s)
		}
	}
}

// TestReportRoundTrip: Write then Read gives back the same report, NaN
// losses included.
func TestReportRoundTrip(t *testing.T) {
	r := *sample(t)
	r.Epochs = append([]Epoch(nil), r.Epochs...)
	r.Epochs[0].Loss = Float(math.NaN())
	r.Epochs[1].HeldOut = map[string]Float{"loss": Float(math.Inf(1))}
	path := filepath.Join(t.TempDir(), "run.json")
	if err := r.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := r.Encode(&a); err != nil {
		t.Fatal(err)
	}
	if err := back.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatalf("the report changed in a round trip:\n%s\nvs\n%s", a.String(), b.String())
	}
	if !math.IsNaN(float64(back.Epochs[0].Loss)) || !math.IsInf(float64(back.Epochs[1].HeldOut["loss"]), 1) {
		t.Fatalf("non-finite values: %v, %v", back.Epochs[0].Loss, back.Epochs[1].HeldOut)
	}
	if back.Resources.History.Len() != r.Resources.History.Len() || back.Steps.Series.Stride() != r.Steps.Series.Stride() {
		t.Fatal("the histories changed in a round trip")
	}
}

// TestReadBadFiles: each kind of bad file gets an error that names the
// file and what was expected.
func TestReadBadFiles(t *testing.T) {
	dir := t.TempDir()
	var good bytes.Buffer
	if err := sample(t).Encode(&good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, content string
		want          []string
	}{
		{"text.json", "hello, not a report", []string{"not JSON", "schema_version"}},
		{"empty.json", "", []string{"empty"}},
		{"truncated.json", good.String()[:good.Len()/2], []string{"truncated"}},
		{"v2.json", `{"schema_version": 2, "kind": "train"}`, []string{"schema_version 2", "reads version 1"}},
		{"noversion.json", `{"kind": "train", "model": "mlp"}`, []string{"not a run report", "schema_version"}},
		{"array.json", `[1, 2]`, []string{"array", "schema_version"}},
		{"badkind.json", `{"schema_version": 1, "kind": "inference"}`, []string{`kind "inference"`, "expected train"}},
		{"badhistory.json", `{"schema_version": 1, "kind": "train", "steps": {"series": {"cap": 1, "stride": 1, "offered": 0, "entries": []}}}`, []string{"history"}},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(path)
		if err == nil {
			t.Errorf("%s: read without error", c.name)
			continue
		}
		for _, w := range append(c.want, path) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", c.name, err, w)
			}
		}
	}
	if _, err := Read(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("a missing file: error %v", err)
	}
}

// TestRecorderSamplerFailures: failed readings are counted, not fatal;
// Finish twice gives the same report.
func TestRecorderSamplerFailures(t *testing.T) {
	fail := func(context.Context) (monitor.Resources, error) { return monitor.Resources{}, errTest }
	rec := Start(context.Background(), Options{Kind: KindCV, Sample: fail, Interval: time.Millisecond,
		Config: Config{Labels: map[string]string{"fold": "1"}}})
	for end := time.Now().Add(10 * time.Second); rec.Snapshot().Resources.Summary.Errors == 0 && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	rec.Step(time.Millisecond, 1, 4)
	a := rec.Finish()
	if a.Resources.Summary.Errors < 2 || a.Resources.Summary.LastError != errTest.Error() || a.Resources.Summary.Readings != 0 {
		t.Fatalf("summary %+v, expected the failures counted", a.Resources.Summary)
	}
	if b := rec.Finish(); b != a {
		t.Fatal("a second Finish returned another report")
	}
	if len(a.Epochs) != 1 || !a.Epochs[0].Partial || a.Epochs[0].Loss != 1 {
		t.Fatalf("epochs %+v, expected one partial epoch of loss 1", a.Epochs)
	}
}

type testError string

func (e testError) Error() string { return string(e) }

const errTest = testError("no sensor here")

// TestRecorderWithMonitorReader: monitor's own Reader feeds the Recorder
// (without NVML): real readings of this process arrive in the report.
func TestRecorderWithMonitorReader(t *testing.T) {
	rd := monitor.NewReader(monitor.Options{NoGPU: true})
	defer rd.Close()
	rec := Start(context.Background(), Options{Kind: KindTrain, Sample: rd.Read, Interval: 20 * time.Millisecond})
	x := 0.0
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		x += math.Sqrt(x + 1) // keep a core busy
	}
	rec.Step(300*time.Millisecond, float32(x), 1)
	r := rec.Finish()
	s := r.Resources.Summary
	if s.Readings < 2 || s.PeakRSSBytes == 0 || s.MemTotalBytes == 0 || s.Cores == 0 || r.Memory.AvailableBytes == 0 {
		t.Fatalf("summary %+v, memory %+v: expected real readings", s, r.Memory)
	}
}

// TestEndEpochMerge: on a fake clock, epochs get their numbers, steps,
// mean losses and rates; an EndEpoch with no step since the previous one
// adds its metrics to that epoch; a run stopped inside an epoch closes it
// as partial.
func TestEndEpochMerge(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	rec := Start(context.Background(), Options{Kind: KindTrain, StartEpoch: 4, StartStep: 100, Now: clock})
	step := func(loss float32) { now = now.Add(time.Second); rec.Step(time.Second, loss, 10) }
	step(2)
	step(4)
	rec.EndEpoch(Epoch{})
	acc := 0.75
	rec.EndEpoch(Epoch{Accuracy: &acc, HeldOut: map[string]Float{"accuracy": 0.5}})
	step(1)
	r := rec.Finish()
	want := []Epoch{
		{Epoch: 5, Steps: 2, EndStep: 102, Loss: 3, Accuracy: &acc, HeldOut: map[string]Float{"accuracy": 0.5}, Seconds: 2, SamplesPerSecond: 10},
		{Epoch: 6, Steps: 1, EndStep: 103, Loss: 1, Seconds: 1, SamplesPerSecond: 10, Partial: true},
	}
	if len(r.Epochs) != 2 {
		t.Fatalf("epochs %+v, expected %+v", r.Epochs, want)
	}
	for i, e := range r.Epochs {
		w := want[i]
		if e.Epoch != w.Epoch || e.Steps != w.Steps || e.EndStep != w.EndStep || e.Loss != w.Loss || e.Seconds != w.Seconds ||
			e.SamplesPerSecond != w.SamplesPerSecond || e.Partial != w.Partial || (e.Accuracy == nil) != (w.Accuracy == nil) ||
			len(e.HeldOut) != len(w.HeldOut) || e.HeldOut["accuracy"] != w.HeldOut["accuracy"] {
			t.Errorf("epoch %d: %+v, expected %+v", i, e, w)
		}
	}
	if r.DurationSeconds != 3 || r.Steps.Series.Entries()[2].Step != 102 || r.Steps.Series.Entries()[2].T != 3 || r.Steps.Samples != 30 {
		t.Fatalf("duration %v, series %+v", r.DurationSeconds, r.Steps.Series.Entries())
	}
}
