#!/bin/sh
# Bad files, paths and arguments that once crashed, hung or misbehaved
# (issues 16 and 20): each must give `nn2c: error: <place>: ...` and exit 1,
# or do what it should. Models come from pb.py (no python3-onnx needed).
# usage: hardening.sh NN2C TEST_SRC_DIR WORK PART
#   PART: run_inputs | external_data | empty_paths | export_files | test_onnx_paths
set -u
nn2c=$(realpath "$1") src=$(realpath "$2") work=$3 part=$4
command -v python3 > /dev/null || { echo "skip: no python3"; exit 77; }
rm -rf "$work" && mkdir -p "$work" && work=$(realpath "$work")
cd "$work" || exit 1
pb() { python3 "$src/pb.py" "$@" || { echo "FAIL: pb.py $*"; exit 1; }; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_error MESSAGE CMD...: CMD exits 1 (not a crash) and stderr contains MESSAGE
expect_error() {
  msg=$1; shift
  "$@" > out.txt 2> err.txt
  rc=$?
  if [ $rc -ne 1 ]; then fail "$* exited $rc (want 1)"; cat err.txt
  elif ! grep -qF -- "$msg" err.txt; then fail "$*: no '$msg' in:"; cat err.txt
  fi
}

case $part in
run_inputs) # 16.2: nn2c run checks each input file against the model's input
  pb relu relu.onnx 3,4
  pb tensor good.pb f32 3,4
  pb tensor small.pb f32 2
  pb tensor wrongtype.pb i64 3,4
  pb tensor transposed.pb f32 4,3
  "$nn2c" run relu.onnx good.pb > out.txt || fail "a matching input is refused"
  grep -q '^y f32\[3,4\]: 0 0' out.txt || fail "no output for a matching input"
  expect_error "small.pb: input 'x' of relu.onnx is f32[3,4], the file holds f32[2]" "$nn2c" run relu.onnx small.pb
  expect_error "wrongtype.pb: input 'x' of relu.onnx is f32[3,4], the file holds i64[3,4]" "$nn2c" run relu.onnx wrongtype.pb
  expect_error "transposed.pb: input 'x' of relu.onnx is f32[3,4], the file holds f32[4,3]" "$nn2c" run relu.onnx transposed.pb
  expect_error "good.pb: 2 input files given, the model relu.onnx has 1 input" "$nn2c" run relu.onnx good.pb good.pb
  ;;
*) echo "unknown part '$part'"; exit 2 ;;
esac
[ $fails -eq 0 ] && echo "ok: $part" || { echo "$fails failures in $part"; exit 1; }
