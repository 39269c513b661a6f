package datacmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pouw/pouwd/monitor/report"
)

// TestCVReportDir: `cv --report-dir` writes one run report per engine job
// (2 configurations x 2 folds, 2 workers): each reads back with its
// configuration's label, the dataset's canonical hash, the job's steps and
// resource readings.
func TestCVReportDir(t *testing.T) {
	dir := t.TempDir()
	out := preparedCSV(t, dir, 120)
	reports := filepath.Join(dir, "reports")
	_, stderr, err := run(t, NewCVCommand(), "--dataset", out, "--models", "mlp:4-8-3,mlp:4-16-3", "--folds", "2", "--epochs", "2", "--batch", "8",
		"--quiet", "--workers", "2", "--report-dir", reports)
	if err != nil {
		t.Fatalf("cv --report-dir: %v\n%s", err, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(reports, "job-*.json"))
	if len(files) != 4 || !strings.Contains(stderr, "4 job report(s)") {
		t.Fatalf("%d job reports (%v), stderr:\n%s", len(files), files, stderr)
	}
	configs := map[string]int{}
	for _, f := range files {
		r, err := report.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != report.KindCV || r.Dataset.HashOf != report.HashCanonical || len(r.Dataset.Hash) != 64 {
			t.Fatalf("%s: kind %s, dataset %+v", f, r.Kind, r.Dataset)
		}
		if r.Steps.Count == 0 || len(r.Epochs) != 2 || r.Resources.Summary.Readings < 1 {
			t.Fatalf("%s: %d steps, %d epochs, %d readings", f, r.Steps.Count, len(r.Epochs), r.Resources.Summary.Readings)
		}
		configs[r.Config.Labels["config"]]++
	}
	if configs["mlp:4-8-3"] != 2 || configs["mlp:4-16-3"] != 2 {
		t.Fatalf("jobs per configuration: %v", configs)
	}
}
