// common.cuh: definitions shared by every pouwd kernel. Compiled by nvcc
// into PTX (scripts/cuda-ptx.sh) and, for the emulator, by the host C++
// compiler with emu.h included first (accel/cuda/emu.cc, build tag cudaemu).
//
// Rules (see accel/canon): every float operation is written with an
// explicitly rounded intrinsic (__fadd_rn, __fmul_rn, __fmaf_rn, __dadd_rn,
// ...) so that neither nvcc nor the host compiler can contract or reorder
// it; nvcc is also run with -fmad=false --prec-div=true --prec-sqrt=true
// --ftz=false. No approximate instruction (ex2.approx, rcp.approx, ...)
// may appear in the PTX; accel/cuda's tests check that.
#pragma once

#ifdef __CUDACC__
#define POUW_DEV static __device__ __forceinline__
// For templates: external linkage, so that nvcc names their shared arrays
// without the path-dependent _INTERNAL_<hash> prefix of static functions
// (which would make the PTX depend on the checkout directory).
#define POUW_DEV_TEMPLATE __device__ __forceinline__
#define POUW_KERNEL extern "C" __global__ void __launch_bounds__(256)
// GEMM kernels: at most 128 registers per thread, so two 256-thread blocks
// fit on an SM.
#define POUW_KERNEL_2 extern "C" __global__ void __launch_bounds__(256, 2)
#else
#ifndef POUW_EMU
#error "compile with nvcc, or include emu.h first"
#endif
#define POUW_DEV static inline
#define POUW_DEV_TEMPLATE inline
#define POUW_KERNEL extern "C" void
#define POUW_KERNEL_2 extern "C" void
#endif

typedef long long i64;

// Threads per block of every kernel (the Go launcher uses the same).
#define POUW_THREADS 256

// Global linear thread index and grid-stride step for 1-D kernels.
POUW_DEV i64 gidx() { return (i64)blockIdx.x * blockDim.x + threadIdx.x; }
POUW_DEV i64 gstride() { return (i64)gridDim.x * blockDim.x; }

POUW_DEV int imin(int a, int b) { return a < b ? a : b; }

// Float32 arithmetic, each operation rounded on its own.
POUW_DEV float f_add(float a, float b) { return __fadd_rn(a, b); }
POUW_DEV float f_sub(float a, float b) { return __fsub_rn(a, b); }
POUW_DEV float f_mul(float a, float b) { return __fmul_rn(a, b); }
POUW_DEV float f_div(float a, float b) { return __fdiv_rn(a, b); }
POUW_DEV float f_fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
// canon.Sqrt32: the correctly rounded float32 square root.
POUW_DEV float f_sqrt(float a) { return __fsqrt_rn(a); }

// Float64 arithmetic, each operation rounded on its own.
POUW_DEV double d_add(double a, double b) { return __dadd_rn(a, b); }
POUW_DEV double d_sub(double a, double b) { return __dsub_rn(a, b); }
POUW_DEV double d_mul(double a, double b) { return __dmul_rn(a, b); }
POUW_DEV double d_div(double a, double b) { return __ddiv_rn(a, b); }
// float32(x) of a float64: round to nearest even.
POUW_DEV float d2f(double x) { return __double2float_rn(x); }

#include "coef.cuh"

// The NaN Go's float32(math.NaN()) gives (canon.Log32 of a negative).
#define POUW_F32_NAN __int_as_float(0x7fc00000)
#define POUW_F32_INF __int_as_float(0x7f800000)
#define POUW_F32_NINF __int_as_float((int)0xff800000)

// canon.exp64: e^x for |x| <= 200 (Cody-Waite reduction, degree-13 Taylor).
POUW_DEV double pouw_exp64(double x) {
	double n = floor(d_add(d_mul(x, POUW_LOG2E), 0.5));
	double r = d_sub(d_sub(x, d_mul(n, POUW_LN2HI)), d_mul(n, POUW_LN2LO));
	double y = pouw_exp_poly(r);
	return d_mul(y, __longlong_as_double((i64)((i64)n + 1023) << 52));
}

// canon.Exp32.
POUW_DEV float pouw_exp32(float x) {
	if (x != x) return x;
	if (x > 89.0f) return POUW_F32_INF;
	if (x < -104.0f) return 0.0f;
	return d2f(pouw_exp64((double)x));
}

// canon.log64: ln x for finite x > 0 given as the float64 of a float32.
POUW_DEV double pouw_log64(double x) {
	i64 bits = __double_as_longlong(x);
	i64 e = ((bits >> 52) & 0x7ff) - 1023;
	double m = __longlong_as_double((bits & ~((i64)0x7ff << 52)) | ((i64)1023 << 52));
	if (m > POUW_SQRT2) {
		m = d_mul(m, 0.5);
		e++;
	}
	double s = d_div(d_sub(m, 1.0), d_add(m, 1.0));
	double z = d_mul(s, s);
	double lm = d_mul(d_mul(2.0, s), pouw_log_poly(z));
	return d_add(d_mul((double)e, POUW_LN2), lm);
}

// canon.Log32.
POUW_DEV float pouw_log32(float x) {
	if (x != x) return x;
	if (x < 0.0f) return POUW_F32_NAN;
	if (x == 0.0f) return POUW_F32_NINF;
	if (x == POUW_F32_INF) return x;
	return d2f(pouw_log64((double)x));
}

// canon.Tanh32.
POUW_DEV float pouw_tanh32(float x) {
	if (x != x) return x;
	double a = fabs((double)x);
	double t;
	if (a < 0.5) {
		t = d_mul(a, pouw_tanh_poly(d_mul(a, a)));
	} else if (a < 20.0) {
		t = d_sub(1.0, d_div(2.0, d_add(pouw_exp64(d_mul(2.0, a)), 1.0)));
	} else {
		t = 1.0;
	}
	if (x < 0.0f) t = -t;
	return d2f(t);
}

// canon.Erf32.
POUW_DEV float pouw_erf32(float x) {
	if (x != x) return x;
	double a = fabs((double)x);
	double t;
	if (a < 1.0) {
		t = d_mul(d_mul(POUW_TWODSP, a), pouw_erf_poly18(d_mul(a, a)));
	} else if (a < 2.0) {
		t = d_mul(d_mul(POUW_TWODSP, a), pouw_erf_poly34(d_mul(a, a)));
	} else if (a < 4.0) {
		t = d_mul(d_mul(POUW_TWODSP, a), pouw_erf_poly72(d_mul(a, a)));
	} else {
		t = 1.0;
	}
	if (x < 0.0f) t = -t;
	return d2f(t);
}

// canon.sinCos64: sin x and cos x for |x| <= 2^20: x = n·π/2 + r by the
// three-part Cody-Waite reduction, the Taylor polynomials of sin r and
// cos r, and the quadrant n mod 4 (negation is exact).
POUW_DEV void pouw_sincos64(double x, double* s, double* c) {
	double n = floor(d_add(d_mul(x, POUW_TWO_OVER_PI), 0.5));
	double r = d_sub(d_sub(d_sub(x, d_mul(n, POUW_PIO2HI)), d_mul(n, POUW_PIO2MID)), d_mul(n, POUW_PIO2LO));
	double z = d_mul(r, r);
	double sv = d_mul(r, pouw_sin_poly(z));
	double cv = pouw_cos_poly(z);
	switch ((i64)n & 3) {
	case 1:
		*s = cv;
		*c = -sv;
		return;
	case 2:
		*s = -sv;
		*c = -cv;
		return;
	case 3:
		*s = -cv;
		*c = sv;
		return;
	}
	*s = sv;
	*c = cv;
}

// canon.SinCos32: NaN (Go's float32(math.NaN())) for NaN or |x| > 2^20.
POUW_DEV void pouw_sincos32_one(float x, float* s, float* c) {
	if (x != x || x > 1048576.0f || x < -1048576.0f) {
		*s = POUW_F32_NAN;
		*c = POUW_F32_NAN;
		return;
	}
	double sd, cd;
	pouw_sincos64((double)x, &sd, &cd);
	*s = d2f(sd);
	*c = d2f(cd);
}
