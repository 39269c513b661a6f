package accel

import "fmt"

// Backend runs the canonical kernels. Implementations: *cpu.Backend and
// *cuda.Backend (build tag cuda), which copies the operands to the device
// and must return the same bits.
//
// The interface is deliberately small: elementwise and reduction operations
// are defined once in package ml in canonical pure Go (they are cheap next
// to GEMM); accel/cuda also offers them as device kernels on device
// buffers, for an engine that keeps its tensors on the GPU (see its doc).
type Backend interface {
	// Name identifies the backend and kernel, e.g. "cpu/avx512".
	Name() string
	// Threads is the parallelism the backend uses; it never changes bits.
	Threads() int
	// Gemm computes the canonical C = op(A)·op(B): for every (i, j),
	// acc = 0; for p = 0..k-1: acc = FMA32(op(A)[i,p], op(B)[p,j], acc);
	// C[i*ldc+j] = acc. A is m x k (k x m if transA) with row stride lda,
	// B is k x n (n x k if transB) with row stride ldb. C is overwritten.
	Gemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int)
}

// GemmPrologue is the start every backend's Gemm shares: with m or n zero
// there is nothing to do; arguments that do not describe matrices fitting
// their slices (a stride below the row length, a slice too short for its
// rows), or a dimension or stride above maxDim (0: no limit; a device
// backend passes its index limit), panic with an error naming backend and
// the operand, since a wrong shape is a programming error; with k zero, C
// is cleared (the product of empty chains is +0). It reports whether the
// product is left for the backend to compute.
func GemmPrologue(backend string, maxDim int, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) bool {
	if m == 0 || n == 0 {
		return false
	}
	if err := checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, maxDim); err != nil {
		panic(backend + ": " + err.Error())
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
		return false
	}
	return true
}

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, maxDim int) error {
	need := func(name string, s []float32, rows, cols, ld int) error {
		if ld < cols || (rows > 0 && len(s) < (rows-1)*ld+cols) {
			return fmt.Errorf("%s is %d x %d with stride %d, needs %d elements, has %d", name, rows, cols, ld, (rows-1)*ld+cols, len(s))
		}
		if maxDim > 0 && (ld > maxDim || rows > maxDim || cols > maxDim) {
			return fmt.Errorf("%s is %d x %d with stride %d: dimensions must be at most %d", name, rows, cols, ld, maxDim)
		}
		return nil
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if err := need("A", a, ar, ac, lda); err != nil {
		return err
	}
	if err := need("B", b, br, bc, ldb); err != nil {
		return err
	}
	return need("C", c, m, n, ldc)
}
