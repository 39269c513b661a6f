package p2p

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/cosmos/cosmos-sdk/types/query"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Chain is what the data layer reads from chain state: dataset records
// (the trusted hashes) and the storage workers (the ring's members).
type Chain interface {
	DatasetSource
	Datasets(ctx context.Context) ([]types.Dataset, error)
	StorageWorkers(ctx context.Context) ([]types.Worker, error)
}

// QueryChain reads chain state through the module's gRPC query service.
type QueryChain struct {
	Q types.QueryClient
}

var _ Chain = QueryChain{}

// Dataset returns one dataset record.
func (c QueryChain) Dataset(ctx context.Context, id uint64) (*types.Dataset, error) {
	res, err := c.Q.Dataset(ctx, &types.QueryDatasetRequest{Id: id})
	if err != nil {
		return nil, fmt.Errorf("p2p: query dataset %d: %w", id, err)
	}
	return &res.Dataset, nil
}

// Datasets returns every dataset record, walking the pages.
func (c QueryChain) Datasets(ctx context.Context) ([]types.Dataset, error) {
	var out []types.Dataset
	var key []byte
	for {
		res, err := c.Q.Datasets(ctx, &types.QueryDatasetsRequest{Pagination: &query.PageRequest{Key: key, Limit: 1000}})
		if err != nil {
			return nil, fmt.Errorf("p2p: query datasets: %w", err)
		}
		out = append(out, res.Datasets...)
		if res.Pagination == nil || len(res.Pagination.NextKey) == 0 {
			return out, nil
		}
		key = res.Pagination.NextKey
	}
}

// StorageWorkers returns the bonded storage workers, sorted by peer id.
func (c QueryChain) StorageWorkers(ctx context.Context) ([]types.Worker, error) {
	var out []types.Worker
	var key []byte
	for {
		res, err := c.Q.Workers(ctx, &types.QueryWorkersRequest{Role: types.WORKER_ROLE_STORAGE, Pagination: &query.PageRequest{Key: key, Limit: 1000}})
		if err != nil {
			return nil, fmt.Errorf("p2p: query storage workers: %w", err)
		}
		out = append(out, res.Workers...)
		if res.Pagination == nil || len(res.Pagination.NextKey) == 0 {
			break
		}
		key = res.Pagination.NextKey
	}
	return RingWorkers(out), nil
}

// RingWorkers keeps the bonded storage workers, sorted by peer id: the
// ring's members as chain state defines them.
func RingWorkers(ws []types.Worker) []types.Worker {
	var out []types.Worker
	for _, w := range ws {
		if w.Role == types.WORKER_ROLE_STORAGE && w.Status == types.WORKER_STATUS_BONDED {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b types.Worker) int {
		if a.PeerId < b.PeerId {
			return -1
		}
		if a.PeerId > b.PeerId {
			return 1
		}
		return 0
	})
	return out
}

// PeerIDs returns the workers' peer ids as strings.
func PeerIDs(ws []types.Worker) []string {
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.PeerId)
	}
	return out
}

// MemChain is an in-memory Chain for tools, benchmarks and tests that run
// without a node: datasets and storage workers are set directly.
type MemChain struct {
	mu       sync.Mutex
	datasets []types.Dataset
	workers  []types.Worker
}

var _ Chain = (*MemChain)(nil)

// AddDataset records a dataset and returns its id (1, 2, ...).
func (c *MemChain) AddDataset(ds types.Dataset) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds.Id = uint64(len(c.datasets) + 1)
	c.datasets = append(c.datasets, ds)
	return ds.Id
}

// SetWorkers replaces the worker set.
func (c *MemChain) SetWorkers(ws []types.Worker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.workers = slices.Clone(ws)
}

// Dataset returns a recorded dataset.
func (c *MemChain) Dataset(_ context.Context, id uint64) (*types.Dataset, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == 0 || id > uint64(len(c.datasets)) {
		return nil, fmt.Errorf("%w: %d", ErrNoDataset, id)
	}
	ds := c.datasets[id-1]
	return &ds, nil
}

// Datasets returns every recorded dataset.
func (c *MemChain) Datasets(context.Context) ([]types.Dataset, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.datasets), nil
}

// StorageWorkers returns the bonded storage workers sorted by peer id.
func (c *MemChain) StorageWorkers(context.Context) ([]types.Worker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return RingWorkers(c.workers), nil
}
