# The generated trainer's guards against bad data files, flags and --save
# targets (issue 16), on a trainer built by nn2c from guard_mnist.nn with the
# emitted Makefile. Included from CMakeLists.txt.
set(rt_guards ${CMAKE_CURRENT_SOURCE_DIR}/trainer_guards.sh)
add_test(NAME runtime_guards_build
         COMMAND sh ${rt_guards} $<TARGET_FILE:nn2c> ${CMAKE_CURRENT_SOURCE_DIR} ${rt_work}/guards build)
set_tests_properties(runtime_guards_build PROPERTIES FIXTURES_SETUP rt_guards LABELS "${rt_labels}")
foreach(case idx_32x32 idx_run idx_7x7 ckpt_tmp save_special lr_nonfinite lr_underflow save_says batch_huge)
  add_test(NAME runtime_guard_${case}
           COMMAND sh ${rt_guards} $<TARGET_FILE:nn2c> ${CMAKE_CURRENT_SOURCE_DIR} ${rt_work}/guards ${case})
  set_tests_properties(runtime_guard_${case} PROPERTIES FIXTURES_REQUIRED rt_guards LABELS "${rt_labels}")
endforeach()
