package data

import (
	"path/filepath"
	"sync"
	"testing"
)

// Several preparers racing on one cache key all succeed with the same bytes.
func TestCacheConcurrentPrepare(t *testing.T) {
	src := t.TempDir()
	writeMNISTDir(t, src, 200, 50, 8, 8, true)
	c := &Cache{Dir: t.TempDir()}
	var wg sync.WaitGroup
	sums := make([]string, 4)
	errs := make([]error, 4)
	for g := range sums {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r, err := c.Prepare(Options{Kind: KindMNIST, Path: src}, nil, filepath.Join(t.TempDir(), "out"))
			if err == nil {
				sums[g] = r.Meta.SHA256
			}
			errs[g] = err
		}(g)
	}
	wg.Wait()
	for g := range sums {
		if errs[g] != nil || sums[g] != sums[0] {
			t.Fatalf("preparer %d: %v (sha %s vs %s)", g, errs[g], sums[g], sums[0])
		}
	}
}
