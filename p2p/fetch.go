package p2p

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// FetchReport says where each shard came from and who lied.
type FetchReport struct {
	From    map[int]peer.ID // verified shards by index
	Faults  []Fault         // peers that sent bad data during this fetch
	Missing []int           // indices not obtained (only set on failure or when fewer than all were needed)
	Bytes   int64           // shard bytes received and verified
	Elapsed time.Duration
	Rebuilt bool // parity was needed
}

// BadPeers lists the distinct peers that sent bad data.
func (r *FetchReport) BadPeers() []peer.ID {
	var out []peer.ID
	for _, f := range r.Faults {
		if !slices.Contains(out, f.Peer) {
			out = append(out, f.Peer)
		}
	}
	return out
}

// Sources returns, for a shard index, the peers to ask, in order.
type Sources func(index int) []peer.ID

// FetchOptions tune FetchDataset.
type FetchOptions struct {
	// Parallel shard fetches (default k+m: the k started first plus the
	// extra indices hedging starts).
	Parallel int
	// Hedge: when a shard has not arrived after this long (a dead or slow
	// peer, a dial timing out) one more index is started, so any k finish
	// first (default 750 ms; negative disables).
	Hedge time.Duration
	// Progress, if set, is called after each verified shard.
	Progress func(verified, needed int)
}

// FetchDataset fetches any k verified shards of ds in parallel (data
// shards first; each index tries its sources in order and moves on from a
// peer that fails or lies; an index failing everywhere, or still pending
// after Hedge, starts the next index), rebuilds the canonical bytes and checks them
// against the dataset's SHA-256. With fewer than k shards obtainable the
// error wraps ErrNotEnough and names the missing indices.
func (s *Service) FetchDataset(ctx context.Context, coder *Coder, ds *types.Dataset, sources Sources, opt FetchOptions) ([]byte, *FetchReport, error) {
	start := time.Now()
	e := &ds.Erasure
	if err := types.ValidateErasure(*e); err != nil {
		return nil, nil, fmt.Errorf("%w: dataset %d: %v", ErrErasureShape, ds.Id, err)
	}
	k, n := int(e.DataShards), int(e.DataShards+e.ParityShards)
	if opt.Parallel <= 0 {
		opt.Parallel = n
	}
	if opt.Hedge == 0 {
		opt.Hedge = 750 * time.Millisecond
	}
	rep := &FetchReport{From: map[int]peer.ID{}}
	shards := make([][]byte, n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		verified int
		next     int // next index to start
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, opt.Parallel)
	// startLocked starts the next index; mu is held, so its wg.Add happens
	// while the caller still holds a count (or before Wait): never after
	// Wait has returned.
	var startLocked func()
	fetchIndex := func(idx int) {
		finished := false
		defer wg.Done()
		defer func() {
			mu.Lock()
			finished = true
			mu.Unlock()
		}()
		defer func() { <-sem }()
		if opt.Hedge > 0 {
			hedge := time.AfterFunc(opt.Hedge, func() {
				mu.Lock()
				defer mu.Unlock()
				if !finished {
					startLocked()
				}
			})
			defer hedge.Stop()
		}
		for _, p := range s.preferConnected(ctx, sources(idx)) {
			if ctx.Err() != nil {
				return
			}
			b, err := s.GetShard(ctx, p, ds, idx)
			if err != nil {
				if errors.Is(err, ErrLyingPeer) {
					mu.Lock()
					rep.Faults = append(rep.Faults, Fault{Peer: p, What: fmt.Sprintf("dataset %d shard %d", ds.Id, idx), Err: err, Since: time.Now()})
					mu.Unlock()
				}
				continue
			}
			mu.Lock()
			shards[idx] = b
			rep.From[idx] = p
			rep.Bytes += int64(len(b))
			verified++
			v := verified
			mu.Unlock()
			if opt.Progress != nil {
				opt.Progress(v, k)
			}
			if v >= k {
				cancel()
			}
			return
		}
		// This index failed everywhere: start another one in its place.
		mu.Lock()
		startLocked()
		mu.Unlock()
	}
	startLocked = func() {
		if next >= n || verified >= k || ctx.Err() != nil {
			return
		}
		idx := next
		next++
		wg.Add(1)
		go func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wg.Done()
				return
			}
			fetchIndex(idx)
		}()
	}
	// Dial every candidate at once, so that live peers are connected by
	// the time their shards are asked for and a dead one (whose dial only
	// ends at DialTimeout) is tried last.
	var cands []peer.ID
	for i := 0; i < n; i++ {
		for _, p := range sources(i) {
			if !slices.Contains(cands, p) {
				cands = append(cands, p)
			}
		}
	}
	for _, p := range cands {
		if s.h.Network().Connectedness(p) != network.Connected && p != s.h.ID() {
			go func() {
				dctx, dcancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
				defer dcancel()
				_ = s.h.Connect(dctx, peer.AddrInfo{ID: p})
			}()
		}
	}
	mu.Lock()
	for i := 0; i < k; i++ {
		startLocked()
	}
	mu.Unlock()
	wg.Wait()
	cancel()
	rep.Elapsed = time.Since(start)

	got := 0
	for i := range shards {
		if shards[i] != nil {
			got++
		} else {
			rep.Missing = append(rep.Missing, i)
		}
	}
	if got < k {
		if err := context.Cause(ctx); err != nil && verified < k && errors.Is(err, context.DeadlineExceeded) {
			return nil, rep, fmt.Errorf("%w: dataset %d: %d of %d shards before the deadline; missing shard indices %v%s", ErrNotEnough, ds.Id, got, k, rep.Missing, badPeersNote(rep))
		}
		return nil, rep, fmt.Errorf("%w: dataset %d: only %d of %d needed shards could be fetched and verified; missing shard indices %v%s", ErrNotEnough, ds.Id, got, k, rep.Missing, badPeersNote(rep))
	}
	for i := 0; i < k; i++ {
		if shards[i] == nil {
			rep.Rebuilt = true
		}
	}
	data, _, err := coder.rebuild(e, shards, ds.Sha256, true)
	if err != nil {
		return nil, rep, fmt.Errorf("p2p: dataset %d: %w", ds.Id, err)
	}
	rep.Elapsed = time.Since(start)
	return data, rep, nil
}

// preferConnected orders peers connected ones first (stable otherwise);
// when none is connected yet it waits up to 250 ms for one to be.
func (s *Service) preferConnected(ctx context.Context, ps []peer.ID) []peer.ID {
	connected := func(p peer.ID) bool { return s.h.Network().Connectedness(p) == network.Connected }
	for wait := 0; wait < 25 && !slices.ContainsFunc(ps, connected); wait++ {
		select {
		case <-ctx.Done():
			return ps
		case <-time.After(10 * time.Millisecond):
		}
	}
	out := make([]peer.ID, 0, len(ps))
	for _, p := range ps {
		if connected(p) {
			out = append(out, p)
		}
	}
	for _, p := range ps {
		if !connected(p) {
			out = append(out, p)
		}
	}
	return out
}

// PushShards sends each shard to every peer placement names (placement[i]
// for shard i), a few at a time, retrying each push twice with backoff; it fails when some shard reached none of
// its peers. progress, if set, is called after each successful push.
func (s *Service) PushShards(ctx context.Context, datasetID uint64, shards [][]byte, placement [][]peer.ID, progress func(done, total int)) error {
	type job struct {
		idx int
		p   peer.ID
	}
	var jobs []job
	for i, ps := range placement {
		for _, p := range ps {
			jobs = append(jobs, job{i, p})
		}
	}
	var (
		mu   sync.Mutex
		done int
		ok   = make([]bool, len(shards))
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, 8)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			for attempt, wait := 0, 250*time.Millisecond; attempt < 3; attempt, wait = attempt+1, 2*wait {
				if err = s.PutShard(ctx, j.p, datasetID, j.idx, shards[j.idx]); err == nil || ctx.Err() != nil {
					break
				}
				var re *RemoteError
				if errors.As(err, &re) && re.Status == StatusRejected {
					break // the peer checked the shard and refused it: no retry helps
				}
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("shard %d to %s: %w", j.idx, j.p, err))
				return
			}
			ok[j.idx] = true
			done++
			if progress != nil {
				progress(done, len(jobs))
			}
		}()
	}
	wg.Wait()
	var lost []int
	for i, o := range ok {
		if !o {
			lost = append(lost, i)
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("p2p: dataset %d: shards %v reached no peer: %w", datasetID, lost, errors.Join(errs...))
	}
	return nil
}

// PlacementPeers converts a ring placement to peer ids (undecodable ids dropped).
func PlacementPeers(place [][]string) [][]peer.ID {
	out := make([][]peer.ID, len(place))
	for i, ps := range place {
		for _, s := range ps {
			if id, err := peer.Decode(s); err == nil {
				out[i] = append(out[i], id)
			}
		}
	}
	return out
}

// RingSources asks, for each shard, the peers the ring places it on, then
// the dataset's registered providers, then every other storage peer.
func RingSources(place [][]peer.ID, ds *types.Dataset, all []peer.ID) Sources {
	var providers []peer.ID
	for _, s := range ds.Providers {
		if id, err := peer.Decode(s); err == nil {
			providers = append(providers, id)
		}
	}
	return func(idx int) []peer.ID {
		var out []peer.ID
		add := func(ps []peer.ID) {
			for _, p := range ps {
				if !slices.Contains(out, p) {
					out = append(out, p)
				}
			}
		}
		if idx < len(place) {
			add(place[idx])
		}
		add(providers)
		add(all)
		return out
	}
}

func badPeersNote(rep *FetchReport) string {
	if len(rep.Faults) == 0 {
		return ""
	}
	return fmt.Sprintf("; peers that sent bad data: %v", rep.BadPeers())
}

// FetchFromRing fetches a registered dataset the way every consumer does:
// it reads the bonded storage peers from chain, puts their registered
// addresses in the host's peerstore, places the dataset's shards on the
// consistent-hash ring (ringCfg, the storage peers' own) and fetches any k
// verified shards with FetchDataset, ring placement first, then the
// registered providers, then any storage peer.
func (s *Service) FetchFromRing(ctx context.Context, chain Chain, ds *types.Dataset, ringCfg RingConfig, opt FetchOptions) ([]byte, *FetchReport, error) {
	workers, err := chain.StorageWorkers(ctx)
	if err != nil {
		return nil, nil, err
	}
	if len(workers) == 0 {
		return nil, nil, fmt.Errorf("p2p: dataset %d: no bonded storage peers on chain", ds.Id)
	}
	all := AddWorkerAddrs(s.h, workers)
	ring, err := NewRing(PeerIDs(workers), ringCfg)
	if err != nil {
		return nil, nil, err
	}
	place, err := ring.Place(ds.Sha256, int(ds.Erasure.DataShards+ds.Erasure.ParityShards))
	if err != nil {
		return nil, nil, err
	}
	return s.FetchDataset(ctx, NewCoder(), ds, RingSources(PlacementPeers(place), ds, all), opt)
}
