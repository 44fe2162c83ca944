/* tools.h - nn2c's commands that look at a model or a run rather than compile
 * it: `summary` (summary.c), `dot` (dot.c), `plot` (plot.c), and `export` of
 * a .nn model as ONNX (export.c). load.c holds
 * what they share: the command line and loading a .nn or ONNX model. */
#ifndef NN2C_TOOLS_H
#define NN2C_TOOLS_H

#include "model.h"

#define TOOL_MAX_LIST 16

/* The options the tools take (each tool says which ones it accepts). */
typedef struct {
  const char *model, *out, *loss, *optimizer;
  bool train, quiet;                 /* --quiet: no "wrote FILE" line */
  int64_t batch;                     /* 0: the model's train section's, else 1 */
  const char *dims[TOOL_MAX_LIST];   /* --dim NAME=VALUE (ONNX symbolic dimensions) */
  const char *freeze[TOOL_MAX_LIST]; /* --freeze GLOB */
  int ndims, nfreeze;
} ToolArgs;

/* Parses argv[2..]: the model (or input file) and the flags whose names are in
 * `accepted` (e.g. "-o --train --batch"); false after an error naming the
 * flag, with `usage` printed. */
bool tool_args(int argc, char **argv, const char *accepted, const char *usage, ToolArgs *a);
/* Loads a .nn model or an ONNX model (trainable: initializers become params,
 * the first input's symbolic first dimension the batch); --freeze, --loss and
 * --optimizer applied. NULL after reporting errors. */
Model *tool_load_model(ToolArgs *a);
/* The batch the tool plans at: --batch, else the train section's, else 1. */
int64_t tool_batch(const ToolArgs *a, const Model *m);
/* Writes `len` bytes to a->out atomically and, unless --quiet, says so on stderr. */
bool tool_write(const ToolArgs *a, const char *data, size_t len, const char *why);

/* Arithmetic of a node at a batch size: multiply-adds of its products
 * (matmul, gemm, convolutions) and floating-point operations (2 per
 * multiply-add, 1 per element computed by other ops, 0 for data movement). */
int64_t node_macs(const Node *n, int64_t batch);
int64_t node_flops(const Node *n, int64_t batch);

int summary_main(int argc, char **argv);
int dot_main(int argc, char **argv);
int plot_main(int argc, char **argv);
/* `nn2c export MODEL.nn ...` (export.c); export_is_native: a .nn model is named. */
bool export_is_native(int argc, char **argv);
int export_native_main(int argc, char **argv);
/* `nn2c quantize` (quantize.c, docs/int8.md). */
int quantize_main(int argc, char **argv);

#endif
