/* op.c - the op table built from ops.def, and helpers the hooks share. */
#include "op.h"

#include <math.h>
#include <string.h>

#define OP(ID, name, onnx, min_in, max_in, nout, flags)                  \
  const char *name##_infer(Graph *g, Node *n);                           \
  void name##_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out);     \
  void name##_grad(Graph *g, Node *n, Value **dy, Value **dx);           \
  void name##_emit(Emit *e, Node *n);
#define EWN(ID, name, onnx, min_in, max_in, flags)                       \
  OP(ID, name, onnx, min_in, max_in, 1, flags)                           \
  void name##_expr(Buf *b, Node *n, const char **args);
#define EW(ID, name, onnx, nin, flags) EWN(ID, name, onnx, nin, nin, flags)
#include "ops.def"
#undef OP
#undef EW
#undef EWN

const OpDef op_table[OP_COUNT] = {
#define OP(ID, name, onnx, min_in, max_in, nout, flags) \
  [OP_##ID] = {#name, onnx, min_in, max_in, nout, flags, name##_infer, name##_eval, name##_grad, name##_emit, NULL},
#define EWN(ID, name, onnx, min_in, max_in, flags)                                                             \
  [OP_##ID] = {#name, onnx, min_in, max_in, 1, (flags) | OPF_ELEMENTWISE, name##_infer, name##_eval, name##_grad, \
               name##_emit, name##_expr},
#define EW(ID, name, onnx, nin, flags) EWN(ID, name, onnx, nin, nin, flags)
#include "ops.def"
#undef OP
#undef EW
#undef EWN
};

bool op_nout_ok(const OpDef *d, int nout) {
  if (d->nout == 0) return nout >= 1;
  return nout == d->nout || ((d->flags & OPF_VAR_OUT) && nout >= 1 && nout <= d->nout);
}

bool op_from_name(const char *name, OpKind *k) {
  for (int i = 0; i < OP_COUNT; i++)
    if (!strcmp(op_table[i].name, name)) {
      *k = (OpKind)i;
      return true;
    }
  return false;
}

const char *op_name(OpKind k) { return op_table[k].name; }

/* float16 and bfloat16 are storage formats: the interpreter reads them into
 * doubles and rounds back (float16 to nearest even; bfloat16 by dropping
 * the low half of the float, as ONNX's reference does). */
static double half_get(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 31 ? (m ? NAN : INFINITY) : e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
  return h >> 15 ? -v : v;
}

static uint16_t half_set(double v) {
  uint16_t s = signbit(v) ? 0x8000 : 0;
  double a = fabs(v);
  if (isnan(v)) return s | 0x7e00;
  if (a >= 65520) return s | 0x7c00; /* rounds past the largest, 65504 */
  int e = -14; /* a in [2^e, 2^(e+1)), or below 2^-14 (subnormal) */
  while (e < 15 && a >= ldexp(1, e + 1)) e++;
  double q = ldexp(a, 10 - e), fl = floor(q); /* in units of the last place */
  int64_t m = (int64_t)fl + (q - fl > 0.5 || (q - fl == 0.5 && fmod(fl, 2) == 1));
  return (uint16_t)(s | (((e + 14) << 10) + m)); /* a carry out of m bumps the exponent */
}

static double bf16_get(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t bf16_set(double v) {
  float f = (float)v;
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)(u >> 16);
}

double tensor_get(const Tensor *t, int64_t i) {
  switch (t->dtype) {
  case DT_F32: return ((float *)t->data)[i];
  case DT_F64: return ((double *)t->data)[i];
  case DT_I8: return ((int8_t *)t->data)[i];
  case DT_I16: return ((int16_t *)t->data)[i];
  case DT_I32: return ((int32_t *)t->data)[i];
  case DT_I64: return (double)((int64_t *)t->data)[i];
  case DT_U8: return ((uint8_t *)t->data)[i];
  case DT_U16: return ((uint16_t *)t->data)[i];
  case DT_U32: return ((uint32_t *)t->data)[i];
  case DT_U64: return (double)((uint64_t *)t->data)[i];
  case DT_BOOL: return ((uint8_t *)t->data)[i] != 0;
  case DT_F16: return half_get(((uint16_t *)t->data)[i]);
  case DT_BF16: return bf16_get(((uint16_t *)t->data)[i]);
  default: NN2C_ASSERT(!"dtype not supported by the interpreter"); return 0;
  }
}

/* Doubles to integers: truncation toward zero, then modulo 2^bits like C's
 * integer arithmetic (so int8 100 + 100 wraps); NaN gives 0 and values
 * beyond 64 bits saturate, where C's own conversion would be undefined. */
static uint64_t wrap64(double v) {
  if (!(v == v)) return 0;
  if (v >= 18446744073709551616.0) return UINT64_MAX;
  if (v >= 9223372036854775808.0) return (uint64_t)v;
  if (v < -9223372036854775808.0) return (uint64_t)INT64_MIN;
  return (uint64_t)(int64_t)v;
}

void tensor_set(Tensor *t, int64_t i, double v) {
  switch (t->dtype) {
  case DT_F32: ((float *)t->data)[i] = (float)v; break;
  case DT_F64: ((double *)t->data)[i] = v; break;
  case DT_I8: ((int8_t *)t->data)[i] = (int8_t)wrap64(v); break;
  case DT_I16: ((int16_t *)t->data)[i] = (int16_t)wrap64(v); break;
  case DT_I32: ((int32_t *)t->data)[i] = (int32_t)wrap64(v); break;
  case DT_I64: ((int64_t *)t->data)[i] = (int64_t)wrap64(v); break;
  case DT_U8: ((uint8_t *)t->data)[i] = (uint8_t)wrap64(v); break;
  case DT_U16: ((uint16_t *)t->data)[i] = (uint16_t)wrap64(v); break;
  case DT_U32: ((uint32_t *)t->data)[i] = (uint32_t)wrap64(v); break;
  case DT_U64: ((uint64_t *)t->data)[i] = wrap64(v); break;
  case DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
  case DT_F16: ((uint16_t *)t->data)[i] = half_set(v); break;
  case DT_BF16: ((uint16_t *)t->data)[i] = bf16_set(v); break;
  default: NN2C_ASSERT(!"dtype not supported by the interpreter");
  }
}

/* ---- builders ---- */

Node *build_node(Graph *g, OpKind op, int nin, Value **in) {
  return node_new(g, op, nin, in, op_table[op].nout);
}

Value *build_finish(Graph *g, Node *n) {
  const char *err = op_table[n->op].infer(g, n);
  if (err) {
    fprintf(stderr, "nn2c: internal error: building %s: %s\n", op_name(n->op), err);
    NN2C_ASSERT(!"builder produced an ill-typed node");
  }
  return n->out[0];
}

Value *build1(Graph *g, OpKind op, Value *a) { return build_finish(g, build_node(g, op, 1, &a)); }

Value *build2(Graph *g, OpKind op, Value *a, Value *b) {
  Value *in[2] = {a, b};
  return build_finish(g, build_node(g, op, 2, in));
}

Value *build_scalar(Graph *g, DType t, double v) {
  NN2C_ASSERT(t == DT_F32 || t == DT_F64);
  Value *c = value_new(g, "c", VK_CONST, t, shape_scalar());
  c->data = arena_alloc(&g->arena, 8);
  Tensor tt = {t, c->shape, 1, c->data};
  tensor_set(&tt, 0, v);
  return c;
}

/* shape=s in the ONNX form: N is written -1 (inferred), zero extents need allowzero. */
void node_set_reshape(Graph *g, Node *n, Shape s) {
  node_set_ints(g, n, "shape", s.d, s.rank);
  for (int i = 0; i < s.rank; i++)
    if (s.d[i] == 0) node_set_int(g, n, "allowzero", 1);
}

Value *build_reshape(Graph *g, Value *x, Shape s) {
  if (shape_eq(x->shape, s)) return x;
  Node *n = build_node(g, OP_RESHAPE, 1, &x);
  node_set_reshape(g, n, s);
  return build_finish(g, n);
}

/* Sums `grad` over the axes where `shape` was broadcast, then reshapes to it. */
Value *build_unbroadcast(Graph *g, Value *grad, Shape shape) {
  if (shape_eq(grad->shape, shape)) return grad;
  Shape gs = grad->shape;
  int off = gs.rank - shape.rank;
  int64_t axes[MAX_RANK];
  int naxes = 0;
  for (int i = 0; i < gs.rank; i++) {
    int j = i - off;
    if (j < 0 || (shape.d[j] == 1 && gs.d[i] != 1)) axes[naxes++] = i;
  }
  Value *r = grad;
  if (naxes) {
    Node *n = build_node(g, OP_REDUCE_SUM, 1, &grad);
    node_set_ints(g, n, "axes", axes, naxes);
    node_set_int(g, n, "keepdims", 0);
    r = build_finish(g, n);
  }
  return build_reshape(g, r, shape);
}

/* ---- inference helpers ---- */

const char *infer_broadcast(Graph *g, Shape a, Shape b, Shape *out) {
  int r = a.rank > b.rank ? a.rank : b.rank;
  out->rank = r;
  for (int i = 0; i < r; i++) {
    int64_t da = i - (r - a.rank) >= 0 ? a.d[i - (r - a.rank)] : 1;
    int64_t db = i - (r - b.rank) >= 0 ? b.d[i - (r - b.rank)] : 1;
    if (da == db || db == 1) out->d[i] = da;
    else if (da == 1) out->d[i] = db;
    else
      return arena_printf(&g->arena, "shapes %s and %s do not broadcast", shape_str(&g->arena, a),
                          shape_str(&g->arena, b));
  }
  return NULL;
}

int normalize_axis(int64_t axis, int rank) {
  if (axis < 0) axis += rank;
  return axis >= 0 && axis < rank ? (int)axis : -1;
}

int attr_ints(const Node *n, const char *key, int64_t *out, int max) {
  const Attr *a = node_attr(n, key);
  if (!a) return -1;
  if (a->type == AT_INT || a->type == AT_FLOAT) {
    out[0] = a->type == AT_INT ? a->i : (int64_t)a->f;
    return max >= 1 ? 1 : -1;
  }
  if ((a->type != AT_INTS && a->type != AT_FLOATS) || a->n > max) return -1;
  for (int i = 0; i < a->n; i++) out[i] = a->type == AT_INTS ? a->ints[i] : (int64_t)a->floats[i];
  return a->n;
}

int attr_floats(const Node *n, const char *key, double *out, int max) {
  const Attr *a = node_attr(n, key);
  if (!a) return -1;
  if (a->type == AT_INT || a->type == AT_FLOAT) {
    out[0] = a->type == AT_INT ? (double)a->i : a->f;
    return max >= 1 ? 1 : -1;
  }
  if ((a->type != AT_INTS && a->type != AT_FLOATS) || a->n > max) return -1;
  for (int i = 0; i < a->n; i++) out[i] = a->type == AT_FLOATS ? a->floats[i] : (double)a->ints[i];
  return a->n;
}

bool dtype_from_onnx(int64_t code, DType *t) {
  static const int map[17] = {-1, DT_F32, DT_U8, DT_I8, DT_U16, DT_I16, DT_I32, DT_I64, -1, DT_BOOL, DT_F16,
                              DT_F64, DT_U32, DT_U64, -1, -1, DT_BF16};
  if (code < 0 || code > 16 || map[code] < 0) return false;
  *t = (DType)map[code];
  return true;
}

void shape_strides(Shape s, int64_t *st) {
  int64_t r = 1;
  for (int i = s.rank - 1; i >= 0; i--) {
    st[i] = r;
    r *= s.d[i];
  }
}

/* ---- emission helpers ---- */

/* Value names become C identifiers; these are taken by the emitted code itself. */
static const char *reserved[] = {
  "B", "m", "x", "y", "out", "loss", "i", "j", "k", "p", "q", "r", "acc", "av", "i0", "i1", "i2", "i3",
  "i4", "i5", "i6", "i7", "u", "h", "keep", "status", "params", "state", "arena",
  /* conv.c */
  "nb", "oh", "ow", "kh", "kw", "ih", "iw", "xo", "xp", "wp", "ci", "co", "gi", "dp", "wr", "dr", "lane", "l", "yp",
  "cnt", "c", "bi", "bv", "bt", "gt", "dq", "xk", "xs", "src", "patch", "zeros", "wt", "wk", "P", "pb", "t", "c0", "ci0",
  "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "first", "last",
  "part", "task", "n0", "n1", "nt", "scratch", "x0", "g", "to", "xr", "p1",
  /* select.c, reduce.c, nn.c */
  "mx", "sum", "lse",
  /* matmul.c */
  "bt", "br", "ib", "j0", "r0", "r1", "r2", "r3",
  "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
  "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
  "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
  "volatile", "while", "main", "errno", NULL,
};

const char *emit_ref(Emit *e, Value *v) {
  if (e->used) e->used[v->id] = 1;
  for (int i = 0; reserved[i]; i++)
    if (!strcmp(v->name, reserved[i])) return arena_printf(&e->g->arena, "%s_", v->name);
  return v->name;
}

char *emit_dim(Emit *e, Value *v, int axis) {
  int64_t d = v->shape.d[axis];
  return d == DIM_BATCH ? arena_strdup(&e->g->arena, "B") : arena_printf(&e->g->arena, "%lld", (long long)d);
}

char *emit_numel_range(Emit *e, Value *v, int from, int to) {
  int64_t c = 1;
  bool batch = false;
  for (int i = from; i < to; i++) {
    if (v->shape.d[i] == DIM_BATCH) batch = true;
    else c *= v->shape.d[i];
  }
  if (!batch) return arena_printf(&e->g->arena, "%lld", (long long)c);
  if (c == 1) return arena_strdup(&e->g->arena, "(size_t)B");
  return arena_printf(&e->g->arena, "(size_t)B * %lld", (long long)c);
}

void view_strides(Shape s, Lin *st) {
  Lin r = {1, 0};
  for (int i = s.rank - 1; i >= 0; i--) {
    st[i] = r;
    if (s.d[i] == DIM_BATCH) r = (Lin){0, r.c};
    else r = (Lin){r.c * s.d[i], r.cb * s.d[i]};
  }
}

static char *lin_str(Emit *e, Lin l) {
  if (!l.cb) return arena_printf(&e->g->arena, "%lld", (long long)l.c);
  if (!l.c) return arena_printf(&e->g->arena, "(ptrdiff_t)B * %lld", (long long)l.cb);
  return arena_printf(&e->g->arena, "(%lld + (ptrdiff_t)B * %lld)", (long long)l.c, (long long)l.cb);
}

/* Drops extent-1 dimensions and merges neighbours that are contiguous in the input. */
static View view_simplify(const View *v) {
  View s = *v;
  s.rank = 0;
  for (int k = 0; k < v->rank; k++) {
    if (v->dim[k] == 1) continue;
    int t = s.rank - 1;
    bool merge = t >= 0 && v->dim[k] != DIM_BATCH && s.dim[t] != DIM_BATCH && !v->stride[k].cb &&
                 !s.stride[t].cb && s.stride[t].c == v->stride[k].c * v->dim[k];
    if (merge) {
      s.dim[t] *= v->dim[k];
      s.stride[t] = v->stride[k];
    } else {
      s.dim[++t] = v->dim[k];
      s.stride[t] = v->stride[k];
      s.rank++;
    }
  }
  return s;
}

void emit_view_copy(Emit *e, Value *out, Value *in, const View *view, bool scatter) {
  View v = view_simplify(view);
  for (int k = 0; k < v.rank; k++)
    if (v.dim[k] == 0) return; /* nothing to copy (a loop to 0 would warn) */
  const char *O = emit_ref(e, out), *I = emit_ref(e, in), *ty = emit_ctype(out->dtype);
  bool run = v.rank > 0 && v.stride[v.rank - 1].c == 1 && !v.stride[v.rank - 1].cb; /* innermost contiguous */
  int loops = run ? v.rank - 1 : v.rank;
  Buf idx = {0};
  buf_printf(&idx, "(ptrdiff_t)%s", lin_str(e, v.offset));
  for (int k = 0; k < loops; k++) buf_printf(&idx, " + (ptrdiff_t)i%d * %s", k, lin_str(e, v.stride[k]));
  emit_open(e, "");
  emit_line(e, "size_t q = 0;");
  for (int k = 0; k < loops; k++) {
    const char *d = v.dim[k] == DIM_BATCH ? "B" : arena_printf(&e->g->arena, "%lld", (long long)v.dim[k]);
    emit_open(e, "for (size_t i%d = 0; i%d < (size_t)%s; i%d++)", k, k, d, k);
  }
  if (run) {
    const char *d = v.dim[v.rank - 1] == DIM_BATCH ? "B" : arena_printf(&e->g->arena, "%lld", (long long)v.dim[v.rank - 1]);
    if (scatter) emit_line(e, "memcpy(%s + %s, %s + q, sizeof(%s) * (size_t)%s);", I, idx.data, O, ty, d);
    else emit_line(e, "memcpy(%s + q, %s + %s, sizeof(%s) * (size_t)%s);", O, I, idx.data, ty, d);
    emit_line(e, "q += (size_t)%s;", d);
  } else if (scatter) emit_line(e, "%s[%s] = %s[q++];", I, idx.data, O);
  else emit_line(e, "%s[q++] = %s[%s];", O, I, idx.data);
  for (int k = 0; k < loops; k++) emit_close(e);
  emit_line(e, "(void)q;");
  emit_close(e);
  buf_free(&idx);
}

char *emit_numel(Emit *e, Value *v) { return emit_numel_range(e, v, 0, v->shape.rank); }


static void emit_indent(Emit *e) {
  for (int i = 0; i < e->indent; i++) buf_puts(e->b, "  ");
}

void emit_line(Emit *e, const char *fmt, ...) {
  va_list ap;
  emit_indent(e);
  va_start(ap, fmt);
  buf_vprintf(e->b, fmt, ap);
  va_end(ap);
  buf_puts(e->b, "\n");
}

void emit_open(Emit *e, const char *fmt, ...) {
  va_list ap;
  emit_indent(e);
  va_start(ap, fmt);
  buf_vprintf(e->b, fmt, ap);
  va_end(ap);
  buf_puts(e->b, " {\n");
  e->indent++;
}

void emit_scope_open(Emit *e) {
  emit_line(e, "{");
  e->indent++;
}

void emit_close(Emit *e) {
  e->indent--;
  emit_line(e, "}");
}

char *emit_float(Emit *e, double v) {
  NN2C_ASSERT(isfinite(v));
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.9g", v);
  if (!strpbrk(tmp, ".e")) strcat(tmp, ".0");
  return arena_printf(&e->g->arena, "%sf", tmp);
}

const char *emit_ctype(DType t) {
  switch (t) {
  case DT_F32: return "float";
  case DT_F64: return "double";
  case DT_I8: return "int8_t";
  case DT_I16: return "int16_t";
  case DT_I32: return "int32_t";
  case DT_I64: return "int64_t";
  case DT_U8: return "uint8_t";
  case DT_U16:
  case DT_F16:
  case DT_BF16: return "uint16_t"; /* storage; casts convert (cast_half_helpers) */
  case DT_U32: return "uint32_t";
  case DT_U64: return "uint64_t";
  case DT_BOOL: return "uint8_t";
  default: NN2C_ASSERT(!"dtype has no C type"); return "void";
  }
}
