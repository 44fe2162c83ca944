/* fuzz_nn.c - libFuzzer target for the .nn front end and the passes behind
 * it: any text must compile (inference and, with a train section, training
 * graphs) or give errors, never a crash, hang or leak. Build with
 * -DNN2C_FUZZ=ON and clang; run
 *   ./fuzz_nn -close_fd_mask=2 -dict=tests/unit/nn.dict CORPUS_DIR examples tests/e2e/models
 * (the error messages are expected, so stderr is closed). Inputs it found
 * crashing are kept in tests/errors/fuzz/ and replayed by errors.fuzz_replay. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  Model *m = model_load_text("fuzz.nn", text);
  if (m) {
    PassCtx cx = {0};
    graph_free(model_compile(m, MODE_INFER, NULL, &cx));
    if (m->train.present) {
      PassCtx tx = {0};
      graph_free(model_compile(m, MODE_TRAIN, NULL, &tx));
    }
  }
  model_free(m);
  free(text);
  return 0;
}
