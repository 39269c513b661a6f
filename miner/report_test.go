package miner

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pouw/pouwd/monitor/report"
)

// TestJobReport: with ReportDir set, an honest job leaves a run report:
// kind miner-job, the task and job labels, the chain's dataset hash, one
// step time per step, the held-out metrics it claimed; and the oldest
// reports beyond ReportKeep are removed.
func TestJobReport(t *testing.T) {
	r := newRig(t)
	r.cfg.ReportDir, r.cfg.ReportKeep = t.TempDir(), 2
	// Three older reports, one of which survives (ReportKeep 2 with the new one).
	for i, age := range []time.Duration{3 * time.Hour, 2 * time.Hour, time.Hour} {
		p := filepath.Join(r.cfg.ReportDir, fmt.Sprintf("task-9-job-%d.json", i))
		if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	m := r.miner(t)
	if err := r.run(t, m, false); err != nil {
		t.Fatal(err)
	}
	task := r.tiny.Task
	rep, err := report.Read(filepath.Join(r.cfg.ReportDir, fmt.Sprintf("task-%d-job-0.json", task.Id)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kind != report.KindMinerJob || rep.Config.Labels["task"] != fmt.Sprint(task.Id) || rep.Config.Labels["job"] != "0" {
		t.Fatalf("kind %s, labels %v", rep.Kind, rep.Config.Labels)
	}
	if rep.Dataset.Hash != hex.EncodeToString(r.tiny.Record.Sha256) || rep.Dataset.HashOf != report.HashCanonical {
		t.Fatalf("dataset %+v, chain record sha256 %x", rep.Dataset, r.tiny.Record.Sha256)
	}
	if rep.Steps.Count != uint64(len(r.hashes)) {
		t.Fatalf("%d steps in the report, the job trained %d", rep.Steps.Count, len(r.hashes))
	}
	last := rep.Epochs[len(rep.Epochs)-1]
	if acc, ok := last.HeldOut["accuracy"]; !ok || acc < 0 || acc > 1 {
		t.Fatalf("held-out metrics %v", last.HeldOut)
	}
	left, _ := filepath.Glob(filepath.Join(r.cfg.ReportDir, "task-*.json"))
	if len(left) != 2 || filepath.Base(left[0]) == "task-9-job-0.json" || filepath.Base(left[1]) == "task-9-job-0.json" {
		t.Fatalf("reports kept: %v, expected the new one and task-9-job-2", left)
	}
}
