package p2pcmd

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pouw/pouwd/p2p"
)

// TestStorageCollector: two loopback hosts; the storage side holds a model
// and serves it; its collector then shows the store's usage, the served
// bytes and the connected peer, and lints clean.
func TestStorageCollector(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	node := func(store *p2p.Store) *p2p.Service {
		hc := p2p.DefaultHostConfig("")
		hc.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		h, err := p2p.NewHost(hc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		svc, err := p2p.NewService(h, p2p.DefaultConfig("metrics-test"), store, nil)
		if err != nil {
			t.Fatal(err)
		}
		if store != nil {
			if err := svc.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return svc
	}
	store, err := p2p.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	model := []byte(strings.Repeat("model bytes ", 1000))
	hash, err := store.PutModel(model)
	if err != nil {
		t.Fatal(err)
	}
	server, client := node(store), node(nil)
	sp := &p2p.StoragePeer{Svc: server}
	c := newStorageCollector(server, sp, slog.New(slog.DiscardHandler))

	if err := client.Host().Connect(ctx, peer.AddrInfo{ID: server.Host().ID(), Addrs: server.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetModel(ctx, server.Host().ID(), hash, 0); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP pouw_storage_held_bytes Bytes this storage peer's store holds (shards, checkpoints, models).
# TYPE pouw_storage_held_bytes gauge
pouw_storage_held_bytes 12000
# HELP pouw_storage_served_bytes_total Payload bytes sent to peers (shards, checkpoints and models served; shards pushed).
# TYPE pouw_storage_served_bytes_total counter
pouw_storage_served_bytes_total 12000
# HELP pouw_storage_fetched_bytes_total Payload bytes received from peers (fetches, verified or not; shards pushed here).
# TYPE pouw_storage_fetched_bytes_total counter
pouw_storage_fetched_bytes_total 0
# HELP pouw_storage_shards_held Dataset shards this storage peer holds.
# TYPE pouw_storage_shards_held gauge
pouw_storage_shards_held 0
# HELP pouw_storage_repairs_total Shards placed here that a sync re-fetched from other peers or rebuilt from k others.
# TYPE pouw_storage_repairs_total counter
pouw_storage_repairs_total 0
# HELP pouw_storage_peers Connected libp2p peers.
# TYPE pouw_storage_peers gauge
pouw_storage_peers 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if got := client.Traffic().FetchedBytes; got != uint64(len(model)) {
		t.Fatalf("client fetched %d bytes, expected %d", got, len(model))
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
