#!/bin/bash
# bench/onnx_models.sh - batch-1 inference latency of real exported models:
# nn2c's emitted C against PyTorch and ONNX Runtime on the same network,
# weights and input.
#
#   bench/onnx_models.sh                    # 4 models x 1 and 2 threads, ~5 minutes
#   MODELS="lstm gru" THREADS=1 bench/onnx_models.sh
#
# Settings (environment variables):
#   MODELS         "resnet18 mobilenet_v2 lstm gru" (tests/onnx/real_models.py)
#   THREADS        thread counts, both sides            "1 2"
#   ITERS          least timed calls per measurement    30
#   INFER_SECONDS  least time per measurement           3
#   WORK           scratch directory                    /tmp/nn2c-bench-onnx
#   NN2C           an nn2c binary to use (default: built from this tree in WORK)
#   CC, ARCH, CFLAGS   the compiler and flags the emitted models and the harness
#                  are built with (bench/common.sh): cc, -march=native
#   ORT_DIR, SUMMARY   onnxruntime-node's folder, the summary file (common.sh)
#
# Steps:
#  1. bench/torch_onnx.py export: the model from tests/onnx/real_models.py
#     (torchvision resnet18 / mobilenet_v2 with weights=None, the LSTM and GRU
#     classifiers; seeded) to WORK/NAME/NAME.onnx with torch.onnx.export
#     (opset 13), and its input as raw f32.
#  2. nn2c compile (inference; large weights go to NAME.weights), the emitted
#     Makefile (its -O3 -march=native, OpenMP; make CC=.. CFLAGS=.. with the
#     settings above), and the latency harness bench/infer_nn2c.c.in built
#     with the same flags (bench/harness.mk). Compile and build times are
#     printed; the header names the CPU and each model's vector kernels.
#  3. Latency, alternating sides per model and thread count: the harness calls
#     NAME_forward; bench/torch_onnx.py infer runs the module in eval mode
#     under torch.inference_mode() with torch.set_num_threads(T) (CNNs in the
#     faster of NCHW and channels_last); bench/ort_infer.js runs the same
#     NAME.onnx in onnxruntime-node (CPU provider, intraOpNumThreads=T, all
#     graph optimizations; installed into ORT_DIR with npm when missing). All:
#     5 warm-up calls, then every call timed until ITERS calls and
#     INFER_SECONDS passed; the median is shown and written to SUMMARY.
# OPENBLAS_NUM_THREADS=1 for every side.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
WORK=${WORK:-/tmp/nn2c-bench-onnx}
MODELS=${MODELS:-"resnet18 mobilenet_v2 lstm gru"}
THREADS=${THREADS:-"1 2"}
ITERS=${ITERS:-30}
INFER_SECONDS=${INFER_SECONDS:-3}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$WORK"
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"

die() { echo "onnx_models.sh: error: $*" >&2; exit 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | head -1; }
ms() { awk -v u="$1" 'BEGIN {if (u == "") print "-"; else printf "%.2f", u / 1000}'; }
$PY -c 'import torch, torchvision, onnx' 2>/dev/null ||
  die "$PY needs torch, torchvision and onnx (apt-get install python3-torch python3-torchvision python3-onnx)"

if [ -n "${NN2C:-}" ]; then nn2c=$NN2C; else
  echo "building nn2c in $WORK/build ..."
  { cmake -S "$ROOT" -B "$WORK/build" -DNN2C_ONNX=ON -DCMAKE_BUILD_TYPE=Release && cmake --build "$WORK/build" --target nn2c -j2; } \
    >"$WORK/build.log" 2>&1 || die "building nn2c failed (see $WORK/build.log)"
  nn2c=$WORK/build/compiler/nn2c
fi
ort_setup "$WORK"

# ---- 1, 2: export, compile, build -------------------------------------------
crows=()
for m in $MODELS; do
  d=$WORK/$m
  rm -rf "$d" && mkdir -p "$d"
  $PY "$BENCH/torch_onnx.py" export "$m" "$d" >"$d/export.log" 2>&1 || die "export of $m failed (see $d/export.log)"
  t0=$(date +%s.%N)
  "$nn2c" compile "$d/$m.onnx" -o "$d/gen" >"$d/compile.log" 2>&1 || die "nn2c compile $m failed (see $d/compile.log)"
  t1=$(date +%s.%N)
  bench_make "$d/gen" >"$d/make.log" 2>&1 || die "building $m failed (see $d/make.log)"
  t2=$(date +%s.%N)
  sed "s/@NAME@/$m/g" "$BENCH/infer_nn2c.c.in" >"$d/gen/infer_$m.c"
  bench_make "$d/gen" -f Makefile -f "$BENCH/harness.mk" NAME="$m" "infer_$m" >>"$d/make.log" 2>&1 ||
    die "building the harness of $m failed (see $d/make.log)"
  params=$(grep -o "^params=[0-9]*" "$d/export.log" | cut -d= -f2)
  wsize=$( [ -f "$d/gen/$m.weights" ] && awk -v b="$(stat -c %s "$d/gen/$m.weights")" 'BEGIN {printf "%.1f", b / 1048576}' || echo "in C")
  crows+=("$(printf '| %-12s | %10s | %8s | %11s | %8.1f | %9.1f |' "$m" "$params" "$(( $(stat -c %s "$d/gen/$m.c") / 1024 ))" \
    "$wsize" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$(awk -v a="$t1" -v b="$t2" 'BEGIN {print b - a}')")")
done

# ---- 3: latency ---------------------------------------------------------------
echo
summary_start onnx_models.sh
cpu_line
echo "$(cc_line "$WORK/${MODELS%% *}/gen/Makefile"); the Makefile adds: $(make -s -C "$WORK/${MODELS%% *}/gen" CC="$BENCH_CC" -f Makefile -f "$BENCH/harness.mk" print-flags 2>/dev/null)"
for m in $MODELS; do
  isa=$("$WORK/$m/gen/infer_$m" --isa 2>/dev/null) || isa="?"
  isa=${isa/ (dispatched)/+dispatch} # one word in the summary
  summary isa nn2c "$m" - - "$isa"
  echo "nn2c $m: isa $isa (the vector kernels compiled in)"
done
echo "pytorch $($PY -c 'import torch; print(torch.__version__)'); onnxruntime-node $([ "$HAVE_ORT" = 1 ] && ort_version || echo '-')"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}; OMP_WAIT_POLICY=${OMP_WAIT_POLICY-<unset>}"
echo "load average before: $LOAD_START; now: $(cut -d' ' -f1-3 /proc/loadavg)"
lrows=()
for m in $MODELS; do
  d=$WORK/$m
  dims=$(sed -n 's/^input=//p' "$d/export.log" | tr ',' ' ')
  for t in $THREADS; do
    n=$("$d/gen/infer_$m" --threads "$t" --iters "$ITERS" --seconds "$INFER_SECONDS" --input "$d/x.bin" \
      --weights "$d/gen/$m.weights" | tee "$d/nn2c.t$t.txt")
    p=$($PY "$BENCH/torch_onnx.py" infer "$m" --threads "$t" --iters "$ITERS" --seconds "$INFER_SECONDS" | tee "$d/torch.t$t.txt")
    nu=$(echo "$n" | field median_us) tu=$(echo "$p" | field median_us) ou=
    if [ "$HAVE_ORT" = 1 ] && [ -n "$dims" ]; then
      # shellcheck disable=SC2086 # dims: one argument per dimension
      o=$(ort_run "$d/$m.onnx" "$d/x.bin" $dims --batch 1 --threads "$t" --iters "$ITERS" --seconds "$INFER_SECONDS" \
        2>"$d/ort.t$t.err" | tee "$d/ort.t$t.txt")
      case $o in
      ort\ [0-9]*) ou=$(echo "$o" | field median_us) ;;
      *) echo "note: ONNX Runtime could not run $m: ${o:-no output (see $d/ort.t$t.err)}" ;;
      esac
    fi
    summary latency_us nn2c "$m" "$t" 1 "${nu:--}"
    summary latency_us torch "$m" "$t" 1 "${tu:--}"
    summary latency_us ort "$m" "$t" 1 "${ou:--}"
    echo "  $m threads=$t: nn2c $(ms "$nu") ms, torch $(ms "$tu") ms ($(echo "$p" | field format)), ort $(ms "$ou") ms, load $(cut -d' ' -f1 /proc/loadavg)"
    lrows+=("$(printf '| %-12s | %7s | %11s | %11s | %11s | %10s | %8s |' "$m" "$t" "$(ms "$nu")" "$(ms "$tu")" "$(ms "$ou")" \
      "$(ratio "$nu" "$tu")" "$(ratio "$nu" "$ou")")")
  done
done
echo
echo "| model        | params     | C (KiB)  | weights MiB | nn2c (s) | build (s) |"
echo "| ------------ | ---------- | -------- | ----------- | -------- | --------- |"
printf '%s\n' "${crows[@]}"
echo
echo "| model        | threads | nn2c ms     | torch ms    | ort ms      | nn2c/torch | nn2c/ort |"
echo "| ------------ | ------- | ----------- | ----------- | ----------- | ---------- | -------- |"
printf '%s\n' "${lrows[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); summary in $SUMMARY"
