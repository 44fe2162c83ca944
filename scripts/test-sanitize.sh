#!/bin/sh
# test-sanitize.sh - the test suite under AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/test-sanitize.sh [CTEST ARGS...]
#
# 1. configures build-asan/ with -DNN2C_SANITIZE=ON: nn2c, the runtime and the
#    test programs are built with NN2C_SANITIZE_FLAGS (see CMakeLists.txt);
# 2. puts build-asan/sanitize-bin first in PATH: cc, gcc and clang wrappers
#    that add the same flags, so the C the tests compile on the fly (emitted
#    models and trainers, the runtime copied next to them) is checked too;
# 3. runs ctest with every finding fatal (halt_on_error, -fno-sanitize-recover)
#    and leak checking on, minus the tests listed below.
# Extra arguments go to ctest (e.g. -R e2e.xor). Environment: JOBS (default 2).
# CI (.ci/run) runs -L 'fast|runtime|tools|sanitize': the quick, runtime and tools tests and the
# e2e/examples models labelled "sanitize" (one per kind of kernel). The whole suite takes over an
# hour under the sanitizers on 2 cores (the e2e label alone about 40 minutes): docs/testing.md.
#
# Left out, and why:
#   valgrind.*       valgrind cannot run ASan binaries (both want the shadow memory)
#   e2e_isa.*        48 rebuilds of the e2e models per compiler and ISA (the aarch64
#                    ones with an unwrapped cross compiler, under qemu); e2e.* runs the
#                    same kernels under the sanitizers, and these would double the time
#   runtime_threads_calibration  measures thread start-up and loop costs; ASan's
#                    slowdown makes it exceed its 300 s timeout (it did on 2 cores)
set -eu
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNN2C_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
PATH="$(pwd)/build-asan/sanitize-bin:$PATH"
# e2e: one build per model (gcc -O1) instead of gcc -O0/-O2 and clang -O2: the
# sanitizers look for memory errors and UB, and the compiler/level matrix runs
# in the plain suite; three sanitized builds per model overran the timeouts.
E2E_CONFIGS=${E2E_CONFIGS:-gcc:-O1}
ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Open MPI's own allocations (the mpi label's trainers) are not leaks of ours: scripts/lsan.supp
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(pwd)/scripts/lsan.supp:print_suppressions=0}
export PATH E2E_CONFIGS ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
exclude='^valgrind\.|^e2e_isa\.|^runtime_threads_calibration$'
ctest --test-dir build-asan -j"$jobs" --output-on-failure -E "$exclude" "$@"
