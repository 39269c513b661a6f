package accel

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
