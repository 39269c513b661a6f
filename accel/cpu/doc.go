// Package cpu is pouwd's CPU backend: the canonical GEMM on the host, as a
// pure-Go reference (GemmRef, always built) and as amd64 assembly
// microkernels (AVX-512 and AVX2+FMA, see gen_kernels.py) that compute the
// same bits. Build with the purego tag to force the pure-Go code everywhere.
//
// Canonical GEMM (C = op(A)·op(B), op = identity or transpose): every output
// is
//
//	acc = 0; for p = 0, 1, ..., k-1: acc = FMA32(op(A)[i,p], op(B)[p,j], acc); C[i,j] = acc
//
// one exactly rounded fused multiply-add per step, in increasing p. Fast
// kernels vectorise over j and tile over i; they may split the p range into
// blocks only by storing the float32 accumulator and resuming the same chain.
// Work is split over goroutines by output tiles only, so the thread count
// never changes a bit.
//
// Elementwise kernels (SGDMomentum, ReLUMask) have AVX-512/AVX2 versions
// that perform, per lane, exactly the float32 operations of their Go loops.
//
// On arm64 the "neon" row kernel (FMLA, fused like FMA32) drives the
// row-wise GEMM; under the purego tag every kernel is pure Go.
//
// This package must never reorder, split or reassociate a chain over p, never
// use a kernel that has not been checked bit for bit against GemmRef, and
// never read global mutable state to pick a kernel after New returns.
package cpu
