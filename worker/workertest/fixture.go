package workertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Params are chain parameters for a tiny job: a commitment every
// CommitInterval steps, one ticket per sample of a batch (at most 8), and a
// minimum bond of 100stake.
func Params(commitInterval uint64) types.Params {
	return types.Params{CommitInterval: commitInterval, OmegaBE9: 1_000_000_000, MaxTicketsPerStep: 8,
		MinWorkerBond: sdk.NewInt64Coin("stake", 100)}
}

// Tiny is a task small enough to train in milliseconds with the real
// engine: an MLP 4-8-3 trained with SGD over 60 synthetic samples (50 for
// the folds, 10 held out), batches of 4, 2 epochs, 3 folds.
type Tiny struct {
	Task     types.Task
	Record   types.Dataset
	Data     *data.Dataset
	Datasets worker.MemDatasets
}

// NewTiny builds the tiny task with id 7 on dataset 1, its chain record and
// datasets holding it.
func NewTiny() (*Tiny, error) {
	n := 60
	d := &data.Dataset{DType: data.Uint8, Shape: []int{4}, Classes: 3, U8: make([]byte, 4*n), Labels: make([]int, n), Split: make([]uint8, n)}
	for i := range n {
		d.Labels[i] = i % 3
		for e := range 4 {
			d.U8[4*i+e] = byte(i*7 + e*31 + 40*(i%3))
		}
		if i >= 50 {
			d.Split[i] = data.Test
		}
	}
	sum, err := d.SHA256()
	if err != nil {
		return nil, err
	}
	cfg := types.ModelConfig{Architecture: "mlp", Layers: []uint32{4, 8, 3}, LearningRateE9: 100_000_000, BatchSize: 4, Epochs: 2,
		Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
	task := types.Task{Id: 7, DatasetId: 1, Seed: 42, FoldSeed: bytes.Repeat([]byte{0xab}, 32), Configs: []types.ModelConfig{cfg},
		Cv: types.CVConfig{Folds: 3, Stratified: true, Metric: types.METRIC_ACCURACY}, Status: types.TASK_STATUS_TRAINING}
	rec := types.Dataset{Id: 1, Name: "tiny", Sha256: sum[:], SampleCount: uint64(n), NumClasses: 3, FeatureShape: []uint32{4}}
	return &Tiny{Task: task, Record: rec, Data: d, Datasets: worker.MemDatasets{sum: d}}, nil
}

// Jobs are the task's open jobs (one per fold).
func (t *Tiny) Jobs() []types.Job {
	out := make([]types.Job, t.Task.Cv.Folds)
	for i := range out {
		out[i] = types.Job{TaskId: t.Task.Id, Index: uint32(i), FoldIndex: uint32(i), Status: types.JOB_STATUS_OPEN}
	}
	return out
}

// Store is an in-memory miner store. Fail, when set, makes a put fail.
type Store struct {
	mu     sync.Mutex
	ckpts  map[p2p.CkptKey][]byte
	models map[[32]byte][]byte
	Fail   error
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{ckpts: map[p2p.CkptKey][]byte{}, models: map[[32]byte][]byte{}}
}

// PutCheckpoint stores b after verify has checked it.
func (s *Store) PutCheckpoint(key p2p.CkptKey, b []byte, verify p2p.VerifyFunc) error {
	if _, err := verify(key, b); err != nil {
		return &p2p.MismatchError{What: key.String(), Err: err}
	}
	return s.PutOwnCheckpoint(key, b)
}

// PutOwnCheckpoint stores b as it is.
func (s *Store) PutOwnCheckpoint(key p2p.CkptKey, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return s.Fail
	}
	s.ckpts[key] = append([]byte(nil), b...)
	return nil
}

// Checkpoint returns what is stored under key.
func (s *Store) Checkpoint(key p2p.CkptKey) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.ckpts[key]
	if !ok {
		return nil, fmt.Errorf("%w: %s", p2p.ErrNotFound, key)
	}
	return b, nil
}

// Checkpoints is how many checkpoints are stored.
func (s *Store) Checkpoints() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.ckpts) }

// PutModel stores a model under its SHA-256.
func (s *Store) PutModel(b []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Fail != nil {
		return nil, s.Fail
	}
	h := sha256.Sum256(b)
	s.models[h] = append([]byte(nil), b...)
	return h[:], nil
}

// Model returns the model stored under hash.
func (s *Store) Model(hash []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var k [32]byte
	copy(k[:], hash)
	b, ok := s.models[k]
	if !ok {
		return nil, fmt.Errorf("%w: model %x", p2p.ErrNotFound, hash)
	}
	return b, nil
}

// Fetcher serves a verifier what a miner's store holds, checking
// checkpoints as p2p does (a mismatch is a *p2p.MismatchError). Err, when
// set, fails every fetch; Fetches counts them.
type Fetcher struct {
	Store *Store
	mu    sync.Mutex
	Err   error
	n     int
}

// Fetches is how many fetches were made.
func (f *Fetcher) Fetches() int { f.mu.Lock(); defer f.mu.Unlock(); return f.n }

func (f *Fetcher) start() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return f.Err
}

// Checkpoint implements verifier.Fetcher.
func (f *Fetcher) Checkpoint(_ context.Context, _ string, key p2p.CkptKey) (*ml.Checkpoint, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	b, err := f.Store.Checkpoint(key)
	if err != nil {
		return nil, err
	}
	ck, err := worker.VerifyCheckpoint(key, b)
	if err != nil {
		return nil, &p2p.MismatchError{Peer: "fake", What: key.String(), Err: err}
	}
	return ck.(*ml.Checkpoint), nil
}

// Model implements verifier.Fetcher.
func (f *Fetcher) Model(_ context.Context, _ string, hash []byte) ([]byte, error) {
	if err := f.start(); err != nil {
		return nil, err
	}
	return f.Store.Model(hash)
}

// ErrInjected is the error tests inject.
var ErrInjected = errors.New("workertest: injected failure")
