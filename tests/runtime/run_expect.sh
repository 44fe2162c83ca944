#!/bin/sh
# run_expect.sh RC GREP_MODE PATTERN COMMAND [ARGS...]
# Runs COMMAND, shows its output, and passes only if it exits with status RC
# and its output (stdout and stderr together) matches PATTERN under grep's
# GREP_MODE (-F fixed string, -E extended regex).
# With NEED_DIR set to a missing directory it exits 77 (skipped).
want_rc=$1 mode=$2 pattern=$3
shift 3
if [ -n "$NEED_DIR" ] && [ ! -d "$NEED_DIR" ]; then
  echo "skipped: $NEED_DIR is missing"
  exit 77
fi
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" != "$want_rc" ]; then
  echo "FAIL: exit status $rc, expected $want_rc"
  exit 1
fi
if ! printf '%s\n' "$out" | grep -q $mode -e "$pattern"; then
  echo "FAIL: output does not match $mode '$pattern'"
  exit 1
fi
exit 0
