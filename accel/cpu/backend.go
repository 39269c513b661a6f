package cpu

import (
	"fmt"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/canon"
	"runtime"
	"slices"
	"sync"
)

// Options configure the CPU backend.
type Options struct {
	// Threads is the number of goroutines a kernel may use (>= 1).
	Threads int
	// Kernel picks the GEMM kernel: "auto" (the fastest available),
	// "avx512", "avx2" or "go" (pure Go). The result bits never depend on it.
	Kernel string
}

// DefaultOptions uses one thread and the fastest kernel.
func DefaultOptions() Options { return Options{Threads: 1, Kernel: "auto"} }

// Validate checks the options against this machine.
func (o Options) Validate() error {
	if o.Threads < 1 || o.Threads > 4096 {
		return fmt.Errorf("cpu backend: threads = %d, expected 1..4096", o.Threads)
	}
	switch o.Kernel {
	case "auto", "go":
		return nil
	}
	if slices.Contains(Kernels(), o.Kernel) {
		return nil
	}
	return fmt.Errorf("cpu backend: kernel %q is not available on this machine, expected one of auto, %v", o.Kernel, Kernels())
}

// Backend is the canonical CPU backend. It is safe for concurrent use.
type Backend struct {
	threads int
	kern    *microKernel // nil: pure Go
	// narrow, when set, is used for GEMMs with n <= narrow.nr, where the
	// wide kernel would mostly compute padding. Kernels are canonical, so
	// the choice never changes a bit.
	narrow *microKernel
	pool   sync.Pool
}

// New returns a CPU backend.
func New(o Options) (*Backend, error) {
	if o.Kernel == "" {
		o.Kernel = "auto"
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b := &Backend{threads: o.Threads}
	switch o.Kernel {
	case "go":
	case "auto":
		b.kern = bestKernel()
		b.narrow = narrowKernel()
	default:
		b.kern = kernelByName(o.Kernel)
	}
	return b, nil
}

// MustNew is New for options known to be valid; it panics otherwise.
func MustNew(o Options) *Backend {
	b, err := New(o)
	if err != nil {
		panic(err)
	}
	return b
}

// Name reports the backend and its kernel, e.g. "cpu/avx512".
func (b *Backend) Name() string {
	if b.kern == nil {
		return "cpu/go"
	}
	return "cpu/" + b.kern.name
}

// Threads reports the goroutine count kernels may use.
func (b *Backend) Threads() int { return b.threads }

// MaxThreads is runtime.NumCPU, a convenience for callers.
func MaxThreads() int { return runtime.NumCPU() }

// parallel runs f(0..n-1) on up to b.threads goroutines, in contiguous
// chunks. Each index must write disjoint outputs.
func (b *Backend) parallel(n int, f func(lo, hi int)) {
	t := b.threads
	if t > n {
		t = n
	}
	if t <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < t; w++ {
		lo, hi := n*w/t, n*(w+1)/t
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// Gemm computes the canonical C = op(A)·op(B) (see the package comment),
// overwriting C[m x n] (row stride ldc). A is m x k (or k x m if transA,
// row stride lda); B is k x n (or n x k if transB, row stride ldb).
func (b *Backend) Gemm(transA, transB bool, m, n, k int, a []float32, lda int, bm []float32, ldb int, c []float32, ldc int) {
	if !accel.GemmPrologue("cpu.Gemm", 0, transA, transB, m, n, k, a, lda, bm, ldb, c, ldc) {
		return
	}
	if b.kern != nil && b.kern.fn != nil {
		kern := b.kern
		if b.narrow != nil && n <= b.narrow.nr && b.narrow.nr < kern.nr {
			kern = b.narrow
		}
		b.gemmPacked(kern, transA, transB, m, n, k, a, lda, bm, ldb, c, ldc)
		return
	}
	bt, btld := bm, ldb
	if transB {
		tmp := make([]float32, k*n)
		for j := 0; j < n; j++ {
			for p := 0; p < k; p++ {
				tmp[p*n+j] = bm[j*ldb+p]
			}
		}
		bt, btld = tmp, n
	}
	axpy := canon.FMA32Acc
	if b.kern != nil && b.kern.axpy != nil {
		axpy = b.kern.axpy
	}
	rows := 8
	b.parallel((m+rows-1)/rows, func(lo, hi int) {
		gemmGoRows(axpy, transA, lo*rows, min(hi*rows, m), n, k, a, lda, bt, btld, c, ldc)
	})
}
