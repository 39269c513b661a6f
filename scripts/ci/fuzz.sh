#!/usr/bin/env bash
# Runs every fuzz target of x/pouwml (one per Msg handler), ml's spec
# parser and ml/data's text parser for FUZZTIME
# (default 4s) each. The seed corpora already run as plain tests in
# `go test ./...`; this adds a short coverage-guided search. The first
# target pays for the instrumented build; the rest reuse the build cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZTIME=${FUZZTIME:-4s}
# Every Msg handler of x/pouwml, plus the engine's model spec parser and
# the text source's parser (the bytes users hand to pouwd ml / data).
targets=$(grep -ho '^func Fuzz[A-Za-z0-9]*' x/pouwml/keeper/*_test.go | sed 's/func //' | sort | sed 's|^|./x/pouwml/keeper |')
targets+=$'\n'"./ml FuzzParseSpec"$'\n'"./ml/data FuzzParseText"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
n=0
while read -r pkg t; do
  start=$(date +%s)
  if ! go test -run '^$' -fuzz "^${t}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
    cat "$log"
    echo "fuzz: $t FAILED (the failing input is under $pkg/testdata/fuzz/$t)"
    exit 1
  fi
  echo "fuzz: $pkg $t ok ($(( $(date +%s) - start ))s): $(grep -o 'execs: [0-9]*' "$log" | tail -1)"
  n=$((n + 1))
done <<< "$targets"
echo "fuzz: $n targets passed"
