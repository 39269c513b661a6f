package cv

import "github.com/pouw/pouwd/ml/rng"

// MT19937 is the numpy-compatible Mersenne Twister of package ml/rng (the
// one ml/data splits with too).
type MT19937 = rng.MT19937

// NewMT19937 seeds the generator like numpy.random.RandomState(seed).
func NewMT19937(seed uint32) *MT19937 { return rng.NewMT19937(seed) }

// Shuffle permutes a in place exactly like numpy's legacy
// RandomState.shuffle (rng.Shuffle).
func Shuffle[T any](r *MT19937, a []T) { rng.Shuffle(r, a) }

// Permutation returns numpy.random.RandomState(seed).permutation(n).
func Permutation(n int, seed uint32) []int { return rng.Permutation(n, seed) }
