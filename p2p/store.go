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

// ErrNotFound is returned for an item a store does not hold.
var ErrNotFound = errors.New("p2p: not found")

// Store keeps shards, checkpoints and models on disk under one directory
// (normally <home>/p2p/store):
//
//	shards/<dataset id>/<index>            one verified shard
//	ckpt/<task>/<job>/<weights hash hex>   a checkpoint, content-addressed
//	model/<model hash hex>                 a final model, content-addressed
//
// Files appear by rename once complete, so a reader never sees half a file.
// Everything put is checked against the hash it is stored under (shards by
// the caller, against the chain's record).
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

// PutCheckpoint stores a job's checkpoint under its SHA-256 and returns it.
func (s *Store) PutCheckpoint(task uint64, job uint32, b []byte) ([]byte, error) {
	h := sha256.Sum256(b)
	p := filepath.Join(s.root, "ckpt", strconv.FormatUint(task, 10), strconv.FormatUint(uint64(job), 10), hex.EncodeToString(h[:]))
	return h[:], s.write(p, b)
}

// Checkpoint reads a checkpoint by job and weights hash, re-checking the hash.
func (s *Store) Checkpoint(task uint64, job uint32, hash []byte) ([]byte, error) {
	p := filepath.Join(s.root, "ckpt", strconv.FormatUint(task, 10), strconv.FormatUint(uint64(job), 10), hex.EncodeToString(hash))
	return s.readHashed(p, hash)
}

// PutModel stores a model under its SHA-256 and returns it.
func (s *Store) PutModel(b []byte) ([]byte, error) {
	h := sha256.Sum256(b)
	return h[:], s.write(filepath.Join(s.root, "model", hex.EncodeToString(h[:])), b)
}

// Model reads a model by hash, re-checking the hash.
func (s *Store) Model(hash []byte) ([]byte, error) {
	return s.readHashed(filepath.Join(s.root, "model", hex.EncodeToString(hash)), hash)
}

func (s *Store) readHashed(p string, hash []byte) ([]byte, error) {
	b, err := s.read(p)
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(b); !bytes.Equal(h[:], hash) {
		return nil, fmt.Errorf("p2p: store: %s is damaged (sha256 %x)", p, h[:])
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
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "put-*")
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
