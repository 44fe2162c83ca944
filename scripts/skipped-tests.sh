#!/bin/sh
# skipped-tests.sh BUILD_DIR CTEST_OUTPUT: the tests ctest reported as not run (skipped),
# each with its reason: the last line the test printed, read from CTest's log.
set -eu
log=$1/Testing/Temporary/LastTest.log out=$2
names=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) (Skipped)$/\1/p' "$out")
if [ -z "$names" ]; then
  echo "skipped: none"; exit 0
fi
echo "skipped: $(echo "$names" | wc -l) tests (ctest counts them as passed), and why:"
for n in $names; do
  reason=$(awk -v n="$n" '
    $0 ~ "^[0-9]+/[0-9]+ Test: " && $3 == n { on = 1; next }
    on && /^Output:$/ { grab = 1; next }
    on && grab && /^<end of output>$/ { print last; exit }
    on && grab && NF && !/^-+$/ { last = $0 }' "$log")
  printf '  %-40s %s\n' "$n" "${reason:-(no reason printed)}"
done
