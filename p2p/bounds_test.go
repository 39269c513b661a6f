package p2p

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// The bounds every protocol reader keeps against a remote peer
// (docs/RELIABILITY.md, "p2p bounds"). Requests and reply headers are
// capped before a byte is buffered (wire_test.go, FuzzReadDelimited),
// hostile request streams are reset (TestHostileStreams); these tests
// cover payloads announced larger than they arrive, many streams and
// many puts from one peer, and the fault record.

// stallReader yields n bytes, then blocks until released, then fails.
type stallReader struct {
	n       int
	release chan struct{}
}

func (r *stallReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		<-r.release
		return 0, errors.New("stalled")
	}
	k := min(len(b), r.n)
	r.n -= k
	return k, nil
}

// deadlineStream is the part of a network.Stream readChunked uses.
type deadlineStream struct{ network.Stream }

func (deadlineStream) SetReadDeadline(time.Time) error { return nil }

// TestReadChunkedAllocatesWhatArrives: a payload announced at the largest
// blob size (4 GiB) of which 10 MiB arrive costs the receiver about what
// arrived (the buffer doubles from one chunk as bytes come: 4, 8 and
// 16 MiB here), not the announced size; a payload that arrives whole ends
// in a buffer of exactly its size.
func TestReadChunkedAllocatesWhatArrives(t *testing.T) {
	const whole = 9<<20 + 3
	closed := make(chan struct{})
	close(closed)
	b, err := readChunked(deadlineStream{}, &stallReader{n: whole, release: closed}, whole, time.Second, func() {})
	if err != nil || len(b) != whole || cap(b) != whole {
		t.Fatalf("a whole payload of %d bytes: %d bytes in a buffer of %d (%v)", whole, len(b), cap(b), err)
	}
	const sent = 10 << 20
	r := &stallReader{n: sent, release: make(chan struct{})}
	close(r.release) // fail at once once the bytes are read
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err = readChunked(deadlineStream{}, r, DefaultConfig(testChain).MaxBlobSize, time.Second, func() {})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a payload cut short was accepted")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("announced 4 GiB, %d MiB arrived: %d MiB allocated", sent>>20, alloc>>20)
	if alloc > 3*sent+PayloadChunk {
		t.Fatalf("%d MiB allocated for %d MiB received of an announced 4 GiB", alloc>>20, sent>>20)
	}
}

// realService is a Service on a real libp2p host (TCP on 127.0.0.1, the
// resource manager of HostConfig with peerMemory per peer).
func realService(t *testing.T, peerMemory int64, cfg Config, chain DatasetSource) *Service {
	t.Helper()
	hc := DefaultHostConfig(t.TempDir())
	hc.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	hc.ServicePeerMemory = peerMemory
	h, err := NewHost(hc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(h, cfg, st, chain)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Stop(context.Background()) })
	return svc
}

// heapPeak samples the heap until stop is called and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak }
}

// TestAnnouncedBlobStallsBounded: a peer answering a model request with a
// header announcing 4 GiB, sending 5 MiB and going silent, costs the
// receiver a few chunks of memory (not the announced size), and is cut
// off after StreamTimeout as stalled, not lying.
func TestAnnouncedBlobStallsBounded(t *testing.T) {
	cfg := BlobConfig(testChain)
	cfg.StreamTimeout = time.Second
	server := realService(t, 256<<20, cfg, nil)
	client := realService(t, 256<<20, cfg, nil)
	client.h.Peerstore().AddAddrs(server.h.ID(), server.h.Addrs(), time.Hour)
	stallingModelServer(server.h, int(cfg.MaxBlobSize), PayloadChunk+1<<20)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop := heapPeak()
	_, err := client.GetModel(testCtx(t), server.h.ID(), make([]byte, 32), 0)
	peak := stop()
	if err == nil || errors.Is(err, ErrLyingPeer) {
		t.Fatalf("a stalled 4 GiB payload: %v, expected a stall that is not a lie", err)
	}
	t.Logf("heap %d MiB before, peak %d MiB while 4 GiB were announced and 5 MiB sent", base>>20, peak>>20)
	if peak > base+48<<20 {
		t.Fatalf("heap grew by %d MiB for a payload announced at 4 GiB of which 5 MiB arrived", (peak-base)>>20)
	}
}

// TestStreamsPerPeerBounded: one peer opening many streams that never
// finish their requests holds at most the service's per-peer inbound
// stream limit (HostConfig.Limits: 32) at once; the rest are reset
// without a handler, and once the stalled ones time out the host serves
// again.
func TestStreamsPerPeerBounded(t *testing.T) {
	cfg := BlobConfig(testChain)
	cfg.StreamTimeout = 3 * time.Second
	cfg.RequestsPerSecond, cfg.Burst = 1e6, 1e6
	server := realService(t, 256<<20, cfg, nil)
	client := realService(t, 256<<20, cfg, nil)
	client.h.Peerstore().AddAddrs(server.h.ID(), server.h.Addrs(), time.Hour)
	ctx := testCtx(t)
	const open = 48
	var streams []network.Stream
	reset := make(chan struct{}, open)
	for i := 0; i < open; i++ {
		st, err := client.h.NewStream(ctx, server.h.ID(), CkptProtocol(testChain))
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, st)
		st.Write([]byte{0x80}) // a length prefix that never ends
		go func() {
			if _, err := bufio.NewReader(st).ReadByte(); err != nil {
				reset <- struct{}{}
			}
		}()
	}
	defer func() {
		for _, st := range streams {
			st.Reset()
		}
	}()
	time.Sleep(cfg.StreamTimeout / 3)
	var held int
	err := server.h.Network().ResourceManager().ViewService(ServiceName, func(s network.ServiceScope) error {
		held = s.Stat().NumStreamsInbound
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	refused := len(reset)
	t.Logf("%d streams opened: %d held by the service, %d reset early", open, held, refused)
	if held > 32 || held == 0 {
		t.Fatalf("the service holds %d streams of one peer, expected 1 to 32", held)
	}
	if refused < open-32 {
		t.Fatalf("only %d of %d streams over the limit were reset", refused, open)
	}
	// The stalled ones time out; then the peer is served again.
	time.Sleep(cfg.StreamTimeout)
	for _, st := range streams {
		st.Reset()
	}
	mh, err := server.store.PutModel([]byte("served after the flood"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetModel(ctx, server.h.ID(), mh, 0); err != nil {
		t.Fatalf("not served after the stalled streams ended: %v", err)
	}
}

// TestPutsPerPeerMemoryBounded: shard puts reserve their size in the
// service's per-peer memory scope before allocating it, at medium
// priority (up to 60% of the scope's limit). With 4 MiB per peer and
// 1 MiB shards, a peer stalling two puts gets a third refused as busy
// (StatusRateLimited) before its payload is read or allocated.
func TestPutsPerPeerMemoryBounded(t *testing.T) {
	chain := newFakeChain()
	coder := NewCoder()
	ds, enc := chain.register(t, coder, randomBytes(t, 4<<20-100), 4, 2)
	if ds.Erasure.ShardSize != 1<<20-25 {
		t.Fatalf("shard size %d", ds.Erasure.ShardSize)
	}
	cfg := DefaultConfig(testChain)
	cfg.StreamTimeout = 5 * time.Second
	server := realService(t, 4<<20, cfg, chain)
	client := realService(t, 256<<20, cfg, chain)
	client.h.Peerstore().AddAddrs(server.h.ID(), server.h.Addrs(), time.Hour)
	ctx := testCtx(t)
	stall := func(idx int) network.Stream {
		st, err := client.h.NewStream(ctx, server.h.ID(), ShardProtocol(testChain))
		if err != nil {
			t.Fatal(err)
		}
		WriteDelimited(st, ShardRequest{DatasetID: ds.Id, Index: uint32(idx), Op: OpPut, Size: ds.Erasure.ShardSize})
		st.Write(enc.Shards[idx][:1000]) // then silence
		return st
	}
	a, b := stall(0), stall(1)
	defer a.Reset()
	defer b.Reset()
	time.Sleep(500 * time.Millisecond)
	var reserved int64
	server.h.Network().ResourceManager().ViewService(ServiceName, func(s network.ServiceScope) error {
		reserved = s.Stat().Memory
		return nil
	})
	if reserved < 2*int64(ds.Erasure.ShardSize) {
		t.Fatalf("two stalled puts reserve %d bytes, expected %d", reserved, 2*ds.Erasure.ShardSize)
	}
	// A third put: refused before its payload is read or allocated.
	c := stall(2)
	defer c.Reset()
	raw, err := ReadDelimited(bufio.NewReader(c), MaxResponseHeaderSize)
	var resp Response
	if err == nil {
		err = resp.Unmarshal(raw)
	}
	if err != nil || resp.Status != StatusRateLimited || resp.Message != busyMessage {
		t.Fatalf("a third put over 60%% of the peer's 4 MiB: %+v (%v), expected a busy refusal", resp, err)
	}
	// Once the stalled puts end, their memory is released and a put fits.
	a.Reset()
	b.Reset()
	c.Reset()
	deadline := time.Now().Add(5 * time.Second)
	for reserved > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		server.h.Network().ResourceManager().ViewService(ServiceName, func(s network.ServiceScope) error {
			reserved = s.Stat().Memory
			return nil
		})
	}
	t.Logf("reserved after the stalled puts ended: %d", reserved)
	if err := client.PutShard(ctx, server.h.ID(), ds.Id, 2, enc.Shards[2]); err != nil {
		t.Fatalf("put after the stalled ones ended: %v", err)
	}
	if got, err := server.store.Shard(ds.Id, 2); err != nil || !bytes.Equal(got, enc.Shards[2]) {
		t.Fatalf("stored shard: %v", err)
	}
}

// TestFaultsBounded: the fault record keeps the most recent MaxFaults
// however many bad shards peers push.
func TestFaultsBounded(t *testing.T) {
	_, svcs := newMockServices(t, 1, nil, DefaultConfig(testChain))
	s := svcs[0]
	p := s.h.ID()
	for i := 0; i < 3*MaxFaults+5; i++ {
		s.report(p, fmt.Sprintf("pushed dataset 1 shard %d", i), ErrShardHash)
	}
	fs := s.Faults()
	if len(fs) > MaxFaults || len(fs) < MaxFaults/2 {
		t.Fatalf("%d faults kept, expected at most %d", len(fs), MaxFaults)
	}
	if last := fs[len(fs)-1].What; last != fmt.Sprintf("pushed dataset 1 shard %d", 3*MaxFaults+4) {
		t.Fatalf("the most recent fault is %q", last)
	}
}

// TestPushedBadShardsBoundFaults: a peer pushing more bad shards than
// MaxFaults over the wire leaves the record bounded.
func TestPushedBadShardsBoundFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes over MaxFaults shards")
	}
	chain := newFakeChain()
	ds, enc := chain.register(t, NewCoder(), randomBytes(t, 400), 4, 2)
	cfg := DefaultConfig(testChain)
	cfg.RequestsPerSecond, cfg.Burst = 1e6, 1e6
	_, svcs := newMockServices(t, 2, chain, cfg)
	bad := append([]byte(nil), enc.Shards[0]...)
	bad[0] ^= 1
	ctx := testCtx(t)
	for i := 0; i < MaxFaults+50; i++ {
		err := svcs[0].PutShard(ctx, svcs[1].h.ID(), ds.Id, 0, bad)
		var re *RemoteError
		if !errors.As(err, &re) || re.Status != StatusRejected {
			t.Fatalf("bad push %d: %v", i, err)
		}
	}
	if n := len(svcs[1].Faults()); n > MaxFaults {
		t.Fatalf("%d faults recorded", n)
	}
}
