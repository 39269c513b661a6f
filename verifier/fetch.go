package verifier

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// P2PFetcher fetches from the miner itself over libp2p: it reads the
// miner's worker record (peer id and addresses, registered with its bond)
// from chain, and asks that peer with the p2p checkpoint and model
// protocols, which verify what arrives (the checkpoint against both
// committed hashes, the model against its SHA-256) and name a lying peer.
type P2PFetcher struct {
	Host    host.Host
	Service *p2p.Service
	Query   WorkerRecords
	// MaxBytes caps one checkpoint or model (0: the service's limit).
	MaxBytes uint64
}

// NewP2PFetcher builds a fetcher on h (a client service: it serves
// nothing) that looks miners up through q (a chain client's queries).
func NewP2PFetcher(h host.Host, chainID string, q WorkerRecords) (*P2PFetcher, error) {
	svc, err := p2p.NewService(h, p2p.BlobConfig(chainID), nil, nil)
	if err != nil {
		return nil, err
	}
	return &P2PFetcher{Host: h, Service: svc, Query: q}, nil
}

// minerPeer puts the miner's registered addresses in the peerstore and
// returns its peer.
func (f *P2PFetcher) minerPeer(ctx context.Context, minerAddr string) ([]peer.ID, error) {
	w, err := f.Query.Worker(ctx, &types.QueryWorkerRequest{Address: minerAddr})
	if err != nil {
		return nil, fmt.Errorf("verifier: worker record of miner %s: %w", minerAddr, err)
	}
	ids := p2p.AddWorkerAddrs(f.Host, []types.Worker{w.Worker})
	if len(ids) == 0 {
		return nil, fmt.Errorf("verifier: miner %s registered no usable libp2p peer id (%q) and addresses %v", minerAddr, w.Worker.PeerId, w.Worker.Multiaddrs)
	}
	return ids, nil
}

// Checkpoint implements Fetcher.
func (f *P2PFetcher) Checkpoint(ctx context.Context, minerAddr string, key p2p.CkptKey) (*ml.Checkpoint, error) {
	ids, err := f.minerPeer(ctx, minerAddr)
	if err != nil {
		return nil, err
	}
	got, err := f.Service.FetchCheckpoint(ctx, ids, key, f.MaxBytes, worker.VerifyCheckpoint)
	if err != nil {
		return nil, err
	}
	return got.Checkpoint.(*ml.Checkpoint), nil
}

// Model implements Fetcher.
func (f *P2PFetcher) Model(ctx context.Context, minerAddr string, hash []byte) ([]byte, error) {
	ids, err := f.minerPeer(ctx, minerAddr)
	if err != nil {
		return nil, err
	}
	b, _, err := f.Service.FetchModel(ctx, ids, hash, f.MaxBytes)
	return b, err
}
