#!/bin/sh
# classify.sh NN2C EXAMPLES_DIR WORKDIR MNIST_DIR
# examples/classify.c as the README builds it: the MNIST CNN compiled for
# inference only (its header without trainer defines), a checkpoint from a short
# training run (6000 images, 1 epoch), 20 test digits written as PGM files:
# classify must get at least 17 right. Then NAME_load_checkpoint's error codes
# on broken checkpoints, each leaving params unchanged. Skipped (77) without
# MNIST or python3.
set -u
nn2c=$1 ex=$2 dir=$3 mnist=$4
fail() { echo "FAIL: $*"; exit 1; }
[ -d "$mnist" ] || { echo "skipped: $mnist is missing"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "skipped: no python3"; exit 77; }
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
"$nn2c" compile "$ex/mnist_cnn.nn" -o inf 2>log && make -s -C inf >>log 2>&1 || fail "inference build: $(tail log)"
for d in _DEFAULT_ DATASET LABEL_NUMEL "void mnist_cnn_init_state" INLINE; do
  grep -q "$d" inf/mnist_cnn.h && fail "the inference header still has $d"
done
grep -q 'int mnist_cnn_load_checkpoint(float \*params, const char \*path);' inf/mnist_cnn.h || fail "no load_checkpoint"
omp=$(grep -q -- '-fopenmp' inf/mnist_cnn.pc && echo -fopenmp)
for cc in gcc clang; do
  command -v $cc >/dev/null 2>&1 || continue
  $cc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -Iinf "$ex/classify.c" inf/libmnist_cnn.a $omp -lm -o classify 2>log ||
    fail "$cc classify.c: $(cat log)"
done
"$nn2c" compile "$ex/mnist_cnn.nn" --train -o tr 2>log && make -s -C tr >>log 2>&1 || fail "trainer build: $(tail log)"
tr/mnist_cnn_train --data "$mnist" --limit-train 6000 --limit-test 500 --epochs 1 --save cnn.ckpt --quiet > log 2>&1 ||
  fail "training: $(cat log)"
python3 - "$mnist" <<'PY' || fail "writing the PGM files"
import gzip, os, sys
img = gzip.open(os.path.join(sys.argv[1], "t10k-images-idx3-ubyte.gz")).read()[16:]
lab = gzip.open(os.path.join(sys.argv[1], "t10k-labels-idx1-ubyte.gz")).read()[8:]
for i in range(20):
    open("d%d.pgm" % i, "wb").write(b"P5\n28 28\n255\n" + img[i * 784:(i + 1) * 784])
open("labels.txt", "w").write(" ".join(str(b) for b in lab[:20]))
PY
right=0 i=0
for want in $(cat labels.txt); do
  got=$(./classify cnn.ckpt d$i.pgm) || fail "classify d$i.pgm: $got"
  echo "d$i.pgm: $got (label $want)"
  [ "${got%% *}" = "$want" ] && right=$((right + 1))
  i=$((i + 1))
done
[ $right -ge 17 ] || fail "only $right of 20 digits right"

# broken checkpoints: the code, its message, params untouched
python3 - <<'PY' || fail "writing the broken checkpoints"
import struct
def fnv(b):
    h = 0xCBF29CE484222325
    for c in b:
        h = ((h ^ c) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h
def ckpt(sections, version=1, tail=b""):
    b = b"NN2CCKPT" + struct.pack("<II", version, len(sections))
    for name, n in sections:
        b += struct.pack("<I", len(name)) + name + struct.pack("<Q", n) + bytes(4 * n)
    return b + struct.pack("<Q", fnv(b)) + tail
good = open("cnn.ckpt", "rb").read()
open("wrong_count.ckpt", "wb").write(ckpt([(b"params", 3)]))
open("no_params.ckpt", "wb").write(ckpt([(b"state", 3)]))
open("version.ckpt", "wb").write(ckpt([(b"params", 3)], version=2))
open("trailing.ckpt", "wb").write(good + b"x")
open("corrupt.ckpt", "wb").write(good[:300] + bytes([good[300] ^ 1]) + good[301:])
open("truncated.ckpt", "wb").write(good[:1000])
open("magic.ckpt", "wb").write(b"NOTNN2C!" + good[8:])
PY
cat > codes.c <<'C'
#include <stdio.h>
#include "mnist_cnn.h"
static float p[mnist_cnn_PARAM_FLOATS];
int main(int argc, char **argv) { /* codes FILE: prints the code, fails if params changed */
  int i, rc;
  for (i = 0; i < mnist_cnn_PARAM_FLOATS; i++) p[i] = 7.0f;
  rc = mnist_cnn_load_checkpoint(argc > 1 ? p : NULL, argc > 1 ? argv[1] : "x");
  for (i = 0; rc && i < mnist_cnn_PARAM_FLOATS; i++)
    if (p[i] != 7.0f) return printf("params changed\n"), 1;
  printf("%d %s\n", rc, mnist_cnn_checkpoint_error(rc));
  return 0;
}
C
cc -std=c99 -Wall -Wextra -Werror -pedantic -Iinf codes.c inf/libmnist_cnn.a $omp -lm -o codes || fail "codes.c"
code() { # FILE CODE MESSAGE
  out=$(./codes "$1") || fail "$1: $out"
  [ "$out" = "$2 $3" ] || fail "$1: got '$out', expected '$2 $3'"
}
code cnn.ckpt 0 "ok"
code missing.ckpt 1 "cannot open it (errno says why)"
code truncated.ckpt 2 "truncated: it ends early"
code magic.ckpt 3 "not an nn2c checkpoint (bad magic)"
code version.ckpt 4 "unsupported checkpoint version (expected 1)"
code no_params.ckpt 5 "no params section"
code wrong_count.ckpt 6 "wrong parameter count: a checkpoint of another model"
code corrupt.ckpt 7 "checksum mismatch: the file is corrupt"
code trailing.ckpt 8 "trailing bytes after the checksum"
[ "$(./codes)" = "10 params (or state) or path is NULL" ] || fail "NULL params"
out=$(./classify truncated.ckpt d0.pgm 2>&1) && fail "classify took a truncated checkpoint"
[ "$out" = "truncated.ckpt: truncated: it ends early" ] || fail "classify's message: $out"
echo "classify: $right of 20 right; load_checkpoint codes ok"
