#!/usr/bin/env bash
# Cross-checks pouwd's ResNet blocks against PyTorch: TestResNetTorchCrossCheck
# (ml/resnet_test.go) builds small ResNets with basic and bottleneck blocks
# (identity and 1x1 projection shortcuts, both stems), writes their weights
# and a batch to a file, and compares the engine's loss, logits, gradients
# and BatchNorm running statistics with scripts/ci/torch_crosscheck_resnet.py
# (plain torch.nn, /usr/bin/python3) within float32 tolerance.
# Skips (exit 0) with a message when /usr/bin/python3 cannot import torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	echo "torch_crosscheck_resnet: SKIP: /usr/bin/python3 cannot import torch (apt-get install python3-torch)"
	exit 0
fi
exec go test ./ml -run 'TestResNetTorchCrossCheck' -count=1 -v
