package mlcmd

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("pouwd ml %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// TestTrainEvalResume drives the real commands: 30 steps straight must
// equal 20 steps, a checkpoint, and 10 resumed steps; eval reads the
// checkpoint back.
func TestTrainEvalResume(t *testing.T) {
	dir := t.TempDir()
	lastJSON := func(s string) map[string]any {
		lines := strings.Split(strings.TrimSpace(s), "\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
			t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
		}
		return m
	}
	a := lastJSON(run(t, "train", "--model", "mlp:784-16-10", "--steps", "30", "--json"))
	for _, k := range []string{"steps", "samples_per_second", "test_accuracy", "weights_sha256"} {
		if _, ok := a[k]; !ok {
			t.Fatalf("JSON summary lacks %q: %v", k, a)
		}
	}
	run(t, "train", "--model", "mlp:784-16-10", "--steps", "20", "--checkpoint-dir", dir, "--json")
	b := lastJSON(run(t, "train", "--resume", filepath.Join(dir, "final.ckpt"), "--steps", "30", "--threads", "2", "--json"))
	if a["weights_sha256"] != b["weights_sha256"] || b["steps"].(float64) != 30 {
		t.Fatalf("resumed run %v differs from the straight run %v", b, a)
	}
	e := lastJSON(run(t, "eval", "--checkpoint", filepath.Join(dir, "final.ckpt"), "--json"))
	if e["step"].(float64) != 20 || e["test_accuracy"].(float64) <= 0.1 {
		t.Fatalf("eval: %v", e)
	}
	if !strings.Contains(run(t, "devices"), "selected: cpu") {
		t.Fatal("devices does not name the selected device")
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"train", "--model", "mlp:784-x-10"},
		{"train", "--optimizer", "rmsprop"},
		{"train", "--dataset", "imagenet"},
		{"train", "--memory-fraction", "0.0000000001"},
		{"eval"},
	} {
		cmd := NewCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(args)
		if err := cmd.Execute(); err == nil {
			t.Errorf("pouwd ml %s succeeded", strings.Join(args, " "))
		}
	}
}
