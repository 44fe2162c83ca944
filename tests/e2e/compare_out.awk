# compare_out.awk - two --quiet outputs (files fa and fb) token by token: words
# equal, numbers within at + rt * |b|. Prints each mismatch; exit 1 on any.
#   awk -v rt=RTOL -v at=ATOL -v fa=A -v fb=B -f compare_out.awk
function isnum(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
BEGIN {
  na = 0; while ((getline line < fa) > 0) { n = split(line, t, /[ =]+/); for (i = 1; i <= n; i++) A[++na] = t[i] }
  nb = 0; while ((getline line < fb) > 0) { n = split(line, t, /[ =]+/); for (i = 1; i <= n; i++) B[++nb] = t[i] }
  if (na != nb) { print "outputs have " na " and " nb " tokens"; exit 1 }
  for (i = 1; i <= na; i++) {
    if (isnum(A[i]) && isnum(B[i])) {
      d = A[i] - B[i]; if (d < 0) d = -d
      m = B[i] < 0 ? -B[i] : B[i]
      if (d > at + rt * m) { print "token " i ": " A[i] " vs " B[i]; bad = 1 }
    } else if (A[i] != B[i]) { print "token " i ": \"" A[i] "\" vs \"" B[i] "\""; bad = 1 }
  }
  exit bad
}
