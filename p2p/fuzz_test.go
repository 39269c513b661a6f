package p2p

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/pouw/statehash"
)

// Each decoder must never panic and, when it accepts bytes, must re-encode
// to a message that decodes to the same value.

func FuzzShardRequest(f *testing.F) {
	f.Add(ShardRequest{DatasetID: 1, Index: 3}.Marshal())
	f.Add(ShardRequest{DatasetID: 1 << 60, Index: 255, Op: OpPut, Size: 5_488_002}.Marshal())
	f.Add([]byte{0x08, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r, r2 ShardRequest
		if r.Unmarshal(b) != nil {
			return
		}
		if err := r2.Unmarshal(r.Marshal()); err != nil || r2 != r {
			t.Fatalf("re-encode: %+v != %+v (%v)", r2, r, err)
		}
	})
}

func FuzzCkptRequest(f *testing.F) {
	f.Add(CkptRequest{TaskID: 2, JobIndex: 5, WeightsHash: bytes.Repeat([]byte{1}, 32), OptimizerHash: bytes.Repeat([]byte{2}, 32)}.Marshal())
	f.Add(CkptRequest{TaskID: 2, JobIndex: 5, WeightsHash: bytes.Repeat([]byte{1}, 32)}.Marshal()) // no optimizer hash
	f.Add([]byte{0x1a, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r, r2 CkptRequest
		if r.Unmarshal(b) != nil {
			return
		}
		if len(r.WeightsHash) != 32 || len(r.OptimizerHash) != 32 {
			t.Fatalf("accepted hashes of %d and %d bytes", len(r.WeightsHash), len(r.OptimizerHash))
		}
		if err := r2.Unmarshal(r.Marshal()); err != nil || r2.TaskID != r.TaskID || r2.JobIndex != r.JobIndex ||
			!bytes.Equal(r2.WeightsHash, r.WeightsHash) || !bytes.Equal(r2.OptimizerHash, r.OptimizerHash) || r2.Key() != r.Key() {
			t.Fatalf("re-encode: %+v != %+v (%v)", r2, r, err)
		}
	})
}

// FuzzVerifyCheckpoint: arbitrary bytes offered as a committed checkpoint
// never panic, and whatever is accepted hashes to the key.
func FuzzVerifyCheckpoint(f *testing.F) {
	m, err := ml.NewModel("mlp:4-3-2", 1)
	if err != nil {
		f.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ml.SaveModel(&buf, m); err != nil {
		f.Fatal(err)
	}
	none, err := ml.NewOptimizer(ml.DefaultTrainConfig(), m.Params()) // plain SGD: no state
	if err != nil {
		f.Fatal(err)
	}
	key := CkptKey{TaskID: 1, WeightsHash: ml.WeightsHash(m), OptimizerHash: ml.OptimizerHash(none)}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-1])
	f.Add([]byte("POUWCKPT\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ck, err := checkCkpt(key, b)
		if err != nil {
			if !errors.Is(err, ErrMismatch) {
				t.Fatalf("error outside ErrMismatch: %v", err)
			}
			return
		}
		if ml.StateHash(statehash.WeightsDomain, ck.Weights) != key.WeightsHash || ml.StateHash(statehash.OptimDomain, ck.Optim) != key.OptimizerHash {
			t.Fatal("accepted a checkpoint of other hashes")
		}
		if err := checkpointIntact(b); err != nil {
			t.Fatalf("accepted bytes a server would call damaged: %v", err)
		}
	})
}

func FuzzModelRequest(f *testing.F) {
	f.Add(ModelRequest{Hash: bytes.Repeat([]byte{9}, 32)}.Marshal())
	f.Add([]byte{0x0a, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r, r2 ModelRequest
		if r.Unmarshal(b) != nil {
			return
		}
		if err := r2.Unmarshal(r.Marshal()); err != nil || !bytes.Equal(r2.Hash, r.Hash) {
			t.Fatalf("re-encode: %+v != %+v (%v)", r2, r, err)
		}
	})
}

func FuzzResponse(f *testing.F) {
	f.Add(Response{Status: StatusOK, Size: 5_488_002}.Marshal())
	f.Add(Response{Status: StatusNotFound, Message: "dataset 1 shard 2 not held"}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var r, r2 Response
		if r.Unmarshal(b) != nil {
			return
		}
		if err := r2.Unmarshal(r.Marshal()); err != nil || r2 != r {
			t.Fatalf("re-encode: %+v != %+v (%v)", r2, r, err)
		}
	})
}

// FuzzReadDelimited checks the framing: never more than the cap, never a panic.
func FuzzReadDelimited(f *testing.F) {
	f.Add([]byte{0x02, 0x08, 0x01})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := ReadDelimited(bufio.NewReader(bytes.NewReader(b)), MaxRequestSize)
		if err == nil && len(out) > MaxRequestSize {
			t.Fatalf("%d bytes past the cap", len(out))
		}
	})
}
