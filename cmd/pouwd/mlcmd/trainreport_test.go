package mlcmd

import (
	"path/filepath"
	"testing"

	"github.com/pouw/pouwd/monitor/report"
)

// TestTrainReport: `train --report FILE --profile` writes a run report
// that reads back: the config and dataset of the run, its steps and their
// times, the held-out metrics of the last (partial) epoch, at least the
// start and end resource readings, the profile's rows and this machine.
func TestTrainReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	run(t, "train", "--model", "cnn:1x28x28-1x4-10,fc=16", "--steps", "6", "--batch", "16", "--profile", "--report", path)
	r, err := report.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != report.KindTrain || r.Config.Model != "cnn:1x28x28-1x4-10,fc=16" || r.Config.Batch != 16 {
		t.Fatalf("report config: kind %s, %+v", r.Kind, r.Config)
	}
	if r.Dataset.Name != "mnist" || r.Dataset.Samples != 60000 || r.Dataset.TestSamples != 10000 || len(r.Dataset.Hash) != 64 {
		t.Fatalf("report dataset: %+v", r.Dataset)
	}
	if r.Steps.Count != 6 || r.Steps.MeanSeconds <= 0 {
		t.Fatalf("report steps: %+v", r.Steps)
	}
	if len(r.Epochs) != 1 || !r.Epochs[0].Partial || r.Epochs[0].Steps != 6 {
		t.Fatalf("report epochs: %+v", r.Epochs)
	}
	if acc, ok := r.Epochs[0].HeldOut["accuracy"]; !ok || acc <= 0 || acc > 1 {
		t.Fatalf("held-out accuracy: %v (%v)", acc, ok)
	}
	if r.Resources.Summary.Readings < 2 || r.Resources.Summary.PeakRSSBytes == 0 {
		t.Fatalf("resources: %+v", r.Resources.Summary)
	}
	ops := map[string]bool{}
	for _, o := range r.Profile {
		ops[o.Op] = true
	}
	if !ops["conv"] || !ops["optimizer"] {
		t.Fatalf("profile rows: %+v", r.Profile)
	}
	if r.Environment.CPUCores < 1 || r.Memory.PredictedPeakBytes == 0 {
		t.Fatalf("environment %+v, memory %+v", r.Environment, r.Memory)
	}
}
