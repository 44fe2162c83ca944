# Install rules and the CMake package, so another project can write
#
#   find_package(nn2c REQUIRED)
#   nn2c_add_model(TARGET mymodel MODEL model.nn [TRAIN] [NAME name])
#
# `cmake --install build --prefix P` puts there:
#   bin/nn2c                                   the compiler (its rule is in compiler/)
#   lib/libnn2c_runtime.a, include/nn2c/nn2c_rt.h   the runtime trainers link against
#   lib/cmake/nn2c/                            nn2c-config.cmake, its version file, the exported
#                                              nn2c::runtime target and nn2c_add_model
# Everything is relative to the prefix, so the tree can be moved after installing.
include(CMakePackageConfigHelpers)

set(NN2C_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nn2c)

# 1. The runtime. Its include directory is the source folder while building; the
#    installed copy finds its header in include/nn2c. Rewrite the usage requirement
#    so each entry applies only in the build tree, and add the installed one.
get_target_property(_nn2c_rt_inc nn2c_runtime INTERFACE_INCLUDE_DIRECTORIES)
set(_nn2c_rt_inc_new "")
foreach(_dir IN LISTS _nn2c_rt_inc)
  if(_dir MATCHES "^\\$<")
    list(APPEND _nn2c_rt_inc_new "${_dir}")          # already a generator expression
  else()
    list(APPEND _nn2c_rt_inc_new "$<BUILD_INTERFACE:${_dir}>")
  endif()
endforeach()
list(APPEND _nn2c_rt_inc_new "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/nn2c>")
set_property(TARGET nn2c_runtime PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${_nn2c_rt_inc_new}")
set_property(TARGET nn2c_runtime PROPERTY EXPORT_NAME runtime)

install(TARGETS nn2c_runtime EXPORT nn2c-targets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/nn2c_rt.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nn2c)

# 2. The exported targets: nn2c::runtime here; nn2c::nn2c (the tool) is declared in
#    nn2c-config.cmake, since compiler/ installs the executable without an export set.
install(EXPORT nn2c-targets NAMESPACE nn2c:: FILE nn2c-targets.cmake DESTINATION ${NN2C_CMAKE_DIR})

# 3. The package: config (with the zlib dependency when the runtime uses it),
#    version file, and the nn2c_add_model function.
if(ZLIB_FOUND)
  set(NN2C_RUNTIME_ZLIB ON)
else()
  set(NN2C_RUNTIME_ZLIB OFF)
endif()
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/nn2c-config.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/nn2c-config.cmake
  INSTALL_DESTINATION ${NN2C_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_BINDIR)
# 0.x releases may break compatibility between minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/nn2c-config-version.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
          ${PROJECT_BINARY_DIR}/cmake/nn2c-config.cmake
          ${PROJECT_BINARY_DIR}/cmake/nn2c-config-version.cmake
          ${PROJECT_SOURCE_DIR}/cmake/nn2c-add-model.cmake
        DESTINATION ${NN2C_CMAKE_DIR})
