/* inline_logistic.h - hand-written stand-in for a compiled model: logistic
 * regression (one sigmoid output, float labels, binary cross-entropy, no
 * optimizer state) on the 4 built-in points of OR. Tests float labels and a
 * checkpoint of another model's size. */
#ifndef INLINE_LOGISTIC_H
#define INLINE_LOGISTIC_H
#include "model_abi.h"

#define inline_logistic_PARAM_FLOATS 3
#define inline_logistic_STATE_FLOATS 0
#define inline_logistic_IN_NUMEL 2
#define inline_logistic_OUT_NUMEL 1
#define inline_logistic_LABEL_NUMEL 1
#define inline_logistic_LABEL_IS_INT 0
#define inline_logistic_DEFAULT_BATCH 4
#define inline_logistic_DEFAULT_EPOCHS 300
#define inline_logistic_DEFAULT_LR 1.0f
#define inline_logistic_DEFAULT_SEED 3
#define inline_logistic_DATASET "inline"
#define inline_logistic_DATASET_INLINE 1

MODEL_ABI(inline_logistic);
MODEL_ABI_INLINE(inline_logistic);
#endif
