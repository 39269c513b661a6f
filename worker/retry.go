package worker

import (
	"context"
	"errors"
	"time"
)

// permanent marks an error Retry must not try again after.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that Retry returns it at once instead of trying
// again (a peer that served the wrong bytes will not serve the right ones
// on a second ask). The result still matches err with errors.Is and As.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Retry calls try until it succeeds, returns a Permanent error, or has
// been called attempts times (attempts <= 0: until ctx ends), waiting wait
// between calls. It returns nil, try's last error (a Permanent one
// unwrapped), or ctx's error when ctx ends first.
func Retry(ctx context.Context, attempts int, wait time.Duration, try func() error) error {
	for a := 1; ; a++ {
		err := try()
		if err == nil {
			return nil
		}
		if p, ok := err.(permanent); ok {
			return p.err
		}
		if errors.As(err, new(permanent)) {
			return err
		}
		if attempts > 0 && a >= attempts {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
