#!/bin/sh
# run_error_test.sh NN2C_BINARY FILE
#
# Checks that nn2c rejects a bad input the way FILE says. FILE is either
#   NAME.nn    a model; runs `NN2C_BINARY compile NAME.nn -o TMPDIR`, or
#   NAME.args  one non-comment line of arguments (@TMPDIR@ stands for a fresh
#              directory) for inputs that are not a file, e.g. a missing one.
#              Paths in it are relative to the repository root (the tests run there).
# Every `# ERROR: text` line in FILE is a substring stderr must contain, every
# `# NOT: text` line one it must not contain. The run
# must exit with status exactly 1 and print nothing from an internal assertion or
# a sanitizer. Exits 0 on success, 1 with an explanation otherwise.
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 NN2C_BINARY FILE" >&2
  exit 2
fi
bin=$1
file=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nn2c_err.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

case $file in
  *.args)
    args=$(grep -v '^[[:space:]]*#' "$file" | grep -v '^[[:space:]]*$' | head -n 1 | sed "s|@TMPDIR@|$tmp/out|g")
    # The arguments are word-split on purpose: they are a command line.
    # shellcheck disable=SC2086
    "$bin" $args >"$tmp/stdout" 2>"$tmp/stderr"
    status=$?
    ;;
  *)
    "$bin" compile "$file" -o "$tmp/out" >"$tmp/stdout" 2>"$tmp/stderr"
    status=$?
    ;;
esac

fail=0
report() {
  echo "FAIL: $file: $1"
  fail=1
}

[ "$status" -eq 1 ] || report "exit status $status, expected 1"

grep '^# ERROR: ' "$file" | sed 's/^# ERROR: //' >"$tmp/expected"
[ -s "$tmp/expected" ] || report "no '# ERROR:' lines in the test file"
while IFS= read -r want; do
  grep -qF -- "$want" "$tmp/stderr" || report "stderr lacks: $want"
done <"$tmp/expected"

grep '^# NOT: ' "$file" | sed 's/^# NOT: //' >"$tmp/unexpected"
while IFS= read -r bad; do
  if grep -qF -- "$bad" "$tmp/stderr"; then report "stderr contains: $bad"; fi
done <"$tmp/unexpected"

for bad in "internal error" "AddressSanitizer" "LeakSanitizer" "runtime error:"; do
  if grep -qF -- "$bad" "$tmp/stderr"; then report "stderr contains '$bad'"; fi
done

if [ "$fail" -ne 0 ]; then
  echo "---- expected on stderr ----"
  cat "$tmp/expected"
  echo "---- stderr was ----"
  cat "$tmp/stderr"
  exit 1
fi
exit 0
