/* or1.h - hand-written test model: logistic regression (one sigmoid output,
 * float labels, binary cross-entropy) on the 4 inline points of OR. */
#ifndef OR1_H
#define OR1_H
#include <stddef.h>
#include <stdint.h>

typedef struct or1_Model {
  float *params;
  float *state;
  unsigned char *arena;
  int max_batch;
  float lr;
  uint64_t step;
} or1_Model;

#define or1_PARAM_FLOATS 3
#define or1_STATE_FLOATS 0
#define or1_IN_NUMEL 2
#define or1_OUT_NUMEL 1
#define or1_LABEL_NUMEL 1
#define or1_LABEL_IS_INT 0
#define or1_DEFAULT_BATCH 4
#define or1_DEFAULT_EPOCHS 300
#define or1_DEFAULT_LR 1.0f
#define or1_DEFAULT_SEED 3
#define or1_DATASET "inline"
#define or1_DATASET_INLINE 1

size_t or1_arena_bytes(int batch);
void or1_init_state(float *state); /* zeros: this model's state starts at 0 */
void or1_init(float *params, uint64_t seed);
int or1_forward(or1_Model *m, const float *x, float *out, int batch);
int or1_train_step(or1_Model *m, const float *x, const void *y, int batch, float *loss, float *out);
int or1_evaluate(or1_Model *m, const float *x, const void *y, int batch, float *loss, float *out);
extern const int or1_INLINE_N;
extern const float or1_INLINE_X[];
extern const float or1_INLINE_YF[];
extern const int32_t or1_INLINE_YI[];
#endif
