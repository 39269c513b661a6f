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

// residentRun places spec's trainer (batch, optimizer, momentum) on b and
// runs steps sampled steps (the hook gathers the pouw/v2 samples on the
// device, as a miner's steps do), returning the trainer and the device
// run, or New's error.
func residentRun(t *testing.T, b *cuda.Backend, spec string, batch int, opt string, momentum float32, steps int) (*ml.Trainer, *devtrain.Trainer, error) {
	t.Helper()
	return residentRunOn(t, []*cuda.Backend{b}, spec, batch, 0, opt, momentum, steps)
}

// residentRunOn is residentRun over the devices bs with micro-batches of
// micro (0: whole batches).
func residentRunOn(t *testing.T, bs []*cuda.Backend, spec string, batch, micro int, opt string, momentum float32, steps int) (*ml.Trainer, *devtrain.Trainer, error) {
	t.Helper()
	m, err := ml.NewModel(spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := cpu.New(cpu.Options{Threads: 1})
	cfg := ml.DefaultTrainConfig()
	cfg.BatchSize, cfg.MicroBatch, cfg.Optimizer, cfg.Momentum = batch, micro, opt, momentum
	tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 2*batch, 1), cfg, host)
	if err != nil {
		t.Fatal(err)
	}
	tr.SampledSteps()
	d, err := devtrain.NewDevices(bs, tr)
	if err != nil {
		return tr, nil, err
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := tr.SetResident(d); err != nil {
		t.Fatal(err)
	}
	hook := func(s ml.StepInfo) error {
		_, _, err := s.Samples(pouw.Hash{byte(s.Step), 7})
		return err
	}
	for i := 0; i < steps; i++ {
		if _, err := tr.Step(hook); err != nil {
			t.Fatal(err)
		}
	}
	return tr, d, nil
}

// TestEstimateDeviceMatchesPeak: ml's device estimate (computed from the
// model and the config alone) is within 10% of the peak the backend
// measures over a few resident steps, for every family, several batch
// sizes and the optimizers sgd (with and without momentum) and adam; a
// fresh backend per case, so its peak is that run's. The counts are also
// compared with devtrain's own (Floats, what New checks against the
// budget). Then micro-batches on 1, 2 and 4 devices (fresh backends):
// each device's measured peak against ml.EstimateDevices' figure for that
// device (device 0 with the optimizer's slots, the reduction's gradient
// sums and the gather's arguments; the others without), within 10%.
func TestEstimateDeviceMatchesPeak(t *testing.T) {
	specs := []string{
		"mlp:16-12-8-10,act=gelu,norm=layer,dropout=0.2",
		"mlp:16-12-10,norm=batch,act=tanh",
		"cnn:1x8x8-2x2-10,bn,dropout=0.25,fc=6",
		"cnn:2x8x8-1x3-4,pool=avg",
		"resnet:3x8x8-basic-1.1-2-5,stem=cifar",
		"resnet:3x16x16-basic-1.1-2-5,stem=imagenet",
		"resnet:3x8x8-bottleneck-1.1-2-3,stem=cifar",
		"resnet:3x16x16-bottleneck-1.1-2-3,stem=imagenet",
		"transformer:6-11-2x8x2-11,causal,dropout=0.1",
		"transformer:5-9-1x8x2-4,pos=sin,head=last",
		"transformer:6-7-1x8x2-3,causal,pos=sin,mlp=2",
		"vit:3x8x8-4-1x8x2-5",
		"vit:2x8x8-2-1x8x4-3,dropout=0.1",
	}
	opts := []struct {
		name     string
		momentum float32
	}{{"sgd", 0}, {"sgd", 0.9}, {"adam", 0}}
	var table strings.Builder
	fmt.Fprintf(&table, "%-50s %5s %-9s %10s %10s %10s %7s\n", "model", "batch", "optimizer", "estimate", "measured", "devtrain", "error")
	worst := 0.0
	for i, spec := range specs {
		for j, batch := range []int{2, 5, 8} {
			o := opts[(i+j)%len(opts)]
			b := openDevice(t) // a fresh backend: its peak is this run's
			est, err := ml.EstimateDevice(spec, ml.EstimateOptions{Batch: batch, Optimizer: o.name, Momentum: o.momentum})
			if err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			_, d, err := residentRun(t, b, spec, batch, o.name, o.momentum, 2)
			if err != nil {
				t.Fatalf("%s batch %d: %v", spec, batch, err)
			}
			st, err := b.Memory()
			if err != nil {
				t.Fatal(err)
			}
			counted := 4 * uint64(devtrain.Floats(d))
			rel := (float64(est.PeakBytes) - float64(st.Peak)) / float64(st.Peak)
			worst = max(worst, rel, -rel)
			optName := o.name
			if o.momentum != 0 {
				optName += "+mom"
			}
			fmt.Fprintf(&table, "%-50s %5d %-9s %10d %10d %10d %+6.2f%%\n", spec, batch, optName, est.PeakBytes, st.Peak, counted, 100*rel)
			if rel > 0.10 || rel < -0.10 {
				t.Errorf("%s batch %d %s: estimate %d bytes, measured peak %d (%+.1f%%), expected within 10%%", spec, batch, optName, est.PeakBytes, st.Peak, 100*rel)
			}
			if sum := est.WeightBytes + est.GradientBytes + est.OptimizerBytes + est.ActivationBytes + est.ActivationGradBytes + est.WorkspaceBytes; sum != est.PeakBytes || est.GarbageBytes != 0 {
				t.Errorf("%s: parts add up to %d (garbage %d), peak %d", spec, sum, est.GarbageBytes, est.PeakBytes)
			}
			_ = d.Close()
		}
	}
	fmt.Fprintf(&table, "\n%-50s %5s %5s %7s %-9s %6s %10s %10s %10s %7s\n", "model", "batch", "micro", "devices", "optimizer", "device", "estimate", "measured", "devtrain", "error")
	for i, spec := range specs {
		for j, c := range []struct{ batch, micro, devices int }{{6, 2, 1}, {8, 2, 2}, {8, 2, 4}, {12, 4, 2}} {
			o := opts[(i+j)%len(opts)]
			bs := openDevices(t, c.devices) // fresh backends: their peaks are this run's
			est, err := ml.EstimateDevices(spec, ml.EstimateOptions{Batch: c.batch, MicroBatch: c.micro, Devices: c.devices, Optimizer: o.name, Momentum: o.momentum})
			if err != nil {
				t.Fatalf("%s: %v", spec, err)
			}
			_, d, err := residentRunOn(t, bs, spec, c.batch, c.micro, o.name, o.momentum, 2)
			if err != nil {
				t.Fatalf("%s batch %d micro %d on %d devices: %v", spec, c.batch, c.micro, c.devices, err)
			}
			counted := devtrain.DeviceFloats(d)
			if len(est) != c.devices || len(counted) != c.devices {
				t.Fatalf("%s: %d estimates and %d counts for %d devices", spec, len(est), len(counted), c.devices)
			}
			optName := o.name
			if o.momentum != 0 {
				optName += "+mom"
			}
			for k, b := range bs {
				st, err := b.Memory()
				if err != nil {
					t.Fatal(err)
				}
				rel := (float64(est[k].PeakBytes) - float64(st.Peak)) / float64(st.Peak)
				worst = max(worst, rel, -rel)
				fmt.Fprintf(&table, "%-50s %5d %5d %7d %-9s %6d %10d %10d %10d %+6.2f%%\n", spec, c.batch, c.micro, c.devices, optName, k, est[k].PeakBytes, st.Peak, 4*counted[k], 100*rel)
				if rel > 0.10 || rel < -0.10 {
					t.Errorf("%s batch %d micro %d %s, device %d of %d: estimate %d bytes, measured peak %d (%+.1f%%), expected within 10%%", spec, c.batch, c.micro, optName, k, c.devices, est[k].PeakBytes, st.Peak, 100*rel)
				}
				if st.Peak > 4*uint64(counted[k]) {
					t.Errorf("%s batch %d micro %d, device %d of %d: peak %d bytes, devtrain counted %d", spec, c.batch, c.micro, k, c.devices, st.Peak, 4*counted[k])
				}
			}
			_ = d.Close()
		}
	}
	t.Logf("device estimate vs the backend's peak (worst %.2f%%):\n%s", 100*worst, table.String())
}

// openBudget opens the device with the budget fraction f (the emulator
// or GPU 0, as openDevice).
func openBudget(t *testing.T, f float64) *cuda.Backend {
	t.Helper()
	o := cuda.DefaultOptions()
	o.BudgetFraction = f
	return openDeviceWith(t, o)
}

// TestBudgetRefusesBeforeAllocating: a run whose buffers exceed the
// device's budget is refused by New before it allocates anything (the
// backend's peak stays 0), with an error wrapping accel.ErrOverBudget that
// names the model, the batch, the bytes needed and the budget; Place
// passes it on as an error (no silent fallback to the host path). With a
// budget 5% above ml's estimate the same run trains.
func TestBudgetRefusesBeforeAllocating(t *testing.T) {
	const spec, batch = "cnn:1x8x8-2x2-10,bn,fc=6", 8
	est, err := ml.EstimateDevice(spec, ml.EstimateOptions{Batch: batch, Optimizer: "adam"})
	if err != nil {
		t.Fatal(err)
	}
	avail := openBudget(t, 1).Budget().Available
	b := openBudget(t, 0.5*float64(est.PeakBytes)/float64(avail))
	tr, _, err := residentRun(t, b, spec, batch, "adam", 0, 0)
	if !errors.Is(err, accel.ErrOverBudget) {
		t.Fatalf("New with a budget of %d bytes for a run of about %d: error %v, expected one wrapping accel.ErrOverBudget", b.Budget().Limit(), est.PeakBytes, err)
	}
	limit := b.Budget().Limit()
	for _, want := range []string{fmt.Sprintf("model %s with batch %d needs ", spec, batch), fmt.Sprintf("the budget of %s is %d bytes", b.Device(), limit)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if st, _ := b.Memory(); st.Peak != 0 || st.Used != 0 {
		t.Errorf("after the refusal the backend holds %d bytes (peak %d), expected nothing allocated", st.Used, st.Peak)
	}
	release, note, err := devtrain.Place(b, tr)
	if !errors.Is(err, accel.ErrOverBudget) || release != nil {
		t.Errorf("Place over the budget: release %v, note %q, error %v; expected the budget error", release != nil, note, err)
	}
	t.Logf("refusal: %v", err)

	b = openBudget(t, 1.05*float64(est.PeakBytes)/float64(avail))
	if _, _, err := residentRun(t, b, spec, batch, "adam", 0, 2); err != nil {
		t.Fatalf("with a budget of %d bytes (estimate %d): %v", b.Budget().Limit(), est.PeakBytes, err)
	}
}
