#!/usr/bin/env bash
# Mixed precision and data parallelism in pouwd's training engine, side by
# side: activation memory held for backward in fp32 and bf16 (MNIST MLP and
# CNN, the ratio), and MLP training samples/s in fp32, bf16, fp16, with
# micro-batches, and on several CPU devices; it also checks that 1 and N
# devices give the same weights.
#   scripts/bench/mixed_precision.sh [mpbench flags, e.g. -min-time 5s -devices 4 -threads 1]
# Figures go to stdout and to scripts/bench/out/mixed_precision-<time>.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p scripts/bench/out
out="scripts/bench/out/mixed_precision-$(date -u +%Y%m%dT%H%M%SZ).txt"
go run ./scripts/bench/mpbench "$@" | tee "$out"
echo "written to $out" >&2
