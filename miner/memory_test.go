package miner

import (
	"errors"
	"strings"
	"testing"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

// TestFitMemory: a job that fits trains with stored activations; a ResNet
// that fits only with recomputation gets it; a model that fits neither
// way is refused with the budget's error naming the job, model and bytes.
func TestFitMemory(t *testing.T) {
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize = 64
	estimate := func(spec string, every int) uint64 {
		m, err := ml.NewModel(spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SetRecompute(every); err != nil {
			t.Fatal(err)
		}
		e, err := ml.EstimateTraining(m, cfg, 1, 1)
		if err != nil {
			t.Fatal(err)
		}
		return e.PeakBytes
	}
	const resnet, mlp = "resnet:3x16x16-basic-2.2-8-10", "mlp:768-64-10"
	stored, recomputed := estimate(resnet, 0), estimate(resnet, 1)
	if recomputed >= stored {
		t.Fatalf("recompute estimate %d not below stored %d", recomputed, stored)
	}
	budget := func(limit uint64) accel.Budget { return accel.Budget{Device: "cpu", Available: limit, Fraction: 1} }
	for _, tc := range []struct {
		name, spec string
		limit      uint64
		want       int
		fail       bool
	}{
		{"fits", resnet, stored + 1000, 0, false},
		{"recompute", resnet, (stored + recomputed) / 2, 1, false},
		{"too large", resnet, recomputed / 2, 0, true},
		{"mlp too large", mlp, 1 << 10, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ml.NewModel(tc.spec, 1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fitMemory(m, cfg, 1, budget(tc.limit), "task 7 job 3", 1000)
			if tc.fail {
				if !errors.Is(err, accel.ErrOverBudget) || !strings.Contains(err.Error(), "task 7 job 3 ("+tc.spec) || !strings.Contains(err.Error(), "bytes") {
					t.Fatalf("error %v, want the budget's naming the job, model and bytes", err)
				}
				if m.Recompute() != 0 {
					t.Errorf("model left with recompute %d after a refusal", m.Recompute())
				}
				return
			}
			if err != nil || got != tc.want || m.Recompute() != tc.want {
				t.Fatalf("fitMemory = %d, %v (model recompute %d), want %d", got, err, m.Recompute(), tc.want)
			}
		})
	}
}

// TestJobDevices: a job trains on every device Place is given when it has
// micro-batches or there is one device, on the first alone otherwise; a
// miner without Place checks every job as a host-path one.
func TestJobDevices(t *testing.T) {
	a, b := cpu.MustNew(cpu.Options{Threads: 1}), cpu.MustNew(cpu.Options{Threads: 1})
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize = 8
	if got := JobDevices([]accel.Backend{a, b}, cfg); len(got) != 1 || got[0] != a {
		t.Errorf("no micro-batches on 2 devices: %d devices, expected the first alone", len(got))
	}
	if got := JobDevices([]accel.Backend{a}, cfg); len(got) != 1 || got[0] != a {
		t.Errorf("one device: %d devices", len(got))
	}
	cfg.MicroBatch = 4
	if got := JobDevices([]accel.Backend{a, b}, cfg); len(got) != 2 {
		t.Errorf("micro-batches on 2 devices: %d devices, expected both", len(got))
	}
	m := &Miner{backend: a}
	if devs := m.placeDevices(cfg); devs != nil {
		t.Errorf("no Place: devices %v, expected none", devs)
	}
	m.cfg.Place = func(*ml.Trainer) (func() error, error) { return nil, nil }
	if devs := m.placeDevices(cfg); len(devs) != 1 || devs[0] != a {
		t.Errorf("Place without PlaceOn: %d devices, expected the miner's backend", len(devs))
	}
}
