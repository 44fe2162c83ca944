/* mnlin.h - hand-written test model: softmax regression on MNIST, plain SGD
 * (no optimizer state). */
#ifndef MNLIN_H
#define MNLIN_H
#include <stddef.h>
#include <stdint.h>

typedef struct mnlin_Model {
  float *params;
  float *state;
  unsigned char *arena;
  int max_batch;
  float lr;
  uint64_t step;
} mnlin_Model;

#define mnlin_PARAM_FLOATS 7850
#define mnlin_STATE_FLOATS 0
#define mnlin_IN_NUMEL 784
#define mnlin_OUT_NUMEL 10
#define mnlin_LABEL_NUMEL 1
#define mnlin_LABEL_IS_INT 1
#define mnlin_DEFAULT_BATCH 100
#define mnlin_DEFAULT_EPOCHS 1
#define mnlin_DEFAULT_LR 0.5f
#define mnlin_DEFAULT_SEED 42
#define mnlin_DATASET "mnist"

size_t mnlin_arena_bytes(int batch);
void mnlin_init_state(float *state); /* zeros: this model's state starts at 0 */
void mnlin_init(float *params, uint64_t seed);
int mnlin_forward(mnlin_Model *m, const float *x, float *out, int batch);
int mnlin_train_step(mnlin_Model *m, const float *x, const void *y, int batch, float *loss,
                     float *out);
int mnlin_evaluate(mnlin_Model *m, const float *x, const void *y, int batch, float *loss,
                   float *out);
#endif
