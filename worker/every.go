package worker

import (
	"context"
	"time"
)

// Every calls fn every interval until ctx ends (the first call one
// interval after the start); it returns when ctx ends. The daemons' side
// loops (status lines, reward checks, bond top-ups) run on it.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}
