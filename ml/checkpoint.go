package ml

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/pouw/pouwd/accel"
)

// ErrCheckpoint reports a checkpoint that is corrupt, foreign or does not
// match the model it is loaded into.
var ErrCheckpoint = errors.New("invalid checkpoint")

const (
	ckptMagic = "POUWCKPT"
	// ckptVersion is the version written; ParseCheckpoint also reads
	// version 1 (a SHA-256 trailer over every byte, weights_sha256 in the
	// header).
	ckptVersion = 2
	// DefaultMaxCheckpointBytes bounds ReadCheckpoint when max is 0.
	DefaultMaxCheckpointBytes = 4 << 30
	maxNameLen                = 1024
	maxRank                   = 8
)

// CheckpointHeader is the JSON header of a checkpoint.
type CheckpointHeader struct {
	Spec         string      `json:"spec"`
	Seed         uint64      `json:"seed"`
	Config       TrainConfig `json:"config"`
	Step         uint64      `json:"step"`
	Epoch        int         `json:"epoch"`
	BatchInEpoch int         `json:"batch_in_epoch"`
	Optimizer    string      `json:"optimizer"`
	// WeightsHash and OptimizerHash (version 2) are the state hashes of
	// the weights and optimizer tensors (WeightsHash, OptimizerHash: what
	// a commitment names), hex.
	WeightsHash   string `json:"weights_hash,omitempty"`
	OptimizerHash string `json:"optimizer_hash,omitempty"`
	// WeightsSHA256 is version 1's HashTensors(DomainWeights, weights).
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
}

// Checkpoint is a decoded, verified checkpoint.
type Checkpoint struct {
	Header  CheckpointHeader
	Weights []NamedTensor
	Optim   []NamedTensor
	// WeightsHash and OptimizerHash are the state hashes of Weights and
	// Optim, verified against the header when parsed.
	WeightsHash, OptimizerHash Hash
}

// Layout (all integers little-endian):
//
//	"POUWCKPT" | u32 version (2) | u32 n | header JSON (n bytes)
//	| u32 count | count tensors | u32 count | count optimizer tensors
//	| BLAKE3-256 of every preceding byte
//
// tensor = u32 name length | name | u32 rank | rank x u32 dims | float32 data.
//
// The trailer lets a store check a file for damage without decoding it
// (p2p); the header's two state hashes, which reading recomputes on every
// core, are what a commitment names. Version 1 had a SHA-256 trailer and a
// SHA-256 weights hash in the header: single-core passes at about half
// BLAKE3's speed.

// SaveCheckpoint writes the model, the optimizer state and the loop
// position.
func (t *Trainer) SaveCheckpoint(w io.Writer) error {
	if err := t.Sync(); err != nil {
		return err
	}
	return t.checkpoint().Write(w)
}

// encodeCommitment encodes ck's body (all but its trailer) with a header
// naming weights and optim, the state hashes computed from ck's tensors,
// into buf[:0] (grown when too small).
func (ck *Checkpoint) encodeCommitment(buf []byte, weights, optim Hash) ([]byte, error) {
	hdr := ck.Header
	hdr.WeightsHash, hdr.OptimizerHash = hex.EncodeToString(weights[:]), hex.EncodeToString(optim[:])
	if n := ck.encodedSize(); cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	w := bytes.NewBuffer(buf[:0])
	if err := encodeBody(w, hdr, ck.Weights, ck.Optim); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

func (t *Trainer) checkpoint() *Checkpoint {
	ws, opt := WeightsTensors(t.Model), t.Opt.State()
	hdr := CheckpointHeader{Spec: t.Model.Spec.raw, Seed: t.Model.Seed, Config: t.Cfg, Step: t.step, Epoch: t.epoch,
		BatchInEpoch: t.batchInEp, Optimizer: t.Opt.Name()}
	return &Checkpoint{Header: hdr, Weights: ws, Optim: opt}
}

// Write serialises the checkpoint (the layout above). The header's state
// hashes are taken from ck.WeightsHash and ck.OptimizerHash when both are
// set (a miner computes them at the commitment), else computed.
func (ck *Checkpoint) Write(w io.Writer) error {
	if ck.WeightsHash == (Hash{}) && ck.OptimizerHash == (Hash{}) {
		ck.WeightsHash, ck.OptimizerHash = stateHashes(ck.Weights, ck.Optim, 0)
	}
	ck.Header.WeightsHash, ck.Header.OptimizerHash = hex.EncodeToString(ck.WeightsHash[:]), hex.EncodeToString(ck.OptimizerHash[:])
	ck.Header.WeightsSHA256 = ""
	return writeCheckpoint(w, ck.Header, ck.Weights, ck.Optim)
}

// encodedSize is the number of bytes Write writes, give or take the
// header's JSON: a buffer of this capacity takes the checkpoint without
// growing.
func (ck *Checkpoint) encodedSize() int {
	n := len(ckptMagic) + 4096 + 32
	for _, g := range [][]NamedTensor{ck.Weights, ck.Optim} {
		for _, t := range g {
			n += 12 + len(t.Name) + 4*len(t.Shape) + 4*len(t.Data)
		}
	}
	return n
}

// SaveModel writes a checkpoint of the model alone (no optimizer state).
func SaveModel(w io.Writer, m *Model) error {
	ck := &Checkpoint{Header: CheckpointHeader{Spec: m.Spec.raw, Seed: m.Seed}, Weights: WeightsTensors(m)}
	return ck.Write(w)
}

func writeCheckpoint(w io.Writer, hdr CheckpointHeader, weights, optim []NamedTensor) error {
	h := blake3.New()
	if err := encodeBody(io.MultiWriter(w, h), hdr, weights, optim); err != nil {
		return err
	}
	_, err := w.Write(h.Sum(nil))
	return err
}

// encodeBody writes everything of the layout but the trailer.
func encodeBody(w io.Writer, hdr CheckpointHeader, weights, optim []NamedTensor) error {
	js, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(ckptMagic)
	le := func(v uint32) { buf.Write(binary.LittleEndian.AppendUint32(nil, v)) }
	le(ckptVersion)
	le(uint32(len(js)))
	buf.Write(js)
	for _, group := range [][]NamedTensor{weights, optim} {
		le(uint32(len(group)))
		for _, t := range group {
			le(uint32(len(t.Name)))
			buf.WriteString(t.Name)
			le(uint32(len(t.Shape)))
			for _, d := range t.Shape {
				le(uint32(d))
			}
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			buf.Reset()
			if _, err := w.Write(float32Bytes(t.Data)); err != nil {
				return err
			}
		}
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// SealCheckpoint appends the trailer (BLAKE3-256 of body) to a body that
// Trainer.StepCommitting encoded (its capacity has room for it), and
// returns the checkpoint.
func SealCheckpoint(body []byte) []byte {
	sum := blake3.Sum256(body)
	return append(body, sum[:]...)
}

// ReadCheckpoint reads and verifies a checkpoint of at most max bytes (0:
// DefaultMaxCheckpointBytes): magic, version, the trailer, every length
// and the header's state hashes against the tensors.
func ReadCheckpoint(r io.Reader, max int64) (*Checkpoint, error) {
	if max <= 0 {
		max = DefaultMaxCheckpointBytes
	}
	raw, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read: %v", ErrCheckpoint, err)
	}
	if int64(len(raw)) > max {
		return nil, fmt.Errorf("%w: larger than the limit of %d bytes", ErrCheckpoint, max)
	}
	return ParseCheckpoint(raw)
}

// ParseCheckpoint decodes and verifies checkpoint bytes.
func ParseCheckpoint(raw []byte) (*Checkpoint, error) {
	if len(raw) < len(ckptMagic)+8+32 || string(raw[:len(ckptMagic)]) != ckptMagic {
		return nil, fmt.Errorf("%w: not a pouwd checkpoint (expected magic %q)", ErrCheckpoint, ckptMagic)
	}
	body, trailer := raw[:len(raw)-32], raw[len(raw)-32:]
	sealed := make(chan [32]byte, 1) // format 2: the trailer's hash of body
	p := &ckptParser{b: body[len(ckptMagic):]}
	version := p.u32()
	switch version {
	case 1:
		if sum := sha256.Sum256(body); !bytes.Equal(sum[:], trailer) {
			return nil, fmt.Errorf("%w: SHA-256 %x does not match the trailer %x (corrupt or truncated)", ErrCheckpoint, sum, trailer)
		}
	case ckptVersion:
		// The trailer is hashed on its own goroutine while the body is
		// decoded and its state hashed (a verifier's replay of one step
		// waits for both).
		go func() { sealed <- blake3.Sum256(body) }()
	default:
		return nil, fmt.Errorf("%w: version %d, expected 1 or %d", ErrCheckpoint, version, ckptVersion)
	}
	ck := &Checkpoint{}
	hl := p.u32()
	js := p.bytes(int(hl))
	if p.err == nil {
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ck.Header); err != nil {
			return nil, fmt.Errorf("%w: header: %v", ErrCheckpoint, err)
		}
	}
	ck.Weights = p.tensors()
	ck.Optim = p.tensors()
	if p.err == nil && len(p.b) != 0 {
		p.err = fmt.Errorf("%d trailing bytes", len(p.b))
	}
	if p.err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, p.err)
	}
	if version == 1 {
		if wh := HashTensors(DomainWeights, ck.Weights); hex.EncodeToString(wh[:]) != ck.Header.WeightsSHA256 {
			return nil, fmt.Errorf("%w: weights hash %x, header says %s", ErrCheckpoint, wh, ck.Header.WeightsSHA256)
		}
	}
	ck.WeightsHash, ck.OptimizerHash = stateHashes(ck.Weights, ck.Optim, 0)
	if version == 1 {
		return ck, nil
	}
	if sum := <-sealed; !bytes.Equal(sum[:], trailer) {
		return nil, fmt.Errorf("%w: BLAKE3 %x does not match the trailer %x (corrupt or truncated)", ErrCheckpoint, sum, trailer)
	}
	for _, f := range []struct {
		name, header string
		got          Hash
	}{{"weights", ck.Header.WeightsHash, ck.WeightsHash}, {"optimizer", ck.Header.OptimizerHash, ck.OptimizerHash}} {
		if hex.EncodeToString(f.got[:]) != f.header {
			return nil, fmt.Errorf("%w: %s state hash %x, header says %q", ErrCheckpoint, f.name, f.got, f.header)
		}
	}
	return ck, nil
}

type ckptParser struct {
	b   []byte
	err error
}

func (p *ckptParser) bytes(n int) []byte {
	if p.err != nil {
		return nil
	}
	if n < 0 || n > len(p.b) {
		p.err = fmt.Errorf("truncated: need %d bytes, %d left", n, len(p.b))
		return nil
	}
	out := p.b[:n]
	p.b = p.b[n:]
	return out
}

func (p *ckptParser) u32() uint32 {
	b := p.bytes(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (p *ckptParser) tensors() []NamedTensor {
	n := p.u32()
	if p.err == nil && uint64(n) > uint64(len(p.b)/12) {
		p.err = fmt.Errorf("tensor count %d exceeds the remaining %d bytes", n, len(p.b))
	}
	var out []NamedTensor
	for i := uint32(0); i < n && p.err == nil; i++ {
		nl := p.u32()
		if nl > maxNameLen {
			p.err = fmt.Errorf("tensor %d: name length %d, expected <= %d", i, nl, maxNameLen)
			break
		}
		t := NamedTensor{Name: string(p.bytes(int(nl)))}
		rank := p.u32()
		if rank > maxRank {
			p.err = fmt.Errorf("tensor %q: rank %d, expected <= %d", t.Name, rank, maxRank)
			break
		}
		count := uint64(1)
		for j := uint32(0); j < rank; j++ {
			d := p.u32()
			t.Shape = append(t.Shape, int(d))
			count *= uint64(d)
			if count > uint64(len(p.b)) {
				p.err = fmt.Errorf("tensor %q: shape %v exceeds the remaining %d bytes", t.Name, t.Shape, len(p.b))
				break
			}
		}
		if p.err != nil {
			break
		}
		data := p.bytes(int(4 * count))
		if p.err != nil {
			break
		}
		t.Data = make([]float32, count)
		if littleEndian {
			copy(float32Bytes(t.Data), data)
		} else {
			for j := range t.Data {
				t.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*j:]))
			}
		}
		out = append(out, t)
	}
	return out
}

// Model rebuilds the checkpoint's model from its spec and seed and loads
// the weights, refusing names or shapes that differ from the spec's.
func (ck *Checkpoint) Model() (*Model, error) {
	m, err := NewModel(ck.Header.Spec, ck.Header.Seed)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if err := LoadWeights(m, ck.Weights); err != nil {
		return nil, err
	}
	return m, nil
}

// LoadWeights copies named tensors into the model, which must have exactly
// these names and shapes in this order.
func LoadWeights(m *Model, ws []NamedTensor) error {
	ps := m.Params()
	if len(ws) != len(ps) {
		return fmt.Errorf("%w: %d tensors, model %s has %d", ErrCheckpoint, len(ws), m.Spec.raw, len(ps))
	}
	for i, p := range ps {
		if ws[i].Name != p.Name || !equalShape(ws[i].Shape, p.T.Shape) {
			return fmt.Errorf("%w: tensor %d is %q %v, model %s expects %q %v", ErrCheckpoint, i, ws[i].Name, ws[i].Shape, m.Spec.raw, p.Name, p.T.Shape)
		}
	}
	for i, p := range ps {
		copy(p.T.Data, ws[i].Data)
	}
	return nil
}

// ResumeTrainer rebuilds model, optimizer and loop position from a
// checkpoint; training then continues with the same bits as a run that
// never stopped.
func ResumeTrainer(ck *Checkpoint, data Dataset, b accel.Backend) (*Trainer, error) {
	if ck.Header.Optimizer == "" {
		return nil, fmt.Errorf("%w: a model-only checkpoint cannot resume training (no optimizer state)", ErrCheckpoint)
	}
	m, err := ck.Model()
	if err != nil {
		return nil, err
	}
	t, err := NewTrainer(m, data, ck.Header.Config, b)
	if err != nil {
		return nil, err
	}
	if t.Opt.Name() != ck.Header.Optimizer {
		return nil, fmt.Errorf("%w: optimizer %q, config builds %q", ErrCheckpoint, ck.Header.Optimizer, t.Opt.Name())
	}
	if err := t.Opt.SetState(ck.Optim); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	if ck.Header.BatchInEpoch < 0 || ck.Header.BatchInEpoch >= t.StepsPerEpoch() || ck.Header.Epoch < 0 {
		return nil, fmt.Errorf("%w: position epoch %d batch %d, expected batch < %d", ErrCheckpoint, ck.Header.Epoch, ck.Header.BatchInEpoch, t.StepsPerEpoch())
	}
	// The position follows from the step (a final partial batch is always
	// dropped); a header that says otherwise would replay other batches
	// than the step's, which no commitment hash covers.
	if spe := uint64(t.StepsPerEpoch()); uint64(ck.Header.Epoch) != ck.Header.Step/spe || uint64(ck.Header.BatchInEpoch) != ck.Header.Step%spe {
		return nil, fmt.Errorf("%w: position epoch %d batch %d does not follow from step %d at %d batches per epoch", ErrCheckpoint, ck.Header.Epoch, ck.Header.BatchInEpoch, ck.Header.Step, spe)
	}
	t.step, t.epoch, t.batchInEp = ck.Header.Step, ck.Header.Epoch, ck.Header.BatchInEpoch
	return t, nil
}

// ErrCheckpointMismatch marks a checkpoint that parses but whose weights or
// optimizer state are not the ones a commitment names (a
// *CheckpointMismatchError).
var ErrCheckpointMismatch = errors.New("ml: checkpoint does not match its committed hashes")

// HashDiff is one committed hash that a checkpoint does not have.
type HashDiff struct {
	Name      string // "weights hash" or "optimizer hash"
	Want, Got Hash
}

// CheckpointMismatchError lists every committed hash a checkpoint differs
// from; it matches ErrCheckpointMismatch (never ErrCheckpoint: the bytes
// parsed).
type CheckpointMismatchError struct{ Diffs []HashDiff }

func (e *CheckpointMismatchError) Error() string {
	var b strings.Builder
	for i, d := range e.Diffs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %x, expected %x", d.Name, d.Got[:], d.Want[:])
	}
	return b.String()
}

func (e *CheckpointMismatchError) Unwrap() error { return ErrCheckpointMismatch }

// VerifyCheckpoint is the check every committed checkpoint gets before it
// is stored, served or resumed from: b must parse (ParseCheckpoint: magic,
// version, trailer, every length, the header's state hashes; else an error
// matching ErrCheckpoint), and the state hashes of its weights and of its
// optimizer state (WeightsHash, OptimizerHash) must be the committed ones
// (else a *CheckpointMismatchError naming each that differs).
func VerifyCheckpoint(b []byte, weights, optim Hash) (*Checkpoint, error) {
	ck, err := ParseCheckpoint(b)
	if err != nil {
		return nil, fmt.Errorf("not a valid checkpoint: %w", err)
	}
	var diffs []HashDiff
	if ck.WeightsHash != weights {
		diffs = append(diffs, HashDiff{Name: "weights hash", Want: weights, Got: ck.WeightsHash})
	}
	if ck.OptimizerHash != optim {
		diffs = append(diffs, HashDiff{Name: "optimizer hash", Want: optim, Got: ck.OptimizerHash})
	}
	if len(diffs) > 0 {
		return nil, &CheckpointMismatchError{Diffs: diffs}
	}
	return ck, nil
}
