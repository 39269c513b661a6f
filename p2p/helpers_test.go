package p2p

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/x/pouwml/types"
)

const testChain = "pouw-test"

// fakeChain is an in-memory Chain.
type fakeChain struct {
	mu       sync.Mutex
	datasets map[uint64]*types.Dataset
	workers  []types.Worker
}

func newFakeChain() *fakeChain { return &fakeChain{datasets: map[uint64]*types.Dataset{}} }

func (c *fakeChain) Dataset(_ context.Context, id uint64) (*types.Dataset, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds, ok := c.datasets[id]
	if !ok {
		return nil, fmt.Errorf("dataset %d not found", id)
	}
	return ds, nil
}

func (c *fakeChain) Datasets(context.Context) ([]types.Dataset, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []types.Dataset
	for i := uint64(1); i <= uint64(len(c.datasets)); i++ {
		out = append(out, *c.datasets[i])
	}
	return out, nil
}

func (c *fakeChain) StorageWorkers(context.Context) ([]types.Worker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return RingWorkers(c.workers), nil
}

func (c *fakeChain) addWorker(h host.Host) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.workers = append(c.workers, types.Worker{Role: types.WORKER_ROLE_STORAGE, Status: types.WORKER_STATUS_BONDED,
		PeerId: h.ID().String(), Multiaddrs: HostAddrs(h)})
}

// register encodes data and records it as the next dataset.
func (c *fakeChain) register(t testing.TB, coder *Coder, data []byte, k, m int) (*types.Dataset, *Encoded) {
	t.Helper()
	enc, err := coder.Encode(data, k, m)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	c.mu.Lock()
	defer c.mu.Unlock()
	ds := &types.Dataset{Id: uint64(len(c.datasets) + 1), Name: "test", Sha256: sum[:], Erasure: enc.Erasure}
	c.datasets[ds.Id] = ds
	return ds, enc
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// newMockServices builds n connected mocknet hosts, each with a started
// service over its own store.
func newMockServices(t testing.TB, n int, chain DatasetSource, cfg Config) (mocknet.Mocknet, []*Service) {
	t.Helper()
	mn, err := mocknet.FullMeshConnected(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mn.Close() })
	var svcs []*Service
	for _, h := range mn.Hosts() {
		st, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewService(h, cfg, st, chain)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(context.Background()) })
		svcs = append(svcs, s)
	}
	return mn, svcs
}

// lie replaces h's shard handler with one that serves every shard of ds
// with one byte flipped (a peer that lies about its data).
func lie(h host.Host, ds *types.Dataset, shards [][]byte) {
	h.SetStreamHandler(ShardProtocol(testChain), func(st network.Stream) {
		r := bufio.NewReader(st)
		raw, err := ReadDelimited(r, MaxRequestSize)
		if err != nil {
			st.Reset()
			return
		}
		var req ShardRequest
		if err := req.Unmarshal(raw); err != nil || req.Op != OpGet {
			st.Reset()
			return
		}
		b := append([]byte(nil), shards[req.Index]...)
		b[len(b)/2] ^= 0x5a
		WriteDelimited(st, Response{Status: StatusOK, Size: uint64(len(b))})
		st.Write(b)
		st.Close()
	})
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// verifyCkpt is the checkpoint verifier the daemons pass to p2p
// (worker.VerifyCheckpoint, spelled out: package worker imports p2p).
func verifyCkpt(key CkptKey, b []byte) (any, error) {
	ck, err := ml.VerifyCheckpoint(b, key.WeightsHash, key.OptimizerHash)
	if err != nil {
		return nil, err
	}
	return ck, nil
}

// checkCkpt verifies b as the store and the service do (a *MismatchError
// on failure) and returns the parsed checkpoint.
func checkCkpt(key CkptKey, b []byte) (*ml.Checkpoint, error) {
	ck, err := verifyCheckpoint(verifyCkpt, key, b)
	if err != nil {
		return nil, err
	}
	return ck.(*ml.Checkpoint), nil
}

// ckptDiffs are the committed hashes a checkpoint error says differ.
func ckptDiffs(err error) []ml.HashDiff {
	var cm *ml.CheckpointMismatchError
	if !errors.As(err, &cm) {
		return nil
	}
	return cm.Diffs
}
