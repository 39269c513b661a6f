package datacmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func run(t *testing.T, cmd *cobra.Command, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errb.String(), err
}

// writeCSV writes a separable 3-class CSV with string labels.
func writeCSV(t *testing.T, p string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("a,b,c,d,kind\n")
	names := []string{"gamma", "alpha", "beta"}
	for i := 0; i < n; i++ {
		c := (i * 7) % 3
		fmt.Fprintf(&b, "%d.5,%d,%d,%d,%s\n", c*10+i%3, c*5, (i%5)-c, c, names[c])
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPrepareInfoAndCV(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "d.csv")
	writeCSV(t, csv, 300)
	out := filepath.Join(dir, "ds")
	cache := filepath.Join(dir, "cache")
	stdout, _, err := run(t, NewCommand(), "prepare", "--source", "csv:"+csv, "--label", "kind", "--split", "70,10,20", "--seed", "4", "--normalize", "--out", out, "--cache-dir", cache, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		SHA256      string                                `json:"sha256"`
		Count       int                                   `json:"count"`
		ClassNames  []string                              `json:"class_names"`
		CacheHit    bool                                  `json:"cache_hit"`
		SplitCounts struct{ Train, Validation, Test int } `json:"split_counts"`
	}
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatalf("prepare --json output: %v\n%s", err, stdout)
	}
	if len(m.SHA256) != 64 || m.Count != 300 || strings.Join(m.ClassNames, ",") != "alpha,beta,gamma" || m.CacheHit || m.SplitCounts.Test != 60 {
		t.Fatalf("metadata %+v", m)
	}
	// again: served from the cache, same sha256
	stdout, _, err = run(t, NewCommand(), "prepare", "--source", "csv:"+csv, "--label", "kind", "--split", "70,10,20", "--seed", "4", "--normalize", "--out", out, "--cache-dir", cache)
	if err != nil || !strings.Contains(stdout, "from cache") || !strings.Contains(stdout, m.SHA256) {
		t.Fatalf("second prepare: %v\n%s", err, stdout)
	}
	stdout, _, err = run(t, NewCommand(), "info", out)
	if err != nil || !strings.Contains(stdout, m.SHA256) || !strings.Contains(stdout, "normalize per channel (4)") {
		t.Fatalf("info: %v\n%s", err, stdout)
	}
	// a damaged dataset is refused by info
	p := filepath.Join(out, "dataset.pouw")
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.Remove(p)
	os.WriteFile(p, b, 0o644)
	if _, _, err := run(t, NewCommand(), "info", out); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("info on a damaged file: %v", err)
	}
	os.RemoveAll(out)
	if _, _, err := run(t, NewCommand(), "prepare", "--source", "csv:"+csv, "--label", "kind", "--out", out, "--no-cache"); err != nil {
		t.Fatal(err)
	}
	plot := filepath.Join(dir, "cv.png")
	stdout, stderr, err := run(t, NewCVCommand(), "--dataset", out, "--models", "mlp:4-8-3,centroid", "--grid", "lr=0.1,0.05", "--folds", "3", "--stratified", "--seed", "2", "--epochs", "2", "--batch", "16", "--quiet", "--plot", plot)
	if err != nil {
		t.Fatalf("cv: %v\n%s", err, stderr)
	}
	for _, want := range []string{"mlp:4-8-3 lr=0.1", "mlp:4-8-3 lr=0.05", "centroid lr=0.1", "fold2", "rank", "best:"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("cv table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Count(stderr, "/12] ") != 12 {
		t.Errorf("expected one progress line per job (12):\n%s", stderr)
	}
	png, err := os.ReadFile(plot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 5000 {
		t.Fatalf("plot: %v, %d bytes", err, len(png))
	}
	// JSON report parses and ranks
	stdout, _, err = run(t, NewCVCommand(), "--dataset", out, "--models", "centroid", "--grid", "shrink=0,0.9", "--folds", "2", "--quiet", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Best    int
		Configs []struct {
			Rank    int
			MeanPPM int64 `json:"mean_ppm"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Configs) != 2 || rep.Configs[rep.Best].Rank != 1 {
		t.Fatalf("cv --json: %v\n%s", err, stdout)
	}
	// the same CV reading the dataset lazily gives the same report
	lazyOut, stderr, err := run(t, NewCVCommand(), "--dataset", out, "--models", "centroid", "--grid", "shrink=0,0.9", "--folds", "2", "--quiet", "--json", "--memory-budget", "4000")
	if err != nil || !strings.Contains(stderr, "reading it lazily") {
		t.Fatalf("lazy cv: %v\n%s", err, stderr)
	}
	var lrep struct {
		Configs []struct {
			MeanPPM int64 `json:"mean_ppm"`
		}
	}
	json.Unmarshal([]byte(lazyOut), &lrep)
	if len(lrep.Configs) != 2 || lrep.Configs[0].MeanPPM != rep.Configs[0].MeanPPM || lrep.Configs[1].MeanPPM != rep.Configs[1].MeanPPM {
		t.Fatalf("lazy CV differs: %+v vs %+v", lrep, rep)
	}
	// an engine model with a budget below the training fold (243 rows of
	// 16 bytes): lazy dataset and memory-mapped fold, same results
	var ppm [2]int64
	for k, extra := range [][]string{nil, {"--memory-budget", "3000"}} {
		args := append([]string{"--dataset", out, "--models", "mlp:4-8-3", "--folds", "10", "--epochs", "2", "--batch", "16", "--quiet", "--json"}, extra...)
		o, e, err := run(t, NewCVCommand(), args...)
		if err != nil {
			t.Fatalf("cv %v: %v\n%s", extra, err, e)
		}
		var r struct {
			Configs []struct {
				MeanPPM int64 `json:"mean_ppm"`
			}
		}
		if err := json.Unmarshal([]byte(o), &r); err != nil || len(r.Configs) != 1 {
			t.Fatalf("cv %v: %v", extra, err)
		}
		ppm[k] = r.Configs[0].MeanPPM
	}
	if ppm[0] != ppm[1] || ppm[0] == 0 {
		t.Fatalf("mlp CV in memory %d ppm, with a 3000-byte budget %d ppm", ppm[0], ppm[1])
	}
	// bad input names what was expected
	if _, _, err := run(t, NewCVCommand(), "--dataset", out, "--models", "mlp:4-8-3", "--grid", "learning=0.1"); err == nil || !strings.Contains(err.Error(), "unknown hyperparameter") {
		t.Fatalf("bad grid: %v", err)
	}
	if _, _, err := run(t, NewCommand(), "prepare", "--source", "parquet:x", "--out", out); err == nil || !strings.Contains(err.Error(), "expected mnist") {
		t.Fatalf("bad source: %v", err)
	}
}

func TestSplitModels(t *testing.T) {
	got := splitModels("mlp:784-128-10,act=gelu,cnn:1x28x28-2x16-10,bn,pool=avg,centroid")
	want := []string{"mlp:784-128-10,act=gelu", "cnn:1x28x28-2x16-10,bn,pool=avg", "centroid"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("splitModels = %q, expected %q", got, want)
	}
}
