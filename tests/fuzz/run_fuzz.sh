#!/bin/sh
# run_fuzz.sh - one fuzz target's CTest legs (see CMakeLists.txt).
#
#   run_fuzz.sh replay TARGET_EXE FUZZ_DIR WORK
#   run_fuzz.sh run    TARGET_EXE FUZZ_DIR WORK SECONDS [LIBFUZZER FLAGS...]
#
# replay: runs each file of FUZZ_DIR/corpus/T/ and FUZZ_DIR/crashes/T/ once
#         (T = the executable's name); fails naming every file that crashes.
# run:    fuzzes for SECONDS from a copy of the seeds in WORK/corpus (new
#         inputs stay there), with a 10 s per-input timeout and a 2 GB memory
#         limit; a crash, leak or timeout fails the test and leaves its input
#         in WORK/ (crash-*, leak-*, timeout-*): copy it to FUZZ_DIR/crashes/T/.
#         The seed is fixed (FUZZ_SEED, default 1) so a CI run repeats: two CI
#         runs in a row each found a new defect with random seeds, and a
#         submission should not land or fail by chance. scripts/fuzz.sh runs
#         the long campaigns with random seeds.
# The targets' stdout and stderr are closed (-close_fd_mask=3): the parsers'
# error messages are expected output.
set -eu
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS
mode=$1 exe=$2 dir=$3 work=$4
shift 4
t=$(basename "$exe")
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$work"
dict=
[ -f "$dir/$t.dict" ] && dict="-dict=$dir/$t.dict"
case $mode in
replay)
  bad=0 n=0
  for f in "$dir/corpus/$t"/* "$dir/crashes/$t"/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    if ! "$exe" -close_fd_mask=3 -timeout=10 "$f" >"$work/replay.log" 2>&1; then
      echo "== $f" >&2
      grep -E "ERROR|SUMMARY|runtime error|#[0-9]+ 0x" "$work/replay.log" | head -20 >&2
      bad=$((bad + 1))
    fi
  done
  echo "$t: replayed $n inputs, $bad crashed"
  [ "$bad" = 0 ] || fail "$bad saved inputs crash $t"
  ;;
run)
  secs=$1
  shift
  rm -rf "$work/corpus"
  mkdir -p "$work/corpus"
  cp "$dir/corpus/$t"/* "$work/corpus/" 2>/dev/null || true
  if ! "$exe" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
      -artifact_prefix="$work/" $dict "$@" "$work/corpus" >"$work/run.log" 2>&1; then
    tail -n 60 "$work/run.log" >&2
    fail "$t found a crash, leak or timeout: $(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | tr '\n' ' ')"
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/run.log" || true
  echo "$t: no crash in $secs s; corpus: $(ls "$work/corpus" | wc -l) inputs"
  ;;
*) fail "unknown mode '$mode' (replay or run)" ;;
esac
