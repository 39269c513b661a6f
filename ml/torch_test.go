package ml_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

// The PyTorch cross-checks (TestResNetTorchCrossCheck,
// TestTransformerTorchCrossCheck) share this harness: the model's weights,
// a batch and its labels go to a script under scripts/ci through a JSON
// file, the script runs one training forward and backward pass in plain
// torch.nn and writes loss, logits, gradients (and buffers) back, and
// every tensor is compared with the engine's within float32 tolerance.

const torchPython = "/usr/bin/python3"

// requireTorch skips the test when torchPython cannot import torch.
func requireTorch(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(torchPython, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("PyTorch cross-check skipped: %s cannot import torch (%v: %s)", torchPython, err, strings.TrimSpace(string(out)))
	}
}

// torchNamed is a tensor as the scripts read it.
type torchNamed struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

// torchPass is what a script writes.
type torchPass struct {
	Loss    float64              `json:"loss"`
	Logits  []float64            `json:"logits"`
	Grads   map[string][]float64 `json:"grads"`
	Buffers map[string][]float64 `json:"buffers"`
}

// runTorch gives script (relative to the repository) m's parameters and
// buffers, the batch x of shape and the labels, and returns its pass.
func runTorch(t *testing.T, script, spec string, m *ml.Model, x []float32, shape, labels []int) torchPass {
	t.Helper()
	var params []torchNamed
	for _, p := range m.Params() {
		params = append(params, torchNamed{p.Name, p.T.Shape, append([]float32(nil), p.T.Data...)})
	}
	dir := t.TempDir()
	in, _ := json.Marshal(map[string]any{"spec": spec, "params": params, "x": x, "shape": shape, "labels": labels})
	if err := os.WriteFile(filepath.Join(dir, "in.json"), in, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(torchPython, filepath.Join("..", script), filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json"))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torch: %v\n%s", err, out)
	}
	var want torchPass
	raw, err := os.ReadFile(filepath.Join(dir, "out.json"))
	if err == nil {
		err = json.Unmarshal(raw, &want)
	}
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// engineStep runs the engine's training forward pass on x, the loss and
// backward, leaving the gradients in m; it returns the loss and logits.
func engineStep(t *testing.T, be accel.Backend, m *ml.Model, x []float32, shape, labels []int) (float32, []float32) {
	t.Helper()
	xt, _ := ml.FromData(x, shape...)
	c := &ml.Ctx{Backend: be, Tape: &ml.Tape{}, Train: true}
	logits := m.Forward(c, xt)
	got := append([]float32(nil), logits.Data...)
	loss, err := ml.SoftmaxCrossEntropy(c, logits, labels)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Tape.Backward(loss); err != nil {
		t.Fatal(err)
	}
	return loss.Data[0], got
}

// torchTolerance compares tensors with PyTorch's: every element within
// 1e-5 + 2e-4·max|torch tensor|, remembering the closest call (the largest
// share of the tolerance used) for the log.
type torchTolerance struct {
	worst float64
	what  string
}

func (tol *torchTolerance) check(t *testing.T, what string, got []float32, ref []float64) {
	t.Helper()
	if len(got) != len(ref) {
		t.Fatalf("%s: %d values, torch %d", what, len(got), len(ref))
	}
	scale := 0.0
	for _, v := range ref {
		scale = math.Max(scale, math.Abs(v))
	}
	bound := 1e-5 + 2e-4*scale
	for i, v := range ref {
		d := math.Abs(float64(got[i]) - v)
		if d > bound {
			t.Fatalf("%s[%d] = %g, torch %g (tensor max |.| %g)", what, i, got[i], v, scale)
		}
		if d/bound > tol.worst {
			tol.worst, tol.what = d/bound, what
		}
	}
}

// checkParamCounts requires ml.NewModel(spec, 1).NumParams() to equal each
// count of the JSON table file (spec -> PyTorch's count, written by a
// script under scripts/bench), skipping models above 30M parameters with
// -short, and returns the table's specs (sorted) and counts.
func checkParamCounts(t *testing.T, file string) ([]string, map[string]int) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]int
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	specs := make([]string, 0, len(want))
	for s := range want {
		specs = append(specs, s)
	}
	sort.Strings(specs)
	for _, spec := range specs {
		if testing.Short() && want[spec] > 30_000_000 {
			continue
		}
		m, err := ml.NewModel(spec, 1)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got := m.NumParams(); got != want[spec] {
			t.Errorf("%s: %d parameters, PyTorch %d", spec, got, want[spec])
		}
	}
	return specs, want
}
