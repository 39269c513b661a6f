//go:build cuda || cudaemu

package workercmd

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
)

// TestMinerGPUs: the miner's --device gpu:all and gpu:N,M open every GPU
// (two emulated ones under -tags cudaemu, POUW_CUDAEMU_DEVICES=2), and its
// Place (placeJobs) trains a job with micro-batches resident on all of
// them, to the host's bits, saying so; a job without micro-batches trains
// resident on the first alone, with a note saying why.
func TestMinerGPUs(t *testing.T) {
	t.Setenv("POUW_CUDAEMU_DEVICES", "2") // read by the emulator only
	b, err := cuda.Open(0, cuda.DefaultOptions())
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	emulated := b.Emulated()
	_ = b.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	closeAll := func(devs []accel.Backend) {
		t.Cleanup(func() {
			for _, d := range devs {
				_ = d.(*cuda.Backend).Close()
			}
		})
	}
	all, err := openDevices("gpu:all", 1, log)
	if err != nil {
		t.Fatal(err)
	}
	closeAll(all)
	if len(all) < 2 {
		t.Skipf("gpu:all opened %d GPU(s), the test needs 2", len(all))
	}
	if emulated && (len(all) != 2 || !strings.Contains(logs.String(), "device gpu:all: 2 GPUs")) {
		t.Fatalf("gpu:all on 2 emulated GPUs: %d backends, log %q", len(all), logs.String())
	}
	devs, err := openDevices("gpu:1,0", 1, log)
	closeAll(devs)
	if err != nil || len(devs) != 2 || devs[0].(*cuda.Backend).Device() != all[1].(*cuda.Backend).Device() {
		t.Fatalf("gpu:1,0: %d backends (%v), expected GPU 1 then GPU 0", len(devs), err)
	}
	if _, err := openDevices("gpu:0,2", 1, log); emulated && (err == nil || !strings.Contains(err.Error(), "GPU 2")) {
		t.Errorf("gpu:0,2 with 2 emulated GPUs: %v, expected an error naming GPU 2", err)
	}

	// run trains 2 steps of a job (micro-batches of micro, 0: none), on
	// the host path without place, and returns the weights and the log.
	const spec = "cnn:1x8x8-2x2-10,bn,fc=6,dropout=0.2"
	run := func(micro int, place bool) ([]float32, string, string) {
		t.Helper()
		m, err := ml.NewModel(spec, 3)
		if err != nil {
			t.Fatal(err)
		}
		host, _ := cpu.New(cpu.Options{Threads: 1})
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.MicroBatch, cfg.Optimizer = 8, micro, "adam"
		tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 32, 5), cfg, host)
		if err != nil {
			t.Fatal(err)
		}
		logs.Reset()
		name := "host"
		if place {
			release, err := placeJobs(all[:2], log)(tr)
			if err != nil || release == nil {
				t.Fatalf("micro-batch %d: release %v, %v\n%s", micro, release != nil, err, logs.String())
			}
			defer func() { _ = release() }()
			name = tr.Resident().Name()
		}
		for i := 0; i < 2; i++ {
			if _, err := tr.Step(nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.Sync(); err != nil {
			t.Fatal(err)
		}
		var w []float32
		for _, p := range tr.Model.Params() {
			w = append(w, p.T.Data...)
		}
		return w, name, logs.String()
	}
	equal := func(a, b []float32) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	for _, micro := range []int{2, 0} {
		want, _, _ := run(micro, false)
		got, name, out := run(micro, true)
		if !equal(got, want) {
			t.Errorf("micro-batch %d: the weights on %s differ from the host's", micro, name)
		}
		if micro > 0 {
			if !strings.HasPrefix(name, "2 devices") || !strings.Contains(out, "training resident on 2 devices") {
				t.Errorf("micro-batches of %d: resident on %q, log %q; expected both GPUs", micro, name, out)
			}
		} else if strings.Contains(name, "devices") || !strings.Contains(out, "no micro-batches: training on the first of 2 GPUs alone") || !strings.Contains(out, "training resident on gpu") {
			t.Errorf("no micro-batches: resident on %q, log %q; expected the first GPU alone, with a note", name, out)
		}
	}
}
