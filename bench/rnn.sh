#!/bin/bash
# bench/rnn.sh - recurrent models: nn2c's generated train step against PyTorch,
# side by side, same model, init scheme, Adam, batch 32 and random data.
#
#   bench/rnn.sh                 # both models, 1 and 2 threads, 3 runs each
#   RUNS=5 THREADS=1 bench/rnn.sh
#   MODELS=lstm_classifier RUNS=1 THREADS=1 bench/rnn.sh
#
# Models (MODELS, default both):
#   lstm_classifier (kind lstm) = examples/lstm_classifier.nn (LSTM(50), 10 steps x 1 feature)
#   imdb_lstm       (kind imdb) = examples/imdb_lstm.nn (Embedding(10000,128) + LSTM(64), 100 steps)
# Other settings: THREADS ("1 2"), RUNS (3), WORK, NN2C, and CC, ARCH, CFLAGS,
# SUMMARY as in bench/common.sh (the models are built with make CC=.. CFLAGS=..;
# the header names the CPU and each model's vector kernels; the medians go to
# SUMMARY).
# nn2c side: bench/train_nn2c.c.in calls NAME_train_step on 8 random batches
# in turn (ids uniform in [0, 10000) for imdb, x uniform [0,1) for lstm),
# after 5 warm-up steps. PyTorch side: bench/torch_rnn.py, the same. Both
# print training samples/s; peak RSS comes from /usr/bin/time. Runs alternate
# nn2c / PyTorch; the table shows medians. PyTorch gets torch.set_num_threads(T)
# and OPENBLAS_NUM_THREADS=1; nn2c gets T threads (OpenMP).
# The data sets of the examples are replaced by `dataset inline` (one
# sample) for compiling: the driver feeds its own random batches.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
WORK=${WORK:-/tmp/nn2c-bench-rnn}
THREADS=${THREADS:-"1 2"}
RUNS=${RUNS:-3}
MODELS=${MODELS:-"lstm_classifier imdb_lstm"}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1
mkdir -p "$WORK"
# shellcheck source=bench/common.sh
. "$BENCH/common.sh"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

die() { echo "rnn.sh: error: $*" >&2; exit 1; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
$PY -c 'import torch' 2>/dev/null || die "$PY cannot import torch (apt-get install python3-torch)"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"

if [ -n "${NN2C:-}" ]; then nn2c=$NN2C; else
  echo "building nn2c in $WORK/build ..."
  { cmake -S "$ROOT" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release && cmake --build "$WORK/build" --target nn2c -j2; } \
    >"$WORK/build.log" 2>&1 || die "building nn2c failed (see $WORK/build.log)"
  nn2c=$WORK/build/compiler/nn2c
fi

# build KIND EXAMPLE NAME: the example with an inline one-sample data set, compiled and driven
build() {
  local kind=$1 ex=$2 name=$3 dir=$WORK/$1
  rm -rf "$dir" && mkdir -p "$dir"
  $PY - "$ROOT/examples/$ex.nn" "$dir/$name.nn" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
dims = [int(d) for d in re.search(r"^input ([0-9 ]+)$", src, re.M).group(1).split()]
src = re.sub(r"^  dataset .*$", "  dataset inline", src, flags=re.M)
row = "0"
for d in reversed(dims):
    row = "[" + ", ".join([row] * d) + "]"
open(sys.argv[2], "w").write(src + "\ndata {\n  x = [" + row + "]\n  y = [[0]]\n}\n")
PY
  "$nn2c" compile "$dir/$name.nn" --train -o "$dir/src" >"$dir/compile.log" 2>&1 || die "nn2c compile failed (see $dir/compile.log)"
  sed "s/@NAME@/$name/g" "$BENCH/train_nn2c.c.in" >"$dir/src/train_$name.c"
  echo "compiling the generated $name.c (an unrolled LSTM takes a minute or two) ..."
  bench_make "$dir/src" -f Makefile -f "$BENCH/rnn.mk" NAME="$name" "train_$name" >"$dir/make.log" 2>&1 ||
    die "building $dir/src failed (see $dir/make.log)"
  grep -m1 "arena" "$dir/src/$name.h" | sed "s/^ \* */  $name: /"
}
# kind_of MODEL: the short name bench/torch_rnn.py knows it by
kind_of() {
  case $1 in
  lstm_classifier) echo lstm ;;
  imdb_lstm) echo imdb ;;
  *) die "no recurrent model $1 (MODELS takes lstm_classifier and imdb_lstm)" ;;
  esac
}
for name in $MODELS; do kind_of "$name" >/dev/null; done # dies on an unknown name
for name in $MODELS; do build "$(kind_of "$name")" "$name" "$name"; done

echo
summary_start rnn.sh
echo "$(cpu_line), load average before: $LOAD_START; now: $(cut -d' ' -f1-3 /proc/loadavg)"
first=$(kind_of "${MODELS%% *}")
echo "$(cc_line "$WORK/$first/src/Makefile"); the Makefile adds: $(make -s -C "$WORK/$first/src" CC="$BENCH_CC" -f Makefile -f "$BENCH/harness.mk" print-flags 2>/dev/null)"
for name in $MODELS; do
  isa=$("$WORK/$(kind_of "$name")/src/train_$name" --isa 2>/dev/null) || isa="?"
  isa=${isa/ (dispatched)/+dispatch} # one word in the summary
  summary isa nn2c "$name" - - "$isa"
  echo "nn2c $name: isa $isa (the vector kernels compiled in)"
done
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-<unset>}; OMP_WAIT_POLICY=${OMP_WAIT_POLICY-<unset>}"
echo "pytorch $($PY -c 'import torch; print(torch.__version__)'); runs per side: $RUNS (medians)"
rows=()
for name in $MODELS; do
  kind=$(kind_of "$name")
  case $kind in
  lstm) steps=1500 tsteps=300 vocab=0 ;;
  imdb) steps=40 tsteps=15 vocab=10000 ;;
  esac
  for t in $THREADS; do
    log=$WORK/$kind.t$t
    : >"$log.nsps"; : >"$log.tsps"; : >"$log.nrss"; : >"$log.trss"
    for r in $(seq "$RUNS"); do
      /usr/bin/time -f 'maxrss_kb=%M' -o "$log.ntime" "$WORK/$kind/src/train_$name" "$t" "$steps" "$vocab" >"$log.nout"
      /usr/bin/time -f 'maxrss_kb=%M' -o "$log.ttime" "$PY" "$BENCH/torch_rnn.py" "$kind" --threads "$t" --steps "$tsteps" >"$log.tout"
      sed -n 's/.*samples\/s=\([0-9.]*\).*/\1/p' "$log.nout" >>"$log.nsps"
      sed -n 's/.*samples\/s=\([0-9.]*\).*/\1/p' "$log.tout" >>"$log.tsps"
      sed -n 's/^maxrss_kb=//p' "$log.ntime" >>"$log.nrss"
      sed -n 's/^maxrss_kb=//p' "$log.ttime" >>"$log.trss"
      echo "  $kind threads=$t run $r: nn2c $(tail -1 "$log.nsps") samples/s, torch $(tail -1 "$log.tsps") samples/s"
    done
    ns=$(median <"$log.nsps") ts=$(median <"$log.tsps")
    summary train_sps nn2c "$name" "$t" - "$ns"
    summary train_sps torch "$name" "$t" - "$ts"
    rows+=("$(printf '| %-5s | %7s | %10s | %10s | %5s | %9s | %9s |' "$kind" "$t" "$ns" "$ts" "$(ratio "$ns" "$ts")" \
      "$(( $(median <"$log.nrss" | cut -d. -f1) / 1024 ))" "$(( $(median <"$log.trss" | cut -d. -f1) / 1024 ))")")
  done
done
echo
echo "| model | threads | nn2c sps   | torch sps  | ratio | nn2c MiB  | torch MiB |"
echo "| ----- | ------- | ---------- | ---------- | ----- | --------- | --------- |"
printf '%s\n' "${rows[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); summary in $SUMMARY"
