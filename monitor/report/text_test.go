package report

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintSections: the readable form has every section and the numbers
// a reader looks for first.
func TestPrintSections(t *testing.T) {
	r := sample(t)
	var b bytes.Buffer
	if err := Print(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"run\n", "config\n", "dataset\n", "epochs\n", "step times\n", "resources\n", "profile\n",
		"memory\n", "environment\n", "advice\n", "mlp:784-32-10", "held-out accuracy", "(partial)", "p99", "peak RSS",
		"CPU mean 70.0%", "gemm", "data.gather", "predicted step peak"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + out)
	}
}
