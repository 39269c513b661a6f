package verifier

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// waitFor polls until cond holds (or fails the test after 10 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (g *gate) queued() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.waiting) }

// TestGateEarliestDeadlineFirst: while the gate is full, waiters are
// admitted by deadline (ties by arrival), not by arrival; at most n hold
// it at once.
func TestGateEarliestDeadlineFirst(t *testing.T) {
	ctx := context.Background()
	g := newGate(1)
	if err := g.enter(ctx, 100); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []int64
	var wg sync.WaitGroup
	deadlines := []int64{30, 10, 20, 10}
	for i, d := range deadlines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.enter(ctx, d); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, d*10+int64(i))
			mu.Unlock()
			g.leave()
		}()
		waitFor(t, "the waiter to queue", func() bool { return g.queued() == i+1 })
	}
	g.leave()
	wg.Wait()
	want := []int64{101, 103, 202, 300} // deadline 10 (arrived 2nd, then 4th), 20, 30
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("admitted %v, want %v", order, want)
		}
	}
	if g.free != 1 || g.queued() != 0 {
		t.Fatalf("free %d, queued %d after everyone left", g.free, g.queued())
	}
}

// TestGateCancel: a waiter whose context ends returns its error and takes
// no place; the next leave admits the waiter after it.
func TestGateCancel(t *testing.T) {
	g := newGate(1)
	if err := g.enter(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.enter(cctx, 1) }()
	waitFor(t, "the first waiter to queue", func() bool { return g.queued() == 1 })
	admitted := make(chan struct{})
	go func() {
		if err := g.enter(context.Background(), 2); err == nil {
			close(admitted)
		}
	}()
	waitFor(t, "the second waiter to queue", func() bool { return g.queued() == 2 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled enter: %v", err)
	}
	if g.queued() != 1 {
		t.Fatalf("%d queued after the cancel, want 1", g.queued())
	}
	g.leave()
	select {
	case <-admitted:
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter after the cancelled one was not admitted")
	}
	g.leave()
	if g.free != 1 {
		t.Fatalf("free %d at the end, want 1", g.free)
	}
}
