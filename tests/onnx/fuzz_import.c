/* fuzz_import.c - libFuzzer target for the ONNX importer: any byte string
 * must give a graph or an error, never a crash, hang or leak. Build with
 * -DNN2C_FUZZ=ON and clang; run ./fuzz_onnx_import -close_fd_mask=2 CORPUS_DIR
 * (the importer's error messages are expected, so its stderr is closed). Inputs it
 * found crashing are kept in tests/onnx/bad/ and replayed by bad_inputs.sh. */
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
