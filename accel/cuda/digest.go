//go:build cuda || cudaemu

package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/pouw/statehash"
)

// The device side of the version 2 work digest (pouw/v2.go) and state hash
// (pouw/statehash), kernels/digest.cu: only the sampled values and the
// 32-byte leaf hashes cross to the host, which hashes them exactly as the
// CPU path does, so a digest is the same bits on the CPU, the emulator and
// a GPU.

// u64 passes a 64-bit integer argument.
func (a *launchArgs) u64(x uint64) *launchArgs {
	a.v, a.kind = append(a.v, x), append(a.kind, 'q')
	return a
}

// SampleValues returns the pouw.SampleCount float32s at the positions
// pouw.SamplePositions(prev, stream, n) draws over the concatenation of
// tensors (in the given order, n values in all) as 4·SampleCount
// little-endian bytes: the values of pouw.GradSample (stream
// pouw.SampleGrads) or pouw.WeightSample (stream pouw.SampleWeights). With
// n = 0 it returns nil, the empty sample.
func (b *Backend) SampleValues(tensors []*Buffer, prev pouw.Hash, stream int) ([]byte, error) {
	if stream != pouw.SampleWeights && stream != pouw.SampleGrads {
		return nil, fmt.Errorf("cuda.SampleValues: stream %d, expected %d (pouw.SampleWeights) or %d (pouw.SampleGrads)", stream, pouw.SampleWeights, pouw.SampleGrads)
	}
	if len(tensors) > math.MaxInt32-1 {
		return nil, fmt.Errorf("cuda.SampleValues: %d tensors, expected at most %d", len(tensors), math.MaxInt32-1)
	}
	// The device's argument block, in 8-byte words: the output (count
	// 4-byte values), the T base pointers, the T+1 cumulative offsets.
	const count = pouw.SampleCount
	const outWords = (count + 1) / 2
	T := len(tensors)
	arg := make([]uint64, outWords+T+T+1)
	bases, offsets := arg[outWords:outWords+T], arg[outWords+T:]
	var n uint64
	for i, x := range tensors {
		if err := b.own("SampleValues", fmt.Sprintf("tensor %d", i), x); err != nil {
			return nil, err
		}
		bases[i] = uint64(x.ptr)
		n += uint64(x.n)
		offsets[i+1] = n
	}
	if n == 0 {
		return nil, nil
	}
	seed := binary.BigEndian.Uint64(prev[8*stream:])

	b.mu.Lock()
	defer b.mu.Unlock()
	buf, err := b.allocLocked("sample gather arguments", 2*len(arg))
	if err != nil {
		return nil, err
	}
	vals := make([]uint32, count)
	err = b.drv.htod(buf.ptr, unsafe.Pointer(&arg[0]), 8*uint64(len(arg)))
	if err == nil {
		p := uint64(buf.ptr)
		err = b.launchLocked(kSampleGather, grid1(count), block1,
			args().u64(seed).i32(count).u64(n).u64(p+8*outWords).u64(p+8*(outWords+uint64(T))).i32(T).u64(p))
	}
	if err == nil {
		err = b.drv.dtoh(unsafe.Pointer(&vals[0]), buf.ptr, 4*count)
	}
	if ferr := b.freeLocked(buf); err == nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("cuda.SampleValues: %d values over %d tensors: %w", n, T, err)
	}
	out := make([]byte, 4*count)
	for k, v := range vals {
		binary.LittleEndian.PutUint32(out[4*k:], v)
	}
	return out, nil
}

// own checks that x is a buffer of this backend.
func (b *Backend) own(op, what string, x *Buffer) error {
	switch {
	case x == nil:
		return fmt.Errorf("cuda.%s: %s is nil, expected a device buffer", op, what)
	case x.b != b:
		return fmt.Errorf("cuda.%s: %s belongs to another backend", op, what)
	}
	return nil
}

// DeviceTensor is a named tensor of a state held on the device: the
// float32 (or int32) values of Buf, 4 little-endian bytes each, as
// statehash.Tensor's Data. Buf holds exactly the elements of Shape.
type DeviceTensor struct {
	Name  string
	Shape []int
	Buf   *Buffer
}

// StateHash is statehash.Sum(domain, tensors) over device tensors: the
// leaves (statehash.Leaf of each LeafBytes of each tensor's data) are
// hashed on the device, one launch per tensor, their 32-byte hashes
// downloaded, and statehash.TensorHash and statehash.Combine applied on
// the host. A tensor with no elements may have a nil Buf.
func (b *Backend) StateHash(domain string, tensors []DeviceTensor) (pouw.Hash, error) {
	first := make([]int, len(tensors)+1) // leaf index of each tensor's first leaf
	for i, t := range tensors {
		n := 1
		for _, d := range t.Shape {
			if d < 0 || d > math.MaxUint32 {
				return pouw.Hash{}, fmt.Errorf("cuda.StateHash: tensor %q has shape %v, expected dimensions in [0, 2^32)", t.Name, t.Shape)
			}
			n *= d
		}
		have := 0
		if t.Buf != nil || n != 0 {
			if err := b.own("StateHash", fmt.Sprintf("tensor %q", t.Name), t.Buf); err != nil {
				return pouw.Hash{}, err
			}
			have = t.Buf.n
		}
		if have != n {
			return pouw.Hash{}, fmt.Errorf("cuda.StateHash: tensor %q of shape %v has %d values on the device, expected %d", t.Name, t.Shape, have, n)
		}
		first[i+1] = first[i] + statehash.Leaves(4*n)
	}
	leaves := first[len(tensors)]
	words := make([]uint32, 8*leaves)
	if leaves > 0 {
		if err := b.hashLeaves(tensors, first, words); err != nil {
			return pouw.Hash{}, err
		}
	}
	hs := make([]pouw.Hash, leaves)
	for l := range hs {
		for w := 0; w < 8; w++ {
			binary.LittleEndian.PutUint32(hs[l][4*w:], words[8*l+w])
		}
	}
	th := make([]pouw.Hash, len(tensors))
	for i, t := range tensors {
		nbytes := 0
		if t.Buf != nil {
			nbytes = 4 * t.Buf.n
		}
		th[i] = statehash.TensorHash(t.Name, t.Shape, uint64(nbytes), hs[first[i]:first[i+1]])
	}
	return statehash.Combine(domain, th), nil
}

// hashLeaves runs pouw_blake3_leaves over each tensor into one device
// buffer of 8 words per leaf and downloads it into words.
func (b *Backend) hashLeaves(tensors []DeviceTensor, first []int, words []uint32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	out, err := b.allocLocked("state hash leaves", len(words))
	if err != nil {
		return err
	}
	for i, t := range tensors {
		nl := first[i+1] - first[i]
		if nl == 0 {
			continue
		}
		if nl > math.MaxInt32 {
			err = fmt.Errorf("cuda.StateHash: tensor %q has %d leaves, expected at most %d", t.Name, nl, math.MaxInt32)
			break
		}
		err = b.launchLocked(kBlake3Leaves, [3]uint32{uint32(nl), 1, 1}, block1,
			args().buf(t.Buf).i64(4*t.Buf.n).u64(uint64(out.ptr)+32*uint64(first[i])))
		if err != nil {
			err = fmt.Errorf("cuda.StateHash: tensor %q: %w", t.Name, err)
			break
		}
	}
	if err == nil {
		if err = b.drv.dtoh(unsafe.Pointer(&words[0]), out.ptr, 4*uint64(len(words))); err != nil {
			err = fmt.Errorf("cuda.StateHash: downloading %d leaf hashes: %w", len(words)/8, err)
		}
	}
	if ferr := b.freeLocked(out); err == nil {
		err = ferr
	}
	return err
}
