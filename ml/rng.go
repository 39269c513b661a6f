package ml

import (
	"crypto/sha256"
	"encoding/binary"
)

// RNG is the engine's canonical random generator: SplitMix64 seeded from
// SHA-256(domain | seed | a | b). Streams for different purposes (weight
// init of parameter i, the permutation of epoch e, dropout at step s in
// layer l) are independent and fixed by their keys alone.
type RNG struct{ s uint64 }

// NewRNG returns the stream for (domain, seed, a, b).
func NewRNG(domain string, seed, a, b uint64) *RNG {
	h := sha256.New()
	h.Write([]byte(domain))
	var buf [24]byte
	binary.LittleEndian.PutUint64(buf[0:], seed)
	binary.LittleEndian.PutUint64(buf[8:], a)
	binary.LittleEndian.PutUint64(buf[16:], b)
	h.Write(buf[:])
	sum := h.Sum(nil)
	return &RNG{s: binary.LittleEndian.Uint64(sum)}
}

// Uint64 returns the next SplitMix64 output.
func (r *RNG) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float32 returns a uniform value in [0, 1): the top 24 bits times 2^-24.
func (r *RNG) Float32() float32 {
	return float32(r.Uint64()>>40) * (1.0 / (1 << 24))
}

// Intn returns a uniform integer in [0, n) (Lemire's method with
// rejection, so unbiased). n must be > 0.
func (r *RNG) Intn(n int) int {
	un := uint64(n)
	for {
		x := r.Uint64()
		hi, lo := mul64(x, un)
		if lo < un {
			t := -un % un
			if lo < t {
				continue
			}
		}
		return int(hi)
	}
}

func mul64(x, y uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	x0, x1 := x&mask32, x>>32
	y0, y1 := y&mask32, y>>32
	w0 := x0 * y0
	t := x1*y0 + w0>>32
	w1, w2 := t&mask32, t>>32
	w1 += x0 * y1
	hi = x1*y1 + w2 + w1>>32
	lo = x * y
	return
}

// Permutation returns a uniform permutation of 0..n-1 (Fisher-Yates from
// the last index down).
func (r *RNG) Permutation(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
