/* op.h - the op table and what its hooks work with.
 *
 * Each op has four hooks (five for elementwise ops), kept together in the op
 * family's file:
 *   infer  sets output dtypes and shapes from inputs and attributes;
 *   eval   the interpreter's kernel: naive loops, double accumulation;
 *   grad   builds IR nodes computing input gradients from output gradients;
 *   emit   writes the C loops for the node;
 *   expr   (elementwise) the C expression for one element, used by fusion. */
#ifndef NN2C_OP_H
#define NN2C_OP_H

#include "../ir.h"

enum {
  OPF_ELEMENTWISE = 1, /* output[i] = f(inputs broadcast to [i]) */
  OPF_NO_GRAD = 2,     /* has no gradient rule (gradient ops, index ops) */
  OPF_RANDOM = 4       /* draws random numbers (from the step counter) */
};

/* An interpreter tensor: concrete shape (batch resolved), typed storage. */
typedef struct {
  DType dtype;
  Shape shape;
  int64_t numel;
  void *data;
} Tensor;

double tensor_get(const Tensor *t, int64_t i);
void tensor_set(Tensor *t, int64_t i, double v);

typedef struct {
  int64_t batch; /* value of N for this run */
  uint64_t step; /* training step counter (seeds dropout masks) */
  const char *error; /* set by a kernel that met bad data (an id out of range) */
} EvalCtx;

/* C emission context for one function body. */
typedef struct {
  Buf *b;         /* where the body is written */
  Graph *g;
  int indent;     /* current indentation level */
  unsigned char *used; /* per value id: referenced through emit_ref (may be NULL) */
  Buf *helpers;   /* static functions shared by nodes, written before the step functions (may be NULL) */
} Emit;

typedef struct {
  const char *name;
  const char *onnx;
  int min_in, max_in, nout;
  unsigned flags;
  const char *(*infer)(Graph *g, Node *n); /* NULL, or an error message */
  void (*eval)(EvalCtx *cx, Node *n, Tensor **in, Tensor **out);
  void (*grad)(Graph *g, Node *n, Value **dy, Value **dx);
  void (*emit)(Emit *e, Node *n);
  void (*expr)(Buf *b, Node *n, const char **args); /* elementwise only */
} OpDef;

extern const OpDef op_table[OP_COUNT];
bool op_from_name(const char *name, OpKind *k);
const char *op_name(OpKind k);

/* Builders used by frontends, autodiff and optimizer lowering: create a node,
 * run its shape inference (a failure is an internal error) and return out[0]. */
Node *build_node(Graph *g, OpKind op, int nin, Value **in);
Value *build_finish(Graph *g, Node *n);
Value *build1(Graph *g, OpKind op, Value *a);
Value *build2(Graph *g, OpKind op, Value *a, Value *b);
Value *build_scalar(Graph *g, DType t, double v); /* f32 or f64 */
/* Sum a broadcast gradient back down to `shape` (reduce_sum + reshape). */
Value *build_unbroadcast(Graph *g, Value *grad, Shape shape);
Value *build_reshape(Graph *g, Value *x, Shape shape);
/* Keras `same` pads of one spatial axis (input in, window k, stride s,
 * dilation d): output ceil(in / s), the odd pixel at the end (conv.c). */
/* The tiled matmul copies b^T into the step's scratch space (matmul.c). */
bool matmul_uses_scratch(const Node *n);
void conv_same_pads(int64_t in, int64_t k, int64_t s, int64_t d, int64_t *lo, int64_t *hi);

/* Shape inference helpers shared by the hooks. */
const char *infer_broadcast(Graph *g, Shape a, Shape b, Shape *out);
int normalize_axis(int64_t axis, int rank); /* -1 if out of range */
/* Flat index into a tensor of shape `in` broadcast to `out`, for output index i. */
int64_t broadcast_index(Shape out, Shape in, int64_t i);

/* Emission helpers shared by the hooks. */
const char *emit_ref(Emit *e, Value *v);         /* the value's C pointer name */
char *emit_dim(Emit *e, Value *v, int axis);     /* "B" or a number */
char *emit_numel(Emit *e, Value *v);             /* C expression, size_t */
char *emit_numel_range(Emit *e, Value *v, int from, int to); /* product of dims [from,to) */
void emit_line(Emit *e, const char *fmt, ...);
void emit_open(Emit *e, const char *fmt, ...);   /* line ending in '{', indents */
void emit_close(Emit *e);                        /* '}' and dedent */
char *emit_float(Emit *e, double v);             /* a C float literal */
const char *emit_ctype(DType t);                 /* "float", "int32_t", ... */
/* One loop nest over n's output computing expr of its inputs (broadcast). */
void emit_elementwise(Emit *e, Node *n, void (*expr)(Buf *, Node *, const char **));

#endif
