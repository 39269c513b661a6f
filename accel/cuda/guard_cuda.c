//go:build cuda && !cudaemu

// The cuInit guard. gorgonia.org/cu calls cuInit from its package init and
// calls os.Exit(1) when it fails (no GPU, no kernel module, a container
// without devices...). accel/cuda links with -Wl,--wrap=cuInit, so every
// call of cuInit in the binary (cu's included) lands here: the real cuInit
// runs, its result is recorded, and CUDA_SUCCESS is returned so that cu's
// init returns normally. Open then reports the recorded error and the
// caller falls back to the CPU. See doc.go.

#include <cuda.h>

CUresult __real_cuInit(unsigned int flags);

static CUresult pouw_init_result = CUDA_SUCCESS;
static int pouw_init_calls = 0;

CUresult __wrap_cuInit(unsigned int flags) {
	CUresult r = __real_cuInit(flags);
	pouw_init_calls++;
	pouw_init_result = r;
	return CUDA_SUCCESS;
}

int pouw_cuinit_calls(void) { return pouw_init_calls; }
int pouw_cuinit_result(void) { return (int)pouw_init_result; }

// Retries cuInit (through the guard) and returns its result.
int pouw_cuinit_retry(void) {
	__wrap_cuInit(0);
	return (int)pouw_init_result;
}

const char* pouw_cu_error_name(int r) {
	const char* s = 0;
	if (cuGetErrorName((CUresult)r, &s) != CUDA_SUCCESS || !s) return "CUDA_ERROR_UNKNOWN_CODE";
	return s;
}

const char* pouw_cu_error_string(int r) {
	const char* s = 0;
	if (cuGetErrorString((CUresult)r, &s) != CUDA_SUCCESS || !s) return "unknown error";
	return s;
}
