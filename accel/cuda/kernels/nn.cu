// nn.cu: layout and layer kernels of ml/conv.go (convolution via im2col,
// pooling, normalisation), with the same element orders as the Go code.
#include "common.cuh"

// im2col for samples [0, nb) of x [nb, cin, h, w]: col has rows
// r = (c, ki, kj) and columns q = (s, oy, ox) with row stride ld = nb·oh·ow;
// col[r, q] = x[s, c, oy·S-P+ki, ox·S-P+kj], or +0 outside the image.
POUW_KERNEL pouw_im2col(int nb, int cin, int h, int w, int K, int S, int P, int oh, int ow,
                        const float* x, float* col) {
	const i64 sp = (i64)oh * ow, ld = nb * sp, total = (i64)cin * K * K * ld;
	for (i64 e = gidx(); e < total; e += gstride()) {
		i64 r = e / ld, q = e % ld;
		int s = (int)(q / sp);
		int o = (int)(q % sp), oy = o / ow, ox = o % ow;
		int c = (int)(r / (K * K)), kk = (int)(r % (K * K)), ki = kk / K, kj = kk % K;
		int iy = oy * S - P + ki, ix = ox * S - P + kj;
		float v = 0.0f;
		if (iy >= 0 && iy < h && ix >= 0 && ix < w) v = x[(((i64)s * cin + c) * h + iy) * w + ix];
		col[e] = v;
	}
}

// col2im, accumulating: for every input element (s, c, iy, ix) in order of
// (ki, kj), dx += col[(c, ki, kj), (s, oy, ox)] where oy·S-P+ki = iy and
// ox·S-P+kj = ix (ml Conv2d.col2im: each (ki, kj) reaches an input element
// from at most one output position).
POUW_KERNEL pouw_col2im_acc(int nb, int cin, int h, int w, int K, int S, int P, int oh, int ow,
                            const float* col, float* dx) {
	const i64 sp = (i64)oh * ow, ld = nb * sp, total = (i64)nb * cin * h * w;
	for (i64 e = gidx(); e < total; e += gstride()) {
		int ix = (int)(e % w);
		int iy = (int)((e / w) % h);
		int c = (int)((e / ((i64)w * h)) % cin);
		int s = (int)(e / ((i64)w * h * cin));
		float acc = dx[e];
		for (int ki = 0; ki < K; ++ki) {
			int ty = iy + P - ki;
			if (ty < 0 || ty % S != 0 || ty / S >= oh) continue;
			int oy = ty / S;
			for (int kj = 0; kj < K; ++kj) {
				int tx = ix + P - kj;
				if (tx < 0 || tx % S != 0 || tx / S >= ow) continue;
				int ox = tx / S;
				i64 r = ((i64)c * K + ki) * K + kj;
				acc = f_add(acc, col[r * ld + s * sp + (i64)oy * ow + ox]);
			}
		}
		dx[e] = acc;
	}
}

// [nb, C, sp] -> [C, nb·sp]: y[c, s·sp+i] = x[s, c, i] (the conv output
// gradient and BatchNorm's per-channel gather).
POUW_KERNEL pouw_nchw_to_cnhw(int nb, int C, i64 sp, const float* x, float* y) {
	const i64 total = (i64)nb * C * sp;
	for (i64 e = gidx(); e < total; e += gstride()) {
		i64 i = e % sp;
		int c = (int)((e / sp) % C);
		i64 s = e / (sp * C);
		y[(i64)c * nb * sp + s * sp + i] = x[e];
	}
}

// [C, nb·sp] -> [nb, C, sp] plus bias: y[s, c, i] = x[c, s·sp+i] + b[c]
// (the conv forward output).
POUW_KERNEL pouw_cnhw_to_nchw_bias(int nb, int C, i64 sp, const float* x, const float* b, float* y) {
	const i64 total = (i64)nb * C * sp;
	for (i64 e = gidx(); e < total; e += gstride()) {
		i64 i = e % sp;
		int c = (int)((e / sp) % C);
		i64 s = e / (sp * C);
		y[e] = f_add(x[(i64)c * nb * sp + s * sp + i], b[c]);
	}
}

// Pool2d forward over planes [planes, h, w] (window K, stride S): max
// takes the first maximum in row-major window order (strict >) and records
// its plane index in arg; avg is the sequential sum over the window from
// +0 divided by K·K.
POUW_KERNEL pouw_pool2d_fwd(int avg, int planes, int h, int w, int K, int S, int oh, int ow,
                            const float* x, float* y, int* arg) {
	const i64 total = (i64)planes * oh * ow;
	const float div = (float)(K * K);
	for (i64 e = gidx(); e < total; e += gstride()) {
		i64 pl = e / ((i64)oh * ow);
		int o = (int)(e % ((i64)oh * ow)), oy = o / ow, ox = o % ow;
		const float* src = x + pl * h * w;
		int base = oy * S * w + ox * S;
		if (avg) {
			float s = 0.0f;
			for (int ki = 0; ki < K; ++ki)
				for (int kj = 0; kj < K; ++kj) s = f_add(s, src[base + ki * w + kj]);
			y[e] = f_div(s, div);
		} else {
			float best = src[base];
			int bi = base;
			for (int ki = 0; ki < K; ++ki)
				for (int kj = 0; kj < K; ++kj) {
					float v = src[base + ki * w + kj];
					if (v > best) {
						best = v;
						bi = base + ki * w + kj;
					}
				}
			y[e] = best;
			arg[e] = bi;
		}
	}
}

// Pool2d backward, one thread per plane walking its outputs in order (so
// overlapping windows add in the Go order): max adds dy to dx[arg]; avg
// adds dy/(K·K) to every window element in row-major order.
POUW_KERNEL pouw_pool2d_bwd(int avg, int planes, int h, int w, int K, int S, int oh, int ow,
                            const float* dy, const int* arg, float* dx) {
	const float div = (float)(K * K);
	for (i64 pl = gidx(); pl < planes; pl += gstride()) {
		float* dp = dx + pl * h * w;
		const float* g = dy + pl * oh * ow;
		for (int o = 0; o < oh * ow; ++o) {
			if (!avg) {
				int a = arg[pl * oh * ow + o];
				dp[a] = f_add(dp[a], g[o]);
				continue;
			}
			float gd = f_div(g[o], div);
			int base = (o / ow) * S * w + (o % ow) * S;
			for (int ki = 0; ki < K; ++ki)
				for (int kj = 0; kj < K; ++kj) dp[base + ki * w + kj] = f_add(dp[base + ki * w + kj], gd);
		}
	}
}

// Padded max pooling forward (ml.MaxPool, the ResNet stem), one thread per
// output: over the in-bounds elements of the K x K window (stride S,
// padding P: padded positions never win), the first maximum in row-major
// order (strict >), and its index in the plane. Backward is
// pouw_pool2d_bwd's max branch (arg holds plane indices).
POUW_KERNEL pouw_maxpool_pad_fwd(int planes, int h, int w, int K, int S, int P, int oh, int ow,
                                 const float* x, float* y, int* arg) {
	const i64 total = (i64)planes * oh * ow;
	for (i64 e = gidx(); e < total; e += gstride()) {
		i64 pl = e / ((i64)oh * ow);
		int o = (int)(e % ((i64)oh * ow)), oy = o / ow, ox = o % ow;
		const float* src = x + pl * h * w;
		int y0 = oy * S - P, y1 = oy * S - P + K, x0 = ox * S - P, x1 = ox * S - P + K;
		y0 = y0 < 0 ? 0 : y0;
		y1 = y1 > h ? h : y1;
		x0 = x0 < 0 ? 0 : x0;
		x1 = x1 > w ? w : x1;
		int bi = y0 * w + x0;
		float best = src[bi];
		for (int iy = y0; iy < y1; ++iy)
			for (int ix = x0; ix < x1; ++ix) {
				float v = src[iy * w + ix];
				if (v > best) {
					best = v;
					bi = iy * w + ix;
				}
			}
		y[e] = best;
		arg[e] = bi;
	}
}

// Norm layout (ml Norm.layout): group g's i-th element lives at
// ((i/sp)·C + g)·sp + i%sp for BatchNorm (sp > 0: C channels, sp spatial
// positions per sample) and at g·m + i for LayerNorm (sp = 0).
POUW_DEV i64 norm_idx(int g, i64 i, int C, i64 sp, i64 m) {
	return sp > 0 ? ((i / sp) * C + g) * sp + i % sp : (i64)g * m + i;
}

// v[g, i] = x[norm_idx(g, i)] for groups x m (gather for the tree sums).
POUW_KERNEL pouw_norm_gather(int groups, i64 m, int C, i64 sp, const float* x, float* v) {
	for (i64 e = gidx(); e < (i64)groups * m; e += gstride())
		v[e] = x[norm_idx((int)(e / m), e % m, C, sp, m)];
}

// Per-group statistics from the tree sums: stage 0 turns sum into
// mean = sum/mf; stage 1 turns sumsq into var = sumsq/mf (written to var)
// and rstd = 1/Sqrt32(var + eps); stage 2 (inference) sets
// rstd = 1/Sqrt32(a + eps) from the running variance a.
POUW_KERNEL pouw_norm_stats(int groups, int stage, float mf, float eps, float* a, float* var, float* rstd) {
	for (i64 g = gidx(); g < groups; g += gstride()) {
		if (stage == 0) {
			a[g] = f_div(a[g], mf);
		} else if (stage == 2) {
			rstd[g] = f_div(1.0f, f_sqrt(f_add(a[g], eps)));
		} else {
			float vr = f_div(a[g], mf);
			var[g] = vr;
			rstd[g] = f_div(1.0f, f_sqrt(f_add(vr, eps)));
		}
	}
}

// BatchNorm running statistics (training): unb = m > 1 ?
// float32(var·mf)/float32(m-1) : var; r = float32((1-mom)·r) + float32(mom·stat).
POUW_KERNEL pouw_bn_running(int C, float mom, float mf, float mm1, int m, const float* mean, const float* var,
                            float* rmean, float* rvar) {
	for (i64 g = gidx(); g < C; g += gstride()) {
		float vr = var[g];
		float unb = m > 1 ? f_div(f_mul(vr, mf), mm1) : vr;
		float om = f_sub(1.0f, mom);
		rmean[g] = f_add(f_mul(om, rmean[g]), f_mul(mom, mean[g]));
		rvar[g] = f_add(f_mul(om, rvar[g]), f_mul(mom, unb));
	}
}

// Norm forward: xhat = float32((x - mean)·rstd); y = float32(xhat·γ) + β,
// with γ, β per group (BatchNorm, sp > 0) or per element index i (LayerNorm).
POUW_KERNEL pouw_norm_apply(int groups, i64 m, int C, i64 sp, const float* x, const float* mean, const float* rstd,
                            const float* gamma, const float* beta, float* xhat, float* y) {
	for (i64 e = gidx(); e < (i64)groups * m; e += gstride()) {
		int g = (int)(e / m);
		i64 i = e % m;
		i64 k = norm_idx(g, i, C, sp, m);
		i64 pi = sp > 0 ? g : i;
		float xh = f_mul(f_sub(x[k], mean[g]), rstd[g]);
		xhat[k] = xh;
		y[k] = f_add(f_mul(xh, gamma[pi]), beta[pi]);
	}
}

// Norm backward, first pass: gbuf[g, i] = float32(dy·γ) (γ = 1 for the
// dγ/dβ sums: pass gamma = NULL) and gx[g, i] = float32(gbuf·xhat), in the
// gathered layout, ready for the tree sums.
POUW_KERNEL pouw_norm_bwd_prep(int groups, i64 m, int C, i64 sp, const float* dy, const float* xhat,
                               const float* gamma, float* gbuf, float* gx) {
	for (i64 e = gidx(); e < (i64)groups * m; e += gstride()) {
		int g = (int)(e / m);
		i64 i = e % m;
		i64 k = norm_idx(g, i, C, sp, m);
		float gv = dy[k];
		if (gamma) gv = f_mul(gv, gamma[sp > 0 ? g : i]);
		gbuf[e] = gv;
		gx[e] = f_mul(gv, xhat[k]);
	}
}

// Norm backward, dx: f = float32(rstd/mf); dx += float32(f·(float32(mf·gbuf)
// - Σg - float32(xhat·Σgx))).
POUW_KERNEL pouw_norm_bwd_dx(int groups, i64 m, int C, i64 sp, float mf, const float* rstd, const float* gbuf,
                             const float* xhat, const float* sg, const float* sgx, float* dx) {
	for (i64 e = gidx(); e < (i64)groups * m; e += gstride()) {
		int g = (int)(e / m);
		i64 i = e % m;
		i64 k = norm_idx(g, i, C, sp, m);
		float f = f_div(rstd[g], mf);
		float t = f_sub(f_sub(f_mul(mf, gbuf[e]), sg[g]), f_mul(xhat[k], sgx[g]));
		dx[k] = f_add(dx[k], f_mul(f, t));
	}
}

// LayerNorm parameter gradients, one thread per feature i, sequential over
// groups (rows) in order: dβ[i] += dy; dγ[i] += float32(dy·xhat).
POUW_KERNEL pouw_ln_param_grad(int groups, int d, const float* dy, const float* xhat, float* dgam, float* dbet) {
	for (i64 i = gidx(); i < d; i += gstride()) {
		float gb = dbet[i], gg = dgam[i];
		for (int g = 0; g < groups; ++g) {
			i64 k = (i64)g * d + i;
			gb = f_add(gb, dy[k]);
			gg = f_add(gg, f_mul(dy[k], xhat[k]));
		}
		dbet[i] = gb;
		dgam[i] = gg;
	}
}
