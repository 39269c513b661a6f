#!/usr/bin/env bash
# pouw_overhead.sh: the work-proof protocol's two speed figures (issue 6):
#   - mining overhead: step hashes, work digest, ticket scan and
#     commitments against plain training, inline and in the background
#     (what the miner does), in wall and CPU time;
#   - verification: parse a checkpoint, resume and replay to the proven step
#     against training those steps.
# For the demo's MLP at batch 64 (the worst case: few FLOPs per parameter
# hashed), the same MLP at batch 256 and the small CNN. Training runs on one
# thread; run it on a quiet machine (it prints the load average).
#
# Usage: scripts/bench/pouw_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
for cfg in "mlp:784-128-10 64" "mlp:784-128-10 256" "cnn:1x28x28-2x8-10 64"; do
	set -- $cfg
	POUWD_OVERHEAD=1 POUWD_OVERHEAD_MODEL="$1" POUWD_OVERHEAD_BATCH="$2" \
		go test -run '^TestOverhead$' -count=1 -v ./verifier/ 2>&1 | sed -n 's/^ *overhead_test.go:[0-9]*: //p'
	echo
done
