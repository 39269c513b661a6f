// gemm.cu: the canonical GEMM C = op(A)·op(B) (accel.Backend.Gemm):
//
//	C[i,j] = acc, acc = +0; for p = 0..k-1: acc = fmaf_rn(op(A)[i,p], op(B)[p,j], acc)
//
// Every output is one thread's private chain over p in increasing order:
// no split-k, no tensor cores, no reassociation. op(A)[i,p] = A[i*lda+p]
// (A[p*lda+i] when transA); op(B)[p,j] = B[p*ldb+j] (B[j*ldb+p] when
// transB). C is row-major with row stride ldc and is overwritten.
#include "common.cuh"

// pouw_gemm_ref: one thread per output, reading global memory directly.
// Slow; it is the device-side reference the tiled kernels are tested
// against and the kernel for tiny products. Grid: (ceil(n/16), ceil(m/16)),
// block 16x16.
POUW_KERNEL pouw_gemm_ref(int transA, int transB, int m, int n, int k,
                          const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
	int i = blockIdx.y * 16 + threadIdx.y;
	int j = blockIdx.x * 16 + threadIdx.x;
	if (i >= m || j >= n) return;
	float acc = 0.0f;
	for (int p = 0; p < k; ++p) {
		float a = transA ? A[(i64)p * lda + i] : A[(i64)i * lda + p];
		float b = transB ? B[(i64)j * ldb + p] : B[(i64)p * ldb + j];
		acc = f_fma(a, b, acc);
	}
	C[(i64)i * ldc + j] = acc;
}

// gemm_tiled: a BM x BN tile of C per block of 256 threads; each thread
// owns a TM x TN sub-tile (rows ty*TM.., columns tx*TN..) whose chains it
// runs in registers. The p range is walked in BK-long slabs staged in
// shared memory (A and B are zero-padded outside the matrix in i and j
// only: the last slab runs exactly k - p0 steps, never a padded step,
// because fmaf(0, 0, -0) = +0 would change a -0 accumulator).
template <int BM, int BN, int BK, int TM, int TN>
POUW_DEV_TEMPLATE void gemm_tiled(int transA, int transB, int m, int n, int k,
                         const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
	static_assert((BM / TM) * (BN / TN) == POUW_THREADS, "256 threads per block");
	__shared__ __align__(16) float As[BK][BM]; // As[p][i] = op(A)[bi+i, p0+p]
	__shared__ __align__(16) float Bs[BK][BN]; // Bs[p][j] = op(B)[p0+p, bj+j]
	const int tid = threadIdx.x;
	const int tx = tid % (BN / TN), ty = tid / (BN / TN);
	const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;

	float acc[TM][TN];
#pragma unroll
	for (int r = 0; r < TM; ++r)
#pragma unroll
		for (int c = 0; c < TN; ++c) acc[r][c] = 0.0f;

	for (int p0 = 0; p0 < k; p0 += BK) {
		const int kk = imin(BK, k - p0);
		// Stage op(A)[bi.., p0..] with loads coalesced along memory rows.
		for (int e = tid; e < BM * BK; e += POUW_THREADS) {
			int i, p;
			if (transA) { // A is k x m: consecutive threads take consecutive i
				p = e / BM;
				i = e % BM;
			} else { // A is m x k: consecutive threads take consecutive p
				i = e / BK;
				p = e % BK;
			}
			float v = 0.0f;
			if (bi + i < m && p < kk)
				v = transA ? A[(i64)(p0 + p) * lda + (bi + i)] : A[(i64)(bi + i) * lda + (p0 + p)];
			As[p][i] = v;
		}
		for (int e = tid; e < BN * BK; e += POUW_THREADS) {
			int j, p;
			if (transB) { // B is n x k
				j = e / BK;
				p = e % BK;
			} else { // B is k x n
				p = e / BN;
				j = e % BN;
			}
			float v = 0.0f;
			if (bj + j < n && p < kk)
				v = transB ? B[(i64)(bj + j) * ldb + (p0 + p)] : B[(i64)(p0 + p) * ldb + (bj + j)];
			Bs[p][j] = v;
		}
		__syncthreads();
		// One step of every owned chain: acc[r][c] = fma(A[i,p], B[p,j], acc[r][c]).
		auto step = [&](int p) {
			float a[TM], b[TN];
#pragma unroll
			for (int r = 0; r < TM; ++r) a[r] = As[p][ty * TM + r];
#pragma unroll
			for (int c = 0; c < TN; ++c) b[c] = Bs[p][tx * TN + c];
#pragma unroll
			for (int r = 0; r < TM; ++r)
#pragma unroll
				for (int c = 0; c < TN; ++c) acc[r][c] = f_fma(a[r], b[c], acc[r][c]);
		};
		if (kk == BK) { // a full slab, unrolled
#pragma unroll
			for (int p = 0; p < BK; ++p) step(p);
		} else { // the last, partial slab: exactly kk steps
			for (int p = 0; p < kk; ++p) step(p);
		}
		__syncthreads();
	}
#pragma unroll
	for (int r = 0; r < TM; ++r) {
		int i = bi + ty * TM + r;
		if (i >= m) break;
#pragma unroll
		for (int c = 0; c < TN; ++c) {
			int j = bj + tx * TN + c;
			if (j < n) C[(i64)i * ldc + j] = acc[r][c];
		}
	}
}

// Tile shapes, largest first; the launcher picks one by output size
// (bigger tiles are faster, smaller ones fill more SMs). All give the same
// bits. Grid: (ceil(n/BN), ceil(m/BM)), block 256.
POUW_KERNEL_2 pouw_gemm_t128(int transA, int transB, int m, int n, int k,
                           const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
	gemm_tiled<128, 128, 16, 8, 8>(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
}

POUW_KERNEL_2 pouw_gemm_t64(int transA, int transB, int m, int n, int k,
                          const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
	gemm_tiled<64, 64, 16, 4, 4>(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
}

POUW_KERNEL_2 pouw_gemm_t32(int transA, int transB, int m, int n, int k,
                          const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
	gemm_tiled<32, 32, 32, 2, 2>(transA, transB, m, n, k, A, lda, B, ldb, C, ldc);
}
