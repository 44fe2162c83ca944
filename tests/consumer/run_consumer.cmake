# run_consumer.cmake - the driver of the install test; see CMakeLists.txt.
#   cmake -DBUILD_DIR=... -DSTAGE=... -DSRC=... -DWORK=... [-DGENERATOR=...]
#         [-DC_COMPILER=...] [-DCONFIG=...] [-DSANITIZE=ON]
#         [-DONNX=ON -DONNX_SRC=tests/consumer/onnx -DMODEL_DIR=tests/onnx/weights] -P run_consumer.cmake
# Each step prints what it runs; the first failure stops the test with its output.

# step(NAME CMD...) : run CMD, echo its output, stop the test if it fails.
# Its output is left in step_out for checks.
function(step name)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "[${name}] ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: step '${name}' failed (exit ${rc})")
  endif()
  set(step_out "${out}${err}" PARENT_SCOPE)
endfunction()

# expect(NAME REGEX) : the last step's output must match REGEX.
function(expect name regex)
  if(NOT step_out MATCHES "${regex}")
    message(FATAL_ERROR "install test: step '${name}': output does not match '${regex}'")
  endif()
endfunction()

foreach(v BUILD_DIR STAGE SRC WORK)
  if(NOT ${v})
    message(FATAL_ERROR "run_consumer.cmake: pass -D${v}=...")
  endif()
endforeach()
set(config_args "")
set(build_config "")
if(CONFIG)
  set(config_args --config ${CONFIG})
  set(build_config -DCMAKE_BUILD_TYPE=${CONFIG})
endif()
set(gen_args "")
if(GENERATOR)
  set(gen_args -G ${GENERATOR})
endif()
if(C_COMPILER)
  list(APPEND build_config -DCMAKE_C_COMPILER=${C_COMPILER})
endif()
if(SANITIZE)
  # the staged runtime was built with sanitizers, so programs linking it need them too
  list(APPEND build_config "-DCMAKE_C_FLAGS=-fsanitize=address,undefined"
       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
endif()

# 1. A fresh install of the current build into the staging prefix.
file(REMOVE_RECURSE "${STAGE}" "${WORK}" "${WORK}-v3" "${WORK}-onnx")
step(install "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${STAGE}" ${config_args})
foreach(f bin/nn2c lib/libnn2c_runtime.a include/nn2c/nn2c_rt.h lib/cmake/nn2c/nn2c-config.cmake
          lib/cmake/nn2c/nn2c-config-version.cmake lib/cmake/nn2c/nn2c-targets.cmake)
  if(NOT EXISTS "${STAGE}/${f}")
    message(FATAL_ERROR "install test: ${STAGE}/${f} was not installed")
  endif()
endforeach()

# compile_flags(DIR FILE VAR): the compile command of FILE (a file name) in
# DIR/compile_commands.json, or "" when the generator writes none.
function(compile_flags dir file var)
  set(cmd "")
  if(EXISTS "${dir}/compile_commands.json")
    file(STRINGS "${dir}/compile_commands.json" lines REGEX "\"command\":.*/${file}")
    if(lines)
      list(GET lines 0 cmd)
    endif()
  endif()
  set(${var} "${cmd}" PARENT_SCOPE)
endfunction()

# need_flags(WHAT CMD FLAG...): each FLAG is a word of CMD (when there is a CMD).
function(need_flags what cmd)
  if(cmd STREQUAL "")
    return()
  endif()
  foreach(f IN LISTS ARGN)
    string(FIND "${cmd} " " ${f} " at)
    if(at EQUAL -1)
      message(FATAL_ERROR "install test: ${what} is compiled without ${f}: ${cmd}")
    endif()
  endforeach()
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "${what} is compiled with ${shown}")
endfunction()

# The vector kernels a default (-march=native) or x86-64-v3 build must compile in.
cmake_host_system_information(RESULT platform QUERY OS_PLATFORM)
set(x86 OFF)
if(platform MATCHES "^(x86_64|AMD64|amd64|i.86)$")
  set(x86 ON)
endif()
set(cpu_avx2 OFF)
if(EXISTS /proc/cpuinfo)
  file(STRINGS /proc/cpuinfo flags REGEX "^flags" LIMIT_COUNT 1)
  if(flags MATCHES " avx2( |$)")
    set(cpu_avx2 ON)
  endif()
endif()

# 2. Configure and build the consumer against the staged prefix only.
step(configure "${CMAKE_COMMAND}" -S "${SRC}" -B "${WORK}" ${gen_args} ${build_config}
     "-DCMAKE_PREFIX_PATH=${STAGE}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
file(STRINGS "${WORK}/CMakeCache.txt" found REGEX "^nn2c_DIR:")
if(NOT found MATCHES "${STAGE}/")
  message(FATAL_ERROR "install test: the consumer found nn2c outside the stage: ${found}")
endif()
step(build "${CMAKE_COMMAND}" --build "${WORK}" --target consumer ${config_args})
# nn2c_add_model gave the model the emitted Makefile's flags, and OpenMP when
# the consumer's compiler has it.
file(STRINGS "${WORK}/CMakeCache.txt" omp_flags REGEX "^OpenMP_C_FLAGS:")
string(REGEX REPLACE "^[^=]*=" "" omp_flags "${omp_flags}")
separate_arguments(omp_flags)
set(want -O3 -ffp-contract=fast -fno-math-errno ${omp_flags})
if(x86)
  list(APPEND want -march=native) # elsewhere it may be -mcpu=native
endif()
compile_flags("${WORK}" xor_mlp.c cmd)
need_flags(xor_mlp.c "${cmd}" ${want})

# 3. Its program uses the model's API directly: it must train and pass.
set(bin "${WORK}")
if(CONFIG AND EXISTS "${WORK}/${CONFIG}/consumer")
  set(bin "${WORK}/${CONFIG}")
endif()
step(run "${bin}/consumer")
expect(run "PASS: loss decreased")
if(x86)
  expect(run "xor_mlp: isa (avx512|avx2|sse2)( \\(dispatched\\))?\n")
endif()

# 4. The generated trainer, built from the installed runtime, for a few epochs.
step(build_train "${CMAKE_COMMAND}" --build "${WORK}" --target mymodel_train ${config_args})
# (xor_mlp's loops are too small to take a second thread: --threads 2 must
# just work; the OpenMP flags were checked above)
step(train "${bin}/mymodel_train" --epochs 100 --threads 2 --quiet)
expect(train "final: test_loss=[0-9.]+ test_accuracy=1\\.0000")

# 5. A portable baseline: NN2C_ARCH=x86-64-v3 (the ARCH default) compiles the
#    kernels for AVX2 and AVX-512F (glibc's loader picks); the program runs
#    where the CPU has AVX2 and uses the clone this CPU runs.
if(x86)
  step(configure_v3 "${CMAKE_COMMAND}" -S "${SRC}" -B "${WORK}-v3" ${gen_args} ${build_config}
       "-DCMAKE_PREFIX_PATH=${STAGE}" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DNN2C_ARCH=x86-64-v3)
  step(build_v3 "${CMAKE_COMMAND}" --build "${WORK}-v3" --target consumer ${config_args})
  compile_flags("${WORK}-v3" xor_mlp.c cmd)
  need_flags("xor_mlp.c (x86-64-v3)" "${cmd}" -O3 -march=x86-64-v3)
  if(cpu_avx2)
    string(REPLACE "${WORK}" "${WORK}-v3" bin_v3 "${bin}")
    step(run_v3 "${bin_v3}/consumer")
    expect(run_v3 "xor_mlp: isa (avx512|avx2) \\(dispatched\\)\n")
  endif()
endif()

# 6. An imported model (when nn2c has ONNX): DIM, WEIGHTS_THRESHOLD and the
#    training options; the weights file found through NAME_WEIGHTS_PATH and
#    next to the trainer, from this folder (not the build folder).
if(ONNX)
  step(configure_onnx "${CMAKE_COMMAND}" -S "${ONNX_SRC}" -B "${WORK}-onnx" ${gen_args} ${build_config}
       "-DCMAKE_PREFIX_PATH=${STAGE}" "-DMODEL_DIR=${MODEL_DIR}")
  step(build_onnx "${CMAKE_COMMAND}" --build "${WORK}-onnx" ${config_args})
  string(REPLACE "${WORK}" "${WORK}-onnx" bin_onnx "${bin}")
  step(weights_path "${bin_onnx}/weights_path")
  expect(weights_path "PASS")
  if(NOT EXISTS "${bin_onnx}/small_tr.weights")
    message(FATAL_ERROR "install test: small_tr.weights was not copied next to small_tr_train")
  endif()
  step(train_onnx "${bin_onnx}/small_tr_train" --epochs 1)
  expect(train_onnx "final: test_loss=")
endif()
message(STATUS "install test: all steps passed")
