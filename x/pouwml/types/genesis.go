package types

import (
	"fmt"

	"github.com/pouw/pouwd/pouw"
)

// DefaultGenesis is an empty module state with default params.
func DefaultGenesis() *GenesisState {
	target := pouw.TargetFromProbability(1, DefaultTargetOdds)
	return &GenesisState{Params: DefaultParams(), NextDatasetId: 1, NextTaskId: 1, NextProofId: 1, Target: target[:]}
}

// Validate checks the genesis state for internal consistency: params,
// unique ids below the sequences, jobs and evaluations that belong to
// existing tasks, queue entries that point at existing records.
func (gs GenesisState) Validate() error {
	if err := gs.Params.Validate(); err != nil {
		return err
	}
	if _, err := pouw.ParseTarget(gs.Target); err != nil {
		return fmt.Errorf("%w: target: %v", ErrInvalidGenesis, err)
	}
	if gs.NextDatasetId == 0 || gs.NextTaskId == 0 || gs.NextProofId == 0 {
		return fmt.Errorf("%w: sequences start at 1", ErrInvalidGenesis)
	}
	datasets := make(map[uint64]bool, len(gs.Datasets))
	for _, d := range gs.Datasets {
		if d.Id == 0 || d.Id >= gs.NextDatasetId || datasets[d.Id] {
			return fmt.Errorf("%w: dataset id %d duplicated or not below next_dataset_id %d", ErrInvalidGenesis, d.Id, gs.NextDatasetId)
		}
		datasets[d.Id] = true
	}
	workers := make(map[string]bool, len(gs.Workers))
	for _, w := range gs.Workers {
		if w.Address == "" || workers[w.Address] {
			return fmt.Errorf("%w: worker %q empty or duplicated", ErrInvalidGenesis, w.Address)
		}
		if w.Role == WORKER_ROLE_UNSPECIFIED || w.Status == WORKER_STATUS_UNSPECIFIED {
			return fmt.Errorf("%w: worker %s has no role or status", ErrInvalidGenesis, w.Address)
		}
		workers[w.Address] = true
	}
	tasks := make(map[uint64]uint32, len(gs.Tasks))
	for _, t := range gs.Tasks {
		if t.Id == 0 || t.Id >= gs.NextTaskId {
			return fmt.Errorf("%w: task id %d not below next_task_id %d", ErrInvalidGenesis, t.Id, gs.NextTaskId)
		}
		if _, dup := tasks[t.Id]; dup {
			return fmt.Errorf("%w: task id %d duplicated", ErrInvalidGenesis, t.Id)
		}
		if !datasets[t.DatasetId] {
			return fmt.Errorf("%w: task %d refers to unknown dataset %d", ErrInvalidGenesis, t.Id, t.DatasetId)
		}
		tasks[t.Id] = t.JobsTotal
	}
	type jobKey struct {
		task uint64
		idx  uint32
	}
	jobs := make(map[jobKey]bool, len(gs.Jobs))
	for _, j := range gs.Jobs {
		total, ok := tasks[j.TaskId]
		if !ok || j.Index >= total {
			return fmt.Errorf("%w: job %d/%d does not belong to a task", ErrInvalidGenesis, j.TaskId, j.Index)
		}
		k := jobKey{j.TaskId, j.Index}
		if jobs[k] {
			return fmt.Errorf("%w: job %d/%d duplicated", ErrInvalidGenesis, j.TaskId, j.Index)
		}
		jobs[k] = true
	}
	for _, e := range gs.Evaluations {
		if !jobs[jobKey{e.TaskId, e.JobIndex}] {
			return fmt.Errorf("%w: evaluation of unknown job %d/%d", ErrInvalidGenesis, e.TaskId, e.JobIndex)
		}
	}
	for _, q := range [][]QueueEntry{gs.SeedQueue, gs.AssignmentQueue, gs.DeadlineQueue} {
		for _, e := range q {
			if _, ok := tasks[e.TaskId]; !ok {
				return fmt.Errorf("%w: queue entry for unknown task %d", ErrInvalidGenesis, e.TaskId)
			}
		}
	}
	for _, u := range gs.UnbondingQueue {
		if !workers[u.Address] {
			return fmt.Errorf("%w: unbonding entry for unknown worker %s", ErrInvalidGenesis, u.Address)
		}
	}
	proofs := make(map[uint64]bool, len(gs.Proofs))
	for _, p := range gs.Proofs {
		if p.Id == 0 || p.Id >= gs.NextProofId || proofs[p.Id] {
			return fmt.Errorf("%w: proof id %d duplicated or not below next_proof_id %d", ErrInvalidGenesis, p.Id, gs.NextProofId)
		}
		if !jobs[jobKey{p.TaskId, p.JobIndex}] {
			return fmt.Errorf("%w: proof %d of unknown job %d/%d", ErrInvalidGenesis, p.Id, p.TaskId, p.JobIndex)
		}
		proofs[p.Id] = true
	}
	for _, v := range gs.Verdicts {
		if !proofs[v.ProofId] {
			return fmt.Errorf("%w: verdict on unknown proof %d", ErrInvalidGenesis, v.ProofId)
		}
	}
	for _, c := range gs.Commitments {
		if !jobs[jobKey{c.TaskId, c.JobIndex}] {
			return fmt.Errorf("%w: commitment of unknown job %d/%d", ErrInvalidGenesis, c.TaskId, c.JobIndex)
		}
		for _, h := range []struct {
			field string
			b     []byte
		}{{"weights_hash", c.WeightsHash}, {"optimizer_hash", c.OptimizerHash}} {
			if err := ValidateHash(h.field, h.b); err != nil {
				return fmt.Errorf("%w: commitment of job %d/%d at step %d: %v", ErrInvalidGenesis, c.TaskId, c.JobIndex, c.Step, err)
			}
		}
	}
	for _, q := range append(append([]QueueEntry{}, gs.ProofQueue...), gs.ProofDeadlines...) {
		if !proofs[q.TaskId] {
			return fmt.Errorf("%w: proof queue entry for unknown proof %d", ErrInvalidGenesis, q.TaskId)
		}
	}
	for _, b := range gs.BlockHashes {
		if len(b.Hash) == 0 || len(b.Hash) > 64 {
			return fmt.Errorf("%w: block hash at %d has %d bytes", ErrInvalidGenesis, b.Height, len(b.Hash))
		}
	}
	for _, p := range gs.VerifierPool {
		if !workers[p.Address] || p.Slot >= uint64(len(gs.VerifierPool)) {
			return fmt.Errorf("%w: verifier pool slot %d (%s) invalid", ErrInvalidGenesis, p.Slot, p.Address)
		}
	}
	return nil
}
