#!/usr/bin/env bash
# Installs what ml/data, ml/data/hdf5 and their tests need on a fresh Debian
# machine: the real Fashion-MNIST files, libhdf5 (loaded at run time by
# ml/data/hdf5; no headers needed), and h5py + numpy to write HDF5 test files.
# Idempotent: packages already installed are skipped, apt is only touched
# when something is missing. (python3-sklearn is not needed by the tests: it
# only regenerates ml/cv/testdata/*.json with ml/cv/testdata/gen_sklearn.py.)
set -euo pipefail

pkgs=(dataset-fashion-mnist libhdf5-103-1 python3-h5py python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ] && /usr/bin/python3 -c "import h5py, numpy" 2>/dev/null; then
  echo "deps-data: all present (${pkgs[*]})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps-data: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Verify what the tests rely on.
ls /usr/lib/*/libhdf5_serial.so.103 >/dev/null || { echo "deps-data: libhdf5_serial.so.103 missing" >&2; exit 1; }
test -d /usr/share/datasets/fashion-mnist || { echo "deps-data: /usr/share/datasets/fashion-mnist missing" >&2; exit 1; }
/usr/bin/python3 -c 'import h5py, numpy' || { echo "deps-data: /usr/bin/python3 cannot import h5py/numpy" >&2; exit 1; }
echo "deps-data: ok"
