#!/usr/bin/env bash
# Runs every fuzz target at a trust boundary for FUZZTIME (default 2s)
# each: every Msg handler of x/pouwml, the p2p wire messages, replies and
# served streams, the erasure decoder, checkpoints and model files, the
# job mapping from chain records, dataset sources and meta.json, the
# miner's step journal, the verifier's saved verdicts, run reports (the
# list and what each asserts: docs/RELIABILITY.md). The seed corpora
# (testdata/fuzz/<target>/) already run as plain tests in `go test ./...`;
# this adds a short coverage-guided search.
#
# Each package's instrumented test binary is built once (`go test -c
# -fuzz=.`), one package after another, and its targets then run from that
# binary in the package's directory (where testdata/fuzz is). Building
# inside every target's `go test -fuzz` made two processes compile the same
# coverage-instrumented Cosmos SDK at once (about 14 minutes of a 2-core
# CI machine) and re-link the binary for each of the 44 targets.
# PARALLEL (default 1) is the fuzzing workers of each target.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-2s}
PARALLEL=${PARALLEL:-1}
# Every Fuzz function of these packages is run.
pkgs=(
	x/pouwml/keeper # Msg handlers, queries
	x/pouwml/types  # model configurations (ModelParams)
	p2p             # wire messages, replies, served streams, erasure decoding, checkpoints a peer serves
	ml              # model specs, checkpoints and model files
	ml/data         # dataset sources, the canonical form, meta.json
	ml/data/hdf5    # HDF5 sources
	ml/mnist        # the engine's MNIST IDX loader
	jobspec         # chain task records -> engine jobs
	miner           # the step journal
	verifier        # saved verdicts
	monitor/report  # run reports and their plots
)
targets=""
for p in "${pkgs[@]}"; do
	for t in $(grep -ho '^func Fuzz[A-Za-z0-9]*' "$p"/*_test.go | sed 's/func //' | sort); do
		targets+="./$p $t"$'\n'
	done
done
# JOBS (default: the number of cores) targets fuzz at once, each in its
# own go test process and log; a failure ends the run after the running
# targets finish, with the failing target's log.
JOBS=${JOBS:-$(nproc)}
logs=$(mktemp -d)
bins=$(mktemp -d)
trap 'rm -rf "$logs" "$bins"' EXIT
fuzzcache="$(go env GOCACHE)/fuzz"
module=$(go list -m)
total=$(date +%s)
for p in "${pkgs[@]}"; do
	start=$(date +%s)
	go test -c -fuzz=. -o "$bins/${p//\//_}.test" "./$p"
	echo "fuzz: built ./$p's instrumented test binary ($(($(date +%s) - start))s)"
done
# run PKG NAME LOG: what `go test -fuzz` would run, from the built binary
# (its corpus cache where go test keeps it: go clean -fuzzcache clears it).
run() {
	local p=${1#./}
	(cd "$p" && "$bins/${p//\//_}.test" -test.run='^$' -test.fuzz="^${2}\$" -test.fuzztime="$FUZZTIME" \
		-test.parallel="$PARALLEL" -test.fuzzcachedir="$fuzzcache/$module/$p") >"$3" 2>&1
}
# target PKG NAME: fuzz one target; prints its line, exits 1 on a failure.
target() {
	local pkg=$1 t=$2 log="$logs/${2}.log" start
	start=$(date +%s)
	if ! run "$pkg" "$t" "$log"; then
		# Go's fuzzing coordinator can fail a target with a bare "context
		# deadline exceeded" when -fuzztime ends during an input
		# (golang/go#75804, fixed in Go 1.27): no input failed, so run
		# it once more.
		if ! grep -q 'Failing input written' "$log" && grep -q 'context deadline exceeded' "$log"; then
			echo "fuzz: $pkg $t: the coordinator's deadline race (golang/go#75804), no failing input; again"
			run "$pkg" "$t" "$log" || { cat "$log"; echo "fuzz: $t FAILED"; return 1; }
		else
			cat "$log"
			echo "fuzz: $t FAILED (the failing input is under $pkg/testdata/fuzz/$t)"
			return 1
		fi
	fi
	echo "fuzz: $pkg $t ok ($(($(date +%s) - start))s): $(grep -o 'execs: [0-9]*' "$log" | tail -1)"
}
n=0 failed=0 running=0
while read -r pkg t; do
	[[ -n $pkg ]] || continue
	if ((running >= JOBS)); then
		wait -n || failed=1
		running=$((running - 1))
	fi
	((failed == 0)) || break
	target "$pkg" "$t" &
	running=$((running + 1))
	n=$((n + 1))
done <<<"$targets"
while ((running > 0)); do
	wait -n || failed=1
	running=$((running - 1))
done
if ((failed)); then
	echo "fuzz: a target failed (above)"
	exit 1
fi
echo "fuzz: $n targets passed in $(($(date +%s) - total))s ($JOBS at a time)"
