/* elementwise.c - the machinery every elementwise op shares (type rules,
 * the interpreter loop, the emitted loop nest with inline producers) and the
 * arithmetic ops: neg abs sign add sub mul div pow mod and the variadic max
 * min sum mean. Every numeric dtype is accepted; integers follow C (division
 * truncates, mod takes the sign of the divisor unless fmod=1, x/0 and x%0
 * give 0 instead of trapping). Float ops are in math.c and activation.c,
 * comparisons, logic, where and casts in compare.c. */
#include "op.h"

#include <math.h>
#include <string.h>

/* ---- type rules ---- */

bool dtype_is_unsigned(DType t) { return t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64 || t == DT_BOOL; }
bool dtype_is_half(DType t) { return t == DT_F16 || t == DT_BF16; }

/* The dtype of attribute `to` (an ONNX TensorProto code or a name like "f32"). */
static bool cast_target(const Node *n, DType *t) {
  const Attr *a = node_attr(n, "to");
  if (a && a->type == AT_INT) return dtype_from_onnx(a->i, t);
  return a && a->type == AT_STRING && dtype_from_name(a->s, t);
}

DType ew_type(const Node *n) { return n->in[n->op == OP_WHERE ? 1 : 0]->dtype; }

const char *ew_infer(Graph *g, Node *n, TypeRule r) {
  Shape s = n->in[0]->shape;
  for (int i = 1; i < n->nin; i++) {
    const char *err = infer_broadcast(g, s, n->in[i]->shape, &s);
    if (err) return err;
  }
  int first = r == TY_WHERE ? 1 : 0, last = r == TY_POW ? 0 : n->nin - 1;
  DType t = n->in[first]->dtype, out = t;
  for (int i = first + 1; i <= last; i++)
    if (n->in[i]->dtype != t)
      return arena_printf(&g->arena, "input %d is %s but input %d is %s", i, dtype_name(n->in[i]->dtype), first,
                          dtype_name(t));
  for (int i = 0; i < n->nin && r != TY_CAST; i++) /* storage formats: only casts read them */
    if (n->in[i]->dtype == DT_F16 || n->in[i]->dtype == DT_BF16)
      return arena_printf(&g->arena, "%s does not support %s", op_name(n->op), dtype_name(n->in[i]->dtype));
  bool fl = dtype_is_float(t), num = t != DT_BOOL;
  const char *need = NULL;
  switch (r) {
  case TY_FLOAT:
    need = fl ? NULL : "a float";
    break;
  case TY_NUM:
    need = num ? NULL : "a numeric";
    break;
  case TY_LOGIC:
    need = t == DT_BOOL ? NULL : "a bool", out = DT_BOOL;
    break;
  case TY_CMP:
    out = DT_BOOL;
    break;
  case TY_ISX:
    need = fl ? NULL : "a float", out = DT_BOOL;
    break;
  case TY_POW:
    need = num && n->in[1]->dtype != DT_BOOL ? NULL : "numeric";
    break;
  case TY_WHERE:
    need = n->in[0]->dtype == DT_BOOL ? NULL : "a bool condition";
    break;
  case TY_CAST:
    if (!cast_target(n, &out)) return "cast needs to=<ONNX dtype code> or to=\"<dtype name>\"";
    break;
  }
  if (need) return arena_printf(&g->arena, "%s needs %s input, got %s", op_name(n->op), need, dtype_name(t));
  n->out[0]->dtype = out;
  n->out[0]->shape = s;
  return NULL;
}

/* ---- interpreter ---- */

int64_t broadcast_index(Shape out, Shape in, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (int a = out.rank - 1, b = in.rank - 1; a >= 0; a--, b--) {
    int64_t coord = i % out.d[a];
    i /= out.d[a];
    if (b < 0) continue;
    if (in.d[b] != 1) idx += coord * stride;
    stride *= in.d[b];
  }
  return idx;
}

void ew_eval(Node *n, Tensor **in, Tensor **out, ScalarFn f) {
  Tensor *o = out[0];
  double x[16];
  for (int64_t i = 0; i < o->numel; i++) {
    for (int k = 0; k < n->nin; k++)
      x[k] = tensor_get(in[k], broadcast_index(o->shape, in[k]->shape, i));
    tensor_set(o, i, f(n, x));
  }
}

/* ---- C literals in a node's compute type ---- */

static const char *lit_of(DType t, double v) {
  static char bufs[8][64];
  static int next;
  char *b = bufs[next++ % 8];
  if (!dtype_is_float(t))
    snprintf(b, 64, "%lld", (long long)v);
  else if (isnan(v))
    snprintf(b, 64, "%s", "NAN");
  else if (isinf(v))
    snprintf(b, 64, "%s", v > 0 ? "INFINITY" : "-INFINITY");
  else {
    snprintf(b, 48, t == DT_F32 ? "%.9g" : "%.17g", v);
    if (!strpbrk(b, ".e")) strcat(b, ".0");
    if (t == DT_F32) strcat(b, "f");
  }
  return b;
}

const char *ew_lit(const Node *n, double v) { return lit_of(ew_type(n), v); }
const char *ew_sfx(const Node *n) { return ew_type(n) == DT_F32 ? "f" : ""; }
const char *ew_exp(const Node *n) { return ew_type(n) == DT_F32 ? "nn2c_expf" : "exp"; }

/* ---- emission: one loop nest over the output, inputs indexed by broadcast ---- */

/* A node the fuse pass marked inline=1 is computed inside its sole reader's
 * loop, as a local variable, and has no storage of its own. A loop nest
 * therefore reads the leaves of a tree of nodes: the inputs that are not
 * computed inline. */
#define EW_MAX_LEAVES 16 /* up to 16 inputs; fuse.c keeps inline trees to 8 */

static bool is_inline(const Value *v) { return v->def && node_int(v->def, "inline", 0); }

typedef struct {
  Node **chain; /* inline producers in order, then the node itself (tree_size of them) */
  int nchain;
  Value *leaf[EW_MAX_LEAVES]; /* distinct inputs read from memory */
  int nleaf;
} EwTree;

/* Nodes of the inline tree rooted at n: n and, recursively, its inline producers. */
static int tree_size(const Node *n) {
  int size = 1;
  for (int k = 0; k < n->nin; k++)
    if (is_inline(n->in[k])) size += tree_size(n->in[k]->def);
  return size;
}

/* Fills t->chain (room for tree_size(n) nodes) and t->leaf. */
static void tree_collect(Node *n, EwTree *t) {
  for (int k = 0; k < n->nin; k++) {
    Value *v = n->in[k];
    if (is_inline(v)) {
      tree_collect(v->def, t);
      continue;
    }
    bool seen = false;
    for (int i = 0; i < t->nleaf; i++)
      seen = seen || t->leaf[i] == v;
    if (seen) continue;
    NN2C_ASSERT(t->nleaf < EW_MAX_LEAVES);
    t->leaf[t->nleaf++] = v;
  }
  t->chain[t->nchain++] = n;
}

/* Output dims grouped so adjacent dims that every leaf broadcasts the same
 * way become one loop: [N,128] + [128] is two loops, [N,128] + [N,128] one.
 * Index nleaf in bc stands for the output. */
typedef struct {
  int n;                                /* number of loops */
  const char *size[MAX_RANK];           /* C expression for each loop's extent */
  bool bc[EW_MAX_LEAVES + 1][MAX_RANK]; /* [leaf][loop]: leaf is broadcast along it */
} LoopNest;

static void loop_nest_build(Emit *e, Value *o, Value **leaf, int nleaf, LoopNest *ln) {
  int r = o->shape.rank;
  memset(ln, 0, sizeof *ln);
  bool prev[EW_MAX_LEAVES + 1] = {0};
  for (int d = 0; d < r; d++) {
    bool cur[EW_MAX_LEAVES + 1] = {0};
    for (int k = 0; k < nleaf; k++) {
      Shape s = leaf[k]->shape;
      int j = d - (r - s.rank);
      cur[k] = j < 0 || (s.d[j] == 1 && o->shape.d[d] != 1);
    }
    bool same = ln->n > 0 && !memcmp(cur, prev, sizeof cur);
    if (same) {
      ln->size[ln->n - 1] = arena_printf(&e->g->arena, "%s * %s", ln->size[ln->n - 1], emit_dim(e, o, d));
    } else {
      ln->size[ln->n] = emit_dim(e, o, d);
      for (int k = 0; k < nleaf; k++)
        ln->bc[k][ln->n] = cur[k];
      ln->n++;
    }
    memcpy(prev, cur, sizeof cur);
  }
  if (ln->n == 0) { /* scalar output: one trip */
    ln->size[0] = "1";
    for (int k = 0; k <= nleaf; k++)
      ln->bc[k][0] = true;
    ln->n = 1;
  }
}

/* Flat index of a tensor indexed by the loops it is not broadcast along. */
static char *loop_index(Emit *e, LoopNest *ln, int k) {
  Buf idx = {0};
  for (int a = 0; a < ln->n; a++) {
    if (ln->bc[k][a]) continue;
    if (idx.len) buf_puts(&idx, " + ");
    buf_printf(&idx, "i%d", a);
    for (int b = a + 1; b < ln->n; b++)
      if (!ln->bc[k][b]) buf_printf(&idx, " * %s", ln->size[b]);
  }
  char *r = arena_strdup(&e->g->arena, idx.len ? idx.data : "0");
  buf_free(&idx);
  return r;
}

/* Element expression of leaf k: a literal for scalar constants. */
static const char *leaf_arg(Emit *e, Value *v, LoopNest *ln, int k) {
  if (v->kind == VK_CONST && shape_numel_static(v->shape) == 1 && !shape_has_batch(v->shape)) {
    Tensor t = {v->dtype, v->shape, 1, v->data};
    return arena_strdup(&e->g->arena, lit_of(v->dtype, tensor_get(&t, 0)));
  }
  return arena_printf(&e->g->arena, "%s[%s]", emit_ref(e, v), loop_index(e, ln, k));
}

/* The local variable holding an inline value (not a pointer, so not "used"). */
static const char *local_name(Emit *e, Value *v) {
  unsigned char *used = e->used;
  e->used = NULL;
  const char *s = emit_ref(e, v);
  e->used = used;
  return s;
}

void emit_elementwise(Emit *e, Node *n, void (*expr)(Buf *, Node *, const char **)) {
  EwTree t = {0};
  t.chain = arena_alloc(&e->g->arena, sizeof(Node *) * (size_t)tree_size(n));
  tree_collect(n, &t);
  LoopNest ln;
  loop_nest_build(e, n->out[0], t.leaf, t.nleaf, &ln);
  /* Loops of 512K elements or more (counting the batch as 32) may run on threads: at run time
   * from the measured threshold nn2c_par.min_elems (templates/parallel.h). Smaller ones get no
   * pragma, which costs about 0.5-2 us a call even when its condition keeps the loop on one
   * thread (libgomp, libomp). */
  int64_t big = 1;
  for (int a = 0; a < n->out[0]->shape.rank; a++)
    big *= n->out[0]->shape.d[a] == DIM_BATCH ? 32 : n->out[0]->shape.d[a];
  if (big >= 524288) {
    Buf count = {0};
    for (int a = 0; a < ln.n; a++)
      buf_printf(&count, "%s(size_t)%s", a ? " * " : "", ln.size[a]); /* as the loops */
    emit_line(e, "NN2C_PARALLEL_FOR_EW(%s)", count.data);
    buf_free(&count);
  }
  for (int c = 0; c < t.nchain; c++)
    cast_half_helpers(e, t.chain[c]);
  for (int a = 0; a < ln.n; a++)
    emit_open(e, "for (size_t i%d = 0; i%d < (size_t)%s; i%d++)", a, a, ln.size[a], a);
  const char *leafx[EW_MAX_LEAVES];
  for (int k = 0; k < t.nleaf; k++)
    leafx[k] = leaf_arg(e, t.leaf[k], &ln, k);
  for (int c = 0; c < t.nchain; c++) {
    Node *m = t.chain[c];
    const char *args[16];
    for (int k = 0; k < m->nin; k++) {
      if (is_inline(m->in[k])) {
        args[k] = local_name(e, m->in[k]);
        continue;
      }
      for (int i = 0; i < t.nleaf; i++)
        if (t.leaf[i] == m->in[k]) args[k] = leafx[i];
    }
    Buf ex = {0};
    (m == n ? expr : op_table[m->op].expr)(&ex, m, args);
    if (m == n)
      emit_line(e, "%s[%s] = %s;", emit_ref(e, n->out[0]), loop_index(e, &ln, t.nleaf), ex.data);
    else
      emit_line(e, "const %s %s = %s; /* node %d */", emit_ctype(m->out[0]->dtype), local_name(e, m->out[0]), ex.data,
                m->id);
    buf_free(&ex);
  }
  for (int a = 0; a < ln.n; a++)
    emit_close(e);
}

/* float16 and bfloat16 are stored as uint16_t; casts convert through these
 * helpers (float16 rounds to nearest even, bfloat16 truncates as ONNX's
 * reference does), written once among the model's static helpers. The casts
 * are in compare.c; the helpers are here because the loop nest writes them
 * for every inline cast it computes. */
static const char *half_helpers =
    "static NN2C_MAYBE_UNUSED double f16_to_double(uint16_t h) {\n"
    "  int e = (h >> 10) & 31, m = h & 1023;\n"
    "  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);\n"
    "  return (h & 0x8000) ? -v : v;\n}\n\n"
    "static NN2C_MAYBE_UNUSED uint16_t f16_from_double(double v) {\n"
    "  unsigned s = signbit(v) ? 0x8000u : 0u;\n  double a = fabs(v);\n  int e;\n"
    "  if (a != a) return (uint16_t)(s | 0x7e00u);\n"
    "  if (a >= 65520.0) return (uint16_t)(s | 0x7c00u);\n"
    "  if (a < 6.103515625e-05) return (uint16_t)(s | (unsigned)rint(a * 16777216.0));\n"
    "  (void)frexp(a, &e); /* a in [2^(e-1), 2^e) */\n"
    "  return (uint16_t)(s | (unsigned)(((e + 14) << 10) + (int)rint(ldexp(a, 11 - e)) - 1024));\n}\n\n"
    "static NN2C_MAYBE_UNUSED double bf16_to_double(uint16_t h) {\n"
    "  uint32_t u = (uint32_t)h << 16;\n  float f;\n  memcpy(&f, &u, 4);\n  return f;\n}\n\n"
    "static NN2C_MAYBE_UNUSED uint16_t bf16_from_double(double v) {\n"
    "  float f = (float)v;\n  uint32_t u;\n  memcpy(&u, &f, 4);\n  return (uint16_t)(u >> 16);\n}\n\n";

void cast_half_helpers(Emit *e, Node *n) {
  bool half = (n->op == OP_CAST || n->op == OP_CAST_LIKE) &&
              (dtype_is_half(n->in[0]->dtype) || dtype_is_half(n->out[0]->dtype));
  if (half && e->helpers && (!e->helpers->data || !strstr(e->helpers->data, half_helpers)))
    buf_puts(e->helpers, half_helpers);
}

/* ---- arithmetic: scalar functions (interpreter, in double) ---- */

static bool int_out(const Node *n) { return !dtype_is_float(n->out[0]->dtype); }

static double f_neg(const Node *n, const double *x) {
  (void)n;
  return -x[0];
}
static double f_abs(const Node *n, const double *x) {
  (void)n;
  return fabs(x[0]);
}
static double f_sign(const Node *n, const double *x) {
  (void)n;
  return x[0] > 0 ? 1 : x[0] < 0 ? -1 : x[0];
}
static double f_add(const Node *n, const double *x) {
  (void)n;
  return x[0] + x[1];
}
static double f_sub(const Node *n, const double *x) {
  (void)n;
  return x[0] - x[1];
}
static double f_mul(const Node *n, const double *x) {
  (void)n;
  return x[0] * x[1];
}
static double f_div(const Node *n, const double *x) {
  if (!int_out(n)) return x[0] / x[1];
  return x[1] == 0 ? 0 : trunc(x[0] / x[1]);
}
/* Integer to integer powers wrap around like repeated multiplication (numpy);
 * with a float on either side the power is taken in double. */
static double f_pow(const Node *n, const double *x) {
  if (dtype_is_float(n->in[0]->dtype) || dtype_is_float(n->in[1]->dtype)) return pow(x[0], x[1]);
  uint64_t b = (uint64_t)(int64_t)x[0], r = 1;
  int64_t e = (int64_t)x[1];
  if (e < 0) r = b == 1 ? 1 : b == UINT64_MAX ? (e % 2 ? b : 1) : 0;
  for (; e > 0; e >>= 1, b *= b)
    if (e & 1) r *= b;
  int bits = 8 * dtype_size(n->out[0]->dtype);
  if (bits < 64) r &= (UINT64_C(1) << bits) - 1; /* reduce to the output dtype before going through double */
  if (!dtype_is_unsigned(n->out[0]->dtype) && bits < 64 && (r >> (bits - 1))) return (double)r - ldexp(1, bits);
  return dtype_is_unsigned(n->out[0]->dtype) ? (double)r : (double)(int64_t)r;
}
/* fmod=1: the sign of the dividend (C fmod, %); fmod=0: the sign of the divisor. */
static double f_mod(const Node *n, const double *x) {
  if (int_out(n) && x[1] == 0) return 0;
  double r = fmod(x[0], x[1]);
  if (!node_int(n, "fmod", 0) && r != 0 && (r < 0) != (x[1] < 0)) r += x[1];
  return r;
}
static double f_max(const Node *n, const double *x) {
  double m = x[0];
  for (int k = 1; k < n->nin; k++)
    m = fmax(m, x[k]);
  return m;
}
static double f_min(const Node *n, const double *x) {
  double m = x[0];
  for (int k = 1; k < n->nin; k++)
    m = fmin(m, x[k]);
  return m;
}
static double f_sum(const Node *n, const double *x) {
  double s = 0;
  for (int k = 0; k < n->nin; k++)
    s += x[k];
  return s;
}
static double f_mean(const Node *n, const double *x) { return f_sum(n, x) / n->nin; }

/* ---- arithmetic: C expressions (args are element expressions of the inputs) ---- */

static bool is_signed_int(const Node *n) { return !dtype_is_float(ew_type(n)) && !dtype_is_unsigned(ew_type(n)); }

static void x_neg(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(-%s)", a[0]);
}
static void x_abs(Buf *b, Node *n, const char **a) {
  if (dtype_is_float(ew_type(n)))
    buf_printf(b, "fabs%s(%s)", ew_sfx(n), a[0]);
  else if (is_signed_int(n))
    buf_printf(b, "(%s < 0 ? -%s : %s)", a[0], a[0], a[0]);
  else
    buf_printf(b, "%s", a[0]);
}
static void x_sign(Buf *b, Node *n, const char **a) {
  if (dtype_is_unsigned(ew_type(n)))
    buf_printf(b, "(%s > 0)", a[0]);
  else
    buf_printf(b, "(%s > 0 ? %s : %s < 0 ? %s : %s)", a[0], ew_lit(n, 1), a[0], ew_lit(n, -1), a[0]);
}
static void x_add(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s + %s)", a[0], a[1]);
}
static void x_sub(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s - %s)", a[0], a[1]);
}
static void x_mul(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s * %s)", a[0], a[1]);
}
/* Integer division by 0 gives 0 (C would trap); by -1 it negates (INT_MIN / -1 would trap). */
static void x_div(Buf *b, Node *n, const char **a) {
  if (dtype_is_float(ew_type(n)))
    buf_printf(b, "(%s / %s)", a[0], a[1]);
  else if (is_signed_int(n))
    buf_printf(b, "(%s == -1 ? -%s : %s != 0 ? %s / %s : 0)", a[1], a[0], a[1], a[0], a[1]);
  else
    buf_printf(b, "(%s != 0 ? %s / %s : 0)", a[1], a[0], a[1]);
}
static void x_pow(Buf *b, Node *n, const char **a) {
  DType t = n->in[0]->dtype;
  if (!dtype_is_float(t) && !dtype_is_float(n->in[1]->dtype))
    buf_printf(b, "(%s)int_pow((uint64_t)%s, (int64_t)%s)", emit_ctype(t), a[0], a[1]);
  else if (!dtype_is_float(t))
    buf_printf(b, "(%s)pow((double)%s, (double)%s)", emit_ctype(t), a[0], a[1]);
  else if (n->in[1]->dtype == t)
    buf_printf(b, "pow%s(%s, %s)", ew_sfx(n), a[0], a[1]);
  else
    buf_printf(b, "pow%s(%s, (%s)%s)", ew_sfx(n), a[0], emit_ctype(t), a[1]);
}
static void x_mod(Buf *b, Node *n, const char **a) {
  bool fl = dtype_is_float(ew_type(n)), py = !node_int(n, "fmod", 0) && !dtype_is_unsigned(ew_type(n));
  Buf r = {0};
  if (fl)
    buf_printf(&r, "fmod%s(%s, %s)", ew_sfx(n), a[0], a[1]);
  else
    buf_printf(&r, "(%s %% %s)", a[0], a[1]);
  /* integers: x % 0 and x % -1 give 0 (C would trap) */
  if (is_signed_int(n))
    buf_printf(b, "(%s != 0 && %s != -1 ? ", a[1], a[1]);
  else if (!fl)
    buf_printf(b, "(%s != 0 ? ", a[1]);
  if (py)
    buf_printf(b, "((%s != 0 && (%s < 0) != (%s < 0)) ? %s + %s : %s)", r.data, r.data, a[1], r.data, a[1], r.data);
  else
    buf_printf(b, "%s", r.data);
  if (!fl) buf_puts(b, " : 0)");
  buf_free(&r);
}
/* Floats use fmax/fmin; integers a left fold of conditionals. */
static void x_extreme(Buf *b, Node *n, const char **a, const char *fn, const char *op) {
  Buf acc = {0};
  buf_printf(&acc, "%s", a[0]);
  for (int k = 1; k < n->nin; k++) {
    bool seen = false; /* max(a, a) is a; C compilers reject a > a */
    for (int j = 0; j < k; j++)
      seen = seen || !strcmp(a[j], a[k]);
    if (seen) continue;
    Buf t = {0};
    if (dtype_is_float(ew_type(n)))
      buf_printf(&t, "%s%s(%s, %s)", fn, ew_sfx(n), acc.data, a[k]);
    else
      buf_printf(&t, "(%s %s %s ? %s : %s)", acc.data, op, a[k], acc.data, a[k]);
    buf_free(&acc);
    acc = t;
  }
  buf_puts(b, acc.data);
  buf_free(&acc);
}
static void x_max(Buf *b, Node *n, const char **a) { x_extreme(b, n, a, "fmax", ">"); }
static void x_min(Buf *b, Node *n, const char **a) { x_extreme(b, n, a, "fmin", "<"); }
static void x_sum(Buf *b, Node *n, const char **a) {
  buf_puts(b, "(");
  for (int k = 0; k < n->nin; k++)
    buf_printf(b, "%s%s", k ? " + " : "", a[k]);
  buf_puts(b, ")");
}
static void x_mean(Buf *b, Node *n, const char **a) {
  buf_puts(b, "(");
  x_sum(b, n, a);
  buf_printf(b, " / %s)", ew_lit(n, n->nin));
}

/* ---- gradient rules ---- */

Value *build_unb(Graph *g, Value *grad, Value *x) { return build_unbroadcast(g, grad, x->shape); }

Value *build_where(Graph *g, Value *c, Value *a, Value *b) {
  Value *in[3] = {c, a, b};
  return build_finish(g, build_node(g, OP_WHERE, 3, in));
}

void ew_no_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

static void neg_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build1(g, OP_NEG, dy[0]);
  (void)n;
}
static void abs_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build2(g, OP_MUL, dy[0], build1(g, OP_SIGN, n->in[0]));
}
static void add_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build_unb(g, dy[0], n->in[0]);
  dx[1] = build_unb(g, dy[0], n->in[1]);
}
static void sub_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build_unb(g, dy[0], n->in[0]);
  dx[1] = build_unb(g, build1(g, OP_NEG, dy[0]), n->in[1]);
}
static void mul_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build_unb(g, build2(g, OP_MUL, dy[0], n->in[1]), n->in[0]);
  dx[1] = build_unb(g, build2(g, OP_MUL, dy[0], n->in[0]), n->in[1]);
}
/* d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b */
static void div_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build_unb(g, build2(g, OP_DIV, dy[0], n->in[1]), n->in[0]);
  Value *t = build2(g, OP_DIV, build2(g, OP_MUL, dy[0], n->out[0]), n->in[1]);
  dx[1] = build_unb(g, build1(g, OP_NEG, t), n->in[1]);
}
/* d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a (float exponents only) */
static void pow_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *a = n->in[0], *b = n->in[1];
  if (b->dtype != a->dtype) return; /* integer exponents: the importer's pow(x, 2) */
  Value *bm1 = build2(g, OP_SUB, b, build_scalar(g, b->dtype, 1));
  Value *da = build2(g, OP_MUL, b, build2(g, OP_POW, a, bm1));
  dx[0] = build_unb(g, build2(g, OP_MUL, dy[0], da), a);
  Value *db = build2(g, OP_MUL, n->out[0], build1(g, OP_LOG, a));
  dx[1] = build_unb(g, build2(g, OP_MUL, dy[0], db), b);
}
/* y = a - b q with q = (a - y) / b constant almost everywhere */
static void mod_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *q = build2(g, OP_DIV, build2(g, OP_SUB, n->in[0], n->out[0]), n->in[1]);
  dx[0] = build_unb(g, dy[0], n->in[0]);
  dx[1] = build_unb(g, build1(g, OP_NEG, build2(g, OP_MUL, dy[0], q)), n->in[1]);
}
/* The gradient goes to every input equal to the result (all of them on ties). */
static void extreme_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *zero = build_scalar(g, dy[0]->dtype, 0);
  for (int k = 0; k < n->nin; k++)
    dx[k] = build_unb(g, build_where(g, build2(g, OP_EQUAL, n->in[k], n->out[0]), dy[0], zero), n->in[k]);
}
static void sum_g(Graph *g, Node *n, Value **dy, Value **dx) {
  for (int k = 0; k < n->nin; k++)
    dx[k] = build_unb(g, dy[0], n->in[k]);
}
static void mean_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *d = build2(g, OP_MUL, dy[0], build_scalar(g, dy[0]->dtype, 1.0 / n->nin));
  for (int k = 0; k < n->nin; k++)
    dx[k] = build_unb(g, d, n->in[k]);
}

/* ---- the hooks named in ops.def ---- */

EW_HOOKS(neg, TY_NUM, f_neg, x_neg, neg_g)
EW_HOOKS(abs, TY_NUM, f_abs, x_abs, abs_g)
EW_HOOKS(sign, TY_NUM, f_sign, x_sign, ew_no_grad)
EW_HOOKS(add, TY_NUM, f_add, x_add, add_g)
EW_HOOKS(sub, TY_NUM, f_sub, x_sub, sub_g)
EW_HOOKS(mul, TY_NUM, f_mul, x_mul, mul_g)
EW_HOOKS(div, TY_NUM, f_div, x_div, div_g)
EW_HOOKS(pow, TY_POW, f_pow, x_pow, pow_g)
EW_HOOKS(mod, TY_NUM, f_mod, x_mod, mod_g)
EW_HOOKS(max, TY_NUM, f_max, x_max, extreme_g)
EW_HOOKS(min, TY_NUM, f_min, x_min, extreme_g)
EW_HOOKS(sum, TY_NUM, f_sum, x_sum, sum_g)
EW_HOOKS(mean, TY_FLOAT, f_mean, x_mean, mean_g)

/* ---- bit_shift(x, y; direction="LEFT"|"RIGHT"): unsigned integers of one
 * dtype; a shift by 64 or more gives 0, a left shift drops the bits above
 * the dtype's width. Not differentiable. ---- */

static bool shift_left(const Node *n) { return !strcmp(node_string(n, "direction", "LEFT"), "LEFT"); }
static double f_bit_shift(const Node *n, const double *x) {
  uint64_t a = (uint64_t)x[0], s = (uint64_t)x[1];
  return s >= 64 ? 0 : (double)(shift_left(n) ? a << s : a >> s); /* tensor_set wraps to the width */
}
static void x_bit_shift(Buf *b, Node *n, const char **a) {
  const char *t = emit_ctype(n->out[0]->dtype);
  buf_printf(b, "((%s) < 64 ? (%s)((uint64_t)(%s) %s (%s)) : (%s)0)", a[1], t, a[0], shift_left(n) ? "<<" : ">>", a[1],
             t);
}
const char *bit_shift_infer(Graph *g, Node *n) {
  const char *err = ew_infer(g, n, TY_NUM), *d = node_string(n, "direction", "LEFT");
  if (err) return err;
  if (!dtype_is_unsigned(n->out[0]->dtype) || n->out[0]->dtype == DT_BOOL)
    return arena_printf(&g->arena, "bit_shift needs unsigned integers, got %s", dtype_name(n->out[0]->dtype));
  return strcmp(d, "LEFT") && strcmp(d, "RIGHT") ? "bit_shift direction must be LEFT or RIGHT" : NULL;
}
void bit_shift_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  ew_eval(n, in, out, f_bit_shift);
}
void bit_shift_grad(Graph *g, Node *n, Value **dy, Value **dx) { ew_no_grad(g, n, dy, dx); }
void bit_shift_emit(Emit *e, Node *n) { emit_elementwise(e, n, x_bit_shift); }
void bit_shift_expr(Buf *b, Node *n, const char **args) { x_bit_shift(b, n, args); }
