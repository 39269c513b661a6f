package jobspec

import (
	"slices"
	"sync"

	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Preparer is Prepare with the datasets of the last few folds kept: a
// verifier checks proof after proof of the same jobs, and every
// configuration of a task trains on the same folds, so gathering a fold
// (a float32 copy of the whole dataset: 220 MB for MNIST) once per proof
// made a verifier's memory swing by gigabytes (the soak's verifiers
// between 0.55 and 1.3 GB) and its CPU time go to copying. A fold's
// training samples are a View of a uint8 dataset (no copy; the same
// values), its held-out samples (1/folds of them) gathered. The kept
// datasets are shared read-only by every Job the Preparer returns (ml's
// trainer only reads its Dataset). Safe for concurrent use.
type Preparer struct {
	// Keep is how many folds stay gathered (0 means 2: the folds of the
	// jobs a verifier has in flight are usually one task's).
	Keep int

	mu    sync.Mutex
	folds []*gathered // most recent first
}

// gathered is one fold's gathered datasets.
type gathered struct {
	source          *data.Dataset // the dataset it was gathered from (datasets are loaded once, by SHA-256)
	trainIdx, hoIdx []int
	train, heldOut  ml.Dataset
}

// holds reports whether g is the fold of dataset d with indices tr, ho.
func (g *gathered) holds(d *data.Dataset, tr, ho []int) bool {
	return g.source == d && slices.Equal(g.trainIdx, tr) && slices.Equal(g.hoIdx, ho)
}

// Prepare is jobspec.Prepare, sharing the gathered datasets of a fold
// seen recently.
func (p *Preparer) Prepare(task *types.Task, index uint32, d *data.Dataset) (*Job, error) {
	s, tr, ho, err := specAndFolds(task, index, d)
	if err != nil {
		return nil, err
	}
	g := p.lookup(d, tr, ho)
	if g == nil {
		// Gathered outside the lock: two callers may gather the same fold
		// at once, and the second one's copy is then dropped.
		g = &gathered{source: d, trainIdx: tr, hoIdx: ho, train: View(d, tr), heldOut: Gather(d, ho)}
		p.insert(g)
	}
	return &Job{Spec: s, Train: g.train, HeldOut: g.heldOut, TrainIdx: g.trainIdx, HeldOutIdx: g.hoIdx}, nil
}

func (p *Preparer) lookup(d *data.Dataset, tr, ho []int) *gathered {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, g := range p.folds {
		if g.holds(d, tr, ho) {
			copy(p.folds[1:i+1], p.folds[:i])
			p.folds[0] = g
			return g
		}
	}
	return nil
}

func (p *Preparer) insert(g *gathered) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.folds {
		if h.holds(g.source, g.trainIdx, g.hoIdx) {
			return
		}
	}
	keep := p.Keep
	if keep <= 0 {
		keep = 2
	}
	p.folds = slices.Insert(p.folds, 0, g)
	if len(p.folds) > keep {
		clear(p.folds[keep:])
		p.folds = p.folds[:keep]
	}
}
