package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Fuzz targets at p2p's trust boundaries beyond the wire decoders
// (fuzz_test.go): shards and erasure records as peers and the chain hand
// them to the Reed-Solomon decoder, the bytes a peer answers a request
// with, and the bytes a peer sends a serving host. Their committed seeds
// are in testdata/fuzz/<target>/; regenerate them with
// POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteP2PFuzzSeeds ./p2p

// fuzzByte returns b[i], or 0 outside b.
func fuzzByte(b []byte, i int) byte {
	if i >= 0 && i < len(b) {
		return b[i]
	}
	return 0
}

// rebuildInput is FuzzRebuild's input: k, m, one operation per shard, then
// the dataset bytes.
func rebuildInput(k, m byte, ops []byte, data []byte) []byte {
	return append(append([]byte{k, m, byte(len(ops))}, ops...), data...)
}

// FuzzRebuild: a dataset encoded by Encode, its shards then dropped,
// flipped, cut, grown or swapped as the input says (what peers may send).
// Rebuild must return exactly the original bytes when at least k shards
// are intact, report every altered shard in bad (in order), and otherwise
// fail with ErrNotEnough naming the missing indices; never a panic, never
// other bytes. ReconstructShard must rebuild a dropped shard exactly.
func FuzzRebuild(f *testing.F) {
	for _, s := range p2pFuzzSeeds()["FuzzRebuild"] {
		f.Add(s)
	}
	coder := NewCoder()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 3 {
			return
		}
		k, m := 1+int(in[0]%8), 1+int(in[1]%4)
		nops := min(int(in[2]), len(in)-3)
		ops, data := in[3:3+nops], in[3+nops:]
		if len(data) == 0 || len(data) > 4096 {
			return
		}
		var enc *Encoded
		var err error
		for ; k >= 1; k-- { // the chain wants every data shard to carry data
			if enc, err = coder.Encode(data, k, m); err == nil {
				break
			}
			if !errors.Is(err, ErrErasureShape) {
				t.Fatalf("encode %d bytes %d+%d: %v", len(data), k, m, err)
			}
		}
		if enc == nil {
			t.Fatalf("no k encodes %d bytes: %v", len(data), err)
		}
		want := sha256.Sum256(data)
		n := k + m
		shards := make([][]byte, n)
		intact := 0
		var altered []int
		for i := range shards {
			orig := enc.Shards[i]
			op := fuzzByte(ops, 2*i)
			arg := int(fuzzByte(ops, 2*i+1))
			s := append([]byte(nil), orig...)
			switch op % 6 {
			case 1:
				s = nil
			case 2:
				s[arg%len(s)] ^= 1 << (arg % 8)
			case 3:
				s = s[:len(s)-1]
			case 4:
				s = append(s, byte(arg))
			case 5:
				s = append([]byte(nil), enc.Shards[arg%n]...)
			}
			shards[i] = s
			switch {
			case s == nil:
			case bytes.Equal(s, orig):
				intact++
			default:
				altered = append(altered, i)
			}
		}
		saved := make([][]byte, n)
		copy(saved, shards)
		out, bad, err := coder.Rebuild(&enc.Erasure, shards, want[:])
		if fmt.Sprint(bad) != fmt.Sprint(altered) {
			t.Fatalf("bad shards reported %v, altered %v", bad, altered)
		}
		if intact >= k {
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("%d of %d shards intact (k=%d): err %v, %d bytes (equal %v)", intact, n, k, err, len(out), bytes.Equal(out, data))
			}
		} else {
			if !errors.Is(err, ErrNotEnough) || !strings.Contains(err.Error(), "missing shard indices") || out != nil {
				t.Fatalf("%d of %d shards intact (k=%d): err %v, %d bytes; expected ErrNotEnough naming the missing shards", intact, n, k, err, len(out))
			}
		}
		// Rebuilding one shard nobody holds any more.
		if intact >= k {
			for i := range saved {
				if saved[i] == nil {
					got, err := coder.ReconstructShard(&enc.Erasure, append([][]byte(nil), saved...), i)
					if err != nil || !bytes.Equal(got, enc.Shards[i]) {
						t.Fatalf("reconstruct shard %d: %v (equal %v)", i, err, bytes.Equal(got, enc.Shards[i]))
					}
					break
				}
			}
		}
	})
}

// decodeRecord reads an arbitrary erasure record and shards from in: k, m,
// the shard size and the original size's offset, then per shard a length
// byte and that many bytes, and a flag byte choosing, per shard, whether
// its hash is the SHA-256 of its bytes (a peer's shard the record
// vouches for) or arbitrary bytes.
func decodeRecord(in []byte) (e types.ErasureCode, shards [][]byte, want []byte) {
	k, m := 1+int(fuzzByte(in, 0)%6), 1+int(fuzzByte(in, 1)%4)
	size := 1 + uint64(fuzzByte(in, 2)%48)
	e = types.ErasureCode{DataShards: uint32(k), ParityShards: uint32(m), ShardSize: size,
		OriginalSize: uint64(k-1)*size + 1 + uint64(fuzzByte(in, 3))%size}
	if fuzzByte(in, 4)&1 != 0 { // sizes the chain would refuse
		e.OriginalSize = uint64(binary.LittleEndian.Uint16(append(in[min(5, len(in)):], 0, 0)))
	}
	flags := fuzzByte(in, 5)
	rest := in[min(6, len(in)):]
	var concat []byte
	for i := 0; i < k+m; i++ {
		var s []byte
		if len(rest) > 0 {
			l := int(rest[0])
			rest = rest[1:]
			if l != 255 { // 255: missing
				l = min(l, len(rest))
				s, rest = append([]byte{}, rest[:l]...), rest[l:]
			}
		}
		shards = append(shards, s)
		h := sha256.Sum256(s)
		if flags>>(i%8)&1 != 0 {
			h = sha256.Sum256(append([]byte("other"), s...))
		}
		e.ShardHashes = append(e.ShardHashes, h[:])
		if i < k {
			concat = append(concat, s...)
		}
	}
	e.MerkleRoot = types.MerkleRoot(e.ShardHashes)
	// The trusted dataset hash: of the data shards as given, cut to the
	// original size (what an honest record over these shards would name),
	// or of the remaining input.
	if uint64(len(concat)) >= e.OriginalSize && len(rest)%2 == 0 {
		w := sha256.Sum256(concat[:e.OriginalSize])
		want = w[:]
	} else {
		w := sha256.Sum256(rest)
		want = w[:]
	}
	return e, shards, want
}

// FuzzRebuildRecord: arbitrary shards under an arbitrary erasure record
// (sizes the chain would refuse, hashes that vouch for shards that are not
// a Reed-Solomon codeword, shards of the wrong length). Rebuild and
// ReconstructShard never panic; whatever Rebuild returns hashes to the
// trusted dataset hash and has the record's original size, and a missing
// or short dataset hash is refused rather than the bytes returned
// unchecked.
func FuzzRebuildRecord(f *testing.F) {
	for _, s := range p2pFuzzSeeds()["FuzzRebuildRecord"] {
		f.Add(s)
	}
	coder := NewCoder()
	f.Fuzz(func(t *testing.T, in []byte) {
		e, shards, want := decodeRecord(in)
		n := len(shards)
		cp := func() [][]byte { return append([][]byte(nil), shards...) }
		out, _, err := coder.Rebuild(&e, cp(), want)
		if err == nil {
			if h := sha256.Sum256(out); !bytes.Equal(h[:], want) || uint64(len(out)) != e.OriginalSize {
				t.Fatalf("rebuilt %d bytes (sha256 %x), trusted hash %x, original size %d", len(out), h[:], want, e.OriginalSize)
			}
		} else if !errors.Is(err, ErrErasureShape) && !errors.Is(err, ErrNotEnough) && !errors.Is(err, ErrDatasetHash) &&
			!strings.Contains(err.Error(), "reed-solomon") {
			t.Fatalf("unexpected error kind: %v", err)
		}
		for _, w := range [][]byte{nil, want[:16]} {
			if out, _, err := coder.Rebuild(&e, cp(), w); err == nil {
				t.Fatalf("rebuilt %d bytes against a %d-byte dataset hash", len(out), len(w))
			}
		}
		idx := int(fuzzByte(in, len(in)-1)) % (n + 2)
		if got, err := coder.ReconstructShard(&e, cp(), idx-1); err == nil {
			if VerifyShard(&e, idx-1, got) != nil {
				t.Fatalf("reconstructed shard %d does not match its hash", idx-1)
			}
		}
	})
}

// fuzzReplyHandler answers every request on proto with the bytes *reply
// holds, then closes the stream (a peer answering anything it likes).
func fuzzReplyHandler(svc *Service, proto protocol.ID, reply *atomic.Pointer[[]byte]) {
	svc.h.SetStreamHandler(proto, func(st network.Stream) {
		if _, err := ReadDelimited(bufio.NewReader(st), MaxRequestSize); err != nil {
			st.Reset()
			return
		}
		st.Write(*reply.Load())
		st.Close()
	})
}

// replyFixture is a client, a peer whose answers the fuzzer writes, and
// what the client asks it for: a shard of a small dataset, a model, a
// checkpoint.
type replyFixture struct {
	client, peer *Service
	ds           *types.Dataset
	shard        []byte
	model        []byte
	modelHash    []byte
	key          CkptKey
	ckpt         []byte
	reply        atomic.Pointer[[]byte]
}

var (
	modelFixtureOnce sync.Once
	modelFixture     struct {
		b  []byte
		wh ml.Hash
		oh ml.Hash
	}
)

// smallCheckpoint is a model-only checkpoint of a 4-3-2 MLP and its hashes.
func smallCheckpoint(tb testing.TB) ([]byte, ml.Hash, ml.Hash) {
	modelFixtureOnce.Do(func() {
		m, err := ml.NewModel("mlp:4-3-2", 1)
		if err != nil {
			tb.Fatal(err)
		}
		var buf bytes.Buffer
		if err := ml.SaveModel(&buf, m); err != nil {
			tb.Fatal(err)
		}
		ck, err := ml.ParseCheckpoint(buf.Bytes())
		if err != nil {
			tb.Fatal(err)
		}
		modelFixture.b, modelFixture.wh, modelFixture.oh = buf.Bytes(), ck.WeightsHash, ck.OptimizerHash
	})
	return modelFixture.b, modelFixture.wh, modelFixture.oh
}

func newReplyFixture(tb testing.TB) *replyFixture {
	chain := newFakeChain()
	coder := NewCoder()
	data := make([]byte, 40)
	for i := range data {
		data[i] = byte(i * 7)
	}
	ds, enc := chain.register(tb, coder, data, 4, 2)
	cfg := DefaultConfig(testChain)
	cfg.StreamTimeout = 2 * time.Second
	cfg.RequestsPerSecond, cfg.Burst = 1e9, 1<<30
	_, svcs := newMockServices(tb, 2, chain, cfg)
	fx := &replyFixture{client: svcs[0], peer: svcs[1], ds: ds, shard: enc.Shards[1], model: []byte("final model bytes")}
	h := sha256.Sum256(fx.model)
	fx.modelHash = h[:]
	var wh, oh ml.Hash
	fx.ckpt, wh, oh = smallCheckpoint(tb)
	fx.key = CkptKey{TaskID: 1, JobIndex: 2, WeightsHash: wh, OptimizerHash: oh}
	empty := []byte{}
	fx.reply.Store(&empty)
	for _, p := range []protocol.ID{ShardProtocol(testChain), ModelProtocol(testChain), CkptProtocol(testChain)} {
		fuzzReplyHandler(fx.peer, p, &fx.reply)
	}
	return fx
}

// okReply is a well-formed answer carrying payload.
func okReply(payload []byte) []byte {
	var buf bytes.Buffer
	WriteDelimited(&buf, Response{Status: StatusOK, Size: uint64(len(payload))})
	return append(buf.Bytes(), payload...)
}

// FuzzReply: whatever a peer answers a shard, model or checkpoint request
// with (input byte 0 chooses which; the rest is the answer), the client
// never panics and its outcome is the one the protocol prescribes: a reply
// header that does not parse, a payload over the cap, cut short or
// followed by more bytes is ErrLyingPeer; a refusal is a *RemoteError
// with the peer's status and message; a complete payload is returned only
// when it matches its trusted hash (else ErrLyingPeer or a *MismatchError).
func FuzzReply(f *testing.F) {
	for _, s := range p2pFuzzSeeds()["FuzzReply"] {
		f.Add(s)
	}
	fx := newReplyFixture(f)
	f.Fuzz(fx.check)
}

// check runs one FuzzReply input.
func (fx *replyFixture) check(t *testing.T, in []byte) {
	if len(in) == 0 {
		return
	}
	which, reply := in[0]%3, append([]byte(nil), in[1:]...)
	fx.reply.Store(&reply)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	peerID := fx.peer.h.ID()
	var got []byte
	var err error
	var max uint64
	switch which {
	case 0:
		max = fx.ds.Erasure.ShardSize
		got, err = fx.client.GetShard(ctx, peerID, fx.ds, 1)
	case 1:
		max = fx.client.cfg.MaxBlobSize
		got, err = fx.client.GetModel(ctx, peerID, fx.modelHash, 0)
	case 2:
		max = fx.client.cfg.MaxBlobSize
		var fc *FetchedCheckpoint
		if fc, err = fx.client.GetCheckpoint(ctx, peerID, fx.key, 0, verifyCkpt); err == nil {
			got = fc.Bytes
		}
	}
	// The oracle: parse the reply as the protocol defines it.
	r := bufio.NewReader(bytes.NewReader(reply))
	raw, herr := ReadDelimited(r, MaxResponseHeaderSize)
	var resp Response
	var rest []byte
	if herr == nil {
		herr = resp.Unmarshal(raw)
		rest, _ = io.ReadAll(r)
	}
	lying := errors.Is(err, ErrLyingPeer)
	switch {
	case herr != nil && len(reply) == 0:
		if err == nil {
			t.Fatal("an empty reply was accepted")
		}
	case herr != nil:
		if err == nil || (!lying && !errors.Is(herr, io.ErrUnexpectedEOF)) {
			t.Fatalf("reply header %v: client error %v, expected ErrLyingPeer", herr, err)
		}
	case resp.Status != StatusOK:
		var re *RemoteError
		if !errors.As(err, &re) || re.Status != resp.Status || re.Message != resp.Message || lying {
			t.Fatalf("refusal %+v: client error %v, expected a *RemoteError with its status and message", resp, err)
		}
	case resp.Size > max || uint64(len(rest)) != resp.Size:
		if !lying {
			t.Fatalf("header says %d bytes (cap %d), %d follow: client error %v, expected ErrLyingPeer", resp.Size, max, len(rest), err)
		}
	default:
		want := [][]byte{fx.shard, fx.model, fx.ckpt}[which]
		if which == 2 {
			// Any checkpoint with the committed hashes is the one asked for.
			if _, verr := verifyCkpt(fx.key, rest); verr == nil {
				want = rest
			}
		}
		if bytes.Equal(rest, want) {
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("the right payload: %v", err)
			}
		} else if err == nil || !lying {
			t.Fatalf("a wrong payload of %d bytes: client error %v, expected ErrLyingPeer", len(rest), err)
		}
	}
	if err == nil && got == nil {
		t.Fatal("no error and no payload")
	}
}

// panicCatcher is a slog handler that records "handler panic" logs (Service.wrap recovers them).
type panicCatcher struct {
	mu     sync.Mutex
	panics []string
}

func (p *panicCatcher) Enabled(context.Context, slog.Level) bool { return true }
func (p *panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "handler panic" {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, "%s=%v ", a.Key, a.Value); return true })
		p.mu.Lock()
		p.panics = append(p.panics, b.String())
		p.mu.Unlock()
	}
	return nil
}
func (p *panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicCatcher) WithGroup(string) slog.Handler      { return p }

// FuzzServe: whatever bytes a remote peer sends on the shard, checkpoint
// or model protocol (input byte 0 chooses which; the rest is the stream),
// the serving host never panics (its handlers' recovery would hide it:
// the logger catches it), answers with a well-formed response header or
// resets the stream, sends exactly the payload its header announces and
// only what it holds, and keeps serving.
func FuzzServe(f *testing.F) {
	for _, s := range p2pFuzzSeeds()["FuzzServe"] {
		f.Add(s)
	}
	chain := newFakeChain()
	coder := NewCoder()
	data := make([]byte, 40)
	for i := range data {
		data[i] = byte(i * 5)
	}
	ds, enc := chain.register(f, coder, data, 4, 2)
	catcher := &panicCatcher{}
	cfg := DefaultConfig(testChain)
	cfg.StreamTimeout = 2 * time.Second
	cfg.RequestsPerSecond, cfg.Burst = 1e9, 1<<30
	cfg.Logger = slog.New(catcher)
	_, svcs := newMockServices(f, 2, chain, cfg)
	client, server := svcs[0], svcs[1]
	if err := server.store.PutShard(ds.Id, 0, enc.Shards[0]); err != nil {
		f.Fatal(err)
	}
	model := []byte("served model")
	if _, err := server.store.PutModel(model); err != nil {
		f.Fatal(err)
	}
	ckpt, wh, oh := smallCheckpoint(f)
	key := CkptKey{TaskID: 1, JobIndex: 2, WeightsHash: wh, OptimizerHash: oh}
	if err := server.store.PutCheckpoint(key, ckpt, verifyCkpt); err != nil {
		f.Fatal(err)
	}
	protos := []protocol.ID{ShardProtocol(testChain), CkptProtocol(testChain), ModelProtocol(testChain)}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := client.h.NewStream(ctx, server.h.ID(), protos[int(in[0])%len(protos)])
		if err != nil {
			t.Fatal(err)
		}
		defer st.Reset()
		_ = st.SetDeadline(time.Now().Add(5 * time.Second))
		st.Write(in[1:])
		st.CloseWrite()
		reply, _ := io.ReadAll(st) // a reset ends it early
		catcher.mu.Lock()
		panics := catcher.panics
		catcher.mu.Unlock()
		if len(panics) > 0 {
			t.Fatalf("handler panicked: %v", panics)
		}
		if len(reply) > 0 {
			r := bufio.NewReader(bytes.NewReader(reply))
			raw, err := ReadDelimited(r, MaxResponseHeaderSize)
			var resp Response
			if err == nil {
				err = resp.Unmarshal(raw)
			}
			if err != nil {
				t.Fatalf("reply of %d bytes has no well-formed header: %v", len(reply), err)
			}
			rest, _ := io.ReadAll(r)
			if resp.Status == StatusOK && len(rest) > 0 {
				if uint64(len(rest)) != resp.Size {
					t.Fatalf("header announces %d bytes, %d sent", resp.Size, len(rest))
				}
				if !bytes.Equal(rest, enc.Shards[0]) && !bytes.Equal(rest, model) && !bytes.Equal(rest, ckpt) {
					t.Fatalf("served %d bytes it does not hold", len(rest))
				}
			} else if len(rest) > 0 {
				t.Fatalf("%d bytes after a %s header", len(rest), resp.Status)
			}
		}
	})
	// Still serving.
	if _, err := client.GetShard(context.Background(), server.h.ID(), ds, 0); err != nil {
		f.Fatalf("the server stopped serving: %v", err)
	}
}

// p2pFuzzSeeds are the seeds of this file's targets and of
// FuzzVerifyCheckpoint, shared by f.Add and the committed corpus.
func p2pFuzzSeeds() map[string][][]byte {
	data := []byte("forty bytes of a dataset, cut in shards!")
	var shardReq, ckptReq, modelReq, put bytes.Buffer
	WriteDelimited(&shardReq, ShardRequest{DatasetID: 1, Index: 0})
	h := sha256.Sum256([]byte("served model"))
	WriteDelimited(&modelReq, ModelRequest{Hash: h[:]})
	WriteDelimited(&ckptReq, CkptRequest{TaskID: 1, JobIndex: 2, WeightsHash: bytes.Repeat([]byte{1}, 32), OptimizerHash: bytes.Repeat([]byte{2}, 32)})
	WriteDelimited(&put, ShardRequest{DatasetID: 1, Index: 2, Op: OpPut, Size: 10})
	refusal := func(s Status, msg string) []byte {
		var b bytes.Buffer
		WriteDelimited(&b, Response{Status: s, Message: msg})
		return b.Bytes()
	}
	shard1 := func() []byte {
		enc, _ := NewCoder().Encode(func() []byte {
			d := make([]byte, 40)
			for i := range d {
				d[i] = byte(i * 7)
			}
			return d
		}(), 4, 2)
		return enc.Shards[1]
	}()
	return map[string][][]byte{
		"FuzzRebuild": {
			rebuildInput(3, 1, nil, data),                                  // 4+2, all intact
			rebuildInput(3, 1, []byte{1, 0, 2, 5, 0, 0, 1, 0}, data),       // one dropped, one flipped, one dropped
			rebuildInput(9, 3, []byte{3, 0, 4, 9, 5, 2, 1, 0, 1, 0}, data), // cut, grown, swapped, dropped
			rebuildInput(0, 0, []byte{1, 0}, []byte{42}),                   // 1+1, the data shard dropped
		},
		"FuzzRebuildRecord": {
			append([]byte{3, 1, 9, 4, 0, 0}, bytes.Repeat([]byte{10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 6)...),
			append([]byte{1, 0, 3, 0, 0, 0x02}, []byte{4, 1, 2, 3, 4, 255, 4, 9, 9, 9, 9}...),
			{0, 0, 0, 0, 1, 0xff, 0xff, 1, 0, 1, 0},
		},
		"FuzzReply": {
			append([]byte{0}, okReply(shard1)...),
			append([]byte{1}, okReply([]byte("final model bytes"))...),
			append([]byte{2}, okReply(nil)...),
			append([]byte{0}, refusal(StatusNotFound, "dataset 1 shard 1 not held")...),
			append([]byte{1}, refusal(StatusRateLimited, "busy")...),
			append([]byte{0}, append(okReply(shard1), 0)...),
			append([]byte{1}, okReply([]byte("final model bytes"))[:8]...),
			{2, 0xff, 0xff, 0xff, 0xff, 0x0f},
		},
		"FuzzServe": {
			append([]byte{0}, shardReq.Bytes()...),
			append([]byte{1}, ckptReq.Bytes()...),
			append([]byte{2}, modelReq.Bytes()...),
			append([]byte{0}, append(put.Bytes(), bytes.Repeat([]byte{7}, 10)...)...),
			{0, 0x05, 0x08, 0x01, 0x10, 0x63},
			{1, 0x80},
		},
	}
}

// verifyCheckpointSeeds are FuzzVerifyCheckpoint's committed seeds (its
// f.Add seeds are built in fuzz_test.go from the same model).
func verifyCheckpointSeeds(tb testing.TB) [][]byte {
	m, err := ml.NewModel("mlp:4-3-2", 1)
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ml.SaveModel(&buf, m); err != nil {
		tb.Fatal(err)
	}
	good := buf.Bytes()
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 1
	return [][]byte{good, flipped, good[:len(good)-32], []byte("POUWCKPT\x02\x00\x00\x00\x02\x00\x00\x00{}")}
}

func TestWriteP2PFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	seeds := p2pFuzzSeeds()
	seeds["FuzzVerifyCheckpoint"] = verifyCheckpointSeeds(t)
	for name, ss := range seeds {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range ss {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRebuildNeedsTheDatasetHash: Rebuild used to skip the final check
// when no dataset hash was given and return whatever the shards decoded
// to; bytes are never returned unchecked now (FuzzRebuildRecord).
func TestRebuildNeedsTheDatasetHash(t *testing.T) {
	c := NewCoder()
	data := []byte("forty bytes of a dataset, cut in shards!")
	enc, err := c.Encode(data, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]byte{nil, {}, make([]byte, 31)} {
		if out, _, err := c.Rebuild(&enc.Erasure, append([][]byte(nil), enc.Shards...), want); !errors.Is(err, ErrDatasetHash) || out != nil {
			t.Fatalf("a %d-byte dataset hash: %d bytes, %v; expected ErrDatasetHash", len(want), len(out), err)
		}
	}
}

// TestReconstructShardIndexOutOfRange: an index outside the shard slots
// (or slots of the wrong count) is an error, not a panic
// (FuzzRebuildRecord).
func TestReconstructShardIndexOutOfRange(t *testing.T) {
	c := NewCoder()
	enc, err := c.Encode([]byte("forty bytes of a dataset, cut in shards!"), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		slots, index int
	}{{6, -1}, {6, 6}, {5, 4}, {7, 0}} {
		shards := make([][]byte, tc.slots)
		copy(shards, enc.Shards)
		if _, err := c.ReconstructShard(&enc.Erasure, shards, tc.index); !errors.Is(err, ErrErasureShape) {
			t.Fatalf("shard %d of %d slots: %v, expected ErrErasureShape", tc.index, tc.slots, err)
		}
	}
	got, err := c.ReconstructShard(&enc.Erasure, append([][]byte{nil}, enc.Shards[1:]...), 0)
	if err != nil || !bytes.Equal(got, enc.Shards[0]) {
		t.Fatalf("shard 0 from the others: %v", err)
	}
}
