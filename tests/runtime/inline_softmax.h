/* inline_softmax.h - hand-written stand-in for a compiled model: 2-class
 * softmax regression on 8 built-in 2-D points, SGD with momentum (so it has
 * optimizer state to save and resume). The trainer tests' main model: flags,
 * progress lines, checkpoints; a learning rate >= 1000 makes train_step fail
 * with status 7, for the trainer's error path. */
#ifndef INLINE_SOFTMAX_H
#define INLINE_SOFTMAX_H
#include "model_abi.h"

#define inline_softmax_PARAM_FLOATS 6
#define inline_softmax_STATE_FLOATS 6
#define inline_softmax_IN_NUMEL 2
#define inline_softmax_OUT_NUMEL 2
#define inline_softmax_LABEL_NUMEL 1
#define inline_softmax_LABEL_IS_INT 1
#define inline_softmax_DEFAULT_BATCH 4
#define inline_softmax_DEFAULT_EPOCHS 30
#define inline_softmax_DEFAULT_LR 0.5f
#define inline_softmax_DEFAULT_SEED 1
#define inline_softmax_DATASET "inline"
#define inline_softmax_DATASET_INLINE 1

MODEL_ABI(inline_softmax);
MODEL_ABI_INLINE(inline_softmax);
#endif
