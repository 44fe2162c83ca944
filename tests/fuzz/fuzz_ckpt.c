/* fuzz_ckpt.c - libFuzzer target for checkpoint loading (nn2c_ckpt_load):
 * any file must load into the caller's sections or be refused with a
 * message, never read or write out of bounds. The sections are a trainer's
 * (params, state, step) for a model of 6 params and 6 state floats, so the
 * seeds (tests/fuzz/corpus/fuzz_ckpt/) are that model's real checkpoints. */
#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  float params[6], state[6], step[4];
  nn2c_ckpt_section s[3] = {{"params", params, 6}, {"state", state, 6}, {"step", step, 4}};
  char err[512];
  const char *path = fuzz_file("model.ckpt", data, size);
  if (nn2c_ckpt_load(path, s, 3, err, sizeof err) == 0) nn2c_floats_to_u64(step);
  return 0;
}
