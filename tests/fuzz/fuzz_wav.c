/* fuzz_wav.c - libFuzzer target for the WAV reader (nn2c_wav_load): any file
 * must give 16-bit PCM mono samples or be refused with a message. */
#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("clip.wav", data, size);
  float *x = NULL;
  int n = 0, rate = 0;
  char err[512];
  if (nn2c_wav_load(path, &x, &n, &rate, err, sizeof err) == 0) {
    for (int i = 0; i < n; i++) /* every sample readable, and v / 32768 */
      if (!(x[i] >= -1.0f && x[i] < 1.0f)) abort();
    free(x);
  }
  return 0;
}
