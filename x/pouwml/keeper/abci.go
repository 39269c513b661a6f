package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Begin/EndBlocker work comes from height-keyed queues. Each block takes at
// most the params' per-block limit from each queue (the rest waits for the
// next block), and runs every item in its own CacheContext: an item that
// fails is logged and dropped, its writes discarded, and the chain goes on.
// Nothing here may panic.

// BeginBlocker records this block's header hash as a lottery anchor and
// draws the fold seed of tasks submitted in the previous block from it.
func (k Keeper) BeginBlocker(ctx context.Context) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	height := sdkCtx.BlockHeight()
	if err := k.recordBlockHash(sdkCtx, p); err != nil {
		return err
	}
	keys, err := collectKeys(ctx, k.SeedQueue, collections.NewPrefixUntilPairRange[int64, uint64](height), p.MaxSeedsPerBlock)
	if err != nil {
		return err
	}
	seed := blockSeed(sdkCtx)
	for _, key := range keys {
		if err := k.SeedQueue.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(sdkCtx, "seed", func(c sdk.Context) error {
			task, err := k.getTask(c, key.K2())
			if err != nil || task.Status.IsFinal() || len(task.FoldSeed) > 0 {
				return err
			}
			task.FoldSeed = seed
			if err := k.Tasks.Set(c, task.Id, task); err != nil {
				return err
			}
			return emit(c, &types.EventTaskSeeded{Id: task.Id, FoldSeed: seed})
		})
	}
	return nil
}

// EndBlocker assigns verifiers to submitted results and proofs, enforces
// deadlines, settles verdict phases, retargets the lottery and returns
// matured bonds.
func (k Keeper) EndBlocker(ctx context.Context) error {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	height := sdkCtx.BlockHeight()

	assignments, err := collectKeys(ctx, k.AssignmentQueue, collections.NewPrefixUntilTripleRange[int64, uint64, uint32](height), p.MaxAssignmentsPerBlock)
	if err != nil {
		return err
	}
	seed := blockSeed(sdkCtx)
	for _, key := range assignments {
		if err := k.AssignmentQueue.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(sdkCtx, "assign", func(c sdk.Context) error {
			return k.assignVerifiers(c, key.K2(), key.K3(), seed, p)
		})
	}

	deadlines, err := collectKeys(ctx, k.DeadlineQueue, collections.NewPrefixUntilTripleRange[int64, uint64, uint32](height), p.MaxDeadlinesPerBlock)
	if err != nil {
		return err
	}
	for _, key := range deadlines {
		if err := k.DeadlineQueue.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(sdkCtx, "deadline", func(c sdk.Context) error {
			return k.deadlinePassed(c, key.K1(), key.K2(), key.K3(), p)
		})
	}

	proofs, err := collectKeys(ctx, k.ProofQueue, collections.NewPrefixUntilPairRange[int64, uint64](height), p.MaxProofsPerBlock)
	if err != nil {
		return err
	}
	for _, key := range proofs {
		if err := k.ProofQueue.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(sdkCtx, "proof-assign", func(c sdk.Context) error {
			return k.assignProofVerifiers(c, key.K2(), seed, p)
		})
	}
	proofDeadlines, err := collectKeys(ctx, k.ProofDeadlineQueue, collections.NewPrefixUntilPairRange[int64, uint64](height), p.MaxProofsPerBlock)
	if err != nil {
		return err
	}
	for _, key := range proofDeadlines {
		if err := k.ProofDeadlineQueue.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(sdkCtx, "proof-deadline", func(c sdk.Context) error {
			return k.proofDeadline(c, key.K1(), key.K2())
		})
	}
	k.runItem(sdkCtx, "retarget", func(c sdk.Context) error { return k.retarget(c, p) })

	unbondings, err := collectKeys(ctx, k.UnbondingQueue, collections.NewPrefixUntilPairRange[int64, sdk.AccAddress](height), p.MaxUnbondingsPerBlock)
	if err != nil {
		return err
	}
	for _, key := range unbondings {
		if err := k.UnbondingQueue.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(sdkCtx, "unbond", func(c sdk.Context) error {
			return k.completeUnbonding(c, key.K2(), key.K1())
		})
	}
	return nil
}

// runItem runs one queue item in a CacheContext and commits it only on
// success; a panic inside is turned into a logged error. Callers remove the
// item from its queue before, on the parent context.
func (k Keeper) runItem(ctx sdk.Context, what string, fn func(sdk.Context) error) {
	cache, write := ctx.CacheContext()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = errors.New("panic in queue item")
				ctx.Logger().Error("pouwml: recovered panic", "item", what, "panic", r)
			}
		}()
		return fn(cache)
	}()
	if err != nil {
		// The item already left its queue (outside the cache), so it cannot fail forever.
		ctx.Logger().Error("pouwml: queue item failed; dropped", "item", what, "height", ctx.BlockHeight(), "err", err)
		return
	}
	write()
}

type keySet[K any] interface {
	Iterate(ctx context.Context, r collections.Ranger[K]) (collections.KeySetIterator[K], error)
}

// collectKeys reads at most limit keys of a queue range before anything is
// changed, so iteration never sees its own writes.
func collectKeys[K any](ctx context.Context, ks keySet[K], r collections.Ranger[K], limit uint32) ([]K, error) {
	iter, err := ks.Iterate(ctx, r)
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	var keys []K
	for ; iter.Valid() && uint32(len(keys)) < limit; iter.Next() {
		key, err := iter.Key()
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// blockSeed is this block's header hash, the randomness no client or miner
// could know when their transaction was included earlier. Should a context
// lack it, a hash of the height stands in, so the chain never halts on it.
func blockSeed(ctx sdk.Context) []byte {
	if h := ctx.HeaderHash(); len(h) > 0 {
		return append([]byte(nil), h...)
	}
	ctx.Logger().Error("pouwml: block has no header hash; using a height-derived seed")
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(ctx.BlockHeight()))
	sum := sha256.Sum256(append([]byte("pouwml/no-header-hash/"), buf[:]...))
	return sum[:]
}
