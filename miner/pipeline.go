package miner

import (
	"context"
	"fmt"
	"time"

	"github.com/pouw/pouwd/p2p"
)

// encoded is a commitment's checkpoint, encoded at its step; start is
// when that step began (the commitment duration metric runs from there
// to the commitment's inclusion).
type encoded struct {
	key   p2p.CkptKey
	step  uint64
	b     []byte
	start time.Time
}

// checkpointer stores each commitment's checkpoint in order and hands its
// commitment to the committer; training goes on meanwhile (it only pays
// for hashing and encoding the state). Stored buffers go back on free for
// the next encoding (a few are kept; the rest are dropped). After its
// first failure it only drains. It owns its state; done gets its error
// once in is closed, and out is closed then.
type checkpointer struct {
	store func(encoded) error
	in    chan encoded
	free  chan []byte
	out   chan<- commit
	done  chan error
}

func newCheckpointer(store func(encoded) error, out chan<- commit) *checkpointer {
	return &checkpointer{store: store, in: make(chan encoded, 64), free: make(chan []byte, 2), out: out, done: make(chan error, 1)}
}

// buffer returns a stored checkpoint's buffer to encode into, or nil.
func (c *checkpointer) buffer() []byte {
	select {
	case b := <-c.free:
		return b
	default:
		return nil
	}
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.out)
	var err error
	for e := range c.in {
		if err != nil || ctx.Err() != nil {
			continue // drain
		}
		if serr := c.store(e); serr != nil {
			err = fmt.Errorf("checkpoint at step %d: %w", e.step, serr)
			continue
		}
		select {
		case c.free <- e.b:
		default:
		}
		c.out <- commit{step: e.step, hash: e.key.WeightsHash, opt: e.key.OptimizerHash, start: e.start}
	}
	c.done <- err
}

// committed is what a committer hands back: the inclusion height of every
// commitment it posted or found on chain, or why it stopped.
type committed struct {
	heights map[uint64]int64
	err     error
}

// committer posts commitments in order, several in one tx when training is
// ahead of the chain (up to maxBatch). After its first failure it only
// drains. It owns its state; done gets the result once in is closed.
type committer struct {
	post     func(context.Context, []commit) (map[uint64]int64, error)
	onPosted func(batch []commit)
	in       chan commit
	done     chan committed
}

const maxCommitBatch = 32

func newCommitter(post func(context.Context, []commit) (map[uint64]int64, error), onPosted func([]commit)) *committer {
	return &committer{post: post, onPosted: onPosted, in: make(chan commit, 1024), done: make(chan committed, 1)}
}

func (c *committer) run(ctx context.Context) {
	res := committed{heights: map[uint64]int64{}}
	for first := range c.in {
		if res.err != nil {
			continue // drain
		}
		batch := []commit{first}
	more:
		for len(batch) < maxCommitBatch {
			select {
			case x, ok := <-c.in:
				if !ok {
					break more
				}
				batch = append(batch, x)
			default:
				break more
			}
		}
		heights, err := c.post(ctx, batch)
		if err != nil {
			res.err = fmt.Errorf("commit: %w", err)
			continue
		}
		for s, h := range heights {
			res.heights[s] = h
		}
		c.onPosted(batch)
	}
	c.done <- res
}
