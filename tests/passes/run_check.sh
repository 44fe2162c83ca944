#!/bin/sh
# run_check.sh NN2C FILE - runs the pass test FILE and matches its CHECK lines.
#
# FILE is a .nn/IR file with directives in comments:
#   # RUN: PIPELINE [ARGS]       nn2c compile FILE --emit=ir --passes=PIPELINE ARGS; must exit 0
#   # RUN-FAIL: PIPELINE [ARGS]  the same, must exit non-zero; its stderr is checked
#   # RUN-C: PIPELINE [ARGS]     nn2c compile FILE -o TMP --passes=PIPELINE ARGS; stderr and
#                                the emitted TMP/*.h TMP/*.c (model files only) are checked
#   # CHECK: TEXT                TEXT occurs in a line after the previous CHECK's line
#   # CHECK-NOT: TEXT            TEXT occurs in no line between the neighbouring CHECKs' lines
# Matching is by plain substring; a file needs exactly one RUN line and at least one CHECK.
set -eu
nn2c=$1 file=$2
fail() { echo "FAIL: $file: $*" >&2; exit 1; }

run=$(sed -n 's/^# *\(RUN\|RUN-FAIL\|RUN-C\): *\(.*\)$/\1 \2/p' "$file")
[ "$(printf '%s\n' "$run" | grep -c .)" -eq 1 ] || fail "needs exactly one RUN, RUN-FAIL or RUN-C line"
grep -q '^# *CHECK:' "$file" || fail "has no CHECK line"
set -- $run
mode=$1 pipeline=$2
shift 2
tmp=${TMPDIR:-/tmp}/nn2c_check.$$
trap 'rm -rf "$tmp" "$tmp.out" "$tmp.err"' EXIT
rc=0
case $mode in
RUN | RUN-FAIL)
  "$nn2c" compile "$file" --emit=ir --passes="$pipeline" "$@" >"$tmp.out" 2>"$tmp.err" || rc=$?
  if [ "$mode" = RUN ]; then
    [ "$rc" -eq 0 ] || { cat "$tmp.err" >&2; fail "nn2c exited with $rc"; }
  else
    [ "$rc" -ne 0 ] || { cat "$tmp.out" >&2; fail "nn2c succeeded but the test expects an error"; }
    mv "$tmp.err" "$tmp.out"
  fi
  ;;
RUN-C)
  "$nn2c" compile "$file" -o "$tmp" --passes="$pipeline" "$@" >"$tmp.out" 2>"$tmp.err" || rc=$?
  [ "$rc" -eq 0 ] || { cat "$tmp.err" >&2; fail "nn2c exited with $rc"; }
  cat "$tmp.err" >>"$tmp.out"
  for f in "$tmp"/*.h "$tmp"/*.c; do
    case $(basename "$f") in nn2c_* | *_train.c) ;; *) cat "$f" >>"$tmp.out" ;; esac
  done
  ;;
esac

awk -v checks="$file" -v outf="$tmp.out" '
  BEGIN {
    nc = 0
    while ((getline l < checks) > 0) {
      if (match(l, /^# *CHECK-NOT: */)) { nc++; kind[nc] = "NOT"; pat[nc] = substr(l, RLENGTH + 1) }
      else if (match(l, /^# *CHECK: */)) { nc++; kind[nc] = "CHECK"; pat[nc] = substr(l, RLENGTH + 1) }
    }
    n = 0
    while ((getline l < outf) > 0) out[++n] = l
    pos = 0; nnot = 0; bad = 0
    for (c = 1; c <= nc; c++) {
      if (kind[c] == "NOT") { nots[++nnot] = pat[c]; continue }
      found = 0
      for (i = pos + 1; i <= n; i++) if (index(out[i], pat[c])) { found = i; break }
      if (!found) { print "CHECK not found after output line " pos ": " pat[c]; bad = 1; break }
      for (k = 1; k <= nnot; k++)
        for (i = pos + 1; i < found; i++)
          if (index(out[i], nots[k])) { print "CHECK-NOT matched output line " i ": " nots[k] " in: " out[i]; bad = 1 }
      nnot = 0; pos = found
    }
    if (!bad)
      for (k = 1; k <= nnot; k++)
        for (i = pos + 1; i <= n; i++)
          if (index(out[i], nots[k])) { print "CHECK-NOT matched output line " i ": " nots[k] " in: " out[i]; bad = 1 }
    exit bad
  }' || { echo "--- output of nn2c ---" >&2; cat "$tmp.out" >&2; fail "CHECK lines do not match"; }
echo "PASS: $file ($mode $pipeline)"
