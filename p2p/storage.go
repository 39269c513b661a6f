package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// StoragePeer is what `pouwd data serve` runs: a Service serving its Store,
// plus a loop that follows the chain (storage workers, datasets) and makes
// sure this peer holds every shard the ring places on it, fetching it from
// its other holders or, when nobody has it, rebuilding it from any k shards.
type StoragePeer struct {
	Svc      *Service
	Chain    Chain
	Coder    *Coder
	Ring     RingConfig
	Interval time.Duration // between syncs (default 10 s)
	Log      *slog.Logger

	// repairs counts shards fetched or rebuilt by syncs (Repairs).
	repairs atomic.Uint64
}

// Repairs is the number of shards syncs have re-fetched from other peers
// or rebuilt from k others since the peer started (the storage peer's
// metrics).
func (sp *StoragePeer) Repairs() uint64 { return sp.repairs.Load() }

// SyncReport tells what a sync did.
type SyncReport struct {
	Members  int
	Datasets int
	Placed   int // shards the ring places here
	Fetched  int // shards fetched from other peers
	Rebuilt  int // shards re-created from k others
	Pending  int // placed here but no peer holds any shard yet (a publish in progress)
	Damaged  int // local copies that failed their hash and were replaced or dropped
	Released int // copies the ring no longer places here, dropped once every peer it places them on served them
	Failed   []string
}

// Sync runs one round: read the ring from chain state, put the workers'
// addresses in the peerstore and fetch what is missing here.
func (sp *StoragePeer) Sync(ctx context.Context) (*SyncReport, error) {
	log := sp.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	workers, err := sp.Chain.StorageWorkers(ctx)
	if err != nil {
		return nil, err
	}
	h := sp.Svc.Host()
	all := AddWorkerAddrs(h, workers)
	ring, err := NewRing(PeerIDs(workers), sp.Ring)
	if err != nil {
		return nil, err
	}
	rep := &SyncReport{Members: len(workers)}
	if len(workers) == 0 {
		return rep, nil
	}
	datasets, err := sp.Chain.Datasets(ctx)
	if err != nil {
		return nil, err
	}
	rep.Datasets = len(datasets)
	self := h.ID().String()
	for i := range datasets {
		ds := &datasets[i]
		n := int(ds.Erasure.DataShards + ds.Erasure.ParityShards)
		place, err := ring.Place(ds.Sha256, n)
		if err != nil {
			return nil, err
		}
		peers := PlacementPeers(place)
		sources := RingSources(peers, ds, all)
		for idx, ps := range place {
			mine := false
			for _, p := range ps {
				if p == self {
					mine = true
				}
			}
			if !mine {
				continue
			}
			rep.Placed++
			if b, err := sp.Svc.store.Shard(ds.Id, idx); err == nil {
				if VerifyShard(&ds.Erasure, idx, b) == nil {
					continue
				}
				// Damaged on disk: stop serving it, then heal it below.
				log.Error("stored shard damaged", "dataset", ds.Id, "shard", idx)
				sp.Svc.markChecked(ds.Id, idx, false)
				_ = sp.Svc.store.DeleteShard(ds.Id, idx)
				rep.Damaged++
			}
			if err := sp.fetchShard(ctx, ds, idx, sources); err == nil {
				rep.Fetched++
				sp.repairs.Add(1)
				continue
			} else if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			if err := sp.rebuildShard(ctx, ds, idx, sources); err != nil {
				if errors.Is(err, errNoShards) {
					rep.Pending++
					continue
				}
				rep.Failed = append(rep.Failed, fmt.Sprintf("dataset %d shard %d: %v", ds.Id, idx, err))
				log.Warn("cannot re-replicate", "dataset", ds.Id, "shard", idx, "err", err)
				continue
			}
			rep.Rebuilt++
			sp.repairs.Add(1)
		}
		sp.release(ctx, ds, place, rep, log)
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

// release drops the local copies of dataset ds's shards that the ring no
// longer places on this peer (the ring changed: a peer joined, or came
// back with a new identity), each once every peer the ring places it on
// has served a verified copy of it in this round, so the ring's
// replication holds without this copy; until then the copy stays (and
// serves as a source of the new holders' fetch). Without this a ring
// change leaves a copy behind for good (fault row 5c: 31 copies of 14
// shards x 2).
func (sp *StoragePeer) release(ctx context.Context, ds *types.Dataset, place [][]string, rep *SyncReport, log *slog.Logger) {
	self := sp.Svc.Host().ID().String()
	for idx, ps := range place {
		if slices.Contains(ps, self) || !sp.Svc.store.HasShard(ds.Id, idx) {
			continue
		}
		served := len(ps) > 0
		for _, p := range ps {
			id, err := peer.Decode(p)
			if err != nil {
				served = false
				break
			}
			if _, err := sp.Svc.GetShard(ctx, id, ds, idx); err != nil { // GetShard verifies the bytes
				served = false
				break
			}
		}
		if !served {
			continue
		}
		sp.Svc.markChecked(ds.Id, idx, false)
		if err := sp.Svc.store.DeleteShard(ds.Id, idx); err != nil {
			log.Warn("cannot drop a shard the ring moved away", "dataset", ds.Id, "shard", idx, "err", err)
			continue
		}
		rep.Released++
	}
}

func (sp *StoragePeer) fetchShard(ctx context.Context, ds *types.Dataset, idx int, sources Sources) error {
	self := sp.Svc.Host().ID()
	for _, p := range sources(idx) {
		if p == self {
			continue
		}
		b, err := sp.Svc.GetShard(ctx, p, ds, idx)
		if err != nil {
			continue
		}
		return sp.Svc.putVerified(ds.Id, idx, b)
	}
	return fmt.Errorf("no peer holds dataset %d shard %d", ds.Id, idx)
}

func (sp *StoragePeer) rebuildShard(ctx context.Context, ds *types.Dataset, idx int, sources Sources) error {
	self := sp.Svc.Host().ID()
	n := int(ds.Erasure.DataShards + ds.Erasure.ParityShards)
	shards := make([][]byte, n)
	have := 0
	for i := 0; i < n && have < int(ds.Erasure.DataShards); i++ {
		if b, err := sp.Svc.store.Shard(ds.Id, i); err == nil && VerifyShard(&ds.Erasure, i, b) == nil {
			shards[i] = b
			have++
			continue
		}
		for _, p := range sources(i) {
			if p == self {
				continue
			}
			if b, err := sp.Svc.GetShard(ctx, p, ds, i); err == nil {
				shards[i] = b
				have++
				break
			}
		}
	}
	if have == 0 {
		return errNoShards
	}
	b, err := sp.Coder.ReconstructShard(&ds.Erasure, shards, idx)
	if err != nil {
		return err
	}
	return sp.Svc.putVerified(ds.Id, idx, b)
}

// errNoShards: nobody holds any shard of the dataset (yet).
var errNoShards = errors.New("no shards anywhere yet")

// Run syncs every Interval until ctx ends.
func (sp *StoragePeer) Run(ctx context.Context) error {
	iv := sp.Interval
	if iv <= 0 {
		iv = 10 * time.Second
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		rep, err := sp.Sync(ctx)
		if sp.Log != nil {
			if err != nil {
				sp.Log.Warn("sync failed", "err", err)
			} else if rep.Fetched+rep.Rebuilt+rep.Damaged > 0 || len(rep.Failed) > 0 {
				sp.Log.Info("re-replicated", "fetched", rep.Fetched, "rebuilt", rep.Rebuilt, "damaged", rep.Damaged, "failed", len(rep.Failed), "placed", rep.Placed, "released", rep.Released)
			} else if rep.Released > 0 {
				sp.Log.Info("dropped copies the ring moved to other peers", "released", rep.Released, "placed", rep.Placed)
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// peerIDs is a helper for tests and the CLI.
func peerIDs(ss []string) []peer.ID {
	var out []peer.ID
	for _, s := range ss {
		if id, err := peer.Decode(s); err == nil {
			out = append(out, id)
		}
	}
	return out
}
