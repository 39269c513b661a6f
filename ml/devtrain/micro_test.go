//go:build cuda || cudaemu

package devtrain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/devtrain"
	"github.com/pouw/pouwd/pouw"
)

// openDevices opens n independent backends: GPUs 0..n-1 (tag cuda; skips
// without them) or n instances of the host emulator (tag cudaemu), each
// with its own memory.
func openDevices(t testing.TB, n int) []*cuda.Backend {
	t.Helper()
	var bs []*cuda.Backend
	for i := 0; i < n; i++ {
		idx := i
		if i > 0 && bs[0].Emulated() {
			idx = 0 // the emulator has one index; each Open is its own device
		}
		b, err := cuda.OpenForTraining(idx, cuda.DefaultOptions())
		if err != nil {
			if i == 0 {
				t.Skipf("no usable GPU: %v", err)
			}
			t.Skipf("%d GPUs needed, GPU %d: %v", n, i, err)
		}
		t.Cleanup(func() { _ = b.Close() })
		bs = append(bs, b)
	}
	return bs
}

// TestResidentMicroBatches: with TrainConfig.MicroBatch > 0 a resident
// step on one device gives the host's bits (every step's loss, hashes
// and samples, the commitment, the checkpoint) for every family:
// BatchNorm's per-micro-batch statistics and running statistics, dropout's
// per-micro-batch masks, 2 to 5 micro-batches per step (the tree with and
// without a power of two).
func TestResidentMicroBatches(t *testing.T) {
	bs := openDevices(t, 1)
	for _, tc := range []struct {
		spec         string
		batch, micro int
		opt          func(*ml.TrainConfig)
	}{
		{"mlp:12-10-8-4,norm=batch,act=gelu", 12, 4, momentum},
		{"mlp:12-10-4,norm=layer,act=tanh,dropout=0.5", 8, 2, adam},
		{"cnn:1x8x8-2x2-10,bn,fc=6,dropout=0.3", 12, 3, adam},
		{"resnet:3x8x8-basic-1.1-4-5", 10, 2, momentum},
		{"transformer:5-7-1x8x2-4,causal,dropout=0.2", 8, 2, adamw},
		{"vit:2x8x8-2-1x8x4-3,mlp=1,dropout=0.1", 8, 4, momentum},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			cfg := ml.DefaultTrainConfig()
			cfg.BatchSize, cfg.MicroBatch = tc.batch, tc.micro
			tc.opt(&cfg)
			matchHostOn(t, bs, tc.spec, cfg, 3)
		})
	}
}

// matchHostOn is matchHost on the devices bs.
func matchHostOn(t *testing.T, bs []*cuda.Backend, spec string, cfg ml.TrainConfig, steps int) {
	t.Helper()
	m, err := ml.NewModel(spec, 3)
	if err != nil {
		t.Fatal(err)
	}
	data := ml.SyntheticDataset(m, 4*cfg.BatchSize, 5)
	for _, sampled := range []bool{false, true} {
		compare(t, trainOn(t, nil, spec, cfg, data, steps, sampled), trainOn(t, bs, spec, cfg, data, steps, sampled))
	}
}

// TestResidentDevices: a resident run over 1, 2 and 4 devices (a replica
// each, micro-batches spread over them, the gradients reduced on device 0
// in ml's order, BatchNorm's running statistics applied there in
// micro-batch order) gives the host's bits with the same micro-batch
// size: fewer micro-batches than devices, an odd count, dropout, both
// optimizers.
func TestResidentDevices(t *testing.T) {
	all := openDevices(t, 4)
	for _, tc := range []struct {
		spec         string
		batch, micro int
		opt          func(*ml.TrainConfig)
	}{
		{"cnn:1x8x8-2x2-10,bn,fc=6,dropout=0.3", 10, 2, momentum},
		{"resnet:3x8x8-basic-1.1-4-5", 6, 2, adam},
		{"transformer:5-7-1x8x2-4,causal,dropout=0.2", 8, 2, adamw},
	} {
		for _, n := range []int{1, 2, 4} {
			t.Run(fmt.Sprintf("%s/%d", tc.spec, n), func(t *testing.T) {
				cfg := ml.DefaultTrainConfig()
				cfg.BatchSize, cfg.MicroBatch = tc.batch, tc.micro
				tc.opt(&cfg)
				matchHostOn(t, all[:n], tc.spec, cfg, 3)
			})
		}
	}
}

// TestResidentMicroMemory: with micro-batches, on one device and on two,
// the memory each replica checks against its device's budget covers what
// the device allocates (its peak over a few steps): the reduction's
// gradient sums on device 0, the variances kept for the running
// statistics, the per-pass buffers at the micro-batch size, and on device
// 0 the digest gather's argument block (sampled steps, a hook gathering
// the pouw/v2 samples).
func TestResidentMicroMemory(t *testing.T) {
	host, _ := cpu.New(cpu.Options{Threads: 1})
	for _, tc := range []struct {
		spec    string
		devices int
	}{
		{"resnet:3x8x8-basic-1.1-4-5", 1},
		{"resnet:3x8x8-basic-1.1-4-5", 2},
		{"transformer:6-11-2x8x2-11,causal,dropout=0.1", 2},
	} {
		bs := openDevices(t, tc.devices) // fresh backends: their peaks are this run's
		m, err := ml.NewModel(tc.spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.MicroBatch, cfg.Optimizer = 14, 2, "adam" // 7 micro-batches: 3 partial sums
		tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 28, 1), cfg, host)
		if err != nil {
			t.Fatal(err)
		}
		d, err := devtrain.NewDevices(bs, tr)
		if err != nil {
			t.Fatal(err)
		}
		tr.SampledSteps()
		if err := tr.SetResident(d); err != nil {
			t.Fatal(err)
		}
		hook := func(s ml.StepInfo) error {
			_, _, err := s.Samples(pouw.Hash{byte(s.Step), 5})
			return err
		}
		for i := 0; i < 2; i++ {
			if _, err := tr.Step(hook); err != nil {
				t.Fatal(err)
			}
		}
		counted := devtrain.DeviceFloats(d)
		if len(counted) != tc.devices || counted[0] != devtrain.Floats(d) {
			t.Fatalf("%s: %d device counts, device 0 %d, Floats %d", tc.spec, len(counted), counted[0], devtrain.Floats(d))
		}
		for i, b := range bs {
			st, err := b.Memory()
			if err != nil {
				t.Fatal(err)
			}
			if st.Peak > 4*uint64(counted[i]) {
				t.Errorf("%s on %d devices: device %d peak %d bytes, counted %d", tc.spec, tc.devices, i, st.Peak, 4*counted[i])
			}
		}
		_ = tr.SetResident(nil)
		_ = d.Close()
	}
}

// TestResidentDevicesRefuse: several devices without micro-batches and a
// backend given twice are refused (ErrUnsupported for the first, so
// PlaceDevices keeps the run on the host path); a mix of GPUs and CPU
// devices stays on the host path with a note saying why; GPUs alone train
// resident, and the note says how.
func TestResidentDevicesRefuse(t *testing.T) {
	bs := openDevices(t, 2)
	host, _ := cpu.New(cpu.Options{Threads: 1})
	trainer := func(micro int) *ml.Trainer {
		m, err := ml.NewModel("mlp:8-6-3", 1)
		if err != nil {
			t.Fatal(err)
		}
		cfg := ml.DefaultTrainConfig()
		cfg.BatchSize, cfg.MicroBatch = 8, micro
		tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 16, 1), cfg, host)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	if _, err := devtrain.NewDevices(bs, trainer(0)); !errors.Is(err, devtrain.ErrUnsupported) || !strings.Contains(err.Error(), "need micro-batches") {
		t.Errorf("2 devices, whole batches: error %v, expected ErrUnsupported asking for micro-batches", err)
	}
	if _, err := devtrain.NewDevices([]*cuda.Backend{bs[0], bs[0]}, trainer(4)); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("one backend twice: error %v", err)
	}
	release, note, err := devtrain.PlaceDevices([]accel.Backend{bs[0], host}, trainer(4))
	if err != nil || release != nil || !strings.Contains(note, "CPU devices") || !strings.Contains(note, "host path") {
		t.Errorf("a GPU and a CPU: release %v, note %q, error %v; expected the host path", release != nil, note, err)
	}
	release, note, err = devtrain.PlaceDevices([]accel.Backend{bs[0], bs[1]}, trainer(4))
	if err != nil || release == nil || !strings.Contains(note, "training resident on 2 devices") {
		t.Errorf("two GPUs: release %v, note %q, error %v; expected a resident run", release != nil, note, err)
	}
	if release != nil {
		if err := release(); err != nil {
			t.Error(err)
		}
	}
	release, note, err = devtrain.PlaceDevices([]accel.Backend{bs[0]}, trainer(2))
	if err != nil || release == nil || !strings.Contains(note, "4 micro-batches of 2") {
		t.Errorf("one GPU, micro-batches: release %v, note %q, error %v; expected a resident run", release != nil, note, err)
	}
	if release != nil {
		_ = release()
	}
}
