//go:build cuda || cudaemu

package mlcmd

import (
	"strings"
	"testing"
)

// TestTrainResident: `ml train --device gpu:0` trains an MLP, a CNN, a
// ResNet and a ViT resident on the device (the host emulator under -tags
// cudaemu) to the CPU's weights, saying so; a setting without a device
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
