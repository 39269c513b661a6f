package worker

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// ErrNotFound is returned for a dataset that is not held.
var ErrNotFound = errors.New("worker: not found")

// Datasets gives the canonical dataset a chain record names.
type Datasets interface {
	Dataset(ctx context.Context, rec *types.Dataset) (*data.Dataset, error)
}

// DirDatasets finds prepared dataset directories (ml/data: dataset.pouw +
// meta.json) under Root whose SHA-256 is the chain record's, and loads
// (verifying) the first match. Datasets are cached in memory by SHA-256.
type DirDatasets struct {
	Root  string
	cache sync.Map
}

// Dataset implements Datasets.
func (d *DirDatasets) Dataset(_ context.Context, rec *types.Dataset) (*data.Dataset, error) {
	want := hex.EncodeToString(rec.Sha256)
	if v, ok := d.cache.Load(want); ok {
		return v.(*data.Dataset), nil
	}
	dirs := []string{d.Root}
	if ents, err := os.ReadDir(d.Root); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(d.Root, e.Name()))
			}
		}
	}
	for _, dir := range dirs {
		m, err := data.ReadMeta(dir)
		if err != nil || m.SHA256 != want {
			continue
		}
		ds, _, err := data.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("worker: dataset %d in %s: %w", rec.Id, dir, err)
		}
		d.cache.Store(want, ds)
		return ds, nil
	}
	return nil, fmt.Errorf("%w: dataset %d (%s, sha256 %s) is not prepared under %s", ErrNotFound, rec.Id, rec.Name, want, d.Root)
}

// MemDatasets serves in-memory datasets by their SHA-256 (tests, demos).
type MemDatasets map[[32]byte]*data.Dataset

// Dataset implements Datasets.
func (m MemDatasets) Dataset(_ context.Context, rec *types.Dataset) (*data.Dataset, error) {
	var k [32]byte
	copy(k[:], rec.Sha256)
	if d, ok := m[k]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: dataset %d (sha256 %x)", ErrNotFound, rec.Id, rec.Sha256)
}

// P2PDatasets gives a dataset from Local when it is prepared there, else
// fetches it over libp2p from the storage ring (p2p.Service.FetchFromRing:
// any k shards, each verified against its hash on chain, the rebuilt bytes
// against the record's SHA-256), decodes it and keeps it in memory. One
// fetch runs at a time, so two jobs on one dataset fetch it once.
type P2PDatasets struct {
	Local   Datasets // may be nil
	Service *p2p.Service
	Chain   p2p.Chain
	Ring    p2p.RingConfig
	Log     *slog.Logger

	mu    sync.Mutex
	cache map[[32]byte]*data.Dataset
}

// Dataset implements Datasets.
func (d *P2PDatasets) Dataset(ctx context.Context, rec *types.Dataset) (*data.Dataset, error) {
	if d.Local != nil {
		ds, err := d.Local.Dataset(ctx, rec)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return ds, err
		}
	}
	var k [32]byte
	copy(k[:], rec.Sha256)
	d.mu.Lock()
	defer d.mu.Unlock()
	if ds := d.cache[k]; ds != nil {
		return ds, nil
	}
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info("fetching dataset over libp2p", "dataset", rec.Id, "name", rec.Name, "bytes", rec.Erasure.OriginalSize,
		"shards", fmt.Sprintf("%d+%d", rec.Erasure.DataShards, rec.Erasure.ParityShards))
	b, rep, err := d.Service.FetchFromRing(ctx, d.Chain, rec, d.Ring, p2p.FetchOptions{})
	if rep != nil {
		for _, f := range rep.Faults {
			log.Warn("dataset fetch: bad peer", "dataset", rec.Id, "fault", f)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("worker: dataset %d (%s) over libp2p: %w", rec.Id, rec.Name, err)
	}
	ds, err := data.Decode(data.DataFile, b)
	if err != nil {
		return nil, fmt.Errorf("worker: dataset %d (%s): %w", rec.Id, rec.Name, err)
	}
	log.Info("dataset fetched", "dataset", rec.Id, "samples", ds.Len(), "took", rep.Elapsed.Round(time.Millisecond), "parity_used", rep.Rebuilt)
	if d.cache == nil {
		d.cache = map[[32]byte]*data.Dataset{}
	}
	d.cache[k] = ds
	return ds, nil
}
