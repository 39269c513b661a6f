#!/usr/bin/env bash
# resident_overhead.sh: what the device abstraction (ml.Resident,
# Trainer.SetResident: training resident on a GPU, ml/devtrain) costs the
# CPU path. It builds the same host training benchmarks at BASE (default
# 724aecf^, the last commit before the abstraction) and at NEW (default
# 724aecf, the commit that added it: nothing else changed in ml), then runs
# them alternately, ROUNDS times each (default 8, the order swapped every
# round so that a drift in the machine's speed falls on both), and prints
# per model the median ns/step of each and the ratio NEW/BASE. Issue 16's
# target: within 2% (a ratio of at most 1.02).
#
#   bash scripts/bench/resident_overhead.sh
#   NEW=HEAD ROUNDS=4 bash scripts/bench/resident_overhead.sh   (today's tree)
#
# The models: an MLP at batch 64 (where a per-step cost would show most),
# the small CNN at batch 64 and ResNet-20 at batch 32, SGD with momentum,
# one thread (GOMAXPROCS=1 and one engine thread: no scheduling noise).
# Run it on a quiet machine; it takes about ROUNDS x 20 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
BASE=${BASE:-724aecf^}
NEW=${NEW:-724aecf}
ROUNDS=${ROUNDS:-8}
BENCHTIME=${BENCHTIME:-2s}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pouwd-resident-overhead.XXXXXX")
cleanup() {
	for side in base new; do git -C "$root" worktree remove --force "$tmp/$side" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# The benchmark, written into both trees: only API both commits have.
cat >"$tmp/overhead_bench_test.go" <<'EOF'
package ml_test

import (
	"testing"

	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/ml"
)

func overheadSteps(b *testing.B, spec string, batch int) {
	m, err := ml.NewModel(spec, 1)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ml.DefaultTrainConfig()
	cfg.LR, cfg.Momentum, cfg.BatchSize, cfg.Epochs = 0.01, 0.9, batch, 1000
	tr, err := ml.NewTrainer(m, ml.SyntheticDataset(m, 8*batch, 1), cfg, cpu.MustNew(cpu.Options{Threads: 1}))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tr.Step(nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Step(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOverheadMLP(b *testing.B)      { overheadSteps(b, "mlp:784-256-10", 64) }
func BenchmarkOverheadCNN(b *testing.B)      { overheadSteps(b, "cnn:1x28x28-2x8-10", 64) }
func BenchmarkOverheadResNet20(b *testing.B) { overheadSteps(b, "resnet:3x32x32-resnet20-10", 32) }
EOF

for side in base new; do
	rev=$BASE
	[[ $side == new ]] && rev=$NEW
	git -C "$root" worktree add --detach --force "$tmp/$side" "$rev" >/dev/null 2>&1
	cp "$tmp/overhead_bench_test.go" "$tmp/$side/ml/zz_overhead_bench_test.go"
	(cd "$tmp/$side" && go test -c -o "$tmp/$side.test" ./ml)
	echo "built $side = $(git -C "$root" rev-parse --short "$rev") ($rev)"
done

: >"$tmp/runs.txt"
for ((r = 0; r < ROUNDS; r++)); do
	order="base new"
	((r % 2)) && order="new base"
	for side in $order; do
		(cd "$tmp/$side/ml" && GOMAXPROCS=1 "$tmp/$side.test" -test.run '^$' -test.bench '^BenchmarkOverhead' \
			-test.benchtime "$BENCHTIME") | awk -v s="$side" -v r="$r" '$1 ~ /^BenchmarkOverhead/ { n = $1; sub(/-[0-9]+$/, "", n); print s, n, $3, r }' >>"$tmp/runs.txt"
	done
	echo "round $((r + 1))/$ROUNDS done"
done

echo
printf "%-26s %14s %14s %8s   %s\n" "host step (median ns)" "base" "new" "new/base" "per-round new/base: lowest .. highest"
for name in $(awk '{print $2}' "$tmp/runs.txt" | sort -u); do
	med() { awk -v s="$1" -v n="$name" '$1 == s && $2 == n { print $3 }' "$tmp/runs.txt" | sort -n | awk '{ v[NR] = $1 } END { printf "%.0f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
	b=$(med base) n=$(med new)
	spread=$(awk -v n="$name" '$2 == n { v[$1, $4] = $3; r[$4] = 1 }
		END { lo = 1e9; hi = 0; for (k in r) { q = v["new", k] / v["base", k]; lo = q < lo ? q : lo; hi = q > hi ? q : hi }; printf "%.3f .. %.3f", lo, hi }' "$tmp/runs.txt")
	printf "%-26s %14.0f %14.0f %8.3f   %s\n" "${name#BenchmarkOverhead}" "$b" "$n" "$(awk -v n="$n" -v b="$b" 'BEGIN { print n / b }')" "$spread"
done
echo "(base $(git -C "$root" rev-parse --short "$BASE"), new $(git -C "$root" rev-parse --short "$NEW"); $ROUNDS rounds of $BENCHTIME each, alternating; GOMAXPROCS=1)"
