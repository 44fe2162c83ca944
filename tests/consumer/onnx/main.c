/* main.c - the install test's ONNX leg: small_cnn compiled with its weights in
 * small_cnn.weights. Loads them through small_cnn_WEIGHTS_PATH (defined by
 * nn2c_add_model), runs one forward pass, prints the outputs and "PASS". */
#include <stdio.h>
#include <stdlib.h>

#include "small_cnn.h"

int main(void) {
  float *params = calloc(small_cnn_PARAM_FLOATS + 1, sizeof(float));
  float *state = calloc(small_cnn_STATE_FLOATS + 1, sizeof(float));
  float *x = calloc(small_cnn_IN_NUMEL, sizeof(float)), *y = calloc(small_cnn_OUT_NUMEL, sizeof(float));
  small_cnn_Model m = {params, state, aligned_alloc(64, (small_cnn_arena_bytes(1) + 63) / 64 * 64), 1, 0, 0, 1};
  if (!params || !state || !x || !y || !m.arena) return 1;
  small_cnn_init(params, 1);
  if (small_cnn_load_weights(params, small_cnn_WEIGHTS_PATH)) return 1;
  for (int i = 0; i < small_cnn_IN_NUMEL; i++)
    x[i] = (float)(i % 7) / 7.0f;
  if (small_cnn_forward(&m, x, y, 1)) return 1;
  printf("weights %s\noutputs", small_cnn_WEIGHTS_PATH);
  for (int i = 0; i < small_cnn_OUT_NUMEL; i++)
    printf(" %.6f", y[i]);
  printf("\nisa %s\nPASS\n", small_cnn_isa());
  free(params);
  free(state);
  free(x);
  free(y);
  free(m.arena);
  return 0;
}
