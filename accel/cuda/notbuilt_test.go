//go:build !cuda && !cudaemu

package cuda

import (
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
)

func TestOpenOrCPUNotBuilt(t *testing.T) {
	b, msg, err := OpenOrCPU(0, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if msg != accel.NotBuiltMessage || !strings.HasPrefix(b.Name(), "cpu/") || Built {
		t.Fatalf("OpenOrCPU = %s, %q (Built %v)", b.Name(), msg, Built)
	}
}
