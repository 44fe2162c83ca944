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
external_data) # 16.7 and 16.12: external data stays in the model's folder, is a regular file, and
  # its offset and length are byte counts that fit the file
  mkdir m outside
  python3 -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<6f", 1, 2, 3, 4, 5, 6))' > m/w.bin
  cp m/w.bin outside/secret.bin
  pb ext m/ok.onnx w.bin
  "$nn2c" compile m/ok.onnx --emit=ir > out.txt 2> err.txt || { fail "a good external-data model is refused"; cat err.txt; }
  grep -q '6' out.txt || fail "no weights in the IR"
  pb ext m/link.onnx link.bin
  ln -s ../outside/secret.bin m/link.bin
  expect_error "outside the model's folder" "$nn2c" compile m/link.onnx --emit=ir
  mkdir m/sub && ln -s ../w.bin m/sub/inner.bin   # a link that stays inside is fine
  pb ext m/inner.onnx sub/inner.bin
  "$nn2c" compile m/inner.onnx --emit=ir > /dev/null 2> err.txt || { fail "a link inside the folder is refused"; cat err.txt; }
  ln -s ../outside m/dirlink                      # so is not a folder that leads out
  pb ext m/dirlink.onnx dirlink/secret.bin
  expect_error "outside the model's folder" "$nn2c" compile m/dirlink.onnx --emit=ir
  mkfifo m/fifo.bin
  pb ext m/fifo.onnx fifo.bin
  expect_error "external data 'm/fifo.bin' is not a regular file" timeout 20 "$nn2c" compile m/fifo.onnx --emit=ir
  pb ext m/huge.onnx w.bin 9223372036854775800
  expect_error "cannot read 24 bytes at offset 9223372036854775800 of 'm/w.bin' (it has 24 bytes)" "$nn2c" compile m/huge.onnx --emit=ir
  pb ext m/toolarge.onnx w.bin 99999999999999999999999
  expect_error "external data offset '99999999999999999999999' is not a byte count" "$nn2c" compile m/toolarge.onnx --emit=ir
  pb ext m/word.onnx w.bin abc
  expect_error "external data offset 'abc' is not a byte count" "$nn2c" compile m/word.onnx --emit=ir
  pb ext m/negative.onnx w.bin -8
  expect_error "external data offset '-8' is not a byte count" "$nn2c" compile m/negative.onnx --emit=ir
  pb ext m/trailing.onnx w.bin 0x10
  expect_error "external data offset '0x10' is not a byte count" "$nn2c" compile m/trailing.onnx --emit=ir
  pb ext m/len.onnx w.bin 0 12
  expect_error "external data length 12, its shape needs 24 bytes" "$nn2c" compile m/len.onnx --emit=ir
  pb ext m/past.onnx w.bin 8
  expect_error "cannot read 24 bytes at offset 8 of 'm/w.bin' (it has 24 bytes)" "$nn2c" compile m/past.onnx --emit=ir
  ;;
empty_paths) # 16.12: -o "" (and other empty values) is refused before anything reads past it
  pb relu relu.onnx 3,4
  expect_error "nn2c: error: -o: the value is empty" "$nn2c" compile relu.onnx -o ""
  expect_error "nn2c: error: -o: the value is empty" "$nn2c" compile relu.onnx -o=
  expect_error "nn2c: error: --name: the value is empty" "$nn2c" compile relu.onnx --name "" -o out
  expect_error "nn2c: error: -o: the value is empty" "$nn2c" export relu.onnx x.ckpt -o ""
  [ -e .tmp ] && fail "export -o '' left a .tmp file"
  ;;
export_files) # 16.9 and 20.4: nn2c export writes through a fresh temporary file beside OUT, never
  # follows a planted symlink, refuses special files, and says what it wrote
  umask 022
  python3 -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<6f", 1, 2, 3, 4, 5, 6))' > w.bin
  pb ext m.onnx w.bin
  "$nn2c" run m.onnx --train --loss mse --epochs 1 --save m.ckpt > /dev/null 2>&1 || fail "training for a checkpoint"
  "$nn2c" export m.onnx m.ckpt -o out.onnx > out.txt 2> err.txt || { fail "export"; cat err.txt; }
  grep -qx "nn2c: wrote out.onnx ([0-9]* bytes, 6 parameters)" err.txt || { fail "export does not say what it wrote:"; cat err.txt; }
  [ "$(sed -n 's/.*(\([0-9]*\) bytes.*/\1/p' err.txt)" = "$(wc -c < out.onnx | tr -d ' ')" ] || fail "the byte count is wrong"
  [ -s out.txt ] && fail "export wrote to stdout"
  "$nn2c" export m.onnx m.ckpt -o quiet.onnx --quiet > out.txt 2> err.txt || fail "export --quiet"
  [ -s err.txt ] || [ -s out.txt ] && { fail "--quiet still prints:"; cat out.txt err.txt; }
  cmp -s out.onnx quiet.onnx || fail "two exports differ"
  [ "$(stat -c %a out.onnx)" = 644 ] || fail "OUT has mode $(stat -c %a out.onnx), not 644 under umask 022"
  echo "precious" > victim.txt
  ln -s victim.txt planted.onnx.tmp                    # the old fixed temp name
  "$nn2c" export m.onnx m.ckpt -o planted.onnx --quiet 2> err.txt || { fail "export beside a planted link"; cat err.txt; }
  [ "$(cat victim.txt)" = precious ] || fail "export followed the planted symlink"
  # a special file as OUT (a FIFO here: an old nn2c run as root replaced /dev/null by a regular file)
  mkfifo pipe.onnx
  expect_error "pipe.onnx: not a regular file" "$nn2c" export m.onnx m.ckpt -o pipe.onnx
  [ -p pipe.onnx ] || fail "the FIFO was replaced"
  mkdir outdir
  expect_error "outdir: not a regular file" "$nn2c" export m.onnx m.ckpt -o outdir
  mkdir ro && chmod 555 ro
  if [ "$(id -u)" != 0 ]; then
    expect_error "ro/x.onnx: cannot create a temporary file beside it" "$nn2c" export m.onnx m.ckpt -o ro/x.onnx
  fi
  expect_error "nosuchdir/x.onnx: cannot create a temporary file beside it" "$nn2c" export m.onnx m.ckpt -o nosuchdir/x.onnx
  ls | grep '\.tmp\.' && fail "temporary files left behind"
  ;;
test_onnx_paths) # 16.11 and 20.3: case folders are only paths (their names run nothing), and a case's
  # name is its folder's name with or without trailing slashes, relative or absolute
  mkcase() { # FOLDER: a Relu case with one data set of zeros
    mkdir -p "$1/test_data_set_0"
    pb relu "$1/model.onnx" 3,4
    pb tensor "$1/test_data_set_0/input_0.pb" f32 3,4
    pb tensor "$1/test_data_set_0/output_0.pb" f32 3,4
  }
  mkcase "cases/x;touch PWNED1"
  mkcase 'cases/a$(touch PWNED2)b'
  mkcase "cases/q'\$(touch PWNED3)'d"
  mkcase 'cases/s p"a`touch PWNED4`ce'
  mkcase cases/test_relu
  expect_ok() { # EXPECTED_SUMMARY ARGS...: test-onnx passes with that summary line
    want=$1; shift
    "$nn2c" test-onnx "$@" > out.txt 2> err.txt || { fail "test-onnx $*:"; cat out.txt err.txt; }
    grep -qxF "$want" out.txt || { fail "test-onnx $*: no '$want' in:"; cat out.txt; }
  }
  expect_ok "5 passed, 0 failed, 0 skipped" -j2 --work w1 cases/
  for n in "x;touch PWNED1" 'a$(touch PWNED2)b' "q'\$(touch PWNED3)'d" 's p"a`touch PWNED4`ce' test_relu; do
    grep -qxF "PASS $n" out.txt || fail "no 'PASS $n'"
  done
  expect_ok "5 passed, 0 failed, 0 skipped" -j2 --work w2 "$work/cases//"
  expect_ok "PASS test_relu" --work w3 cases/test_relu/
  expect_ok "PASS test_relu" --work w4 "$work/cases/test_relu//"
  expect_ok "PASS x;touch PWNED1" --work w5 "cases/x;touch PWNED1/"
  (cd cases/test_relu && "$nn2c" test-onnx --work ../../w6 . > ../../out.txt 2>&1) || fail "test-onnx ."
  grep -qxF "PASS test_relu" out.txt || { fail "test-onnx . does not name the case test_relu:"; cat out.txt; }
  mkdir dup && cp -r cases/test_relu dup/test_relu
  expect_ok "2 passed, 0 failed, 0 skipped" -j2 --work w7 cases/test_relu dup/test_relu/
  found=$(find "$work" -name 'PWNED*'; ls -d /tmp/PWNED* 2>/dev/null)
  [ -z "$found" ] || { fail "a case folder's name ran a command: $found"; rm -f $found; }
  ;;
*) echo "unknown part '$part'"; exit 2 ;;
esac
[ $fails -eq 0 ] && echo "ok: $part" || { echo "$fails failures in $part"; exit 1; }
