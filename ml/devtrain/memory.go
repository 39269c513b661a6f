package devtrain

import (
	"fmt"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

// The memory rule of a run that will train resident, shared by pouwd ml
// train and the miner: such a run is checked before it is placed against
// each GPU's budget with ml's device estimate (ml.EstimateResidentDevices,
// per device) and against the host's budget with what stays on the host
// (ml.EstimateResidentHost: the datasets, the model's host copy, a
// batch), not with the host path's whole step (ml.EstimateTraining),
// which a run on the host path is checked with.

// ResidentEstimates returns each device's estimate
// (ml.EstimateResidentDevices, device 0 first) when a run of m with cfg
// will train resident on devs as PlaceDevices places it: every device a
// GPU, several devices only with micro-batches (cfg.MicroBatch), fp32, a
// model and an optimizer the device estimate has rules for (it fails
// otherwise). Otherwise nil: the run stays on the host path. What else
// keeps a run on the host path (pouwd ml train's --profile) is the
// caller's to rule out. In a build without the cuda tag no device is a
// GPU, and it returns nil.
func ResidentEstimates(devs []accel.Backend, m *ml.Model, cfg ml.TrainConfig) []ml.MemoryEstimate {
	if len(devs) == 0 || m == nil || len(devs) > 1 && cfg.MicroBatch == 0 {
		return nil
	}
	for _, d := range devs {
		if _, ok := gpuBudget(d); !ok {
			return nil
		}
	}
	es, err := ml.EstimateResidentDevices(m, cfg, len(devs))
	if err != nil || len(es) != len(devs) {
		return nil
	}
	return es
}

// CheckResident checks the memory of a run ResidentEstimates expects
// resident (es is its answer for devs, m and cfg) before it is placed:
// each device's estimate against that device's budget (the refusal
// names the bytes and the budget, accel.Budget.Check, as New's does),
// then what stays on the host (ml.EstimateResidentHost over data, the
// run's datasets) against host, the host's budget. It returns the host
// figure.
func CheckResident(devs []accel.Backend, m *ml.Model, cfg ml.TrainConfig, es []ml.MemoryEstimate, host accel.Budget, data ...ml.Dataset) (uint64, error) {
	if len(es) != len(devs) {
		return 0, fmt.Errorf("devtrain: %d device estimates for %d devices", len(es), len(devs))
	}
	for i, d := range devs {
		b, ok := gpuBudget(d)
		if !ok {
			return 0, fmt.Errorf("devtrain: device %d (%s) is not a GPU: a resident run needs every device to be one", i, d.Name())
		}
		if err := b.Check(budgetWhat(m, cfg, i, len(devs)), es[i].PeakBytes); err != nil {
			return 0, err
		}
	}
	need, err := ml.EstimateResidentHost(m, cfg, data...)
	if err != nil {
		return 0, err
	}
	what := fmt.Sprintf("model %s with batch %d resident on the GPU (on the host: the dataset, the model's copy and one batch)", m.Spec, cfg.BatchSize)
	return need, host.Check(what, need)
}

// budgetWhat names the run on device index of devices in a budget's
// refusal: "model M with batch B", with micro-batches or several devices
// " (micro-batches of b, device i of D)".
func budgetWhat(m *ml.Model, cfg ml.TrainConfig, index, devices int) string {
	what := fmt.Sprintf("model %s with batch %d", m.Spec, cfg.BatchSize)
	if mb := cfg.MicroBatch; mb > 0 && mb != cfg.BatchSize || devices > 1 {
		what += fmt.Sprintf(" (micro-batches of %d, device %d of %d)", cfg.MicroBatch, index+1, devices)
	}
	return what
}
