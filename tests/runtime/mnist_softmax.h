/* mnist_softmax.h - hand-written stand-in for a compiled model: softmax
 * regression on MNIST (784 inputs), plain SGD, no optimizer state. Tests the
 * trainer's MNIST loading. */
#ifndef MNIST_SOFTMAX_H
#define MNIST_SOFTMAX_H
#include "model_abi.h"

#define mnist_softmax_PARAM_FLOATS 7850
#define mnist_softmax_STATE_FLOATS 0
#define mnist_softmax_IN_NUMEL 784
#define mnist_softmax_OUT_NUMEL 10
#define mnist_softmax_LABEL_NUMEL 1
#define mnist_softmax_LABEL_IS_INT 1
#define mnist_softmax_DEFAULT_BATCH 100
#define mnist_softmax_DEFAULT_EPOCHS 1
#define mnist_softmax_DEFAULT_LR 0.5f
#define mnist_softmax_DEFAULT_SEED 42
#define mnist_softmax_DATASET "mnist"

MODEL_ABI(mnist_softmax);
#endif
