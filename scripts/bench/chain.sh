#!/usr/bin/env bash
# chain.sh: sustained x/pouwml transactions per second on the 4-validator
# loopback localnet (scripts/localnet.sh), from many accounts, for 60 s.
# Prints tx/s (committed, successful), mean block time and the rejected count
# (CheckTx + DeliverTx + broadcast errors). Target: >= 200 tx/s, 1 s blocks.
#
# The load generator (scripts/bench/loadgen) derives BENCH_ACCOUNTS
# accounts, funds them from the localnet's `client` key, and signs with
# locally tracked sequences, each account pinned to one validator. Its
# default message is MsgRegisterWorker (first tx bonds a storage worker,
# later ones top the bond up by 1 upouw).
#
# Environment (defaults): BENCH_DURATION (60s), BENCH_RATE (300 tx/s
# offered), BENCH_ACCOUNTS (400), BENCH_MSG (register-worker | bank-send),
# BENCH_MAX_PENDING (600: offered load pauses while node0's mempool holds
# this many txs), BENCH_KEEP_LOCALNET (unset: a localnet this script
# started is stopped afterwards), LOADGEN (a prebuilt load generator
# instead of building scripts/bench/loadgen), plus scripts/localnet.sh's
# variables.
# Results also go to scripts/bench/out/chain-<time>.json (git-ignored).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
LH="${LOCALNET_HOME:-$ROOT/.localnet}"
SHIFT="${LOCALNET_PORT_SHIFT:-0}"
export CGO_CFLAGS="${CGO_CFLAGS:--Wno-deprecated-declarations}"

mkdir -p build scripts/bench/out
[[ -x build/pouwd ]] || go build -o build/pouwd ./cmd/pouwd
LOADGEN="${LOADGEN:-}"
if [[ -z "$LOADGEN" ]]; then
	echo "bench: building the load generator"
	go build -o build/loadgen ./scripts/bench/loadgen
	LOADGEN=build/loadgen
fi

started=0
status="$(scripts/localnet.sh status 2>/dev/null || true)"
if ! grep -q '^node0 *[0-9]' <<<"$status"; then
	scripts/localnet.sh start >/dev/null
	started=1
fi
cleanup() {
	if [[ $started -eq 1 && -z "${BENCH_KEEP_LOCALNET:-}" ]]; then
		scripts/localnet.sh stop >/dev/null
	fi
}
trap cleanup EXIT

nodes=""
for i in 0 1 2 3; do
	nodes+="${nodes:+,}http://127.0.0.1:$((26657 + 100 * i + SHIFT))"
done
out="scripts/bench/out/chain-$(date -u +%Y%m%dT%H%M%SZ).json"

# CPU time (user+system, clock ticks) of the validator processes: the chain's
# CPU cost per committed tx does not depend on what else the machine runs.
node_ticks() {
	local t=0 f pid
	for f in "$LH"/node*/pouwd.pid; do
		pid="$(cat "$f")"
		[[ -r "/proc/$pid/stat" ]] || continue
		t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
	done
	echo "$t"
}

echo "bench: $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
ticks0="$(node_ticks)"
"$LOADGEN" \
	-nodes "$nodes" \
	-chain-id "$(cat "$LH/chain-id")" \
	-funder "$LH/keys/client.json" \
	-accounts "${BENCH_ACCOUNTS:-400}" \
	-rate "${BENCH_RATE:-300}" \
	-max-pending "${BENCH_MAX_PENDING:-600}" \
	-duration "${BENCH_DURATION:-60s}" \
	-msg "${BENCH_MSG:-register-worker}" \
	-json "$out"
ticks1="$(node_ticks)"
hz="$(getconf CLK_TCK)"
committed="$(jq -r .committed "$out")"
window="$(jq -r .window_s "$out")"
if [[ "$committed" -gt 0 ]]; then
	awk -v t=$((ticks1 - ticks0)) -v hz="$hz" -v c="$committed" -v w="$window" -v n="$(nproc)" 'BEGIN {
		cpu = t / hz; per = 1000 * cpu / c
		printf "bench: validators used %.1f CPU-s (%.2f cores) in %.0f s: %.2f CPU-ms per committed tx for all 4 nodes;", cpu, cpu / w, w, per
		printf " %d free cores would sustain about %.0f tx/s\n", n, n * 1000 / per
	}'
fi
echo "bench: load average after $(cut -d' ' -f1-3 /proc/loadavg); result in $out"
