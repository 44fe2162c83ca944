# nn2c_add_model(TARGET target MODEL file.nn [TRAIN] [NAME name])
#
# Compiles a model with nn2c at build time and makes targets from the result:
#   target        static library from NAME.c, with NAME.h's folder as a PUBLIC
#                 include directory, linked to libm.
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
# Like protobuf_generate, the rule reruns when the model file or nn2c changes.
# Needs nn2c::nn2c (and for TRAIN nn2c::runtime), which find_package(nn2c) defines.
function(nn2c_add_model)
  cmake_parse_arguments(PARSE_ARGV 0 arg "TRAIN" "TARGET;MODEL;NAME" "")
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

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${arg_TARGET}_nn2c")
  set(outputs "${dir}/${name}.c" "${dir}/${name}.h")
  set(flags --name "${name}")
  if(arg_TRAIN)
    list(APPEND outputs "${dir}/${name}_train.c" "${dir}/nn2c_rt.h" "${dir}/nn2c_rt.c" "${dir}/nn2c_train.c"
         "${dir}/nn2c_data.c" "${dir}/nn2c_text.c" "${dir}/nn2c_audio.c")
    list(APPEND flags --train)
  endif()
  # nn2c names the model file in the generated banners: keep that path short
  # (relative to the source folder) when the model lives under it.
  file(RELATIVE_PATH rel "${CMAKE_CURRENT_SOURCE_DIR}" "${model}")
  if(rel MATCHES "^\\.\\./" OR IS_ABSOLUTE "${rel}")
    set(rel "${model}")
  endif()
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
  # As the emitted Makefile does: fused multiply-adds, and math calls without
  # errno so the loops around sqrtf/expf vectorize.
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${arg_TARGET} PRIVATE -ffp-contract=fast -fno-math-errno)
  endif()

  if(arg_TRAIN)
    add_executable(${arg_TARGET}_train "${dir}/${name}_train.c")
    target_link_libraries(${arg_TARGET}_train PRIVATE ${arg_TARGET} nn2c::runtime)
  endif()
endfunction()
