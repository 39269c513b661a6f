package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"slices"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Lottery and assignment: the verifier pool and the pseudo-random draws of
// a job's or a proof's verifiers from a block hash, and the proof lottery's
// anchors and difficulty target.

// assignRetryDelay is how many blocks a result waits before another try
// when no eligible verifier exists at all.
const assignRetryDelay = 10

// AssignmentDraw returns the pool slot of draw i for a job, the rule every
// node applies: SHA-256("pouwml/assign/v1" | seed | task id | job index |
// attempts | i), first 8 bytes big-endian, modulo the pool size.
func AssignmentDraw(seed []byte, taskID uint64, jobIndex, attempts uint32, i uint32, poolSize uint64) uint64 {
	return draw("pouwml/assign/v1", seed, taskID, jobIndex, attempts, i, poolSize)
}

// ProofDraw is AssignmentDraw for a proof's verifiers, in its own domain:
// SHA-256("pouwml/proof-assign/v1" | seed | proof id | 0 | 0 | i).
func ProofDraw(seed []byte, proofID uint64, i uint32, poolSize uint64) uint64 {
	return draw("pouwml/proof-assign/v1", seed, proofID, 0, 0, i, poolSize)
}

func draw(domain string, seed []byte, id uint64, sub, attempts uint32, i uint32, poolSize uint64) uint64 {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(seed)
	var buf [20]byte
	binary.BigEndian.PutUint64(buf[0:8], id)
	binary.BigEndian.PutUint32(buf[8:12], sub)
	binary.BigEndian.PutUint32(buf[12:16], attempts)
	binary.BigEndian.PutUint32(buf[16:20], i)
	h.Write(buf[:])
	sum := h.Sum(nil)
	return binary.BigEndian.Uint64(sum[:8]) % poolSize
}

// poolAdd appends a verifier to the dense assignment pool.
func (k Keeper) poolAdd(ctx context.Context, addr sdk.AccAddress) error {
	n, err := k.VerifierPoolSize.Get(ctx)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return err
	}
	if err := k.VerifierPool.Set(ctx, n, addr); err != nil {
		return err
	}
	if err := k.VerifierSlot.Set(ctx, addr, n); err != nil {
		return err
	}
	return k.VerifierPoolSize.Set(ctx, n+1)
}

// poolRemove removes a verifier by moving the last slot into its place.
func (k Keeper) poolRemove(ctx context.Context, addr sdk.AccAddress) error {
	slot, err := k.VerifierSlot.Get(ctx, addr)
	if errors.Is(err, collections.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	n, err := k.VerifierPoolSize.Get(ctx)
	if err != nil {
		return err
	}
	last := n - 1
	if slot != last {
		lastAddr, err := k.VerifierPool.Get(ctx, last)
		if err != nil {
			return err
		}
		if err := k.VerifierPool.Set(ctx, slot, lastAddr); err != nil {
			return err
		}
		if err := k.VerifierSlot.Set(ctx, lastAddr, slot); err != nil {
			return err
		}
	}
	if err := k.VerifierPool.Remove(ctx, last); err != nil {
		return err
	}
	if err := k.VerifierSlot.Remove(ctx, addr); err != nil {
		return err
	}
	return k.VerifierPoolSize.Set(ctx, last)
}

// drawVerifiers picks up to want eligible verifiers from the pool: up to
// 4*want+8 pseudo-random draws (slot = drawSlot(i)), skipping `exclude`
// (the miner), jailed or under-bonded verifiers and repeats; if that finds
// fewer than want, a linear sweep of at most 256 slots after the last draw
// fills in. It marks each chosen verifier with one more open item.
func (k Keeper) drawVerifiers(ctx context.Context, want int, exclude string, p types.Params, drawSlot func(i uint32, size uint64) uint64) ([]string, error) {
	size, err := k.VerifierPoolSize.Get(ctx)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return nil, err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	var chosen []string
	var chosenAddrs []sdk.AccAddress
	consider := func(slot uint64) error {
		bz, err := k.VerifierPool.Get(ctx, slot)
		if err != nil {
			return err
		}
		addr := sdk.AccAddress(bz)
		name := k.addrString(addr)
		if name == exclude {
			return nil
		}
		if slices.Contains(chosen, name) {
			return nil
		}
		if _, err := k.activeWorker(ctx, addr, name, types.WORKER_ROLE_VERIFIER, p, height); err != nil {
			return nil // jailed, under-bonded: not eligible now
		}
		chosen = append(chosen, name)
		chosenAddrs = append(chosenAddrs, addr)
		return nil
	}
	if size > 0 {
		last := uint64(0)
		for i := uint32(0); len(chosen) < want && i < uint32(4*want+8); i++ {
			last = drawSlot(i, size)
			if err := consider(last); err != nil {
				return nil, err
			}
		}
		for step := uint64(1); len(chosen) < want && step <= size && step <= 256; step++ {
			if err := consider((last + step) % size); err != nil {
				return nil, err
			}
		}
	}
	for i, addr := range chosenAddrs {
		w, err := k.getWorker(ctx, addr, chosen[i])
		if err != nil {
			return nil, err
		}
		w.OpenItems++
		if err := k.Workers.Set(ctx, addr, w); err != nil {
			return nil, err
		}
	}
	return chosen, nil
}

// assignVerifiers draws a submitted job's verifiers from the block seed. A
// job gets fewer than verifiers_per_job only when fewer are eligible; with
// none it waits assignRetryDelay blocks.
func (k Keeper) assignVerifiers(ctx context.Context, taskID uint64, idx uint32, seed []byte, p types.Params) error {
	job, err := k.getJob(ctx, taskID, idx)
	if err != nil {
		return err
	}
	if job.Status != types.JOB_STATUS_SUBMITTED {
		return nil // stale entry
	}
	task, err := k.getTask(ctx, taskID)
	if err != nil {
		return err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	chosen, err := k.drawVerifiers(ctx, int(task.VerifiersPerJob), job.Miner, p, func(i uint32, size uint64) uint64 {
		return AssignmentDraw(seed, taskID, idx, job.Attempts, i, size)
	})
	if err != nil {
		return err
	}
	if len(chosen) == 0 {
		return k.AssignmentQueue.Set(ctx, collections.Join3(height+assignRetryDelay, taskID, idx))
	}
	job.Status = types.JOB_STATUS_ASSIGNED
	job.Verifiers = chosen
	job.Reports = 0
	job.AssignedHeight = height
	job.Deadline = height + int64(task.Deadlines.EvaluationBlocks)
	if err := k.Jobs.Set(ctx, collections.Join(taskID, idx), job); err != nil {
		return err
	}
	if err := k.DeadlineQueue.Set(ctx, collections.Join3(job.Deadline, taskID, idx)); err != nil {
		return err
	}
	return emit(ctx, &types.EventVerifiersAssigned{TaskId: taskID, JobIndex: idx, Verifiers: chosen, Deadline: job.Deadline})
}

// assignProofVerifiers draws a pending proof's verifiers and opens its
// commit phase.
func (k Keeper) assignProofVerifiers(ctx context.Context, id uint64, seed []byte, p types.Params) error {
	proof, err := k.getProof(ctx, id)
	if err != nil || proof.Status != types.PROOF_STATUS_PENDING {
		return err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	chosen, err := k.drawVerifiers(ctx, int(p.VerifiersPerProof), proof.Miner, p, func(i uint32, size uint64) uint64 {
		return ProofDraw(seed, id, i, size)
	})
	if err != nil {
		return err
	}
	if len(chosen) == 0 {
		return k.ProofQueue.Set(ctx, collections.Join(height+assignRetryDelay, id))
	}
	proof.Verifiers = chosen
	proof.Status = types.PROOF_STATUS_COMMITTING
	proof.CommitDeadline = height + int64(p.VerdictCommitBlocks)
	proof.RevealDeadline = proof.CommitDeadline + int64(p.VerdictRevealBlocks)
	if err := k.Proofs.Set(ctx, id, proof); err != nil {
		return err
	}
	if err := k.ProofDeadlineQueue.Set(ctx, collections.Join(proof.CommitDeadline, id)); err != nil {
		return err
	}
	if err := k.ProofDeadlineQueue.Set(ctx, collections.Join(proof.RevealDeadline, id)); err != nil {
		return err
	}
	return emit(ctx, &types.EventProofVerifiersAssigned{Id: id, Verifiers: chosen, CommitDeadline: proof.CommitDeadline, RevealDeadline: proof.RevealDeadline})
}

// recordBlockHash keeps this block's header hash as an anchor and forgets
// the one that left the window: one write and one delete per block.
func (k Keeper) recordBlockHash(ctx context.Context, p types.Params) error {
	h := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if err := k.BlockHashes.Set(ctx, h, blockSeed(ctx)); err != nil {
		return err
	}
	return k.BlockHashes.Remove(ctx, h-int64(p.AnchorWindowBlocks))
}

// retarget moves the target every retarget_interval_blocks.
func (k Keeper) retarget(ctx context.Context, p types.Params) error {
	if sdk.UnwrapSDKContext(ctx).BlockHeight()%int64(p.RetargetIntervalBlocks) != 0 {
		return nil
	}
	oldBz, err := k.Target.Get(ctx)
	if err != nil {
		return err
	}
	old, err := pouw.ParseTarget(oldBz)
	if err != nil {
		return err
	}
	n, err := k.IntervalAccepted.Get(ctx)
	if err != nil && !errors.Is(err, collections.ErrNotFound) {
		return err
	}
	next := pouw.Retarget(old, n, p.TargetProofsPerInterval, p.MaxRetargetFactor)
	if err := k.Target.Set(ctx, next[:]); err != nil {
		return err
	}
	if err := k.IntervalAccepted.Set(ctx, 0); err != nil {
		return err
	}
	return emit(ctx, &types.EventTargetRetargeted{OldTarget: old[:], NewTarget: next[:], Accepted: n})
}

// assignJobs draws the verifiers of results submitted in the previous block
// (up to max_assignments_per_block) from this block's seed.
func (k Keeper) assignJobs(ctx context.Context, p types.Params, height int64, seed []byte) error {
	return drainQueue(ctx, k, "assign", k.AssignmentQueue, collections.NewPrefixUntilTripleRange[int64, uint64, uint32](height), p.MaxAssignmentsPerBlock,
		func(c context.Context, key QueueKey) error { return k.assignVerifiers(c, key.K2(), key.K3(), seed, p) })
}

// assignProofs draws the verifiers of proofs submitted in the previous block
// (up to max_proofs_per_block) from this block's seed.
func (k Keeper) assignProofs(ctx context.Context, p types.Params, height int64, seed []byte) error {
	return drainQueue(ctx, k, "proof-assign", k.ProofQueue, collections.NewPrefixUntilPairRange[int64, uint64](height), p.MaxProofsPerBlock,
		func(c context.Context, key collections.Pair[int64, uint64]) error {
			return k.assignProofVerifiers(c, key.K2(), seed, p)
		})
}
