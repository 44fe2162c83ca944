#!/bin/sh
# test.sh - configure, build and run every test, as CI does. Run from anywhere;
# the build goes to build/ in the repository (its log: build/build.log). Extra
# arguments go to ctest (e.g. scripts/test.sh -L fast). Ends with the tests that
# were skipped and why (CTest counts a skipped test as passed).
set -eu
cd "$(dirname "$0")/.."
onnx=OFF
command -v protoc-c >/dev/null 2>&1 && [ -f /usr/include/onnx/onnx.proto ] && onnx=ON
echo "test.sh: building nn2c in build/ (ONNX front end: $onnx; log: build/build.log)"
mkdir -p build
if ! { cmake -B build -DCMAKE_BUILD_TYPE=Release -DNN2C_ONNX=$onnx && cmake --build build -j2; } >build/build.log 2>&1; then
  tail -30 build/build.log; echo "test.sh: the build failed; the whole log is build/build.log"; exit 1
fi
{ rc=0; ctest --test-dir build -j2 --output-on-failure "$@" 2>&1 || rc=$?; echo $rc >build/ctest.status; } | tee build/ctest.log
sh scripts/skipped-tests.sh build build/ctest.log
exit "$(cat build/ctest.status)"
