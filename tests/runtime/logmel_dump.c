/* logmel_dump WAV [OPTIONS] - prints the log-mel features nn2c computes for
 * one clip (speech_commands options, e.g. "n_mels=40 hop=160"), one mel band
 * per line, for tests/runtime/logmel_ref.py to compare with numpy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn2c_rt.h"

int main(int argc, char **argv) {
  char err[1024];
  nn2c_data_spec s;
  float *x, *pcm, *out;
  int n, rate, m, t;
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: logmel_dump WAV [OPTIONS]\n");
    return 2;
  }
  if (nn2c_data_spec_parse("speech_commands", argc > 2 ? argv[2] : "", &s, err, sizeof err) ||
      nn2c_wav_load(argv[1], &x, &n, &rate, err, sizeof err)) {
    fprintf(stderr, "logmel_dump: %s\n", err);
    return 1;
  }
  pcm = calloc(16000, sizeof(float));
  out = malloc(sizeof(float) * (size_t)s.mel.n_mels * (size_t)s.mel.frames);
  if (!pcm || !out) return 1;
  memcpy(pcm, x, sizeof(float) * (size_t)(n < 16000 ? n : 16000));
  if (nn2c_logmel(pcm, 16000, &s.mel, out, err, sizeof err)) {
    fprintf(stderr, "logmel_dump: %s\n", err);
    return 1;
  }
  for (m = 0; m < s.mel.n_mels; m++)
    for (t = 0; t < s.mel.frames; t++)
      printf("%.9g%c", out[m * s.mel.frames + t], t + 1 < s.mel.frames ? ' ' : '\n');
  free(x);
  free(pcm);
  free(out);
  return 0;
}
