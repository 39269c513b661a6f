package datacmd

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestCVProfile: cv --profile prints the report and then the profile
// table of the engine jobs; with --json the report's fields stay at the
// top and the profile sits beside them; with two workers the jobs share
// the profiler.
func TestCVProfile(t *testing.T) {
	out := preparedCSV(t, t.TempDir(), 120)
	args := []string{"--dataset", out, "--models", "mlp:4-8-3", "--folds", "2", "--epochs", "2", "--batch", "8", "--quiet", "--profile", "--workers", "2"}
	stdout, stderr, err := run(t, NewCVCommand(), args...)
	if err != nil {
		t.Fatalf("cv --profile: %v\n%s", err, stderr)
	}
	t.Logf("\n%s", stdout)
	for _, want := range []string{"rank", "profile: ", "gemm", "optimizer", "data", "total"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("cv --profile output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, err = run(t, NewCVCommand(), append(args, "--json")...)
	if err != nil {
		t.Fatalf("cv --profile --json: %v\n%s", err, stderr)
	}
	var rep struct {
		Configs []json.RawMessage `json:"configs"`
		Profile struct {
			Steps uint64 `json:"steps"`
			Ops   []struct {
				Op    string  `json:"op"`
				Share float64 `json:"share"`
			} `json:"ops"`
		} `json:"profile"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Configs) != 1 || rep.Profile.Steps == 0 {
		t.Fatalf("cv --profile --json: %v\n%s", err, stdout)
	}
	var sum float64
	for _, r := range rep.Profile.Ops {
		sum += r.Share
	}
	if math.Abs(sum-1) > 1e-6 {
		t.Errorf("shares sum to %v: %+v", sum, rep.Profile)
	}
}

// preparedCSV writes writeCSV's rows rows under dir and prepares them with
// `data prepare` (default split, no cache); it returns the dataset folder.
func preparedCSV(t *testing.T, dir string, rows int) string {
	t.Helper()
	csv := filepath.Join(dir, "d.csv")
	writeCSV(t, csv, rows)
	out := filepath.Join(dir, "ds")
	if _, e, err := run(t, NewCommand(), "prepare", "--source", "csv:"+csv, "--label", "kind", "--out", out, "--no-cache"); err != nil {
		t.Fatalf("prepare: %v\n%s", err, e)
	}
	return out
}
