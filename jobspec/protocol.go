package jobspec

import (
	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// StepHashes are the four hashes of a training step as the work digest
// takes them: what a miner draws tickets on and a verifier recomputes. It
// is the one conversion of the engine's step hashes to the protocol's.
func StepHashes(s ml.StepInfo) pouw.StepHashes {
	return pouw.StepHashes{WeightsBefore: pouw.Hash(s.WeightsBefore), Batch: pouw.Hash(s.Batch), Gradients: pouw.Hash(s.Grads), WeightsAfter: pouw.Hash(s.WeightsAfter)}
}

// HeldOutMetrics measures a model on the job's held-out fold in ppm: what
// a miner claims in its result and a verifier measures again.
func HeldOutMetrics(model *ml.Model, job *Job, b accel.Backend) (types.FoldMetrics, error) {
	pred, err := model.Predict(b, job.HeldOut.X, job.HeldOut.N)
	if err != nil {
		return types.FoldMetrics{}, err
	}
	return Metrics(job.HeldOut.Classes, job.HeldOut.Y, pred)
}
