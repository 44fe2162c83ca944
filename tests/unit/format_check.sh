#!/bin/sh
# The C sources follow .clang-format (clang-format --dry-run -Werror); to fix:
#   clang-format -i $(sh tests/unit/format_check.sh --list)
# Skipped (exit 77) where clang-format is not installed (Debian: clang-format).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
files=$(git ls-files 'compiler/*.c' 'compiler/*.h' 'runtime/*.c' 'runtime/*.h' 'tests/*.c' 'tests/*.h' \
  'bench/*.c' 'scripts/*.c' 'examples/*.c' 'examples/*.h' 2>/dev/null ||
  find compiler runtime tests bench scripts examples -name '*.[ch]')
[ "${1:-}" = --list ] && { echo "$files"; exit 0; }
command -v clang-format >/dev/null 2>&1 || { echo "skipped: clang-format is not installed"; exit 77; }
if ! clang-format --dry-run -Werror $files 2>"${TMPDIR:-/tmp}/nn2c-format.$$"; then
  grep -m 20 "error:" "${TMPDIR:-/tmp}/nn2c-format.$$"; rm -f "${TMPDIR:-/tmp}/nn2c-format.$$"
  echo "FAIL: not formatted as .clang-format says; run: clang-format -i \$(sh tests/unit/format_check.sh --list)"
  exit 1
fi
rm -f "${TMPDIR:-/tmp}/nn2c-format.$$"
echo "ok: $(echo "$files" | wc -l) files formatted"
