/* op.h - the op table and what its hooks work with.
 *
 * Each op has four hooks (five for elementwise ops, and a scratch hook for
 * ops whose code may use the step's scratch space), kept together in the op
 * family's file:
 *   infer  sets output dtypes and shapes from inputs and attributes;
 *   eval   the interpreter's kernel: naive loops, double accumulation;
 *   grad   builds IR nodes computing input gradients from output gradients;
 *   emit   writes the C loops for the node;
 *   expr   (elementwise) the C expression for one element, used by fusion;
 *   scratch (SCRATCH_OP) bytes of the step's shared scratch space a node needs. */
#ifndef NN2C_OP_H
#define NN2C_OP_H

#include "../codegen/cwriter.h"
#include "../ir.h"

enum {
  OPF_ELEMENTWISE = 1, /* output[i] = f(inputs broadcast to [i]) */
  OPF_NO_GRAD = 2,     /* has no gradient rule (gradient ops, index ops) */
  OPF_RANDOM = 4,      /* draws random numbers (from the step counter) */
  OPF_VAR_OUT = 8      /* a node has 1..nout outputs (Split, optional outputs) */
};

/* An interpreter tensor: concrete shape (batch resolved), typed storage. */
typedef struct {
  DType dtype;
  Shape shape;
  int64_t numel;
  void *data;
} Tensor;

/* Element i as a double, and back with C's conversions (tensor.c). */
double tensor_get(const Tensor *t, int64_t i);
void tensor_set(Tensor *t, int64_t i, double v);

typedef struct {
  int64_t batch;     /* value of N for this run */
  uint64_t step;     /* training step counter (seeds dropout masks) */
  const char *error; /* set by a kernel on bad data (an index out of range) */
} EvalCtx;

typedef struct {
  const char *name;
  const char *onnx; /* the ONNX op type the generic importer maps to it, or "" (see ops.def) */
  int min_in, max_in, nout;
  unsigned flags;
  const char *(*infer)(Graph *g, Node *n); /* NULL, or an error message */
  void (*eval)(EvalCtx *cx, Node *n, Tensor **in, Tensor **out);
  void (*grad)(Graph *g, Node *n, Value **dy, Value **dx);
  void (*emit)(Emit *e, Node *n);
  void (*expr)(Buf *b, Node *n, const char **args); /* elementwise only */
  int64_t (*scratch)(const Node *n); /* bytes of the step's scratch space a node needs; NULL: none (SCRATCH_OP) */
} OpDef;

extern const OpDef op_table[OP_COUNT];
bool op_from_name(const char *name, OpKind *k);
/* Whether a node of op d may have nout outputs: exactly d->nout, 1..nout with
 * OPF_VAR_OUT, any positive number when d->nout is 0 (unstack). */
bool op_nout_ok(const OpDef *d, int nout);
const char *op_name(OpKind k);

/* Builders used by frontends, autodiff and optimizer lowering (build.c): create
 * a node, run its shape inference (a failure is an internal error) and return out[0]. */
Node *build_node(Graph *g, OpKind op, int nin, Value **in);
Value *build_finish(Graph *g, Node *n);
Value *build1(Graph *g, OpKind op, Value *a);
Value *build2(Graph *g, OpKind op, Value *a, Value *b);
Value *build_scalar(Graph *g, DType t, double v); /* f32 or f64 */
/* Sum a broadcast gradient back down to `shape` (reduce_sum + reshape). */
Value *build_unbroadcast(Graph *g, Value *grad, Shape shape);
Value *build_reshape(Graph *g, Value *x, Shape shape);
void node_set_reshape(Graph *g, Node *n, Shape s); /* reshape's attributes for exactly s */
/* Bytes of the step's scratch space a node needs: its op's scratch hook, or 0. */
int64_t node_scratch_bytes(const Node *n);
void matmul_emit(Emit *e, Node *n); /* gemm runs matmul's kernels (gemm.c) */
int64_t matmul_scratch(const Node *n);
/* Keras `same` pads of one spatial axis (input in, window k, stride s,
 * dilation d): output ceil(in / s), the odd pixel at the end (conv.c). */
void conv_same_pads(int64_t in, int64_t k, int64_t s, int64_t d, int64_t *lo, int64_t *hi);

/* Shape inference helpers shared by the hooks. */
const char *infer_broadcast(Graph *g, Shape a, Shape b, Shape *out);
int normalize_axis(int64_t axis, int rank); /* -1 if out of range */
/* An int-list attribute (AT_INTS, or one AT_INT; floats are truncated) into
 * out[max]; returns its length, or -1 when absent or too long. */
int attr_ints(const Node *n, const char *key, int64_t *out, int max);
/* Same for floats (ints converted). */
int attr_floats(const Node *n, const char *key, double *out, int max);
/* The dtype of an ONNX TensorProto.DataType code (attributes `dtype`, `to`). */
bool dtype_from_onnx(int64_t code, DType *t);
/* Row-major strides of a concrete shape. */
void shape_strides(Shape s, int64_t *st);
/* Flat index into a tensor of shape `in` broadcast to `out`, for output index i. */
int64_t broadcast_index(Shape out, Shape in, int64_t i);

/* Emission: the C writer (codegen/cwriter.h) and the elementwise loop nest. */
/* One loop nest over n's output computing expr of its inputs (broadcast). */
void emit_elementwise(Emit *e, Node *n, void (*expr)(Buf *, Node *, const char **));

/* ---- elementwise families (elementwise.c, math.c, activation.c, compare.c) ----
 * An op gives a type rule, a scalar function in double (the interpreter), a
 * C expression (emission and fusion) and a gradient rule; EW_HOOKS makes the
 * hooks. Inputs broadcast numpy style. */
typedef enum {
  TY_FLOAT, /* floats, all inputs alike -> same */
  TY_NUM,   /* any numeric dtype, all inputs alike -> same */
  TY_LOGIC, /* bool inputs -> bool */
  TY_CMP,   /* any dtype, inputs alike -> bool */
  TY_ISX,   /* float -> bool */
  TY_POW,   /* numeric base, any numeric exponent -> the base's dtype */
  TY_WHERE, /* bool condition, two alike values -> their dtype */
  TY_CAST   /* any -> the dtype of attribute `to` */
} TypeRule;
typedef double (*ScalarFn)(const Node *n, const double *x);
typedef void (*ExprFn)(Buf *b, Node *n, const char **args);
const char *ew_infer(Graph *g, Node *n, TypeRule r);
void ew_eval(Node *n, Tensor **in, Tensor **out, ScalarFn f);
DType ew_type(const Node *n);                /* the dtype n computes in */
const char *ew_lit(const Node *n, double v); /* v as a C literal of that dtype (rotating static buffers) */
const char *ew_sfx(const Node *n);           /* "f" for f32 (expf), "" for f64 (exp) */
const char *ew_exp(const Node *n);           /* e^x: nn2c_expf for f32 (templates/fast_math.c.in), exp */
bool dtype_is_unsigned(DType t);
bool dtype_is_half(DType t); /* f16 or bf16: storage formats, read only by casts */
void cast_half_helpers(Emit *e,
                       Node *n); /* f16/bf16 conversions among e's helpers when n is such a cast (elementwise.c) */
void ew_no_grad(Graph *g, Node *n, Value **dy, Value **dx); /* zero gradient (piecewise constant ops) */
Value *build_where(Graph *g, Value *c, Value *a, Value *b);
Value *build_unb(Graph *g, Value *grad, Value *x); /* build_unbroadcast to x's shape */

#define EW_HOOKS(name, rule, fn, xfn, gfn)                                                                             \
  const char *name##_infer(Graph *g, Node *n) { return ew_infer(g, n, rule); }                                         \
  void name##_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {                                                  \
    (void)cx;                                                                                                          \
    ew_eval(n, in, out, fn);                                                                                           \
  }                                                                                                                    \
  void name##_grad(Graph *g, Node *n, Value **dy, Value **dx) { gfn(g, n, dy, dx); }                                   \
  void name##_emit(Emit *e, Node *n) { emit_elementwise(e, n, xfn); }                                                  \
  void name##_expr(Buf *b, Node *n, const char **args) { xfn(b, n, args); }

#endif
