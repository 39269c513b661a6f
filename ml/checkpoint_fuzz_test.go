package ml_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

// FuzzCheckpointRoundTrip: a checkpoint is what a miner's peer serves a
// verifier, and a final model file is one too. The input is parsed as
// given and, resealed (its trailer recomputed, so the fuzzer reaches the
// header and tensors behind it), with both formats' trailers. Whatever
// the bytes, parsing never panics and refuses with ErrCheckpoint; a
// checkpoint it accepts verifies against its own state hashes, is a
// *CheckpointMismatchError (ErrCheckpointMismatch, not ErrCheckpoint)
// naming the weights hash against another, re-encodes to a checkpoint
// with the same header, tensors (bit for bit) and hashes whose encoding
// is stable, is refused by ReadCheckpoint one byte under its size, and
// (when its spec is small) loads into its model or is refused with
// ErrCheckpoint. Committed seeds: testdata/fuzz/FuzzCheckpointRoundTrip/
// (POUWD_WRITE_FUZZ_SEEDS=1 go test -run TestWriteCheckpointFuzzSeeds ./ml).
func FuzzCheckpointRoundTrip(f *testing.F) {
	for _, s := range checkpointFuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, b := range [][]byte{raw, reseal(raw)} {
			ck, err := ml.ParseCheckpoint(b)
			if err != nil {
				if !errors.Is(err, ml.ErrCheckpoint) {
					t.Fatalf("error %q does not wrap ErrCheckpoint", err)
				}
				continue
			}
			checkAccepted(t, b, ck)
		}
	})
}

// reseal recomputes raw's trailer for the version its header names (a
// SHA-256 for version 1, BLAKE3 otherwise).
func reseal(raw []byte) []byte {
	if len(raw) < 12+32 {
		return raw
	}
	body := append([]byte(nil), raw[:len(raw)-32]...)
	if binary.LittleEndian.Uint32(raw[8:]) == 1 {
		sum := sha256.Sum256(body)
		return append(body, sum[:]...)
	}
	sum := blake3.Sum256(body)
	return append(body, sum[:]...)
}

var smallNumbers = regexp.MustCompile(`[0-9]+`)

func checkAccepted(t *testing.T, b []byte, ck *ml.Checkpoint) {
	t.Helper()
	if _, err := ml.VerifyCheckpoint(b, ck.WeightsHash, ck.OptimizerHash); err != nil {
		t.Fatalf("does not verify against its own hashes: %v", err)
	}
	other := ck.WeightsHash
	other[0] ^= 1
	_, err := ml.VerifyCheckpoint(b, other, ck.OptimizerHash)
	var me *ml.CheckpointMismatchError
	if !errors.As(err, &me) || !errors.Is(err, ml.ErrCheckpointMismatch) || errors.Is(err, ml.ErrCheckpoint) ||
		len(me.Diffs) != 1 || me.Diffs[0].Name != "weights hash" {
		t.Fatalf("against another weights hash: %v", err)
	}
	var buf, buf2 bytes.Buffer
	hdr := ck.Header
	if err := ck.Write(&buf); err != nil {
		t.Fatalf("an accepted checkpoint does not encode: %v", err)
	}
	ck2, err := ml.ParseCheckpoint(buf.Bytes())
	if err != nil {
		t.Fatalf("re-encoded checkpoint refused: %v", err)
	}
	hdr.WeightsSHA256, hdr.WeightsHash, hdr.OptimizerHash = "", hex.EncodeToString(ck.WeightsHash[:]), hex.EncodeToString(ck.OptimizerHash[:])
	if ck2.Header != hdr || ck2.WeightsHash != ck.WeightsHash || ck2.OptimizerHash != ck.OptimizerHash ||
		!sameTensors(ck2.Weights, ck.Weights) || !sameTensors(ck2.Optim, ck.Optim) {
		t.Fatalf("re-encoded checkpoint differs: header %+v, expected %+v", ck2.Header, hdr)
	}
	if err := ck2.Write(&buf2); err != nil || !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Fatalf("encoding not stable (%v)", err)
	}
	if _, err := ml.ReadCheckpoint(bytes.NewReader(b), int64(len(b)-1)); !errors.Is(err, ml.ErrCheckpoint) {
		t.Fatalf("a %d-byte checkpoint read under a limit of %d: %v", len(b), len(b)-1, err)
	}
	for _, n := range smallNumbers.FindAllString(ck.Header.Spec, -1) {
		if len(n) > 2 || len(ck.Header.Spec) > 64 {
			return // the spec's model may be large: building it is not what is fuzzed
		}
	}
	m, err := ck.Model()
	if err != nil {
		if !errors.Is(err, ml.ErrCheckpoint) {
			t.Fatalf("Model error %q does not wrap ErrCheckpoint", err)
		}
		return
	}
	if !sameTensors(ml.WeightsTensors(m), ck.Weights) {
		t.Fatal("the loaded model's weights are not the checkpoint's")
	}
}

// sameTensors compares names, shapes and values bit for bit (NaN
// payloads included).
func sameTensors(a, b []ml.NamedTensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || fmt.Sprint(a[i].Shape) != fmt.Sprint(b[i].Shape) || len(a[i].Data) != len(b[i].Data) {
			return false
		}
		for j := range a[i].Data {
			if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
				return false
			}
		}
	}
	return true
}

// checkpointFuzzSeeds: a model-only checkpoint, a trainer's with Adam
// moments, a version 1 checkpoint, an empty one, and damaged ones.
func checkpointFuzzSeeds(tb testing.TB) [][]byte {
	m, err := ml.NewModel("mlp:3-2-2", 1)
	if err != nil {
		tb.Fatal(err)
	}
	var model bytes.Buffer
	if err := ml.SaveModel(&model, m); err != nil {
		tb.Fatal(err)
	}
	data := ml.Dataset{N: 4, Shape: []int{3}, Classes: 2, X: make([]float32, 12), Y: []int{0, 1, 0, 1}}
	for i := range data.X {
		data.X[i] = float32(i%5) / 5
	}
	cfg := ml.DefaultTrainConfig()
	cfg.Optimizer, cfg.BatchSize, cfg.Epochs, cfg.Steps = "adam", 2, 0, 4
	tr, err := ml.NewTrainer(m, data, cfg, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := tr.Step(nil); err != nil {
		tb.Fatal(err)
	}
	var trained bytes.Buffer
	if err := tr.SaveCheckpoint(&trained); err != nil {
		tb.Fatal(err)
	}
	// Version 1: SHA-256 trailer, weights_sha256 in the header.
	ws := ml.WeightsTensors(m)
	wh := ml.HashTensors(ml.DomainWeights, ws)
	js, _ := json.Marshal(ml.CheckpointHeader{Spec: "mlp:3-2-2", Seed: 1, WeightsSHA256: hex.EncodeToString(wh[:])})
	le := func(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
	v1 := le(le([]byte("POUWCKPT"), 1), uint32(len(js)))
	v1 = le(append(v1, js...), uint32(len(ws)))
	for _, w := range ws {
		v1 = le(append(le(v1, uint32(len(w.Name))), w.Name...), uint32(len(w.Shape)))
		for _, d := range w.Shape {
			v1 = le(v1, uint32(d))
		}
		for _, x := range w.Data {
			v1 = le(v1, math.Float32bits(x))
		}
	}
	v1 = le(v1, 0)
	sum := sha256.Sum256(v1)
	v1 = append(v1, sum[:]...)
	var empty bytes.Buffer
	if err := (&ml.Checkpoint{}).Write(&empty); err != nil {
		tb.Fatal(err)
	}
	cut := model.Bytes()[:model.Len()-40]
	return [][]byte{model.Bytes(), trained.Bytes(), v1, empty.Bytes(), cut, []byte("POUWCKPT\x03\x00\x00\x00")}
}

func TestWriteCheckpointFuzzSeeds(t *testing.T) {
	if os.Getenv("POUWD_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set POUWD_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz")
	}
	write := func(name string, bodies []string) {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, b := range bodies {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%d", i)), []byte("go test fuzz v1\n"+b+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var ckpts []string
	for _, s := range checkpointFuzzSeeds(t) {
		ckpts = append(ckpts, "[]byte("+strconv.Quote(string(s))+")")
	}
	// FuzzReadCheckpoint (train_test.go) reads the same files.
	write("FuzzCheckpointRoundTrip", ckpts)
	write("FuzzReadCheckpoint", ckpts)
	// FuzzParseSpec (spec_test.go): every kind and option, and near misses.
	var specs []string
	for _, s := range []string{"mlp:784-256-10", "cnn:1x28x28-2x8-10,bn,fc=4", "resnet:3x8x8-basic-1.1-4-5",
		"resnet:3x16x16-bottleneck-1.1-2-3,stem=imagenet,width=2", "transformer:6-11-1x8x2-11,causal,head=last,pos=sin",
		"vit:3x8x8-4-1x8x2-5,mlp=2,dropout=0.1", "transformer:4-8-1x8x8-3,mlp=1", "mlp:4--3", "cnn:1x28-2x8-10",
		"resnet:3x8x8-wide-1-4-5", "transformer:0-8-1x8x3-2", "mlp:99999999999999999999-2"} {
		specs = append(specs, "string("+strconv.Quote(s)+")")
	}
	write("FuzzParseSpec", specs)
}
