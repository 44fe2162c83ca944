/* model_abi.h - the typed API of an emitted model (nn2c compile writes it to
 * NAME.h), for the hand-written stand-ins the runtime tests train through
 * templates/train_main.c.in. One macro per part, so the stand-ins cannot
 * drift from each other; keep it in step with the emitted NAME.h (the model
 * struct, the arena/init/step functions, the inline data set).
 *
 *   MODEL_ABI(M)          M_Model and the functions the trainer calls
 *   MODEL_ABI_INLINE(M)   the built-in data set (with M_DATASET_INLINE 1)
 *
 * Each stand-in's header defines its constants (M_PARAM_FLOATS, M_IN_NUMEL,
 * M_DEFAULT_LR, M_DATASET, ...) and expands these. Step functions return an
 * emitted model's status codes: 2 = batch out of range, 3 = misaligned arena. */
#ifndef MODEL_ABI_H
#define MODEL_ABI_H
#include <stddef.h>
#include <stdint.h>

#define MODEL_ABI(M)                                                                                                   \
  typedef struct M##_Model {                                                                                           \
    float *params;                                                                                                     \
    float *state;                                                                                                      \
    unsigned char *arena;                                                                                              \
    int max_batch;                                                                                                     \
    float lr;                                                                                                          \
    uint64_t step; /* train steps taken */                                                                             \
    int threads;                                                                                                       \
  } M##_Model;                                                                                                         \
  size_t M##_arena_bytes(int batch);                                                                                   \
  void M##_init_state(float *state);                                                                                   \
  void M##_init(float *params, uint64_t seed);                                                                         \
  int M##_forward(M##_Model *m, const float *x, float *out, int batch);                                                \
  int M##_train_step(M##_Model *m, const float *x, const void *y, int batch, float *loss, float *out);                 \
  int M##_evaluate(M##_Model *m, const float *x, const void *y, int batch, float *loss, float *out)

#define MODEL_ABI_INLINE(M)                                                                                            \
  extern const int M##_INLINE_N;                                                                                       \
  extern const float M##_INLINE_X[];                                                                                   \
  extern const float M##_INLINE_YF[];                                                                                  \
  extern const int32_t M##_INLINE_YI[]

#endif
