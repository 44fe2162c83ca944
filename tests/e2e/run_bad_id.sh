#!/bin/sh
# run_bad_id.sh NN2C MODEL WORKDIR - an embedding id outside the vocabulary is
# an error on both paths: `nn2c run` exits 1 naming the embedding, and the
# generated trainer exits 1 because its train_step returned status 2.
set -u
nn2c=$1 model=$2 work=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work" && mkdir -p "$work"
"$nn2c" run "$model" >"$work/run.out" 2>&1
[ $? -eq 1 ] || fail "nn2c run did not exit 1"
grep -q "embedding: an id is outside" "$work/run.out" || fail "nn2c run: no message about the id: $(cat "$work/run.out")"
"$nn2c" compile "$model" --train -o "$work/src" 2>/dev/null || fail "compile failed"
make -s -C "$work/src" >/dev/null 2>&1 || fail "build failed"
"$work/src/bad_id_train" >"$work/train.out" 2>&1
[ $? -eq 1 ] || fail "the trainer did not exit 1"
grep -q "train_step failed with status 2" "$work/train.out" || fail "trainer: $(cat "$work/train.out")"
echo "PASS: out-of-range ids rejected by the interpreter and by the emitted step"
