//go:build cudaemu && !cuda

// The CUDA kernel emulator behind the cudaemu build tag: the same
// kernels/*.cu sources the PTX is built from, compiled for the host, with
// a launcher that takes cuLaunchKernel-style parameters.

// No contraction of a*b+c into an FMA anywhere in the kernels (cgo does
// not accept -ffp-contract=off; these pragmas have the same effect).
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "emu.h"

#include <pthread.h>

#include <cstdio>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
static pthread_barrier_t emu_barrier;

void __syncthreads() { pthread_barrier_wait(&emu_barrier); }

#include "kernels/digest.cu"
#include "kernels/elementwise.cu"
#include "kernels/gemm.cu"
#include "kernels/nn.cu"
#include "kernels/optim.cu"
#include "kernels/reduce.cu"
#include "kernels/transformer.cu"

// Calls f with its arguments read from params (each params[i] points to an
// 8-byte slot holding the value in its low bytes, as the Go side passes
// them to cuLaunchKernel).
template <typename... A, std::size_t... I>
static void call(void (*f)(A...), void** params, std::index_sequence<I...>) {
	f(*reinterpret_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(params[I])...);
}
template <typename... A>
static void call(void (*f)(A...), void** params) {
	call(f, params, std::index_sequence_for<A...>{});
}
template <typename... A>
static int nparams(void (*)(A...)) {
	return sizeof...(A);
}

struct entry {
	const char* name;
	bool sync; // uses __syncthreads
	void (*run)(void**);
	int nparams;
};

#define K(name, sync) {#name, sync, [](void** p) { call(name, p); }, nparams(name)},
static const entry entries[] = {
    K(pouw_gemm_ref, false) K(pouw_gemm_t128, true) K(pouw_gemm_t64, true) K(pouw_gemm_t32, true)
    K(pouw_exp32, false) K(pouw_log32, false) K(pouw_tanh32, false) K(pouw_erf32, false)
    K(pouw_add, false) K(pouw_mul_acc, false) K(pouw_mul, false) K(pouw_add_bias_rows, false)
    K(pouw_relu_mask, false) K(pouw_relu_bwd_acc, false) K(pouw_gelu_fwd, false) K(pouw_gelu_bwd_acc, false)
    K(pouw_tanh_bwd_acc, false) K(pouw_dropout_fwd, false)
    K(pouw_sgd, false) K(pouw_sgd_momentum, false) K(pouw_sgd_wd, false) K(pouw_adam, false)
    K(pouw_tree_leaves, false) K(pouw_tree_level, false) K(pouw_tree_gather, false)
    K(pouw_colsum, false) K(pouw_rowsum_acc, false) K(pouw_xent_fwd, false) K(pouw_xent_bwd, false)
    K(pouw_im2col, false) K(pouw_col2im_acc, false) K(pouw_nchw_to_cnhw, false) K(pouw_cnhw_to_nchw_bias, false)
    K(pouw_pool2d_fwd, false) K(pouw_pool2d_bwd, false)
    K(pouw_norm_gather, false) K(pouw_norm_stats, false) K(pouw_bn_running, false) K(pouw_norm_apply, false)
    K(pouw_norm_bwd_prep, false) K(pouw_norm_bwd_dx, false) K(pouw_ln_param_grad, false)
    K(pouw_sample_gather, false) K(pouw_blake3_leaves, true)
    K(pouw_attn_softmax_fwd, false) K(pouw_attn_softmax_bwd, false)
    K(pouw_token_pool_fwd, false) K(pouw_token_pool_bwd, false)
    K(pouw_patch_tokens_fwd, false) K(pouw_patch_tokens_bwd, false) K(pouw_colsum_into, false)
    K(pouw_sincos32, false) K(pouw_sin_positions, false)
    K(pouw_maxpool_pad_fwd, false) K(pouw_embed_fwd, false) K(pouw_embed_bwd, false)
};
#undef K

extern "C" {

// pouw_emu_kernel returns the index of the named kernel and its parameter
// count, or -1.
int pouw_emu_kernel(const char* name, int* np) {
	for (unsigned i = 0; i < sizeof entries / sizeof entries[0]; ++i) {
		if (std::strcmp(entries[i].name, name) == 0) {
			*np = entries[i].nparams;
			return (int)i;
		}
	}
	return -1;
}

int pouw_emu_nkernels(void) { return (int)(sizeof entries / sizeof entries[0]); }
const char* pouw_emu_kernel_name(int i) { return entries[i].name; }

// pouw_emu_launch runs kernel k over the grid. Launches are serialised by
// the Go side.
void pouw_emu_launch(int k, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void** params) {
	const entry& e = entries[k];
	gridDim = dim3{gx, gy, gz};
	blockDim = dim3{bx, by, bz};
	const unsigned nt = bx * by * bz;
	if (e.sync) pthread_barrier_init(&emu_barrier, nullptr, nt);
	for (unsigned z = 0; z < gz; ++z)
		for (unsigned y = 0; y < gy; ++y)
			for (unsigned x = 0; x < gx; ++x) {
				dim3 b{x, y, z};
				auto thread = [&, b](unsigned t) {
					blockIdx = b;
					threadIdx = dim3{t % bx, (t / bx) % by, t / (bx * by)};
					e.run(params);
				};
				if (!e.sync) {
					for (unsigned t = 0; t < nt; ++t) thread(t);
					continue;
				}
				std::vector<std::thread> ts;
				ts.reserve(nt);
				for (unsigned t = 0; t < nt; ++t) ts.emplace_back(thread, t);
				for (auto& t : ts) t.join();
			}
	if (e.sync) pthread_barrier_destroy(&emu_barrier);
}
}
