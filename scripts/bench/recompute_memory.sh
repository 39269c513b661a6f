#!/usr/bin/env bash
# Activation recomputation (pouwd ml train --recompute N, ml.Model.SetRecompute):
# peak activation memory and step time without and with it, on a 24-layer
# Transformer and ResNet-56, and whether the weights after two steps are
# the same bits. Usage: scripts/bench/recompute_memory.sh [recomputebench flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
go run ./scripts/bench/recomputebench "$@"
