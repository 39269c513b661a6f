// transformer.cu: the Transformer's and ViT's own operations in package ml
// (ml/attention.go: Attention's softmax and its backward, Positions,
// TokenPool, PatchTokens and the sinusoidal table), with the element
// orders and roundings of the Go code. LayerNorm (nn.cu), GELU
// (elementwise.cu), the per-token Linear (GEMM + pouw_add_bias_rows) and
// the residual additions (pouw_add) have their kernels elsewhere.
#include "common.cuh"

#define FOR_EACH(i, n) for (i64 i = gidx(); i < (n); i += gstride())

// Accessors for pouw_canon_sum: the i-th value of the sequence summed.
// x[i·stride] (a row: stride 1; a column of a row-major matrix: its width).
struct pouw_strided {
	const float* x;
	i64 stride;
	POUW_DEV_TEMPLATE float operator()(i64 i) const { return x[i * stride]; }
};
// float32(a[i]·b[i]) (Attention backward's P·dP).
struct pouw_product {
	const float* a;
	const float* b;
	POUW_DEV_TEMPLATE float operator()(i64 i) const { return f_mul(a[i], b[i]); }
};

// canon.Sum of at(0), ..., at(n-1) in one thread: canon.Sum(x) adds
// len(x) <= 16 values left to right from +0 and is otherwise
// Sum(x[:n/2]) + Sum(x[n/2:]). The leaves are visited left to right (each
// found by descending from the root) and summed sequentially; a stack
// holds the finished left subtrees still waiting for their right sibling,
// with their depths. A finished node whose depth equals the top's is that
// top's right sibling (everything pushed after the left sibling belongs to
// the right subtree and has been folded into it), so the two combine as
// left + right into their parent, exactly as the recursion does. Depths
// are below 32 for any n < 2^31·16.
template <typename A>
POUW_DEV_TEMPLATE float pouw_canon_sum(i64 n, const A& at) {
	float val[32];
	int dep[32];
	int top = 0;
	i64 lo = 0;
	do {
		i64 l = 0, h = n;
		int d = 0;
		while (h - l > 16) { // descend towards the leaf that starts at lo
			i64 mid = l + (h - l) / 2;
			if (lo < mid) h = mid;
			else l = mid;
			++d;
		}
		float s = 0.0f;
		for (i64 i = l; i < h; ++i) s = f_add(s, at(i));
		while (top > 0 && dep[top - 1] == d) {
			s = f_add(val[top - 1], s);
			--top;
			--d;
		}
		val[top] = s;
		dep[top] = d;
		++top;
		lo = h;
	} while (lo < n);
	return val[0];
}

// Attention softmax forward (ml.Attention.Forward), one thread per row i of
// blocks x T x T scores (one T x T block per sample and head, row stride
// T): with k = i+1 (causal) or T allowed keys, S_j = float32(raw_j·scale),
// mx = the largest S_j over j < k (starting from S_0, strict >),
// e_j = Exp32(S_j - mx), s = canon.Sum(e_0..e_{k-1}), p_j = e_j/s for
// j < k and +0 for j >= k. p may be raw (ml works in place).
POUW_KERNEL pouw_attn_softmax_fwd(int blocks, int T, int causal, float scale, const float* raw, float* p) {
	FOR_EACH(row, (i64)blocks * T) {
		const int i = (int)(row % T);
		const int k = causal ? i + 1 : T;
		const float* rr = raw + row * T;
		float* pr = p + row * T;
		float mx = f_mul(rr[0], scale);
		for (int j = 0; j < k; ++j) {
			float v = f_mul(rr[j], scale);
			pr[j] = v;
			if (v > mx) mx = v;
		}
		for (int j = 0; j < k; ++j) pr[j] = pouw_exp32(f_sub(pr[j], mx));
		float s = pouw_canon_sum(k, pouw_strided{pr, 1});
		for (int j = 0; j < k; ++j) pr[j] = f_div(pr[j], s);
		for (int j = k; j < T; ++j) pr[j] = 0.0f;
	}
}

// Attention softmax backward (ml.Attention's backward loop), one thread per
// row: r = canon.Sum(float32(p_j·dp_j) over j < k), then
// draw_j = float32(float32(p_j·float32(dp_j - r))·scale) for j < k and +0
// for j >= k. draw may be dp (ml works in place).
POUW_KERNEL pouw_attn_softmax_bwd(int blocks, int T, int causal, float scale, const float* p, const float* dp,
                                  float* draw) {
	FOR_EACH(row, (i64)blocks * T) {
		const int i = (int)(row % T);
		const int k = causal ? i + 1 : T;
		const float* pr = p + row * T;
		const float* dr = dp + row * T;
		float* out = draw + row * T;
		float r = pouw_canon_sum(k, pouw_product{pr, dr});
		for (int j = 0; j < k; ++j) out[j] = f_mul(f_mul(pr[j], f_sub(dr[j], r)), scale);
		for (int j = k; j < T; ++j) out[j] = 0.0f;
	}
}

// TokenPool forward on x [n, t, d] to y [n, d], one thread per output: the
// mean y[s, j] = canon.Sum(x[s, 0..t-1, j]) / tf (tf = float32(t)), or with
// last the last token's value x[s, t-1, j].
POUW_KERNEL pouw_token_pool_fwd(int last, int n, int t, int d, float tf, const float* x, float* y) {
	FOR_EACH(e, (i64)n * d) {
		i64 s = e / d, j = e % d;
		const float* col = x + s * t * d + j;
		y[e] = last ? col[(i64)(t - 1) * d] : f_div(pouw_canon_sum(t, pouw_strided{col, d}), tf);
	}
}

// TokenPool backward into dx [n, t, d] from dy [n, d], one thread per
// element of dx. Mean: g = float32(dy[s, j] / tf); fresh writes g, else
// dx += g. Last: the last token gets dy (written when fresh, else added),
// the others +0 when fresh and are left alone otherwise.
POUW_KERNEL pouw_token_pool_bwd(int last, int fresh, int n, int t, int d, float tf, const float* dy, float* dx) {
	FOR_EACH(e, (i64)n * t * d) {
		i64 j = e % d, i = (e / d) % t, s = e / ((i64)t * d);
		float g = dy[s * d + j];
		if (last) {
			if (i < t - 1) {
				if (fresh) dx[e] = 0.0f;
				continue;
			}
		} else {
			g = f_div(g, tf);
		}
		dx[e] = fresh ? g : f_add(dx[e], g);
	}
}

// PatchTokens forward: y[s, p, c] = x[s, c, p] for x [n, d, hw] (a
// per-sample transpose), one thread per output element.
POUW_KERNEL pouw_patch_tokens_fwd(int n, int d, i64 hw, const float* x, float* y) {
	FOR_EACH(e, (i64)n * d * hw) {
		i64 c = e % d, p = (e / d) % hw, s = e / (d * hw);
		y[e] = x[(s * d + c) * hw + p];
	}
}

// PatchTokens backward: dx[s, c, p] = dy[s, p, c] when fresh, else
// dx[s, c, p] += dy[s, p, c]; one thread per element of dx.
POUW_KERNEL pouw_patch_tokens_bwd(int fresh, int n, int d, i64 hw, const float* dy, float* dx) {
	FOR_EACH(e, (i64)n * d * hw) {
		i64 p = e % hw, c = (e / hw) % d, s = e / (d * hw);
		float g = dy[(s * hw + p) * d + c];
		dx[e] = fresh ? g : f_add(dx[e], g);
	}
}

// Learned Positions' table gradient from dy [rows, cols] (rows = samples):
// fresh: dst[j] = m[0, j] + m[1, j] + ... (ml copies sample 0, then adds
// the others in order); otherwise dst[j] += m[0, j], then m[1, j], ... in
// order. One thread per column.
POUW_KERNEL pouw_colsum_into(int fresh, int rows, i64 cols, const float* m, float* dst) {
	FOR_EACH(j, cols) {
		if (rows == 0) continue;
		float acc = fresh ? m[j] : f_add(dst[j], m[j]);
		for (int i = 1; i < rows; ++i) acc = f_add(acc, m[(i64)i * cols + j]);
		dst[j] = acc;
	}
}

// canon.SinCos32 elementwise: s[i], c[i] = SinCos32(x[i]).
POUW_KERNEL pouw_sincos32(i64 n, const float* x, float* s, float* c) {
	FOR_EACH(i, n) {
		float sv, cv;
		pouw_sincos32_one(x[i], &sv, &cv);
		s[i] = sv;
		c[i] = cv;
	}
}

// ml.NewSinusoidalPositions' table [t, d], one thread per (position p,
// pair q), q < ceil(d/2): f = Exp32(float32(float32(-2q)/float32(d))·Log32(10000)),
// a = float32(float32(p)·f), tab[p, 2q] = sin a and, when 2q+1 < d,
// tab[p, 2q+1] = cos a (SinCos32). p, q and d are below 2^24, so their
// conversions to float32 are exact.
POUW_KERNEL pouw_sin_positions(int t, int d, float* tab) {
	const int pairs = (d + 1) / 2;
	FOR_EACH(e, (i64)t * pairs) {
		const int p = (int)(e / pairs), q = (int)(e % pairs);
		const float l = pouw_log32(10000.0f);
		const float f = pouw_exp32(f_mul(f_div((float)(-2 * q), (float)d), l));
		float sv, cv;
		pouw_sincos32_one(f_mul((float)p, f), &sv, &cv);
		float* row = tab + (i64)p * d;
		row[2 * q] = sv;
		if (2 * q + 1 < d) row[2 * q + 1] = cv;
	}
}

// Embedding forward (ml.Embedding): y[p, j] = table[id_p, j] for npos
// positions of d values, the ids given as the batch's float32 values
// (integers below the vocabulary: checked on the host), one thread per
// output element.
POUW_KERNEL pouw_embed_fwd(i64 npos, int d, const float* ids, const float* table, float* y) {
	FOR_EACH(e, npos * d) {
		i64 p = e / d, j = e % d;
		y[e] = table[(i64)ids[p] * d + j];
	}
}

// Embedding backward: g[id_p, j] += dy[p, j] for the positions p in order,
// one thread per column j, so every table element sees its positions'
// additions in ml's order (ml zeroes the gradient first: Zero g for a
// fresh gradient).
POUW_KERNEL pouw_embed_bwd(i64 npos, int d, const float* ids, const float* dy, float* g) {
	FOR_EACH(j, (i64)d) {
		for (i64 p = 0; p < npos; ++p) {
			i64 k = (i64)ids[p] * d + j;
			g[k] = f_add(g[k], dy[p * d + j]);
		}
	}
}
