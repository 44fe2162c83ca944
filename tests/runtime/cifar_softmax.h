/* cifar_softmax.h - hand-written stand-in for a compiled model: softmax
 * regression on CIFAR-10 (3072 inputs in NHWC order), plain SGD, no optimizer
 * state. It announces threads like a model compiled with them, so the trainer
 * template wires up cifar_softmax_set_threads, which reports the count it was
 * given. Tests the trainer's CIFAR-10 loading and --threads. */
#ifndef CIFAR_SOFTMAX_H
#define CIFAR_SOFTMAX_H
#include "model_abi.h"

#define cifar_softmax_PARAM_FLOATS 30730
#define cifar_softmax_STATE_FLOATS 0
#define cifar_softmax_IN_NUMEL 3072
#define cifar_softmax_OUT_NUMEL 10
#define cifar_softmax_LABEL_NUMEL 1
#define cifar_softmax_LABEL_IS_INT 1
#define cifar_softmax_DEFAULT_BATCH 50
#define cifar_softmax_DEFAULT_EPOCHS 1
#define cifar_softmax_DEFAULT_LR 0.01f
#define cifar_softmax_DEFAULT_SEED 42
#define cifar_softmax_DATASET "cifar10"
#define cifar_softmax_HAS_THREADS 1

MODEL_ABI(cifar_softmax);
void cifar_softmax_set_threads(cifar_softmax_Model *m, int threads);
#endif
