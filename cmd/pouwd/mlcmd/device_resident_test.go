//go:build cuda || cudaemu

package mlcmd

import (
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel/cuda"
)

// TestTrainResident: `ml train --device gpu:0` trains an MLP, a CNN, a
// ResNet and a ViT resident on the device (the host emulator under -tags
// cudaemu) to the CPU's weights, saying so, with micro-batches too; a
// setting without a device
// path (bf16) trains on the host path, also to the CPU's weights, saying
// why. Run with -tags cudaemu (scripts/ci/cuda.sh).
func TestTrainResident(t *testing.T) {
	for _, c := range []struct {
		model string
		extra []string
		want  string
	}{
		{"mlp:784-16-10", nil, "training resident on gpu0"},
		{"cnn:1x28x28-1x2-10,bn", nil, "training resident on gpu0"},
		{"resnet:1x28x28-basic-1.1-2-10", nil, "training resident on gpu0"},
		{"vit:1x28x28-7-1x8x2-10,mlp=1", nil, "training resident on gpu0"},
		{"cnn:1x28x28-1x2-10,bn,dropout=0.2", []string{"--micro-batch", "2"}, "4 micro-batches of 2 per step"},
		{"mlp:784-16-10", []string{"--precision", "bf16"}, "no resident device path: precision bf16"},
	} {
		base := append([]string{"train", "--model", c.model, "--steps", "3", "--batch", "8"}, c.extra...)
		base = append(base, "--json")
		cpu := summaryOf(t, run(t, append(base, "--device", "cpu")...))
		out, stderr, err := runBoth(append(base, "--device", "gpu:0")...)
		if err != nil {
			t.Fatalf("%s on gpu:0: %v\n%s", c.model, err, stderr)
		}
		gpu := summaryOf(t, out)
		if gpu["weights_sha256"] != cpu["weights_sha256"] {
			t.Errorf("%s: gpu:0 weights %v, cpu %v", c.model, gpu["weights_sha256"], cpu["weights_sha256"])
		}
		// Without --json the notes go to stderr.
		if _, stderr, err = runBoth(append(base[:len(base)-1], "--device", "gpu:0", "--no-progress")...); err != nil {
			t.Fatalf("%s on gpu:0: %v\n%s", c.model, err, stderr)
		}
		if !strings.Contains(stderr, c.want) {
			t.Errorf("%s: stderr %q, expected it to say %q", c.model, stderr, c.want)
		}
	}
}

// TestTrainResidentDevices: `ml train --device gpu:all --micro-batch M`
// over two GPUs (two emulated devices under -tags cudaemu) trains
// resident on both, saying so, to the weights of one CPU device with the
// same micro-batches.
func TestTrainResidentDevices(t *testing.T) {
	t.Setenv("POUW_CUDAEMU_DEVICES", "2") // read by the emulator only
	base := []string{"train", "--model", "cnn:1x28x28-1x2-10,bn", "--steps", "3", "--batch", "8", "--micro-batch", "2"}
	cpu := summaryOf(t, run(t, append(base, "--json", "--device", "cpu")...))
	out, stderr, err := runBoth(append(base, "--json", "--device", "gpu:all")...)
	if err != nil {
		t.Fatalf("gpu:all: %v\n%s", err, stderr)
	}
	if gpu := summaryOf(t, out); gpu["weights_sha256"] != cpu["weights_sha256"] {
		t.Errorf("gpu:all weights %v, cpu %v", gpu["weights_sha256"], cpu["weights_sha256"])
	}
	if _, stderr, err = runBoth(append(base, "--device", "gpu:all", "--no-progress")...); err != nil {
		t.Fatalf("gpu:all: %v\n%s", err, stderr)
	}
	want := "training resident on " // real GPUs: however many there are
	if b, err := cuda.Open(0, cuda.DefaultOptions()); err == nil {
		if b.Emulated() {
			want = "device gpu:all: 2 GPUs"
			if !strings.Contains(stderr, "training resident on 2 devices") {
				t.Errorf("stderr %q, expected it to say it trains resident on 2 devices", stderr)
			}
		}
		_ = b.Close()
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q, expected it to say %q", stderr, want)
	}
}
