# shellcheck shell=bash
# bench/common.sh - sourced by bench/run.sh, rnn.sh, onnx_models.sh and matrix.sh
# (after they set WORK): the compiler settings for the emitted models, the
# machine line, ONNX Runtime's install, and the summary file.
#
# Settings (environment variables):
#   CC       C compiler for the emitted models and the timing harnesses   cc
#   ARCH     the -march value they are built with (NONE: no -march)       native
#   CFLAGS   all their flags, in place of the emitted Makefile's with ARCH
#            (the Makefile still adds -ffp-contract=fast -fno-math-errno and
#            -fopenmp when the compiler takes them)
#   ORT_DIR  where onnxruntime-node is installed (npm)                    WORK/ort
#   SUMMARY  the machine-readable summary file                            WORK/summary.txt
#
# The summary holds one figure a line, medians as the script's tables show them:
#   METRIC SIDE MODEL THREADS BATCH VALUE
# METRIC is train_sps (training samples/s; BATCH "-"), latency_us (median
# microseconds per forward call) or isa (the vector kernels the model was
# built with: NAME_isa(); THREADS and BATCH "-"); SIDE is nn2c, torch or ort;
# "-" marks a figure that could not be measured. Lines starting with # are
# comments (the script, CC, flags). bench/matrix.sh reads these files.

BENCH_CC=${CC:-cc}
BENCH_ARCH=${ARCH:-native}
ORT_DIR=${ORT_DIR:-$WORK/ort}
SUMMARY=${SUMMARY:-$WORK/summary.txt}

# bench_cflags MAKEFILE: the flags the models are built with: $CFLAGS if set,
# else the emitted Makefile's default CFLAGS with -march=ARCH for -march=native.
bench_cflags() {
  if [ -n "${CFLAGS:-}" ]; then
    printf '%s\n' "$CFLAGS"
    return
  fi
  local f
  f=$(sed -n 's/^CFLAGS ?= //p' "$1")
  case $BENCH_ARCH in
  native) printf '%s\n' "$f" ;;
  NONE) printf '%s\n' "$f" | sed 's/ *-march=native//' ;;
  *) printf '%s\n' "$f" | sed "s/-march=native/-march=$BENCH_ARCH/" ;;
  esac
}

# bench_make DIR [MAKE ARGS...]: make in an emitted folder with CC and the flags above
bench_make() {
  local dir=$1
  shift
  make -C "$dir" CC="$BENCH_CC" CFLAGS="$(bench_cflags "$dir/Makefile")" "$@"
}

# cpu_line: "cpu: MODEL NAME (VENDOR family F model M stepping S; avx2 fma avx512f), nproc=N"
cpu_line() {
  local name vendor fam mod step simd
  name=$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  [ -n "$name" ] || name=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  fam=$(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  mod=$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  step=$(grep -m1 '^stepping' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')
  simd=$(for f in avx2 fma avx512f; do grep -qw "$f" /proc/cpuinfo && printf '%s ' "$f"; done)
  printf 'cpu: %s (%s family %s model %s stepping %s; %s), nproc=%s\n' "${name:-unknown}" "${vendor:-?}" \
    "${fam:-?}" "${mod:-?}" "${step:-?}" "${simd% }" "$(nproc)"
}

# cc_line MAKEFILE: the compiler, its version and the flags the models get
cc_line() {
  printf 'cc: CC=%s, %s; models built with CFLAGS=%s (ARCH=%s%s)\n' "$BENCH_CC" \
    "$("$BENCH_CC" --version 2>/dev/null | head -1)" "$(bench_cflags "$1")" "$BENCH_ARCH" \
    "$([ -n "${CFLAGS:-}" ] && echo ', overridden by CFLAGS')"
}

# ort_setup LOGDIR: installs onnxruntime-node into ORT_DIR when missing; sets
# HAVE_ORT to 1 when it is there. ort_run ARGS... runs bench/ort_infer.js with it.
ort_setup() {
  # shellcheck disable=SC2034 # read by the scripts that source this file
  HAVE_ORT=0
  if command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
      echo "installing onnxruntime-node into $ORT_DIR ..."
      mkdir -p "$ORT_DIR"
      (cd "$ORT_DIR" && { [ -f package.json ] || npm init -y >/dev/null; } &&
        npm install onnxruntime-node --ignore-scripts >"$1/npm.log" 2>&1) ||
        echo "note: npm install onnxruntime-node failed (see $1/npm.log); ONNX Runtime is skipped"
    fi
    # shellcheck disable=SC2034
    [ -d "$ORT_DIR/node_modules/onnxruntime-node" ] && HAVE_ORT=1
  else
    echo "note: node/npm not found; ONNX Runtime is skipped"
  fi
  return 0
}
ort_version() { (cd "$ORT_DIR" && node -p "require('onnxruntime-node/package.json').version"); }
ort_run() { NODE_PATH=$ORT_DIR/node_modules node "$(dirname "${BASH_SOURCE[0]}")/ort_infer.js" "$@"; }

# summary_start SCRIPT: a fresh summary file; summary METRIC SIDE MODEL THREADS BATCH VALUE
summary_start() {
  mkdir -p "$(dirname "$SUMMARY")"
  printf '# %s cc=%s arch=%s\n' "$1" "$BENCH_CC" "$BENCH_ARCH" >"$SUMMARY"
}
summary() { printf '%s %s %s %s %s %s\n' "$1" "$2" "$3" "$4" "$5" "${6:--}" >>"$SUMMARY"; }
