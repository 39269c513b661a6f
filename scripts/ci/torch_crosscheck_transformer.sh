#!/usr/bin/env bash
# Cross-checks pouwd's Transformer and ViT against PyTorch:
# TestTransformerTorchCrossCheck (ml/transformer_torch_test.go) builds small
# models (bidirectional and causal attention, mean and last-token heads,
# learned and sinusoidal positions, a ViT patch embedding) with random
# weights, writes them and a batch to a file, and compares the engine's loss,
# logits and every parameter gradient with
# scripts/ci/torch_crosscheck_transformer.py (plain torch.nn and
# torch.nn.functional, /usr/bin/python3) within float32 tolerance.
# TestTransformerParamCounts checks NumParams against PyTorch's counts in
# ml/testdata/transformer_params.json (scripts/bench/transformer_params.py).
# The cross-check skips (exit 0) with a message when /usr/bin/python3 cannot
# import torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	echo "torch_crosscheck_transformer: SKIP: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
	exit 0
fi
exec go test ./ml -run 'TestTransformerTorchCrossCheck|TestTransformerParamCounts' -count=1 -v
