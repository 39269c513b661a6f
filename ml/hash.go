package ml

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"unsafe"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/pouw/statehash"
)

// Hash is a SHA-256 digest.
type Hash [32]byte

// Domain strings of the version 1 hashes (HashTensors, BatchHash): the
// per-step fingerprints of StepInfo and Result.WeightsSHA256. The work
// proof's state hashes are version 2 (StateHash).
const (
	DomainWeights = "pouw/weights/v1"
	DomainGrads   = "pouw/grads/v1"
	DomainBatch   = "pouw/batch/v1"
	DomainOptim   = "pouw/optim/v1"
)

// HashTensors is SHA-256 over domain, then for each tensor: uint32 name
// length, name, uint32 rank, uint32 dims, float32 little-endian data.
func HashTensors(domain string, ts []NamedTensor) Hash {
	h := sha256.New()
	h.Write([]byte(domain))
	for _, t := range ts {
		writeTensor(h, t)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

func writeTensor(h hash.Hash, t NamedTensor) {
	var b [4]byte
	put := func(v uint32) { binary.LittleEndian.PutUint32(b[:], v); h.Write(b[:]) }
	put(uint32(len(t.Name)))
	h.Write([]byte(t.Name))
	put(uint32(len(t.Shape)))
	for _, d := range t.Shape {
		put(uint32(d))
	}
	h.Write(float32Bytes(t.Data))
}

// float32Bytes returns the canonical little-endian bytes of v: on a
// little-endian machine (every platform pouwd builds for) the memory itself,
// without a copy, which makes hashing as fast as SHA-256 can go; elsewhere a
// converted copy.
func float32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// WeightsTensors lists the model's parameters and buffers as named tensors
// (views, not copies) in canonical order.
func WeightsTensors(m *Model) []NamedTensor {
	out := make([]NamedTensor, len(m.params))
	for i, p := range m.params {
		out[i] = NamedTensor{Name: p.Name, Shape: p.T.Shape, Data: p.T.Data}
	}
	return out
}

// StateHash is the work proof's (pouw/v2) hash of a state:
// statehash.Sum over the tensors' bytes read in place, its leaves hashed
// on every core.
func StateHash(domain string, ts []NamedTensor) Hash {
	return Hash(statehash.Sum(domain, stateTensors(ts), 0))
}

func stateTensors(ts []NamedTensor) []statehash.Tensor {
	st := make([]statehash.Tensor, len(ts))
	for i, t := range ts {
		st[i] = statehash.Tensor{Name: t.Name, Shape: t.Shape, Data: float32Bytes(t.Data)}
	}
	return st
}

// CommitHashes is WeightsHash(m) and OptimizerHash(o) at once: what a
// commitment names, all leaves of both states hashed by one pool on every
// core.
func CommitHashes(m *Model, o Optimizer) (weights, optim Hash) {
	return stateHashes(WeightsTensors(m), o.State(), 0)
}

// stateHashes is the state hashes of a weights and an optimizer state,
// their leaves hashed on up to workers goroutines (0: every core).
func stateHashes(weights, optim []NamedTensor, workers int) (Hash, Hash) {
	hs := statehash.SumStates(workers, statehash.State{Domain: statehash.WeightsDomain, Tensors: stateTensors(weights)},
		statehash.State{Domain: statehash.OptimDomain, Tensors: stateTensors(optim)})
	return Hash(hs[0]), Hash(hs[1])
}

// WeightsHash is H(W), the state hash a commitment names for the weights:
// StateHash(statehash.WeightsDomain, parameters and buffers).
func WeightsHash(m *Model) Hash { return StateHash(statehash.WeightsDomain, WeightsTensors(m)) }

// OptimizerHash is the state hash of an optimizer's state:
// StateHash(statehash.OptimDomain, state tensors in canonical order). A
// commitment binds it next to the weights hash, because the state
// (momentum, Adam moments, step count) decides every later step as much as
// the weights do: a miner free to pick it after seeing the lottery anchor
// could grind tickets. Plain SGD without momentum has no state and hashes
// an empty list.
func OptimizerHash(o Optimizer) Hash { return StateHash(statehash.OptimDomain, o.State()) }

// sampleInto gathers the float32s of the concatenation of the model's
// parameters and buffers (grads: the trainable parameters' gradients) at
// the positions pouw.SamplePositions draws from prev for stream, as
// little-endian bytes in buf, and returns the total element count and the
// sampled bytes (none when there are no elements). It reads the tensors in
// place and allocates nothing: it runs at every step.
func sampleInto(m *Model, grads bool, prev pouw.Hash, stream int, buf *[4 * pouw.SampleCount]byte) (uint64, []byte) {
	data := func(p *Param) []float32 {
		if grads {
			return p.T.grad()
		}
		return p.T.Data
	}
	var n uint64
	for _, p := range m.params {
		if !grads || !p.Buffer {
			n += uint64(len(data(p)))
		}
	}
	if n == 0 {
		return 0, nil
	}
	var pos [pouw.SampleCount]uint64
	pouw.SamplePositions(prev, stream, n, pos[:])
	// Positions in ascending order would need a sort; the tensors are few,
	// so each position walks them.
	for k, at := range pos {
		for _, p := range m.params {
			if grads && p.Buffer {
				continue
			}
			d := data(p)
			if at < uint64(len(d)) {
				binary.LittleEndian.PutUint32(buf[4*k:], math.Float32bits(d[at]))
				break
			}
			at -= uint64(len(d))
		}
	}
	return n, buf[:]
}

// Samples computes the step's pouw/v2 samples in place: the gradient
// sample (the loss and G_i at the positions drawn from prev, stream
// SampleGrads, over the trainable parameters' gradients) and the weight
// sample (W_{i+1}, parameters and buffers, stream SampleWeights). It reads
// the model, so it is valid only inside the StepHook call of a trainer in
// sampled mode (Trainer.SampledSteps); otherwise it returns an error.
func (s StepInfo) Samples(prev pouw.Hash) (grad, weight pouw.Hash, err error) {
	if s.model == nil {
		return grad, weight, fmt.Errorf("ml: step %d: samples are read in place during the hook of a trainer in sampled mode", s.Step)
	}
	var buf [4 * pouw.SampleCount]byte
	sample := func(grads bool, stream int) (uint64, []byte, error) {
		if s.res != nil {
			return s.res.SampleValues(grads, prev, stream)
		}
		n, vals := sampleInto(s.model, grads, prev, stream, &buf)
		return n, vals, nil
	}
	n, vals, err := sample(true, pouw.SampleGrads)
	if err != nil {
		return grad, weight, err
	}
	if grad, err = pouw.GradSample(math.Float32bits(s.Loss), n, vals); err != nil {
		return
	}
	if n, vals, err = sample(false, pouw.SampleWeights); err != nil {
		return grad, weight, err
	}
	weight, err = pouw.WeightSample(n, vals)
	return
}

// weightsSHA256 is version 1's H(W): HashTensors(DomainWeights, parameters
// and buffers), the weights fingerprint of StepInfo and Result.
func weightsSHA256(m *Model) Hash { return HashTensors(DomainWeights, WeightsTensors(m)) }

// GradsHash is H(G): HashTensors(DomainGrads, gradients of the trainable
// parameters, named like their parameters).
func GradsHash(m *Model) Hash { return HashTensors(DomainGrads, gradViews(m)) }

// BatchHash is H(B): SHA-256 over DomainBatch, uint64 count and each sample
// index as uint64 little-endian, in batch order.
func BatchHash(idx []int) Hash {
	h := sha256.New()
	h.Write([]byte(DomainBatch))
	b := make([]byte, 8*(len(idx)+1))
	binary.LittleEndian.PutUint64(b, uint64(len(idx)))
	for i, v := range idx {
		binary.LittleEndian.PutUint64(b[8*(i+1):], uint64(v))
	}
	h.Write(b)
	var out Hash
	h.Sum(out[:0])
	return out
}

func f64bits(f float64) uint64     { return math.Float64bits(f) }
func f64frombits(u uint64) float64 { return math.Float64frombits(u) }

// packU64 stores uint64s as pairs of float32 bit patterns (low, high).
func packU64(vs ...uint64) []float32 {
	out := make([]float32, 2*len(vs))
	for i, v := range vs {
		out[2*i] = math.Float32frombits(uint32(v))
		out[2*i+1] = math.Float32frombits(uint32(v >> 32))
	}
	return out
}

func unpackU64(fs []float32) []uint64 {
	out := make([]uint64, len(fs)/2)
	for i := range out {
		out[i] = uint64(math.Float32bits(fs[2*i])) | uint64(math.Float32bits(fs[2*i+1]))<<32
	}
	return out
}
