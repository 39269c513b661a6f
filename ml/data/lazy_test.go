package data

import (
	"runtime"
	"sync"
	"testing"
)

// A dataset four times the memory budget is read through Lazy with the
// live heap staying under the budget, while loading it eagerly does not.
func TestLazyPeakMemory(t *testing.T) {
	const n, dim = 2048, 4096 // 32 MiB of float32 samples
	const budget = 8 << 20
	dir := t.TempDir() + "/big"
	func() {
		d := &Dataset{DType: Float32, Shape: []int{dim}, Classes: 10, F32: make([]float32, n*dim), Labels: make([]int, n), Split: make([]uint8, n)}
		for i := range d.F32 {
			d.F32[i] = float32(i % 1000)
		}
		for i := range d.Labels {
			d.Labels[i] = i % 10
		}
		_, m, err := Build(Options{Kind: KindCSV, Name: "big", Split: SplitOptions{Mode: "ratio", TrainPPM: PPM}}, d, nil, "")
		must(t, err)
		must(t, Write(dir, d, m))
	}()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	s, m, err := Open(dir, budget)
	must(t, err)
	l, ok := s.(*Lazy)
	if !ok {
		t.Fatalf("Open of a %d-byte dataset with a %d budget did not go lazy", m.Bytes, budget)
	}
	defer l.Close()
	buf := make([]float32, dim)
	var peak uint64
	var ms runtime.MemStats
	// two passes: sequential, then strided (worst case for the LRU)
	for pass := 0; pass < 2; pass++ {
		for k := 0; k < n; k++ {
			i := k
			if pass == 1 {
				i = (k * 397) % n
			}
			l.Read(i, buf)
			if buf[7] != float32((i*dim+7)%1000) || l.Label(i) != i%10 {
				t.Fatalf("sample %d read wrong: %v label %d", i, buf[7], l.Label(i))
			}
			if k%64 == 0 {
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base {
					peak = max(peak, ms.HeapAlloc-base)
				}
			}
		}
	}
	// concurrent readers (pouwd ml cv --workers N) see the right samples
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			row := make([]float32, dim)
			for k := 0; k < 300; k++ {
				i := (k*131 + g*517) % n
				l.Read(i, row)
				if row[dim-1] != float32((i*dim+dim-1)%1000) {
					errs <- "concurrent read returned another sample"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	t.Logf("lazy: dataset %d MiB, budget %d MiB, peak heap above baseline %.1f MiB", m.Bytes>>20, budget>>20, float64(peak)/(1<<20))
	if peak > budget {
		t.Fatalf("lazy reading peaked at %d bytes over baseline, budget %d", peak, budget)
	}
	// the measurement can fail: the eager load is far above the budget
	base = heap()
	d, _, err := Load(dir)
	must(t, err)
	runtime.ReadMemStats(&ms)
	eager := ms.HeapAlloc - base
	if eager < 4*budget {
		t.Fatalf("eager load measured only %d bytes; the memory probe is not working", eager)
	}
	runtime.KeepAlive(d)
}
