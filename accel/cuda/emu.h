// emu.h: just enough of CUDA C to compile accel/cuda/kernels/*.cu with the
// host C++ compiler (build tag cudaemu). Every intrinsic is its IEEE-754
// definition: the kernels' arithmetic is round-to-nearest-even float32 and
// float64 with no contraction (emu.cc turns it off by pragma), fmaf is
// the correctly rounded fused multiply-add, subnormals are kept. Blocks run
// one at a time; the threads of a block run as OS threads when the kernel
// synchronises (shared memory is a function-static array, shared by the
// block) and one after another otherwise.
#pragma once
#define POUW_EMU 1

#include <cmath>
#include <cstdint>
#include <cstring>

struct dim3 {
	unsigned x, y, z;
};
struct alignas(16) float4 {
	float x, y, z, w;
};
struct alignas(16) uint4 {
	unsigned x, y, z, w;
};

extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
void __syncthreads();

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))

static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
static inline float __fsqrt_rn(float a) { return std::sqrt(a); }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline float __double2float_rn(double x) { return (float)x; }
static inline float __int_as_float(int i) {
	float f;
	std::memcpy(&f, &i, 4);
	return f;
}
static inline double __longlong_as_double(long long i) {
	double d;
	std::memcpy(&d, &i, 8);
	return d;
}
static inline long long __double_as_longlong(double d) {
	long long i;
	std::memcpy(&i, &d, 8);
	return i;
}
// The high 64 bits of the 128-bit product (integer; digest.cu).
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
	return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
using std::fabs;
using std::floor;
