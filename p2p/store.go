package p2p

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// Store errors.
var (
	// ErrNotFound is returned for an item a store does not hold.
	ErrNotFound = errors.New("p2p: not found")
	// ErrDamaged is returned for a stored item whose bytes no longer check.
	ErrDamaged = errors.New("p2p: stored copy damaged")
)

// Store keeps shards, checkpoints and models on disk under one directory
// (normally <home>/p2p/store; a miner's store holds no shards):
//
//	shards/<dataset id>/<index>                              one verified shard
//	ckpt/<task>/<job>/<weights hash hex>-<optimizer hash hex>  a committed checkpoint
//	model/<sha256 hex>                                       a final model, content-addressed
//
// Files appear by rename once complete, so a reader never sees half a file.
// Everything put is checked against the hash it is stored under: shards by
// the caller, against the chain's record; checkpoints by PutCheckpoint,
// which parses them and recomputes both commitment hashes (a miner's own,
// encoded from the hashed state, go in by PutOwnCheckpoint); models by
// their SHA-256. It is safe for concurrent use.
type Store struct {
	root string
}

// OpenStore creates (if needed) and opens a store.
func OpenStore(dir string) (*Store, error) {
	for _, d := range []string{"shards", "ckpt", "model", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("p2p: store: %w", err)
		}
	}
	return &Store{root: dir}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// Usage is what a store holds.
type Usage struct {
	// Shards and ShardBytes are the dataset shards held.
	Shards     int
	ShardBytes uint64
	// Bytes is everything held: shards, checkpoints and models.
	Bytes uint64
}

// Usage walks the store and sums what it holds (files being written, in
// tmp/, are not counted). It reads only directory entries, never file
// contents.
func (s *Store) Usage() (Usage, error) {
	var u Usage
	for _, d := range []string{"shards", "ckpt", "model"} {
		err := filepath.WalkDir(filepath.Join(s.root, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed while walking
				}
				return err
			}
			if !e.Type().IsRegular() {
				return nil
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			n := uint64(info.Size())
			u.Bytes += n
			if d == "shards" {
				u.Shards++
				u.ShardBytes += n
			}
			return nil
		})
		if err != nil {
			return u, fmt.Errorf("p2p: store usage: %w", err)
		}
	}
	return u, nil
}

func (s *Store) shardPath(id uint64, idx int) string {
	return filepath.Join(s.root, "shards", strconv.FormatUint(id, 10), strconv.Itoa(idx))
}

// PutShard stores a shard the caller has verified.
func (s *Store) PutShard(id uint64, idx int, b []byte) error {
	return s.write(s.shardPath(id, idx), b)
}

// Shard reads a stored shard (ErrNotFound when absent).
func (s *Store) Shard(id uint64, idx int) ([]byte, error) { return s.read(s.shardPath(id, idx)) }

// HasShard reports whether the shard is stored.
func (s *Store) HasShard(id uint64, idx int) bool {
	_, err := os.Stat(s.shardPath(id, idx))
	return err == nil
}

// DeleteShard removes a stored shard (no error when absent).
func (s *Store) DeleteShard(id uint64, idx int) error {
	err := os.Remove(s.shardPath(id, idx))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (s *Store) ckptPath(k CkptKey) string {
	return filepath.Join(s.root, "ckpt", strconv.FormatUint(k.TaskID, 10), strconv.FormatUint(uint64(k.JobIndex), 10),
		hex.EncodeToString(k.WeightsHash[:])+"-"+hex.EncodeToString(k.OptimizerHash[:]))
}

// PutCheckpoint stores a checkpoint under the commitment it is for, after
// verify has checked that b is the checkpoint key names (parses, and its
// weights and optimizer state hash to the key's); otherwise it stores
// nothing and returns a *MismatchError (ErrMismatch).
func (s *Store) PutCheckpoint(key CkptKey, b []byte, verify VerifyFunc) error {
	if _, err := verifyCheckpoint(verify, key, b); err != nil {
		return err
	}
	return s.write(s.ckptPath(key), b)
}

// PutOwnCheckpoint stores b under key as it is, without decoding it. It
// is for a checkpoint this process encoded itself from the state whose
// hashes key names (a miner's commitment: ml.Trainer.StepCommitting
// writes the hashes CommitHashes computed from the same tensors), where
// decoding and hashing it again would double the commitment's cost, and
// for tests that need a lying peer (one serving a checkpoint that is not
// the one it committed: Service serves what its store holds, so a receiver
// is the one that catches it). Bytes from anywhere else go through
// PutCheckpoint.
func (s *Store) PutOwnCheckpoint(key CkptKey, b []byte) error {
	return s.write(s.ckptPath(key), b)
}

// Checkpoint reads the checkpoint stored under key (ErrNotFound when
// absent). It checks only that the file is intact (its trailer hash):
// PutCheckpoint verified the content when it was stored.
func (s *Store) Checkpoint(key CkptKey) ([]byte, error) {
	p := s.ckptPath(key)
	b, err := s.read(p)
	if err != nil {
		return nil, err
	}
	if err := checkpointIntact(b); err != nil {
		return nil, fmt.Errorf("%w: store: %s is damaged: %v", ErrDamaged, p, err)
	}
	return b, nil
}

// HasCheckpoint reports whether a checkpoint is stored under key.
func (s *Store) HasCheckpoint(key CkptKey) bool {
	_, err := os.Stat(s.ckptPath(key))
	return err == nil
}

// DeleteCheckpoint removes a stored checkpoint (no error when absent).
func (s *Store) DeleteCheckpoint(key CkptKey) error {
	err := os.Remove(s.ckptPath(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// DeleteJobCheckpoints removes every checkpoint of a job (once it settled,
// nobody needs them).
func (s *Store) DeleteJobCheckpoints(task uint64, job uint32) error {
	return os.RemoveAll(filepath.Join(s.root, "ckpt", strconv.FormatUint(task, 10), strconv.FormatUint(uint64(job), 10)))
}

// PutModel stores a model under its SHA-256 and returns it.
func (s *Store) PutModel(b []byte) ([]byte, error) {
	h := sha256.Sum256(b)
	return h[:], s.write(filepath.Join(s.root, "model", hex.EncodeToString(h[:])), b)
}

// DeleteModel removes a stored model (no error when absent).
func (s *Store) DeleteModel(hash []byte) error {
	err := os.Remove(filepath.Join(s.root, "model", hex.EncodeToString(hash)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Model reads a model by hash, re-checking the hash (ErrNotFound when
// absent, ErrDamaged when the bytes on disk no longer hash to it).
func (s *Store) Model(hash []byte) ([]byte, error) {
	if len(hash) != sha256.Size {
		return nil, fmt.Errorf("%w: model hash of %d bytes", ErrNotFound, len(hash))
	}
	p := filepath.Join(s.root, "model", hex.EncodeToString(hash))
	b, err := s.read(p)
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(b); !bytes.Equal(h[:], hash) {
		return nil, fmt.Errorf("%w: store: %s is damaged (sha256 %x)", ErrDamaged, p, h[:])
	}
	return b, nil
}

func (s *Store) read(p string) ([]byte, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, p)
	}
	return b, err
}

func (s *Store) write(p string, b []byte) error {
	// Both folders again on every put, not only at OpenStore: a store
	// whose directory was deleted under a running peer (docs/FAULTS.md row
	// 5d) then refills on the next repair round instead of failing every
	// put until a restart.
	tmp := filepath.Join(s.root, "tmp")
	for _, d := range []string{filepath.Dir(p), tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(tmp, "put-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("p2p: store %s: %w", p, err)
	}
	return nil
}
