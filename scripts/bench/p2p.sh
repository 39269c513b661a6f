#!/usr/bin/env bash
# Benchmarks the data layer (p2p/):
#   1. Reed-Solomon encode + rebuild on one core, 10+4 with 1 MiB shards
#      (4 data shards lost)                       target >= 1 GB/s per core
#      and the same with every SHA-256 the data layer does (each shard when
#      encoding, the rebuilt bytes), which SHA-256 bounds (~1-1.5 GB/s here).
#   2. Fetching canonical MNIST (55 MB, 10+4) from 5 storage peers on
#      127.0.0.1 into a fresh node: dial, fetch any 10 verified shards,
#      rebuild, verify                            target >= 100 MB/s
#      over TCP, then over QUIC.
# Also the Go benchmarks of p2p (single core). On a shared machine
# wall-clock figures include other processes' time: the load average is
# printed with the results.
# Usage: scripts/bench/p2p.sh [RUNS]   (default 5 fetches per transport)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)   cpus: $(nproc)"
echo "== go test -bench Erasure -cpu 1 ./p2p"
go test -run '^$' -bench 'Erasure' -benchtime 20x -cpu 1 ./p2p | grep -E '^Benchmark'
go build -o build/_bench-p2p/p2pbench ./scripts/bench/p2pbench
echo "== p2pbench (tcp)"
build/_bench-p2p/p2pbench -runs "$RUNS"
echo "== p2pbench (quic)"
build/_bench-p2p/p2pbench -runs "$RUNS" -quic -rs-iters 3 | grep -E 'fetch'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
