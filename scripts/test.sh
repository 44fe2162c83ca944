#!/bin/sh
# test.sh - configure, build and run every test, as CI does. Run from anywhere;
# the build goes to build/ in the repository. Extra arguments go to ctest
# (e.g. scripts/test.sh -L fast).
set -eu
cd "$(dirname "$0")/.."
cmake -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2 && ctest --test-dir build -j2 --output-on-failure "$@"
