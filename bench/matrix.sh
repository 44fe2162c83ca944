#!/bin/bash
# bench/matrix.sh - the comparisons of bench/run.sh, bench/rnn.sh and
# bench/onnx_models.sh for each C compiler x -march value, in one table of
# ratios with issue 12's target for each row.
#
#   bench/matrix.sh              # gcc, clang x native, x86-64-v3; about an hour on the 2-core machine
#   COMPILERS=gcc ARCHS=native RUNS=1 LIMIT_TRAIN=320 INFER_SECONDS=0.1 ITERS=5 THREADS=1 \
#     CNN_MODELS=mnist_cnn RNN_MODELS=lstm_classifier ONNX_MODELS= bench/matrix.sh   # a smoke test
#   TABLE_ONLY=1 bench/matrix.sh # the table again, from the summaries already in WORK
#
# Settings (environment variables):
#   COMPILERS    C compilers (commands) for the emitted models   "gcc clang"
#   ARCHS        their -march values                             "native x86-64-v3"
#   CNN_MODELS   bench/run.sh's models ("" skips the script)     "mnist_cnn cifar10_cnn"
#   RNN_MODELS   bench/rnn.sh's models                           "imdb_lstm lstm_classifier"
#   ONNX_MODELS  bench/onnx_models.sh's models                   "resnet18 mobilenet_v2"
#   THREADS      thread counts, every side                       "1 2"
#   WORK         scratch directory                               /tmp/nn2c-matrix
#   NN2C         an nn2c binary to use (default: built once, with ONNX when
#                protobuf-c is there, in WORK/build)
#   TABLE_ONLY   1: run nothing, print the table from WORK's summaries
# Passed on to the scripts as they are: RUNS, LIMIT_TRAIN, LIMIT_TEST,
# INFER_SECONDS (run.sh and onnx_models.sh), ITERS, WAIT_POLICY, MNIST_DIR,
# CIFAR_DIR. CFLAGS is unset for them, so ARCH decides.
#
# For each compiler CC and ARCH it runs, with CC=CC ARCH=ARCH and its own
# WORK/CC-ARCH/{cnn,rnn,onnx} folders (nn2c, ONNX Runtime's npm folder and
# fetched data are shared):
#   KERNELS=0 bench/run.sh        CNN training samples/s (nn2c and PyTorch),
#                                 batch-1 and batch-64 latency (nn2c, ORT)
#   bench/rnn.sh                  RNN training samples/s (nn2c and PyTorch)
#   bench/onnx_models.sh          batch-1 latency (nn2c, PyTorch, ORT)
# Each writes its medians to a summary file (format in bench/common.sh); the
# table is computed from those files alone. Each script's full output is in
# WORK/CC-ARCH/*.log: read it for the absolute figures and the load average.
#
# Table: one row per measurement, one column per CC/ARCH, each cell a ratio
# of medians; a trailing "!" marks a cell that misses the row's target.
#   train M tT      nn2c / PyTorch training samples/s at T threads   >= 2.0 (>= 1.5 off native)
#                   (imdb_lstm >= 2.0, lstm_classifier >= 3.0)
#   2T/1T M         nn2c's 2-thread / 1-thread training samples/s    >= 1.6
#   lat bB M tT ort nn2c / ONNX Runtime latency, batch B             <= 0.8 (b1), <= 1.0 (b64);
#                                                                    <= 1.0 for resnet18, mobilenet_v2
#   lat b1 M tT pt  nn2c / PyTorch latency (imported models)         no target
# The isa row names the vector kernels each build compiled in (NAME_isa()).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
WORK=${WORK:-/tmp/nn2c-matrix}
COMPILERS=${COMPILERS:-"gcc clang"}
ARCHS=${ARCHS:-"native x86-64-v3"}
CNN_MODELS=${CNN_MODELS-"mnist_cnn cifar10_cnn"}
RNN_MODELS=${RNN_MODELS-"imdb_lstm lstm_classifier"}
ONNX_MODELS=${ONNX_MODELS-"resnet18 mobilenet_v2"}
THREADS=${THREADS:-"1 2"}
TABLE_ONLY=${TABLE_ONLY:-0}
PY=/usr/bin/python3
mkdir -p "$WORK"
# shellcheck source=bench/common.sh
. "$BENCH/common.sh" # for cpu_line and ORT_DIR (WORK/ort)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)

die() { echo "matrix.sh: error: $*" >&2; exit 1; }

# OpenMP's wait policy, the same for every script and side, as bench/run.sh sets it
if [ -n "${WAIT_POLICY:-}" ]; then export OMP_WAIT_POLICY=$WAIT_POLICY; else unset OMP_WAIT_POLICY; fi

# ---- the runs -----------------------------------------------------------------
# the builds: compiler ccs[i] with -march=archs[i], in WORK/dirs[i]
ccs=() archs=() dirs=()
for cc in $COMPILERS; do
  for arch in $ARCHS; do ccs+=("$cc") archs+=("$arch") dirs+=("$WORK/$cc-$arch"); done
done
[ ${#ccs[@]} -gt 0 ] || die "COMPILERS and ARCHS name no build"

# run_script NAME SCRIPT DIR [VAR=VALUE...]: one script of one build, its
# output in DIR.log, its summary in DIR.txt; says how long it took.
run_script() {
  local name=$1 script=$2 dir=$3 t0 rc
  shift 3
  t0=$(date +%s)
  env -u CFLAGS "$@" WORK="$dir" SUMMARY="$dir.txt" ORT_DIR="$ORT_DIR" NN2C="$nn2c" THREADS="$THREADS" \
    bash "$BENCH/$script" >"$dir.log" 2>&1
  rc=$?
  local how="finished"
  [ $rc = 0 ] || how="FAILED (exit $rc)"
  echo "  $name: $script $how in $(($(date +%s) - t0)) s, load $(cut -d' ' -f1 /proc/loadavg) ($dir.log)"
}

if [ "$TABLE_ONLY" != 1 ]; then
  echo "matrix.sh: compilers $COMPILERS x -march $ARCHS; load average $LOAD_START"
  if [ -n "${NN2C:-}" ]; then
    nn2c=$NN2C
  else
    echo "building nn2c in $WORK/build ..."
    { cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release && cmake --build "$WORK/build" --target nn2c -j2; } \
      >"$WORK/build.log" 2>&1 || die "building nn2c failed (see $WORK/build.log)"
    nn2c=$WORK/build/compiler/nn2c
  fi
  if [ -n "$ONNX_MODELS" ] && "$nn2c" compile "$WORK/none.onnx" -o "$WORK/none" 2>&1 | grep -q "without ONNX"; then
    echo "note: $nn2c was built without ONNX (protobuf-c missing?): onnx_models.sh is skipped"
    ONNX_MODELS=
  fi
  for i in "${!ccs[@]}"; do
    cc=${ccs[$i]} arch=${archs[$i]} dir=${dirs[$i]}
    combo="$cc -march=$arch"
    rm -rf "$dir" && mkdir -p "$dir"
    if ! command -v "$cc" >/dev/null; then
      echo "$combo: no $cc here, skipped"
      continue
    fi
    echo "$combo: $("$cc" --version | head -1)"
    [ -z "$CNN_MODELS" ] || run_script "$combo" run.sh "$dir/cnn" CC="$cc" ARCH="$arch" MODELS="$CNN_MODELS" KERNELS=0 \
      DATA_DIR="$WORK/data"
    [ -z "$RNN_MODELS" ] || run_script "$combo" rnn.sh "$dir/rnn" CC="$cc" ARCH="$arch" MODELS="$RNN_MODELS"
    [ -z "$ONNX_MODELS" ] || run_script "$combo" onnx_models.sh "$dir/onnx" CC="$cc" ARCH="$arch" MODELS="$ONNX_MODELS"
  done
fi

# ---- the table ------------------------------------------------------------------
# val FILE METRIC SIDE MODEL THREADS BATCH: a figure of a summary file, or "-"
val() {
  [ -f "$1" ] || { echo -; return; }
  awk -v m="$2" -v s="$3" -v n="$4" -v t="$5" -v b="$6" \
    '$1 == m && $2 == s && $3 == n && $4 == t && $5 == b {v = $6} END {print v == "" ? "-" : v}' "$1"
}
# cell A B OP TARGET: A/B with two decimals, "!" appended when it misses OP TARGET
cell() {
  awk -v a="$1" -v b="$2" -v op="$3" -v t="$4" 'BEGIN {
    if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) { print "-"; exit }
    r = sprintf("%.2f", a / b)
    miss = (op == ">=" && r + 0 < t + 0) || (op == "<=" && r + 0 > t + 0)
    print r (t != "" && miss ? "!" : "")
  }'
}

# The rows: "LABEL|FILE|METRIC SIDE MODEL T B|METRIC SIDE MODEL T B|OP|TARGET|TARGET OFF NATIVE"
# (the first figure over the second; FILE is cnn, rnn or onnx).
rows=()
has_threads() { case " $THREADS " in *" $1 "*) return 0 ;; esac; return 1; }
train_rows() { # FILE TARGET TARGET_OFF_NATIVE MODEL
  local t
  for t in $THREADS; do
    rows+=("train $4 t$t|$1|train_sps nn2c $4 $t -|train_sps torch $4 $t -|>=|$2|$3")
  done
  if has_threads 1 && has_threads 2; then
    rows+=("2T/1T $4|$1|train_sps nn2c $4 2 -|train_sps nn2c $4 1 -|>=|1.6|1.6")
  fi
}
for m in $CNN_MODELS; do train_rows cnn 2.0 1.5 "$m"; done
for m in $CNN_MODELS; do
  for t in $THREADS; do
    rows+=("lat b1 $m t$t ort|cnn|latency_us nn2c $m $t 1|latency_us ort $m $t 1|<=|0.8|0.8")
    rows+=("lat b64 $m t$t ort|cnn|latency_us nn2c $m $t 64|latency_us ort $m $t 64|<=|1.0|1.0")
  done
done
for m in $RNN_MODELS; do
  case $m in
  lstm_classifier) train_rows rnn 3.0 3.0 "$m" ;;
  *) train_rows rnn 2.0 2.0 "$m" ;;
  esac
done
for m in $ONNX_MODELS; do
  for t in $THREADS; do
    rows+=("lat b1 $m t$t ort|onnx|latency_us nn2c $m $t 1|latency_us ort $m $t 1|<=|1.0|1.0")
    rows+=("lat b1 $m t$t pt|onnx|latency_us nn2c $m $t 1|latency_us torch $m $t 1|||")
  done
done

echo
echo "== nn2c / PyTorch / ONNX Runtime by compiler and -march (ratios of medians; ! = misses the target) =="
cpu_line
for cc in $COMPILERS; do
  echo "$cc: $("$cc" --version 2>/dev/null | head -1 || echo 'not found')"
done
echo "pytorch: $($PY -c 'import torch; print(torch.__version__)' 2>/dev/null || echo '-'); onnxruntime-node: $(ort_version 2>/dev/null || echo '-')"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>} OMP_WAIT_POLICY=${OMP_WAIT_POLICY-<unset>}; threads: $THREADS"
echo "settings: RUNS=${RUNS:-default} LIMIT_TRAIN=${LIMIT_TRAIN:-default} INFER_SECONDS=${INFER_SECONDS:-default} ITERS=${ITERS:-default}"
[ "$TABLE_ONLY" = 1 ] || echo "load average at the start: $LOAD_START; now: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - T_START)) s"
echo
w=26 cw=16 met=() measured=()
for i in "${!ccs[@]}"; do met[i]=0 measured[i]=0; done
printf "%-${w}s" "measurement"
for i in "${!ccs[@]}"; do printf " %${cw}s" "${ccs[$i]}/${archs[$i]}"; done
printf '   %s\n' "target"
# isa: the first model's NAME_isa() in each build
printf "%-${w}s" "isa"
for i in "${!ccs[@]}"; do
  isa=$(cat "${dirs[$i]}"/{cnn,rnn,onnx}.txt 2>/dev/null | awk '$1 == "isa" {print $6; exit}')
  printf " %${cw}s" "${isa:--}"
done
printf '\n'
for r in "${rows[@]}"; do
  IFS='|' read -r label file num den op target target_off <<<"$r"
  printf "%-${w}s" "$label"
  for i in "${!ccs[@]}"; do
    t=$target
    [ "${archs[$i]}" = native ] || t=$target_off
    # shellcheck disable=SC2086 # num/den: five words each
    a=$(val "${dirs[$i]}/$file.txt" $num)
    # shellcheck disable=SC2086
    b=$(val "${dirs[$i]}/$file.txt" $den)
    c=$(cell "$a" "$b" "$op" "$t")
    printf " %${cw}s" "$c"
    if [ -n "$op" ] && [ "$c" != - ]; then
      measured[i]=$((measured[i] + 1))
      [ "${c%!}" != "$c" ] || met[i]=$((met[i] + 1))
    fi
  done
  if [ -z "$op" ]; then printf '   -\n'
  elif [ "$target" = "$target_off" ]; then printf '   %s %s\n' "$op" "$target"
  else printf '   %s %s (%s %s off native)\n' "$op" "$target" "$op" "$target_off"
  fi
done
# how many cells with a target and a figure meet it
printf "%-${w}s" "targets met"
for i in "${!ccs[@]}"; do printf " %${cw}s" "${met[$i]:-0}/${measured[$i]:-0}"; done
printf '\n'
echo
echo "cells: nn2c's median over the other side's (train: samples/s; lat: microseconds per forward call);"
echo "- where a figure is missing (see WORK/CC-ARCH/*.log); summaries in $WORK/*/*.txt"
