#!/bin/sh
# no_cycles.sh SRC_DIR OBJ... - fails, naming the cycle, when files of the
# compiler depend on each other in a circle:
#   1. the include graph: `#include "..."` lines of SRC_DIR's .c/.h/.def files,
#      resolved against the including file's folder, then SRC_DIR;
#   2. the call graph: for every object file OBJ of nn2c_core and nn2c_onnx
#      (CMake's $<TARGET_OBJECTS>, or a folder searched for *.o), `nm` gives
#      the global symbols it defines and the ones it uses; a use of a symbol
#      defined in another object is an edge between the two source files
#      (named by the object's path after CMake's "<target>.dir/").
# Files of one family (the allow-list below) are merged into one node first,
# so calls among them are allowed, and calls between families must not loop.
# Prints every cycle found as a -> b -> ... -> a and exits 1.
set -eu
[ $# -ge 2 ] || { echo "usage: no_cycles.sh SRC_DIR OBJ..." >&2; exit 2; }
src=$1
shift
tmp=${TMPDIR:-/tmp}/nn2c_no_cycles.$$
mkdir "$tmp"
trap 'rm -rf "$tmp"' EXIT

# The allow-list: "file family" pairs; keep it short, with the reason.
cat >"$tmp/families" <<'EOF'
ops/conv.c ops/conv*
ops/conv_direct.c ops/conv*
ops/conv_wino.c ops/conv*
ops/conv_blas.c ops/conv*
codegen/emit_c.c codegen/emit*
codegen/emit_files.c codegen/emit*
codegen/emit_mcu.c codegen/emit*
onnx/import.c onnx/*
onnx/nchw.c onnx/*
onnx/tensor.c onnx/*
onnx/export.c onnx/*
onnx/write.c onnx/*
onnx/onnx_test.c onnx/*
onnx/conv3d.c onnx/*
onnx/control.c onnx/*
onnx/sequence.c onnx/*
onnx/integer.c onnx/*
onnx/fold.c onnx/*
onnx/tfidf.c onnx/*
onnx/dft.c onnx/*
onnx/random.c onnx/*
EOF
# ops/conv*: conv.c plans a convolution and calls the kernel emitters in
# conv_direct.c, conv_wino.c and conv_blas.c, which share its helpers
# (conv_impl.h); they are one op family split for size.
# codegen/emit*: emit_c.c writes the model files (taking embedded text from
# emit_files.c), emit_files.c the folder around them (calling codegen_model).
# onnx/*: the ONNX front end split for size: import.c walks the graph and calls
# the handlers in nchw.c, conv3d.c, control.c (If/Loop/Scan bodies import nodes
# back through import.c), sequence.c, integer.c, fold.c, tfidf.c, dft.c and random.c (whose
# generator import.c's Dropout also draws from) and the tensor reader in
# tensor.c, which use import.c's
# shared helpers (onnx_impl.h); calls into the rest of nn2c go one way only.

# 1. Includes: "from to" lines, paths relative to SRC_DIR.
(cd "$src" && find . -name '*.[ch]' -o -name '*.def') | sed 's|^\./||' | sort >"$tmp/files"
(cd "$src" && awk 'FNR == NR { have[$0] = 1; next }
  function norm(p) { sub(/^\.\//, "", p); while (sub(/[^\/]+\/\.\.\//, "", p)) {} return p }
  /^[ \t]*#[ \t]*include[ \t]*"/ {
    inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
    dir = FILENAME; if (!sub(/\/[^\/]*$/, "/", dir)) dir = ""
    if (norm(dir inc) in have) print FILENAME, norm(dir inc)
    else if (norm(inc) in have) print FILENAME, norm(inc)
  }' "$tmp/files" $(cat "$tmp/files")) >"$tmp/includes"

# 2. Calls: "object T symbol" and "object U symbol" lines, then "from to" edges.
for arg in "$@"; do printf '%s\n' "$arg" | tr ';' '\n'; done | while read -r d; do  # CMake passes lists with ';'
  if [ -d "$d" ]; then find "$d" -name '*.o'; else echo "$d"; fi
done | while read -r o; do
    rel=${o##*.dir/}
    rel=${rel%.o}
    nm -P "$o" | awk -v f="$rel" '$2 == "U" { print f, "U", $1 } $2 ~ /^[TDBRCVW]$/ { print f, "D", $1 }'
done >"$tmp/syms"
# The op table (ops/op.c) refers to every op's hooks: a dispatch table, read
# through op_table[] by the callers, not calls of op.c's own. Those references
# (<op>_infer _eval _grad _emit _expr _scratch) are left out, or every op
# family would be in a cycle with the table it registers in.
awk '$2 == "D" { def[$3] = $1 } $2 == "U" { use[NR] = $1 " " $3 }
     END {
       for (i in use) {
         split(use[i], a, " ")
         if (!(a[2] in def) || def[a[2]] == a[1]) continue
         if (a[1] == def["op_table"] && a[2] ~ /_(infer|eval|grad|emit|expr|scratch)$/) continue
         print a[1], def[a[2]]
       }
     }' "$tmp/syms" | sort -u >"$tmp/calls"
[ -s "$tmp/calls" ] || { echo "FAIL: no call edges read from the object files given" >&2; exit 1; }

# Finds cycles in "from to" edges (after merging families): for each edge
# a -> b, a breadth-first search from b back to a gives the cycle's path.
find_cycles() {
  awk -v what="$1" 'FNR == NR { fam[$1] = $2; next }
    function node(x) { return (x in fam) ? fam[x] : x }
    {
      a = node($1); b = node($2)
      if (a == b || ((a, b) in seen)) next
      seen[a, b] = 1; ne++; ea[ne] = a; eb[ne] = b
      nadj[a]++; adj[a, nadj[a]] = b
    }
    END {
      bad = 0
      for (e = 1; e <= ne; e++) {
        a = ea[e]; b = eb[e]
        split("", par); head = 1; tail = 1; q[1] = b; par[b] = ""; found = 0
        while (head <= tail && !found) {
          x = q[head++]
          for (k = 1; k <= nadj[x]; k++) {
            y = adj[x, k]
            if (y in par) continue
            par[y] = x; q[++tail] = y
            if (y == a) { found = 1; break }
          }
        }
        if (!found) continue
        path = a; x = a
        while (x != b) { x = par[x]; path = x " -> " path }
        path = a " -> " path
        key = ""; n = split(path, p, " -> ")   # report each cycle once, from its smallest file
        m = 1
        for (k = 2; k < n; k++) if (p[k] < p[m]) m = k
        for (k = 0; k < n - 1; k++) key = key p[(m - 1 + k) % (n - 1) + 1] " -> "
        key = key p[m]
        if (!(key in told)) { told[key] = 1; print "FAIL: " what " cycle: " key; bad = 1 }
      }
      exit bad
    }' "$tmp/families" "$2"
}

status=0
find_cycles include "$tmp/includes" || status=1
find_cycles call "$tmp/calls" || status=1
if [ $status -eq 0 ]; then
  echo "no include cycles among $(wc -l <"$tmp/files") files ($(wc -l <"$tmp/includes") includes);" \
    "no call cycles among $(cut -d' ' -f1 "$tmp/syms" | sort -u | wc -l) objects ($(wc -l <"$tmp/calls") file edges)"
fi
exit $status
