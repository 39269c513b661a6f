package statehash

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/zeebo/blake3"

	"github.com/pouw/pouwd/pouw"
)

// Domains and the leaf size of the version 2 state hash.
const (
	WeightsDomain = "pouw/v2/weights"
	OptimDomain   = "pouw/v2/optim"
	TensorDomain  = "pouw/v2/tensor"

	// LeafBytes is the size of a leaf: a tensor's data is hashed in leaves
	// of this many bytes (the last one shorter), each on its own core.
	LeafBytes = 1 << 20
)

// Tensor is one named tensor of a state: its canonical bytes (float32
// little-endian) in Data.
type Tensor struct {
	Name  string
	Shape []int
	Data  []byte
}

// Leaf is BLAKE3-256 of one leaf's bytes.
func Leaf(b []byte) pouw.Hash { return blake3.Sum256(b) }

// Leaves is the number of leaves of n data bytes: ceil(n / LeafBytes).
func Leaves(n int) int { return (n + LeafBytes - 1) / LeafBytes }

// TensorHash is BLAKE3-256("pouw/v2/tensor" | u32 len(name) | name | u32
// rank | rank x u32 dims | u64 data bytes | leaf hashes in order),
// integers big-endian: the hash of one tensor from its leaves, so that the
// leaves can be hashed anywhere (other cores, a GPU) and only their 32-byte
// hashes gathered.
func TensorHash(name string, shape []int, dataBytes uint64, leaves []pouw.Hash) pouw.Hash {
	h := blake3.New()
	h.Write([]byte(TensorDomain))
	var b [8]byte
	u32 := func(v uint32) { binary.BigEndian.PutUint32(b[:4], v); h.Write(b[:4]) }
	u32(uint32(len(name)))
	h.Write([]byte(name))
	u32(uint32(len(shape)))
	for _, d := range shape {
		u32(uint32(d))
	}
	binary.BigEndian.PutUint64(b[:], dataBytes)
	h.Write(b[:])
	for _, l := range leaves {
		h.Write(l[:])
	}
	var out pouw.Hash
	h.Sum(out[:0])
	return out
}

// Combine is BLAKE3-256(domain | u32 count | tensor hashes in order).
func Combine(domain string, tensors []pouw.Hash) pouw.Hash {
	h := blake3.New()
	h.Write([]byte(domain))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(len(tensors)))
	h.Write(b[:])
	for _, t := range tensors {
		h.Write(t[:])
	}
	var out pouw.Hash
	h.Sum(out[:0])
	return out
}

// Sum is the state hash of tensors under domain (WeightsDomain or
// OptimDomain): Combine(domain, TensorHash of each tensor). The leaves are
// hashed on up to workers goroutines (0: GOMAXPROCS), reading the data in
// place; the result does not depend on workers.
func Sum(domain string, ts []Tensor, workers int) pouw.Hash {
	return SumStates(workers, State{domain, ts})[0]
}

// State is one state to hash: its domain and tensors.
type State struct {
	Domain  string
	Tensors []Tensor
}

// SumStates is Sum of each state, their leaves hashed by one pool of
// workers (a commitment's weights and optimizer state together: two
// tensors of one leaf each then take two cores, not one after the other).
func SumStates(workers int, states ...State) []pouw.Hash {
	type leafRef struct {
		data []byte
		out  *pouw.Hash
	}
	var jobs []leafRef
	leaves := make([][][]pouw.Hash, len(states))
	for s, st := range states {
		leaves[s] = make([][]pouw.Hash, len(st.Tensors))
		for i, t := range st.Tensors {
			leaves[s][i] = make([]pouw.Hash, Leaves(len(t.Data)))
			for k := range leaves[s][i] {
				end := min((k+1)*LeafBytes, len(t.Data))
				jobs = append(jobs, leafRef{t.Data[k*LeafBytes : end], &leaves[s][i][k]})
			}
		}
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			*j.out = Leaf(j.data)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := int(next.Add(1)) - 1
					if k >= len(jobs) {
						return
					}
					*jobs[k].out = Leaf(jobs[k].data)
				}
			}()
		}
		wg.Wait()
	}
	out := make([]pouw.Hash, len(states))
	for s, st := range states {
		th := make([]pouw.Hash, len(st.Tensors))
		for i, t := range st.Tensors {
			th[i] = TensorHash(t.Name, t.Shape, uint64(len(t.Data)), leaves[s][i])
		}
		out[s] = Combine(st.Domain, th)
	}
	return out
}

// Check returns an error naming the tensor when a tensor's data is not
// 4 bytes per element of its shape.
func Check(ts []Tensor) error {
	for _, t := range ts {
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if 4*n != len(t.Data) {
			return fmt.Errorf("statehash: tensor %q of shape %v has %d bytes, expected %d", t.Name, t.Shape, len(t.Data), 4*n)
		}
	}
	return nil
}
