package p2p

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

// RingConfig shapes the consistent-hash ring.
type RingConfig struct {
	// VirtualNodes per member (default 128).
	VirtualNodes int
	// LoadFactor bounds a member's load to ceil(LoadFactor * assignments /
	// members) per dataset (consistent hashing with bounded loads; default
	// 1.25).
	LoadFactor float64
	// Replicas is how many distinct members hold each shard (default 2,
	// capped by the number of members).
	Replicas int
}

// DefaultRingConfig returns the defaults.
func DefaultRingConfig() RingConfig {
	return RingConfig{VirtualNodes: 128, LoadFactor: 1.25, Replicas: 2}
}

// Validate checks the configuration.
func (c RingConfig) Validate() error {
	if c.VirtualNodes < 1 || c.VirtualNodes > 4096 {
		return fmt.Errorf("ring: virtual nodes must be in [1, 4096], got %d", c.VirtualNodes)
	}
	if !(c.LoadFactor >= 1) || c.LoadFactor > 100 {
		return fmt.Errorf("ring: load factor must be in [1, 100], got %v", c.LoadFactor)
	}
	if c.Replicas < 1 || c.Replicas > 16 {
		return fmt.Errorf("ring: replicas must be in [1, 16], got %d", c.Replicas)
	}
	return nil
}

// ErrEmptyRing is returned when there is nobody to place shards on.
var ErrEmptyRing = errors.New("ring: no members")

type vnode struct {
	point  uint64
	member int
}

// Ring places shards on members (storage peer ids). It is a pure function of
// its members (as a set) and configuration: every node that reads the same
// storage workers from chain state computes the same placement.
type Ring struct {
	cfg     RingConfig
	members []string // sorted, distinct
	points  []vnode  // sorted by point, then member
}

// NewRing builds a ring over members (duplicates and order do not matter).
func NewRing(members []string, cfg RingConfig) (*Ring, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ms := slices.Clone(members)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	r := &Ring{cfg: cfg, members: ms, points: make([]vnode, 0, len(ms)*cfg.VirtualNodes)}
	for i, m := range ms {
		for v := 0; v < cfg.VirtualNodes; v++ {
			r.points = append(r.points, vnode{point: hash64([]byte("pouw/ring/v1/" + m + "/" + strconv.Itoa(v))), member: i})
		}
	}
	sort.Slice(r.points, func(a, b int) bool {
		if r.points[a].point != r.points[b].point {
			return r.points[a].point < r.points[b].point
		}
		return r.points[a].member < r.points[b].member
	})
	return r, nil
}

// Members returns the sorted member ids.
func (r *Ring) Members() []string { return slices.Clone(r.members) }

// Place returns, for each of n shards of the dataset with the given SHA-256,
// the members holding it (primary first). Shards are placed in index order;
// each walks clockwise from SHA-256("pouw/shard/v1" | dataset | index) and
// takes the first members not yet holding it whose load (shards of this
// dataset) is under the bound ceil(LoadFactor * n * replicas / members).
func (r *Ring) Place(dataset []byte, n int) ([][]string, error) {
	if len(r.members) == 0 {
		return nil, ErrEmptyRing
	}
	replicas := min(r.cfg.Replicas, len(r.members))
	bound := int(math.Ceil(r.cfg.LoadFactor * float64(n*replicas) / float64(len(r.members))))
	bound = max(bound, 1)
	load := make([]int, len(r.members))
	out := make([][]string, n)
	var key [8]byte
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(key[:], uint64(i))
		p := hash64(append(append([]byte("pouw/shard/v1"), dataset...), key[:]...))
		start := sort.Search(len(r.points), func(j int) bool { return r.points[j].point >= p })
		chosen := make([]int, 0, replicas)
		// Two passes: first honour the bound, then (only if the bound
		// cannot be met, which happens when n*replicas is tiny) ignore it.
		for pass := 0; pass < 2 && len(chosen) < replicas; pass++ {
			for j := 0; j < len(r.points) && len(chosen) < replicas; j++ {
				m := r.points[(start+j)%len(r.points)].member
				if slices.Contains(chosen, m) || (pass == 0 && load[m] >= bound) {
					continue
				}
				chosen = append(chosen, m)
				load[m]++
			}
		}
		for _, m := range chosen {
			out[i] = append(out[i], r.members[m])
		}
	}
	return out, nil
}

func hash64(b []byte) uint64 {
	h := sha256.Sum256(b)
	return binary.BigEndian.Uint64(h[:8])
}
