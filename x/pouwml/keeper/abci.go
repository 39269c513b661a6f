package keeper

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"cosmossdk.io/collections"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

// Begin/EndBlocker work comes from height-keyed queues. Each block takes at
// most the params' per-block limit from each queue (the rest waits for the
// next block), and runs every item in its own CacheContext: an item that
// fails is logged and dropped, its writes discarded, and the chain goes on.
// Nothing here may panic. The per-block work of each domain lives with it
// (tasks.go, lottery.go, jobs.go, proofs.go, workers.go); this file only
// orders it.

// BeginBlocker records this block's header hash as a lottery anchor and
// draws the fold seed of tasks submitted in the previous block from it.
func (k Keeper) BeginBlocker(ctx context.Context) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	if err := k.recordBlockHash(ctx, p); err != nil {
		return err
	}
	return k.seedTasks(ctx, p, height)
}

// EndBlocker assigns verifiers to submitted results and proofs, enforces
// deadlines, settles verdict phases, retargets the lottery and returns
// matured bonds.
func (k Keeper) EndBlocker(ctx context.Context) error {
	p, err := k.Params.Get(ctx)
	if err != nil {
		return err
	}
	height := sdk.UnwrapSDKContext(ctx).BlockHeight()
	seed := blockSeed(ctx)
	if err := k.assignJobs(ctx, p, height, seed); err != nil {
		return err
	}
	if err := k.enforceJobDeadlines(ctx, p, height); err != nil {
		return err
	}
	if err := k.assignProofs(ctx, p, height, seed); err != nil {
		return err
	}
	if err := k.endVerdictPhases(ctx, p, height); err != nil {
		return err
	}
	k.runItem(ctx, "retarget", func(c context.Context) error { return k.retarget(c, p) })
	return k.returnMaturedBonds(ctx, p, height)
}

// runItem runs one queue item in a CacheContext and commits it only on
// success; a panic inside is turned into a logged error. Callers remove the
// item from its queue before, on the parent context.
func (k Keeper) runItem(ctx context.Context, what string, fn func(context.Context) error) {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	cache, write := sdkCtx.CacheContext()
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = errors.New("panic in queue item")
				sdkCtx.Logger().Error("pouwml: recovered panic", "item", what, "panic", r)
			}
		}()
		return fn(cache)
	}()
	if err != nil {
		// The item already left its queue (outside the cache), so it cannot fail forever.
		sdkCtx.Logger().Error("pouwml: queue item failed; dropped", "item", what, "height", sdkCtx.BlockHeight(), "err", err)
		return
	}
	write()
}

type keySet[K any] interface {
	Iterate(ctx context.Context, r collections.Ranger[K]) (collections.KeySetIterator[K], error)
	Remove(ctx context.Context, key K) error
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

// drainQueue takes up to limit due keys of a queue (read before anything
// changes) and handles each as its own item: the key leaves the queue on
// ctx first, then fn runs in a CacheContext (runItem).
func drainQueue[K any](ctx context.Context, k Keeper, what string, ks keySet[K], r collections.Ranger[K], limit uint32, fn func(c context.Context, key K) error) error {
	keys, err := collectKeys(ctx, ks, r, limit)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if err := ks.Remove(ctx, key); err != nil {
			return err
		}
		k.runItem(ctx, what, func(c context.Context) error { return fn(c, key) })
	}
	return nil
}

// blockSeed is this block's header hash, the randomness no client or miner
// could know when their transaction was included earlier. Should a context
// lack it, a hash of the height stands in, so the chain never halts on it.
func blockSeed(ctx context.Context) []byte {
	sdkCtx := sdk.UnwrapSDKContext(ctx)
	if h := sdkCtx.HeaderHash(); len(h) > 0 {
		return append([]byte(nil), h...)
	}
	sdkCtx.Logger().Error("pouwml: block has no header hash; using a height-derived seed")
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], uint64(sdkCtx.BlockHeight()))
	sum := sha256.Sum256(append([]byte("pouwml/no-header-hash/"), buf[:]...))
	return sum[:]
}
