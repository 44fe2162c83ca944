#!/bin/sh
# Imported weights in a file: small_cnn.onnx compiled with --weights-threshold 0
# writes NAME.weights and NAME_load_weights; the emitted C (built with -Werror)
# then matches the interpreter. Bad weights files (missing, truncated, wrong
# magic, corrupt, wrong parameter count) exit 1 with a message naming the file
# and the fault. The generated trainer reads the file too.
# usage: weights_file.sh NN2C TEST_SRC_DIR WORK
set -eu
nn2c=$1 src=$2 work=$3
w=$src/weights
rm -rf "$work" && mkdir -p "$work"
cd "$work"
cflags="-std=c99 -O2 -Wall -Wextra -Werror -pedantic"
"$nn2c" compile "$w/small_cnn.onnx" --dim batch=1 --weights-threshold 0 -o gen 2> /dev/null
test -f gen/small_cnn.weights
grep -q 'small_cnn_load_weights(float \*params, const char \*path);' gen/small_cnn.h
! grep -q 'static const float forward_w1' gen/small_cnn.c # the weights left the C file
cc $cflags -c gen/small_cnn.c -o small_cnn.o
cc -std=c11 -O2 -Wall -Wextra -Werror -DM=small_cnn -DWEIGHTS -include gen/small_cnn.h "$src/infer_harness.c" \
  small_cnn.o -o harness -lm
./harness gen/small_cnn.weights "$w/input_0.bin" out.bin
# the interpreter on the same input: |C - interp| <= 1e-5 + 1e-4 |interp|
"$nn2c" run "$w/small_cnn.onnx" --dim batch=1 "$w/input_0.pb" | sed 's/^[^:]*: //' | tr ' ' '\n' > want.txt
od -An -v -f out.bin | tr -s ' ' '\n' | sed '/^$/d' > got.txt
[ "$(wc -l < want.txt)" -eq 3 ] && [ "$(wc -l < got.txt)" -eq 3 ]
paste got.txt want.txt | awk '{d = $1 - $2; if (d < 0) d = -d; m = $2 < 0 ? -$2 : $2;
  if (d > 1e-5 + 1e-4 * m) {print "emitted " $1 " vs interpreter " $2; bad = 1}} END {exit bad}'
# the default threshold keeps these 224 floats in the C file
cp -r gen lit
"$nn2c" compile "$w/small_cnn.onnx" --dim batch=1 -o lit 2> /dev/null
test ! -e lit/small_cnn.weights # the stale one is gone
! grep -q load_weights lit/small_cnn.h
if "$nn2c" compile "$w/small_cnn.onnx" --dim batch=1 --weights-threshold -1 -o x 2> err.txt; then exit 1; fi
grep -q -- "--weights-threshold must be a number of floats (0 or more), got '-1'" err.txt
bad() { # FILE MESSAGE: the harness refuses FILE with status 1 and MESSAGE
  if ./harness "$1" "$w/input_0.bin" o.bin 2> err.txt; then echo "accepted $1"; exit 1; else rc=$?; fi
  [ $rc -eq 1 ] || { echo "status $rc for $1"; exit 1; }
  grep -q "small_cnn_load_weights: $1: $2" err.txt || { echo "for $1:"; cat err.txt; exit 1; }
}
bad missing.weights "cannot open it"
head -c 500 gen/small_cnn.weights > truncated.weights
bad truncated.weights "truncated"
head -c 10 gen/small_cnn.weights > short.weights
bad short.weights "truncated (it ends inside the header)"
{ printf 'NOTNN2C!'; tail -c +9 gen/small_cnn.weights; } > magic.weights
bad magic.weights "not an nn2c weights file (bad magic)"
cp gen/small_cnn.weights corrupt.weights
printf '\001' | dd of=corrupt.weights bs=1 seek=300 conv=notrunc 2> /dev/null
bad corrupt.weights "checksum mismatch"
# the trainer of the same model (all initializers trainable: another layout)
"$nn2c" compile "$w/small_cnn.onnx" --weights-threshold 0 --train --loss sparse_categorical_crossentropy --batch 4 \
  --dataset "random samples=16 classes=3" -o tr 2> /dev/null
make -s -C tr CFLAGS="$cflags" > /dev/null 2>&1
./tr/small_cnn_train --epochs 1 --save trained.ckpt > tr.txt
grep -q '^final: ' tr.txt
# its weights file gives the interpreter's training figures
"$nn2c" run "$w/small_cnn.onnx" --train --loss sparse_categorical_crossentropy --batch 4 \
  --dataset "random samples=16 classes=3" --epochs 1 | grep '^final: ' > interp.txt
grep '^final: ' tr.txt | cmp - interp.txt
if ./tr/small_cnn_train --weights magic.weights --epochs 1 > /dev/null 2> err.txt; then exit 1; fi
grep -q "magic.weights: not an nn2c weights file" err.txt
bad trained.ckpt "wrong parameter count: the file has 240, the model needs 224"
echo ok
