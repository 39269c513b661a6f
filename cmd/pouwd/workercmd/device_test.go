package workercmd

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel/cuda"
)

// TestOpenDevice: cpu and auto always give a backend; gpu:N in a build
// without the cuda tag (or without a usable GPU) is refused with the
// reason, never silently trained on the CPU; malformed values are refused.
func TestOpenDevice(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, dev := range []string{"cpu", "auto"} {
		be, err := openDevice(dev, 1, log)
		if err != nil || be == nil {
			t.Fatalf("--device %s: %v", dev, err)
		}
	}
	if !cuda.Built {
		_, err := openDevice("gpu:0", 1, log)
		if err == nil || !strings.Contains(err.Error(), "built without cuda") {
			t.Fatalf("--device gpu:0 without the cuda tag: %v, expected a refusal naming the build", err)
		}
	}
	for _, dev := range []string{"gpu", "gpu:-1", "gpu:x", "tpu:0", ""} {
		if _, err := openDevice(dev, 1, log); err == nil || !strings.Contains(err.Error(), "--device") {
			t.Fatalf("--device %q: %v, expected an error naming the flag", dev, err)
		}
	}
	// Several GPUs (the miner's --device): cpu stays one backend; gpu:all
	// and lists without the cuda tag are refused naming the build; a
	// malformed list or a GPU named twice, naming the flag.
	if devs, err := openDevices("cpu", 1, log); err != nil || len(devs) != 1 {
		t.Fatalf("openDevices cpu: %d backends, %v", len(devs), err)
	}
	if !cuda.Built {
		for _, dev := range []string{"gpu:all", "gpu:0,1"} {
			if _, err := openDevices(dev, 1, log); err == nil || !strings.Contains(err.Error(), "built without cuda") {
				t.Fatalf("--device %s without the cuda tag: %v, expected a refusal naming the build", dev, err)
			}
		}
	}
	for _, dev := range []string{"gpu:0,x", "gpu:1,1", "gpu:0,-1", "gpu:,"} {
		if _, err := openDevices(dev, 1, log); err == nil || !strings.Contains(err.Error(), "--device") {
			t.Fatalf("--device %q: %v, expected an error naming the flag", dev, err)
		}
	}
}
