/* fuzz_ckpt.c - libFuzzer target for checkpoint loading (nn2c_ckpt_load_opt):
 * any file must load into the caller's sections or be refused with a
 * message, never read or write out of bounds. The sections are a trainer's
 * (params, state, step, and the optional trainer state) for a model of 6
 * params and 6 state floats, so the seeds (tests/fuzz/corpus/fuzz_ckpt/) are
 * that model's real checkpoints; then again with the trainer state skipped
 * whatever its size (NN2C_CKPT_ANY_COUNT), as `nn2c export` reads them. */
#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  float params[6], state[6], step[4], trainer[NN2C_TRAINER_FLOATS];
  nn2c_ckpt_section s[4] = {
      {"params", params, 6}, {"state", state, 6}, {"step", step, 4}, {"trainer", trainer, NN2C_TRAINER_FLOATS}};
  char err[512];
  int found;
  const char *path = fuzz_file("model.ckpt", data, size);
  if (nn2c_ckpt_load_opt(path, s, 4, 3, &found, err, sizeof err) == 0) nn2c_floats_to_u64(step);
  s[3].data = NULL, s[3].count = NN2C_CKPT_ANY_COUNT;
  if (nn2c_ckpt_load_opt(path, s, 4, 3, &found, err, sizeof err) == 0) nn2c_floats_to_u64(step);
  return 0;
}
