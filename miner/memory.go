package miner

import (
	"fmt"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/jobspec"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/devtrain"
)

// fitJob checks that a job fits the memory budgets before it is claimed:
// a job that will train resident on the devices Place trains it on
// (placeDevices; devtrain.ResidentEstimates: every device a GPU, fp32,
// several GPUs only with micro-batches, the device estimate succeeds) is
// checked against each GPU's budget with its device estimate and against
// the host's budget with what stays on the host, the job's data, the
// model's host copy and one batch (devtrain.CheckResident, as pouwd ml
// train checks a resident run); any other job with fitMemory, the host
// path's step plus the job's data. It returns fitMemory's recompute
// setting (0 for a resident job: a resident run keeps every activation)
// and whether the job is expected to train resident. what names the job.
func (m *Miner) fitJob(model *ml.Model, job *jobspec.Job, what string) (recompute int, resident bool, err error) {
	devs := m.placeDevices(job.Config)
	if es := devtrain.ResidentEstimates(devs, model, job.Config); es != nil {
		if _, err := devtrain.CheckResident(devs, model, job.Config, es, m.cfg.Budget, job.Train, job.HeldOut); err != nil {
			return 0, true, fmt.Errorf("%s: %w", what, err)
		}
		return 0, true, nil
	}
	recompute, err = fitMemory(model, job.Config, m.backend.Threads(), m.cfg.Budget, what, hostData(job))
	return recompute, false, err
}

// placeDevices are the devices Config.Place trains a job with cfg on
// (Config.PlaceOn, or the miner's backend, through JobDevices); nil
// without Place: every job trains on the host path.
func (m *Miner) placeDevices(cfg ml.TrainConfig) []accel.Backend {
	if m.cfg.Place == nil {
		return nil
	}
	devs := m.cfg.PlaceOn
	if len(devs) == 0 {
		devs = []accel.Backend{m.backend}
	}
	return JobDevices(devs, cfg)
}

// hostData is the job's data bytes fitMemory adds to the host path's step.
func hostData(job *jobspec.Job) uint64 {
	return uint64(len(job.Train.X)+len(job.HeldOut.X)) * 4
}

// fitMemory decides how a job trains within the memory budget: it
// estimates the training step (ml.EstimateTraining) plus the job's data
// bytes and, when that does not fit but the model has residual blocks,
// the step with activation recomputation every block, which computes the
// same bits with less memory (ml.Model.SetRecompute). It leaves model set
// to the recompute setting it returns. When nothing fits, the error is the
// budget's for the last (smallest) estimate, naming the job, the model,
// its parameters and the bytes; what names the job.
func fitMemory(model *ml.Model, cfg ml.TrainConfig, threads int, budget accel.Budget, what string, data uint64) (int, error) {
	var last error
	for _, every := range []int{0, 1} {
		if err := model.SetRecompute(every); err != nil {
			break // no residual blocks: nothing to recompute
		}
		est, err := ml.EstimateTraining(model, cfg, 1, threads)
		if err != nil {
			return 0, fmt.Errorf("memory estimate of %s: %w", model.Spec, err)
		}
		mode := "activations stored"
		if every > 0 {
			mode = "activations recomputed every block"
		}
		last = budget.Check(fmt.Sprintf("%s (%s, batch %d, %s: %d parameters, training step %d bytes, data %d bytes)",
			what, model.Spec, cfg.BatchSize, mode, est.Params, est.PeakBytes, data), est.PeakBytes+data)
		if last == nil {
			return every, nil
		}
	}
	_ = model.SetRecompute(0)
	return 0, last
}
