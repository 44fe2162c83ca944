/* fuzz_onnx.c - libFuzzer target for the ONNX importer: any byte string
 * must give a graph or an error, never a crash, hang or leak. Built with
 * -DNN2C_FUZZ=ON under clang; seeds in corpus/fuzz_onnx/ (small backend test
 * models), reproducers in crashes/fuzz_onnx/; inputs found earlier are also
 * kept in tests/onnx/bad/ and replayed by onnx.bad_inputs. See docs/testing.md. */
#include "onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  OnnxStatus st;
  Graph *g = onnx_import_buffer("fuzz.onnx", data, size, NULL, &st);
  if (g) {
    PassCtx cx = {0};
    pass_run_pipeline(g, &cx, PIPELINE_INFER);
  }
  graph_free(g);
  return 0;
}
