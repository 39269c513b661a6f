package cpu

import "github.com/pouw/pouwd/accel/canon"

// GemmRef is the reference implementation of the canonical GEMM:
// C[i*ldc+j] = chain over p = 0..k-1 of FMA32(opA(i,p), opB(p,j), acc),
// acc starting at 0, where opA(i,p) = a[i*lda+p] (or a[p*lda+i] if transA)
// and opB(p,j) = b[p*ldb+j] (or b[j*ldb+p] if transB). It is written for
// clarity, not speed; the tests compare every other kernel against it.
func GemmRef(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				acc = canon.FMA32(av, bv, acc)
			}
			c[i*ldc+j] = acc
		}
	}
}

// gemmGoRows computes rows [i0, i1) of the canonical GEMM in pure Go with
// the loop order i, p, j: each c[i,j] still sees its FMA chain in
// increasing p. bt is B as a k x n row-major matrix (ldb).
func gemmGoRows(axpy func(acc []float32, a float32, b []float32), transA bool, i0, i1, n, k int, a []float32, lda int, bt []float32, ldb int, c []float32, ldc int) {
	for i := i0; i < i1; i++ {
		row := c[i*ldc : i*ldc+n]
		clear(row)
		for p := 0; p < k; p++ {
			var av float32
			if transA {
				av = a[p*lda+i]
			} else {
				av = a[i*lda+p]
			}
			axpy(row, av, bt[p*ldb:p*ldb+n])
		}
	}
}
