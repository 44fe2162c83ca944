#!/bin/bash
# bench/run.sh - nn2c's generated CNN trainers and models against PyTorch, ONNX
# Runtime and OpenBLAS, side by side on the same data and thread counts.
#
#   bench/run.sh            # everything, about 10 minutes on the 2-core machine
#   RUNS=1 LIMIT_TRAIN=3200 bench/run.sh   # a quicker, noisier pass
#
# Settings (environment variables):
#   MODELS        models from examples/ to run          "mnist_cnn cifar10_cnn"
#   THREADS       thread counts, both sides              "1 2"
#   RUNS          training runs per side and setting     3 (the median is shown)
#   LIMIT_TRAIN   training samples per timed epoch       6400
#   LIMIT_TEST    test samples evaluated after it        512
#   INFER_SECONDS least time per latency measurement     1.0
#   WAIT_POLICY   OMP_WAIT_POLICY for every side         unset (OpenMP's default)
#   MNIST_DIR / CIFAR_DIR   data (default: ../shared/data next to the repo if
#                 present, else DATA_DIR/NAME, fetched with scripts/get-data.sh)
#   DATA_DIR      where fetched data sets go             WORK/data
#   KERNELS       0 skips step 4 (the per-layer kernels) 1
#   WORK          scratch directory                      /tmp/nn2c-bench
#   NN2C          an nn2c binary to use (default: built from this tree in WORK)
#   CC, ARCH, CFLAGS   the compiler and flags the emitted models and harnesses
#                 are built with (bench/common.sh): cc, -march=native
#   ORT_DIR, SUMMARY   onnxruntime-node's folder, the summary file (common.sh)
#
# What it does (bench/README.md explains each figure):
#  0. installs what is missing (as root): python3-torch, python3-onnx,
#     libopenblas-dev, time; onnxruntime-node from npm into ORT_DIR (WORK/ort).
#  1. builds nn2c from this tree (in WORK, not build/), compiles each model
#     with --train, builds it with its own Makefile (make CC=.. CFLAGS=..), and
#     builds the latency harness (bench/infer_nn2c.c.in) against the emitted
#     model. The header names the CPU and the vector kernels compiled in.
#  2. training throughput and peak RSS: the nn2c trainer and bench/torch_cnn.py
#     alternately, RUNS times each, for each thread count, under /usr/bin/time.
#  3. inference latency at batch 1 and 64: nn2c, PyTorch, ONNX Runtime.
#  4. kernels: each conv/dense layer of the model compiled alone by nn2c and
#     timed at batch 64, against OpenBLAS cblas_sgemm on its im2col GEMM shape
#     (in the environment as it is, and with OPENBLAS_CORETYPE/L2_SIZE unset).
# Steps 2 and 3 also write their medians to SUMMARY (format in common.sh).
# PyTorch runs in its faster memory format (bench/torch_cnn.py measures both).
# The environment (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE included) is the same
# for every side, but for the second OpenBLAS column of step 4;
# OPENBLAS_NUM_THREADS=1 is set for the trainers and models.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
WORK=${WORK:-/tmp/nn2c-bench}
MODELS=${MODELS:-"mnist_cnn cifar10_cnn"}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-3}
LIMIT_TRAIN=${LIMIT_TRAIN:-6400}
LIMIT_TEST=${LIMIT_TEST:-512}
INFER_SECONDS=${INFER_SECONDS:-1.0}
KERNELS=${KERNELS:-1}
PY=/usr/bin/python3 # Debian's python3, where python3-torch is installed
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"
export OPENBLAS_NUM_THREADS=1
# OpenMP's wait policy, the same for every side (nn2c, PyTorch; ONNX Runtime spins
# in its own pool): OpenMP's default (threads spin a while between parallel
# regions, then sleep) unless WAIT_POLICY names one. PyTorch trains faster with
# the default than with passive (cifar10_cnn, 2 threads, interleaved runs on
# 2026-11-27: median 4,518 against 3,743 samples/s).
if [ -n "${WAIT_POLICY:-}" ]; then export OMP_WAIT_POLICY=$WAIT_POLICY; else unset OMP_WAIT_POLICY; fi
T_START=$(date +%s)
LOAD_START=$(cut -d' ' -f1 /proc/loadavg) # others' load, before our own builds

mkdir -p "$WORK"
LOG=$WORK/log
mkdir -p "$LOG"

say() { printf '%s\n' "$*"; }
die() {
  say "run.sh: error: $*" >&2
  exit 1
}
# a section header, with the load average: the machine may be shared
section() { printf '\n== %s == (load average %s)\n' "$*" "$(cut -d' ' -f1-3 /proc/loadavg)"; }

# median of the numbers on stdin (one per line); "-" for none
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# ratio A/B with two decimals; "-" when either is missing
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
# value of key=... in a line
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | head -1; }

# ---- 0. tools ---------------------------------------------------------------
section "setup"
need_pkgs=()
$PY -c 'import torch' 2>/dev/null || need_pkgs+=(python3-torch)
$PY -c 'import onnx' 2>/dev/null || need_pkgs+=(python3-onnx)
[ -e /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] || [ -e /usr/include/openblas/cblas.h ] ||
  dpkg -s libopenblas-dev >/dev/null 2>&1 || need_pkgs+=(libopenblas-dev)
[ -x /usr/bin/time ] || need_pkgs+=(time)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]}; run as root or install them with apt-get"
  say "installing ${need_pkgs[*]} ..."
  apt-get update >"$LOG/apt.log" 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${need_pkgs[@]}" >>"$LOG/apt.log" 2>&1 ||
    die "apt-get install ${need_pkgs[*]} failed (see $LOG/apt.log)"
fi
ort_setup "$LOG"

# data
shared=$(cd "$ROOT/.." && pwd)/shared/data
data_dir() { # DATASET
  local name=$1 var dir
  case $name in
  mnist) var=${MNIST_DIR:-} ;;
  cifar10) var=${CIFAR_DIR:-} ;;
  *) die "no data set $name" ;;
  esac
  if [ -n "$var" ]; then dir=$var
  elif [ "$name" = mnist ] && [ -d "$shared/mnist" ]; then dir=$shared/mnist
  elif [ "$name" = cifar10 ] && [ -d "$shared/cifar-10" ]; then dir=$shared/cifar-10
  else
    dir=${DATA_DIR:-$WORK/data}/$name
    [ -d "$dir" ] || sh "$ROOT/scripts/get-data.sh" "$name" "$dir" >"$LOG/get-data-$name.log" 2>&1 ||
      die "could not fetch $name (see $LOG/get-data-$name.log)"
  fi
  echo "$dir"
}

# ---- 1. builds ----------------------------------------------------------------
if [ -n "${NN2C:-}" ]; then
  nn2c=$NN2C
else
  say "building nn2c from $ROOT in $WORK/build ..."
  { cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$WORK/build" --target nn2c -j2; } >"$LOG/build.log" 2>&1 ||
    die "building nn2c failed (see $LOG/build.log)"
  nn2c=$WORK/build/compiler/nn2c
fi
gemm_bench=$WORK/gemm_bench
cblas_inc=
for d in /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas; do
  [ -e "$d/cblas.h" ] && cblas_inc="-I$d" && break
done
cc -O2 $cblas_inc "$BENCH/gemm_bench.c" -o "$gemm_bench" -lopenblas 2>"$LOG/gemm_build.log" ||
  { say "note: could not build gemm_bench against OpenBLAS (see $LOG/gemm_build.log)"; gemm_bench=; }

# build_model SRC.nn DIR NAME [--train]: compile, make, and build the latency harness
build_model() {
  local src=$1 dir=$2 name=$3
  shift 3
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  "$nn2c" compile "$src" "$@" -o "$dir" >"$dir.compile.log" 2>&1 ||
    { cat "$dir.compile.log" >&2; die "nn2c compile $src failed"; }
  sed "s/@NAME@/$name/g" "$BENCH/infer_nn2c.c.in" >"$dir/infer_$name.c"
  if [ "${1:-}" = --train ]; then bench_make "$dir" >"$dir.make.log" 2>&1 || die "make -C $dir failed (see $dir.make.log)"; fi
  bench_make "$dir" -f Makefile -f "$BENCH/harness.mk" NAME="$name" "infer_$name" >>"$dir.make.log" 2>&1 ||
    die "building the latency harness in $dir failed (see $dir.make.log)"
}

for m in $MODELS; do
  [ -f "$ROOT/examples/$m.nn" ] || die "no examples/$m.nn"
  say "compiling examples/$m.nn ..."
  build_model "$ROOT/examples/$m.nn" "$WORK/models/$m" "$m" --train
done

# ---- machine ------------------------------------------------------------------------
section "machine and settings"
say "$(cpu_line), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
say "$(cc_line "$WORK/models/${MODELS%% *}/Makefile"); the Makefile adds: $(make -s -C "$WORK/models/${MODELS%% *}" CC="$BENCH_CC" -f Makefile -f "$BENCH/harness.mk" print-flags 2>/dev/null)"
say "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>} (the environment's, the same for every side); OPENBLAS_NUM_THREADS=1 for trainers and models"
policy=${OMP_WAIT_POLICY:-unset, OpenMP default}
say "OMP_WAIT_POLICY=$policy for every side (set WAIT_POLICY=passive or active to change)"
$PY "$BENCH/torch_cnn.py" info 2>/dev/null | sed 's/^/pytorch: /'
[ "$HAVE_ORT" = 1 ] && say "onnxruntime-node $(ort_version) ($ORT_DIR)"
summary_start run.sh
for m in $MODELS; do
  if grep -q "${m}_HAS_THREADS 1" "$WORK/models/$m/$m.h" 2>/dev/null; then th="compiled with threads"; else th="compiled WITHOUT threads (--threads 2 runs on 1 thread)"; fi
  isa=$("$WORK/models/$m/infer_$m" --isa 2>/dev/null) || isa="?"
  isa=${isa/ (dispatched)/+dispatch} # one word in the summary
  summary isa nn2c "$m" - - "$isa"
  say "nn2c $m: isa $isa (the vector kernels compiled in); $th; $(sed -n 's/^ \* arena: *//p' "$WORK/models/$m/$m.h" | head -1)"
done
if awk -v l="$LOAD_START" 'BEGIN {exit !(l >= 1.0)}'; then
  say "WARNING: load average $LOAD_START before the benchmark started: other processes share the cores; 2-thread figures will be unreliable"
fi
say "threads: $THREADS (nn2c --threads T / torch.set_num_threads(T) / ORT intraOpNumThreads=T)"
say "training: first $LIMIT_TRAIN training samples, 1 epoch, batch 32, $RUNS runs per side, medians; test $LIMIT_TEST samples evaluated untimed"

dataset_of() { sed -n 's/^ *dataset *\([a-z0-9]*\).*/\1/p' "$ROOT/examples/$1.nn" | head -1; }

# ---- 2. training --------------------------------------------------------------------
section "training throughput and peak RSS"
train_rows=()
for m in $MODELS; do
  ds=$(dataset_of "$m")
  data=$(data_dir "$ds")
  for t in $THREADS; do
    : >"$LOG/$m.t$t.nn2c.sps"; : >"$LOG/$m.t$t.torch.sps"
    : >"$LOG/$m.t$t.nn2c.rss"; : >"$LOG/$m.t$t.torch.rss"
    for r in $(seq "$RUNS"); do
      out=$LOG/$m.t$t.r$r
      /usr/bin/time -f 'maxrss_kb=%M' -o "$out.nn2c.time" \
        "$WORK/models/$m/${m}_train" --data "$data" --limit-train "$LIMIT_TRAIN" --limit-test "$LIMIT_TEST" \
        --epochs 1 --threads "$t" >"$out.nn2c.out" 2>&1 || say "note: $m nn2c run $r exited non-zero (see $out.nn2c.out)"
      /usr/bin/time -f 'maxrss_kb=%M' -o "$out.torch.time" \
        "$PY" "$BENCH/torch_cnn.py" train --dataset "$ds" --data "$data" --limit-train "$LIMIT_TRAIN" \
        --limit-test "$LIMIT_TEST" --threads "$t" >"$out.torch.out" 2>&1 || say "note: $m torch run $r exited non-zero (see $out.torch.out)"
      for side in nn2c torch; do
        grep '^epoch 1:' "$out.$side.out" | sed -n 's/.*samples\/s=\([0-9.]*\).*/\1/p' >>"$LOG/$m.t$t.$side.sps"
        sed -n 's/^maxrss_kb=//p' "$out.$side.time" >>"$LOG/$m.t$t.$side.rss"
      done
      say "  $m threads=$t run $r: nn2c $(tail -1 "$LOG/$m.t$t.nn2c.sps") samples/s, torch $(tail -1 "$LOG/$m.t$t.torch.sps") samples/s"
    done
    a=$(median <"$LOG/$m.t$t.nn2c.sps"); b=$(median <"$LOG/$m.t$t.torch.sps")
    summary train_sps nn2c "$m" "$t" - "$a"
    summary train_sps torch "$m" "$t" - "$b"
    ra=$(median <"$LOG/$m.t$t.nn2c.rss"); rb=$(median <"$LOG/$m.t$t.torch.rss")
    acc_a=$(grep -h '^epoch 1:' "$LOG/$m.t$t".r*.nn2c.out | field test_accuracy | median)
    acc_b=$(grep -h '^epoch 1:' "$LOG/$m.t$t".r*.torch.out | field test_accuracy | median)
    train_rows+=("$(printf '%-12s %3s %11s %11s %7s   %9s %9s %7s   %6s %6s' "$m" "$t" "$a" "$b" "$(ratio "$a" "$b")" \
      "$(awk -v k="$ra" 'BEGIN {print k == "-" ? "-" : sprintf("%.1f", k / 1024)}')" \
      "$(awk -v k="$rb" 'BEGIN {print k == "-" ? "-" : sprintf("%.1f", k / 1024)}')" "$(ratio "$ra" "$rb")" "$acc_a" "$acc_b")")
  done
done
say ""
printf '%-12s %3s %11s %11s %7s   %9s %9s %7s   %6s %6s\n' model thr "nn2c s/s" "torch s/s" ratio "nn2c MiB" "torch MiB" ratio "acc" "acc"
printf '%-12s %3s %11s %11s %7s   %9s %9s %7s   %6s %6s\n' "" "" "" "" "nn2c/pt" "peak RSS" "peak RSS" "nn2c/pt" "nn2c" "torch"
printf '%s\n' "${train_rows[@]}"

# ---- 3. inference latency ---------------------------------------------------------
section "inference latency (median microseconds per forward call)"
infer_rows=()
for m in $MODELS; do
  ds=$(dataset_of "$m")
  data=$(data_dir "$ds")
  $PY "$BENCH/torch_cnn.py" export --dataset "$ds" --data "$data" --out "$WORK/onnx" >"$LOG/$m.export.log" 2>&1 ||
    say "note: torch.onnx.export failed for $m (see $LOG/$m.export.log)"
  chw=$(if [ "$ds" = mnist ]; then echo "1 28 28"; else echo "3 32 32"; fi)
  for t in $THREADS; do
    for b in 1 64; do
      a=$("$WORK/models/$m/infer_$m" --batch "$b" --threads "$t" --seconds "$INFER_SECONDS" \
        --input "$WORK/onnx/${ds}_nhwc.f32" 2>>"$LOG/$m.infer.err" | field median_us)
      p=$($PY "$BENCH/torch_cnn.py" infer --dataset "$ds" --data "$data" --batch "$b" --threads "$t" \
        --seconds "$INFER_SECONDS" 2>>"$LOG/$m.infer.err" | field median_us)
      o=-
      if [ "$HAVE_ORT" = 1 ] && [ -f "$WORK/onnx/$ds.onnx" ]; then
        line=$(ort_run "$WORK/onnx/$ds.onnx" "$WORK/onnx/${ds}_nchw.f32" $chw \
          --batch "$b" --threads "$t" --seconds "$INFER_SECONDS" 2>>"$LOG/$m.infer.err")
        case $line in
        ort\ [0-9]*) o=$(echo "$line" | field median_us) ;;
        *)
          say "note: ONNX Runtime could not run, skipped from here on: ${line:-no output (see $LOG/$m.infer.err)}"
          HAVE_ORT=0
          ;;
        esac
      fi
      [ -n "$a" ] || a=-
      [ -n "$p" ] || p=-
      echo "$a" >"$LOG/$m.t$t.b$b.nn2c.us"
      summary latency_us nn2c "$m" "$t" "$b" "$a"
      summary latency_us torch "$m" "$t" "$b" "$p"
      summary latency_us ort "$m" "$t" "$b" "$o"
      infer_rows+=("$(printf '%-12s %3s %5s %10s %10s %10s %9s %9s' "$m" "$t" "$b" "$a" "$p" "$o" "$(ratio "$a" "$p")" "$(ratio "$a" "$o")")")
    done
  done
done
printf '%-12s %3s %5s %10s %10s %10s %9s %9s\n' model thr batch "nn2c us" "torch us" "ort us" "nn2c/pt" "nn2c/ort"
printf '%s\n' "${infer_rows[@]}"

# ---- 4. kernels ---------------------------------------------------------------------
if [ "$KERNELS" = 0 ]; then
  section "done"
  say "kernels skipped (KERNELS=0); total time $(($(date +%s) - T_START)) s; logs in $LOG; summary in $SUMMARY"
  exit 0
fi
section "kernels at batch 64: emitted layer alone vs OpenBLAS sgemm on its im2col GEMM (GFLOP/s)"
# layers SRC.nn: one line per conv2d/dense layer: "KIND M_PER_SAMPLE K N INPUT_LINE|LAYER_LINE"
# for sequential models with conv2d (strides, padding valid|same), pooling,
# flatten and dense; GEMM M is per sample (times the batch later).
layers() {
  awk '
    function out(kind, m, k, n) { printf "%s %d %d %d %s|%s\n", kind, m, k, n, inline, $0 }
    function kw(name, def,   i, a) { for (i = 2; i <= NF; i++) if (index($i, name "=") == 1) { split($i, a, "="); return a[2] } return def }
    /^[ \t]*(#|$)/ { next }
    /^[ \t]*train[ \t]*\{/ { skip = 1 }
    skip { next }
    $1 == "input" { if (NF == 4) { h = $2; w = $3; c = $4; f = h * w * c } else { f = $2; h = 0 } next }
    $1 == "conv2d" {
      inline = "input " h " " w " " c; k = $3; s = kw("strides", 1); s += 0
      if (kw("padding", "valid") == "same") { oh = int((h + s - 1) / s); ow = int((w + s - 1) / s) }
      else { oh = int((h - k) / s) + 1; ow = int((w - k) / s) + 1 }
      out("conv", oh * ow, k * k * c, $2); h = oh; w = ow; c = $2; f = h * w * c; next }
    $1 == "maxpool2d" || $1 == "avgpool2d" { p = $2; s = kw("strides", p); h = int((h - p) / s) + 1; w = int((w - p) / s) + 1; f = h * w * c; next }
    $1 == "flatten" { next }
    $1 == "dense" { inline = "input " f; out("dense", 1, f, $2); f = $2; next }
  ' "$1"
}
kernel_rows=()
blas_cores=
rm -rf "$WORK/layers" # compiled afresh each run: the compiler changes
for m in $MODELS; do
  mapfile -t lays < <(layers "$ROOT/examples/$m.nn")
  for t in $THREADS; do
    gemm_args=()
    i=0
    rows=()
    for l in "${lays[@]}"; do
      i=$((i + 1))
      read -r kind mps k n rest <<<"$l"
      mm=$((mps * 64))
      name=${m}_l$i
      dir=$WORK/layers/$name
      if [ ! -x "$dir/infer_$name" ]; then
        mkdir -p "$(dirname "$dir")"
        printf 'model %s\n\n%s\n%s\n' "$name" "${rest%%|*}" "${rest#*|}" >"$dir.nn"
        build_model "$dir.nn" "$dir" "$name"
      fi
      us=$("$dir/infer_$name" --batch 64 --threads "$t" --seconds 0.5 --iters 20 2>>"$LOG/layers.err" | field median_us)
      gemm_args+=("$kind$i" "$mm" "$k" "$n")
      rows+=("$kind$i $mm $k $n ${us:--} ${rest#*|}")
    done
    # OpenBLAS in the environment as it is, and (second column) with
    # OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so it picks its kernel from
    # the CPU; each result is checked (a "!" marks a wrong one)
    gemm_env= gemm_unset=
    if [ -n "$gemm_bench" ]; then
      gemm_env=$(OPENBLAS_NUM_THREADS=$t "$gemm_bench" --threads "$t" --seconds 0.3 "${gemm_args[@]}" 2>&1 || true)
      gemm_unset=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS="$t" \
        "$gemm_bench" --threads "$t" --seconds 0.3 "${gemm_args[@]}" 2>&1 || true)
      for g in "$gemm_env" "$gemm_unset"; do
        c=$(echo "$g" | sed -n 's/^openblas .*core=\([^ ]*\).*/\1/p')
        case " $blas_cores " in *" $c "*) ;; *) blas_cores="$blas_cores $c"; say "$(echo "$g" | head -1)" ;; esac
      done
    fi
    # gflops NAME OUTPUT: the figure for row NAME ("total" for the sum), "!" appended when wrong
    gflops() { echo "$2" | awk -v n="$1" '$1 == "sgemm" && $2 == n {for (i = 3; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]} printf "%s%s", v["gflops"], v["check"] == "ok" ? "" : "!"; exit}'; }
    flops_all=0
    for r in "${rows[@]}"; do
      read -r lname mm k n us layer <<<"$r"
      flops=$(awk -v a="$mm" -v b="$k" -v c="$n" 'BEGIN {printf "%.0f", 2 * a * b * c}')
      flops_all=$(awk -v a="$flops_all" -v b="$flops" 'BEGIN {printf "%.0f", a + b}')
      g_nn2c=$(awk -v f="$flops" -v u="$us" 'BEGIN {print u == "-" ? "-" : sprintf("%.2f", f / u / 1e3)}')
      g1=$(gflops "$lname" "$gemm_env"); g2=$(gflops "$lname" "$gemm_unset")
      kernel_rows+=("$(printf '%-12s %3s %-7s %6s %5s %4s %8s %8s %6s %8s %6s   %s' "$m" "$t" "$lname" "$mm" "$k" "$n" "$g_nn2c" \
        "${g1:--}" "$(ratio "$g_nn2c" "${g1%!}")" "${g2:--}" "$(ratio "$g_nn2c" "${g2%!}")" "$layer")")
    done
    # the whole emitted forward at batch 64 (from section 3) against the sum of the sgemm medians
    fwd_us=$(cat "$LOG/$m.t$t.b64.nn2c.us" 2>/dev/null || echo -)
    g_fwd=$(awk -v f="$flops_all" -v u="$fwd_us" 'BEGIN {print u == "-" ? "-" : sprintf("%.2f", f / u / 1e3)}')
    g1=$(gflops total "$gemm_env"); g2=$(gflops total "$gemm_unset")
    kernel_rows+=("$(printf '%-12s %3s %-7s %6s %5s %4s %8s %8s %6s %8s %6s   %s' "$m" "$t" "forward" "" "" "" "$g_fwd" \
      "${g1:--}" "$(ratio "$g_fwd" "${g1%!}")" "${g2:--}" "$(ratio "$g_fwd" "${g2%!}")" \
      "whole NAME_forward, $(awk -v f="$flops_all" 'BEGIN {printf "%.1f", f / 64 / 1e6}') MFLOP/sample, vs the sum of the sgemm medians")")
  done
done
say "columns: nn2c = the layer alone as emitted (or the whole forward); env = OpenBLAS with OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-<unset>} as in the environment; unset = OpenBLAS with both unset (its own CPU detection); ratios are nn2c/OpenBLAS"
printf '%-12s %3s %-7s %6s %5s %4s %8s %8s %6s %8s %6s   %s\n' model thr layer M K N "nn2c" "blas-env" "ratio" "blas-uns" "ratio" "layer as compiled alone"
printf '%s\n' "${kernel_rows[@]}"

section "done"
say "total time $(($(date +%s) - T_START)) s; logs and per-run outputs in $LOG; summary in $SUMMARY"
