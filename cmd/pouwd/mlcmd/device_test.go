package mlcmd

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// runBoth runs `pouwd ml args...` and returns stdout, stderr and the error.
func runBoth(args ...string) (string, string, error) {
	cmd := NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func summaryOf(t *testing.T, s string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %q", lines[len(lines)-1])
	}
	return m
}

// TestTrainDevicesPrecision: cpu:1 and cpu:4 give the same weights in
// bf16 with micro-batches; the summary reports precision, devices and the
// activation memory; fp16 reports its loss scale; a resume may not change
// the precision.
func TestTrainDevicesPrecision(t *testing.T) {
	base := []string{"train", "--model", "mlp:784-16-10", "--steps", "12", "--json", "--precision", "bf16", "--micro-batch", "16"}
	a := summaryOf(t, run(t, append(base, "--device", "cpu:1")...))
	b := summaryOf(t, run(t, append(base, "--device", "cpu:4", "--threads", "2")...))
	if a["weights_sha256"] != b["weights_sha256"] {
		t.Fatalf("cpu:1 %v and cpu:4 %v differ", a["weights_sha256"], b["weights_sha256"])
	}
	if b["precision"] != "bf16" || b["devices"].(float64) != 4 || b["micro_batch"].(float64) != 16 || b["activation_bytes"].(float64) <= 0 {
		t.Fatalf("summary %v", b)
	}
	plain := summaryOf(t, run(t, "train", "--model", "mlp:784-16-10", "--steps", "12", "--json"))
	if plain["weights_sha256"] == a["weights_sha256"] || plain["precision"] != "fp32" {
		t.Fatalf("fp32 summary %v", plain)
	}
	f := summaryOf(t, run(t, "train", "--model", "mlp:784-16-10", "--steps", "5", "--json", "--precision", "fp16"))
	if f["loss_scale"].(float64) != 65536 {
		t.Fatalf("fp16 summary %v", f)
	}
	dir := t.TempDir()
	run(t, append(base, "--checkpoint-dir", dir)...)
	ck := filepath.Join(dir, "final.ckpt")
	r := summaryOf(t, run(t, "train", "--resume", ck, "--steps", "14", "--device", "cpu:2", "--json"))
	if r["precision"] != "bf16" || r["micro_batch"].(float64) != 16 || r["steps"].(float64) != 14 {
		t.Fatalf("resumed summary %v", r)
	}
	if _, _, err := runBoth("train", "--resume", ck, "--steps", "14", "--precision", "fp16"); err == nil || !strings.Contains(err.Error(), "precision") {
		t.Fatalf("resume with another precision: %v", err)
	}
	_, stderr, err := runBoth("train", "--model", "mlp:784-16-10", "--steps", "2", "--device", "auto", "--no-progress")
	if err != nil || !strings.Contains(stderr, "device auto: training on the CPU") {
		t.Fatalf("auto: %v, stderr %q", err, stderr)
	}
}

func TestTrainDeviceErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "gpu:0"}, "this pouwd is built without CUDA (build with -tags cuda)"},
		{[]string{"--device", "gpu:all"}, "this pouwd is built without CUDA (build with -tags cuda)"},
		{[]string{"--device", "gpu"}, "expected gpu:N or gpu:all"},
		{[]string{"--device", "cpu:2"}, "--micro-batch"},
		{[]string{"--device", "cpu:0"}, "expected cpu:N"},
		{[]string{"--device", "tpu"}, "expected auto, cpu"},
		{[]string{"--precision", "fp8"}, "expected fp32, bf16 or fp16"},
		{[]string{"--micro-batch", "48"}, "micro-batch"},
	} {
		args := append([]string{"train", "--model", "mlp:784-16-10", "--steps", "2"}, c.args...)
		if cudaBuilt && strings.HasPrefix(c.want, "this pouwd") {
			continue
		}
		_, _, err := runBoth(args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pouwd ml %s: error %v, want one containing %q", strings.Join(args, " "), err, c.want)
		}
	}
}
