// optim.cu: the canonical optimizer updates of ml/optim.go and
// accel/cpu.SGDMomentum, per parameter value.
#include "common.cuh"

#define FOR_EACH(i, n) for (i64 i = gidx(); i < (n); i += gstride())

// Plain SGD: w = w - float32(lr·g).
POUW_KERNEL pouw_sgd(i64 n, float* w, const float* g, float lr) {
	FOR_EACH(i, n) w[i] = f_sub(w[i], f_mul(lr, g[i]));
}

// SGD with momentum, no weight decay (accel/cpu.SGDMomentum):
// v = float32(mu·v) + g; w = w - float32(lr·v).
POUW_KERNEL pouw_sgd_momentum(i64 n, float* w, float* v, const float* g, float lr, float mu) {
	FOR_EACH(i, n) {
		float vi = f_add(f_mul(mu, v[i]), g[i]);
		v[i] = vi;
		w[i] = f_sub(w[i], f_mul(lr, vi));
	}
}

// SGD with weight decay: d = g + float32(wd·w); with momentum (v != 0)
// d = float32(mu·v) + d and v = d; then w = w - float32(lr·d).
POUW_KERNEL pouw_sgd_wd(i64 n, float* w, float* v, const float* g, float lr, float mu, float wd) {
	FOR_EACH(i, n) {
		float d = f_add(g[i], f_mul(wd, w[i]));
		if (v) {
			d = f_add(f_mul(mu, v[i]), d);
			v[i] = d;
		}
		w[i] = f_sub(w[i], f_mul(lr, d));
	}
}

// Adam / AdamW (ml.Adam.Step) for one parameter tensor. The host computes
// the per-step scalars exactly as ml does: step = LR/float32(1-b1ᵗ),
// sbc2 = Sqrt32(float32(1-b2ᵗ)), decay = float32(LR·wd), omb1 = 1-b1,
// omb2 = 1-b2 (float32 subtractions).
POUW_KERNEL pouw_adam(i64 n, float* w, const float* g, float* m, float* v,
                      float step, float sbc2, float eps, float b1, float b2, float omb1, float omb2,
                      float wd, float decay, int decoupled) {
	FOR_EACH(i, n) {
		float gi = g[i];
		float wi = w[i];
		if (wd != 0.0f) {
			if (decoupled) {
				wi = f_sub(wi, f_mul(decay, wi));
			} else {
				gi = f_add(gi, f_mul(wd, wi));
			}
		}
		float mi = f_add(f_mul(b1, m[i]), f_mul(omb1, gi));
		float vi = f_add(f_mul(b2, v[i]), f_mul(f_mul(omb2, gi), gi));
		m[i] = mi;
		v[i] = vi;
		float denom = f_add(f_div(f_sqrt(vi), sbc2), eps);
		w[i] = f_sub(wi, f_mul(step, f_div(mi, denom)));
	}
}
