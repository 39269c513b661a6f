#!/usr/bin/env bash
# demo.sh: a whole Proof-of-Useful-Work task on a local chain, every role a
# separate process on loopback (what `make demo` runs):
#
#   1. a 4-validator localnet (scripts/localnet.sh, ports shifted so it does
#      not collide with a developer's localnet);
#   2. 5 storage peers (`pouwd data serve`), MNIST prepared (`pouwd data
#      prepare`), erasure-coded and published over libp2p (`pouwd data
#      publish`); every miner and verifier fetches it over libp2p from
#      the storage ring when it first needs it;
#   3. a task: 2 MLP configurations x 3 folds over the MNIST training split;
#   4. 2 miners (`pouwd miner start`) and 3 verifiers (`pouwd verifier start`),
#      each with its own libp2p host: miners serve their committed
#      checkpoints and final models, verifiers fetch them from the peer id
#      and addresses the miner registered with its bond;
#   5. a live view of jobs, proofs and votes; at the end the CV table, the
#      best configuration, the accepted proofs and who was paid what.
#
# It stops everything it started and deletes its home on exit (set
# DEMO_KEEP=1 to keep the home and logs).
#
# Environment: DEMO_HOME (default a fresh temp dir), DEMO_PORT_SHIFT (default
# 4000), DEMO_TIMEOUT (seconds, default 600), POUWD (default: built here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="${DEMO_HOME:-$(mktemp -d "${TMPDIR:-/tmp}/pouwd-demo.XXXXXX")}"
mkdir -p "$DEMO"
SHIFT="${DEMO_PORT_SHIFT:-4000}"
TIMEOUT="${DEMO_TIMEOUT:-600}"
export LOCALNET_HOME="$DEMO/localnet" LOCALNET_PORT_SHIFT="$SHIFT"
export POUWD="${POUWD:-$DEMO/pouwd}"
CHAIN_ID=pouw-localnet
NODE="tcp://127.0.0.1:$((26657 + SHIFT))"
KR=(--keyring-backend test --keyring-dir "$LOCALNET_HOME")
Q=(--node "$NODE" -o json)
TX=(--chain-id "$CHAIN_ID" --node "$NODE" "${KR[@]}" --yes --gas auto --gas-adjustment 2)
START=$SECONDS
PIDS=()

say() { printf '\033[1mdemo [%4ds]\033[0m %s\n' $((SECONDS - START)) "$*"; }

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	say "cleaning up"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	"$ROOT/scripts/localnet.sh" stop >/dev/null 2>&1 || true
	if [[ -n "${DEMO_KEEP:-}" ]]; then
		say "kept $DEMO (logs under */log)"
	else
		rm -rf "$DEMO"
	fi
	exit $rc
}
trap cleanup EXIT INT TERM

addr() { "$POUWD" keys show "$1" -a "${KR[@]}"; }
# tx ARGS...: a signed tx, its JSON on stdout; the SDK's "gas estimate: N"
# line (printed for --gas auto) is dropped, every other message kept.
tx() {
	local errf rc=0
	errf="$(mktemp)"
	"$POUWD" tx "$@" "${TX[@]}" -o json 2>"$errf" || rc=$?
	grep -v '^gas estimate: ' "$errf" >&2 || true
	rm -f "$errf"
	return $rc
}
q() { "$POUWD" q "$@" "${Q[@]}"; }
waittx() { # waittx TXJSON: wait until the tx is in a block
	local hash i
	hash="$(jq -r '.txhash // empty' <<<"$1")"
	[[ -n "$hash" ]] || { echo "$1" >&2; return 1; }
	for ((i = 0; i < 60; i++)); do
		if out="$("$POUWD" q tx "$hash" "${Q[@]}" 2>/dev/null)"; then
			[[ "$(jq -r .code <<<"$out")" == 0 ]] || { jq -r .raw_log <<<"$out" >&2; return 1; }
			return 0
		fi
		sleep 0.5
	done
	return 1
}
bg() { # bg NAME CMD...: run a daemon in the background, logging to NAME/log
	mkdir -p "$DEMO/$1"
	"${@:2}" >"$DEMO/$1/log" 2>&1 </dev/null &
	PIDS+=($!)
}

# jq and curl drive the localnet and the live view; on a fresh Debian
# machine as root, install them, else say what is missing.
for tool in jq curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
			say "installing $tool"
			(apt-get update -qq && apt-get install -y -qq --no-install-recommends "$tool" ca-certificates) >/dev/null
		else
			echo "demo: $tool is required (apt-get install $tool)" >&2
			exit 1
		fi
	fi
done

if [[ -z "${DEMO_NO_BUILD:-}" && "$POUWD" == "$DEMO/pouwd" ]]; then
	say "building pouwd"
	(cd "$ROOT" && go build -o "$POUWD" ./cmd/pouwd)
fi

say "starting a 4-validator localnet in $LOCALNET_HOME (RPC $NODE)"
"$ROOT/scripts/localnet.sh" start >"$DEMO/localnet.log" 2>&1 || { cat "$DEMO/localnet.log"; exit 1; }

say "5 storage peers"
dests=()
for i in 1 2 3 4 5; do
	"$POUWD" keys add "storage$i" "${KR[@]}" >/dev/null 2>&1
	dests+=("$(addr "storage$i")")
done
waittx "$(tx bank multi-send client "${dests[@]}" 10000000upouw)"
for i in 1 2 3 4 5; do
	bg "storage$i" "$POUWD" data serve --from "storage$i" --home "$DEMO/storage$i" "${TX[@]}" --p2p.listen /ip4/127.0.0.1/tcp/0
done

say "preparing MNIST (70000 samples, official split)"
"$POUWD" data prepare --source mnist --out "$DEMO/data/mnist" --no-cache >/dev/null
for ((i = 0; i < 120; i++)); do
	n="$(q pouwml workers --role storage 2>/dev/null | jq '.workers | length' 2>/dev/null || echo 0)"
	[[ "$n" -ge 5 ]] && break
	sleep 1
done
say "$n storage peers bonded; publishing MNIST over libp2p (10+4 Reed-Solomon shards)"
"$POUWD" data publish "$DEMO/data/mnist" --from client --k 10 --m 4 "${TX[@]}" >"$DEMO/publish.log" 2>&1 || { cat "$DEMO/publish.log"; exit 1; }
DS="$(q pouwml datasets | jq -r '.datasets[0].id')"

say "submitting a task: 2 MLP configurations (784-32-10, lr 0.1 and 0.05) x 3 folds"
cfg() { echo "{\"architecture\":\"mlp\",\"layers\":[784,32,10],\"learning_rate_e9\":\"$1\",\"batch_size\":64,\"epochs\":1,\"optimizer\":\"OPTIMIZER_SGD\",\"precision\":\"PRECISION_FP32\"}"; }
waittx "$(tx pouwml submit-task "$DS" 600000upouw --from client --configs "$(cfg 100000000)" --configs "$(cfg 50000000)" \
	--cv '{"folds":3,"stratified":true,"metric":"METRIC_ACCURACY"}' --seed 7 \
	--deadlines '{"claim_blocks":"600","training_blocks":"600","evaluation_blocks":"200"}')"
TASK="$(q pouwml tasks | jq -r '.tasks[-1].id')"

declare -A START_BAL
for w in miner1 miner2 verifier1 verifier2 verifier3; do
	START_BAL[$w]="$(q bank balance "$(addr "$w")" upouw | jq -r '.balance.amount')"
done

say "starting 2 miners and 3 verifiers"
for m in miner1 miner2; do
	mkdir -p "$DEMO/$m"
	bg "$m" "$POUWD" miner start --from "$m" --home "$DEMO/$m" --store "$DEMO/$m/store" \
		--chain-id "$CHAIN_ID" --node "$NODE" "${KR[@]}" --threads 1 --status-every 10s \
		--max-proofs-per-job "${DEMO_PROOFS_PER_JOB:-4}"
done
for v in verifier1 verifier2 verifier3; do
	mkdir -p "$DEMO/$v"
	bg "$v" "$POUWD" verifier start --from "$v" --home "$DEMO/$v" \
		--chain-id "$CHAIN_ID" --node "$NODE" "${KR[@]}" --threads 1
done

say "live view (task $TASK)"
status=""
while ((SECONDS - START < TIMEOUT)); do
	t="$(q pouwml task "$TASK" 2>/dev/null || true)"
	status="$(jq -r '.task.status // empty' <<<"$t")"
	jobs="$(q pouwml jobs "$TASK" 2>/dev/null | jq -r '[.jobs[].status | sub("JOB_STATUS_"; "")] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' 2>/dev/null || true)"
	proofs="$(q pouwml proofs --page-limit 1000 2>/dev/null | jq -r '[.proofs[]?.status | sub("PROOF_STATUS_"; "")] | group_by(.) | map("\(.[0]) \(length)") | join(", ")' 2>/dev/null || true)"
	h="$(curl -s "http://127.0.0.1:$((26657 + SHIFT))/status" | jq -r '.result.sync_info.latest_block_height // empty' 2>/dev/null || true)"
	say "height ${h:-?} | task ${status#TASK_STATUS_} | jobs: ${jobs:-none} | proofs: ${proofs:-none}"
	[[ "$status" == TASK_STATUS_COMPLETED || "$status" == TASK_STATUS_EXPIRED ]] && break
	sleep 5
done
[[ "$status" == TASK_STATUS_COMPLETED ]] || { say "task not completed (status $status) after ${TIMEOUT}s"; tail -n 5 "$DEMO"/miner*/log "$DEMO"/verifier*/log; exit 1; }

say "waiting for the last proofs to settle"
for ((i = 0; i < 60; i++)); do
	open="$(q pouwml proofs --page-limit 1000 | jq '[.proofs[]? | select(.status == "PROOF_STATUS_PENDING" or .status == "PROOF_STATUS_COMMITTING" or .status == "PROOF_STATUS_REVEALING")] | length')"
	[[ "$open" == 0 ]] && break
	sleep 2
done

echo
say "cross-validation of task $TASK, verified on chain (pouwd q pouwml cv-table $TASK)"
"$POUWD" q pouwml cv-table "$TASK" --node "$NODE"
echo
labels=()
for w in miner1 miner2 verifier1 verifier2 verifier3; do labels+=("$w=$(addr "$w")"); done
"$POUWD" q pouwml task-work "$TASK" "${labels[@]}" --node "$NODE"
echo
echo "paid during the task (balance change plus the bond now held: job fees, proof rewards, verifier fees):"
for w in miner1 miner2 verifier1 verifier2 verifier3; do
	now="$(q bank balance "$(addr "$w")" upouw | jq -r '.balance.amount')"
	bond="$(q pouwml worker "$(addr "$w")" 2>/dev/null | jq -r '.worker.bond.amount // 0')"
	d=$((now - START_BAL[$w] + bond)) sign=+
	((d < 0)) && sign=- && d=$((-d))
	printf '  %-10s %s%d.%06d POUW  (%s%d upouw; bond %d upouw)\n' "$w" "$sign" $((d / 1000000)) $((d % 1000000)) "$sign" "$d" "$bond"
done
say "demo finished in $((SECONDS - START)) s"
