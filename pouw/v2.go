package pouw

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"math/bits"
)

// Digest versions. Version 1 (WorkDigest, TicketValue) hashed every weight
// and gradient at every step; it is kept so that stored proofs and their
// vectors stay readable. Version 2 is what miners, verifiers and the chain
// use: see the package documentation.
const (
	DigestV1 = 1
	DigestV2 = 2
)

// Version 2 domain strings and sizes.
const (
	DigestDomainV2 = "pouw/v2"
	TicketDomainV2 = "pouw/v2/ticket"
	LinkDomain     = "pouw/v2/link"
	GradDomain     = "pouw/v2/grads"
	WeightDomain   = "pouw/v2/weights-sample"

	// SampleCount is the number of positions sampled per step in each of
	// the weights after the step and the gradients of the step.
	SampleCount = 64
)

// StepParts are the inputs of a version 2 work digest of step i:
//
//   - Prev: the digest d_{i-1} of the step before, or, at the step of a
//     commitment, CommitLink of the committed state hashes. It fixes the
//     sampled positions, so they are known only once the step before is
//     done;
//   - Batch: H(B_i), the SHA-256 of the batch's sample indices (as v1);
//   - GradSample: GradSample of the loss and of the gradients G_i at the
//     positions drawn from Prev (stream SampleGrads);
//   - WeightSample: WeightSample of the weights W_{i+1} after the step at
//     the positions drawn from Prev (stream SampleWeights).
type StepParts struct {
	Prev         Hash
	Batch        Hash
	GradSample   Hash
	WeightSample Hash
}

// Sample streams: which 8 bytes of Prev seed the positions.
const (
	SampleWeights = 0
	SampleGrads   = 1
)

// CommitLink is L_c = SHA-256("pouw/v2/link" | weights | optimizer), the
// Prev of the step of a commitment whose state hashes (pouw/statehash)
// are weights and optimizer: the chain of step digests starts from the
// full committed state.
func CommitLink(weights, optimizer Hash) Hash {
	h := sha256.New()
	h.Write([]byte(LinkDomain))
	h.Write(weights[:])
	h.Write(optimizer[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// SamplePositions fills dst with positions in [0, n) drawn from prev:
// SplitMix64 seeded with the big-endian uint64 prev[8*stream : 8*stream+8],
// x_k = seed + (k+1)*0x9E3779B97F4A7C15, z_k = mix(x_k) (the SplitMix64
// finaliser: z ^= z>>30; z *= 0xBF58476D1CE4E5B9; z ^= z>>27;
// z *= 0x94D049BB133111EB; z ^= z>>31), position_k = floor(z_k * n /
// 2^64) (the high word of the 128-bit product). Positions may repeat. With
// n = 0 every position is 0 and the sample is empty (see GradSample).
// stream is SampleWeights or SampleGrads.
func SamplePositions(prev Hash, stream int, n uint64, dst []uint64) {
	x := binary.BigEndian.Uint64(prev[8*stream:])
	for k := range dst {
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		dst[k], _ = bits.Mul64(z, n)
	}
}

// GradSample is SHA-256("pouw/v2/grads" | loss u32 | n u64 | count u32 |
// values), loss the float32 bits of the step's loss, n the number of
// gradient values the positions were drawn over, values the count sampled
// float32s as little-endian bytes (their memory on every platform pouwd
// builds for). With n = 0 values must be empty.
func GradSample(loss uint32, n uint64, values []byte) (Hash, error) {
	return sampleHash(GradDomain, true, loss, n, values)
}

// WeightSample is SHA-256("pouw/v2/weights-sample" | n u64 | count u32 |
// values), as GradSample without the loss, over the weights after the
// step (parameters and buffers, n values in all).
func WeightSample(n uint64, values []byte) (Hash, error) {
	return sampleHash(WeightDomain, false, 0, n, values)
}

func sampleHash(domain string, withLoss bool, loss uint32, n uint64, values []byte) (Hash, error) {
	want := 4 * SampleCount
	if n == 0 {
		want = 0
	}
	if len(values) != want {
		return Hash{}, fmt.Errorf("pouw: %s sample over %d values must be %d bytes, got %d", domain, n, want, len(values))
	}
	var hdr [4 + 8 + 4]byte
	b := hdr[:0]
	if withLoss {
		b = binary.BigEndian.AppendUint32(b, loss)
	}
	b = binary.BigEndian.AppendUint64(b, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)/4))
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(b)
	h.Write(values)
	var out Hash
	h.Sum(out[:0])
	return out, nil
}

// StepDigest is the version 2 work digest d_i = SHA-256("pouw/v2" | task
// u64 | job u32 | len(M) u8 | M | i u64 | Prev | H(B_i) | GradSample |
// WeightSample), integers big-endian, M the miner's raw address bytes.
// It is also the Prev of step i+1, so the digests of the steps after a
// commitment form a hash chain that starts at the committed state.
func StepDigest(job JobID, miner []byte, step uint64, p StepParts) (Hash, error) {
	if len(miner) == 0 || len(miner) > MaxMinerLen {
		return Hash{}, fmt.Errorf("pouw: miner address must be 1 to %d bytes, got %d", MaxMinerLen, len(miner))
	}
	var buf [len(DigestDomainV2) + 8 + 4 + 1 + MaxMinerLen + 8 + 4*HashLen]byte
	b := append(buf[:0], DigestDomainV2...)
	b = binary.BigEndian.AppendUint64(b, job.TaskID)
	b = binary.BigEndian.AppendUint32(b, job.JobIndex)
	b = append(b, byte(len(miner)))
	b = append(b, miner...)
	b = binary.BigEndian.AppendUint64(b, step)
	b = append(b, p.Prev[:]...)
	b = append(b, p.Batch[:]...)
	b = append(b, p.GradSample[:]...)
	b = append(b, p.WeightSample[:]...)
	return sha256.Sum256(b), nil
}

// TicketValueV2 is v = SHA-256("pouw/v2/ticket" | d | A), the one lottery
// value of a step with digest d under anchor A.
func TicketValueV2(digest Hash, anchor []byte) Hash {
	h := sha256.New()
	h.Write([]byte(TicketDomainV2))
	h.Write(digest[:])
	h.Write(anchor)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Lottery is a step's draw in version 2. A step that earns a tickets holds
// the a disjoint intervals [j*target, (j+1)*target), j < a, of the 2^256
// lottery values; its one value v wins ticket j = floor(v / target) when
// j < a. So each ticket wins with probability target/2^256, exactly as a
// v1 ticket, and drawing costs one hash per step however many tickets it
// earned (v1 hashed every ticket).
type Lottery struct {
	target Hash
	// limit is a*target as five 64-bit words, most significant first: v
	// wins iff v < limit.
	limit [5]uint64
}

// NewLottery prepares draws for steps of a tickets each against target.
func NewLottery(tickets uint64, target Hash) Lottery {
	l := Lottery{target: target}
	var carry uint64
	for w := 3; w >= 0; w-- {
		hi, lo := bits.Mul64(binary.BigEndian.Uint64(target[8*w:]), tickets)
		var c uint64
		l.limit[w+1], c = bits.Add64(lo, carry, 0)
		carry = hi + c
	}
	l.limit[0] = carry
	return l
}

// Draw returns the step's lottery value, and the winning ticket index and
// true when it wins.
func (l Lottery) Draw(digest Hash, anchor []byte) (Hash, uint64, bool) {
	v := TicketValueV2(digest, anchor)
	if !l.below(v) {
		return v, 0, false
	}
	return v, TicketIndex(v, l.target), true
}

// below reports v < limit.
func (l Lottery) below(v Hash) bool {
	if l.limit[0] != 0 {
		return true
	}
	for w := 0; w < 4; w++ {
		x := binary.BigEndian.Uint64(v[8*w:])
		if x != l.limit[w+1] {
			return x < l.limit[w+1]
		}
	}
	return false
}

// TicketIndex is floor(value / target), saturated at 2^64-1 (target must
// be non-zero: ParseTarget).
func TicketIndex(value, target Hash) uint64 {
	q := new(big.Int).Quo(new(big.Int).SetBytes(value[:]), new(big.Int).SetBytes(target[:]))
	if !q.IsUint64() {
		return ^uint64(0)
	}
	return q.Uint64()
}
