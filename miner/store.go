package miner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// ErrNotFound is returned for a checkpoint, model or dataset that is not held.
var ErrNotFound = errors.New("miner: not found")

// Store keeps what a miner serves: its committed checkpoints, keyed by
// (task, job, weights hash) as the chain commits them, and its final models,
// keyed by the SHA-256 of their bytes (the model hash it submits). Files
// appear by rename once complete. It is safe for concurrent use.
type Store struct{ root string }

// OpenStore opens (creating) a store under dir.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return nil, fmt.Errorf("miner: store %s: %w", dir, err)
	}
	return &Store{root: dir}, nil
}

func (s *Store) ckptPath(task uint64, job uint32, wh []byte) string {
	return filepath.Join(s.root, "ckpt", strconv.FormatUint(task, 10), strconv.FormatUint(uint64(job), 10), hex.EncodeToString(wh))
}

// PutCheckpoint stores a checkpoint under the weights hash it commits to.
func (s *Store) PutCheckpoint(task uint64, job uint32, weightsHash, b []byte) error {
	return s.write(s.ckptPath(task, job, weightsHash), b)
}

// Checkpoint returns the checkpoint stored under (task, job, weights hash).
func (s *Store) Checkpoint(_ context.Context, task uint64, job uint32, weightsHash []byte) ([]byte, error) {
	return s.read(s.ckptPath(task, job, weightsHash))
}

// PutModel stores a model and returns its SHA-256.
func (s *Store) PutModel(b []byte) ([]byte, error) {
	h := sha256.Sum256(b)
	return h[:], s.write(filepath.Join(s.root, "model", hex.EncodeToString(h[:])), b)
}

// Model returns the model with this SHA-256.
func (s *Store) Model(_ context.Context, hash []byte) ([]byte, error) {
	return s.read(filepath.Join(s.root, "model", hex.EncodeToString(hash)))
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
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), p)
}

// Datasets gives the canonical dataset a chain record names.
type Datasets interface {
	Dataset(ctx context.Context, rec *types.Dataset) (*data.Dataset, error)
}

// DirDatasets finds prepared dataset directories (ml/data: dataset.pouw +
// meta.json) under Root whose SHA-256 is the chain record's, and loads
// (verifying) the first match. Datasets are cached in memory by SHA-256.
type DirDatasets struct {
	Root  string
	cache sync.Map
}

// Dataset implements Datasets.
func (d *DirDatasets) Dataset(_ context.Context, rec *types.Dataset) (*data.Dataset, error) {
	want := hex.EncodeToString(rec.Sha256)
	if v, ok := d.cache.Load(want); ok {
		return v.(*data.Dataset), nil
	}
	dirs := []string{d.Root}
	if ents, err := os.ReadDir(d.Root); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(d.Root, e.Name()))
			}
		}
	}
	for _, dir := range dirs {
		m, err := data.ReadMeta(dir)
		if err != nil || m.SHA256 != want {
			continue
		}
		ds, _, err := data.Load(dir)
		if err != nil {
			return nil, fmt.Errorf("miner: dataset %d in %s: %w", rec.Id, dir, err)
		}
		d.cache.Store(want, ds)
		return ds, nil
	}
	return nil, fmt.Errorf("%w: dataset %d (%s, sha256 %s) is not prepared under %s", ErrNotFound, rec.Id, rec.Name, want, d.Root)
}

// MemDatasets serves in-memory datasets by their SHA-256 (tests, demos).
type MemDatasets map[[32]byte]*data.Dataset

// Dataset implements Datasets.
func (m MemDatasets) Dataset(_ context.Context, rec *types.Dataset) (*data.Dataset, error) {
	var k [32]byte
	copy(k[:], rec.Sha256)
	if d, ok := m[k]; ok {
		return d, nil
	}
	return nil, fmt.Errorf("%w: dataset %d (sha256 %x)", ErrNotFound, rec.Id, rec.Sha256)
}
