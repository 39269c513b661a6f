package verifier

import (
	"container/heap"
	"context"
	"sync"
)

// gate admits at most n holders at once; while it is full, waiters are
// admitted earliest deadline first (ties in arrival order). A verifier's
// proof replays queue on it by their commit deadline: when more proofs
// are assigned than its workers replay at once (after a restart, on a
// loaded machine), the one whose window closes first goes first, where
// goroutines racing for a channel took them in no particular order and a
// proof with time left could take a worker from one about to miss its
// window (and be slashed for it).
type gate struct {
	mu      sync.Mutex
	free    int
	waiting waiters
	arrived uint64
}

func newGate(n int) *gate { return &gate{free: n} }

// waiter is one blocked enter.
type waiter struct {
	deadline int64
	arrival  uint64
	admit    chan struct{} // closed when admitted
	index    int
}

// enter blocks until the gate admits this holder (nil) or ctx ends (its
// error).
func (g *gate) enter(ctx context.Context, deadline int64) error {
	g.mu.Lock()
	if g.free > 0 && len(g.waiting) == 0 {
		g.free--
		g.mu.Unlock()
		return nil
	}
	g.arrived++
	w := &waiter{deadline: deadline, arrival: g.arrived, admit: make(chan struct{})}
	heap.Push(&g.waiting, w)
	g.mu.Unlock()
	select {
	case <-w.admit:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		select {
		case <-w.admit: // admitted meanwhile: hand the place on
			g.leaveLocked()
		default:
			heap.Remove(&g.waiting, w.index)
		}
		return ctx.Err()
	}
}

// leave frees the holder's place for the earliest waiter.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leaveLocked()
}

func (g *gate) leaveLocked() {
	if len(g.waiting) == 0 {
		g.free++
		return
	}
	w := heap.Pop(&g.waiting).(*waiter)
	close(w.admit)
}

// waiters is a min-heap by (deadline, arrival).
type waiters []*waiter

func (h waiters) Len() int { return len(h) }
func (h waiters) Less(i, j int) bool {
	if h[i].deadline != h[j].deadline {
		return h[i].deadline < h[j].deadline
	}
	return h[i].arrival < h[j].arrival
}
func (h waiters) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *waiters) Push(x any)   { w := x.(*waiter); w.index = len(*h); *h = append(*h, w) }
func (h *waiters) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return w
}
