package p2p

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// ckptCase is an honest checkpoint of a small model trained with SGD and
// momentum (so the optimizer has state), the commitment key a miner would
// post for it, and dishonest variants.
type ckptCase struct {
	key   CkptKey
	good  []byte
	wh    ml.Hash
	oh    ml.Hash
	other struct {
		weights, optim, corrupt []byte
		weightsHash, optimHash  ml.Hash
	}
}

func newCkptCase(t *testing.T) *ckptCase {
	t.Helper()
	const n = 16
	data := ml.Dataset{N: n, Shape: []int{4}, Classes: 2}
	for i := 0; i < n; i++ {
		data.Y = append(data.Y, i%2)
		for j := 0; j < 4; j++ {
			data.X = append(data.X, float32((i*7+j*3)%11)/11)
		}
	}
	cfg := ml.DefaultTrainConfig()
	cfg.Momentum, cfg.BatchSize, cfg.Steps, cfg.Epochs = 0.9, 4, 10, 0
	m, err := ml.NewModel("mlp:4-3-2", 7)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := tr.Step(nil); err != nil {
			t.Fatal(err)
		}
	}
	save := func() []byte {
		var buf bytes.Buffer
		if err := tr.SaveCheckpoint(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	c := &ckptCase{good: save(), wh: ml.WeightsHash(tr.Model), oh: ml.OptimizerHash(tr.Opt)}
	if len(tr.Opt.State()) == 0 {
		t.Fatal("SGD with momentum has no state: the optimizer cases would test nothing")
	}
	c.key = CkptKey{TaskID: 7, JobIndex: 3, WeightsHash: c.wh, OptimizerHash: c.oh}

	// Right weights, other optimizer state.
	st := tr.Opt.State()[0].Data
	was := st[0]
	st[0] += 0.5
	c.other.optim, c.other.optimHash = save(), ml.OptimizerHash(tr.Opt)
	st[0] = was
	// Other weights (and the right optimizer state).
	w := tr.Model.Params()[0].T.Data
	was = w[0]
	w[0] += 0.25
	c.other.weights, c.other.weightsHash = save(), ml.WeightsHash(tr.Model)
	w[0] = was
	if ml.WeightsHash(tr.Model) != c.wh || ml.OptimizerHash(tr.Opt) != c.oh {
		t.Fatal("trainer not restored")
	}
	c.other.corrupt = append([]byte(nil), c.good...)
	c.other.corrupt[len(c.good)/2] ^= 0x40
	return c
}

func TestVerifyCheckpoint(t *testing.T) {
	c := newCkptCase(t)
	ck, err := checkCkpt(c.key, c.good)
	if err != nil {
		t.Fatal(err)
	}
	if ck.WeightsHash != c.wh || ck.OptimizerHash != c.oh || ck.Header.Step != 3 {
		t.Fatalf("parsed checkpoint: step %d", ck.Header.Step)
	}
	for _, tc := range []struct {
		name  string
		b     []byte
		diffs []string
	}{
		{"other weights", c.other.weights, []string{"weights hash"}},
		{"other optimizer state", c.other.optim, []string{"optimizer hash"}},
		{"corrupt", c.other.corrupt, nil},
		{"empty", nil, nil},
	} {
		_, err := checkCkpt(c.key, tc.b)
		var me *MismatchError
		if !errors.Is(err, ErrMismatch) || !errors.As(err, &me) || errors.Is(err, ErrLyingPeer) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var names []string
		for _, d := range ckptDiffs(err) {
			names = append(names, d.Name)
		}
		if !slices.Equal(names, tc.diffs) || (tc.diffs == nil) != errors.Is(err, ml.ErrCheckpoint) {
			t.Fatalf("%s: diffs %v, err %v", tc.name, names, err)
		}
	}
	// A commitment key from the chain.
	k, err := CommitmentKey(&types.Commitment{TaskId: 7, JobIndex: 3, WeightsHash: c.wh[:], OptimizerHash: c.oh[:]})
	if err != nil || k != c.key {
		t.Fatalf("CommitmentKey: %+v %v", k, err)
	}
	if _, err := CommitmentKey(&types.Commitment{TaskId: 7, JobIndex: 3, WeightsHash: c.wh[:]}); err == nil {
		t.Fatal("a commitment without an optimizer hash gave a key")
	}
}

func TestStoreCheckpoint(t *testing.T) {
	c := newCkptCase(t)
	st, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"other weights": c.other.weights, "other optimizer state": c.other.optim, "corrupt": c.other.corrupt} {
		if err := st.PutCheckpoint(c.key, b, verifyCkpt); !errors.Is(err, ErrMismatch) {
			t.Fatalf("put %s: %v", name, err)
		}
		if st.HasCheckpoint(c.key) {
			t.Fatalf("put %s stored something", name)
		}
	}
	if err := st.PutCheckpoint(c.key, c.good, verifyCkpt); err != nil {
		t.Fatal(err)
	}
	if b, err := st.Checkpoint(c.key); err != nil || !bytes.Equal(b, c.good) {
		t.Fatalf("read back: %v", err)
	}
	// Same weights, another optimizer hash: a different checkpoint, not held.
	k := c.key
	k.OptimizerHash = c.other.optimHash
	if _, err := st.Checkpoint(k); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other optimizer hash: %v", err)
	}
	// Damage on disk is caught on read.
	p := filepath.Join(st.Root(), "ckpt", "7", "3", hex.EncodeToString(c.wh[:])+"-"+hex.EncodeToString(c.oh[:]))
	if err := os.WriteFile(p, c.other.corrupt, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Checkpoint(c.key); !errors.Is(err, ErrDamaged) {
		t.Fatalf("damaged: %v", err)
	}
	if err := st.DeleteJobCheckpoints(7, 3); err != nil || st.HasCheckpoint(c.key) {
		t.Fatalf("delete: %v", err)
	}
}

// serveCkpt replaces h's checkpoint handler with one that answers every
// request with b (a peer lying on the wire, past any check of its own store).
func serveCkpt(h host.Host, b []byte) {
	h.SetStreamHandler(CkptProtocol(testChain), func(st network.Stream) {
		r := bufio.NewReader(st)
		if _, err := ReadDelimited(r, MaxRequestSize); err != nil {
			st.Reset()
			return
		}
		WriteDelimited(st, Response{Status: StatusOK, Size: uint64(len(b))})
		st.Write(b)
		st.Close()
	})
}

func TestCheckpointOverP2P(t *testing.T) {
	c := newCkptCase(t)
	_, svcs := newMockServices(t, 4, nil, BlobConfig(testChain))
	ctx := testCtx(t)
	client, honest, liar, liar2 := svcs[0], svcs[1], svcs[2], svcs[3]
	if err := honest.store.PutCheckpoint(c.key, c.good, verifyCkpt); err != nil {
		t.Fatal(err)
	}

	// Honest fetch, past a peer that does not hold it.
	fc, err := client.FetchCheckpoint(ctx, []peer.ID{liar.h.ID(), honest.h.ID()}, c.key, 0, verifyCkpt)
	if err != nil || fc.From != honest.h.ID() || !bytes.Equal(fc.Bytes, c.good) || fc.Checkpoint.(*ml.Checkpoint).OptimizerHash != c.oh {
		t.Fatalf("honest fetch: %v", err)
	}
	if len(client.Faults()) != 0 {
		t.Fatalf("a peer without the checkpoint was reported: %v", client.Faults())
	}
	// Another job, or the same weights with another optimizer state, is not held.
	other := c.key
	other.JobIndex = 4
	if _, err := client.GetCheckpoint(ctx, honest.h.ID(), other, 0, verifyCkpt); !errors.Is(err, ErrRemote) {
		t.Fatalf("checkpoint of another job: %v", err)
	}
	other = c.key
	other.OptimizerHash = c.other.optimHash
	if _, err := client.GetCheckpoint(ctx, honest.h.ID(), other, 0, verifyCkpt); !errors.Is(err, ErrRemote) {
		t.Fatalf("other optimizer hash: %v", err)
	}
	// A payload over the caller's cap is refused before it is read.
	if _, err := client.GetCheckpoint(ctx, honest.h.ID(), c.key, uint64(len(c.good)-1), verifyCkpt); !errors.Is(err, ErrLyingPeer) {
		t.Fatalf("over the cap: %v", err)
	}

	// Lying peers: each is caught, named with both hashes, and recorded.
	for _, tc := range []struct {
		name      string
		b         []byte
		store     bool // through the liar's own store (a miner's Attack), not the wire
		field     string
		want, got []byte
	}{
		{"other weights", c.other.weights, true, "weights hash", c.wh[:], c.other.weightsHash[:]},
		{"other optimizer state", c.other.optim, true, "optimizer hash", c.oh[:], c.other.optimHash[:]},
		{"corrupt", c.other.corrupt, false, "", nil, nil},
		{"not a checkpoint", []byte("POUWCKPT but nothing after it that makes sense................."), false, "", nil, nil},
	} {
		if tc.store {
			if err := liar.store.PutOwnCheckpoint(c.key, tc.b); err != nil {
				t.Fatal(err)
			}
		} else {
			serveCkpt(liar.h, tc.b)
		}
		before := len(client.Faults())
		_, err := client.GetCheckpoint(ctx, liar.h.ID(), c.key, 0, verifyCkpt)
		var me *MismatchError
		if !errors.Is(err, ErrMismatch) || !errors.Is(err, ErrLyingPeer) || !errors.As(err, &me) || me.Peer != liar.h.ID() {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(err.Error(), liar.h.ID().String()) {
			t.Fatalf("%s: error does not name the peer: %v", tc.name, err)
		}
		if tc.field != "" {
			if d := ckptDiffs(err); len(d) != 1 || d[0].Name != tc.field || !bytes.Equal(d[0].Want[:], tc.want) || !bytes.Equal(d[0].Got[:], tc.got) {
				t.Fatalf("%s: diffs %+v", tc.name, d)
			}
			for _, h := range [][]byte{tc.want, tc.got} {
				if !strings.Contains(err.Error(), hex.EncodeToString(h)) {
					t.Fatalf("%s: error does not show %x: %v", tc.name, h, err)
				}
			}
		} else if !errors.Is(err, ml.ErrCheckpoint) {
			t.Fatalf("%s: not a parse error: %v", tc.name, err)
		}
		if f := client.Faults(); len(f) != before+1 || f[before].Peer != liar.h.ID() {
			t.Fatalf("%s: faults %v", tc.name, f)
		}
		if !tc.store {
			liar.h.SetStreamHandler(CkptProtocol(testChain), liar.wrap("ckpt", liar.handleCkpt))
		}
	}

	// FetchCheckpoint moves past a liar to an honest peer.
	serveCkpt(liar2.h, c.other.weights)
	fc, err = client.FetchCheckpoint(ctx, []peer.ID{liar2.h.ID(), honest.h.ID()}, c.key, 0, verifyCkpt)
	if err != nil || fc.From != honest.h.ID() {
		t.Fatalf("fetch past a liar: %v", err)
	}
	if f := client.Faults(); f[len(f)-1].Peer != liar2.h.ID() {
		t.Fatalf("liar not recorded: %v", f)
	}
	// Only liars: the joined error still says who lied.
	_, err = client.FetchCheckpoint(ctx, []peer.ID{liar2.h.ID()}, c.key, 0, verifyCkpt)
	var me *MismatchError
	if !errors.As(err, &me) || me.Peer != liar2.h.ID() {
		t.Fatalf("only liars: %v", err)
	}

	// A checkpoint damaged on the server's disk is dropped, not served.
	p := filepath.Join(honest.store.Root(), "ckpt", "7", "3", hex.EncodeToString(c.wh[:])+"-"+hex.EncodeToString(c.oh[:]))
	if err := os.WriteFile(p, c.other.corrupt, 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(client.Faults())
	if _, err := client.GetCheckpoint(ctx, honest.h.ID(), c.key, 0, verifyCkpt); !errors.Is(err, ErrRemote) {
		t.Fatalf("damaged copy: %v", err)
	}
	if honest.store.HasCheckpoint(c.key) || len(client.Faults()) != before {
		t.Fatal("damaged copy kept, or its honest server reported")
	}
}

// TestBlobOnlyService: a miner's host serves its checkpoints and models
// with no dataset records, no ring and no storage role; the shard protocol
// is not even offered.
func TestBlobOnlyService(t *testing.T) {
	c := newCkptCase(t)
	_, svcs := newMockServices(t, 2, nil, BlobConfig(testChain))
	ctx := testCtx(t)
	miner, verifier := svcs[1], svcs[0]
	if err := miner.store.PutCheckpoint(c.key, c.good, verifyCkpt); err != nil {
		t.Fatal(err)
	}
	mh, err := miner.store.PutModel([]byte("final model"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.GetCheckpoint(ctx, miner.h.ID(), c.key, 0, verifyCkpt); err != nil {
		t.Fatal(err)
	}
	if b, err := verifier.GetModel(ctx, miner.h.ID(), mh, 0); err != nil || string(b) != "final model" {
		t.Fatalf("model: %v", err)
	}
	protos := miner.h.Mux().Protocols()
	if slices.Contains(protos, ShardProtocol(testChain)) || !slices.Contains(protos, CkptProtocol(testChain)) || !slices.Contains(protos, ModelProtocol(testChain)) {
		t.Fatalf("protocols served: %v", protos)
	}
	ds := &types.Dataset{Id: 1, Erasure: types.ErasureCode{ShardSize: 10, ShardHashes: [][]byte{make([]byte, 32)}}}
	if _, err := verifier.GetShard(ctx, miner.h.ID(), ds, 0); err == nil || errors.Is(err, ErrLyingPeer) {
		t.Fatalf("shard from a blob-only host: %v", err)
	}
	if err := (Config{ChainID: "x", Serve: 1 << 5, StreamTimeout: 1, DialTimeout: 1, MaxBlobSize: 1, RequestsPerSecond: 1, Burst: 1}).Validate(); err == nil {
		t.Fatal("unknown Serve bits accepted")
	}
}
