// reduce.cu: canonical reductions.
//
// canon.Sum(x) for len(x) = n: n <= 16 adds left to right from +0,
// otherwise Sum(x[:n/2]) + Sum(x[n/2:]). The device computes the same tree
// for each row of a rows x n matrix in D+2 launches, D being the smallest
// depth at which every node has at most 16 elements (node sizes at depth d
// are floor(n/2^d) or ceil(n/2^d)):
//
//  1. pouw_tree_leaves: thread t in [0, 2^D) walks the path of t's bits
//     from the root; the first node on it with <= 16 elements is a leaf.
//     The leaf's leftmost descendant at depth D (t's low bits zero below
//     the leaf) sums it sequentially into val[row][t].
//  2. pouw_tree_level for depth = D-1 down to 0: each existing internal
//     node (all ancestors and itself have > 16 elements) at index j adds
//     val[j<<(D-depth)] + val[(2j+1)<<(D-depth-1)] (left + right) into
//     val[j<<(D-depth)].
//  3. pouw_tree_gather: out[row] = val[row][0].
//
// canon.SumSq(x, mean) is the same tree with leaf terms
// float32(d·d), d = x - mean (mean per row).
#include "common.cuh"

#define POUW_SUM_LEAF 16

// Walks from the root of an n-element tree towards the node at depth
// `depth` along the bits of `path` (most significant first). Returns the
// depth at which the walk met a node with <= 16 elements (a leaf), or
// `depth` if none; lo and hi are that node's bounds.
POUW_DEV int tree_walk(i64 n, int depth, i64 path, i64* lo, i64* hi) {
	i64 l = 0, h = n;
	for (int s = 0; s < depth; ++s) {
		if (h - l <= POUW_SUM_LEAF) {
			*lo = l;
			*hi = h;
			return s;
		}
		i64 mid = l + (h - l) / 2;
		if ((path >> (depth - 1 - s)) & 1) l = mid;
		else h = mid;
	}
	*lo = l;
	*hi = h;
	return depth;
}

// Grid: (ceil(2^D/256), rows). x is rows x n with row stride ldx; mean is
// NULL for Sum and a per-row mean for SumSq; val is rows x 2^D.
POUW_KERNEL pouw_tree_leaves(int rows, i64 n, int D, const float* x, i64 ldx, const float* mean, float* val) {
	i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	int row = blockIdx.y;
	if (t >= ((i64)1 << D) || row >= rows) return;
	i64 lo, hi;
	int s = tree_walk(n, D, t, &lo, &hi);
	if (s < D && (t & (((i64)1 << (D - s)) - 1)) != 0) return; // not the leaf's leftmost slot
	const float* xr = x + (i64)row * ldx;
	float acc = 0.0f;
	if (mean) {
		float mu = mean[row];
		for (i64 i = lo; i < hi; ++i) {
			float d = f_sub(xr[i], mu);
			acc = f_add(acc, f_mul(d, d));
		}
	} else {
		for (i64 i = lo; i < hi; ++i) acc = f_add(acc, xr[i]);
	}
	val[((i64)row << D) + t] = acc;
}

// Grid: (ceil(2^depth/256), rows).
POUW_KERNEL pouw_tree_level(int rows, i64 n, int D, int depth, float* val) {
	i64 j = (i64)blockIdx.x * blockDim.x + threadIdx.x;
	int row = blockIdx.y;
	if (j >= ((i64)1 << depth) || row >= rows) return;
	i64 lo, hi;
	if (tree_walk(n, depth, j, &lo, &hi) < depth) return; // an ancestor is a leaf
	if (hi - lo <= POUW_SUM_LEAF) return;                  // a leaf: value already in place
	float* v = val + ((i64)row << D);
	i64 left = j << (D - depth), right = (2 * j + 1) << (D - depth - 1);
	v[left] = f_add(v[left], v[right]);
}

// out[row] = val[row][0]. 1-D grid over rows.
POUW_KERNEL pouw_tree_gather(int rows, int D, const float* val, float* out) {
	for (i64 r = gidx(); r < rows; r += gstride()) out[r] = val[r << D];
}

// ml colSum: dst[j] = (+0 + m[0,j]) + m[1,j] + ... sequentially over rows.
POUW_KERNEL pouw_colsum(int rows, int cols, const float* m, float* dst) {
	for (i64 j = gidx(); j < cols; j += gstride()) {
		float acc = 0.0f;
		for (int i = 0; i < rows; ++i) acc = f_add(acc, m[(i64)i * cols + j]);
		dst[j] = acc;
	}
}

// Conv2d bias gradient: dst[r] = dst[r] + (sequential sum from +0 of
// m[r, 0..cols-1]).
POUW_KERNEL pouw_rowsum_acc(int rows, i64 cols, const float* m, float* dst) {
	for (i64 r = gidx(); r < rows; r += gstride()) {
		float acc = 0.0f;
		const float* mr = m + r * cols;
		for (i64 q = 0; q < cols; ++q) acc = f_add(acc, mr[q]);
		dst[r] = f_add(dst[r], acc);
	}
}

// Softmax cross-entropy forward (ml.SoftmaxCrossEntropy), one thread per
// row of logits [n, k]: mx = first maximum; e_j = Exp32(x_j - mx);
// s = sequential sum from +0; prob_j = e_j/s; loss = Log32(s) - (x_y - mx).
// The mean loss is canon.Sum(loss)/n (tree sum on the device, division on
// the host). Labels must be in [0, k) (the host checks).
POUW_KERNEL pouw_xent_fwd(int n, int k, const float* logits, const int* labels, float* prob, float* loss) {
	for (i64 i = gidx(); i < n; i += gstride()) {
		const float* row = logits + i * k;
		float* pr = prob + i * k;
		float mx = row[0];
		for (int j = 1; j < k; ++j)
			if (row[j] > mx) mx = row[j];
		float s = 0.0f;
		for (int j = 0; j < k; ++j) {
			float e = pouw_exp32(f_sub(row[j], mx));
			pr[j] = e;
			s = f_add(s, e);
		}
		for (int j = 0; j < k; ++j) pr[j] = f_div(pr[j], s);
		loss[i] = f_sub(pouw_log32(s), f_sub(row[labels[i]], mx));
	}
}

// Softmax cross-entropy backward: dx += float32((prob - [j = y])·g) with
// g = float32(grad/n) computed on the host.
POUW_KERNEL pouw_xent_bwd(int n, int k, const float* prob, const int* labels, float g, float* dx) {
	for (i64 e = gidx(); e < (i64)n * k; e += gstride()) {
		i64 i = e / k;
		int j = (int)(e % k);
		float p = prob[e];
		if (j == labels[i]) p = f_sub(p, 1.0f);
		dx[e] = f_add(dx[e], f_mul(p, g));
	}
}
