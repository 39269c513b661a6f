package mlcmd

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestTrainProfile: `train --profile` on a few MNIST batches prints the
// profile table with the conv, GEMM, optimizer and data rows, shares that
// sum to 100% and the rate against the measured peak; with --json the
// summary carries the same rows.
func TestTrainProfile(t *testing.T) {
	args := []string{"train", "--model", "cnn:1x28x28-1x4-10,fc=16", "--steps", "6", "--batch", "16", "--profile"}
	out := run(t, args...)
	rows := map[string]float64{}
	var sum float64
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "op":
			inTable = true
			for _, col := range []string{"share", "GFLOP/s", "%", "peak"} {
				if !strings.Contains(line, col) {
					t.Errorf("table header lacks %q: %s", col, line)
				}
			}
		case inTable && len(f) >= 4 && f[0] != "total":
			share, err := strconv.ParseFloat(strings.TrimSuffix(f[3], "%"), 64)
			if err != nil {
				t.Fatalf("row %q: share %q", line, f[3])
			}
			rows[f[0]] = share
			sum += share
		}
	}
	for _, op := range []string{"conv", "gemm", "optimizer", "data", "other"} {
		if _, ok := rows[op]; !ok {
			t.Errorf("no %s row in\n%s", op, out)
		}
	}
	// Each share is printed to 0.1%.
	if math.Abs(sum-100) > 0.05*float64(len(rows))+0.01 {
		t.Errorf("shares sum to %.2f%%:\n%s", sum, out)
	}
	if !strings.Contains(out, "measured GEMM peak") {
		t.Errorf("no measured peak in\n%s", out)
	}

	lines := strings.Split(strings.TrimSpace(run(t, append(args, "--json")...)), "\n")
	var summary struct {
		Profile *struct {
			Steps      uint64  `json:"steps"`
			PeakGFLOPS float64 `json:"peak_gflops"`
			Ops        []struct {
				Op    string  `json:"op"`
				Share float64 `json:"share"`
			} `json:"ops"`
		} `json:"profile"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &summary); err != nil || summary.Profile == nil {
		t.Fatalf("JSON summary without a profile (%v): %s", err, lines[len(lines)-1])
	}
	p := summary.Profile
	sum = 0
	for _, r := range p.Ops {
		sum += r.Share
	}
	if p.Steps != 6 || !(p.PeakGFLOPS > 0) || len(p.Ops) < 5 || math.Abs(sum-1) > 1e-6 {
		t.Errorf("JSON profile: %+v (shares sum to %v)", p, sum)
	}
}
