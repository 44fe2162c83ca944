/* pass.h - passes over the IR: one file and one entry point each. */
#ifndef NN2C_PASS_H
#define NN2C_PASS_H

#include "../ops/op.h"

typedef enum { OPT_SGD, OPT_ADAM } OptKind;

/* Optimizer configuration, lowered to IR by pass_optimizer. */
typedef struct {
  OptKind kind;
  double lr;                    /* default learning rate (the step reads the `lr` input) */
  double momentum;              /* sgd */
  bool nesterov;                /* sgd */
  double beta1, beta2, epsilon; /* adam (Keras semantics: epsilon added to sqrt(v)) */
  double weight_decay;          /* L2: weight_decay * w added to each gradient */
  double ema;                   /* momentum of the parameters' moving average, 0 = none */
} OptSpec;

typedef struct {
  Arena scratch;          /* reset by the runner after each pass */
  const OptSpec *opt;     /* for pass_optimizer */
  bool verify;            /* run ir_verify after every pass */
  const char *dump_after; /* print the IR after this pass (or "all") */
  Buf *dump;              /* where dumps go */
  int64_t batch;          /* > 0: the batch is fixed; pass_shape turns every N into it */
  /* Filled by pass_memplan. */
  int64_t arena_fixed;      /* bytes independent of the batch */
  int64_t arena_per_sample; /* bytes per sample of the batch */
  int64_t tensors_fixed;    /* sum of planned tensor sizes without sharing */
  int64_t tensors_per_sample;
} PassCtx;

typedef bool (*PassFn)(Graph *g, PassCtx *cx);

bool pass_shape(Graph *g, PassCtx *cx);
bool pass_autodiff(Graph *g, PassCtx *cx);
bool pass_optimizer(Graph *g, PassCtx *cx);
bool pass_simplify(Graph *g, PassCtx *cx);
bool pass_dce(Graph *g, PassCtx *cx);
bool pass_constfold(Graph *g, PassCtx *cx);
/* Folds a node whose inputs are all constants (the ONNX importer folds as it
 * goes); leaves other nodes alone. False when the kernel rejects the data. */
bool constfold_node(Graph *g, Node *n);
bool pass_fuse(Graph *g, PassCtx *cx);
bool pass_layout(Graph *g, PassCtx *cx);
bool pass_schedule(Graph *g, PassCtx *cx);
bool pass_memplan(Graph *g, PassCtx *cx);
bool pass_gradinputs(Graph *g, PassCtx *cx);
bool pass_qdq_fold(Graph *g, PassCtx *cx); /* QDQ layers to int8 kernels (docs/int8.md) */

/* The default pipelines, as --passes strings. layout runs before autodiff
 * (the gradient graph then follows the forward graph's layout) and before
 * simplify and constfold (which merge and fold the reshapes and transposes
 * of constants it leaves). */
#define PIPELINE_INFER "shape,layout,qdq_fold,simplify,constfold,dce,fuse,schedule,memplan"
#define PIPELINE_TRAIN "shape,layout,simplify,autodiff,optimizer,simplify,constfold,dce,fuse,schedule,memplan"

/* The two halves of a split train step (nn2c compile --mpi): gradients, then the
 * optimizer reading summed gradients as inputs (see gradinputs.c). */
#define PIPELINE_GRADS "shape,layout,simplify,autodiff,simplify,constfold,dce,fuse,schedule,memplan"
#define PIPELINE_APPLY                                                                                                 \
  "shape,layout,simplify,autodiff,gradinputs,optimizer,simplify,constfold,dce,fuse,schedule,memplan"

PassFn pass_lookup(const char *name);
/* Runs a comma-separated list of pass names; false after the first failure. */
bool pass_run_pipeline(Graph *g, PassCtx *cx, const char *pipeline);

/* With opt->ema, the state offset (in floats) of the parameters' moving
 * average: the state block ends with a mirror of the param block, so the
 * trainer can swap the two for evaluation. -1 without an average. */
int64_t optimizer_ema_offset(Graph *g, const OptSpec *opt);

/* Names of the step inputs the optimizer adds (learning rate, 1-based step). */
#define INPUT_LR "lr"
#define INPUT_STEP "step"

#endif
