/* onnx_impl.h - what the files of the ONNX front end share (private to
 * compiler/onnx/; the public interface is onnx.h).
 *
 *   tensor.c   TensorProto -> constant value (raw, typed or external data)
 *   import.c   the model: graph inputs, nodes (generic path and handlers)
 *   nchw.c     Conv, ConvTranspose and the pools: ONNX's NCHW around the
 *              IR's NHWC conv2d and pools
 *   conv3d.c   3-D Conv as sums of conv2d over depth taps
 *   control.c  If, Loop and Scan expanded at import
 *   integer.c  MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv, Quantize/DequantizeLinear
 *              on the int8 ops (ops/quant.c)
 *   fold.c     NonZero, Unique, NonMaxSuppression, MelWeightMatrix on constant inputs
 *   tfidf.c    TfIdfVectorizer from Equal/And/ReduceSum
 *   dft.c      DFT and STFT as products with cosine and sine tables
 *   random.c   random ops with a seed: numpy's legacy generator, drawn at import
 *   sequence.c sequences of static length as lists of tensors
 *   export.c   a model with trained initializers written back as ONNX
 *   write.c    a native (.nn) model's forward graph written as a new ONNX model
 *   onnx_test.c  the `nn2c test-onnx` runner (uses only onnx.h) */
#ifndef NN2C_ONNX_IMPL_H
#define NN2C_ONNX_IMPL_H

#include "onnx.h"

#include "onnx.pb-c.h"

#define MAX_NUMEL ((int64_t)1 << 32) /* larger tensors are reported, not allocated */
#define MAX_BYTES ((int64_t)1 << 34)
#define LIMIT_WINDOW (1 << 20)        /* kernel sizes, strides, dilations, pads */
#define FOLD_BYTES ((int64_t)1 << 26) /* larger constant results are computed at run time */
/* Shape of a value with the batch N gives this in N's place. Folding moves it
 * through Gather, Concat, Slice, Unsqueeze, Squeeze and casts to int64 (the
 * dynamic-batch exporters' Shape -> Gather -> Concat chains); Reshape, Expand
 * and ConstantOfShape read it as N; arithmetic on it is refused. */
#define IMP_BATCH_MARK (INT64_MIN / 4)

/* A sequence of statically known length (sequence.c): its tensors. */
typedef struct {
  Value **items;
  int n;
  DType dtype; /* of the elements (an empty sequence has one too) */
} ImpSeq;

typedef struct {
  const char *name; /* ONNX name */
  Value *v;         /* the value, or NULL for a sequence */
  ImpSeq *seq;
} Binding;

/* The bindings' index (import.c): a name's latest binding, checked against b[] when read
 * since a body's bindings are dropped when it ends (imp_unbind_to). */
typedef struct {
  const char *name;
  int idx; /* into b[]; -1: none */
} BindSlot;

/* The state of one import. */
typedef struct {
  Graph *g;
  const OnnxOptions *opt;
  OnnxStatus *st;
  const char *path;
  int64_t opset; /* of the default domain */
  Onnx__ModelProto *model;
  Binding *b;
  int nb, capb;
  BindSlot *slots; /* open addressing, a power of two, at most half full */
  int nslots, capslots;
  int *nbound, capnbound;      /* bindings per value id (value_bound) */
  const Onnx__NodeProto *node; /* being imported, for messages */
  Value *inputs[64];           /* graph inputs by position (for need_const) */
  int ninputs;
  const char *batch_name; /* the symbolic name of the batch N (is_batch_dim) */
  Value seq_mark;         /* stands in handlers' in[]/out[] for a sequence (never in the graph) */
  ImpSeq *seq_outs[16];   /* the sequences a handler's outputs seq_mark stand for, by output */
  int64_t body_nodes;     /* nodes imported from control-flow bodies so far (a limit against blow-up) */
} Imp;

typedef const Onnx__NodeProto NodeP;

/* A handler imports one node: in[0..nin) are its inputs (NULL where left
 * out), out[k] receives the value of output k. false after an error. */
typedef bool (*Handler)(Imp *I, NodeP *np, Value **in, int nin, Value **out);

/* ---- diagnostics (import.c); each returns false so callers can return it ---- */

/* An error naming the model and the node being imported. */
bool imp_fail(Imp *I, const char *fmt, ...);
/* The same, and marks the import as unsupported (what: the op or dtype). */
bool imp_unsupported(Imp *I, const char *what, const char *fmt, ...);
/* v must be known at compile time and is not: says which graph input it
 * comes from (OnnxStatus.need_const), so a caller may freeze it and retry. */
bool imp_need_const(Imp *I, Value *v, const char *what);

/* An ONNX name as a C identifier (in the graph's arena). */
const char *imp_name(Imp *I, const char *s);

/* ---- building nodes (import.c) ---- */

Node *imp_mk(Imp *I, OpKind op, int nin, Value **in);
/* Checks arity, infers shapes and folds n when its inputs are constant. */
bool imp_finish(Imp *I, Node *n);
Value *imp_mk2(Imp *I, OpKind op, Value *a, Value *b);
Value *imp_reshape_to(Imp *I, Value *x, Shape s);
Value *imp_cast_to(Imp *I, Value *x, DType t);
/* t[start:end:step] along axis. */
Value *imp_take(Imp *I, Value *t, int axis, int64_t start, int64_t end, int64_t step);
/* A scalar constant of x's dtype. */
Value *imp_scalar_like(Imp *I, Value *x, double v);
/* The handler's inputs: lo..hi of them, the first lo present. */
bool imp_need_inputs(Imp *I, Value **in, int nin, int lo, int hi);
const Onnx__AttributeProto *imp_attr(NodeP *np, const char *name);
int64_t imp_attr_i(NodeP *np, const char *name, int64_t dflt);

/* ---- scopes, for bodies of control flow (import.c) ---- */

/* The value bound to an ONNX name, innermost scope first, or NULL. */
Value *imp_lookup(Imp *I, const char *name);
void imp_bind(Imp *I, const char *name, Value *v);
void imp_unbind_to(Imp *I, int nb); /* drops the bindings made since there were nb */
void imp_free_bindings(Imp *I);
void imp_bind_seq(Imp *I, const char *name, ImpSeq *seq);
/* Imports one node (its outputs are bound); false after an error. */
bool imp_node(Imp *I, NodeP *np);
/* The sequence bound to an ONNX name, or NULL. */
ImpSeq *imp_lookup_seq(Imp *I, const char *name);
/* A constant (or a trainable initializer): its data is known now. */
bool imp_is_const(const Value *v);

/* MatMul with numpy's rules (in[0] x in[1]). */
bool imp_matmul(Imp *I, NodeP *np, Value **in, int nin, Value **out);

/* Conv's layout work (nchw.c) around any NHWC convolution op: x (NCHW or
 * NCL) and w (OIHW) transposed to NHWC and HWIO, then `extra` as further
 * inputs; the op's NHWC result (NULL after an error), and back to ONNX's layout. */
Value *nchw_conv_nhwc(Imp *I, NodeP *np, OpKind op, Value **in, Value **extra, int nextra, bool *one_d);
bool nchw_from_nhwc(Imp *I, Value *y, bool one_d, Value **out);

/* ---- integer and quantized ops on the int8 kernels (integer.c, docs/int8.md) ---- */

bool h_matmul_integer(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool h_conv_integer(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool h_qlinear(Imp *I, NodeP *np, Value **in, int nin, Value **out);  /* QLinearMatMul, QLinearConv */
bool h_quantize(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* QuantizeLinear, DequantizeLinear */

/* ---- results shaped by the input's values, computed at import (fold.c) ---- */

bool h_nonzero(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool h_unique(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool h_nms(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* NonMaxSuppression */
bool h_mel(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* MelWeightMatrix */

bool h_tfidf(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* tfidf.c: TfIdfVectorizer */
bool h_dft(Imp *I, NodeP *np, Value **in, int nin, Value **out);   /* dft.c */
bool h_stft(Imp *I, NodeP *np, Value **in, int nin, Value **out);  /* dft.c */

/* ---- random ops with a seed (random.c) ---- */

/* numpy's legacy generator (RandomState): MT19937 and randn's cached normal. */
typedef struct {
  uint32_t mt[624];
  int pos;
  bool has_gauss;
  double gauss;
} ImpRng;
void imp_rng_seed(ImpRng *r, uint32_t seed);
double imp_rng_uniform(ImpRng *r); /* [0, 1), 53 bits */
/* Seeds r from the node's seed attribute; false (reported) without one. */
bool imp_rng_from_seed(Imp *I, NodeP *np, ImpRng *r);
bool h_random(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* RandomUniform/Normal(Like), Bernoulli */

/* ---- control flow (control.c) ---- */

bool h_if(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool h_loop(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool h_scan(Imp *I, NodeP *np, Value **in, int nin, Value **out);
/* Imports body with its inputs bound to args (a sequence where args[i] is
 * seq_mark: aseq[i]); outputs to res (seq_mark and rseq[i] for a sequence;
 * aseq, rseq may be NULL). The body's own bindings are dropped. */
bool imp_body(Imp *I, const Onnx__GraphProto *body, Value **args, ImpSeq **aseq, int nargs, Value **res, ImpSeq **rseq);

/* ---- sequences of static length (sequence.c) ---- */

/* SequenceEmpty/Construct/Insert/Erase/At/Length/Map, SplitToSequence, ConcatFromSequence */
bool h_sequence(Imp *I, NodeP *np, Value **in, int nin, Value **out);
/* An ImpSeq of n (unset) tensors in the graph's arena. */
ImpSeq *imp_seq_new(Imp *I, int n, DType t);

/* ---- tensors (tensor.c) ---- */

int dtype_to_onnx(DType d);
const char *onnx_type_name(int32_t t);
/* Dimensions from a list, with overflow checks; false after an error. */
bool imp_make_shape(Imp *I, const char *what, size_t rank, const int64_t *d, Shape *s);
/* A TensorProto as a constant value (named after it, or `name`); NULL after an error. */
Value *imp_tensor_const(Imp *I, const Onnx__TensorProto *t, const char *name);

/* ---- handlers of the NCHW ops (nchw.c) ---- */

bool nchw_conv(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool nchw_conv3d(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* conv3d.c: 3-D Conv on conv2d */
bool nchw_conv_transpose(Imp *I, NodeP *np, Value **in, int nin, Value **out);
bool nchw_pool(Imp *I, NodeP *np, Value **in, int nin, Value **out);        /* MaxPool, AveragePool */
bool nchw_global_pool(Imp *I, NodeP *np, Value **in, int nin, Value **out); /* GlobalAveragePool, GlobalMaxPool */

#endif
