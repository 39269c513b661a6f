// elementwise.cu: the canonical per-element operations of package ml and
// accel/cpu, one grid-stride loop each (grid: up to 65535 blocks of 256
// threads). Each statement mirrors one Go expression: float32(a*b) is
// fmul, a+b is fadd, and nothing is fused.
#include "common.cuh"

#define FOR_EACH(i, n) for (i64 i = gidx(); i < (n); i += gstride())

// Transcendental maps (accel/canon): y[i] = f(x[i]).
POUW_KERNEL pouw_exp32(i64 n, const float* x, float* y) {
	FOR_EACH(i, n) y[i] = pouw_exp32(x[i]);
}
POUW_KERNEL pouw_log32(i64 n, const float* x, float* y) {
	FOR_EACH(i, n) y[i] = pouw_log32(x[i]);
}
POUW_KERNEL pouw_tanh32(i64 n, const float* x, float* y) {
	FOR_EACH(i, n) y[i] = pouw_tanh32(x[i]);
}
POUW_KERNEL pouw_erf32(i64 n, const float* x, float* y) {
	FOR_EACH(i, n) y[i] = pouw_erf32(x[i]);
}

// dst[i] = dst[i] + src[i] (ml addTo).
POUW_KERNEL pouw_add(i64 n, float* dst, const float* src) {
	FOR_EACH(i, n) dst[i] = f_add(dst[i], src[i]);
}

// dst[i] = dst[i] + float32(a[i]*b[i]) (dropout backward with b the mask).
POUW_KERNEL pouw_mul_acc(i64 n, float* dst, const float* a, const float* b) {
	FOR_EACH(i, n) dst[i] = f_add(dst[i], f_mul(a[i], b[i]));
}

// out[i] = float32(a[i]*b[i]).
POUW_KERNEL pouw_mul(i64 n, float* out, const float* a, const float* b) {
	FOR_EACH(i, n) out[i] = f_mul(a[i], b[i]);
}

// y[r*cols+j] = y[r*cols+j] + b[j] (Linear bias).
POUW_KERNEL pouw_add_bias_rows(int rows, int cols, float* y, const float* b) {
	FOR_EACH(e, (i64)rows * cols) y[e] = f_add(y[e], b[e % cols]);
}

// dst[i] = x[i] > 0 ? src[i] : +0 (accel/cpu.ReLUMask; NaN gives 0).
POUW_KERNEL pouw_relu_mask(i64 n, float* dst, const float* x, const float* src) {
	FOR_EACH(i, n) dst[i] = x[i] > 0.0f ? src[i] : 0.0f;
}

// ReLU backward into an existing gradient: dx[i] += dy[i] where x[i] > 0.
POUW_KERNEL pouw_relu_bwd_acc(i64 n, float* dx, const float* x, const float* dy) {
	FOR_EACH(i, n) if (x[i] > 0.0f) dx[i] = f_add(dx[i], dy[i]);
}

// ml geluCDF: float32(0.5·(1 + Erf32(float32(x·(1/√2))))).
POUW_DEV float gelu_cdf(float x) {
	return f_mul(0.5f, f_add(1.0f, pouw_erf32(f_mul(x, POUW_INV_SQRT2))));
}

// GELU forward: y = float32(x·Φ(x)).
POUW_KERNEL pouw_gelu_fwd(i64 n, const float* x, float* y) {
	FOR_EACH(i, n) y[i] = f_mul(x[i], gelu_cdf(x[i]));
}

// GELU backward: dx += float32(dy·(Φ(x) + float32(x·φ(x)))) with
// φ(x) = float32(Exp32(float32(float32(-0.5·x)·x))·(1/√(2π))).
POUW_KERNEL pouw_gelu_bwd_acc(i64 n, float* dx, const float* x, const float* dy) {
	FOR_EACH(i, n) {
		float v = x[i];
		float pdf = f_mul(pouw_exp32(f_mul(f_mul(-0.5f, v), v)), POUW_INV_SQRT2PI);
		float d = f_add(gelu_cdf(v), f_mul(v, pdf));
		dx[i] = f_add(dx[i], f_mul(dy[i], d));
	}
}

// tanh backward from the output y: dx += float32(dy·(1 - float32(y·y))).
POUW_KERNEL pouw_tanh_bwd_acc(i64 n, float* dx, const float* y, const float* dy) {
	FOR_EACH(i, n) {
		float t = y[i];
		dx[i] = f_add(dx[i], f_mul(dy[i], f_sub(1.0f, f_mul(t, t))));
	}
}

// Dropout forward: y = mask != 0 ? float32(x·mask) : +0 (mask holds 1/(1-P)
// for kept elements and 0 for dropped ones).
POUW_KERNEL pouw_dropout_fwd(i64 n, float* y, const float* x, const float* mask) {
	FOR_EACH(i, n) y[i] = mask[i] != 0.0f ? f_mul(x[i], mask[i]) : 0.0f;
}
