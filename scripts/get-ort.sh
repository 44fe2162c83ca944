#!/bin/sh
# get-ort.sh [BUILD_DIR] - installs ONNX Runtime for Node (npm onnxruntime-node,
# CPU build; its install script, which fetches GPU libraries, is not run) into
# BUILD_DIR/ort (default build/ort), where the test tools.export_ort looks for it.
# Needs node and npm (Debian: apt-get install nodejs npm) and the npm registry.
set -eu
ORT_VERSION=1.31.1
dir=${1:-build}/ort
command -v npm >/dev/null 2>&1 || { echo "get-ort.sh: npm is not installed (apt-get install nodejs npm)" >&2; exit 1; }
if [ -f "$dir/node_modules/onnxruntime-node/package.json" ] &&
  grep -q "\"version\": \"$ORT_VERSION\"" "$dir/node_modules/onnxruntime-node/package.json"; then
  echo "get-ort.sh: onnxruntime-node $ORT_VERSION is in $dir"; exit 0
fi
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name": "nn2c-ort", "private": true}' >"$dir/package.json"
echo "get-ort.sh: installing onnxruntime-node $ORT_VERSION into $dir ..."
npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION"
