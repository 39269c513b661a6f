#!/usr/bin/env bash
# localnet.sh: a 4-validator pouwd chain on loopback, one `pouwd start`
# process per validator, 1 s blocks.
#
#   scripts/localnet.sh start    create (first time) and start; prints endpoints and accounts
#   scripts/localnet.sh start --workers
#                                also start the off-chain workers, each its own process:
#                                5 storage peers, 2 miners, 3 verifiers (bonded, on libp2p)
#   scripts/localnet.sh start [--workers] --prometheus
#                                also start a Prometheus server (/usr/bin/prometheus, Debian
#                                package `prometheus`) scraping every validator and worker
#   scripts/localnet.sh stop     stop Prometheus, every worker and validator (nothing is left running)
#   scripts/localnet.sh status   per-node pid, height and peers; per-worker pid; Prometheus
#   scripts/localnet.sh reset    stop and delete the localnet home
#   scripts/localnet.sh prometheus-config
#                                print the Prometheus configuration for these ports
#                                (scripts/monitoring/prometheus.yml is it for the defaults)
#
# Environment:
#   LOCALNET_HOME         home of the localnet (default ./.localnet, git-ignored)
#   POUWD                 pouwd binary (default ./build/pouwd)
#   LOCALNET_CHAIN_ID     chain id (default pouw-localnet)
#   LOCALNET_PORT_SHIFT   added to every port (default 0)
#   LOCALNET_BLOCK_MAX_GAS  consensus block gas limit (default 100000000)
#   LOCALNET_MEMPOOL_SIZE each node's mempool, in txs (default 20000)
#   LOCALNET_GOGC         GOGC of the nodes (default 400: less GC work per tx)
#   LOCALNET_GENESIS_JQ   a jq filter applied to the genesis file last (e.g.
#                         '.app_state.pouwml.params.verdict_commit_blocks = "60"')
#   LOCALNET_REWARD_POOL  sent once from val0 to x/pouwml's proof reward pool
#                         (default 100000000000upouw)
#   LOCALNET_WORKERS      1: start the workers too (as start --workers)
#   LOCALNET_MINER_FLAGS  extra flags for each `pouwd miner start` (default
#                         "--threads 1"), LOCALNET_VERIFIER_FLAGS likewise
#   LOCALNET_PROMETHEUS   1: start Prometheus too (as start --prometheus)
#   LOCALNET_PROMETHEUS_BIN       the Prometheus server (default /usr/bin/prometheus,
#                                 else prometheus on PATH)
#   LOCALNET_PROMETHEUS_INTERVAL  its scrape interval (default 5s)
#
# Workers live in $LOCALNET_HOME/workers/NAME (home, log, pid); their keys
# are the test accounts storage1..5, miner1..2, verifier1..3. Prometheus
# lives in $LOCALNET_HOME/prometheus (prometheus.yml, data/, log, pid).
#
# Ports of node i (0..3), before LOCALNET_PORT_SHIFT:
#   p2p 26656+100i  rpc 26657+100i  prometheus 26660+100i
#   grpc 9090+100i  api 1317+100i  pprof 6060+i
# Metrics (/metrics, /healthz) of the workers, before LOCALNET_PORT_SHIFT:
#   minerJ 26670+J  verifierJ 26680+J  storageJ 26690+J   (J from 1)
# The Prometheus server (UI and HTTP API, /api/v1/query): 9091
# (not 9090: that is node0's gRPC).
#
# Keys live in the test keyring at $LOCALNET_HOME (use
# --keyring-backend test --keyring-dir $LOCALNET_HOME); node0's client.toml
# points at node0's RPC, so `pouwd --home $LOCALNET_HOME/node0 q ...` works.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LH="${LOCALNET_HOME:-$ROOT/.localnet}"
mkdir -p "$(dirname "$LH")"
LH="$(cd "$(dirname "$LH")" && pwd)/$(basename "$LH")"
POUWD="${POUWD:-$ROOT/build/pouwd}"
CHAIN_ID="${LOCALNET_CHAIN_ID:-pouw-localnet}"
SHIFT="${LOCALNET_PORT_SHIFT:-0}"
NODES=4
DENOM=upouw
KR=(--keyring-backend test --keyring-dir "$LH")

VAL_STAKE=100000000000   # 100k POUW bonded per validator
VAL_FUNDS=1000000000000  # 1M POUW per validator account
ACC_FUNDS=1000000000000  # 1M POUW per user account
STORAGE=(storage1 storage2 storage3 storage4 storage5)
MINERS=(miner1 miner2)
VERIFIERS=(verifier1 verifier2 verifier3)
ACCOUNTS=(client "${MINERS[@]}" "${VERIFIERS[@]}" "${STORAGE[@]}")
BLOCK_MAX_GAS="${LOCALNET_BLOCK_MAX_GAS:-100000000}" # 100M gas: ~1000 pouwml txs
REWARD_POOL="${LOCALNET_REWARD_POOL:-100000000000$DENOM}" # 100k POUW for proof rewards

die() { echo "localnet: $*" >&2; exit 1; }
log() { echo "localnet: $*"; }

p2p_port() { echo $((26656 + 100 * $1 + SHIFT)); }
rpc_port() { echo $((26657 + 100 * $1 + SHIFT)); }
prom_port() { echo $((26660 + 100 * $1 + SHIFT)); }
grpc_port() { echo $((9090 + 100 * $1 + SHIFT)); }
api_port() { echo $((1317 + 100 * $1 + SHIFT)); }
pprof_port() { echo $((6060 + $1 + SHIFT)); }

# Metrics ports of the workers: NAME is miner1..2, verifier1..3, storage1..5.
metrics_port() {
	local name="$1" base
	case "$name" in
	miner*) base=26670 ;;
	verifier*) base=26680 ;;
	storage*) base=26690 ;;
	*) die "no metrics port for worker $name" ;;
	esac
	echo $((base + ${name##*[!0-9]} + SHIFT))
}
prometheus_port() { echo $((9091 + SHIFT)); }

node_home() { echo "$LH/node$1"; }
pid_file() { echo "$LH/node$1/pouwd.pid"; }
log_file() { echo "$LH/node$1/pouwd.log"; }

# running_pid FILE: the pid in FILE if that process is running, else nothing.
running_pid() {
	local pid
	[[ -f "$1" ]] || return 0
	pid="$(cat "$1")"
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		echo "$pid"
	fi
}

# node_pid I: the pid of node I if it is running, else nothing.
node_pid() { running_pid "$(pid_file "$1")"; }

# terminate PID...: SIGTERM each, then SIGKILL whatever still runs after 15 s.
terminate() {
	local pid deadline=$((SECONDS + 15))
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# port_in_use PORT: true when something accepts connections on 127.0.0.1:PORT.
port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# set_toml FILE SECTION KEY VALUE: set KEY in [SECTION] (SECTION "" is the
# top level) to VALUE (a TOML literal, quoted by the caller).
set_toml() {
	local file="$1" section="$2" key="$3" value="$4" tmp
	tmp="$(mktemp)"
	awk -v section="$section" -v key="$key" -v value="$value" '
		BEGIN { cur = ""; done = 0 }
		/^\[/ { cur = $0; gsub(/^\[+|\]+[ \t]*$/, "", cur) }
		{
			if (!done && cur == section && $0 ~ "^[ \t]*" key "[ \t]*=") {
				print key " = " value; done = 1; next
			}
			print
		}
		END { if (!done) { exit 3 } }
	' "$file" >"$tmp" || { rm -f "$tmp"; die "cannot set [$section] $key in $file"; }
	mv "$tmp" "$file"
}

need() {
	command -v "$1" >/dev/null 2>&1 || die "$1 is required (apt-get install $2)"
}

height_of() {
	curl -s --max-time 2 "http://127.0.0.1:$(rpc_port "$1")/status" 2>/dev/null |
		jq -r '.result.sync_info.latest_block_height // empty' 2>/dev/null || true
}

peers_of() {
	curl -s --max-time 2 "http://127.0.0.1:$(rpc_port "$1")/net_info" 2>/dev/null |
		jq -r '.result.n_peers // empty' 2>/dev/null || true
}

init_localnet() {
	log "creating a $NODES-validator localnet in $LH (chain id $CHAIN_ID)"
	rm -rf "$LH"
	mkdir -p "$LH/keys"

	local i name
	for ((i = 0; i < NODES; i++)); do
		"$POUWD" init "node$i" --chain-id "$CHAIN_ID" --default-denom "$DENOM" --home "$(node_home "$i")" >/dev/null 2>&1 ||
			die "pouwd init node$i failed"
	done

	for name in val0 val1 val2 val3 "${ACCOUNTS[@]}"; do
		"$POUWD" keys add "$name" "${KR[@]}" --output json >"$LH/keys/$name.json" 2>&1 ||
			die "keys add $name failed: $(cat "$LH/keys/$name.json")"
	done

	local g0
	g0="$(node_home 0)"
	for ((i = 0; i < NODES; i++)); do
		"$POUWD" genesis add-genesis-account "$(addr "val$i")" "$VAL_FUNDS$DENOM" --home "$g0" >/dev/null
	done
	for name in "${ACCOUNTS[@]}"; do
		"$POUWD" genesis add-genesis-account "$(addr "$name")" "$ACC_FUNDS$DENOM" --home "$g0" >/dev/null
	done

	# Short governance periods so proposals can be tried on a localnet, and
	# a block gas limit: without one a proposer under load packs the whole
	# mempool into one block, which then takes many seconds to execute.
	local gen="$g0/config/genesis.json" tmp
	tmp="$(mktemp)"
	jq --arg maxgas "$BLOCK_MAX_GAS" '.app_state.gov.params.voting_period = "60s"
		| .app_state.gov.params.expedited_voting_period = "30s"
		| .app_state.gov.params.max_deposit_period = "60s"
		| .consensus.params.block.max_gas = $maxgas' "$gen" >"$tmp" && mv "$tmp" "$gen"
	if [[ -n "${LOCALNET_GENESIS_JQ:-}" ]]; then
		jq "$LOCALNET_GENESIS_JQ" "$gen" >"$tmp" && mv "$tmp" "$gen"
	fi

	mkdir -p "$g0/config/gentx"
	for ((i = 0; i < NODES; i++)); do
		local h
		h="$(node_home "$i")"
		[[ $i -eq 0 ]] || cp "$gen" "$h/config/genesis.json"
		"$POUWD" genesis gentx "val$i" "$VAL_STAKE$DENOM" --chain-id "$CHAIN_ID" "${KR[@]}" --home "$h" \
			--moniker "node$i" --ip 127.0.0.1 --p2p-port "$(p2p_port "$i")" \
			--output-document "$g0/config/gentx/gentx-node$i.json" >/dev/null 2>&1 || die "gentx for node$i failed"
	done
	"$POUWD" genesis collect-gentxs --home "$g0" >/dev/null 2>&1 || die "collect-gentxs failed"
	"$POUWD" genesis validate --home "$g0" >/dev/null || die "genesis validation failed"

	local ids=() peers
	for ((i = 0; i < NODES; i++)); do
		ids[i]="$("$POUWD" comet show-node-id --home "$(node_home "$i")")"
	done

	for ((i = 0; i < NODES; i++)); do
		local h cfg app j
		h="$(node_home "$i")"
		cfg="$h/config/config.toml"
		app="$h/config/app.toml"
		[[ $i -eq 0 ]] || cp "$gen" "$h/config/genesis.json"

		peers=""
		for ((j = 0; j < NODES; j++)); do
			[[ $j -eq $i ]] && continue
			peers+="${peers:+,}${ids[j]}@127.0.0.1:$(p2p_port "$j")"
		done

		set_toml "$cfg" "" moniker "\"node$i\""
		set_toml "$cfg" rpc laddr "\"tcp://127.0.0.1:$(rpc_port "$i")\""
		set_toml "$cfg" rpc pprof_laddr "\"127.0.0.1:$(pprof_port "$i")\""
		set_toml "$cfg" rpc max_body_bytes 10000000
		set_toml "$cfg" p2p laddr "\"tcp://127.0.0.1:$(p2p_port "$i")\""
		set_toml "$cfg" p2p external_address "\"127.0.0.1:$(p2p_port "$i")\""
		set_toml "$cfg" p2p persistent_peers "\"$peers\""
		set_toml "$cfg" p2p addr_book_strict false
		set_toml "$cfg" p2p allow_duplicate_ip true
		set_toml "$cfg" p2p pex false
		set_toml "$cfg" mempool size "${LOCALNET_MEMPOOL_SIZE:-20000}"
		set_toml "$cfg" consensus timeout_commit '"1s"'
		set_toml "$cfg" consensus skip_timeout_commit false
		set_toml "$cfg" instrumentation prometheus true
		# node0 indexes txs (for `q tx`, `q txs`, clients waiting on a tx);
		# the other validators do not, which saves them work per tx.
		if [[ $i -ne 0 ]]; then
			set_toml "$cfg" tx_index indexer '"null"'
		fi
		set_toml "$cfg" instrumentation prometheus_listen_addr "\"127.0.0.1:$(prom_port "$i")\""

		set_toml "$app" "" minimum-gas-prices "\"0$DENOM\""
		set_toml "$app" api enable true
		set_toml "$app" api address "\"tcp://127.0.0.1:$(api_port "$i")\""
		set_toml "$app" grpc address "\"127.0.0.1:$(grpc_port "$i")\""

		"$POUWD" config set chain-id "$CHAIN_ID" --home "$h" >/dev/null
		"$POUWD" config set keyring-backend test --home "$h" >/dev/null
		"$POUWD" config set node "tcp://127.0.0.1:$(rpc_port "$i")" --home "$h" >/dev/null
	done
	echo "$CHAIN_ID" >"$LH/chain-id"
}

addr() {
	"$POUWD" keys show "$1" -a "${KR[@]}"
}

check_ports() {
	local i p name busy=0
	for ((i = 0; i < NODES; i++)); do
		for name in p2p rpc prom grpc api pprof; do
			p="$("${name}_port" "$i")"
			if port_in_use "$p"; then
				echo "localnet: port $p ($name of node$i) is already in use on 127.0.0.1" >&2
				busy=1
			fi
		done
	done
	[[ $busy -eq 0 ]] || die "free the port(s) above or set LOCALNET_PORT_SHIFT (e.g. LOCALNET_PORT_SHIFT=1000)"
}

# check_free_port PORT WHAT: die naming WHAT when PORT is taken.
check_free_port() {
	if port_in_use "$1"; then
		die "port $1 ($2) is already in use on 127.0.0.1; free it or set LOCALNET_PORT_SHIFT (e.g. LOCALNET_PORT_SHIFT=1000)"
	fi
}

print_info() {
	local i name
	echo
	echo "chain id: $(cat "$LH/chain-id" 2>/dev/null || echo "$CHAIN_ID")   home: $LH"
	echo "endpoints:"
	for ((i = 0; i < NODES; i++)); do
		printf '  node%d  rpc http://127.0.0.1:%s  grpc 127.0.0.1:%s  api http://127.0.0.1:%s  p2p 127.0.0.1:%s  log %s\n' \
			"$i" "$(rpc_port "$i")" "$(grpc_port "$i")" "$(api_port "$i")" "$(p2p_port "$i")" "$(log_file "$i")"
	done
	echo "accounts (keyring-backend test, keyring-dir $LH; mnemonics in $LH/keys/):"
	for name in "${ACCOUNTS[@]}" val0 val1 val2 val3; do
		printf '  %-10s %s\n' "$name" "$(addr "$name")"
	done
	echo "try:"
	echo "  $POUWD --home $(node_home 0) q bank balances \$($POUWD keys show client -a --keyring-backend test --keyring-dir $LH)"
	echo "  $POUWD --home $(node_home 0) tx bank send client \$($POUWD keys show miner1 -a --keyring-backend test --keyring-dir $LH) 1000$DENOM --keyring-dir $LH -y"
}

# start_node I [WRAPPER...]: start node I's `pouwd start` (run through
# WRAPPER, e.g. setpriv ..., when given). setsid: the node gets its own
# session, so it outlives this shell and `stop` can signal it by pid alone
# (setsid and a wrapper that execs keep the pid).
start_node() {
	local i="$1"
	shift
	GOGC="${LOCALNET_GOGC:-400}" setsid "$@" "$POUWD" start --home "$(node_home "$i")" >>"$(log_file "$i")" 2>&1 </dev/null 9>&- &
	echo $! >"$(pid_file "$i")"
}

cmd_start() {
	need jq jq
	need curl curl
	[[ -x "$POUWD" ]] || die "pouwd binary not found at $POUWD (run make build, or set POUWD)"

	local i running=0
	for ((i = 0; i < NODES; i++)); do
		[[ -n "$(node_pid "$i")" ]] && running=$((running + 1))
	done
	if [[ $running -eq $NODES ]]; then
		log "already running"
		cmd_status
		return 0
	fi
	if [[ $running -gt 0 ]]; then
		log "$running of $NODES nodes are running; stopping them first"
		cmd_stop
	fi

	if [[ ! -f "$(node_home 0)/config/genesis.json" || ! -f "$LH/chain-id" ]]; then
		init_localnet
	else
		log "resuming the existing localnet in $LH (scripts/localnet.sh reset for a fresh chain)"
	fi
	check_ports

	for ((i = 0; i < NODES; i++)); do
		start_node "$i"
	done

	log "waiting for blocks"
	# Ready once node0 has seen two new blocks (a resumed chain starts at
	# its old height, a new one at 1).
	local deadline=$((SECONDS + 60)) h0="" first=""
	while ((SECONDS < deadline)); do
		for ((i = 0; i < NODES; i++)); do
			if [[ -z "$(node_pid "$i")" ]]; then
				echo "localnet: node$i exited; last lines of $(log_file "$i"):" >&2
				tail -n 20 "$(log_file "$i")" >&2
				cmd_stop
				exit 1
			fi
		done
		h0="$(height_of 0)"
		if [[ -n "$h0" && "$h0" -gt 0 ]]; then
			[[ -n "$first" ]] || first="$h0"
			if ((h0 >= first + 2)); then
				break
			fi
		fi
		sleep 0.5
	done
	[[ -n "$first" && "$h0" -ge $((first + 2)) ]] || { cmd_stop; die "no blocks after 60 s; see the logs under $LH/node*/pouwd.log"; }
	log "producing blocks (height $h0)"
	[[ -f "$LH/reward-pool-funded" ]] || fund_reward_pool
	print_info
}

# fund_reward_pool sends REWARD_POOL from val0 to x/pouwml's proof reward
# pool (module account pouwml_rewards), once per localnet.
fund_reward_pool() {
	local pool res hash i
	pool="$("$POUWD" q auth module-account pouwml_rewards --home "$(node_home 0)" -o json 2>/dev/null |
		jq -r '.account.value.address // .account.base_account.address // empty')"
	if [[ -z "$pool" ]]; then
		log "no pouwml_rewards module account; reward pool not funded"
		return 0
	fi
	res="$("$POUWD" tx bank send val0 "$pool" "$REWARD_POOL" --home "$(node_home 0)" "${KR[@]}" \
		--chain-id "$(cat "$LH/chain-id")" -y -o json 2>&1)" || { log "funding the reward pool failed: $res"; return 0; }
	hash="$(jq -r '.txhash // empty' <<<"$res")"
	for ((i = 0; i < 30; i++)); do
		if "$POUWD" q tx "$hash" --home "$(node_home 0)" -o json >/dev/null 2>&1; then
			log "funded the pouwml proof reward pool $pool with $REWARD_POOL"
			touch "$LH/reward-pool-funded"
			return 0
		fi
		sleep 0.5
	done
	log "reward pool funding tx $hash not committed yet"
}

worker_dir() { echo "$LH/workers/$1"; }

# worker_pid NAME: the pid of worker NAME if it is running, else nothing.
worker_pid() { running_pid "$LH/workers/$1/pid"; }

# start_worker NAME CMD...: run a worker daemon in its own session, logging
# to workers/NAME/log, unless it is already running.
start_worker() {
	local name="$1" d
	shift
	d="$(worker_dir "$name")"
	mkdir -p "$d"
	[[ -z "$(worker_pid "$name")" ]] || return 0
	setsid "$@" >>"$d/log" 2>&1 </dev/null 9>&- &
	echo $! >"$d/pid"
}

# bonded ROLE: how many workers of ROLE (storage, miner, verifier) are bonded.
bonded() {
	"$POUWD" q pouwml workers --role "$1" --node "tcp://127.0.0.1:$(rpc_port 0)" -o json 2>/dev/null |
		jq '.workers | length' 2>/dev/null || echo 0
}

# start_named_worker NAME: start worker NAME (storage1..5, miner1..2,
# verifier1..3) with its role's command line, unless it is running.
# Each worker serves its metrics on its fixed port; a pouwd built before a
# command had --metrics-addr still runs, without them.
WORKER_METRICS_FLAGS=()
start_named_worker() {
	local name="$1" d tx flags=() mf
	d="$(worker_dir "$name")"
	tx=(--chain-id "$(cat "$LH/chain-id")" --node "tcp://127.0.0.1:$(rpc_port 0)" "${KR[@]}")
	if [[ ${#WORKER_METRICS_FLAGS[@]} -eq 0 ]]; then
		WORKER_METRICS_FLAGS=("$(metrics_flag data serve)" "$(metrics_flag miner start)" "$(metrics_flag verifier start)")
	fi
	case "$name" in
	storage*)
		mf="${WORKER_METRICS_FLAGS[0]}"
		start_worker "$name" "$POUWD" data serve --from "$name" --home "$d" "${tx[@]}" \
			--yes --gas auto --gas-adjustment 2 --p2p.listen /ip4/127.0.0.1/tcp/0 \
			${mf:+"$mf" "127.0.0.1:$(metrics_port "$name")"}
		;;
	miner*)
		mf="${WORKER_METRICS_FLAGS[1]}"
		read -r -a flags <<<"${LOCALNET_MINER_FLAGS:---threads 1}"
		start_worker "$name" "$POUWD" miner start --from "$name" --home "$d" --store "$d/store" "${tx[@]}" \
			${mf:+"$mf" "127.0.0.1:$(metrics_port "$name")"} "${flags[@]}"
		;;
	verifier*)
		mf="${WORKER_METRICS_FLAGS[2]}"
		read -r -a flags <<<"${LOCALNET_VERIFIER_FLAGS:---threads 1}"
		start_worker "$name" "$POUWD" verifier start --from "$name" --home "$d" "${tx[@]}" \
			${mf:+"$mf" "127.0.0.1:$(metrics_port "$name")"} "${flags[@]}"
		;;
	*) die "no worker named $name" ;;
	esac
}

cmd_start_workers() {
	local name
	for name in "${STORAGE[@]}" "${MINERS[@]}" "${VERIFIERS[@]}"; do
		"$POUWD" keys show "$name" "${KR[@]}" >/dev/null 2>&1 ||
			die "no key $name in $LH (a localnet made before workers existed): scripts/localnet.sh reset, then start again"
	done
	for name in "${STORAGE[@]}" "${MINERS[@]}" "${VERIFIERS[@]}"; do
		[[ -n "$(worker_pid "$name")" ]] || check_free_port "$(metrics_port "$name")" "metrics of $name"
	done
	log "starting ${#STORAGE[@]} storage peers, ${#MINERS[@]} miners, ${#VERIFIERS[@]} verifiers (logs in $LH/workers/*/log)"
	for name in "${STORAGE[@]}" "${MINERS[@]}" "${VERIFIERS[@]}"; do
		start_named_worker "$name"
	done
	# Ready when every worker has bonded (a storage peer must be bonded
	# before a dataset can be placed on it).
	local deadline=$((SECONDS + 120)) s=0 m=0 v=0
	while ((SECONDS < deadline)); do
		for name in "${STORAGE[@]}" "${MINERS[@]}" "${VERIFIERS[@]}"; do
			if [[ -z "$(worker_pid "$name")" ]]; then
				echo "localnet: worker $name exited; last lines of $(worker_dir "$name")/log:" >&2
				tail -n 20 "$(worker_dir "$name")/log" >&2
				exit 1
			fi
		done
		s="$(bonded storage)" m="$(bonded miner)" v="$(bonded verifier)"
		((s >= ${#STORAGE[@]} && m >= ${#MINERS[@]} && v >= ${#VERIFIERS[@]})) && break
		sleep 1
	done
	((s >= ${#STORAGE[@]} && m >= ${#MINERS[@]} && v >= ${#VERIFIERS[@]})) ||
		die "workers not all bonded after 120 s (storage $s, miners $m, verifiers $v); see $LH/workers/*/log"
	log "workers bonded: $s storage peers, $m miners, $v verifiers"
}

# metrics_flag CMD...: --metrics-addr when `pouwd CMD... --help` lists it,
# else nothing (and a note).
metrics_flag() {
	local help
	# Read the whole help first: grep -q would stop reading at the match
	# and, under pipefail, pouwd's SIGPIPE would read as "no flag".
	help="$("$POUWD" "$@" --help 2>/dev/null || true)"
	if grep -q -- '--metrics-addr' <<<"$help"; then
		echo --metrics-addr
	else
		echo "localnet: pouwd $* has no --metrics-addr; its workers run without metrics" >&2
	fi
}

prom_dir() { echo "$LH/prometheus"; }
prometheus_pid() { running_pid "$(prom_dir)/pid"; }

# prometheus_config [RULES]: the Prometheus configuration of this localnet
# on stdout: every validator's CometBFT listener (CometBFT's series, the
# chain module's pouw_chain_* and the system series) and every worker's
# metrics, each target labelled instance=node0, miner1, ... so dashboards
# show names rather than ports. RULES is the alert rules file it loads
# (default: scripts/monitoring/alerts.yml of this checkout).
prometheus_config() {
	local rules="${1:-$ROOT/scripts/monitoring/alerts.yml}" i name
	cat <<-EOF
		# Prometheus configuration of the pouwd localnet (scripts/localnet.sh
		# prometheus-config; LOCALNET_PORT_SHIFT=$SHIFT). Validators: CometBFT's
		# listener (instrumentation.prometheus_listen_addr); workers: --metrics-addr.
		global:
		  scrape_interval: ${LOCALNET_PROMETHEUS_INTERVAL:-5s}
		  evaluation_interval: ${LOCALNET_PROMETHEUS_INTERVAL:-5s}
		  external_labels:
		    localnet: pouwd
		rule_files:
		  - $rules
		scrape_configs:
		  - job_name: validator
		    static_configs:
	EOF
	for ((i = 0; i < NODES; i++)); do
		printf '      - targets: ["127.0.0.1:%s"]\n        labels: {instance: node%d}\n' "$(prom_port "$i")" "$i"
	done
	local job names
	for job in miner verifier storage; do
		case $job in
		miner) names=("${MINERS[@]}") ;;
		verifier) names=("${VERIFIERS[@]}") ;;
		storage) names=("${STORAGE[@]}") ;;
		esac
		printf '  - job_name: %s\n    static_configs:\n' "$job"
		for name in "${names[@]}"; do
			printf '      - targets: ["127.0.0.1:%s"]\n        labels: {instance: %s}\n' "$(metrics_port "$name")" "$name"
		done
	done
}

# cmd_start_prometheus: a Prometheus server for this localnet, in its own
# session like the nodes, storage and log under $LH/prometheus.
cmd_start_prometheus() {
	local bin="${LOCALNET_PROMETHEUS_BIN:-}" d port
	if [[ -z "$bin" ]]; then
		if [[ -x /usr/bin/prometheus ]]; then
			bin=/usr/bin/prometheus
		else
			bin="$(command -v prometheus || true)"
		fi
	fi
	[[ -n "$bin" && -x "$bin" ]] || die "prometheus is required for --prometheus (apt-get install prometheus, or set LOCALNET_PROMETHEUS_BIN)"
	d="$(prom_dir)"
	port="$(prometheus_port)"
	mkdir -p "$d/data"
	prometheus_config >"$d/prometheus.yml"
	if [[ -n "$(prometheus_pid)" ]]; then
		# Running already: reload, so targets added since are scraped.
		kill -HUP "$(prometheus_pid)"
		log "Prometheus running, configuration reloaded: http://127.0.0.1:$port"
		return 0
	fi
	check_free_port "$port" "Prometheus"
	setsid "$bin" --config.file "$d/prometheus.yml" --storage.tsdb.path "$d/data" \
		--web.listen-address "127.0.0.1:$port" --storage.tsdb.retention.time 7d \
		>>"$d/log" 2>&1 </dev/null 9>&- &
	echo $! >"$d/pid"
	local deadline=$((SECONDS + 30))
	until curl -sf --max-time 2 "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; do
		if [[ -z "$(prometheus_pid)" ]]; then
			echo "localnet: Prometheus exited; last lines of $d/log:" >&2
			tail -n 20 "$d/log" >&2
			exit 1
		fi
		((SECONDS < deadline)) || die "Prometheus not ready after 30 s; see $d/log"
		sleep 0.5
	done
	log "Prometheus: http://127.0.0.1:$port (query: curl -sG http://127.0.0.1:$port/api/v1/query --data-urlencode query=pouw_chain_tasks); dashboard scripts/monitoring/grafana-dashboard.json"
}

cmd_stop_prometheus() {
	local pid
	pid="$(prometheus_pid)"
	[[ -n "$pid" ]] || return 0
	terminate "$pid"
	rm -f "$(prom_dir)/pid"
	log "stopped Prometheus"
}

cmd_stop_workers() {
	local name pid pids=()
	[[ -d "$LH/workers" ]] || return 0
	for d in "$LH"/workers/*/; do
		name="$(basename "$d")"
		pid="$(worker_pid "$name")"
		[[ -z "$pid" ]] || pids+=("$pid")
	done
	terminate "${pids[@]}"
	rm -f "$LH"/workers/*/pid
	[[ ${#pids[@]} -eq 0 ]] || log "stopped ${#pids[@]} worker(s)"
}

cmd_stop() {
	cmd_stop_prometheus
	cmd_stop_workers
	local i pid pids=()
	for ((i = 0; i < NODES; i++)); do
		pid="$(node_pid "$i")"
		[[ -z "$pid" ]] || pids+=("$pid")
	done
	terminate "${pids[@]}"
	for ((i = 0; i < NODES; i++)); do rm -f "$(pid_file "$i")"; done
	log "stopped ${#pids[@]} node(s)"
}

cmd_status() {
	if [[ ! -d "$LH" ]]; then
		log "no localnet at $LH"
		return 0
	fi
	local i pid h p
	printf '%-6s %-8s %-8s %-6s %s\n' node pid height peers rpc
	for ((i = 0; i < NODES; i++)); do
		pid="$(node_pid "$i")"
		h=""; p=""
		if [[ -n "$pid" ]]; then
			h="$(height_of "$i")"
			p="$(peers_of "$i")"
		fi
		printf '%-6s %-8s %-8s %-6s %s\n' "node$i" "${pid:-down}" "${h:--}" "${p:--}" "http://127.0.0.1:$(rpc_port "$i")"
	done
	if [[ -d "$LH/workers" ]]; then
		local d name
		printf '%-10s %-8s %s\n' worker pid log
		for d in "$LH"/workers/*/; do
			name="$(basename "$d")"
			pid="$(worker_pid "$name")"
			printf '%-10s %-8s %s\n' "$name" "${pid:-down}" "${d}log"
		done
	fi
	if [[ -d "$(prom_dir)" ]]; then
		pid="$(prometheus_pid)"
		printf '%-10s %-8s %s\n' prometheus "${pid:-down}" "http://127.0.0.1:$(prometheus_port)  $(prom_dir)/log"
	fi
}

cmd_reset() {
	cmd_stop
	rm -rf "$LH"
	log "removed $LH"
}

# One start/stop/reset at a time per home (they touch the same files); the
# nodes do not inherit the lock.
lock() {
	exec 9>"${TMPDIR:-/tmp}/pouwd-localnet-$(printf '%s' "$LH" | md5sum | cut -c1-12).lock"
	flock -n 9 || die "another scripts/localnet.sh is running on $LH"
}

# Sourced (scripts/faults/lib.sh), the script only defines its functions.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0

case "${1:-}" in
start)
	workers="${LOCALNET_WORKERS:-}"
	prometheus="${LOCALNET_PROMETHEUS:-}"
	for arg in "${@:2}"; do
		case "$arg" in
		--workers) workers=1 ;;
		--prometheus) prometheus=1 ;;
		*) echo "usage: $0 start [--workers] [--prometheus]" >&2; exit 2 ;;
		esac
	done
	[[ "$prometheus" != 0 ]] || prometheus=""
	[[ "$workers" != 0 ]] || workers=""
	lock && cmd_start
	[[ -z "$workers" ]] || cmd_start_workers
	[[ -z "$prometheus" ]] || cmd_start_prometheus
	;;
stop) lock && cmd_stop ;;
status) cmd_status ;;
reset) lock && cmd_reset ;;
prometheus-config) prometheus_config "${2:-}" ;;
*)
	echo "usage: $0 start [--workers] [--prometheus]|stop|status|reset|prometheus-config [RULES]" >&2
	exit 2
	;;
esac
