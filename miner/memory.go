package miner

import (
	"fmt"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
)

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
