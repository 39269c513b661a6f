#!/usr/bin/env bash
# govulncheck over every package (source mode, symbol level), against
# vuln.go.dev when it answers and otherwise against a database built
# offline from the golang.org/x/vulndb module, which the Go module proxy
# serves (its data/osv holds every report; scripts/ci/vulndb builds
# govulncheck's v1 layout from them, once per vulndb version, cached).
# Fails on a vulnerability reached from our code that
# scripts/ci/govulncheck-allow.txt does not explain (docs/RELIABILITY.md).
#
#   GOVULNCHECK_VERSION  govulncheck to install (default v1.9.0)
#   VULNDB_VERSION       golang.org/x/vulndb version for the offline database
#   POUWD_VULNDB         auto (default), online (vuln.go.dev only) or offline
#   POUWD_VULNDB_CACHE   where the offline database is kept
set -euo pipefail
cd "$(dirname "$0")/../.."
GOVULNCHECK_VERSION=${GOVULNCHECK_VERSION:-v1.9.0}
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
mode=${POUWD_VULNDB:-auto}
allow=scripts/ci/govulncheck-allow.txt
start=$(date +%s)
say() { echo "govulncheck: $* ($(($(date +%s) - start))s)"; }

bin=$(go env GOBIN)
[[ -n $bin ]] || bin=$(go env GOPATH)/bin
gvc=$bin/govulncheck
have=$("$gvc" -version 2>/dev/null || true)
if [[ $have != *"govulncheck@$GOVULNCHECK_VERSION"* ]]; then
	say "installing govulncheck@$GOVULNCHECK_VERSION"
	go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION"
fi

db=
if [[ $mode != offline ]] && command -v curl >/dev/null &&
	curl -fsS -m 5 -o /dev/null https://vuln.go.dev/index/db.json.gz 2>/dev/null; then
	db=https://vuln.go.dev
elif [[ $mode == online ]]; then
	echo "govulncheck: vuln.go.dev does not answer (POUWD_VULNDB=online)" >&2
	exit 1
fi
if [[ -z $db ]]; then
	cache=${POUWD_VULNDB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pouwd/vulndb-$VULNDB_VERSION}
	if [[ ! -f $cache/index/modules.json ]]; then
		say "vuln.go.dev unreachable: building the database from golang.org/x/vulndb@$VULNDB_VERSION"
		# From an empty directory: the download must not touch go.mod.
		tmp=$(mktemp -d)
		src=$(cd "$tmp" && go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" |
			sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
		rmdir "$tmp"
		if [[ -z $src || ! -d $src/data/osv ]]; then
			echo "govulncheck: golang.org/x/vulndb@$VULNDB_VERSION has no data/osv (at '$src')" >&2
			exit 1
		fi
		mkdir -p "$(dirname "$cache")"
		go run ./scripts/ci/vulndb build -src "$src/data/osv" -out "$cache" -version "$VULNDB_VERSION"
	fi
	db=file://$cache
fi

say "scanning ./... against $db"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# JSON output exits 0 with findings; an error (a package that does not
# load, an unreadable database) exits non-zero.
if ! "$gvc" -db "$db" -format json ./... >"$out"; then
	echo "govulncheck: the scan failed" >&2
	exit 1
fi
go run ./scripts/ci/vulndb check -allow "$allow" -json "$out"
say "ok"
