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

// TestEstimateDeviceMicroBatches: --device gpu --micro-batch M prints
// ml.EstimateDevices' figure of one GPU; with --devices N, GPU 0's parts
// and each other GPU's (no optimizer slots), in text and in --json
// (other_devices).
func TestEstimateDeviceMicroBatches(t *testing.T) {
	const spec = "resnet:3x16x16-basic-1.1-8-10"
	o := ml.EstimateOptions{Batch: 16, MicroBatch: 4, Optimizer: "adam"}
	one, err := ml.EstimateDevice(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"estimate", "--model", spec, "--batch", "16", "--micro-batch", "4", "--optimizer", "adam", "--device", "gpu"}
	text := run(t, args...)
	for _, want := range []string{"micro-batches of 4 on 1 device(s), resident on a GPU", fmt.Sprintf("  %-22s %12s %15d bytes", "peak", humanBytes(one.PeakBytes), one.PeakBytes)} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	o.Devices = 4
	es, err := ml.EstimateDevices(spec, o)
	if err != nil {
		t.Fatal(err)
	}
	if es[0].PeakBytes <= es[1].PeakBytes || es[1].OptimizerBytes != 0 {
		t.Fatalf("4 devices: %+v, expected device 0 above the others, which hold no optimizer slots", es)
	}
	args = append(args, "--devices", "4")
	text = run(t, args...)
	for _, want := range []string{"resident on 4 GPUs", "GPU 0 (the optimizer's slots, the gradient reduction):", "each of GPUs 1..3 (a replica: no optimizer slots):",
		fmt.Sprintf("  %-22s %12s %15d bytes", "peak", humanBytes(es[0].PeakBytes), es[0].PeakBytes),
		fmt.Sprintf("  %-22s %12s %15d bytes", "peak", humanBytes(es[1].PeakBytes), es[1].PeakBytes)} {
		if !strings.Contains(text, want) {
			t.Errorf("--devices 4 text output lacks %q:\n%s", want, text)
		}
	}
	var got struct {
		Devices int `json:"devices"`
		ml.MemoryEstimate
		Others *ml.MemoryEstimate `json:"other_devices"`
	}
	if err := json.Unmarshal([]byte(run(t, append(args, "--json")...)), &got); err != nil {
		t.Fatal(err)
	}
	if got.Devices != 4 || got.MemoryEstimate != es[0] || got.Others == nil || *got.Others != es[1] {
		t.Errorf("--devices 4 --json: %+v (others %+v), expected %+v and %+v", got, got.Others, es[0], es[1])
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
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--device", "gpu", "--micro-batch", "3"}, "micro-batch 3"},
		{[]string{"estimate", "--model", "mlp:784-10", "--batch", "8", "--device", "gpu", "--devices", "2"}, "needs --micro-batch"},
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
