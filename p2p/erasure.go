package p2p

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/reedsolomon"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Default erasure shape.
const (
	DefaultDataShards   = 10
	DefaultParityShards = 4
)

// Erasure errors.
var (
	ErrShardHash    = errors.New("p2p: shard hash mismatch")
	ErrNotEnough    = errors.New("p2p: not enough verified shards")
	ErrDatasetHash  = errors.New("p2p: rebuilt dataset hash mismatch")
	ErrErasureShape = errors.New("p2p: bad erasure shape")
)

// Coder encodes and rebuilds Reed-Solomon shards. It keeps one encoder per
// (k, m), built on first use and shared: klauspost encoders are safe for
// concurrent use. The zero value is not usable; use NewCoder.
type Coder struct {
	mu  sync.Mutex
	enc map[[2]int]reedsolomon.Encoder
}

// NewCoder returns an empty encoder cache.
func NewCoder() *Coder { return &Coder{enc: make(map[[2]int]reedsolomon.Encoder)} }

// Encoder returns the cached encoder for k data and m parity shards.
func (c *Coder) Encoder(k, m int) (reedsolomon.Encoder, error) {
	if k < 1 || m < 1 || k+m > types.MaxShards {
		return nil, fmt.Errorf("%w: need k >= 1, m >= 1, k+m <= %d, got %d+%d", ErrErasureShape, types.MaxShards, k, m)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.enc[[2]int{k, m}]; ok {
		return e, nil
	}
	e, err := reedsolomon.New(k, m)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrErasureShape, err)
	}
	c.enc[[2]int{k, m}] = e
	return e, nil
}

// Encoded is a dataset cut into shards, described as the chain records it.
type Encoded struct {
	Shards  [][]byte // k data then m parity shards, each ShardSize bytes
	Erasure types.ErasureCode
}

// Encode splits data into k data shards of ceil(len/k) bytes (the last one
// zero-padded; the original length is kept in Erasure.OriginalSize), adds m
// parity shards and hashes each (SHA-256) with their Merkle root
// (types.MerkleRoot). The result passes types.ValidateErasure.
func (c *Coder) Encode(data []byte, k, m int) (*Encoded, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: nothing to encode", ErrErasureShape)
	}
	enc, err := c.Encoder(k, m)
	if err != nil {
		return nil, err
	}
	size := (len(data) + k - 1) / k
	if (k-1)*size >= len(data) {
		return nil, fmt.Errorf("%w: %d bytes cannot fill %d data shards of %d bytes (the chain requires (k-1)*shard_size < size); use fewer data shards", ErrErasureShape, len(data), k, size)
	}
	if uint64(size) > types.MaxShardSize {
		return nil, fmt.Errorf("%w: shard size %d exceeds %d; use more data shards", ErrErasureShape, size, types.MaxShardSize)
	}
	// One allocation for all shards; data is copied so the caller's slice
	// is never aliased or padded.
	buf := make([]byte, size*(k+m))
	copy(buf, data)
	shards := make([][]byte, k+m)
	for i := range shards {
		shards[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	if err := enc.Encode(shards); err != nil {
		return nil, fmt.Errorf("p2p: reed-solomon encode: %w", err)
	}
	hashes := make([][]byte, k+m)
	for i, s := range shards {
		h := sha256.Sum256(s)
		hashes[i] = h[:]
	}
	e := types.ErasureCode{
		DataShards: uint32(k), ParityShards: uint32(m), ShardSize: uint64(size), OriginalSize: uint64(len(data)),
		ShardHashes: hashes, MerkleRoot: types.MerkleRoot(hashes),
	}
	// The chain wants every data shard to carry data: (k-1)*size < len.
	if err := types.ValidateErasure(e); err != nil {
		return nil, fmt.Errorf("%w: %d bytes cannot be cut into %d data shards the chain accepts (use fewer data shards): %v", ErrErasureShape, len(data), k, err)
	}
	return &Encoded{Shards: shards, Erasure: e}, nil
}

// VerifyShard checks one shard against the erasure record.
func VerifyShard(e *types.ErasureCode, index int, b []byte) error {
	if index < 0 || index >= len(e.ShardHashes) {
		return fmt.Errorf("%w: index %d out of range [0, %d)", ErrShardHash, index, len(e.ShardHashes))
	}
	if uint64(len(b)) != e.ShardSize {
		return fmt.Errorf("%w: shard %d has %d bytes, expected %d", ErrShardHash, index, len(b), e.ShardSize)
	}
	h := sha256.Sum256(b)
	if !bytes.Equal(h[:], e.ShardHashes[index]) {
		return fmt.Errorf("%w: shard %d has sha256 %x, expected %x", ErrShardHash, index, h[:], e.ShardHashes[index])
	}
	return nil
}

// Rebuild turns shards (nil where missing) back into the original bytes:
// every shard present is verified first and dropped (reported in bad) when
// it does not match its hash; with fewer than k left it fails with
// ErrNotEnough naming the missing indices. The data shards are
// reconstructed only when some are missing, the original length restored,
// and the result checked against want (the dataset's SHA-256, which must
// be given: bytes are never returned unchecked). shards is modified in
// place.
func (c *Coder) Rebuild(e *types.ErasureCode, shards [][]byte, want []byte) (data []byte, bad []int, err error) {
	return c.rebuild(e, shards, want, false)
}

// rebuild is Rebuild; with verified the caller vouches that every non-nil
// shard already matched its hash (FetchDataset checks each on receipt), so
// they are not hashed twice. The result is always hashed.
func (c *Coder) rebuild(e *types.ErasureCode, shards [][]byte, want []byte, verified bool) (data []byte, bad []int, err error) {
	if err := types.ValidateErasure(*e); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrErasureShape, err)
	}
	if len(want) != sha256.Size {
		return nil, nil, fmt.Errorf("%w: the trusted dataset hash has %d bytes, expected a %d-byte SHA-256", ErrDatasetHash, len(want), sha256.Size)
	}
	k, m := int(e.DataShards), int(e.ParityShards)
	if len(shards) != k+m {
		return nil, nil, fmt.Errorf("%w: %d shard slots, expected %d", ErrErasureShape, len(shards), k+m)
	}
	have := 0
	for i, s := range shards {
		if s == nil {
			continue
		}
		if !verified && VerifyShard(e, i, s) != nil {
			bad = append(bad, i)
			shards[i] = nil
			continue
		}
		have++
	}
	if have < k {
		var missing []int
		for i, s := range shards {
			if s == nil {
				missing = append(missing, i)
			}
		}
		return nil, bad, fmt.Errorf("%w: %d of %d needed; missing shard indices %v", ErrNotEnough, have, k, missing)
	}
	dataMissing := false
	for i := 0; i < k; i++ {
		if shards[i] == nil {
			dataMissing = true
		}
	}
	if dataMissing {
		enc, err := c.Encoder(k, m)
		if err != nil {
			return nil, bad, err
		}
		if err := enc.ReconstructData(shards); err != nil {
			return nil, bad, fmt.Errorf("p2p: reed-solomon reconstruct: %w", err)
		}
	}
	out := make([]byte, e.OriginalSize)
	off := 0
	for i := 0; i < k && off < len(out); i++ {
		off += copy(out[off:], shards[i])
	}
	sum := sha256.Sum256(out)
	if !bytes.Equal(sum[:], want) {
		return nil, bad, fmt.Errorf("%w: got %x, expected %x", ErrDatasetHash, sum[:], want)
	}
	return out, bad, nil
}

// ReconstructShard rebuilds one shard from any k verified shards (used to
// re-create a shard no peer holds any more). shards is modified in place.
func (c *Coder) ReconstructShard(e *types.ErasureCode, shards [][]byte, index int) ([]byte, error) {
	k, m := int(e.DataShards), int(e.ParityShards)
	enc, err := c.Encoder(k, m)
	if err != nil {
		return nil, err
	}
	if len(shards) != k+m || index < 0 || index >= len(shards) {
		return nil, fmt.Errorf("%w: shard %d of %d shard slots, expected %d slots", ErrErasureShape, index, len(shards), k+m)
	}
	have := 0
	for i, s := range shards {
		if s != nil && VerifyShard(e, i, s) == nil {
			have++
		} else {
			shards[i] = nil
		}
	}
	if have < k {
		return nil, fmt.Errorf("%w: %d of %d needed", ErrNotEnough, have, k)
	}
	if err := enc.Reconstruct(shards); err != nil {
		return nil, fmt.Errorf("p2p: reed-solomon reconstruct: %w", err)
	}
	if err := VerifyShard(e, index, shards[index]); err != nil {
		return nil, err
	}
	return shards[index], nil
}
