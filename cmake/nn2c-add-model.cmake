# nn2c_add_model(TARGET target MODEL file.nn|file.onnx [TRAIN] [NAME name]
#                [ARCH native|x86-64-v3|<any -march value>|NONE] [NO_OPENMP]
#                [DIM NAME=VALUE...] [WEIGHTS_THRESHOLD FLOATS]
#                [LOSS loss] [OPTIMIZER sgd|momentum|adam] [LR x] [BATCH n] [EMA m]
#                [DATASET "name key=value..."])
#
# Compiles a model with nn2c at build time and makes targets from the result:
#   target        static library from NAME.c, with NAME.h's folder as a PUBLIC
#                 include directory, linked to libm (and OpenMP, see below).
#   target_train  (with TRAIN) the generated trainer program, NAME_train.c linked
#                 with target and nn2c::runtime; run `target_train --help`.
# With TRAIN the model is compiled with --train, so NAME.h also declares
# NAME_train_step and NAME_evaluate (and the inline data, if the model has some).
#
# The generated files go to ${CMAKE_CURRENT_BINARY_DIR}/target_nn2c/. Their names
# depend on NAME, which CMake must know when it configures, so NAME is not read
# from the model's `model` line: it defaults to MODEL's file name without its
# extension and is passed to nn2c as --name. It must be a C identifier, since it
# prefixes every public symbol (NAME_forward, NAME_Model, ...).
#
# Speed: NAME.c gets the flags of the emitted Makefile, as PRIVATE compile
# options (gcc, clang and compilers that take their flags; others get none):
#   -O3 whatever the build type, -ffp-contract=fast -fno-math-errno, and
#   -march=ARCH. ARCH picks the instruction set, and with it the vector kernels
#   compiled in (NAME_isa() names them): `native` (the default) is the building
#   machine's; a portable baseline such as `x86-64-v3` (AVX2 + FMA: "avx2") or
#   `x86-64-v2` (SSE4.2: "sse2") for binaries that ship to other machines; any
#   other -march value; or NONE for no -march (the compiler's default target).
#   Without ARCH the variable NN2C_ARCH, if set (e.g. -DNN2C_ARCH=x86-64-v3 on
#   the cmake command line), gives it, else `native` (NONE when cross-compiling).
#   Where -march=native is refused (some ARM compilers) -mcpu=native is used.
# OpenMP: when find_package(OpenMP) finds it for C, NAME.c is compiled with it
# and target links OpenMP::OpenMP_C, so NAME_set_threads (the trainer's
# --threads) runs the loops on several threads. NO_OPENMP leaves it out.
#
# ONNX models (MODEL ends in .onnx; needs an nn2c built with ONNX):
#   DIM NAME=VALUE...      fix symbolic dimensions (nn2c --dim, once each).
#   WEIGHTS_THRESHOLD N    imported weights of at least N floats go to NAME.weights
#                          (--weights-threshold; default 1 Mi floats, 0: always).
#   With TRAIN: LOSS (required), OPTIMIZER, LR, BATCH, EMA, DATASET - nn2c's
#   --loss --optimizer --lr --batch --ema --dataset (a .nn model has a train
#   section instead).
# NAME.weights: nn2c writes it next to NAME.c when an imported model's weights
# are large. The trainer's default (--weights) is NAME.weights next to its own
# program, so after each link of target_train the file is copied there.
# Programs of your own load it with NAME_load_weights(params, path): for an
# .onnx MODEL, target defines NAME_WEIGHTS_PATH (PUBLIC) as the absolute path of
# the generated file, and its property NN2C_WEIGHTS_FILE holds the same path
# (for install(FILES ... OPTIONAL) next to an installed program).
#
# Like protobuf_generate, the rule reruns when the model file or nn2c changes.
# Needs nn2c::nn2c (and for TRAIN nn2c::runtime), which find_package(nn2c) defines.
include(CheckCCompilerFlag)
set(_nn2c_add_model_file "${CMAKE_CURRENT_LIST_FILE}")

# Script mode, after a link of target_train:
#   cmake -DSRC=DIR/NAME.weights -DDST=BINDIR/NAME.weights -P nn2c-add-model.cmake
# copies SRC to DST when nn2c wrote SRC, and removes a stale DST when it did not.
if(CMAKE_SCRIPT_MODE_FILE AND CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(EXISTS "${SRC}")
    if(NOT SRC STREQUAL DST)
      configure_file("${SRC}" "${DST}" COPYONLY) # rewrites DST only when it differs
    endif()
  elseif(EXISTS "${DST}")
    file(REMOVE "${DST}")
  endif()
  return()
endif()

# _nn2c_model_flags(TARGET ARCH NO_OPENMP): the compile options and OpenMP above.
function(_nn2c_model_flags target arch no_openmp)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang|IntelLLVM")
    # As the emitted Makefile does: fused multiply-adds, and math calls without
    # errno so the loops around sqrtf/expf vectorize.
    set(opts -O3 -ffp-contract=fast -fno-math-errno)
    if(NOT arch STREQUAL "NONE")
      string(MAKE_C_IDENTIFIER "NN2C_CC_MARCH_${arch}" var)
      check_c_compiler_flag("-march=${arch}" ${var})
      if(${var})
        list(APPEND opts "-march=${arch}")
      elseif(arch STREQUAL "native")
        check_c_compiler_flag("-mcpu=native" NN2C_CC_MCPU_native)
        if(NN2C_CC_MCPU_native)
          list(APPEND opts "-mcpu=native")
        else()
          message(WARNING "nn2c_add_model(${target}): ${CMAKE_C_COMPILER} takes neither -march=native "
                          "nor -mcpu=native; the model is built for the compiler's default target")
        endif()
      else()
        message(FATAL_ERROR "nn2c_add_model(${target}): ${CMAKE_C_COMPILER} does not take -march=${arch}; "
                            "pass another ARCH, or ARCH NONE")
      endif()
    endif()
    target_compile_options(${target} PRIVATE ${opts})
  endif()
  if(NOT no_openmp)
    find_package(OpenMP COMPONENTS C QUIET)
    if(OpenMP_C_FOUND)
      # PRIVATE: -fopenmp for NAME.c; programs linking target still link the
      # OpenMP runtime (a static library passes its link dependencies on).
      target_link_libraries(${target} PRIVATE OpenMP::OpenMP_C)
    else()
      message(STATUS "nn2c_add_model(${target}): no OpenMP for C; the model runs on one thread")
    endif()
  endif()
endfunction()

function(nn2c_add_model)
  cmake_parse_arguments(PARSE_ARGV 0 arg "TRAIN;NO_OPENMP"
                        "TARGET;MODEL;NAME;ARCH;WEIGHTS_THRESHOLD;LOSS;OPTIMIZER;LR;BATCH;EMA;DATASET" "DIM")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "nn2c_add_model: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_TARGET OR NOT arg_MODEL)
    message(FATAL_ERROR "nn2c_add_model: TARGET and MODEL are required")
  endif()
  if(NOT TARGET nn2c::nn2c)
    message(FATAL_ERROR "nn2c_add_model: no nn2c::nn2c target; call find_package(nn2c) first")
  endif()

  get_filename_component(model "${arg_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "nn2c_add_model: model file ${model} does not exist")
  endif()
  set(name "${arg_NAME}")
  if(NOT name)
    get_filename_component(name "${model}" NAME_WLE)
  endif()
  if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "nn2c_add_model: model name '${name}' is not a C identifier; pass NAME")
  endif()
  set(arch "${arg_ARCH}")
  if(NOT arch)
    if(DEFINED NN2C_ARCH AND NOT NN2C_ARCH STREQUAL "")
      set(arch "${NN2C_ARCH}")
    elseif(CMAKE_CROSSCOMPILING)
      set(arch NONE)
    else()
      set(arch native)
    endif()
  endif()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${arg_TARGET}_nn2c")
  set(outputs "${dir}/${name}.c" "${dir}/${name}.h")
  set(flags --name "${name}")
  if(arg_TRAIN)
    list(APPEND outputs "${dir}/${name}_train.c" "${dir}/nn2c_rt.h")
    foreach(f nn2c_rt nn2c_rng nn2c_images nn2c_ckpt nn2c_train nn2c_data nn2c_text nn2c_audio)
      list(APPEND outputs "${dir}/${f}.c")
    endforeach()
    list(APPEND flags --train)
  endif()

  # The options nn2c takes for imported models only.
  set(onnx_opts "")
  if(model MATCHES "\\.onnx$")
    set(onnx ON)
  else()
    set(onnx OFF)
  endif()
  foreach(d IN LISTS arg_DIM)
    if(NOT d MATCHES "^[^=]+=[0-9]+$")
      message(FATAL_ERROR "nn2c_add_model(${arg_TARGET}): DIM takes NAME=VALUE entries, got '${d}'")
    endif()
    list(APPEND onnx_opts DIM)
    list(APPEND flags --dim "${d}")
  endforeach()
  if(DEFINED arg_WEIGHTS_THRESHOLD)
    list(APPEND onnx_opts WEIGHTS_THRESHOLD)
    list(APPEND flags --weights-threshold "${arg_WEIGHTS_THRESHOLD}")
  endif()
  set(train_opts "")
  foreach(opt LOSS OPTIMIZER LR BATCH EMA DATASET)
    if(DEFINED arg_${opt})
      list(APPEND onnx_opts ${opt})
      list(APPEND train_opts ${opt})
      string(TOLOWER "${opt}" flag)
      list(APPEND flags "--${flag}" "${arg_${opt}}")
    endif()
  endforeach()
  if(onnx_opts AND NOT onnx)
    list(REMOVE_DUPLICATES onnx_opts)
    message(FATAL_ERROR "nn2c_add_model(${arg_TARGET}): option(s) ${onnx_opts} are for .onnx models only "
                        "(a .nn model has its sizes and its train section in the file)")
  endif()
  if(train_opts AND NOT arg_TRAIN)
    message(FATAL_ERROR "nn2c_add_model(${arg_TARGET}): option(s) ${train_opts} go with TRAIN")
  endif()
  if(onnx AND arg_TRAIN AND NOT DEFINED arg_LOSS)
    message(FATAL_ERROR "nn2c_add_model(${arg_TARGET}): TRAIN on an .onnx model needs LOSS "
                        "(mse, binary_crossentropy, categorical_crossentropy or sparse_categorical_crossentropy)")
  endif()

  # nn2c names the model file in the generated banners: keep that path short
  # (relative to the source folder) when the model lives under it.
  file(RELATIVE_PATH rel "${CMAKE_CURRENT_SOURCE_DIR}" "${model}")
  if(rel MATCHES "^\\.\\./" OR IS_ABSOLUTE "${rel}")
    set(rel "${model}")
  endif()
  # NAME.weights is not an OUTPUT: whether nn2c writes it depends on the
  # model's size, and a declared output that is never written reruns the rule.
  add_custom_command(
    OUTPUT ${outputs}
    BYPRODUCTS "${dir}/Makefile"
    COMMAND "${CMAKE_COMMAND}" -E make_directory "${dir}"
    COMMAND nn2c::nn2c compile "${rel}" -o "${dir}" ${flags}
    WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
    DEPENDS "${model}" nn2c::nn2c
    COMMENT "nn2c: compiling ${arg_MODEL} into ${dir}"
    VERBATIM)

  add_library(${arg_TARGET} STATIC "${dir}/${name}.c" "${dir}/${name}.h")
  target_include_directories(${arg_TARGET} PUBLIC "${dir}")
  if(NOT MSVC)
    target_link_libraries(${arg_TARGET} PUBLIC m)
  endif()
  _nn2c_model_flags(${arg_TARGET} "${arch}" "${arg_NO_OPENMP}")
  set(weights "${dir}/${name}.weights")
  if(onnx)
    target_compile_definitions(${arg_TARGET} PUBLIC "${name}_WEIGHTS_PATH=\"${weights}\"")
    set_property(TARGET ${arg_TARGET} PROPERTY NN2C_WEIGHTS_FILE "${weights}")
  endif()

  if(arg_TRAIN)
    add_executable(${arg_TARGET}_train "${dir}/${name}_train.c")
    target_link_libraries(${arg_TARGET}_train PRIVATE ${arg_TARGET} nn2c::runtime)
    if(onnx)
      add_custom_command(TARGET ${arg_TARGET}_train POST_BUILD
        COMMAND "${CMAKE_COMMAND}" "-DSRC=${weights}" "-DDST=$<TARGET_FILE_DIR:${arg_TARGET}_train>/${name}.weights"
                -P "${_nn2c_add_model_file}"
        VERBATIM)
    endif()
  endif()
endfunction()
