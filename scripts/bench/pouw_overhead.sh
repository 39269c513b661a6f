#!/usr/bin/env bash
# pouw_overhead.sh: the work-proof protocol's speed figures (version 2):
#   - mining overhead, end to end: training in sampled mode with the
#     digest chain, a state hash and an encoded, stored checkpoint at every
#     commitment and the lottery draw, against plain training on the same
#     thread count, in wall and CPU time (median of paired rounds); the
#     per-step and per-commitment parts on their own, and the ticket draw;
#   - verification: verify a checkpoint against its commitment, resume and
#     replay to the proven step, against training those steps;
#   - the state hash's throughput (1 core, every core) beside the
#     machine's single-core memory bandwidth (a 256 MiB memcpy).
# Models: the demo's MLP at batch 64 (the worst case: few FLOPs per
# parameter) and 256, the small CNN, and ResNet-20 (3x32x32, batch 32).
# Training runs on one thread; run it on a quiet machine (it prints the
# load average).
#
# Usage: scripts/bench/pouw_overhead.sh [quick]   (quick: fewer rounds, no ResNet)
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
go test -c -o /tmp/pouwd-overhead.test ./verifier/
# model, batch, steps per run, paired rounds
rows=("mlp:784-128-10 64 600 11" "mlp:784-128-10 256 300 11" "cnn:1x28x28-2x8-10 64 300 7")
if [[ "${1:-}" == "quick" ]]; then
	rows=("mlp:784-128-10 64 600 5" "mlp:784-128-10 256 300 5" "cnn:1x28x28-2x8-10 64 300 3")
else
	rows+=("resnet:3x32x32-resnet20-10 32 100 3")
fi
for cfg in "${rows[@]}"; do
	set -- $cfg
	(cd verifier && POUWD_OVERHEAD=1 POUWD_OVERHEAD_MODEL="$1" POUWD_OVERHEAD_BATCH="$2" POUWD_OVERHEAD_STEPS="$3" POUWD_OVERHEAD_ROUNDS="$4" \
		/tmp/pouwd-overhead.test -test.run '^TestOverhead$' -test.v 2>&1 | sed -n 's/^ *overhead_test.go:[0-9]*: //p')
	echo
done
echo "state hash throughput vs memory bandwidth (256 MiB):"
go test -run '^$' -bench 'Sum|Memcpy' -benchtime 5x ./pouw/statehash/ | awk '
	/BenchmarkMemcpy/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") bw = $i }
	/BenchmarkSum\/cores=1/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") one = $i }
	/BenchmarkSum\/cores=all/ { for (i = 1; i <= NF; i++) if ($(i+1) == "MB/s") all = $i }
	END {
		printf "  memcpy, 1 core:          %6.2f GB/s\n", bw / 1000
		printf "  state hash, 1 core:      %6.2f GB/s  (%.0f%% of the memcpy bandwidth)\n", one / 1000, 100 * one / bw
		printf "  state hash, every core:  %6.2f GB/s  (%.2fx one core)\n", all / 1000, all / one
	}'
