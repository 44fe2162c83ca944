/* onnx.h - the ONNX front end (import, export, conformance runner), whose
 * files live in compiler/onnx/ (onnx_impl.h lists them). Built only with
 * NN2C_ONNX (protobuf-c code generated from the system's onnx.proto). */
#ifndef NN2C_ONNX_H
#define NN2C_ONNX_H

#include "passes/pass.h"

/* A symbolic dimension fixed on the command line: --dim name=value. */
typedef struct {
  const char *name;
  int64_t value;
} OnnxDim;

/* A graph input frozen to a constant (the test runner's data), by its
 * position among the graph inputs that have no initializer. */
typedef struct {
  int index;
  DType dtype;
  Shape shape;
  const void *data;
} OnnxFrozen;

typedef struct {
  const OnnxDim *dims;
  int ndims;
  const OnnxFrozen *frozen;
  int nfrozen;
  const Shape *shapes; /* shapes[k] fixes the symbolic dims of graph input k (the runner's data) */
  int nshapes;
  const char *batch_dim; /* symbolic dimension that becomes the batch N (training), or NULL; ""
                          * means the first dimension of the first input when it is symbolic */
  bool trainable;        /* f32 initializers become VK_PARAM (INIT_DATA); unused ones vanish */
  const int *seq_lens;   /* seq_lens[k]: the length of graph input k when it is a sequence (its
                          * tensors then count as that many inputs in shapes and frozen) */
  int nseq_lens;
} OnnxOptions;

/* Why an import failed: a model outside what nn2c supports (an unknown op or
 * dtype) is told apart from a broken one. */
typedef struct {
  bool unsupported;
  char what[160]; /* the op (or dtype) that is unsupported */
  int need_const; /* graph input (index as in OnnxFrozen) that had to be a constant, or -1 */
} OnnxStatus;

/* Reads an ONNX model into a graph: inputs first (in model order), then
 * initializers (constants), then nodes; outputs in model order. Shape
 * inference has run and constant subgraphs are folded. NULL after printing an
 * error (`unsupported op X (domain, opset N) at node NAME`, or one naming the
 * node and what is wrong). */
Graph *onnx_import(const char *path, const OnnxOptions *o, OnnxStatus *st);
/* The same from bytes in memory (path names the model in messages and
 * locates external data). */
Graph *onnx_import_buffer(const char *path, const void *data, size_t len, const OnnxOptions *o, OnnxStatus *st);

/* Reads a serialized TensorProto (a test case's input_K.pb) into a buffer of
 * its dtype; NULL after an error. */
void *onnx_read_tensor(const char *path, DType *t, Shape *s);

/* Reads a serialized SequenceProto of tensors: up to max of them into data,
 * t, s; returns how many, or -1 after an error. */
int onnx_read_sequence(const char *path, int max, void **data, DType *t, Shape *s);
/* Marks which graph inputs (those without an initializer, in order) and
 * outputs are sequences; false if the model is unreadable. */
bool onnx_model_sequences(const char *path, bool *in_seq, int max_in, bool *out_seq, int max_out);

/* Appends the op type of every node (xstrdup'd) to ops; false if unreadable. */
bool onnx_model_ops(const char *path, Vec *ops);

/* `nn2c test-onnx CASE_DIR...` (onnx/onnx_test.c). */
int onnx_test_main(int argc, char **argv);

/* Writes the source model src_path with its initializers replaced by new
 * parameter values (a params block of g laid out by graph_block_layout) as
 * the ONNX file out_path, atomically; *written (if not NULL) gets its size. */
bool onnx_export(const char *src_path, Graph *g, const float *params, const char *out_path, size_t *written);

/* Writes the forward graph g (after shape inference) as a new ONNX model
 * (opset 13, batch dimension "N") with params and state (blocks laid out by
 * graph_block_layout) as initializers, atomically; false after an error
 * naming an op the exporter cannot write (onnx/write.c). */
bool onnx_write_graph(Graph *g, const float *params, const float *state, const char *out_path, size_t *written);

#endif
