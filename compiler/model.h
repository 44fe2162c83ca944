/* model.h - a whole model: the graphs a .nn file (or an IR file) lowers to,
 * and its training configuration. */
#ifndef NN2C_MODEL_H
#define NN2C_MODEL_H

#include "parse.h"
#include "passes/pass.h"

typedef enum { LOSS_MSE, LOSS_BCE, LOSS_CCE, LOSS_SPARSE_CCE } LossKind;

typedef struct {
  bool present; /* the file has a train section */
  LossKind loss;
  bool sum; /* reduction=sum instead of mean */
  OptSpec opt;
  int batch, epochs;
  uint64_t seed;
  bool accuracy;                 /* metrics accuracy */
  const char *dataset;           /* "mnist", "inline", ... */
  const char *dataset_options;   /* "key=value ..." as written (nn2c_data_spec_parse reads it) */
  int dataset_line, dataset_col; /* where the dataset line is (0 when absent) */
  /* Callback lines (early_stop, monitor, lr_schedule, save_best) as trainer
   * flags, "--flag value" lines; NULL when none (nn2c_model_desc.train_flags). */
  const char *train_flags;
  int loss_line, loss_col; /* where the loss line is (0 when absent) */
} TrainSpec;

typedef enum { MODE_INFER, MODE_EVAL, MODE_TRAIN } GraphMode;

typedef struct Model {
  const char *name;
  ModelFile *file; /* parsed source (owns the Source for diagnostics) */
  Arena arena;     /* owns file and inline data */
  TrainSpec train;
  /* Inline data set from the data section: n samples. */
  int inline_n;
  float *inline_x;    /* [n][in_numel] */
  float *inline_yf;   /* [n][label_numel] float targets, or NULL */
  int32_t *inline_yi; /* [n] class labels, or NULL */
  /* Another front end (ONNX) builds the forward graph of each mode. */
  Graph *(*import)(const struct Model *m, GraphMode mode);
  const void *import_ctx; /* that front end's options */
  /* Glob patterns (--freeze) of params that do not train, applied by model_build. */
  const char *const *freeze;
  int nfreeze;
  bool freeze_reported; /* a glob matching nothing was reported (once, not per graph) */
} Model;

/* A model whose forward graph comes from another front end (no .nn text);
 * train.present stays false until the caller fills m->train. */
Model *model_new_imported(const char *path, const char *name, Graph *(*import)(const struct Model *, GraphMode),
                          const void *ctx);

/* Parses a model file; NULL after reporting errors. */
Model *model_load(const char *path);
/* Same from text in memory (path names it in messages); text NULL reads path. */
Model *model_load_text(const char *path, const char *text);
void model_free(Model *m);
/* Builds the graph for a mode (not yet passed through the pipeline). The
 * model input is the first graph input; in eval/train graphs `labels` is the
 * second. Outputs: prediction first; g->loss set for eval/train. NULL after
 * reporting errors. */
Graph *model_build(Model *m, GraphMode mode);
/* Builds and runs the default pipeline (or `passes`) for a mode. */
Graph *model_compile(Model *m, GraphMode mode, const char *passes, PassCtx *cx);

#define LABELS_NAME "labels"

#endif
