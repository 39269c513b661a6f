package p2pe2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pouw/pouwd/cmd/pouwd/p2pcmd"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/tests/integration"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// mnistSHA256 is the canonical MNIST's identity (ml/data).
const mnistSHA256 = "c5bbd8c8"

type storageNode struct {
	name string
	h    host.Host
	svc  *p2p.Service
}

func prepareMNIST(t *testing.T) string {
	t.Helper()
	o, err := data.Options{Kind: data.KindMNIST}.Normalized()
	if err != nil {
		t.Skipf("MNIST source not available: %v", err)
	}
	d, files, err := data.LoadSource(o)
	if err != nil {
		t.Skipf("MNIST source not available: %v", err)
	}
	d, meta, err := data.Build(o, d, files, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mnist")
	if err := data.Write(dir, d, meta); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newNode(t *testing.T, chainID string, chain p2p.Chain, store bool) (host.Host, *p2p.Service) {
	t.Helper()
	hc := p2p.DefaultHostConfig(t.TempDir())
	hc.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	h, err := p2p.NewHost(hc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	var st *p2p.Store
	if store {
		if st, err = p2p.OpenStore(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := p2p.NewService(h, p2p.DefaultConfig(chainID), st, chain)
	if err != nil {
		t.Fatal(err)
	}
	if store {
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return h, svc
}

// TestPublishFetchMNIST: publish MNIST with k=10, m=4 to 5 storage peers
// registered on chain, stop one peer, make another serve corrupt shards,
// fetch from a fresh node and get the identical canonical bytes.
func TestPublishFetchMNIST(t *testing.T) {
	dir := prepareMNIST(t)
	meta, err := data.Verify(dir)
	if err != nil {
		t.Fatal(err)
	}
	if meta.SHA256[:8] != mnistSHA256 {
		t.Fatalf("canonical MNIST sha256 %s, expected %s...", meta.SHA256, mnistSHA256)
	}
	canonical, err := os.ReadFile(filepath.Join(dir, data.DataFile))
	if err != nil {
		t.Fatal(err)
	}

	names := []string{"client", "store1", "store2", "store3", "store4", "store5"}
	n := integration.New(t, integration.Options{Accounts: names})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clientCtx := n.ClientCtx()
	q := types.NewQueryClient(clientCtx)
	chain := p2p.QueryChain{Q: q}
	chainID := clientCtx.ChainID
	params, err := q.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		t.Fatal(err)
	}

	// Five storage peers on 127.0.0.1 register their peer ids and addresses.
	var nodes []storageNode
	for _, name := range names[1:] {
		h, svc := newNode(t, chainID, chain, true)
		nodes = append(nodes, storageNode{name: name, h: h, svc: svc})
		n.MustBroadcast(name, &types.MsgRegisterWorker{Address: n.Address(name).String(), Role: types.WORKER_ROLE_STORAGE,
			Bond: params.Params.MinWorkerBond, PeerId: h.ID().String(), Multiaddrs: p2p.HostAddrs(h)})
	}
	workers, err := chain.StorageWorkers(ctx)
	if err != nil || len(workers) != 5 {
		t.Fatalf("storage workers on chain: %d, %v", len(workers), err)
	}

	// Publish: encode, place on the ring from chain state, register, push.
	start := time.Now()
	coder := p2p.NewCoder()
	enc, err := coder.Encode(canonical, 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := p2p.NewRing(p2p.PeerIDs(workers), p2p.DefaultRingConfig())
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := hex.DecodeString(meta.SHA256)
	place, err := ring.Place(sum, 14)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := p2pcmd.RegisterDatasetMsg(n.Address("client").String(), meta, enc, p2pcmd.ProvidersOf(place))
	if err != nil {
		t.Fatal(err)
	}
	n.MustBroadcast("client", msg)
	dss, err := chain.Datasets(ctx)
	if err != nil || len(dss) != 1 || !bytes.Equal(dss[0].Sha256, sum) {
		t.Fatalf("dataset not registered: %v %v", dss, err)
	}
	ds := &dss[0]
	_, publisher := newNode(t, chainID, chain, false)
	p2p.AddWorkerAddrs(publisher.Host(), workers)
	if err := publisher.PushShards(ctx, ds.Id, enc.Shards, p2p.PlacementPeers(place), nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("published MNIST (%d bytes, 10+4 shards of %d) to 5 peers in %v", len(canonical), enc.Erasure.ShardSize, time.Since(start))
	held := 0
	for _, nd := range nodes {
		for i := 0; i < 14; i++ {
			if nd.svc.Store().HasShard(ds.Id, i) {
				held++
			}
		}
	}
	if held != 28 {
		t.Fatalf("%d shard copies stored, expected 28 (2 replicas)", held)
	}

	// One peer stops; another serves corrupt shards.
	nodes[0].h.Close()
	liar := nodes[1]
	lie(liar.h, chainID, enc.Shards)

	// A fresh node fetches from the ring read from chain state.
	h, fresh := newNode(t, chainID, chain, false)
	all := p2p.AddWorkerAddrs(h, workers)
	out, rep, err := fresh.FetchDataset(ctx, coder, ds, p2p.RingSources(p2p.PlacementPeers(place), ds, all), p2p.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, canonical) {
		t.Fatal("fetched bytes differ from the canonical MNIST")
	}
	for _, p := range rep.BadPeers() {
		if p != liar.h.ID() {
			t.Fatalf("honest peer %s named as bad", p)
		}
	}
	t.Logf("fetched %d bytes in %v (%.0f MB/s), parity used %v, bad peers %v", len(out), rep.Elapsed, float64(len(out))/rep.Elapsed.Seconds()/1e6, rep.Rebuilt, rep.BadPeers())
	outDir := filepath.Join(t.TempDir(), "fetched")
	if _, err := p2pcmd.WriteFetched(outDir, ds, out); err != nil {
		t.Fatal(err)
	}
	got, err := data.Verify(outDir)
	if err != nil || got.SHA256 != meta.SHA256 {
		t.Fatalf("written dataset: %v", err)
	}
	if _, _, err := data.Load(outDir); err != nil {
		t.Fatalf("fetched dataset does not load: %v", err)
	}

	// What a miner or verifier daemon does: worker.P2PDatasets reads the
	// ring from chain and fetches and decodes the dataset, past the stopped
	// peer and the liar.
	_, daemon := newNode(t, chainID, chain, false)
	pd := &worker.P2PDatasets{Service: daemon, Chain: chain, Ring: p2p.DefaultRingConfig()}
	dd, err := pd.Dataset(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := dd.SHA256(); err != nil || hex.EncodeToString(sum[:]) != meta.SHA256 {
		t.Fatalf("P2PDatasets: dataset sha256 %x (%v), expected %s", sum, err, meta.SHA256)
	}
	if again, err := pd.Dataset(ctx, ds); err != nil || again != dd {
		t.Fatalf("P2PDatasets did not keep the dataset: %v", err)
	}

	// Make sure the liar is caught when it is the only holder asked.
	var liarShard = -1
	for i, ps := range p2p.PlacementPeers(place) {
		for _, p := range ps {
			if p == liar.h.ID() {
				liarShard = i
			}
		}
	}
	if liarShard >= 0 {
		if _, err := fresh.GetShard(ctx, liar.h.ID(), ds, liarShard); err == nil {
			t.Fatal("corrupt shard accepted")
		}
		found := false
		for _, f := range fresh.Faults() {
			found = found || f.Peer == liar.h.ID()
		}
		if !found {
			t.Fatal("lying peer not reported")
		}
	}
}

// lie makes h serve every shard with one byte flipped.
func lie(h host.Host, chainID string, shards [][]byte) {
	h.SetStreamHandler(p2p.ShardProtocol(chainID), func(st network.Stream) {
		raw, err := p2p.ReadDelimited(bufio.NewReader(st), p2p.MaxRequestSize)
		var req p2p.ShardRequest
		if err != nil || req.Unmarshal(raw) != nil || req.Op != p2p.OpGet || int(req.Index) >= len(shards) {
			st.Reset()
			return
		}
		b := append([]byte(nil), shards[req.Index]...)
		b[0] ^= 0xff
		p2p.WriteDelimited(st, p2p.Response{Status: p2p.StatusOK, Size: uint64(len(b))})
		st.Write(b)
		st.Close()
	})
}

var _ peer.ID
