/* fuzz_nn.c - libFuzzer target for the .nn front end and the passes behind
 * it: any text must compile (inference and, with a train section, training
 * graphs) or give errors, never a crash, hang or leak. Built with
 * -DNN2C_FUZZ=ON under clang, with the dictionary fuzz_nn.dict; seeds in
 * corpus/fuzz_nn/, reproducers of crashes it found in crashes/fuzz_nn/ (and,
 * once fixed, as error cases in tests/errors/). See docs/testing.md. */
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
