# ONNX front end: C code for onnx.proto is generated at build time by protoc-c
# from the system's schema (never copied into the repository).
#   NN2C_ONNX unset: ON when protoc-c, libprotobuf-c and onnx.proto are found.
#   NN2C_ONNX=ON:    configure fails, naming the Debian packages, if one is missing.
find_program(NN2C_PROTOC_C protoc-c)
find_path(NN2C_PROTOBUF_C_INCLUDE protobuf-c/protobuf-c.h)
find_library(NN2C_PROTOBUF_C_LIB protobuf-c)
find_file(NN2C_ONNX_PROTO onnx.proto PATHS /usr/include/onnx /usr/local/include/onnx
          /usr/lib/python3/dist-packages/onnx NO_DEFAULT_PATH)
set(_onnx_found OFF)
if(NN2C_PROTOC_C AND NN2C_PROTOBUF_C_INCLUDE AND NN2C_PROTOBUF_C_LIB AND NN2C_ONNX_PROTO)
  set(_onnx_found ON)
endif()
if(NOT DEFINED NN2C_ONNX)
  set(NN2C_ONNX ${_onnx_found} CACHE BOOL "Build the ONNX front end (needs protobuf-c and onnx.proto)")
endif()
if(NN2C_ONNX AND NOT _onnx_found)
  message(FATAL_ERROR "NN2C_ONNX=ON needs protoc-c, libprotobuf-c and onnx.proto "
          "(found: protoc-c='${NN2C_PROTOC_C}' lib='${NN2C_PROTOBUF_C_LIB}' schema='${NN2C_ONNX_PROTO}'). "
          "On Debian: apt-get install protobuf-c-compiler libprotobuf-c-dev libonnx-dev "
          "(or configure with -DNN2C_ONNX=OFF)")
endif()
message(STATUS "nn2c: ONNX front end ${NN2C_ONNX}")

# libFuzzer targets (tests/fuzz/): everything is built with coverage
# instrumentation and AddressSanitizer; needs clang.
option(NN2C_FUZZ "Build the libFuzzer targets in tests/fuzz (clang)" OFF)
if(NN2C_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address)
endif()
