package workercmd

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/pouw/pouwd/p2p"
)

// syncBuffer is a log sink safe for the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Regression (docs/FAULTS.md, row 6): a miner whose stored checkpoint is
// damaged on disk drops it instead of serving it; the miner's service used
// p2p's discard logger, so its operator never learnt that its disk had
// damaged a checkpoint (and why its proofs were then rejected). The daemon's
// log must say so.
func TestBlobServiceLogsDamagedCheckpoint(t *testing.T) {
	hosts := make([]*p2p.Service, 2)
	var log syncBuffer
	dir := t.TempDir()
	store, err := p2p.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := p2p.CkptKey{TaskID: 1, JobIndex: 2, WeightsHash: [32]byte{1}, OptimizerHash: [32]byte{2}}
	// A checkpoint file whose trailer no longer matches its body.
	path := filepath.Join(dir, "ckpt", "1", "2", hex.EncodeToString(key.WeightsHash[:])+"-"+hex.EncodeToString(key.OptimizerHash[:]))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	damaged := append([]byte("POUWCKPT\x02\x00\x00\x00"), bytes.Repeat([]byte{7}, 100)...)
	if err := os.WriteFile(path, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range hosts {
		hc := p2p.DefaultHostConfig("")
		hc.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		h, err := p2p.NewHost(hc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		var st *p2p.Store
		lg := slog.New(slog.DiscardHandler)
		if i == 0 {
			st, lg = store, slog.New(slog.NewTextHandler(&log, nil))
		}
		if hosts[i], err = blobService(h, "faults-test", st, lg); err != nil {
			t.Fatal(err)
		}
		if st != nil {
			if err := hosts[i].Start(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	miner, verifier := hosts[0].Host(), hosts[1].Host()
	verifier.Peerstore().AddAddrs(miner.ID(), miner.Addrs(), peerstore.TempAddrTTL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := hosts[1].GetCheckpoint(ctx, miner.ID(), key, 0, nil); err == nil {
		t.Fatal("a damaged checkpoint was served")
	}
	if !strings.Contains(log.String(), "stored checkpoint damaged") {
		t.Fatalf("the miner's log does not say its checkpoint was damaged and dropped: %q", log.String())
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the damaged checkpoint is still on disk: %v", err)
	}
}
