package jobspec

import (
	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// DigestChain computes the version 2 work digests of a job's steps, as
// the miner draws tickets on them and a verifier recomputes them: from a
// commitment's state hashes (Commit) it samples each step in place and
// chains the digests (pouw package documentation). It is the one
// conversion of the engine's steps to the protocol's, so miner and
// verifier cannot drift apart. The trainer must be in sampled mode
// (ml.Trainer.SampledSteps) and Step called from its hook, in step order.
type DigestChain struct {
	id    pouw.JobID
	miner []byte
	prev  pouw.Hash
}

// NewDigestChain starts a chain for the job's steps proven by miner.
func NewDigestChain(id pouw.JobID, miner []byte) *DigestChain {
	return &DigestChain{id: id, miner: miner}
}

// Commit restarts the chain at a commitment of the given state hashes
// (ml.WeightsHash, ml.OptimizerHash of the state before the commitment's
// step): that step's Prev is their pouw.CommitLink.
func (c *DigestChain) Commit(weights, optim ml.Hash) {
	c.prev = pouw.CommitLink(pouw.Hash(weights), pouw.Hash(optim))
}

// Step samples the step in place (valid inside the trainer's hook) and
// returns its digest inputs and digest, which becomes the next step's
// Prev.
func (c *DigestChain) Step(s ml.StepInfo) (pouw.StepParts, pouw.Hash, error) {
	p := pouw.StepParts{Prev: c.prev, Batch: pouw.Hash(s.Batch)}
	var err error
	if p.GradSample, p.WeightSample, err = s.Samples(c.prev); err != nil {
		return p, pouw.Hash{}, err
	}
	d, err := pouw.StepDigest(c.id, c.miner, s.Step, p)
	if err != nil {
		return p, d, err
	}
	c.prev = d
	return p, d, nil
}

// HeldOutMetrics measures a model on the job's held-out fold in ppm: what
// a miner claims in its result and a verifier measures again.
func HeldOutMetrics(model *ml.Model, job *Job, b accel.Backend) (types.FoldMetrics, error) {
	pred, err := model.Predict(b, job.HeldOut.Values(0, job.HeldOut.N, nil), job.HeldOut.N)
	if err != nil {
		return types.FoldMetrics{}, err
	}
	return Metrics(job.HeldOut.Classes, job.HeldOut.Y, pred)
}
