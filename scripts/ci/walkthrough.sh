#!/usr/bin/env bash
# walkthrough.sh: runs the README's hand-driven walk-through exactly as
# written: every ```sh block between <!-- walkthrough:begin --> and
# <!-- walkthrough:end --> in README.md, in order, in one bash with
# `set -euo pipefail`, from the repository root. It fails when any command
# fails or the whole run takes longer than WALKTHROUGH_TIMEOUT seconds
# (default 900), and always stops and deletes the localnet it started.
#
# It uses the default localnet home (.localnet) and ports, so it refuses to
# run while a localnet is up there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [[ -d .localnet ]]; then
	echo "walkthrough: .localnet exists; stop and reset it first (make localnet-reset)" >&2
	exit 1
fi

script="$(mktemp)"
trap 'rm -f "$script"; scripts/localnet.sh reset >/dev/null 2>&1 || true' EXIT
{
	echo 'set -euo pipefail'
	echo 'set -x'
	awk '
		/<!-- walkthrough:begin -->/ { on = 1; next }
		/<!-- walkthrough:end -->/   { on = 0; next }
		on && /^```sh$/              { code = 1; next }
		on && /^```$/                { code = 0; next }
		on && code                   { print }
	' README.md
} >"$script"
lines=$(($(wc -l <"$script") - 2))
[[ $lines -gt 10 ]] || { echo "walkthrough: found only $lines command lines in README.md's walk-through" >&2; exit 1; }
echo "walkthrough: running $lines lines from README.md"
start=$SECONDS
timeout "${WALKTHROUGH_TIMEOUT:-900}" bash "$script"
echo "walkthrough: passed in $((SECONDS - start)) s"
