package p2p

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

func TestIdentityPersisted(t *testing.T) {
	home := t.TempDir()
	cfg := DefaultHostConfig(home)
	h1, err := NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	id := h1.ID()
	h1.Close()
	st, err := os.Stat(filepath.Join(home, "p2p", "identity.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("identity file: %v %v", err, st.Mode())
	}
	h2, err := NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if h2.ID() != id {
		t.Fatal("identity not kept across restarts")
	}
	os.Chmod(filepath.Join(home, "p2p", "identity.key"), 0o644)
	if _, err := NewHost(cfg); err == nil {
		t.Fatal("world-readable key accepted")
	}
}

// realNode is a host on 127.0.0.1 with a service and a store.
type realNode struct {
	h   host.Host
	svc *Service
}

func newRealNode(t *testing.T, listen []string, chain DatasetSource) *realNode {
	t.Helper()
	cfg := DefaultHostConfig(t.TempDir())
	cfg.ListenAddrs = listen
	h, err := NewHost(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(h, DefaultConfig(testChain), st, chain)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &realNode{h: h, svc: svc}
}

// TestRealHostsRing runs 5 storage peers and a client on 127.0.0.1 (TCP and,
// separately, QUIC only): publish by ring placement, a peer leaves the ring
// and the others re-replicate, one lies, a fresh node fetches everything.
func TestRealHostsRing(t *testing.T) {
	for _, tr := range []struct {
		name   string
		listen []string
	}{
		{"tcp", []string{"/ip4/127.0.0.1/tcp/0"}},
		{"quic", []string{"/ip4/127.0.0.1/udp/0/quic-v1"}},
	} {
		t.Run(tr.name, func(t *testing.T) {
			chain := newFakeChain()
			coder := NewCoder()
			data := randomBytes(t, 4<<20+5)
			var storage []*realNode
			for i := 0; i < 5; i++ {
				n := newRealNode(t, tr.listen, chain)
				chain.addWorker(n.h)
				storage = append(storage, n)
			}
			ds, enc := chain.register(t, coder, data, 10, 4)
			ctx := testCtx(t)

			publisher := newRealNode(t, tr.listen, chain)
			workers, _ := chain.StorageWorkers(ctx)
			AddWorkerAddrs(publisher.h, workers)
			ring, err := NewRing(PeerIDs(workers), DefaultRingConfig())
			if err != nil {
				t.Fatal(err)
			}
			place, _ := ring.Place(ds.Sha256, 14)
			if err := publisher.svc.PushShards(ctx, ds.Id, enc.Shards, PlacementPeers(place), nil); err != nil {
				t.Fatal(err)
			}

			// Storage peer 0 leaves the ring (unbonds) and goes down; the
			// others sync and pick up what the new ring places on them.
			gone := storage[0]
			chain.mu.Lock()
			chain.workers = chain.workers[1:]
			chain.mu.Unlock()
			gone.h.Close()
			fetched := 0
			for _, n := range storage[1:] {
				sp := &StoragePeer{Svc: n.svc, Chain: chain, Coder: coder, Ring: DefaultRingConfig()}
				rep, err := sp.Sync(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Failed) > 0 {
					t.Fatalf("sync: %v", rep.Failed)
				}
				if got := sp.Repairs(); got != uint64(rep.Fetched+rep.Rebuilt) {
					t.Fatalf("repairs %d, the sync fetched %d and rebuilt %d", got, rep.Fetched, rep.Rebuilt)
				}
				fetched += rep.Fetched + rep.Rebuilt
			}
			t.Logf("re-replicated %d shards after one of 5 peers left", fetched)
			workers, _ = chain.StorageWorkers(ctx)
			ring, _ = NewRing(PeerIDs(workers), DefaultRingConfig())
			place, _ = ring.Place(ds.Sha256, 14)
			for i, ps := range PlacementPeers(place) {
				for _, p := range ps {
					for _, n := range storage[1:] {
						if n.h.ID() == p && !n.svc.store.HasShard(ds.Id, i) {
							t.Fatalf("shard %d not on %s after sync", i, p)
						}
					}
				}
			}

			// A shard damaged on disk is dropped and healed by the next sync.
			for i := 0; i < 14; i++ {
				if storage[3].svc.store.HasShard(ds.Id, i) {
					p := storage[3].svc.store.shardPath(ds.Id, i)
					b, _ := os.ReadFile(p)
					b[7] ^= 1
					os.WriteFile(p, b, 0o600)
					sp := &StoragePeer{Svc: storage[3].svc, Chain: chain, Coder: coder, Ring: DefaultRingConfig()}
					rep, err := sp.Sync(ctx)
					if err != nil || rep.Damaged != 1 || rep.Fetched != 1 {
						t.Fatalf("healing: %+v %v", rep, err)
					}
					if b, _ := storage[3].svc.store.Shard(ds.Id, i); VerifyShard(&ds.Erasure, i, b) != nil {
						t.Fatal("shard not healed")
					}
					break
				}
			}

			// One remaining peer lies; a fresh node fetches.
			liar := storage[2]
			lie(liar.h, ds, enc.Shards)
			fresh := newRealNode(t, tr.listen, chain)
			all := AddWorkerAddrs(fresh.h, workers)
			out, rep, err := fresh.svc.FetchDataset(ctx, coder, ds, RingSources(PlacementPeers(place), ds, all), FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data) {
				t.Fatal("fetched bytes differ")
			}
			for _, p := range rep.BadPeers() {
				if p != liar.h.ID() {
					t.Fatalf("honest peer %s named", p)
				}
			}
			t.Logf("fetched %d bytes in %v; bad peers %v", rep.Bytes, rep.Elapsed, rep.BadPeers())
		})
	}
}

var _ = peer.ID("")

func TestConnectWithRetry(t *testing.T) {
	a := newRealNode(t, []string{"/ip4/127.0.0.1/tcp/0"}, nil)
	b := newRealNode(t, []string{"/ip4/127.0.0.1/tcp/0"}, nil)
	ctx := testCtx(t)
	infos, err := ParseBootstrap([]string{b.h.Addrs()[0].String() + "/p2p/" + b.h.ID().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ConnectWithRetry(ctx, a.h, infos[0], 3, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	b.h.Close()
	a.h.Network().ClosePeer(b.h.ID())
	a.h.Peerstore().ClearAddrs(b.h.ID())
	start := time.Now()
	err = ConnectWithRetry(ctx, a.h, infos[0], 3, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("dead bootstrap peer: %v", err)
	}
	if el := time.Since(start); el < 60*time.Millisecond {
		t.Fatalf("no backoff between attempts (%v)", el)
	}
	if _, err := ParseBootstrap([]string{"/ip4/127.0.0.1/tcp/1"}); err == nil {
		t.Fatal("bootstrap address without /p2p accepted")
	}
}

// TestRingGrowthReleasesMovedCopies: a sixth storage peer joins the ring;
// its first sync fetches what the new ring places on it, and the next
// syncs of the old holders drop the copies the ring moved away, each only
// once every peer now placed serves it: the ring ends with exactly its
// placement (no copy left behind, none missing) and the data still
// fetches whole.
func TestRingGrowthReleasesMovedCopies(t *testing.T) {
	listen := []string{"/ip4/127.0.0.1/tcp/0"}
	chain := newFakeChain()
	coder := NewCoder()
	data := randomBytes(t, 2<<20+3)
	var storage []*realNode
	for i := 0; i < 5; i++ {
		n := newRealNode(t, listen, chain)
		chain.addWorker(n.h)
		storage = append(storage, n)
	}
	ds, enc := chain.register(t, coder, data, 10, 4)
	ctx := testCtx(t)
	placement := func() [][]peer.ID {
		workers, _ := chain.StorageWorkers(ctx)
		ring, err := NewRing(PeerIDs(workers), DefaultRingConfig())
		if err != nil {
			t.Fatal(err)
		}
		place, _ := ring.Place(ds.Sha256, 14)
		return PlacementPeers(place)
	}
	publisher := newRealNode(t, listen, chain)
	workers, _ := chain.StorageWorkers(ctx)
	AddWorkerAddrs(publisher.h, workers)
	if err := publisher.svc.PushShards(ctx, ds.Id, enc.Shards, placement(), nil); err != nil {
		t.Fatal(err)
	}

	joined := newRealNode(t, listen, chain)
	chain.addWorker(joined.h)
	storage = append(storage, joined)
	sync := func(n *realNode) *SyncReport {
		sp := &StoragePeer{Svc: n.svc, Chain: chain, Coder: coder, Ring: DefaultRingConfig()}
		rep, err := sp.Sync(ctx)
		if err != nil || len(rep.Failed) > 0 {
			t.Fatalf("sync of %s: %v %v", n.h.ID(), err, rep)
		}
		return rep
	}
	// The old holders first. The new peer holds nothing yet, so no shard
	// the ring now places on it may be dropped. A shard the bounded loads
	// moved between two old peers may go already (when its new holder
	// synced earlier in this loop), but only once every peer now placed
	// holds it.
	newPlace := placement()
	released := 0
	for _, n := range storage[:5] {
		var held []int
		for i := 0; i < 14; i++ {
			if n.svc.store.HasShard(ds.Id, i) {
				held = append(held, i)
			}
		}
		rep := sync(n)
		dropped := 0
		for _, i := range held {
			if n.svc.store.HasShard(ds.Id, i) {
				continue
			}
			dropped++
			for _, p := range newPlace[i] {
				if p == joined.h.ID() {
					t.Fatalf("%s dropped shard %d before its new holder (the joined peer) had it", n.h.ID(), i)
				}
				for _, m := range storage {
					if m.h.ID() == p && !m.svc.store.HasShard(ds.Id, i) {
						t.Fatalf("%s dropped shard %d before its new holder %s had it", n.h.ID(), i, p)
					}
				}
			}
		}
		if dropped != rep.Released {
			t.Fatalf("%s reported %d copies released, dropped %d", n.h.ID(), rep.Released, dropped)
		}
		released += rep.Released
	}
	if rep := sync(joined); rep.Fetched+rep.Rebuilt == 0 {
		t.Fatalf("the new peer fetched nothing: %+v", rep)
	}
	for _, n := range storage[:5] {
		released += sync(n).Released
	}
	if released == 0 {
		t.Fatal("no copy the ring moved away was dropped")
	}
	want := map[[2]int]bool{}
	for i, ps := range placement() {
		for _, p := range ps {
			for j, n := range storage {
				if n.h.ID() == p {
					want[[2]int{j, i}] = true
				}
			}
		}
	}
	for j, n := range storage {
		for i := 0; i < 14; i++ {
			if has := n.svc.store.HasShard(ds.Id, i); has != want[[2]int{j, i}] {
				t.Fatalf("peer %d shard %d: held %v, placed %v", j, i, has, want[[2]int{j, i}])
			}
		}
	}
	t.Logf("%d copies dropped after the ring grew to 6; %d copies held, as placed", released, len(want))

	fresh := newRealNode(t, listen, chain)
	workers, _ = chain.StorageWorkers(ctx)
	all := AddWorkerAddrs(fresh.h, workers)
	out, _, err := fresh.svc.FetchDataset(ctx, coder, ds, RingSources(placement(), ds, all), FetchOptions{})
	if err != nil || !bytes.Equal(out, data) {
		t.Fatalf("fetch after the release: %v", err)
	}
}
