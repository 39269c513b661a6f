package p2p

import (
	"bytes"
	"testing"
)

// TestTrafficAndUsage: serving shards moves the servers' served bytes and
// the fetcher's fetched bytes by the same amount, a push moves both the
// other way, and the stores' usage counts what they hold.
func TestTrafficAndUsage(t *testing.T) {
	chain := newFakeChain()
	coder := NewCoder()
	data := randomBytes(t, 1<<20+3)
	ds, enc := chain.register(t, coder, data, 4, 2)
	_, svcs := newMockServices(t, 7, chain, DefaultConfig(testChain))
	sources := spread(t, svcs, ds.Id, enc.Shards)
	for _, s := range svcs {
		if tr := s.Traffic(); tr != (Traffic{}) {
			t.Fatalf("traffic before any exchange: %+v", tr)
		}
	}
	out, _, err := svcs[0].FetchDataset(testCtx(t), coder, ds, sources, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, data) {
		t.Fatal("fetched bytes differ")
	}
	size := ds.Erasure.ShardSize
	fetched := svcs[0].Traffic().FetchedBytes
	if fetched < 4*size || fetched%size != 0 {
		t.Fatalf("fetched %d bytes, expected whole shards of %d, at least k=4", fetched, size)
	}
	var served uint64
	for _, s := range svcs[1:] {
		served += s.Traffic().ServedBytes
	}
	if served != fetched || svcs[0].Traffic().ServedBytes != 0 {
		t.Fatalf("served %d bytes in all, fetched %d", served, fetched)
	}

	// A push: svcs[0] sends shard 0 to svcs[6], which holds shard 5.
	if err := svcs[0].PutShard(testCtx(t), svcs[6].h.ID(), ds.Id, 0, enc.Shards[0]); err != nil {
		t.Fatal(err)
	}
	if got := svcs[0].Traffic().ServedBytes; got != size {
		t.Fatalf("pusher served %d, expected %d", got, size)
	}
	if got := svcs[6].Traffic().FetchedBytes; got != size {
		t.Fatalf("receiver fetched %d, expected %d", got, size)
	}

	u, err := svcs[6].store.Usage()
	if err != nil {
		t.Fatal(err)
	}
	if u.Shards != 2 || u.ShardBytes != 2*size || u.Bytes != 2*size {
		t.Fatalf("usage %+v, expected 2 shards of %d", u, size)
	}
	model := []byte("a model")
	if _, err := svcs[6].store.PutModel(model); err != nil {
		t.Fatal(err)
	}
	if u, err = svcs[6].store.Usage(); err != nil || u.Shards != 2 || u.Bytes != 2*size+uint64(len(model)) {
		t.Fatalf("usage with a model %+v %v", u, err)
	}
	if u, err = svcs[0].store.Usage(); err != nil || u != (Usage{}) {
		t.Fatalf("empty store's usage %+v %v", u, err)
	}
}
