//go:build cuda && !cudaemu

package cuda

import "testing"

// TestCuInitGuard runs on any machine with the driver library: the binary
// must have been linked with -Wl,--wrap=cuInit, so that gorgonia.org/cu's
// init went through the guard (and this test process is alive even when
// cuInit failed).
func TestCuInitGuard(t *testing.T) {
	if !guardActive() {
		t.Fatal("gorgonia.org/cu's cuInit did not go through the guard: -Wl,--wrap=cuInit was not applied at link time")
	}
	if err := initError(); err != nil {
		t.Logf("cuInit failed and the process survived: %v", err)
	} else {
		t.Log("cuInit succeeded")
	}
}
