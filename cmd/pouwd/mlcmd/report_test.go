package mlcmd

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/monitor/report"
)

// writeRunReport trains a small MLP on synthetic samples for two epochs
// with a report recorder and writes its report.
func writeRunReport(t *testing.T, path string) {
	t.Helper()
	m, err := ml.NewModel("mlp:64-16-4", 1)
	if err != nil {
		t.Fatal(err)
	}
	train := ml.SyntheticDataset(m, 256, 1)
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize, cfg.Epochs = 16, 2
	be, err := cpu.New(cpu.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, train, cfg, be)
	if err != nil {
		t.Fatal(err)
	}
	c := report.ConfigFromTrainer(tr, 1)
	rd := monitor.NewReader(monitor.Options{NoGPU: true})
	defer rd.Close()
	rec := report.Start(context.Background(), report.Options{Kind: report.KindTrain, Config: c,
		Dataset:     report.DatasetFrom("synthetic", report.Fingerprint(train), report.HashSamples, train, 0),
		Environment: report.DetectEnvironment("test", nil, false), Sample: rd.Read, Interval: 10 * time.Millisecond,
		Estimator: report.ModelEstimator(m, c)})
	epoch := tr.Epoch()
	for !tr.Done() {
		t0 := time.Now()
		loss, err := tr.Step(nil)
		if err != nil {
			t.Fatal(err)
		}
		rec.Step(time.Since(t0), loss, tr.Cfg.BatchSize)
		if tr.Epoch() != epoch {
			epoch = tr.Epoch()
			rec.EndEpoch(report.Epoch{HeldOut: map[string]report.Float{"accuracy": 0.5}})
		}
	}
	rec.SetProfile([]report.OpProfile{{Op: "gemm", Calls: 96, Seconds: 0.01, Share: 0.6, GFLOPS: 2}, {Op: "data", Calls: 32, Seconds: 0.004, Share: 0.25}})
	if err := rec.Finish().Write(path); err != nil {
		t.Fatal(err)
	}
}

// TestReportCommand: the text has every section, --plot writes decodable
// PNGs, --json re-emits a report that reads back, a bad file fails with
// its name.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	writeRunReport(t, path)

	text := run(t, "report", path)
	for _, want := range []string{"run\n", "config\n", "dataset\n", "epochs\n", "step times\n", "resources\n", "profile\n",
		"memory\n", "environment\n", "advice\n", "mlp:64-16-4", "held-out accuracy", "p50", "peak RSS", "CPU mean",
		"data-loading", "evidence: data-loading share of the profiled time = 25.0% (> threshold 10.0%)"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	plots := filepath.Join(dir, "plots")
	out := run(t, "report", path, "--plot", plots)
	for _, name := range []string{report.PlotLearning, report.PlotThroughput, report.PlotResources} {
		p := filepath.Join(plots, name)
		if !strings.Contains(out, "plot "+p) {
			t.Errorf("output does not name %s", p)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() == 0 || img.Bounds().Dy() == 0 {
			t.Fatalf("%s: %v, bounds %v", p, err, img.Bounds())
		}
	}

	js := run(t, "report", path, "--json", "--advise")
	if _, err := report.Decode([]byte(js), "--json output"); err != nil {
		t.Fatalf("--json output does not read back: %v", err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"schema_version": 9}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := NewCommand()
	cmd.SetOut(&bytes.Buffer{})
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"report", bad})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "schema_version 9") {
		t.Fatalf("a report of another schema: error %v", err)
	}
}
