#!/usr/bin/env bash
# Row 7b: clock skew of one validator. It needs a way to move one process's
# wall clock. The tool at hand is libfaketime (Debian `faketime`), which
# works by LD_PRELOAD on libc's time calls; pouwd is a Go binary and Go
# reads the clock through the kernel's vDSO, never through libc. This row
# first checks whether faketime moves pouwd's clock at all (`pouwd init`
# writes the current time as genesis_time): where it does not, the row is
# skipped saying so, since a skew that does not happen tests nothing.
# (Time namespaces, unshare --time, offset only the monotonic and boot
# clocks, not the wall clock; setting the system clock would move every
# process on the machine, not one validator's.)
ROW=08-clock-skew
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAULT="clock skew: one validator's clock 2 h ahead"

if ! command -v faketime >/dev/null 2>&1; then
	if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		apt-get install -y -qq --no-install-recommends faketime >/dev/null 2>&1 || true
	fi
fi
if ! command -v faketime >/dev/null 2>&1; then
	skip_row 7b "$FAULT" "libfaketime is not installed (apt-get install faketime) and no other tool moves one process's clock"
	exit 0
fi
[[ -x "$POUWD" ]] || (cd "$ROOT" && go build -o "$POUWD" ./cmd/pouwd)
probe="$FAULT_HOME/clock-probe"
mkdir -p "$FAULT_HOME"
faketime -f '+2h' "$POUWD" init probe --home "$probe" --chain-id probe >/dev/null 2>&1 || true
gt="$(jq -r .genesis_time "$probe/config/genesis.json" 2>/dev/null || echo)"
skew=$(($(date -d "$gt" +%s 2>/dev/null || date +%s) - $(date +%s)))
if ((skew < 3600)); then
	skip_row 7b "$FAULT" "libfaketime (faketime -f +2h) does not move pouwd's clock: checked here, \`pouwd init\` under it wrote genesis_time $gt, ${skew}s from the real time; Go reads the wall clock through the vDSO, not libc, so LD_PRELOAD fakers cannot skew it; unshare --time offsets only the monotonic/boot clocks; setting the system clock would skew every process on the host"
	exit 0
fi
fail "faketime moves pouwd's clock here (${skew}s): this row has no skew scenario written yet"
