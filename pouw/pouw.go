package pouw

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// Domain separates every hash this package defines from any other use of SHA-256.
const (
	DigestDomain = "pouw/v1"
	TicketDomain = "pouw/v1/ticket"
	// HashLen is the length of every hash here (SHA-256).
	HashLen = 32
	// OmegaScale is the fixed-point scale of the ticket weights: an omega of
	// 1.0 is OmegaScale.
	OmegaScale = 1_000_000_000
	// MaxMinerLen bounds the miner's address bytes in the digest.
	MaxMinerLen = 255
)

// Hash is a SHA-256 digest.
type Hash [HashLen]byte

// JobID names one (configuration, fold) job of a task.
type JobID struct {
	TaskID   uint64
	JobIndex uint32
}

// StepHashes are the four tensor hashes of one training step i in
// version 1 (kept for its vectors and stored proofs; version 2 is
// StepParts):
// H(W_i), H(B_i), H(G_i), H(W_{i+1}), each over canonical little-endian
// bytes in the engine's fixed parameter order.
type StepHashes struct {
	WeightsBefore Hash
	Batch         Hash
	Gradients     Hash
	WeightsAfter  Hash
}

// WorkDigest is d_i = SHA-256("pouw/v1" | task u64 | job u32 | len(M) u8 |
// M | i u64 | H(W_i) | H(B_i) | H(G_i) | H(W_{i+1})), integers big-endian,
// M the miner's raw address bytes. The miner is bound into the digest, so a
// proof copied by another miner has another digest and other tickets.
func WorkDigest(job JobID, miner []byte, step uint64, h StepHashes) (Hash, error) {
	if len(miner) == 0 || len(miner) > MaxMinerLen {
		return Hash{}, fmt.Errorf("pouw: miner address must be 1 to %d bytes, got %d", MaxMinerLen, len(miner))
	}
	d := sha256.New()
	d.Write([]byte(DigestDomain))
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], job.TaskID)
	d.Write(buf[:])
	binary.BigEndian.PutUint32(buf[:4], job.JobIndex)
	d.Write(buf[:4])
	d.Write([]byte{byte(len(miner))})
	d.Write(miner)
	binary.BigEndian.PutUint64(buf[:], step)
	d.Write(buf[:])
	d.Write(h.WeightsBefore[:])
	d.Write(h.Batch[:])
	d.Write(h.Gradients[:])
	d.Write(h.WeightsAfter[:])
	var out Hash
	copy(out[:], d.Sum(nil))
	return out, nil
}

// TicketCount is a = ceil(omega_B*|B| + omega_M*|M|) for a step over a
// batch of batchSize samples with a model of params parameters, the omegas
// in units of 1/OmegaScale: more useful work, more tickets, as in the paper.
// The result saturates at maxTickets (and at 2^63), so a ticket index can
// be range-checked and a huge model cannot buy unbounded hashing.
func TicketCount(omegaB, omegaM, batchSize, params, maxTickets uint64) uint64 {
	hiB, loB := bits.Mul64(omegaB, batchSize)
	hiM, loM := bits.Mul64(omegaM, params)
	lo, carry := bits.Add64(loB, loM, 0)
	hi, overflow := bits.Add64(hiB, hiM, carry)
	if overflow != 0 || hi >= OmegaScale {
		return maxTickets
	}
	q, r := bits.Div64(hi, lo, OmegaScale)
	if r != 0 {
		q++
	}
	if q > maxTickets {
		return maxTickets
	}
	return q
}

// TicketValue is SHA-256("pouw/v1/ticket" | d | A | j u64), where A is the
// anchor: the header hash of the first block after the commitment that the
// step descends from, unknown to the miner when it committed.
func TicketValue(digest Hash, anchor []byte, j uint64) Hash {
	h := sha256.New()
	h.Write([]byte(TicketDomain))
	h.Write(digest[:])
	h.Write(anchor)
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], j)
	h.Write(buf[:])
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}

// Wins reports whether a ticket value is below the target, both read as
// 256-bit big-endian integers.
func Wins(value, target Hash) bool { return bytes.Compare(value[:], target[:]) < 0 }

// FirstWinner scans tickets 0..count-1 and returns the first winning index.
func FirstWinner(digest Hash, anchor []byte, count uint64, target Hash) (uint64, bool) {
	for j := uint64(0); j < count; j++ {
		if Wins(TicketValue(digest, anchor, j), target) {
			return j, true
		}
	}
	return 0, false
}

// ErrBadTarget is returned for a target that is not 32 bytes or is zero.
var ErrBadTarget = errors.New("pouw: target must be 32 bytes and non-zero")

// ParseTarget checks and converts target bytes.
func ParseTarget(b []byte) (Hash, error) {
	var t Hash
	if len(b) != HashLen {
		return t, ErrBadTarget
	}
	copy(t[:], b)
	if t == (Hash{}) {
		return t, ErrBadTarget
	}
	return t, nil
}

// TargetFromProbability returns the target at which one ticket wins with
// probability num/den (floor(2^256 * num / den), at most 2^256-1).
func TargetFromProbability(num, den uint64) Hash {
	if den == 0 || num >= den {
		return maxTarget()
	}
	t := new(big.Int).Lsh(big.NewInt(1), 256)
	t.Mul(t, new(big.Int).SetUint64(num))
	t.Quo(t, new(big.Int).SetUint64(den))
	return toHash(t)
}

// Retarget moves the target toward `want` accepted proofs per interval
// given `got`: new = old * want / got, bounded to [old/factor, old*factor]
// (got = 0 counts as the maximal easing), at least 1 and at most 2^256-1.
// Pure integer arithmetic: every node computes the same bytes.
func Retarget(old Hash, got, want, factor uint64) Hash {
	if factor < 1 {
		factor = 1
	}
	o := new(big.Int).SetBytes(old[:])
	lo := new(big.Int).Quo(o, new(big.Int).SetUint64(factor))
	hi := new(big.Int).Mul(o, new(big.Int).SetUint64(factor))
	var n *big.Int
	if got == 0 {
		n = hi
	} else {
		n = new(big.Int).Mul(o, new(big.Int).SetUint64(want))
		n.Quo(n, new(big.Int).SetUint64(got))
		if n.Cmp(lo) < 0 {
			n = lo
		}
		if n.Cmp(hi) > 0 {
			n = hi
		}
	}
	if n.Sign() == 0 {
		n = big.NewInt(1)
	}
	return toHash(n)
}

func maxTarget() Hash {
	var h Hash
	for i := range h {
		h[i] = 0xff
	}
	return h
}

func toHash(n *big.Int) Hash {
	max := new(big.Int).SetBytes(func() []byte { m := maxTarget(); return m[:] }())
	if n.Cmp(max) > 0 {
		return maxTarget()
	}
	var h Hash
	n.FillBytes(h[:])
	return h
}

// VerdictCommitment is what a verifier commits before revealing its
// verdict: SHA-256("pouw/v1/verdict" | proof id u64 | len(V) u8 | V |
// accept u8 | recomputed digest | salt). Binding the verifier's address
// means a lazy verifier cannot copy another's commitment.
func VerdictCommitment(proofID uint64, verifier []byte, accept bool, digest Hash, salt []byte) Hash {
	h := sha256.New()
	h.Write([]byte("pouw/v1/verdict"))
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], proofID)
	h.Write(buf[:])
	h.Write([]byte{byte(len(verifier))})
	h.Write(verifier)
	if accept {
		h.Write([]byte{1})
	} else {
		h.Write([]byte{0})
	}
	h.Write(digest[:])
	h.Write(salt)
	var out Hash
	copy(out[:], h.Sum(nil))
	return out
}
