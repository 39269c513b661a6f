#!/usr/bin/env bash
# Runs every fuzz target of x/pouwml (one per Msg handler) for FUZZTIME
# (default 4s) each. The seed corpora already run as plain tests in
# `go test ./...`; this adds a short coverage-guided search. The first
# target pays for the instrumented build; the rest reuse the build cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-4s}
pkg=./x/pouwml/keeper
targets=$(grep -ho '^func Fuzz[A-Za-z0-9]*' x/pouwml/keeper/*_test.go | sed 's/func //' | sort)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in $targets; do
  start=$(date +%s)
  if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
    cat "$log"
    echo "fuzz: $t FAILED (the failing input is under $pkg/testdata/fuzz/$t)"
    exit 1
  fi
  echo "fuzz: $t ok ($(( $(date +%s) - start ))s): $(grep -o 'execs: [0-9]*' "$log" | tail -1)"
done
echo "fuzz: $(echo "$targets" | wc -w) targets passed"
