package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// holders puts shard i on svcs[1+i] and returns sources for FetchDataset.
func spread(t *testing.T, svcs []*Service, ds uint64, shards [][]byte) Sources {
	t.Helper()
	for i, b := range shards {
		if err := svcs[1+i].store.PutShard(ds, i, b); err != nil {
			t.Fatal(err)
		}
	}
	return func(i int) []peer.ID { return []peer.ID{svcs[1+i].h.ID()} }
}

// TestFetchWithFaults: one client, 14 storage peers each holding one shard
// of a 10+4 dataset; up to m of them down or lying.
func TestFetchWithFaults(t *testing.T) {
	chain := newFakeChain()
	coder := NewCoder()
	data := randomBytes(t, 3<<20+17)
	ds, enc := chain.register(t, coder, data, 10, 4)
	for _, tc := range []struct {
		name        string
		down, liars []int
		ok          bool
	}{
		{"all up", nil, nil, true},
		{"m down", []int{0, 2, 4, 6}, nil, true},
		{"m lying", nil, []int{1, 3, 5, 7}, true},
		{"2 down 2 lying", []int{0, 9}, []int{4, 8}, true},
		{"m+1 down", []int{0, 1, 2, 3, 13}, nil, false},
		{"m down 1 lying", []int{0, 1, 2, 3}, []int{12}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mn, svcs := newMockServices(t, 15, chain, DefaultConfig(testChain))
			sources := spread(t, svcs, ds.Id, enc.Shards)
			for _, i := range tc.down {
				if err := mn.UnlinkPeers(svcs[0].h.ID(), svcs[1+i].h.ID()); err != nil {
					t.Fatal(err)
				}
				mn.DisconnectPeers(svcs[0].h.ID(), svcs[1+i].h.ID())
			}
			for _, i := range tc.liars {
				lie(svcs[1+i].h, ds, enc.Shards)
			}
			out, rep, err := svcs[0].FetchDataset(testCtx(t), coder, ds, sources, FetchOptions{})
			var wantBad []peer.ID
			for _, i := range tc.liars {
				wantBad = append(wantBad, svcs[1+i].h.ID())
			}
			for _, p := range rep.BadPeers() {
				if !slices.Contains(wantBad, p) {
					t.Fatalf("honest peer %s named as bad", p)
				}
			}
			if !tc.ok {
				if !errors.Is(err, ErrNotEnough) || !strings.Contains(err.Error(), "missing shard indices") {
					t.Fatalf("expected ErrNotEnough naming indices, got %v", err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, data) {
				t.Fatal("rebuilt bytes differ")
			}
			if len(rep.BadPeers()) != len(wantBad) {
				t.Fatalf("bad peers %v, expected %v", rep.BadPeers(), wantBad)
			}
			for _, f := range svcs[0].Faults() {
				if !slices.Contains(wantBad, f.Peer) {
					t.Fatalf("fault names honest peer: %v", f)
				}
			}
		})
	}
}

func TestPushVerifiesAgainstChain(t *testing.T) {
	chain := newFakeChain()
	coder := NewCoder()
	ds, enc := chain.register(t, coder, randomBytes(t, 100_000), 4, 2)
	_, svcs := newMockServices(t, 3, chain, DefaultConfig(testChain))
	ctx := testCtx(t)
	place := [][]peer.ID{{svcs[1].h.ID()}, {svcs[2].h.ID()}, {svcs[1].h.ID(), svcs[2].h.ID()}, {svcs[1].h.ID()}, {svcs[2].h.ID()}, {svcs[1].h.ID()}}
	if err := svcs[0].PushShards(ctx, ds.Id, enc.Shards, place, nil); err != nil {
		t.Fatal(err)
	}
	if !svcs[1].store.HasShard(ds.Id, 2) || !svcs[2].store.HasShard(ds.Id, 2) || svcs[2].store.HasShard(ds.Id, 0) {
		t.Fatal("shards not where placed")
	}
	bad := append([]byte(nil), enc.Shards[3]...)
	bad[0] ^= 1
	err := svcs[0].PutShard(ctx, svcs[2].h.ID(), ds.Id, 3, bad)
	var re *RemoteError
	if !errors.As(err, &re) || re.Status != StatusRejected {
		t.Fatalf("corrupt push: %v", err)
	}
	if svcs[2].store.HasShard(ds.Id, 3) {
		t.Fatal("corrupt shard stored")
	}
	if f := svcs[2].Faults(); len(f) != 1 || f[0].Peer != svcs[0].h.ID() {
		t.Fatalf("pusher not reported: %v", f)
	}
	// Wrong size: the stream is reset.
	if err := svcs[0].PutShard(ctx, svcs[2].h.ID(), ds.Id, 3, bad[:10]); err == nil {
		t.Fatal("short push accepted")
	}
	// Unknown dataset.
	err = svcs[0].PutShard(ctx, svcs[2].h.ID(), 99, 0, bad)
	if !errors.As(err, &re) || re.Status != StatusNotFound {
		t.Fatalf("unknown dataset: %v", err)
	}
}

func TestModel(t *testing.T) {
	_, svcs := newMockServices(t, 3, nil, DefaultConfig(testChain))
	ctx := testCtx(t)
	model := randomBytes(t, 50_000)
	mh, _ := svcs[1].store.PutModel(model)
	got, from, err := svcs[0].FetchModel(ctx, []peer.ID{svcs[2].h.ID(), svcs[1].h.ID()}, mh, 0)
	if err != nil || !bytes.Equal(got, model) || from != svcs[1].h.ID() {
		t.Fatalf("model: %v from %s", err, from)
	}
	if _, err := svcs[0].GetModel(ctx, svcs[1].h.ID(), mh, 1000); !errors.Is(err, ErrLyingPeer) {
		t.Fatalf("model over the caller's cap: %v", err)
	}
	// A peer that answers with other bytes is caught and named.
	svcs[2].h.SetStreamHandler(ModelProtocol(testChain), func(st network.Stream) {
		r := bufio.NewReader(st)
		if _, err := ReadDelimited(r, MaxRequestSize); err != nil {
			st.Reset()
			return
		}
		WriteDelimited(st, Response{Status: StatusOK, Size: 4})
		st.Write([]byte("fake"))
		st.Close()
	})
	_, err = svcs[0].GetModel(ctx, svcs[2].h.ID(), mh, 0)
	var me *MismatchError
	if !errors.Is(err, ErrLyingPeer) || !errors.Is(err, ErrMismatch) || !errors.As(err, &me) || me.Peer != svcs[2].h.ID() {
		t.Fatalf("lying model peer: %v", err)
	}
	if fake := sha256.Sum256([]byte("fake")); len(me.Diffs) != 1 || !bytes.Equal(me.Diffs[0].Got, fake[:]) || !bytes.Equal(me.Diffs[0].Want, mh) {
		t.Fatalf("diffs %+v", me.Diffs)
	}
	if f := svcs[0].Faults(); len(f) == 0 || f[len(f)-1].Peer != svcs[2].h.ID() {
		t.Fatalf("liar not recorded: %v", f)
	}
	sum := sha256.Sum256([]byte("absent"))
	if _, _, err := svcs[0].FetchModel(ctx, []peer.ID{svcs[1].h.ID()}, sum[:], 0); !errors.Is(err, ErrRemote) {
		t.Fatalf("absent model: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	cfg := DefaultConfig(testChain)
	cfg.RequestsPerSecond, cfg.Burst = 1, 3
	_, svcs := newMockServices(t, 2, nil, cfg)
	ctx := testCtx(t)
	mh, _ := svcs[1].store.PutModel([]byte("model"))
	limited := 0
	for i := 0; i < 6; i++ {
		_, err := svcs[0].GetModel(ctx, svcs[1].h.ID(), mh, 0)
		var re *RemoteError
		if errors.As(err, &re) && re.Status == StatusRateLimited {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited < 2 {
		t.Fatalf("only %d of 6 rapid requests limited with burst 3", limited)
	}
}

// TestHostileStreams sends malformed, oversized and endless requests: each
// stream is reset, the server keeps serving and its memory stays bounded.
func TestHostileStreams(t *testing.T) {
	chain := newFakeChain()
	coder := NewCoder()
	ds, enc := chain.register(t, coder, randomBytes(t, 200_000), 4, 2)
	cfg := DefaultConfig(testChain)
	cfg.StreamTimeout = 300 * time.Millisecond
	cfg.RequestsPerSecond, cfg.Burst = 1e6, 1e6
	_, svcs := newMockServices(t, 2, chain, cfg)
	if err := svcs[1].store.PutShard(ds.Id, 0, enc.Shards[0]); err != nil {
		t.Fatal(err)
	}
	client, server := svcs[0].h, svcs[1].h.ID()
	ctx := testCtx(t)

	// expectReset writes b (and then keeps the stream open unless closeWrite)
	// and checks the server resets the stream without answering.
	expectReset := func(name string, b []byte, closeWrite bool) {
		t.Helper()
		st, err := client.NewStream(ctx, server, ShardProtocol(testChain))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Reset()
		st.Write(b)
		if closeWrite {
			st.CloseWrite()
		}
		done := make(chan error, 1)
		go func() {
			_, err := bufio.NewReader(st).ReadByte()
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("%s: server answered instead of resetting", name)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: stream not reset", name)
		}
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	var peak uint64
	for i := 0; i < 10; i++ {
		expectReset("oversized length", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, true)
		expectReset("garbage", []byte{0x04, 0xff, 0xff, 0xff, 0xff}, true)
		expectReset("put claiming 1 GiB", append([]byte{0x0b}, ShardRequest{DatasetID: ds.Id, Op: OpPut, Size: 1 << 30}.Marshal()...), false)
		if i%5 == 0 {
			expectReset("endless request", []byte{0x80}, false)
			// A put of the right size that never sends its bytes.
			req := ShardRequest{DatasetID: ds.Id, Op: OpPut, Size: enc.Erasure.ShardSize}
			var buf bytes.Buffer
			WriteDelimited(&buf, req)
			expectReset("stalled put", buf.Bytes(), false)
		}
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("heap before %d KiB, peak %d KiB, after %d KiB", before>>10, peak>>10, ms.HeapAlloc>>10)
	if peak > before+64<<20 {
		t.Fatalf("heap grew by %d MiB under hostile streams", (peak-before)>>20)
	}
	// Still serving.
	if _, err := svcs[0].GetShard(ctx, server, ds, 0); err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
}

// TestHandlerPanicRecovered: a panicking handler resets its stream and the
// host keeps serving.
func TestHandlerPanicRecovered(t *testing.T) {
	_, svcs := newMockServices(t, 2, nil, DefaultConfig(testChain))
	const proto = "/pouw/pouw-test/panic/1.0.0"
	svcs[1].h.SetStreamHandler(proto, svcs[1].wrap("panic", func(context.Context, network.Stream, *bufio.Reader) error {
		panic("boom")
	}))
	ctx := testCtx(t)
	// The reset may already show while the protocol is negotiated.
	if st, err := svcs[0].h.NewStream(ctx, svcs[1].h.ID(), proto); err == nil {
		st.Write([]byte{1})
		if _, err := bufio.NewReader(st).ReadByte(); err == nil {
			t.Fatal("expected a reset stream")
		}
	} else if !strings.Contains(err.Error(), "reset") {
		t.Fatal(err)
	}
	mh, _ := svcs[1].store.PutModel([]byte("still serving"))
	if _, err := svcs[0].GetModel(ctx, svcs[1].h.ID(), mh, 0); err != nil {
		t.Fatalf("host stopped serving after a panic: %v", err)
	}
}
