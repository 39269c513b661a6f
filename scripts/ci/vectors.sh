#!/usr/bin/env bash
# Recomputes the committed pouw and statehash test vectors with an independent Python implementation (scripts/pouw_vectors.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -x /usr/bin/python3 ]]; then
	py=/usr/bin/python3
elif command -v python3 >/dev/null 2>&1; then
	py=$(command -v python3)
else
	echo "vectors: no python3 found (apt-get install python3-minimal): cannot cross-check the test vectors" >&2
	exit 1
fi
"$py" scripts/pouw_vectors.py
