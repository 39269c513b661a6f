#!/usr/bin/env bash
# no-headers.sh: the default build needs no C library headers. Fails when
# any package asks pkg-config for a library, when `go build ./...` (cgo on)
# fails with pkg-config unable to find anything, or when the pouwd binary
# links libhdf5 (it must load it at run time, if at all).
set -euo pipefail
cd "$(dirname "$0")/../.."

pc="$(go list -f '{{if .CgoPkgConfig}}{{.ImportPath}}: {{join .CgoPkgConfig " "}}{{end}}' ./... | sed '/^$/d')"
if [[ -n "$pc" ]]; then
	echo "no-headers: these packages need C headers through pkg-config:" >&2
	echo "$pc" >&2
	exit 1
fi
bin="$(mktemp -d)/pouwd"
trap 'rm -rf "$(dirname "$bin")"' EXIT
PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/nonexistent CGO_ENABLED=1 go build ./...
PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=/nonexistent CGO_ENABLED=1 go build -o "$bin" ./cmd/pouwd
if ldd "$bin" | grep -i hdf5; then
	echo "no-headers: $bin links libhdf5 at load time; it must dlopen it" >&2
	exit 1
fi
echo "no-headers: go build ./... needs no pkg-config library; pouwd links: $(ldd "$bin" | awk '{print $1}' | tr '\n' ' ')"
