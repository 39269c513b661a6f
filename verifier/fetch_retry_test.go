package verifier

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/worker"
)

// TestFetchRetryWaitsOutBusy: a miner refusing as busy (it is sending a
// large checkpoint to another verifier) is asked again without using up
// the attempts, until BusyWait; other failures use attempts; a mismatch
// stops at once.
func TestFetchRetryWaitsOutBusy(t *testing.T) {
	busy := &p2p.RemoteError{Status: p2p.StatusRateLimited, Message: "busy: 2 checkpoint or model transfers in progress"}
	gone := errors.New("p2p: open: connection refused")
	v := &Verifier{cfg: Config{FetchAttempts: 2, FetchWait: time.Millisecond, BusyWait: time.Minute}}
	ctx := context.Background()

	// Ten busy refusals, then the checkpoint: served.
	calls := 0
	if err := v.fetchRetry(ctx, func() error {
		if calls++; calls <= 10 {
			return busy
		}
		return nil
	}); err != nil || calls != 11 {
		t.Fatalf("after 10 busy refusals: %v after %d calls, expected success on call 11", err, calls)
	}

	// A peer that is gone uses the attempts.
	calls = 0
	if err := v.fetchRetry(ctx, func() error { calls++; return gone }); !errors.Is(err, gone) || calls != 2 {
		t.Fatalf("unreachable miner: %v after %d calls, expected the error after 2", err, calls)
	}

	// A lying peer: once.
	calls = 0
	lie := fmt.Errorf("served: %w", p2p.ErrMismatch)
	if err := v.fetchRetry(ctx, func() error { calls++; return worker.Permanent(lie) }); !errors.Is(err, p2p.ErrMismatch) || calls != 1 {
		t.Fatalf("mismatch: %v after %d calls, expected it after 1", err, calls)
	}

	// Busy past BusyWait counts as a failure.
	v.cfg.BusyWait = 20 * time.Millisecond
	calls = 0
	start := time.Now()
	if err := v.fetchRetry(ctx, func() error { calls++; return busy }); !p2p.IsBusy(err) {
		t.Fatalf("busy forever: %v", err)
	}
	if el := time.Since(start); el < v.cfg.BusyWait || el > 10*time.Second {
		t.Fatalf("busy forever gave up after %s, BusyWait %s", el, v.cfg.BusyWait)
	}
}
