//go:build cuda || cudaemu

package mlcmd

import (
	"strings"
	"testing"
)

// TestTrainResident: `ml train --device gpu:0` trains an MLP resident on
// the device (the host emulator under -tags cudaemu) to the CPU's weights,
// saying so; a model without a device path trains on the host path, also
// to the CPU's weights, saying why. Run with -tags cudaemu (scripts/ci/cuda.sh).
func TestTrainResident(t *testing.T) {
	for _, c := range []struct{ model, want string }{
		{"mlp:784-16-10", "training resident on gpu0"},
		{"cnn:1x28x28-1x2-10", "training resident on gpu0"},
		{"cnn:1x28x28-1x2-10,bn", "no resident device path"},
	} {
		base := []string{"train", "--model", c.model, "--steps", "3", "--batch", "8", "--json"}
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
