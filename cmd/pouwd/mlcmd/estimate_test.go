package mlcmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/pouw/pouwd/ml"
)

// TestEstimateCommand: the table names every part and the peak; --json
// has the documented fields, equal to ml.Estimate's, the parts adding up
// to the peak.
func TestEstimateCommand(t *testing.T) {
	const spec = "transformer:32-64-2x64x4-64,causal,head=last"
	text := run(t, "estimate", "--model", spec, "--batch", "8", "--optimizer", "adamw", "--precision", "bf16", "--recompute", "1")
	for _, want := range []string{spec, "batch 8, adamw, bf16", "recompute every 1 blocks", "weights", "gradients", "optimizer",
		"activations", "activation gradients", "workspaces", "peak", "MiB", "bytes"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	out := run(t, "estimate", "--model", spec, "--batch", "8", "--optimizer", "adamw", "--precision", "bf16", "--recompute", "1", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output is not one JSON object: %v\n%s", err, out)
	}
	want, err := ml.Estimate(spec, ml.EstimateOptions{Batch: 8, Optimizer: "adamw", Precision: "bf16", Recompute: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, k := range []string{"weight_bytes", "gradient_bytes", "optimizer_bytes", "activation_bytes", "activation_grad_bytes", "workspace_bytes"} {
		v, ok := got[k].(float64)
		if !ok || v <= 0 {
			t.Errorf("JSON field %s = %v, expected a positive byte count", k, got[k])
		}
		sum += v
	}
	if got["peak_bytes"] != float64(want.PeakBytes) || sum != float64(want.PeakBytes) || got["params"] != float64(want.Params) {
		t.Errorf("JSON %v: expected peak_bytes %d (the sum of the parts, %v) and params %d", got, want.PeakBytes, sum, want.Params)
	}
	for k, v := range map[string]any{"model": spec, "batch": 8.0, "optimizer": "adamw", "precision": "bf16", "recompute": 1.0,
		"micro_batch": 0.0, "devices": 1.0, "threads": 1.0, "momentum": 0.0, "gc_percent": 0.0, "garbage_bytes": 0.0} {
		if got[k] != v {
			t.Errorf("JSON field %s = %v, expected %v", k, got[k], v)
		}
	}
}

// TestEstimateGCPercent: --gc-percent adds that share of the live peak as
// garbage, in the table and the JSON.
func TestEstimateGCPercent(t *testing.T) {
	args := []string{"estimate", "--model", "mlp:784-64-10", "--batch", "32", "--gc-percent", "100"}
	var got struct {
		Garbage uint64 `json:"garbage_bytes"`
		Peak    uint64 `json:"peak_bytes"`
	}
	if err := json.Unmarshal([]byte(run(t, append(args, "--json")...)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Garbage == 0 || got.Peak != 2*got.Garbage {
		t.Errorf("--gc-percent 100: garbage %d, peak %d, expected the garbage to equal the live peak", got.Garbage, got.Peak)
	}
	if text := run(t, args...); !strings.Contains(text, "garbage (GOGC=100)") {
		t.Errorf("the table lacks the garbage row:\n%s", text)
	}
}

// TestEstimateDevice: --device gpu prints ml.EstimateDevice's parts and
// peak (a run resident on a GPU) and the free memory a GPU needs at the
// default budget fraction; --json says "device": "gpu"; the plain
// estimate says "device": "cpu".
func TestEstimateDevice(t *testing.T) {
	const spec = "resnet:3x16x16-basic-1.1-8-10"
	want, err := ml.EstimateDevice(spec, ml.EstimateOptions{Batch: 4, Optimizer: "sgd", Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	text := run(t, "estimate", "--model", spec, "--batch", "4", "--momentum", "0.9", "--device", "gpu")
	for _, want := range []string{spec, "batch 4, sgd (momentum 0.9), fp32, resident on a GPU", "weights", "activation gradients",
		"workspaces", fmt.Sprintf("  %-22s %12s %15d bytes", "peak", humanBytes(want.PeakBytes), want.PeakBytes),
		"free GPU memory needed", "the budget is 0.8 of it"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "thread") {
		t.Errorf("the device estimate names host threads:\n%s", text)
	}
	var got struct {
		Device string `json:"device"`
		ml.MemoryEstimate
	}
	if err := json.Unmarshal([]byte(run(t, "estimate", "--model", spec, "--batch", "4", "--momentum", "0.9", "--device", "gpu:1", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Device != "gpu" || got.MemoryEstimate != want {
		t.Errorf("--device gpu:1 --json: %+v, expected device gpu and %+v", got, want)
	}
	if err := json.Unmarshal([]byte(run(t, "estimate", "--model", spec, "--batch", "4", "--json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Device != "cpu" {
		t.Errorf("the host estimate's JSON says device %q, expected cpu", got.Device)
	}
}

func TestEstimateRejectsBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"estimate", "--model", "mlp:784-x-10", "--batch", "8"}, "invalid model spec"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--recompute", "1"}, "no residual blocks"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--micro-batch", "3"}, "micro-batch"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--optimizer", "rmsprop"}, "optimizer"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--precision", "fp8"}, "precision"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--devices", "2"}, "micro-batches"},
		{[]string{"estimate", "--model", "mlp:784-10"}, "--batch"},
		{[]string{"estimate", "--batch", "8"}, "--model"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--device", "tpu"}, "--device"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--device", "gpu", "--precision", "bf16"}, "precision bf16 has no device path"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--device", "gpu", "--micro-batch", "4"}, "micro-batches of 4 have no device path"},
		{[]string{"estimate", "--model", "resnet:3x8x8-resnet20-10", "--batch", "8", "--device", "gpu", "--recompute", "1"}, "keeps every activation"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--device", "gpu", "--gc-percent", "100"}, "garbage collector"},
	} {
		cmd := NewCommand()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		cmd.SetArgs(c.args)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pouwd ml %s: error %v, expected one mentioning %q", strings.Join(c.args, " "), err, c.want)
		}
	}
}
