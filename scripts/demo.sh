#!/usr/bin/env bash
# demo.sh: a whole Proof-of-Useful-Work task on a local chain, every role a
# separate process on loopback (what `make demo` runs):
#
#   1. a 4-validator localnet with its workers (`scripts/localnet.sh start
#      --workers`, ports shifted so it does not collide with a developer's
#      localnet): 5 storage peers (`pouwd data serve`), 2 miners (`pouwd
#      miner start`) and 3 verifiers (`pouwd verifier start`), each with its
#      own libp2p host: miners serve their committed checkpoints and final
#      models, verifiers fetch them from the peer id and addresses the
#      miner registered with its bond;
#   2. MNIST prepared (`pouwd data prepare`), erasure-coded and published
#      over libp2p (`pouwd data publish`); every miner and verifier fetches
#      it over libp2p from the storage ring when it first needs it;
#   3. a task: 2 MLP configurations x 3 folds over the MNIST training split;
#   4. a live view of jobs, proofs and votes; at the end the CV table, the
#      best configuration, what each worker did and who was paid what.
#
# It stops everything it started and deletes its home on exit (set
# DEMO_KEEP=1 to keep the home and logs).
#
# Environment: DEMO_HOME (default a fresh temp dir), DEMO_PORT_SHIFT (default
# 4000), DEMO_TIMEOUT (seconds, default 600), POUWD (default: built here),
# DEMO_ON_DONE (a bash command run once the task is paid and the tables are
# printed, before the cleanup, with the localnet still up; the demo fails if
# it does: tests/monitoring checks the localnet's Prometheus there).
#
# Sourced (scripts/faults/lib.sh), it only defines its variables and the
# demo_* steps below, which the fault scripts run tasks with; the task's
# shape then comes from DEMO_LRS (learning rates in 1e-9 units, one
# configuration each; default "100000000 50000000"), DEMO_FOLDS (3),
# DEMO_EPOCHS (1), DEMO_FEE (600000upouw) and DEMO_DEADLINES (the JSON
# below).
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

say() { printf '\033[1mdemo [%4ds]\033[0m %s\n' $((SECONDS - START)) "$*"; }

demo_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	say "cleaning up"
	"$ROOT/scripts/localnet.sh" stop >/dev/null 2>&1 || true
	if [[ -n "${DEMO_KEEP:-}" ]]; then
		say "kept $DEMO (worker logs under localnet/workers/*/log)"
	else
		rm -rf "$DEMO"
	fi
	exit $rc
}

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
waittx() { # waittx TXJSON: wait until the tx is in a block (DEMO_TX_WAIT s, default 30)
	local hash i
	hash="$(jq -r '.txhash // empty' <<<"$1")"
	[[ -n "$hash" ]] || { echo "$1" >&2; return 1; }
	for ((i = 0; i < 2 * ${DEMO_TX_WAIT:-30}; i++)); do
		if out="$("$POUWD" q tx "$hash" "${Q[@]}" 2>/dev/null)"; then
			[[ "$(jq -r .code <<<"$out")" == 0 ]] || { jq -r .raw_log <<<"$out" >&2; return 1; }
			return 0
		fi
		sleep 0.5
	done
	echo "tx $hash not in a block after ${DEMO_TX_WAIT:-30} s" >&2
	return 1
}

# demo_tools: jq and curl drive the localnet and the live view; on a fresh
# Debian machine as root, install them, else say what is missing.
demo_tools() {
	local tool
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
}

demo_build() {
	if [[ -z "${DEMO_NO_BUILD:-}" && "$POUWD" == "$DEMO/pouwd" ]]; then
		say "building pouwd"
		(cd "$ROOT" && go build -o "$POUWD" ./cmd/pouwd)
	fi
}

WORKERS=(miner1 miner2 verifier1 verifier2 verifier3)

# demo_start_localnet: the localnet and its workers, every worker bonded.
demo_start_localnet() {
	say "starting a 4-validator localnet with 5 storage peers, 2 miners and 3 verifiers in $LOCALNET_HOME (RPC $NODE)"
	export LOCALNET_MINER_FLAGS="--threads 1 --status-every 10s --max-proofs-per-job ${DEMO_PROOFS_PER_JOB:-4}"
	"$ROOT/scripts/localnet.sh" start --workers >"$DEMO/localnet.log" 2>&1 || { cat "$DEMO/localnet.log"; exit 1; }
	grep -E 'workers bonded' "$DEMO/localnet.log" | sed 's/^localnet: /  /'
}

# demo_publish: MNIST prepared and published on the storage ring; sets DS.
demo_publish() {
	say "preparing MNIST (70000 samples, official split)"
	"$POUWD" data prepare --source mnist --out "$DEMO/data/mnist" --no-cache >/dev/null
	say "publishing MNIST over libp2p (10+4 Reed-Solomon shards on the storage ring)"
	"$POUWD" data publish "$DEMO/data/mnist" --from client --k 10 --m 4 "${TX[@]}" >"$DEMO/publish.log" 2>&1 || { cat "$DEMO/publish.log"; exit 1; }
	DS="$(q pouwml datasets | jq -r '.datasets[0].id')"
}

# demo_start_balances: balances once every worker has bonded: what changes
# from here on is what the task paid (fees, proof rewards) or took (slashes).
declare -A START_BAL
demo_start_balances() {
	local w
	for w in "${WORKERS[@]}"; do
		START_BAL[$w]="$(q bank balance "$(addr "$w")" upouw | jq -r '.balance.amount')"
	done
}

cfg() { echo "{\"architecture\":\"mlp\",\"layers\":[784,32,10],\"learning_rate_e9\":\"$1\",\"batch_size\":64,\"epochs\":${DEMO_EPOCHS:-1},\"optimizer\":\"OPTIMIZER_SGD\",\"precision\":\"PRECISION_FP32\"}"; }

# demo_submit_task: the task (DEMO_LRS, DEMO_FOLDS, DEMO_EPOCHS, DEMO_FEE,
# DEMO_DEADLINES); sets TASK.
demo_submit_task() {
	local lr configs=() lrs deadlines='{"claim_blocks":"600","training_blocks":"600","evaluation_blocks":"200"}'
	read -r -a lrs <<<"${DEMO_LRS:-100000000 50000000}"
	for lr in "${lrs[@]}"; do configs+=(--configs "$(cfg "$lr")"); done
	if [[ -z "${DEMO_LRS:-}${DEMO_FOLDS:-}${DEMO_EPOCHS:-}" ]]; then
		say "submitting a task: 2 MLP configurations (784-32-10, lr 0.1 and 0.05) x 3 folds"
	else
		say "submitting a task: ${#lrs[@]} MLP configuration(s) (784-32-10, lr ${lrs[*]} x 1e-9, ${DEMO_EPOCHS:-1} epoch(s)) x ${DEMO_FOLDS:-3} folds"
	fi
	waittx "$(tx pouwml submit-task "$DS" "${DEMO_FEE:-600000upouw}" --from client "${configs[@]}" \
		--cv "{\"folds\":${DEMO_FOLDS:-3},\"stratified\":true,\"metric\":\"METRIC_ACCURACY\"}" --seed 7 \
		--deadlines "${DEMO_DEADLINES:-$deadlines}")"
	TASK="$(q pouwml tasks --page-reverse --page-limit 1 | jq -r '.tasks[0].id')" # the newest
}

# demo_watch: the live view until the task closes or TIMEOUT (seconds since
# START) passes; true when it COMPLETED. DEMO_WATCH_EVERY: seconds between lines.
demo_watch() {
	local t jobs proofs h
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
		sleep "${DEMO_WATCH_EVERY:-5}"
	done
	[[ "$status" == TASK_STATUS_COMPLETED ]]
}

# demo_settle_proofs: wait (up to 2 minutes) until no proof is open.
demo_settle_proofs() {
	local i open
	say "waiting for the last proofs to settle"
	for ((i = 0; i < 60; i++)); do
		open="$(q pouwml proofs --page-limit 1000 | jq '[.proofs[]? | select(.status == "PROOF_STATUS_PENDING" or .status == "PROOF_STATUS_COMMITTING" or .status == "PROOF_STATUS_REVEALING")] | length')"
		[[ "$open" == 0 ]] && return 0
		sleep 2
	done
	return 1
}

# demo_tables: the CV table, what each worker did, what each was paid.
demo_tables() {
	local labels=() w now bond d sign
	echo
	say "cross-validation of task $TASK, verified on chain (pouwd q pouwml cv-table $TASK)"
	"$POUWD" q pouwml cv-table "$TASK" --node "$NODE"
	echo
	for w in "${WORKERS[@]}"; do labels+=("$w=$(addr "$w")"); done
	"$POUWD" q pouwml task-work "$TASK" "${labels[@]}" --node "$NODE"
	echo
	echo "paid during the task (balance change since bonding: job fees, proof rewards, verifier fees, less any slash):"
	for w in "${WORKERS[@]}"; do
		now="$(q bank balance "$(addr "$w")" upouw | jq -r '.balance.amount')"
		bond="$(q pouwml worker "$(addr "$w")" 2>/dev/null | jq -r '.worker.bond.amount // 0')"
		d=$((now - START_BAL[$w])) sign=+
		((d < 0)) && sign=- && d=$((-d))
		printf '  %-10s %s%d.%06d POUW  (%s%d upouw; bond held %d upouw)\n' "$w" "$sign" $((d / 1000000)) $((d % 1000000)) "$sign" "$d" "$bond"
	done
}

# Sourced, stop here: the caller runs the steps it needs.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

trap demo_cleanup EXIT INT TERM
demo_tools
demo_build
demo_start_localnet
demo_publish
demo_start_balances
demo_submit_task
if ! demo_watch; then
	say "task not completed (status $status) after ${TIMEOUT}s"
	tail -n 5 "$LOCALNET_HOME"/workers/*/log
	exit 1
fi
demo_settle_proofs || true
demo_tables
if [[ -n "${DEMO_ON_DONE:-}" ]]; then
	say "running DEMO_ON_DONE"
	bash -c "$DEMO_ON_DONE"
fi
say "demo finished in $((SECONDS - START)) s"
