/* lin2.h - hand-written test model: 2-class softmax regression on 8 inline
 * 2-D points, SGD with momentum (so it has optimizer state). */
#ifndef LIN2_H
#define LIN2_H
#include <stddef.h>
#include <stdint.h>

typedef struct lin2_Model {
  float *params;
  float *state;
  unsigned char *arena;
  int max_batch;
  float lr;
  uint64_t step;
} lin2_Model;

#define lin2_PARAM_FLOATS 6
#define lin2_STATE_FLOATS 6
#define lin2_IN_NUMEL 2
#define lin2_OUT_NUMEL 2
#define lin2_LABEL_NUMEL 1
#define lin2_LABEL_IS_INT 1
#define lin2_DEFAULT_BATCH 4
#define lin2_DEFAULT_EPOCHS 30
#define lin2_DEFAULT_LR 0.5f
#define lin2_DEFAULT_SEED 1
#define lin2_DATASET "inline"
#define lin2_DATASET_INLINE 1

size_t lin2_arena_bytes(int batch);
void lin2_init_state(float *state); /* zeros: this model's state starts at 0 */
void lin2_init(float *params, uint64_t seed);
int lin2_forward(lin2_Model *m, const float *x, float *out, int batch);
int lin2_train_step(lin2_Model *m, const float *x, const void *y, int batch, float *loss,
                    float *out);
int lin2_evaluate(lin2_Model *m, const float *x, const void *y, int batch, float *loss, float *out);
extern const int lin2_INLINE_N;
extern const float lin2_INLINE_X[];
extern const float lin2_INLINE_YF[];
extern const int32_t lin2_INLINE_YI[];
#endif
