package keeper

import (
	"context"
	"errors"
	"fmt"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// InitGenesis loads a validated genesis state.
func (k Keeper) InitGenesis(ctx context.Context, gs types.GenesisState) error {
	if err := gs.Validate(); err != nil {
		return err
	}
	if err := k.ensureModuleAccounts(ctx); err != nil {
		return err
	}
	if err := k.Params.Set(ctx, gs.Params); err != nil {
		return err
	}
	if err := k.DatasetSeq.Set(ctx, gs.NextDatasetId); err != nil {
		return err
	}
	if err := k.TaskSeq.Set(ctx, gs.NextTaskId); err != nil {
		return err
	}
	for _, d := range gs.Datasets {
		if err := k.Datasets.Set(ctx, d.Id, d); err != nil {
			return err
		}
		if err := k.DatasetBySHA.Set(ctx, d.Sha256, d.Id); err != nil {
			return err
		}
	}
	for _, w := range gs.Workers {
		addr, err := k.parseAddr("worker", w.Address)
		if err != nil {
			return err
		}
		if err := k.Workers.Set(ctx, addr, w); err != nil {
			return err
		}
	}
	for _, t := range gs.Tasks {
		if err := k.Tasks.Set(ctx, t.Id, t); err != nil {
			return err
		}
	}
	for _, j := range gs.Jobs {
		if err := k.Jobs.Set(ctx, collections.Join(j.TaskId, j.Index), j); err != nil {
			return err
		}
	}
	for _, e := range gs.Evaluations {
		addr, err := k.parseAddr("verifier", e.Verifier)
		if err != nil {
			return err
		}
		if err := k.Evaluations.Set(ctx, collections.Join3(e.TaskId, e.JobIndex, addr), e); err != nil {
			return err
		}
	}
	for _, q := range gs.SeedQueue {
		if err := k.SeedQueue.Set(ctx, collections.Join(q.Height, q.TaskId)); err != nil {
			return err
		}
	}
	for _, q := range gs.AssignmentQueue {
		if err := k.AssignmentQueue.Set(ctx, collections.Join3(q.Height, q.TaskId, q.JobIndex)); err != nil {
			return err
		}
	}
	for _, q := range gs.DeadlineQueue {
		if err := k.DeadlineQueue.Set(ctx, collections.Join3(q.Height, q.TaskId, q.JobIndex)); err != nil {
			return err
		}
	}
	for _, u := range gs.UnbondingQueue {
		addr, err := k.parseAddr("worker", u.Address)
		if err != nil {
			return err
		}
		if err := k.UnbondingQueue.Set(ctx, collections.Join(u.Height, addr)); err != nil {
			return err
		}
	}
	for _, pe := range gs.VerifierPool {
		addr, err := k.parseAddr("verifier", pe.Address)
		if err != nil {
			return err
		}
		if err := k.VerifierPool.Set(ctx, pe.Slot, addr); err != nil {
			return err
		}
		if err := k.VerifierSlot.Set(ctx, addr, pe.Slot); err != nil {
			return err
		}
	}
	if err := k.VerifierPoolSize.Set(ctx, uint64(len(gs.VerifierPool))); err != nil {
		return err
	}
	return k.initProofGenesis(ctx, gs)
}

func (k Keeper) initProofGenesis(ctx context.Context, gs types.GenesisState) error {
	if err := k.ProofSeq.Set(ctx, gs.NextProofId); err != nil {
		return err
	}
	if err := k.Target.Set(ctx, gs.Target); err != nil {
		return err
	}
	if err := k.IntervalAccepted.Set(ctx, gs.IntervalAccepted); err != nil {
		return err
	}
	for _, c := range gs.Commitments {
		addr, err := k.parseAddr("miner", c.Miner)
		if err != nil {
			return err
		}
		if err := k.Commitments.Set(ctx, collections.Join4(c.TaskId, c.JobIndex, addr, c.Step), c); err != nil {
			return err
		}
		key := collections.Join3(c.TaskId, c.JobIndex, addr)
		if last, err := k.LastCommit.Get(ctx, key); err != nil || c.Step > last {
			if err := k.LastCommit.Set(ctx, key, c.Step); err != nil {
				return err
			}
		}
	}
	for _, p := range gs.Proofs {
		if err := k.Proofs.Set(ctx, p.Id, p); err != nil {
			return err
		}
		if err := k.ProofByDigest.Set(ctx, p.Digest, p.Id); err != nil {
			return err
		}
	}
	for _, v := range gs.Verdicts {
		addr, err := k.parseAddr("verifier", v.Verifier)
		if err != nil {
			return err
		}
		if err := k.Verdicts.Set(ctx, collections.Join(v.ProofId, addr), v); err != nil {
			return err
		}
	}
	for _, b := range gs.BlockHashes {
		if err := k.BlockHashes.Set(ctx, b.Height, b.Hash); err != nil {
			return err
		}
	}
	for _, q := range gs.ProofQueue {
		if err := k.ProofQueue.Set(ctx, collections.Join(q.Height, q.TaskId)); err != nil {
			return err
		}
	}
	for _, q := range gs.ProofDeadlines {
		if err := k.ProofDeadlineQueue.Set(ctx, collections.Join(q.Height, q.TaskId)); err != nil {
			return err
		}
	}
	return nil
}

func (k Keeper) exportProofGenesis(ctx context.Context, gs *types.GenesisState) error {
	var err error
	if gs.NextProofId, err = k.ProofSeq.Peek(ctx); err != nil {
		return err
	}
	if gs.Target, err = k.Target.Get(ctx); err != nil {
		return err
	}
	if gs.IntervalAccepted, err = k.IntervalAccepted.Get(ctx); err != nil && !errors.Is(err, collections.ErrNotFound) {
		return err
	}
	if err := k.Commitments.Walk(ctx, nil, func(_ collections.Quad[uint64, uint32, sdk.AccAddress, uint64], c types.Commitment) (bool, error) {
		gs.Commitments = append(gs.Commitments, c)
		return false, nil
	}); err != nil {
		return err
	}
	if err := k.Proofs.Walk(ctx, nil, func(_ uint64, p types.Proof) (bool, error) {
		gs.Proofs = append(gs.Proofs, p)
		return false, nil
	}); err != nil {
		return err
	}
	if err := k.Verdicts.Walk(ctx, nil, func(_ collections.Pair[uint64, sdk.AccAddress], v types.Verdict) (bool, error) {
		gs.Verdicts = append(gs.Verdicts, v)
		return false, nil
	}); err != nil {
		return err
	}
	if err := k.BlockHashes.Walk(ctx, nil, func(h int64, bz []byte) (bool, error) {
		gs.BlockHashes = append(gs.BlockHashes, types.BlockHash{Height: h, Hash: bz})
		return false, nil
	}); err != nil {
		return err
	}
	for _, q := range []struct {
		set *collections.KeySet[collections.Pair[int64, uint64]]
		out *[]types.QueueEntry
	}{{&k.ProofQueue, &gs.ProofQueue}, {&k.ProofDeadlineQueue, &gs.ProofDeadlines}} {
		out := q.out
		if err := q.set.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
			*out = append(*out, types.QueueEntry{Height: key.K1(), TaskId: key.K2()})
			return false, nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// ExportGenesis writes the whole state, every collection in key order.
func (k Keeper) ExportGenesis(ctx context.Context) (*types.GenesisState, error) {
	gs := &types.GenesisState{}
	var err error
	if gs.Params, err = k.Params.Get(ctx); err != nil {
		return nil, err
	}
	if gs.NextDatasetId, err = k.DatasetSeq.Peek(ctx); err != nil {
		return nil, err
	}
	if gs.NextTaskId, err = k.TaskSeq.Peek(ctx); err != nil {
		return nil, err
	}
	err = k.Datasets.Walk(ctx, nil, func(_ uint64, d types.Dataset) (bool, error) {
		gs.Datasets = append(gs.Datasets, d)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	err = k.Workers.Walk(ctx, nil, func(_ sdk.AccAddress, w types.Worker) (bool, error) {
		gs.Workers = append(gs.Workers, w)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	err = k.Tasks.Walk(ctx, nil, func(_ uint64, t types.Task) (bool, error) {
		gs.Tasks = append(gs.Tasks, t)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	err = k.Jobs.Walk(ctx, nil, func(_ JobKey, j types.Job) (bool, error) {
		gs.Jobs = append(gs.Jobs, j)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	err = k.Evaluations.Walk(ctx, nil, func(_ collections.Triple[uint64, uint32, sdk.AccAddress], e types.Evaluation) (bool, error) {
		gs.Evaluations = append(gs.Evaluations, e)
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	err = k.SeedQueue.Walk(ctx, nil, func(key collections.Pair[int64, uint64]) (bool, error) {
		gs.SeedQueue = append(gs.SeedQueue, types.QueueEntry{Height: key.K1(), TaskId: key.K2()})
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	for _, q := range []struct {
		set *collections.KeySet[QueueKey]
		out *[]types.QueueEntry
	}{{&k.AssignmentQueue, &gs.AssignmentQueue}, {&k.DeadlineQueue, &gs.DeadlineQueue}} {
		out := q.out
		err = q.set.Walk(ctx, nil, func(key QueueKey) (bool, error) {
			*out = append(*out, types.QueueEntry{Height: key.K1(), TaskId: key.K2(), JobIndex: key.K3()})
			return false, nil
		})
		if err != nil {
			return nil, err
		}
	}
	err = k.UnbondingQueue.Walk(ctx, nil, func(key collections.Pair[int64, sdk.AccAddress]) (bool, error) {
		gs.UnbondingQueue = append(gs.UnbondingQueue, types.UnbondingEntry{Height: key.K1(), Address: k.addrString(key.K2())})
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	err = k.VerifierPool.Walk(ctx, nil, func(slot uint64, bz []byte) (bool, error) {
		gs.VerifierPool = append(gs.VerifierPool, types.PoolEntry{Slot: slot, Address: k.addrString(bz)})
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if size, err := k.VerifierPoolSize.Get(ctx); err == nil && size != uint64(len(gs.VerifierPool)) {
		return nil, errors.New("pouwml: verifier pool size disagrees with its slots")
	}
	if err := k.exportProofGenesis(ctx, gs); err != nil {
		return nil, err
	}
	return gs, nil
}

// ensureModuleAccounts creates the module's accounts (escrow and bonds:
// pouwml; proof rewards: pouwml_rewards) as module accounts at genesis.
// Without this the reward pool's account would be created by whoever first
// sends coins to its address (bank sends to it are allowed: anyone may top
// up the pool) as a plain account, and x/auth's module-account queries
// (`pouwd q auth module-account pouwml_rewards`, `module-accounts`) would
// then fail on it ("account is not a module account") for the chain's
// whole life. A plain account already at one of the addresses (a genesis
// account added there) is refused with an error naming it.
func (k Keeper) ensureModuleAccounts(ctx context.Context) error {
	for _, name := range []string{types.ModuleName, types.RewardPoolName} {
		addr := k.auth.GetModuleAddress(name)
		if acc := k.auth.GetAccount(ctx, addr); acc != nil {
			if _, ok := acc.(sdk.ModuleAccountI); !ok {
				return fmt.Errorf("pouwml: the account at %s (module account %q) is a plain account: fund the module with a bank balance at that address, not a genesis account", addr, name)
			}
			continue
		}
		k.auth.GetModuleAccount(ctx, name)
	}
	return nil
}
