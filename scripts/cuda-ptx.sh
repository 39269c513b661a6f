#!/usr/bin/env bash
# Compiles the CUDA kernels accel/cuda/kernels/*.cu to PTX
# (accel/cuda/kernels/*.ptx, committed and embedded with go:embed).
#
#   scripts/cuda-ptx.sh           regenerate the committed PTX
#   scripts/cuda-ptx.sh --check   compile into a temporary directory (twice,
#                                 from two different directories) and fail if
#                                 the output is not byte-stable or differs
#                                 from the committed PTX
#
# Needs nvcc from CUDA 11.8 (Debian bookworm's nvidia-cuda-toolkit, contrib/
# non-free); other releases emit different PTX text, so they are refused
# unless POUW_NVCC_ANY=1 (then only the --check comparison is meaningful
# against PTX made by that same release).
#
# Flags keep IEEE-754 semantics: no FMA contraction (-fmad=false), IEEE
# division and square root, no flush-to-zero. The kernels also write every
# operation as an explicitly rounded intrinsic; accel/cuda's tests reject
# PTX with approximate or flush-to-zero instructions.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/accel/cuda/kernels"
nvcc=${NVCC:-nvcc}
want_release="11.8"
flags=(-ptx -arch=compute_80 -std=c++17 -O3 -fmad=false --prec-div=true --prec-sqrt=true --ftz=false)

check=0
case "${1:-}" in
--check) check=1 ;;
"") ;;
*)
	echo "usage: $0 [--check]" >&2
	exit 2
	;;
esac

if ! command -v "$nvcc" >/dev/null 2>&1; then
	echo "cuda-ptx: nvcc not found. On Debian bookworm: enable contrib non-free and" >&2
	echo "  apt-get install --no-install-recommends nvidia-cuda-toolkit  (CUDA $want_release)" >&2
	exit 1
fi
release=$("$nvcc" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
if [ "$release" != "$want_release" ] && [ "${POUW_NVCC_ANY:-}" != 1 ]; then
	echo "cuda-ptx: nvcc release $release, the committed PTX is made by $want_release (set POUW_NVCC_ANY=1 to use it anyway)" >&2
	exit 1
fi

# compile SRC OUT: every .cu of SRC into OUT, run from inside SRC with
# relative file names.
compile() {
	local src=$1 out=$2 f
	for f in "$src"/*.cu; do
		f=$(basename "$f")
		(cd "$src" && "$nvcc" "${flags[@]}" -o "$out/${f%.cu}.ptx" "$f")
	done
}

start=$(date +%s)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/a" "$tmp/b" "$tmp/src"
compile "$dir" "$tmp/a"
if grep -l -e "$root" -e "$tmp" "$tmp"/a/*.ptx >/dev/null 2>&1; then
	echo "cuda-ptx: the PTX mentions a local path; it would not be reproducible" >&2
	exit 1
fi

if [ "$check" = 0 ]; then
	rm -f "$dir"/*.ptx
	cp "$tmp"/a/*.ptx "$dir/"
	echo "cuda-ptx: wrote $(ls "$tmp"/a/*.ptx | wc -l) PTX files to accel/cuda/kernels (nvcc $release, $(($(date +%s) - start))s)"
	exit 0
fi

# Byte stability: a second compilation from a copy in another directory.
cp "$dir"/*.cu "$dir"/*.cuh "$tmp/src/"
compile "$tmp/src" "$tmp/b"
if ! diff -r "$tmp/a" "$tmp/b" >/dev/null; then
	echo "cuda-ptx: nvcc output is not byte-stable between two runs:" >&2
	diff -r "$tmp/a" "$tmp/b" | head -20 >&2
	exit 1
fi
status=0
for f in "$tmp"/a/*.ptx; do
	name=$(basename "$f")
	if [ ! -f "$dir/$name" ]; then
		echo "cuda-ptx: accel/cuda/kernels/$name is missing" >&2
		status=1
	elif ! cmp -s "$f" "$dir/$name"; then
		echo "cuda-ptx: accel/cuda/kernels/$name differs from its source:" >&2
		diff "$dir/$name" "$f" | head -10 >&2
		status=1
	fi
done
for f in "$dir"/*.ptx; do
	[ -e "$f" ] || continue
	if [ ! -f "$tmp/a/$(basename "$f")" ]; then
		echo "cuda-ptx: accel/cuda/kernels/$(basename "$f") has no .cu source" >&2
		status=1
	fi
done
if [ "$status" != 0 ]; then
	echo "cuda-ptx: run scripts/cuda-ptx.sh and commit the PTX" >&2
	exit 1
fi
echo "cuda-ptx: committed PTX is up to date and byte-stable (nvcc $release, $(($(date +%s) - start))s)"
