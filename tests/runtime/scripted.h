/* scripted.h - hand-written stand-in for a compiled model whose evaluation
 * results follow a script, for the callback tests (a crafted run): evaluate
 * after i steps (i >= 1; one step an epoch) reports the i-th loss of
 * $SCRIPTED_LOSSES and the i-th accuracy of $SCRIPTED_ACCURACIES
 * (comma-separated; the last value repeats; defaults 1 and 0.5), so a resumed
 * run goes on with the script. train_step adds 1 to the one parameter (so a
 * checkpoint tells at which step it was written) and reports the learning
 * rate it was given as its loss (so the metrics file shows the lr the model
 * trained with). 8 inline samples of 2 values, class 0 each; batch 8. */
#ifndef SCRIPTED_H
#define SCRIPTED_H
#include "model_abi.h"

#define scripted_PARAM_FLOATS 1
#define scripted_STATE_FLOATS 0
#define scripted_IN_NUMEL 2
#define scripted_OUT_NUMEL 2
#define scripted_LABEL_NUMEL 1
#define scripted_LABEL_IS_INT 1
#define scripted_DEFAULT_BATCH 8
#define scripted_DEFAULT_EPOCHS 10
#define scripted_DEFAULT_LR 1.0f
#define scripted_DEFAULT_SEED 1
#define scripted_DATASET "inline"
#define scripted_DATASET_INLINE 1

MODEL_ABI(scripted);
MODEL_ABI_INLINE(scripted);
#endif
