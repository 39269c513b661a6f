package verifier

import (
	"context"
	"fmt"
	"sync"

	"github.com/pouw/pouwd/miner"
)

// StoreFetcher reads miners' stores directly, by miner address: for tests
// and for daemons sharing one machine, where no network is needed. It is
// safe for concurrent use.
type StoreFetcher struct {
	mu     sync.RWMutex
	stores map[string]*miner.Store
}

// NewStoreFetcher returns an empty StoreFetcher.
func NewStoreFetcher() *StoreFetcher { return &StoreFetcher{stores: map[string]*miner.Store{}} }

// Add makes minerAddr's store reachable.
func (f *StoreFetcher) Add(minerAddr string, s *miner.Store) {
	f.mu.Lock()
	f.stores[minerAddr] = s
	f.mu.Unlock()
}

func (f *StoreFetcher) store(minerAddr string) (*miner.Store, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	s := f.stores[minerAddr]
	if s == nil {
		return nil, fmt.Errorf("%w: no store for miner %s", miner.ErrNotFound, minerAddr)
	}
	return s, nil
}

// Checkpoint implements Fetcher.
func (f *StoreFetcher) Checkpoint(ctx context.Context, minerAddr string, task uint64, job uint32, weightsHash []byte) ([]byte, error) {
	s, err := f.store(minerAddr)
	if err != nil {
		return nil, err
	}
	return s.Checkpoint(ctx, task, job, weightsHash)
}

// Model implements Fetcher.
func (f *StoreFetcher) Model(ctx context.Context, minerAddr string, hash []byte) ([]byte, error) {
	s, err := f.store(minerAddr)
	if err != nil {
		return nil, err
	}
	return s.Model(ctx, hash)
}

// AnyStore tries each store in turn, whoever the miner is (daemons on one
// machine reading each other's store directories). What it returns is
// checked by the caller against the hash it asked for.
type AnyStore []*miner.Store

// Checkpoint implements Fetcher.
func (a AnyStore) Checkpoint(ctx context.Context, _ string, task uint64, job uint32, weightsHash []byte) ([]byte, error) {
	for _, s := range a {
		if b, err := s.Checkpoint(ctx, task, job, weightsHash); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: checkpoint %x of task %d job %d in %d stores", miner.ErrNotFound, weightsHash, task, job, len(a))
}

// Model implements Fetcher.
func (a AnyStore) Model(ctx context.Context, _ string, hash []byte) ([]byte, error) {
	for _, s := range a {
		if b, err := s.Model(ctx, hash); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: model %x in %d stores", miner.ErrNotFound, hash, len(a))
}
