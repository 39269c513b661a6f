package p2p

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
)

func members(n, from int) []string {
	var out []string
	for i := from; i < from+n; i++ {
		out = append(out, fmt.Sprintf("peer-%03d", i))
	}
	return out
}

func dsKey(i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(b[:])
	return h[:]
}

func TestRingDeterministic(t *testing.T) {
	m := members(7, 0)
	r1, _ := NewRing(m, DefaultRingConfig())
	rev := slices.Clone(m)
	slices.Reverse(rev)
	r2, _ := NewRing(append(rev, m[0]), DefaultRingConfig()) // order and duplicates do not matter
	for d := 0; d < 50; d++ {
		a, _ := r1.Place(dsKey(d), 14)
		b, _ := r2.Place(dsKey(d), 14)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("dataset %d: placement depends on member order", d)
		}
		for i, ps := range a {
			if len(ps) != 2 || ps[0] == ps[1] {
				t.Fatalf("dataset %d shard %d: %v, expected 2 distinct replicas", d, i, ps)
			}
		}
	}
	if _, err := (&Ring{cfg: DefaultRingConfig()}).Place(dsKey(0), 3); err != ErrEmptyRing {
		t.Fatalf("empty ring: %v", err)
	}
}

func TestRingBoundedLoad(t *testing.T) {
	cfg := DefaultRingConfig()
	r, _ := NewRing(members(5, 0), cfg)
	for d := 0; d < 200; d++ {
		place, _ := r.Place(dsKey(d), 14)
		load := map[string]int{}
		for _, ps := range place {
			for _, p := range ps {
				load[p]++
			}
		}
		bound := 7 // ceil(1.25 * 14 * 2 / 5)
		for p, l := range load {
			if l > bound {
				t.Fatalf("dataset %d: %s holds %d shards, bound %d", d, p, l, bound)
			}
		}
	}
}

// TestRingMovement measures how many shard placements change when one of n
// members joins or leaves: about 1/n is what consistent hashing promises.
func TestRingMovement(t *testing.T) {
	cfg := DefaultRingConfig()
	cfg.Replicas = 1
	const datasets, shards = 400, 14
	for _, n := range []int{5, 10, 20} {
		before, _ := NewRing(members(n, 0), cfg)
		joined, _ := NewRing(members(n+1, 0), cfg)
		left, _ := NewRing(members(n-1, 1), cfg)
		movedJoin, movedLeave, total := 0, 0, 0
		for d := 0; d < datasets; d++ {
			a, _ := before.Place(dsKey(d), shards)
			b, _ := joined.Place(dsKey(d), shards)
			c, _ := left.Place(dsKey(d), shards)
			for i := range a {
				total++
				if a[i][0] != b[i][0] {
					movedJoin++
				}
				if a[i][0] != c[i][0] {
					movedLeave++
				}
			}
		}
		fj, fl := float64(movedJoin)/float64(total), float64(movedLeave)/float64(total)
		t.Logf("n=%d: join moves %.3f of shards (1/(n+1) = %.3f), leave moves %.3f (1/n = %.3f)", n, fj, 1/float64(n+1), fl, 1/float64(n))
		// Bounded loads add some cascading; stay within 2x of the ideal.
		if fj > 2.0/float64(n+1) || fl > 2.0/float64(n) {
			t.Fatalf("n=%d: too much movement (join %.3f, leave %.3f)", n, fj, fl)
		}
	}
}
