#!/usr/bin/env bash
# CI for the CUDA backend (accel/cuda), no GPU needed. As root on a fresh
# Debian bookworm machine with Go: enables contrib/non-free and installs
# nvidia-cuda-toolkit (CUDA 11.8: nvcc, cuda.h, libcuda for linking; ~3 min),
# then checks that the committed PTX is what the kernels compile to (and that
# nvcc's output is byte-stable), vets accel/ with the cuda tag, builds the
# cuda test binary, runs it (device tests skip; the cuInit guard and the PTX
# checks run) and runs every device test on the host emulator (cudaemu).
# About 4-5 minutes; each step prints its start time. With --install-only
# it stops after installing the toolkit.
set -euo pipefail
cd "$(dirname "$0")/../.."

start=$(date +%s)
step() { echo; echo "=== cuda: $* ($(($(date +%s) - start))s)"; }
export DEBIAN_FRONTEND=noninteractive
export CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}"

if ! command -v nvcc >/dev/null 2>&1 || [ ! -f /usr/include/cuda.h ]; then
	step "enable contrib non-free, install nvidia-cuda-toolkit"
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		# The same mirror URIs and suites as the main sources.
		sed -e 's/^Components:.*/Components: contrib non-free/' /etc/apt/sources.list.d/debian.sources \
			>/etc/apt/sources.list.d/pouwd-nonfree.sources
	else
		echo "deb http://deb.debian.org/debian bookworm contrib non-free" >/etc/apt/sources.list.d/pouwd-nonfree.list
	fi
	apt-get update -qq
	if ! apt-get install -y -qq --no-install-recommends nvidia-cuda-toolkit >/tmp/pouwd-cuda-apt.log 2>&1; then
		tail -40 /tmp/pouwd-cuda-apt.log
		exit 1
	fi
fi
nvcc --version | tail -2
# --install-only: just the toolkit (.ci/run starts this in the background
# while the demo runs, so the download overlaps compiling).
if [[ "${1:-}" == --install-only ]]; then
	exit 0
fi

step "PTX is current and byte-stable"
bash scripts/cuda-ptx.sh --check

step "go vet -tags cuda ./accel/..."
go vet -tags cuda ./accel/...

step "go test -c -tags cuda ./accel/cuda/"
go test -c -tags cuda -o /dev/null ./accel/cuda/

step "go test -tags cuda ./accel/cuda/ (no GPU: device tests skip, the guard and PTX tests run)"
go test -tags cuda -count=1 ./accel/cuda/

step "go vet and test -tags cudaemu ./accel/cuda/ (every device test on the emulator)"
go vet -tags cudaemu ./accel/cuda/
go test -tags cudaemu -count=1 ./accel/cuda/

step "ml on the CUDA backend: vet and compile with the cuda tag; training through the emulated device gives the CPU's bits"
go vet -tags cuda ./ml/
go test -c -tags cuda -o /dev/null ./ml/
go test -tags cudaemu -count=1 -run 'GoldenWeightsCUDA' -v ./ml/ 2>&1 | grep -E '^(--- |ok|PASS|FAIL)|golden_cuda_test'

step "resident training (ml/devtrain): vet and compile with the cuda tag; on the emulator every step of resident MLP, CNN, ResNet, Transformer and ViT runs has the host's bits, the MNIST and ml goldens included, and pouwd ml train --device gpu:0 trains resident (or refuses an over-budget run, naming the bytes)"
go vet -tags cuda ./ml/devtrain/ ./cmd/pouwd/mlcmd/
go test -c -tags cuda -o /dev/null ./ml/devtrain/
go vet -tags cudaemu ./ml/devtrain/
go test -tags cudaemu -count=1 -v ./ml/devtrain/ 2>&1 | grep -E '^(--- |ok|PASS|FAIL)|devtrain_test'
go test -tags cudaemu -count=1 -run 'TestTrainResident|TestTrainGPU' -v ./cmd/pouwd/mlcmd/ 2>&1 | grep -E '^(--- |ok|PASS|FAIL)|_test.go'

step "miners on GPUs: vet with the cuda tag; on the emulator a miner places its jobs resident on one or several GPUs (the host's weights), and checks each GPU's budget and the host's before it claims a job"
go vet -tags cuda ./miner/ ./cmd/pouwd/workercmd/
go vet -tags cudaemu ./miner/ ./cmd/pouwd/workercmd/
go test -tags cudaemu -count=1 -run 'TestResidentJob|TestMinerGPUs' -v ./miner/ ./cmd/pouwd/workercmd/ 2>&1 | grep -E '^(--- |ok|PASS|FAIL)|_test.go'

step "done"
