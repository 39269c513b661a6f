package rng

// MT19937 is the 32-bit Mersenne Twister exactly as numpy's legacy
// RandomState uses it: seeded with init_genrand(seed) for an integer seed,
// so that Shuffle below reproduces numpy.random.RandomState(seed).shuffle
// and therefore scikit-learn's KFold / StratifiedKFold with
// random_state=seed, bit for bit. It is not safe for concurrent use.
type MT19937 struct {
	mt  [624]uint32
	idx int
}

// NewMT19937 seeds the generator like numpy.random.RandomState(seed).
func NewMT19937(seed uint32) *MT19937 {
	r := &MT19937{}
	r.mt[0] = seed
	for i := 1; i < 624; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.idx = 624
	return r
}

func (r *MT19937) generate() {
	const upper, lower, matrixA = 0x80000000, 0x7fffffff, 0x9908b0df
	for i := 0; i < 624; i++ {
		y := (r.mt[i] & upper) | (r.mt[(i+1)%624] & lower)
		v := r.mt[(i+397)%624] ^ (y >> 1)
		if y&1 != 0 {
			v ^= matrixA
		}
		r.mt[i] = v
	}
	r.idx = 0
}

// Uint32 returns the next 32-bit output (numpy's next_uint32).
func (r *MT19937) Uint32() uint32 {
	if r.idx >= 624 {
		r.generate()
	}
	y := r.mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// Uint64 returns numpy's legacy next_uint64: two 32-bit draws, high first.
func (r *MT19937) Uint64() uint64 {
	hi := uint64(r.Uint32())
	return hi<<32 | uint64(r.Uint32())
}

// Interval returns a uniform integer in [0, max] with numpy's legacy
// random_interval rule: mask to the next power of two minus one and reject.
func (r *MT19937) Interval(max uint64) uint64 {
	if max == 0 {
		return 0
	}
	mask := max
	mask |= mask >> 1
	mask |= mask >> 2
	mask |= mask >> 4
	mask |= mask >> 8
	mask |= mask >> 16
	mask |= mask >> 32
	if max <= 0xffffffff {
		for {
			v := uint64(r.Uint32()) & mask
			if v <= max {
				return v
			}
		}
	}
	for {
		v := r.Uint64() & mask
		if v <= max {
			return v
		}
	}
}

// Shuffle permutes a in place exactly like numpy's legacy
// RandomState.shuffle on a one-dimensional array: for i from n-1 down to 1,
// swap a[i] with a[Interval(i)].
func Shuffle[T any](r *MT19937, a []T) {
	for i := len(a) - 1; i > 0; i-- {
		j := r.Interval(uint64(i))
		a[i], a[j] = a[j], a[i]
	}
}

// Permutation returns numpy.random.RandomState(seed).permutation(n).
func Permutation(n int, seed uint32) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	Shuffle(NewMT19937(seed), p)
	return p
}
