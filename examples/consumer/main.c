/* main.c - use a model compiled by nn2c from a program of your own.
 *
 * nn2c_add_model() in CMakeLists.txt turned model.nn into xor_mlp.h/xor_mlp.c.
 * This program owns every buffer the model uses (xor_mlp.h says which), runs
 * the untrained network, trains it for a few hundred Adam steps on the four
 * XOR points that model.nn carries inline, and runs it again. It prints
 * "PASS" and exits 0 when the loss went down and the outputs match XOR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xor_mlp.h"

#define STEPS 500

/* round n up to a multiple of 64, as aligned_alloc wants */
static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

static void print_outputs(const char *when, const float *out, int n) {
  printf("%s:", when);
  for (int i = 0; i < n; i++)
    printf(" %.4f", out[i]);
  printf("\n");
}

int main(void) {
  const int batch = xor_mlp_INLINE_N; /* 4 points, one batch */
  const float *x = xor_mlp_INLINE_X, *y = xor_mlp_INLINE_YF;

  /* 1. The buffers: parameters, optimizer state (zeroed), and the arena. */
  float *params = malloc(sizeof(float) * xor_mlp_PARAM_FLOATS);
  float *state = calloc(xor_mlp_STATE_FLOATS + 1, sizeof(float)); /* +1: never calloc(0) */
  unsigned char *arena = aligned_alloc(64, round64(xor_mlp_arena_bytes(batch)));
  float out[4 * xor_mlp_OUT_NUMEL];
  if (!params || !state || !arena) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  xor_mlp_Model m = {params, state, arena, batch, xor_mlp_DEFAULT_LR, 0, 1}; /* step 0, 1 thread */
  xor_mlp_init(params, xor_mlp_DEFAULT_SEED);
  printf("xor_mlp: %d params, %d state floats, arena %zu bytes at batch %d\n", xor_mlp_PARAM_FLOATS,
         xor_mlp_STATE_FLOATS, xor_mlp_arena_bytes(batch), batch);
  /* the vector kernels nn2c_add_model's ARCH compiled in: avx512, avx2, sse2, neon or portable */
  printf("xor_mlp: isa %s\n", xor_mlp_isa());

  /* 2. Inference before training. */
  if (xor_mlp_forward(&m, x, out, batch) != 0) return 1;
  print_outputs("before", out, batch);

  /* 3. Training: each call is one optimizer step on the batch. */
  float first = 0, loss = 0;
  for (int s = 0; s < STEPS; s++) {
    if (xor_mlp_train_step(&m, x, y, batch, &loss, NULL) != 0) return 1;
    if (s == 0) first = loss;
  }
  printf("loss %.6f -> %.6f after %llu steps\n", first, loss, (unsigned long long)m.step);

  /* 4. Inference after training: every output on the right side of 0.5. */
  if (xor_mlp_forward(&m, x, out, batch) != 0) return 1;
  print_outputs("after", out, batch);
  int ok = loss < first;
  for (int i = 0; i < batch; i++)
    ok &= (out[i] > 0.5f) == (y[i] > 0.5f);

  free(params);
  free(state);
  free(arena);
  printf("%s\n", ok ? "PASS: loss decreased and the outputs match XOR" : "FAIL");
  return ok ? 0 : 1;
}
