/* cflin.h - hand-written test model: softmax regression on CIFAR-10 (3072
 * inputs in NHWC order), plain SGD, no optimizer state. It announces threads
 * like a model compiled with them, so the trainer template wires up
 * cflin_set_threads, which reports the count it was given. */
#ifndef CFLIN_H
#define CFLIN_H
#include <stddef.h>
#include <stdint.h>

typedef struct cflin_Model {
  float *params;
  float *state;
  unsigned char *arena;
  int max_batch;
  float lr;
  uint64_t step;
} cflin_Model;

#define cflin_PARAM_FLOATS 30730
#define cflin_STATE_FLOATS 0
#define cflin_IN_NUMEL 3072
#define cflin_OUT_NUMEL 10
#define cflin_LABEL_NUMEL 1
#define cflin_LABEL_IS_INT 1
#define cflin_DEFAULT_BATCH 50
#define cflin_DEFAULT_EPOCHS 1
#define cflin_DEFAULT_LR 0.01f
#define cflin_DEFAULT_SEED 42
#define cflin_DATASET "cifar10"
#define cflin_HAS_THREADS 1

size_t cflin_arena_bytes(int batch);
void cflin_init_state(float *state); /* zeros: this model's state starts at 0 */
void cflin_init(float *params, uint64_t seed);
void cflin_set_threads(cflin_Model *m, int threads);
int cflin_forward(cflin_Model *m, const float *x, float *out, int batch);
int cflin_train_step(cflin_Model *m, const float *x, const void *y, int batch, float *loss,
                     float *out);
int cflin_evaluate(cflin_Model *m, const float *x, const void *y, int batch, float *loss,
                   float *out);
#endif
