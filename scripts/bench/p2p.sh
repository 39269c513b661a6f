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
#
#        scripts/bench/p2p.sh localnet [RUNS]
#   The same path across separate processes on a real local chain: builds
#   pouwd, starts a 4-validator localnet (scripts/localnet.sh, its own home
#   and ports), funds 5 storage accounts, runs 5 `pouwd data serve`, runs
#   `pouwd data publish` of canonical MNIST (k=10, m=4), times RUNS
#   `pouwd data fetch` (fresh home each), stops one storage peer, damages
#   every shard file of another, fetches again (must name the bad peer),
#   compares sha256, and stops everything it started.
#   Scale (the load row of a large dataset over many storage peers):
#     P2P_PEERS   storage peers (default 5)
#     P2P_SOURCE  `pouwd data prepare --source` (default mnist)
#     P2P_DTYPE   its --dtype (default: the source's; float32 makes MNIST
#                 4x larger, 220 MB)
#     P2P_K, P2P_M  Reed-Solomon data and parity shards (default 10, 4)
#   e.g. P2P_PEERS=14 P2P_DTYPE=float32 scripts/bench/p2p.sh localnet 2
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ "${1:-}" == localnet ]]; then
	shift
	RUNS=${1:-3}
	PEERS=${P2P_PEERS:-5} SOURCE=${P2P_SOURCE:-mnist} K=${P2P_K:-10} M=${P2P_M:-4}
	DTYPE=()
	[[ -z "${P2P_DTYPE:-}" ]] || DTYPE=(--dtype "$P2P_DTYPE")
	W=$(mktemp -d /tmp/p2p-localnet.XXXXXX)
	P=$W/pouwd
	export LOCALNET_HOME=$W/net LOCALNET_PORT_SHIFT=${LOCALNET_PORT_SHIFT:-3100} POUWD=$P
	RPC=tcp://127.0.0.1:$((26657 + LOCALNET_PORT_SHIFT))
	KR=(--keyring-backend test --keyring-dir "$LOCALNET_HOME")
	PIDS=()
	cleanup() {
		for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
		scripts/localnet.sh stop >/dev/null 2>&1 || true
		rm -rf "$W"
	}
	trap cleanup EXIT
	echo "== building pouwd"
	go build -o "$P" ./cmd/pouwd
	scripts/localnet.sh start >/dev/null
	CHAIN=$("$P" status --node "$RPC" 2>/dev/null | jq -r '.node_info.network')
	TX=(--node "$RPC" --chain-id "$CHAIN" "${KR[@]}" --yes --output json)
	for i in $(seq "$PEERS"); do
		"$P" keys add "store$i" "${KR[@]}" >/dev/null 2>&1
		"$P" tx bank send client "$("$P" keys show "store$i" -a "${KR[@]}")" 10000000upouw "${TX[@]}" >/dev/null
		sleep 1.5
	done
	for i in $(seq "$PEERS"); do
		mkdir -p "$W/s$i"
		"$P" data serve --home "$W/s$i" --from "store$i" "${TX[@]}" --sync-interval 5s >"$W/s$i/log" 2>&1 &
		PIDS+=($!)
		sleep 2
	done
	for i in $(seq "$PEERS"); do
		for _ in $(seq 60); do grep -q 'registered storage worker' "$W/s$i/log" && break; sleep 1; done
		grep -q 'registered storage worker' "$W/s$i/log" || { echo "storage peer $i did not register:"; tail "$W/s$i/log"; exit 1; }
	done
	echo "== $PEERS storage peers registered"
	"$P" data prepare --source "$SOURCE" "${DTYPE[@]}" --out "$W/ds" >/dev/null
	WANT=$(sha256sum "$W/ds/dataset.pouw" | cut -d' ' -f1)
	echo "== dataset $SOURCE ${DTYPE[*]}: $(stat -c %s "$W/ds/dataset.pouw") bytes, k=$K m=$M over $PEERS peers"
	mkdir -p "$W/pub"
	t0=$(date +%s.%N)
	ID=$("$P" data publish "$W/ds" --k "$K" --m "$M" --from client --home "$W/pub" "${TX[@]}" 2>"$W/pub/log" | tail -1)
	echo "publish (encode, register on chain, push every shard): $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
	grep -E '^(encoded|registered|pushed [0-9]+ shards)' "$W/pub/log"
	fetch() {
		rm -rf "$W/out" "$W/f"
		mkdir -p "$W/f"
		"$P" data fetch "$ID" --out "$W/out" --home "$W/f" --node "$RPC" 2>&1 | tr '\r' '\n' | grep -E '^(dataset|bad peer)' | cut -c1-160
		[[ "$(sha256sum "$W/out/dataset.pouw" | cut -d' ' -f1)" == "$WANT" ]] || { echo "FAIL: fetched bytes differ"; exit 1; }
	}
	echo "== fetch x$RUNS, all peers up (separate processes)"
	for _ in $(seq "$RUNS"); do fetch; done
	echo "== storage peer 1 stopped, every shard file of storage peer 2 damaged"
	kill "${PIDS[0]}"
	for f in "$W"/s2/p2p/store/shards/"$ID"/*; do printf '\xff\xff\xff\xff' | dd of="$f" bs=1 seek=1000 conv=notrunc 2>/dev/null; done
	echo "peer 2 is $(grep -m1 -o 'storage peer [^ ]*' "$W/s2/log")"
	fetch
	echo "PASS: identical canonical bytes ($WANT)"
	exit 0
fi
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
