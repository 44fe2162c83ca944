#!/bin/sh
# nn2c dot: the forward graph with shapes on the edges; with --train the
# backward and optimizer nodes in their own clusters and the assignments;
# Graphviz's dot renders every file (skipped, after the text checks, when
# Debian's graphviz is not installed).
set -eu
nn2c=$1 src=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$nn2c" dot "$src/examples/mnist_cnn.nn" -o "$tmp/fwd.dot" || fail "dot exited $?"
grep -q '^digraph "mnist_cnn" {' "$tmp/fwd.dot" || fail "no digraph"
grep -q 'label="conv1_z\\nconv2d"' "$tmp/fwd.dot" || fail "no conv1_z node"
grep -Eq -- '-> n[0-9]+ \[label="\[N,26,26,32\]"\]' "$tmp/fwd.dot" || fail "no edge with conv1's shape"
grep -q 'param f32\[3,3,1,32\]' "$tmp/fwd.dot" || fail "no conv1_w param"
! grep -q cluster_ "$tmp/fwd.dot" || fail "clusters without --train"
"$nn2c" dot "$src/examples/mnist_cnn.nn" --train -o "$tmp/train.dot" || fail "--train exited $?"
grep -q 'subgraph cluster_backward' "$tmp/train.dot" && grep -q 'subgraph cluster_optimizer' "$tmp/train.dot" ||
  fail "no backward/optimizer clusters"
grep -q 'conv2d_grad_weight' "$tmp/train.dot" || fail "no conv2d_grad_weight node"
grep -q 'style=dashed, label="assign"' "$tmp/train.dot" || fail "no assignments"
if "$nn2c" dot "$src/examples/xor.nn" >"$tmp/out" 2>&1; then fail "dot without -o was accepted"; fi
if "$nn2c" dot "$src/examples/xor.nn" -o "$tmp" 2>"$tmp/err"; then fail "-o a folder was accepted"; fi
grep -q 'not a regular file' "$tmp/err" || fail "-o a folder: $(cat "$tmp/err")"
if ! command -v dot >/dev/null; then
  echo "skip: graphviz (dot) is not installed; the text checks passed"
  exit 77
fi
for f in fwd train; do
  dot -Tsvg "$tmp/$f.dot" -o "$tmp/$f.svg" 2>"$tmp/err" || fail "dot -Tsvg $f.dot: $(cat "$tmp/err")"
  [ ! -s "$tmp/err" ] || fail "dot warned on $f.dot: $(cat "$tmp/err")"
  grep -q '<svg' "$tmp/$f.svg" && grep -q 'conv1_z' "$tmp/$f.svg" || fail "$f.svg lacks the graph"
done
echo "ok: dot writes the forward and training graphs and Graphviz renders them"
