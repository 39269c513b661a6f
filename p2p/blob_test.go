package p2p

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
)

// blobPair is a miner-like host serving blobs and a verifier-like client,
// real libp2p hosts on 127.0.0.1 (TCP) with the resource manager's limits
// of HostConfig, peer memory set by the caller.
func blobPair(t *testing.T, peerMemory int64, cfg Config) (server, client *Service) {
	t.Helper()
	server, client = realService(t, peerMemory, cfg, nil), realService(t, peerMemory, cfg, nil)
	client.h.Peerstore().AddAddrs(server.h.ID(), server.h.Addrs(), time.Hour)
	return server, client
}

// TestBlobLargerThanPeerMemory: a model four times the per-peer memory
// the resource manager allows crosses real hosts whole and checked (a
// payload is held in the stream scope one PayloadChunk at a time; before,
// a checkpoint of a 100M-parameter model was refused as "busy").
func TestBlobLargerThanPeerMemory(t *testing.T) {
	cfg := BlobConfig(testChain)
	server, client := blobPair(t, 8<<20, cfg)
	model := randomBytes(t, 32<<20+3)
	hash, err := server.store.PutModel(model)
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.GetModel(testCtx(t), server.h.ID(), hash, 0)
	if err != nil {
		t.Fatalf("a 32 MiB model with 8 MiB of peer memory: %v", err)
	}
	if !bytes.Equal(got, model) {
		t.Fatal("model bytes differ")
	}
	// The caller's cap still holds.
	if _, err := client.GetModel(testCtx(t), server.h.ID(), hash, 1<<20); !errors.Is(err, ErrLyingPeer) {
		t.Fatalf("a model over the caller's 1 MiB cap: %v, expected ErrLyingPeer", err)
	}
}

// TestBlobServesBusy: with every blob-serving slot taken, a request is
// refused as busy (IsBusy, not a lie) and served once a slot frees.
func TestBlobServesBusy(t *testing.T) {
	cfg := BlobConfig(testChain)
	cfg.BlobServes = 1
	server, client := blobPair(t, 256<<20, cfg)
	hash, err := server.store.PutModel([]byte("final model"))
	if err != nil {
		t.Fatal(err)
	}
	if !server.acquireBlob() {
		t.Fatal("no free slot on an idle server")
	}
	_, err = client.GetModel(testCtx(t), server.h.ID(), hash, 0)
	if !IsBusy(err) || errors.Is(err, ErrLyingPeer) || !strings.Contains(err.Error(), "1 checkpoint or model transfers in progress") {
		t.Fatalf("request while the only slot is taken: %v, expected a busy refusal", err)
	}
	server.releaseBlob()
	if b, err := client.GetModel(testCtx(t), server.h.ID(), hash, 0); err != nil || string(b) != "final model" {
		t.Fatalf("after the slot freed: %q, %v", b, err)
	}
	if IsBusy(errors.New("p2p: busy")) || IsBusy(&RemoteError{Status: StatusNotFound}) {
		t.Fatal("IsBusy accepts errors that are not a busy refusal")
	}
}

// stallingModelServer replaces h's model handler with one that announces
// size bytes, sends the first sent of them and then goes silent.
func stallingModelServer(h host.Host, size, sent int) {
	h.SetStreamHandler(ModelProtocol(testChain), func(st network.Stream) {
		r := bufio.NewReader(st)
		if _, err := ReadDelimited(r, MaxRequestSize); err != nil {
			st.Reset()
			return
		}
		WriteDelimited(st, Response{Status: StatusOK, Size: uint64(size)})
		st.Write(make([]byte, sent))
		time.Sleep(5 * time.Second) // silent; the client gives up first
		st.Reset()
	})
}

// TestBlobStallIsNotALie: a peer whose payload stops moving is cut off
// after StreamTimeout without waiting for the caller's context, and is
// not reported as lying (slow or gone is not wrong bytes), while a
// payload that ends early is.
func TestBlobStallIsNotALie(t *testing.T) {
	cfg := BlobConfig(testChain)
	cfg.StreamTimeout = 500 * time.Millisecond
	server, client := blobPair(t, 256<<20, cfg)
	stallingModelServer(server.h, 3*PayloadChunk, PayloadChunk+10)
	start := time.Now()
	_, err := client.GetModel(testCtx(t), server.h.ID(), make([]byte, 32), 0)
	if err == nil || errors.Is(err, ErrLyingPeer) || !strings.Contains(err.Error(), "stalled") {
		t.Fatalf("stalled payload: %v, expected a stall that is not a lie", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("the stall was noticed after %s (stream timeout %s)", el, cfg.StreamTimeout)
	}
	if faults := client.Faults(); len(faults) != 0 {
		t.Fatalf("a stalled peer was reported: %+v", faults)
	}

	// A payload that ends early is a lie.
	server.h.SetStreamHandler(ModelProtocol(testChain), func(st network.Stream) {
		if _, err := ReadDelimited(bufio.NewReader(st), MaxRequestSize); err != nil {
			st.Reset()
			return
		}
		WriteDelimited(st, Response{Status: StatusOK, Size: 100})
		st.Write(make([]byte, 40))
		st.Close()
	})
	if _, err := client.GetModel(testCtx(t), server.h.ID(), make([]byte, 32), 0); !errors.Is(err, ErrLyingPeer) {
		t.Fatalf("payload cut short: %v, expected ErrLyingPeer", err)
	}
}

// TestStoreRecreatedAfterDeletion: a store whose whole directory is
// deleted while the process runs takes the next put (what a storage
// peer's repair does) instead of failing until a restart.
func TestStoreRecreatedAfterDeletion(t *testing.T) {
	dir := t.TempDir() + "/store"
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := st.PutShard(1, 0, []byte("shard")); err != nil {
		t.Fatalf("put after the store's directory was deleted: %v", err)
	}
	if b, err := st.Shard(1, 0); err != nil || string(b) != "shard" {
		t.Fatalf("shard read back: %q, %v", b, err)
	}
}
