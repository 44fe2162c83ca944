# run_consumer.cmake - the driver of the install test; see CMakeLists.txt.
#   cmake -DBUILD_DIR=... -DSTAGE=... -DSRC=... -DWORK=... [-DGENERATOR=...]
#         [-DC_COMPILER=...] [-DCONFIG=...] [-DSANITIZE=ON] -P run_consumer.cmake
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
  set(step_out "${out}" PARENT_SCOPE)
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
file(REMOVE_RECURSE "${STAGE}" "${WORK}")
step(install "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${STAGE}" ${config_args})
foreach(f bin/nn2c lib/libnn2c_runtime.a include/nn2c/nn2c_rt.h lib/cmake/nn2c/nn2c-config.cmake
          lib/cmake/nn2c/nn2c-config-version.cmake lib/cmake/nn2c/nn2c-targets.cmake)
  if(NOT EXISTS "${STAGE}/${f}")
    message(FATAL_ERROR "install test: ${STAGE}/${f} was not installed")
  endif()
endforeach()

# 2. Configure and build the consumer against the staged prefix only.
step(configure "${CMAKE_COMMAND}" -S "${SRC}" -B "${WORK}" ${gen_args} ${build_config}
     "-DCMAKE_PREFIX_PATH=${STAGE}")
file(STRINGS "${WORK}/CMakeCache.txt" found REGEX "^nn2c_DIR:")
if(NOT found MATCHES "${STAGE}/")
  message(FATAL_ERROR "install test: the consumer found nn2c outside the stage: ${found}")
endif()
step(build "${CMAKE_COMMAND}" --build "${WORK}" --target consumer ${config_args})

# 3. Its program uses the model's API directly: it must train and pass.
set(bin "${WORK}")
if(CONFIG AND EXISTS "${WORK}/${CONFIG}/consumer")
  set(bin "${WORK}/${CONFIG}")
endif()
step(run "${bin}/consumer")
expect(run "PASS: loss decreased")

# 4. The generated trainer, built from the installed runtime, for a few epochs.
step(build_train "${CMAKE_COMMAND}" --build "${WORK}" --target mymodel_train ${config_args})
step(train "${bin}/mymodel_train" --epochs 100 --quiet)
expect(train "final: test_loss=[0-9.]+ test_accuracy=1\\.0000")
message(STATUS "install test: all steps passed")
