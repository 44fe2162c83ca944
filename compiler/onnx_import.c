/* onnx_import.c - ONNX model -> IR graph, through protobuf-c code generated
 * at build time from the system's onnx.proto.
 *
 * 1. Unpack the ModelProto; read the opset of each domain.
 * 2. Graph inputs (those without an initializer) become VK_INPUT values, with
 *    symbolic dimensions fixed by --dim; then initializers become constants
 *    (raw_data, typed fields or external data files next to the model).
 * 3. Nodes in file order (ONNX requires topological order, so a name used
 *    before it is defined is dangling or part of a cycle). Each node goes to a
 *    special handler (ops whose IR form differs: Conv layout, Gemm, Reshape,
 *    Shape, ...) or to the generic path: the IR op whose ops.def `onnx` field
 *    is the op type, with the same inputs and attributes; inputs beyond the IR
 *    op's tensor inputs are compile-time parameters and become attributes
 *    named as the ONNX input (contracts.md).
 * 4. Each new node gets its shape inference at once and, when all its inputs
 *    are constants, is folded with the interpreter's kernel, so the shape
 *    arithmetic PyTorch emits (Shape -> Gather -> Concat -> Reshape) turns
 *    into constants that later nodes read as attributes.
 * Errors name the node; the protobuf is freed before returning. */
#include "onnx.h"
#include "rnn.h"

#include <math.h>
#include <string.h>

#include "onnx.pb-c.h"

#define MAX_NUMEL ((int64_t)1 << 32)   /* larger tensors are reported, not allocated */
#define MAX_BYTES ((int64_t)1 << 34)
#define LIMIT_WINDOW (1 << 20) /* kernel sizes, strides, dilations, pads */
#define FOLD_BYTES ((int64_t)1 << 26)  /* larger constant results are computed at run time */

typedef struct {
  const char *name; /* ONNX name */
  Value *v;
} Binding;

typedef struct {
  Graph *g;
  const OnnxOptions *opt;
  OnnxStatus *st;
  const char *path;
  int64_t opset;             /* of the default domain */
  Onnx__ModelProto *model;
  Binding *b;
  int nb, capb;
  const Onnx__NodeProto *node; /* being imported, for messages */
  Value *inputs[64];           /* graph inputs by position (for need_const) */
  int ninputs;
} Imp;

typedef const Onnx__NodeProto NodeP;

/* ---- diagnostics ---- */

/* A node's name, or its first output's when it has none (common in exports). */
static const char *node_name(const Onnx__NodeProto *np) {
  if (np->name && *np->name) return np->name;
  return np->n_output && np->output[0] ? np->output[0] : "?";
}

static bool fail(Imp *I, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (I->node)
    error_plain("%s: node '%s' (%s): %s", I->path, node_name(I->node), I->node->op_type ? I->node->op_type : "?", msg);
  else error_plain("%s: %s", I->path, msg);
  return false;
}

static bool unsupported(Imp *I, const char *what, const char *fmt, ...) {
  if (I->st) {
    I->st->unsupported = true;
    snprintf(I->st->what, sizeof I->st->what, "%s", what);
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return fail(I, "%s", msg);
}

/* The graph input (by position) v is computed from, or -1. */
static int input_of(Imp *I, Value *v, int depth) {
  for (int k = 0; k < I->ninputs; k++)
    if (I->inputs[k] == v) return k;
  for (int i = 0; v->def && depth < 64 && i < v->def->nin; i++) {
    int k = input_of(I, v->def->in[i], depth + 1);
    if (k >= 0) return k;
  }
  return -1;
}

/* A value that must be known at compile time is not: if it is computed from
 * a graph input, say which, so a caller may freeze it and try again. */
static bool need_const(Imp *I, Value *v, const char *what) {
  if (I->st) I->st->need_const = input_of(I, v, 0);
  return unsupported(I, I->node ? I->node->op_type : "?", "%s must be a constant (nn2c needs it at compile time)", what);
}

/* ---- names and bindings ---- */

static const char *c_name(Imp *I, const char *s) {
  char *r = arena_printf(&I->g->arena, "%s%s", s && (*s >= '0' && *s <= '9') ? "v" : "", s && *s ? s : "t");
  for (char *p = r; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) *p = '_';
  return r;
}

static Value *lookup(Imp *I, const char *name) {
  for (int i = I->nb - 1; i >= 0; i--)
    if (!strcmp(I->b[i].name, name)) return I->b[i].v;
  return NULL;
}

static bool value_bound(Imp *I, Value *v) {
  for (int i = 0; i < I->nb; i++)
    if (I->b[i].v == v) return true;
  return false;
}

static void bind(Imp *I, const char *name, Value *v) {
  if (I->nb == I->capb) {
    I->capb = I->capb ? I->capb * 2 : 64;
    I->b = xrealloc(I->b, sizeof(Binding) * (size_t)I->capb);
  }
  I->b[I->nb++] = (Binding){name, v};
}

/* ---- dtypes and tensors ---- */


int dtype_to_onnx(DType d) {
  static const int map[DT_COUNT] = {[DT_F32] = 1, [DT_F64] = 11, [DT_F16] = 10, [DT_BF16] = 16, [DT_I8] = 3,
                                    [DT_I16] = 5, [DT_I32] = 6,  [DT_I64] = 7,  [DT_U8] = 2,    [DT_U16] = 4,
                                    [DT_U32] = 12, [DT_U64] = 13, [DT_BOOL] = 9};
  return map[d];
}

static const char *onnx_type_name(int32_t t) {
  static const char *n[17] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string",
                              "bool", "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16"};
  return t >= 0 && t <= 16 ? n[t] : "unknown";
}

/* Dimensions from a list, with overflow checks; false after an error. */
static bool make_shape(Imp *I, const char *what, size_t rank, const int64_t *d, Shape *s) {
  if (rank > MAX_RANK) return unsupported(I, "rank", "%s has rank %zu (nn2c supports up to %d)", what, rank, MAX_RANK);
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) {
    if (d[i] < 0 || d[i] > MAX_NUMEL || (d[i] && n > MAX_NUMEL / d[i]))
      return fail(I, "%s: dimension %zu (%lld) is negative or the element count overflows", what, i, (long long)d[i]);
    n *= d[i];
  }
  *s = shape_make((int)rank, d);
  return true;
}

static bool is_external(const Onnx__TensorProto *t) {
  return t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

static bool read_external(Imp *I, const Onnx__TensorProto *t, void *dst, size_t bytes) {
  const char *loc = NULL;
  long long off = 0, len = -1;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const char *k = t->external_data[i]->key, *v = t->external_data[i]->value;
    if (!k || !v) continue;
    if (!strcmp(k, "location")) loc = v;
    else if (!strcmp(k, "offset")) off = atoll(v);
    else if (!strcmp(k, "length")) len = atoll(v);
  }
  if (!loc || loc[0] == '/' || strstr(loc, ".."))
    return fail(I, "initializer '%s': external data needs a relative location inside the model's folder", t->name);
  const char *slash = strrchr(I->path, '/');
  char *file = arena_printf(&I->g->arena, "%.*s%s", slash ? (int)(slash - I->path + 1) : 0, I->path, loc);
  FILE *f = fopen(file, "rb");
  bool ok = f && off >= 0 && (len < 0 || (size_t)len == bytes) && fseek(f, 0, SEEK_END) == 0 &&
            ftell(f) >= off + (long long)bytes && fseek(f, (long)off, SEEK_SET) == 0 &&
            (!dst || fread(dst, 1, bytes, f) == bytes); /* no dst: only check the file is large enough */
  if (f) fclose(f);
  return ok || fail(I, "initializer '%s': cannot read %zu bytes at offset %lld of '%s'", t->name, bytes, off, file);
}

/* Checks that a tensor holds n elements of d, before anything is allocated. */
static bool tensor_size_ok(Imp *I, const Onnx__TensorProto *t, DType d, int64_t n) {
  size_t bytes = (size_t)n * (size_t)dtype_size(d);
  if (is_external(t)) return read_external(I, t, NULL, bytes);
  if (t->has_raw_data)
    return t->raw_data.len == bytes ||
           fail(I, "tensor '%s': raw_data has %zu bytes, its shape needs %zu", t->name ? t->name : "", t->raw_data.len, bytes);
  size_t have = d == DT_F32 ? t->n_float_data : d == DT_F64 ? t->n_double_data : d == DT_I64 ? t->n_int64_data
              : d == DT_U32 || d == DT_U64 ? t->n_uint64_data : t->n_int32_data;
  return (int64_t)have == n ||
         fail(I, "tensor '%s' has %zu values, its shape needs %lld", t->name ? t->name : "", have, (long long)n);
}

/* Copies a tensor's elements (whichever field holds them) into dst. */
static bool tensor_data(Imp *I, const Onnx__TensorProto *t, DType d, int64_t n, void *dst) {
  size_t bytes = (size_t)n * (size_t)dtype_size(d);
  Tensor out = {d, shape_scalar(), n, dst};
  if (is_external(t)) return read_external(I, t, dst, bytes);
  if (t->has_raw_data) {
    if (bytes) memcpy(dst, t->raw_data.data, bytes);
    return true;
  }
  for (int64_t i = 0; i < n; i++) {
    switch (d) {
    case DT_F32: ((float *)dst)[i] = t->float_data[i]; break;
    case DT_F64: ((double *)dst)[i] = t->double_data[i]; break;
    case DT_I64: ((int64_t *)dst)[i] = t->int64_data[i]; break;
    case DT_U64: ((uint64_t *)dst)[i] = t->uint64_data[i]; break;
    case DT_U32: ((uint32_t *)dst)[i] = (uint32_t)t->uint64_data[i]; break;
    case DT_F16: case DT_BF16: ((uint16_t *)dst)[i] = (uint16_t)t->int32_data[i]; break;
    default: tensor_set(&out, i, t->int32_data[i]); break;
    }
  }
  return true;
}

/* A TensorProto as a constant value (named after it, or `name`). */
static Value *tensor_const(Imp *I, const Onnx__TensorProto *t, const char *name) {
  DType d;
  Shape s;
  const char *tn = name ? name : t->name ? t->name : "const";
  if (!t->has_data_type || !dtype_from_onnx(t->data_type, &d)) {
    const char *ty = onnx_type_name(t->has_data_type ? t->data_type : 0);
    unsupported(I, ty, "tensor '%s' has dtype %s, which nn2c does not support", tn, ty);
    return NULL;
  }
  if (!make_shape(I, arena_printf(&I->g->arena, "tensor '%s'", tn), t->n_dims, t->dims, &s)) return NULL;
  int64_t n = shape_numel_static(s);
  if (n * dtype_size(d) > MAX_BYTES) {
    fail(I, "tensor '%s' is too large (%lld elements)", tn, (long long)n);
    return NULL;
  }
  if (!tensor_size_ok(I, t, d, n)) return NULL;
  Value *v = value_new(I->g, c_name(I, tn), VK_CONST, d, s);
  v->data = arena_alloc(&I->g->arena, (size_t)(n ? n : 1) * (size_t)dtype_size(d));
  return tensor_data(I, t, d, n, v->data) ? v : NULL;
}

/* ---- graph inputs ---- */

static bool is_batch_dim(Imp *I, const char *dim_param, size_t axis) {
  const char *b = I->opt->batch_dim;
  return b && (*b ? !strcmp(b, dim_param) : axis == 0 && I->ninputs == 0);
}

static bool input_shape(Imp *I, const Onnx__ValueInfoProto *vi, DType *d, Shape *s) {
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return unsupported(I, "non-tensor input", "input '%s' is not a tensor (sequences and maps are not supported)", vi->name);
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (!tt->has_elem_type || !dtype_from_onnx(tt->elem_type, d)) {
    const char *ty = onnx_type_name(tt->has_elem_type ? tt->elem_type : 0);
    return unsupported(I, ty, "input '%s' has dtype %s, which nn2c does not support", vi->name, ty);
  }
  if (!tt->shape) return fail(I, "input '%s' has no shape", vi->name);
  int64_t dims[MAX_RANK + 1];
  size_t rank = tt->shape->n_dim;
  if (rank > MAX_RANK) return unsupported(I, "rank", "input '%s' has rank %zu", vi->name, rank);
  bool batch = false;
  for (size_t i = 0; i < rank; i++) {
    const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
    if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      dims[i] = dm->dim_value;
      continue;
    }
    const char *p = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM ? dm->dim_param : "?";
    bool found = false;
    const Shape *given = I->ninputs < I->opt->nshapes ? &I->opt->shapes[I->ninputs] : NULL;
    if (given && given->rank == (int)rank) dims[i] = given->d[i], found = true;
    for (int k = 0; k < I->opt->ndims && !found; k++)
      if (!strcmp(I->opt->dims[k].name, p)) dims[i] = I->opt->dims[k].value, found = true;
    if (!found && is_batch_dim(I, p, i) && !batch) dims[i] = 1, batch = found = true;
    if (!found) return fail(I, "input '%s': dimension %zu is symbolic ('%s'); fix it with --dim %s=VALUE", vi->name, i, p, p);
  }
  if (!make_shape(I, arena_printf(&I->g->arena, "input '%s'", vi->name), rank, dims, s)) return false;
  for (size_t i = 0; i < rank && batch; i++) {
    const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
    if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && is_batch_dim(I, dm->dim_param, i))
      s->d[i] = DIM_BATCH, batch = false;
  }
  return true;
}

static bool import_inputs(Imp *I, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name || !*vi->name) return fail(I, "graph input %zu has no name", i);
    bool init = false;
    for (size_t k = 0; k < gp->n_initializer && !init; k++) init = gp->initializer[k]->name && !strcmp(gp->initializer[k]->name, vi->name);
    if (init) continue;
    DType d = DT_F32;
    Shape s;
    if (!input_shape(I, vi, &d, &s)) return false;
    const OnnxFrozen *fz = NULL;
    for (int k = 0; k < I->opt->nfrozen; k++)
      if (I->opt->frozen[k].index == I->ninputs) fz = &I->opt->frozen[k];
    Value *v = value_new(I->g, c_name(I, vi->name), fz ? VK_CONST : VK_INPUT, d, s);
    if (fz) {
      size_t bytes = (size_t)shape_numel_static(s) * (size_t)dtype_size(d);
      if (fz->dtype != d || !shape_eq(fz->shape, s)) return fail(I, "frozen input '%s' has the wrong type", vi->name);
      v->data = memcpy(arena_alloc(&I->g->arena, bytes + 1), fz->data, bytes);
    }
    if (I->ninputs < 64) I->inputs[I->ninputs++] = v;
    bind(I, vi->name, v);
  }
  for (size_t k = 0; k < gp->n_initializer; k++) {
    const Onnx__TensorProto *t = gp->initializer[k];
    if (!t->name || !*t->name) return fail(I, "initializer %zu has no name", k);
    Value *v = tensor_const(I, t, NULL);
    if (!v) return false;
    /* trainable before the nodes come in, so no folding bakes them into constants */
    if (I->opt->trainable && v->dtype == DT_F32 && shape_numel_static(v->shape) > 0)
      v->kind = VK_PARAM, v->init = (Init){INIT_DATA, 0, 0};
    bind(I, t->name, v);
  }
  if (gp->n_sparse_initializer) return unsupported(I, "sparse initializer", "sparse initializers are not supported");
  return true;
}

/* ---- building nodes ---- */

static int find_ir_op(const char *onnx_type) {
  for (int k = 0; k < OP_COUNT; k++)
    if (!strcmp(op_table[k].onnx, onnx_type)) return k;
  return -1;
}

static Node *mk(Imp *I, OpKind op, int nin, Value **in) { return node_new(I->g, op, nin, in, op_table[op].nout); }

/* Shape inference now, and folding when every input is constant. */
static bool finish(Imp *I, Node *n) {
  const OpDef *d = &op_table[n->op];
  if (n->nin < d->min_in || n->nin > d->max_in)
    return fail(I, "%s takes %d..%d inputs, got %d", d->name, d->min_in, d->max_in, n->nin);
  const char *err = d->infer(I->g, n);
  if (err) return fail(I, "%s", err);
  for (int k = 0; k < n->nout; k++) {
    Value *o = n->out[k];
    int64_t c = 1;
    for (int i = 0; i < o->shape.rank; i++) {
      int64_t e = o->shape.d[i] == DIM_BATCH ? 1 : o->shape.d[i];
      if (e < 0 || (e && c > MAX_NUMEL / e)) return fail(I, "output %d has an absurd shape", k);
      c *= e;
    }
    bool storage = n->op == OP_CAST || n->op == OP_CAST_LIKE || n->op == OP_RESHAPE; /* generic() computes in f32 */
    if ((o->dtype == DT_F16 || o->dtype == DT_BF16) && !storage)
      return unsupported(I, "float16", "float16 results of %s are not supported", d->name);
  }
  int64_t most = 0; /* folding allocates the results: only for modest sizes */
  for (int k = 0; k < n->nout; k++) most += shape_numel(n->out[k]->shape, 1) * dtype_size(n->out[k]->dtype);
  return most > FOLD_BYTES || constfold_node(I->g, n) || fail(I, "on its constant inputs");
}

static Value *mk2(Imp *I, OpKind op, Value *a, Value *b) {
  if (!a || !b) return NULL;
  Value *in[2] = {a, b};
  Node *n = mk(I, op, 2, in);
  return finish(I, n) ? n->out[0] : NULL;
}

static Value *mk1(Imp *I, OpKind op, Value *a) {
  Node *n = a ? mk(I, op, 1, &a) : NULL;
  return n && finish(I, n) ? n->out[0] : NULL;
}

static Value *reshape_to(Imp *I, Value *x, Shape s) {
  if (shape_eq(x->shape, s)) return x;
  Node *n = mk(I, OP_RESHAPE, 1, &x);
  node_set_reshape(I->g, n, s);
  return finish(I, n) ? n->out[0] : NULL;
}

static Value *scalar_like(Imp *I, Value *x, double v) {
  Value *c = value_new(I->g, "c", VK_CONST, x->dtype, shape_scalar());
  c->data = arena_alloc(&I->g->arena, 8);
  Tensor t = {x->dtype, c->shape, 1, c->data};
  tensor_set(&t, 0, v);
  return c;
}

/* ONNX attribute -> IR attribute of the same name (tensors become lists). */
static bool copy_attr(Imp *I, Node *n, const Onnx__AttributeProto *a, const char *key) {
  Graph *g = I->g;
  switch (a->type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: node_set_int(g, n, key, a->i); return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: node_set_float(g, n, key, a->f); return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: node_set_ints(g, n, key, a->ints, (int)a->n_ints); return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    node_set_string(g, n, key, arena_strndup(&g->arena, (const char *)a->s.data, a->s.len));
    return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
    double *f = arena_alloc(&g->arena, sizeof(double) * (a->n_floats + 1));
    for (size_t i = 0; i < a->n_floats; i++) f[i] = a->floats[i];
    node_set_floats(g, n, key, f, (int)a->n_floats);
    return true;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
    Value *c = a->t ? tensor_const(I, a->t, key) : NULL;
    if (!c) return false;
    Tensor t = {c->dtype, c->shape, shape_numel_static(c->shape), c->data};
    if (dtype_is_float(c->dtype)) {
      double *f = arena_alloc(&g->arena, sizeof(double) * (size_t)(t.numel + 1));
      for (int64_t i = 0; i < t.numel; i++) f[i] = tensor_get(&t, i);
      node_set_floats(g, n, key, f, (int)t.numel);
    } else {
      int64_t *v = arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(t.numel + 1));
      for (int64_t i = 0; i < t.numel; i++) v[i] = c->dtype == DT_I64 ? ((int64_t *)c->data)[i] : (int64_t)tensor_get(&t, i);
      node_set_ints(g, n, key, v, (int)t.numel);
    }
    node_set_int(g, n, arena_printf(&g->arena, "%s_dtype", key), dtype_to_onnx(c->dtype));
    if (!node_attr(n, "dtype")) node_set_int(g, n, "dtype", dtype_to_onnx(c->dtype)); /* ConstantOfShape's result */
    return true;
  }
  default: return unsupported(I, "graph attribute", "attribute '%s' has a type nn2c does not support", a->name);
  }
}

/* A constant, or a trainable initializer read where ONNX needs a constant. */
static bool has_data(const Value *v) { return v->kind == VK_CONST || (v->kind == VK_PARAM && v->init.kind == INIT_DATA); }

/* A constant input as integers (shapes, axes); false if not constant. */
static bool const_ints(Value *v, int64_t **out, int *n, Arena *a) {
  if (!has_data(v) || v->shape.rank > 1) return false;
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  *n = (int)t.numel;
  *out = arena_alloc(a, sizeof(int64_t) * (size_t)(t.numel + 1));
  for (int64_t i = 0; i < t.numel; i++) (*out)[i] = v->dtype == DT_I64 ? ((int64_t *)v->data)[i] : (int64_t)tensor_get(&t, i);
  return true;
}

/* A constant input as an attribute named after the ONNX input. */
static bool input_to_attr(Imp *I, Node *n, Value *v, const char *key) {
  if (!has_data(v)) return need_const(I, v, arena_printf(&I->g->arena, "input '%s'", key));
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  if (!strcmp(key, "start") || !strcmp(key, "values")) /* Range's and OneHot's result dtype */
    node_set_int(I->g, n, "dtype", dtype_to_onnx(v->dtype));
  if (dtype_is_float(v->dtype)) {
    double *f = arena_alloc(&I->g->arena, sizeof(double) * (size_t)(t.numel + 1));
    for (int64_t i = 0; i < t.numel; i++) f[i] = tensor_get(&t, i);
    if (v->shape.rank == 0) node_set_float(I->g, n, key, f[0]);
    else node_set_floats(I->g, n, key, f, (int)t.numel);
  } else {
    int64_t *x;
    int cnt;
    if (!const_ints(v, &x, &cnt, &I->g->arena)) return fail(I, "input '%s' must have rank 0 or 1", key);
    bool scalar = v->shape.rank == 0 || (cnt == 1 && (!strcmp(key, "k") || !strcmp(key, "axis"))); /* TopK's K is [1] */
    if (scalar) node_set_int(I->g, n, key, x[0]);
    else node_set_ints(I->g, n, key, x, cnt);
  }
  return true;
}

/* Names of ONNX inputs that are compile-time parameters (contracts.md). */
static const struct {
  const char *op;
  const char *in[5];
} param_inputs[] = {
  {"Reshape", {"data", "shape"}},       {"Expand", {"input", "shape"}},
  {"Tile", {"input", "repeats"}},       {"Slice", {"data", "starts", "ends", "axes", "steps"}},
  {"Pad", {"data", "pads", "constant_value", "axes"}}, {"TopK", {"X", "k"}},
  {"Squeeze", {"data", "axes"}},        {"Unsqueeze", {"data", "axes"}},
  {"ReduceSum", {"data", "axes"}},      {"Split", {"input", "split"}},
  {"OneHot", {"indices", "depth", "values"}}, {"Range", {"start", "limit", "delta"}},
  {"Clip", {"input", "min", "max"}},    {"Resize", {"X", "roi", "scales", "sizes"}},
  {"Upsample", {"X", "scales"}},        {"ConstantOfShape", {"input"}},
  {"CumSum", {"x", "axis"}},            {"Trilu", {"input", "k"}},            {"Dropout", {"data", "ratio", "training_mode"}},
};

static const char *param_input_name(const char *op, size_t i) {
  for (size_t k = 0; k < sizeof param_inputs / sizeof param_inputs[0]; k++)
    if (!strcmp(param_inputs[k].op, op)) return i < 5 ? param_inputs[k].in[i] : NULL;
  return NULL;
}

/* Attributes renamed across opsets (older attribute -> today's input name). */
static const char *attr_key(Imp *I, const char *op, const char *name) {
  if (!strcmp(op, "Pad") && !strcmp(name, "value")) return "constant_value";
  (void)I;
  return name;
}

static const Onnx__AttributeProto *attr(NodeP *np, const char *name) {
  for (size_t i = 0; i < np->n_attribute; i++)
    if (np->attribute[i]->name && !strcmp(np->attribute[i]->name, name)) return np->attribute[i];
  return NULL;
}

static int64_t attr_i(NodeP *np, const char *name, int64_t dflt) {
  const Onnx__AttributeProto *a = attr(np, name);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ? a->i : dflt;
}

static double attr_f(NodeP *np, const char *name, double dflt) {
  const Onnx__AttributeProto *a = attr(np, name);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT ? a->f : dflt;
}

static Value *cast_to(Imp *I, Value *x, DType t);

static bool generic(Imp *I, NodeP *np, int op, Value **in, Value **out) {
  const OpDef *d = &op_table[op];
  int nt = 0; /* tensor inputs: the leading ones, up to the IR op's max */
  while (nt < (int)np->n_input && nt < d->max_in && in[nt]) nt++;
  DType half = DT_F32; /* float16 and bfloat16 are storage only: other ops compute in f32 and round back */
  for (int k = 0; k < nt && op != OP_CAST && op != OP_CAST_LIKE; k++)
    if (in[k]->dtype == DT_F16 || in[k]->dtype == DT_BF16) half = in[k]->dtype, in[k] = cast_to(I, in[k], DT_F32);
  for (int k = 0; k < nt; k++)
    if (!in[k]) return false;
  Node *n = node_new(I->g, (OpKind)op, nt, in, d->flags & OPF_VAR_OUT ? (int)np->n_output : d->nout);
  for (size_t i = (size_t)nt; i < np->n_input; i++) {
    if (!in[i]) continue;
    const char *key = param_input_name(np->op_type, i);
    if (!key) return unsupported(I, np->op_type, "input %zu of %s is not supported", i, np->op_type);
    bool reduce = !strncmp(np->op_type, "Reduce", 6);
    if (reduce && in[i]->kind == VK_CONST && !shape_numel_static(in[i]->shape) && !attr_i(np, "noop_with_empty_axes", 0))
      continue; /* empty axes: reduce over all of them */
    if (!input_to_attr(I, n, in[i], key)) return false;
  }
  for (size_t i = 0; i < np->n_attribute; i++)
    if (!copy_attr(I, n, np->attribute[i], attr_key(I, np->op_type, np->attribute[i]->name))) return false;
  if (!strcmp(np->op_type, "LeakyRelu") && !node_attr(n, "alpha")) node_set_float(I->g, n, "alpha", 0.01); /* not Keras's 0.3 */
  bool softmax_family = !strcmp(np->op_type, "Softmax") || !strcmp(np->op_type, "LogSoftmax") || !strcmp(np->op_type, "Hardmax");
  if (softmax_family && I->opset < 13) node_set_int(I->g, n, "legacy_2d", 1);
  node_set_int(I->g, n, "opset", I->opset);
  if (!strcmp(np->op_type, "Cast") && node_int(n, "to", 1) == 8) return unsupported(I, "string", "Cast to string is not supported");
  if (!finish(I, n)) return false;
  for (int k = 0; k < n->nout; k++) out[k] = half != DT_F32 && n->out[k]->dtype == DT_F32 ? cast_to(I, n->out[k], half) : n->out[k];
  return true;
}

/* ---- special handlers ---- */

typedef bool (*Handler)(Imp *I, NodeP *np, Value **in, int nin, Value **out);

/* The handler's inputs: lo..hi of them, the first lo present. */
static bool need_inputs(Imp *I, Value **in, int nin, int lo, int hi) {
  for (int i = 0; i < lo && i < nin; i++)
    if (!in[i]) return fail(I, "input %d is missing", i);
  return (nin >= lo && nin <= hi) || fail(I, "expects %d..%d inputs, got %d", lo, hi, nin);
}

static Value *int64_const(Imp *I, const char *name, int rank, const int64_t *d, int n) {
  Value *v = value_new(I->g, name, VK_CONST, DT_I64, rank ? shape_make(1, (int64_t[]){n}) : shape_scalar());
  v->data = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(n + 1));
  memcpy(v->data, d, sizeof(int64_t) * (size_t)n);
  return v;
}

static bool h_constant(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)in, (void)nin;
  if (np->n_attribute != 1) return fail(I, "Constant needs exactly one value attribute");
  const Onnx__AttributeProto *a = np->attribute[0];
  const char *name = np->n_output ? np->output[0] : "c";
  if (!strcmp(a->name, "value") && a->t) return (out[0] = tensor_const(I, a->t, name)) != NULL;
  if (!strcmp(a->name, "value_int")) return (out[0] = int64_const(I, name, 0, &a->i, 1)) != NULL;
  if (!strcmp(a->name, "value_ints")) return (out[0] = int64_const(I, name, 1, a->ints, (int)a->n_ints)) != NULL;
  bool one = !strcmp(a->name, "value_float");
  if (!one && strcmp(a->name, "value_floats")) return unsupported(I, "Constant", "Constant %s is not supported", a->name);
  int cnt = one ? 1 : (int)a->n_floats;
  Value *v = value_new(I->g, c_name(I, name), VK_CONST, DT_F32, one ? shape_scalar() : shape_make(1, (int64_t[]){cnt}));
  v->data = arena_alloc(&I->g->arena, sizeof(float) * (size_t)(cnt + 1));
  memcpy(v->data, one ? &a->f : a->floats, sizeof(float) * (size_t)cnt);
  return (out[0] = v) != NULL;
}

static bool h_identity(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!need_inputs(I, in, nin, 1, 3)) return false;
  out[0] = in[0];
  if (np->n_output > 1 && *np->output[1]) { /* Dropout's mask: all ones in inference */
    Value *m = value_new(I->g, "mask", VK_CONST, DT_BOOL, in[0]->shape);
    m->data = arena_alloc(&I->g->arena, (size_t)shape_numel_static(in[0]->shape) + 1);
    memset(m->data, 1, (size_t)shape_numel_static(in[0]->shape));
    out[1] = m;
  }
  return true;
}

static bool h_shape(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  Shape s = in[0]->shape;
  if (shape_has_batch(s)) return unsupported(I, "Shape", "Shape of a value with the batch dimension");
  int64_t lo = attr_i(np, "start", 0), hi = attr_i(np, "end", s.rank);
  lo = lo < 0 ? lo + s.rank : lo;
  hi = hi < 0 ? hi + s.rank : hi;
  lo = lo < 0 ? 0 : lo > s.rank ? s.rank : lo;
  hi = hi < lo ? lo : hi > s.rank ? s.rank : hi;
  out[0] = int64_const(I, "shape", 1, s.d + lo, (int)(hi - lo));
  return true;
}

static bool h_size(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  if (shape_has_batch(in[0]->shape)) return unsupported(I, "Size", "Size of a value with the batch dimension");
  int64_t n = shape_numel_static(in[0]->shape);
  out[0] = int64_const(I, "size", 0, &n, 1);
  return true;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: a reshape to a shape known now. */
static bool h_reshape(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 1, 2)) return false;
  Shape x = in[0]->shape, s = {0, {0}};
  int64_t *d = NULL;
  int n = 0;
  const Onnx__AttributeProto *a = attr(np, "shape");
  if (nin == 2 && !const_ints(in[1], &d, &n, &I->g->arena)) return need_const(I, in[1], "the shape input");
  if (nin == 1 && a) d = a->ints, n = (int)a->n_ints;
  if (n > MAX_RANK) return fail(I, "shape has %d dimensions", n);
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < n; i++) {
    s.d[i] = d[i] == 0 && !attr_i(np, "allowzero", 0) ? (i < x.rank ? x.d[i] : 0) : d[i];
    if (s.d[i] == -1 && infer < 0) infer = i;
    else if (s.d[i] < 0) return fail(I, "bad shape entry %lld", (long long)d[i]);
    else known *= s.d[i];
  }
  s.rank = n;
  if (infer >= 0) s.d[infer] = known ? shape_numel_static(x) / known : 0;
  if (shape_numel_static(s) != shape_numel_static(x))
    return fail(I, "cannot reshape %s to %s", shape_str(&I->g->arena, x), shape_str(&I->g->arena, s));
  return (out[0] = reshape_to(I, in[0], s)) != NULL;
}

static bool h_flatten(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  Shape x = in[0]->shape;
  int64_t ax = attr_i(np, "axis", 1);
  if (ax < 0) ax += x.rank;
  if (ax < 0 || ax > x.rank) return fail(I, "axis %lld out of range", (long long)attr_i(np, "axis", 1));
  int64_t a = 1, b = 1;
  for (int i = 0; i < x.rank; i++) *(i < ax ? &a : &b) *= x.d[i];
  return (out[0] = reshape_to(I, in[0], shape_make(2, (int64_t[]){a, b}))) != NULL;
}

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input since. */
static bool axes_of(Imp *I, NodeP *np, Value **in, int nin, int64_t **ax, int *n) {
  const Onnx__AttributeProto *a = attr(np, "axes");
  if (a) *ax = a->ints, *n = (int)a->n_ints;
  else if (nin < 2) *ax = NULL, *n = 0;
  else if (!const_ints(in[1], ax, n, &I->g->arena)) return need_const(I, in[1], "the axes input");
  return true;
}

static bool h_squeeze(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  int64_t *ax;
  int n;
  if (!need_inputs(I, in, nin, 1, 2) || !axes_of(I, np, in, nin, &ax, &n)) return false;
  Shape x = in[0]->shape, s = {0, {0}};
  bool drop[MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int k = normalize_axis(ax[i], x.rank);
    if (k < 0 || x.d[k] != 1) return fail(I, "cannot squeeze axis %lld of %s", (long long)ax[i], shape_str(&I->g->arena, x));
    drop[k] = true;
  }
  for (int i = 0; i < x.rank; i++)
    if (!(n ? drop[i] : x.d[i] == 1)) s.d[s.rank++] = x.d[i];
  return (out[0] = reshape_to(I, in[0], s)) != NULL;
}

static bool h_unsqueeze(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  int64_t *ax;
  int n;
  if (!need_inputs(I, in, nin, 1, 2) || !axes_of(I, np, in, nin, &ax, &n)) return false;
  Shape x = in[0]->shape, s = {0, {0}};
  int rank = x.rank + n;
  if (rank > MAX_RANK) return unsupported(I, "rank", "result has rank %d", rank);
  bool ins[MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int k = normalize_axis(ax[i], rank);
    if (k < 0 || ins[k]) return fail(I, "bad axis %lld", (long long)ax[i]);
    ins[k] = true;
  }
  for (int i = 0, j = 0; i < rank; i++) s.d[i] = ins[i] ? 1 : x.d[j++];
  s.rank = rank;
  return (out[0] = reshape_to(I, in[0], s)) != NULL;
}

static Value *slice_first(Imp *I, Value *x, int64_t i, Shape s) {
  int op = find_ir_op("Slice");
  if (op < 0) return unsupported(I, "Slice", "batched MatMul needs the Slice op"), NULL;
  Node *n = mk(I, (OpKind)op, 1, &x);
  node_set_ints(I->g, n, "starts", &i, 1);
  node_set_ints(I->g, n, "ends", (int64_t[]){i + 1}, 1);
  node_set_ints(I->g, n, "axes", (int64_t[]){0}, 1);
  return finish(I, n) ? reshape_to(I, n->out[0], s) : NULL;
}

/* Stacks of matrices with equal batch dimensions: one 2-D matmul per matrix,
 * joined by a concat. */
static bool batched_matmul(Imp *I, Value *a, Value *b, Value **out) {
  Shape as = a->shape, bs = b->shape;
  bool same = as.rank == bs.rank;
  for (int i = 0; i < as.rank - 2 && same; i++) same = as.d[i] == bs.d[i];
  int64_t m = as.d[as.rank - 2], k = as.d[as.rank - 1], n = bs.d[bs.rank - 1], nb = shape_numel_static(as) / (m * k > 0 ? m * k : 1);
  if (!same || bs.d[bs.rank - 2] != k || nb > 256 || nb < 1)
    return unsupported(I, "MatMul", "MatMul with broadcast batch dimensions is not supported");
  Value *A = reshape_to(I, a, shape_make(3, (int64_t[]){nb, m, k})), *B = reshape_to(I, b, shape_make(3, (int64_t[]){nb, k, n}));
  Value *parts[256];
  for (int64_t i = 0; i < nb; i++) {
    Value *ai = slice_first(I, A, i, shape_make(2, (int64_t[]){m, k}));
    Value *bi = ai ? slice_first(I, B, i, shape_make(2, (int64_t[]){k, n})) : NULL;
    Value *ci = bi ? mk2(I, OP_MATMUL, ai, bi) : NULL;
    if (!ci || !(parts[i] = reshape_to(I, ci, shape_make(3, (int64_t[]){1, m, n})))) return false;
  }
  Value *c = parts[0];
  for (int64_t i = 1; i < nb; i += 15) { /* concat takes up to 16 inputs */
    Value *in[16] = {c};
    int cnt = 1;
    for (int64_t j = i; j < nb && cnt < 16; j++) in[cnt++] = parts[j];
    Node *cn = mk(I, OP_CONCAT, cnt, in);
    node_set_int(I->g, cn, "axis", 0);
    if (!finish(I, cn)) return false;
    c = cn->out[0];
  }
  Shape s = as;
  s.d[s.rank - 1] = n;
  return (*out = reshape_to(I, c, s)) != NULL;
}

/* MatMul: numpy semantics on top of the 2-D matmul op (1-D operands and a
 * stack of rows against one matrix). */
static bool h_matmul(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!need_inputs(I, in, nin, 2, 2)) return false;
  Shape a = in[0]->shape, b = in[1]->shape;
  if (a.rank == 0 || b.rank == 0) return fail(I, "MatMul operands must not be scalars");
  if (b.rank > 2) return batched_matmul(I, in[0], in[1], out);
  int64_t k = a.d[a.rank - 1], rows = shape_numel_static(a) / (k ? k : 1);
  Value *A = reshape_to(I, in[0], shape_make(2, (int64_t[]){rows, k}));
  Value *B = b.rank == 1 ? reshape_to(I, in[1], shape_make(2, (int64_t[]){b.d[0], 1})) : in[1];
  Value *c = A && B ? mk2(I, OP_MATMUL, A, B) : NULL;
  if (!c) return false;
  Shape s = a;
  s.rank--;
  if (b.rank == 2) s.d[s.rank++] = b.d[1];
  return (out[0] = reshape_to(I, c, s)) != NULL;
}

/* Gemm: alpha op(A) op(B) + beta C. */
static bool h_gemm(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 2, 3)) return false;
  Node *n = mk(I, OP_MATMUL, 2, in);
  node_set_int(I->g, n, "transa", attr_i(np, "transA", 0));
  node_set_int(I->g, n, "transb", attr_i(np, "transB", 0));
  if (!finish(I, n)) return false;
  Value *y = n->out[0];
  double alpha = attr_f(np, "alpha", 1), beta = attr_f(np, "beta", 1);
  if (alpha != 1 && !(y = mk2(I, OP_MUL, y, scalar_like(I, y, alpha)))) return false;
  if (nin == 3 && in[2] && beta != 0) {
    Value *c = beta == 1 ? in[2] : mk2(I, OP_MUL, in[2], scalar_like(I, in[2], beta));
    if (!c || !(y = mk2(I, OP_ADD, y, c))) return false;
  }
  out[0] = y;
  return true;
}

/* CastLike reads only like's dtype: a cast, so like may go unread. */
static bool h_cast_like(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  return need_inputs(I, in, nin, 2, 2) && (out[0] = cast_to(I, in[0], in[1]->dtype)) != NULL;
}

/* Uniform doubles in [0, 1) as numpy's legacy generator draws them after
 * np.random.seed(seed): MT19937 (init_genrand), 53 bits from two words. */
static void mt19937_uniform(uint32_t seed, double *u, int64_t n) {
  uint32_t mt[624];
  mt[0] = seed;
  for (int i = 1; i < 624; i++) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;
  int pos = 624;
  for (int64_t e = 0; e < n; e++) {
    uint32_t w[2];
    for (int j = 0; j < 2; j++) {
      if (pos == 624) { /* regenerate the whole state */
        for (int k = 0; k < 624; k++) {
          uint32_t y = (mt[k] & 0x80000000u) | (mt[(k + 1) % 624] & 0x7fffffffu);
          mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
        }
        pos = 0;
      }
      uint32_t y = mt[pos++];
      y ^= y >> 11, y ^= (y << 7) & 0x9d2c5680u, y ^= (y << 15) & 0xefc60000u, y ^= y >> 18;
      w[j] = y;
    }
    u[e] = ((w[0] >> 5) * 67108864.0 + (w[1] >> 6)) / 9007199254740992.0;
  }
}

/* Dropout: the identity (and a mask of ones) in inference mode or with ratio
 * 0. In training mode with a seed attribute the mask is drawn here, as
 * ONNX's reference does on every call (numpy seeded with the seed, keep
 * where uniform >= ratio), so the compiled model applies that fixed mask;
 * without a seed (a fresh mask per call) it is not supported. */
static bool h_dropout(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (nin >= 3 && in[2] && !has_data(in[2])) return need_const(I, in[2], "training_mode");
  double r = 0;
  if (nin >= 3 && in[2] && ((uint8_t *)in[2]->data)[0]) {
    r = 0.5;
    if (nin >= 2 && in[1] && !has_data(in[1])) return need_const(I, in[1], "ratio");
    Tensor t = {in[1] ? in[1]->dtype : DT_F32, shape_scalar(), 1, in[1] ? in[1]->data : NULL};
    if (in[1]) r = tensor_get(&t, 0);
  }
  if (r == 0) return h_identity(I, np, in, nin > 1 ? 1 : nin, out);
  if (!attr(np, "seed") || !(r > 0 && r < 1) || !dtype_is_float(in[0]->dtype))
    return unsupported(I, "Dropout", "Dropout in training mode needs a seed attribute and a ratio in [0, 1)");
  int64_t n = shape_numel_static(in[0]->shape);
  if (shape_has_batch(in[0]->shape) || n > FOLD_BYTES / 8) return unsupported(I, "Dropout", "seeded Dropout on a large or batched input");
  Value *m = value_new(I->g, "mask", VK_CONST, DT_BOOL, in[0]->shape), *k = value_new(I->g, "keep", VK_CONST, in[0]->dtype, in[0]->shape);
  double *u = xmalloc(sizeof(double) * (size_t)(n + 1));
  mt19937_uniform((uint32_t)attr_i(np, "seed", 0), u, n);
  m->data = arena_alloc(&I->g->arena, (size_t)n + 1);
  k->data = arena_alloc(&I->g->arena, (size_t)(n * dtype_size(k->dtype)) + 8);
  Tensor kt = {k->dtype, k->shape, n, k->data};
  for (int64_t e = 0; e < n; e++) ((uint8_t *)m->data)[e] = u[e] >= r, tensor_set(&kt, e, u[e] >= r ? 1 / (1 - r) : 0);
  free(u);
  out[0] = mk2(I, OP_MUL, in[0], k);
  if (np->n_output > 1) out[1] = m;
  return out[0] != NULL;
}

static Value *clip_to(Imp *I, Value *v, double lo, double hi) {
  Node *c = v ? mk(I, OP_CLIP, 1, &v) : NULL;
  if (!c) return NULL;
  node_set_float(I->g, c, "min", lo);
  node_set_float(I->g, c, "max", hi);
  return finish(I, c) ? c->out[0] : NULL;
}

static Value *reduce_axes(Imp *I, OpKind op, Value *x, const int64_t *axes, int naxes, bool keep);

/* A per-axis parameter [C] of QuantizeLinear/DequantizeLinear shaped to
 * broadcast along axis of x. */
static Value *along_axis(Imp *I, Value *v, Value *x, int axis) {
  if (!v || v->shape.rank != 1 || x->shape.rank < 2) return v;
  Shape s = {x->shape.rank, {0}};
  for (int i = 0; i < s.rank; i++) s.d[i] = i == axis ? v->shape.d[0] : 1;
  return reshape_to(I, v, s);
}

/* DequantizeLinear: (x - zero_point) scale. QuantizeLinear: x / scale
 * rounded half to even, plus zero_point, saturated to its dtype (uint8 by
 * default). Per-axis scales broadcast along `axis`. */
static bool h_quantize(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 2, 3)) return false;
  Value *x = in[0], *zp = nin > 2 ? in[2] : NULL;
  int axis = normalize_axis(attr_i(np, "axis", 1), x->shape.rank > 0 ? x->shape.rank : 1);
  Value *sc = along_axis(I, in[1], x, axis), *z = along_axis(I, zp, x, axis);
  DType ft = in[1]->dtype, t = zp ? zp->dtype : DT_U8;
  if (!sc || (zp && !z) || !dtype_is_float(ft)) return fail(I, "bad scale or zero point");
  if (!strcmp(np->op_type, "DequantizeLinear")) {
    Value *xf = cast_to(I, x, ft);
    if (z) xf = mk2(I, OP_SUB, xf, cast_to(I, z, ft));
    return (out[0] = mk2(I, OP_MUL, xf, sc)) != NULL;
  }
  if (t != DT_U8 && t != DT_I8) return unsupported(I, "QuantizeLinear", "QuantizeLinear to %s", dtype_name(t));
  Value *q = mk1(I, OP_ROUND, mk2(I, OP_DIV, x, sc));
  if (z) q = mk2(I, OP_ADD, q, cast_to(I, z, x->dtype));
  q = clip_to(I, q, t == DT_U8 ? 0 : -128, t == DT_U8 ? 255 : 127);
  return q && (out[0] = cast_to(I, q, t)) != NULL;
}

/* DynamicQuantizeLinear: scale and zero point to map [min(x, 0), max(x, 0)]
 * onto uint8, then QuantizeLinear. */
static bool h_dynamic_quantize(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  Value *x = in[0];
  int64_t axes[MAX_RANK];
  for (int i = 0; i < x->shape.rank; i++) axes[i] = i;
  int lo = find_ir_op("ReduceMin"), hi = find_ir_op("ReduceMax");
  if (lo < 0 || hi < 0 || !dtype_is_float(x->dtype)) return unsupported(I, np->op_type, "DynamicQuantizeLinear needs an f32 input");
  Value *mn = mk2(I, OP_MIN, reduce_axes(I, (OpKind)lo, x, axes, x->shape.rank, false), scalar_like(I, x, 0));
  Value *mx = mk2(I, OP_MAX, reduce_axes(I, (OpKind)hi, x, axes, x->shape.rank, false), scalar_like(I, x, 0));
  Value *sc = mk2(I, OP_DIV, mk2(I, OP_SUB, mx, mn), scalar_like(I, x, 255));
  Value *zp = mk1(I, OP_ROUND, clip_to(I, mk2(I, OP_SUB, scalar_like(I, x, 0), mk2(I, OP_DIV, mn, sc)), 0, 255));
  Value *q[3] = {x, sc, zp ? cast_to(I, zp, DT_U8) : NULL};
  if (!q[2] || !h_quantize(I, np, q, 3, out)) return false;
  out[1] = sc, out[2] = q[2];
  return true;
}

/* Compress: a Gather of the positions whose condition holds (the condition
 * must be known at compile time; without an axis x is flattened first). */
static bool h_compress(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 2, 2)) return false;
  if (!has_data(in[1])) return need_const(I, in[1], "the condition");
  Value *x = attr(np, "axis") ? in[0] : reshape_to(I, in[0], shape_make(1, (int64_t[]){shape_numel_static(in[0]->shape)}));
  int axis = x ? normalize_axis(attr_i(np, "axis", 0), x->shape.rank) : -1;
  if (axis < 0 || shape_has_batch(x->shape)) return fail(I, "bad axis");
  Tensor c = {in[1]->dtype, in[1]->shape, shape_numel_static(in[1]->shape), in[1]->data};
  int64_t n = 0, *idx = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(c.numel + 1));
  for (int64_t i = 0; i < c.numel && i < x->shape.d[axis]; i++)
    if (tensor_get(&c, i) != 0) idx[n++] = i;
  Value *g[2] = {x, int64_const(I, "kept", 1, idx, (int)n)};
  Node *gn = mk(I, OP_GATHER, 2, g);
  node_set_int(I->g, gn, "axis", axis);
  return finish(I, gn) && (out[0] = gn->out[0]) != NULL;
}

/* ReverseSequence: a GatherElements whose indices reverse the first
 * sequence_lens[b] steps of each batch entry b (lengths known at compile time). */
static bool h_reverse_sequence(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 2, 2)) return false;
  if (!has_data(in[1])) return need_const(I, in[1], "sequence_lens");
  Shape xs = in[0]->shape;
  int ba = (int)attr_i(np, "batch_axis", 1), ta = (int)attr_i(np, "time_axis", 0);
  Tensor l = {in[1]->dtype, in[1]->shape, shape_numel_static(in[1]->shape), in[1]->data};
  if (xs.rank < 2 || ba < 0 || ta < 0 || ba >= xs.rank || ta >= xs.rank || ba == ta || shape_has_batch(xs) || l.numel != xs.d[ba])
    return fail(I, "bad batch_axis, time_axis or sequence_lens");
  Value *ix = value_new(I->g, "reversed", VK_CONST, DT_I64, xs);
  int64_t n = shape_numel_static(xs), co[MAX_RANK], *d = ix->data = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(n + 1));
  for (int64_t e = 0; e < n; e++) {
    int64_t q = e;
    for (int i = xs.rank - 1; i >= 0; i--) co[i] = q % xs.d[i], q /= xs.d[i];
    int64_t len = (int64_t)tensor_get(&l, co[ba]), t = co[ta];
    d[e] = t < len ? len - 1 - t : t;
  }
  Value *g[2] = {in[0], ix};
  Node *gn = mk(I, OP_GATHER_ELEMENTS, 2, g);
  node_set_int(I->g, gn, "axis", ta);
  return finish(I, gn) && (out[0] = gn->out[0]) != NULL;
}

/* MaxUnpool: X scattered to the flat positions I of a zero tensor of the
 * unpooled shape ((in - 1) stride + kernel - pads per spatial axis), padded
 * with zeros at the end up to output_shape when that is given. */
static bool h_max_unpool(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 2, 3)) return false;
  Shape xs = in[0]->shape, ys = xs;
  int S = xs.rank - 2;
  const Onnx__AttributeProto *k = attr(np, "kernel_shape"), *st = attr(np, "strides"), *p = attr(np, "pads");
  if (S < 1 || !k || (int)k->n_ints != S || !shape_eq(in[1]->shape, xs) || shape_has_batch(xs)) return fail(I, "bad kernel_shape or indices");
  int64_t *os = NULL;
  int n = 0;
  if (nin > 2 && in[2] && !const_ints(in[2], &os, &n, &I->g->arena)) return need_const(I, in[2], "output_shape");
  for (int i = 0; i < S; i++) {
    int64_t s = st && (int)st->n_ints == S ? st->ints[i] : 1, pd = p && (int)p->n_ints == 2 * S ? p->ints[i] + p->ints[S + i] : 0;
    ys.d[2 + i] = (xs.d[2 + i] - 1) * s + k->ints[i] - pd;
  }
  int64_t grow[2 * MAX_RANK] = {0}; /* a larger output_shape: zeros after the default one, indices unchanged */
  for (int i = 0; os && i < n && i < ys.rank; i++) grow[ys.rank + i] = os[i] - ys.d[i];
  for (int i = 0; i < ys.rank; i++)
    if (grow[ys.rank + i] < 0 || (i < 2 && grow[ys.rank + i])) return fail(I, "output_shape is smaller than the unpooled shape");
  if ((os && n != ys.rank) || shape_numel_static(ys) > FOLD_BYTES / 8) return fail(I, "bad output_shape");
  int64_t total = shape_numel_static(ys), cnt = shape_numel_static(xs);
  Value *z = value_new(I->g, "zeros", VK_CONST, in[0]->dtype, shape_make(1, &total));
  z->data = arena_alloc(&I->g->arena, (size_t)(total * dtype_size(z->dtype)) + 8);
  memset(z->data, 0, (size_t)(total * dtype_size(z->dtype)));
  Shape flat = shape_make(1, &cnt);
  Value *sc[3] = {z, reshape_to(I, in[1], flat), reshape_to(I, in[0], flat)};
  Node *sn = sc[1] && sc[2] ? mk(I, OP_SCATTER_ELEMENTS, 3, sc) : NULL;
  if (!sn) return false;
  node_set_int(I->g, sn, "axis", 0);
  Value *y = finish(I, sn) ? reshape_to(I, sn->out[0], ys) : NULL;
  Node *pn = y && os ? mk(I, OP_PAD, 1, &y) : NULL;
  if (pn) node_set_ints(I->g, pn, "pads", grow, 2 * ys.rank);
  return (out[0] = pn ? (finish(I, pn) ? pn->out[0] : NULL) : y) != NULL;
}

/* HannWindow, HammingWindow, BlackmanWindow: a constant of the given size,
 * a0 - a1 cos(2 pi n / D) + a2 cos(4 pi n / D), D = size (periodic) or size - 1. */
static bool h_window(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  if (!has_data(in[0])) return need_const(I, in[0], "the size input");
  Tensor st = {in[0]->dtype, shape_scalar(), 1, in[0]->data};
  int64_t n = (int64_t)tensor_get(&st, 0);
  DType t;
  if (n < 0 || n > FOLD_BYTES / 8 || !dtype_from_onnx((int)attr_i(np, "output_datatype", 1), &t) || !dtype_is_float(t))
    return fail(I, "bad size or output_datatype");
  double a0 = 0.5, a1 = 0.5, a2 = 0, D = attr_i(np, "periodic", 1) ? n : n - 1;
  if (np->op_type[0] == 'H' && np->op_type[2] == 'm') a0 = 25.0 / 46, a1 = 21.0 / 46;
  if (np->op_type[0] == 'B') a0 = 0.42, a2 = 0.08;
  Value *v = value_new(I->g, "window", VK_CONST, t, shape_make(1, &n));
  v->data = arena_alloc(&I->g->arena, (size_t)(n * 8 + 8));
  Tensor vt = {t, v->shape, n, v->data};
  for (int64_t i = 0; i < n; i++) tensor_set(&vt, i, a0 - a1 * cos(6.283185307179586 * (double)i / D) + a2 * cos(12.566370614359172 * (double)i / D));
  return (out[0] = v) != NULL;
}

/* ---- ai.onnx.preview.training optimizers: one update step, written out in
 * elementwise ops. Inputs R (rate), T (step count), then the tensors X...,
 * G..., and the state (V..., H...); outputs X_new... and the new state. ---- */

static bool h_optimizer(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const char *op = np->op_type;
  bool adam = !strcmp(op, "Adam"), adagrad = !strcmp(op, "Adagrad");
  int groups = adam ? 4 : 3;
  if (nin < 2 + groups || (nin - 2) % groups || !in[0] || !in[1]) return fail(I, "expects R, T and %d groups of tensors", groups);
  int n = (nin - 2) / groups;
  for (int i = 2; i < nin; i++)
    if (!in[i] || in[i]->dtype != DT_F32) return unsupported(I, op, "%s needs f32 tensors", op);
  double norm = attr_f(np, "norm_coefficient", 0), alpha = attr_f(np, "alpha", adam ? 0.9 : 0);
  double beta = attr_f(np, "beta", adam ? 0.999 : 0), eps = attr_f(np, "epsilon", adam || adagrad ? 1e-6 : 0);
  bool nesterov = attr(np, "mode") && attr(np, "mode")->s.len == 8 && !memcmp(attr(np, "mode")->s.data, "nesterov", 8);
  Value *R = in[0], *T = cast_to(I, in[1], DT_F32);
  Value *started = T ? mk2(I, OP_GREATER, T, scalar_like(I, T, 0)) : NULL;
  for (int i = 0; i < n; i++) {
    Value *X = in[2 + i], *G = in[2 + n + i], *S = in[2 + 2 * n + i];
#define C(v) scalar_like(I, X, (v))
    Value *g = mk2(I, OP_ADD, mk2(I, OP_MUL, C(norm), X), G), *x = NULL, *s1 = NULL, *s2 = NULL;
    if (adagrad) {
      Value *r = mk2(I, OP_DIV, R, mk2(I, OP_ADD, C(1), mk2(I, OP_MUL, T, C(attr_f(np, "decay_factor", 0)))));
      s1 = mk2(I, OP_ADD, S, mk2(I, OP_MUL, g, g));
      x = mk2(I, OP_SUB, X, mk2(I, OP_DIV, mk2(I, OP_MUL, r, g), mk2(I, OP_ADD, mk1(I, OP_SQRT, s1), C(eps))));
    } else if (!adam) { /* Momentum: beta applies from the second step */
      Value *w[3] = {started, C(beta), C(1)};
      Node *wn = started ? mk(I, OP_WHERE, 3, w) : NULL;
      Value *b = wn && finish(I, wn) ? wn->out[0] : NULL;
      s1 = mk2(I, OP_ADD, mk2(I, OP_MUL, C(alpha), S), mk2(I, OP_MUL, b, g));
      x = mk2(I, OP_SUB, X, mk2(I, OP_MUL, R, nesterov ? mk2(I, OP_ADD, g, mk2(I, OP_MUL, C(alpha), s1)) : s1));
    } else { /* Adam, with bias correction from the first step on */
      s1 = mk2(I, OP_ADD, mk2(I, OP_MUL, C(alpha), S), mk2(I, OP_MUL, C(1 - alpha), g));
      s2 = mk2(I, OP_ADD, mk2(I, OP_MUL, C(beta), in[2 + 3 * n + i]), mk2(I, OP_MUL, C(1 - beta), mk2(I, OP_MUL, g, g)));
      Value *corr = mk2(I, OP_DIV, mk1(I, OP_SQRT, mk2(I, OP_SUB, C(1), mk2(I, OP_POW, C(beta), T))),
                        mk2(I, OP_SUB, C(1), mk2(I, OP_POW, C(alpha), T)));
      Value *w[3] = {started, mk2(I, OP_MUL, R, corr), R};
      Node *wn = started && w[1] ? mk(I, OP_WHERE, 3, w) : NULL;
      Value *r = wn && finish(I, wn) ? wn->out[0] : NULL;
      x = mk2(I, OP_SUB, X, mk2(I, OP_MUL, r, mk2(I, OP_DIV, s1, mk2(I, OP_ADD, mk1(I, OP_SQRT, s2), C(eps)))));
      x = mk2(I, OP_MUL, C(1 - attr_f(np, "norm_coefficient_post", 0)), x);
    }
#undef C
    if (!x || !s1 || (adam && !s2)) return false;
    out[i] = x, out[n + i] = s1;
    if (adam) out[2 * n + i] = s2;
  }
  return true;
}

/* ---- convolution and pooling: ONNX is NCHW with OIHW kernels, conv2d and
 * the pools are NHWC with HWIO kernels, so the handlers transpose around
 * them (constant kernels are transposed at import by folding). 1-D forms run
 * as 2-D with height 1. ---- */

static Value *transpose(Imp *I, Value *x, const int64_t *perm) {
  int op = find_ir_op("Transpose");
  if (op < 0) return unsupported(I, "Transpose", "%s needs the Transpose op", I->node->op_type), NULL;
  Node *n = mk(I, (OpKind)op, 1, &x);
  node_set_ints(I->g, n, "perm", perm, x->shape.rank);
  return finish(I, n) ? n->out[0] : NULL;
}

static const int64_t TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

/* A 1-D attribute list (length 1 per spatial axis) as 2-D: height first, 1 or 0. */
static void widen(int64_t *two, const int64_t *one, int64_t h) { two[0] = h, two[1] = one[0]; }

typedef struct {
  int64_t k[2], s[2], d[2], p[4]; /* kernel, strides, dilations, pads top left bottom right */
} Window;

/* Window attributes of Conv/pools for input x (N,C,H,W after 1-D widening);
 * kernel k given by the caller. false after an error. */
static bool window_attrs(Imp *I, NodeP *np, Shape x, bool one_d, Window *w) {
  const Onnx__AttributeProto *a;
  int sp = one_d ? 1 : 2;
  int64_t s[2] = {1, 1}, d[2] = {1, 1}, p[4] = {0, 0, 0, 0};
  if ((a = attr(np, "strides")) && (int)a->n_ints == sp) memcpy(s, a->ints, sizeof(int64_t) * (size_t)sp);
  if ((a = attr(np, "dilations")) && (int)a->n_ints == sp) memcpy(d, a->ints, sizeof(int64_t) * (size_t)sp);
  if ((a = attr(np, "pads")) && (int)a->n_ints == 2 * sp) memcpy(p, a->ints, sizeof(int64_t) * (size_t)(2 * sp));
  if (one_d) {
    widen(w->s, s, 1), widen(w->d, d, 1);
    int64_t q[4] = {0, p[0], 0, p[1]};
    memcpy(w->p, q, sizeof q);
  } else memcpy(w->s, s, sizeof s), memcpy(w->d, d, sizeof d), memcpy(w->p, p, sizeof p);
  for (int i = 0; i < 4; i++) {
    bool ok = w->p[i] >= 0 && w->p[i] <= LIMIT_WINDOW;
    if (i < 2) ok = ok && w->s[i] >= 1 && w->s[i] <= LIMIT_WINDOW && w->d[i] >= 1 && w->d[i] <= LIMIT_WINDOW &&
                    w->k[i] >= 1 && w->k[i] <= LIMIT_WINDOW;
    if (!ok) return fail(I, "kernel, strides and dilations must be in [1, %d] and pads in [0, %d]", LIMIT_WINDOW, LIMIT_WINDOW);
  }
  const Onnx__AttributeProto *ap = attr(np, "auto_pad");
  char mode[32] = "NOTSET";
  if (ap && ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    snprintf(mode, sizeof mode, "%.*s", (int)ap->s.len, (const char *)ap->s.data);
  for (int i = 0; i < 2; i++) {
    int64_t in = x.d[2 + i], out = (in + w->s[i] - 1) / w->s[i];
    int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - in;
    if (total < 0) total = 0;
    if (!strcmp(mode, "VALID")) w->p[i] = w->p[i + 2] = 0;
    else if (!strcmp(mode, "SAME_UPPER")) w->p[i] = total / 2, w->p[i + 2] = total - total / 2;
    else if (!strcmp(mode, "SAME_LOWER")) w->p[i + 2] = total / 2, w->p[i] = total - total / 2;
    else if (strcmp(mode, "NOTSET")) return fail(I, "unknown auto_pad '%s'", mode);
  }
  return true;
}

static void set_window(Imp *I, Node *n, const Window *w, bool conv) {
  node_set_ints(I->g, n, "strides", w->s, 2);
  node_set_ints(I->g, n, "pads", w->p, 4);
  if (conv) node_set_ints(I->g, n, "dilations", w->d, 2);
}

/* x as NCHW (a 1-D NCL input gets height 1), or NULL. */
static Value *as_2d(Imp *I, Value *x, bool *one_d) {
  *one_d = x->shape.rank == 3;
  if (x->shape.rank != 3 && x->shape.rank != 4)
    return unsupported(I, I->node->op_type, "%s on rank %d input (only 1-D and 2-D)", I->node->op_type, x->shape.rank), NULL;
  if (!*one_d) return x;
  Shape s = x->shape;
  return reshape_to(I, x, shape_make(4, (int64_t[]){s.d[0], s.d[1], 1, s.d[2]}));
}

/* The NHWC result back to NCHW (and to NCL for 1-D). */
static bool from_nhwc(Imp *I, Value *y, bool one_d, Value **out) {
  Value *t = transpose(I, y, TO_NCHW);
  if (!t) return false;
  if (one_d) t = reshape_to(I, t, shape_make(3, (int64_t[]){t->shape.d[0], t->shape.d[1], t->shape.d[3]}));
  return (*out = t) != NULL;
}

/* Conv and ConvTranspose: x and w (2-D forms) and the kernel size of w. */
static bool conv_operands(Imp *I, Value **in, int nin, Value **x, Value **w, Window *win, bool *one_d) {
  if (!need_inputs(I, in, nin, 2, 3)) return false;
  *x = as_2d(I, in[0], one_d);
  *w = *x ? as_2d(I, in[1], one_d) : NULL;
  if (!*w) return false;
  win->k[0] = (*w)->shape.d[2], win->k[1] = (*w)->shape.d[3];
  return true;
}

static bool h_conv(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool one_d;
  Value *x, *w;
  Window win;
  if (!conv_operands(I, in, nin, &x, &w, &win, &one_d)) return false;
  if (!window_attrs(I, np, x->shape, one_d, &win)) return false;
  Value *xt = transpose(I, x, TO_NHWC), *wt = xt ? transpose(I, w, (const int64_t[]){2, 3, 1, 0}) : NULL;
  if (!wt) return false;
  Value *args[3] = {xt, wt, nin == 3 ? in[2] : NULL};
  Node *n = mk(I, OP_CONV2D, args[2] ? 3 : 2, args);
  set_window(I, n, &win, true);
  node_set_int(I->g, n, "groups", attr_i(np, "group", 1));
  return finish(I, n) && from_nhwc(I, n->out[0], one_d, out);
}

static Value *take(Imp *I, Value *t, int axis, int64_t start, int64_t end, int64_t step);

/* x (channels last) with s - 1 zeros after each element of `axis` but the last. */
static Value *zero_insert(Imp *I, Value *x, int axis, int64_t s) {
  Shape a = x->shape, b;
  for (int i = a.rank; i > axis + 1; i--) a.d[i] = a.d[i - 1];
  a.d[axis + 1] = 1, a.rank++, b = a, b.d[axis + 1] = s - 1;
  Value *z = value_new(I->g, "zeros", VK_CONST, x->dtype, b), *in[2] = {reshape_to(I, x, a), z};
  z->data = arena_alloc(&I->g->arena, (size_t)(shape_numel_static(b) * dtype_size(x->dtype)) + 8);
  memset(z->data, 0, (size_t)(shape_numel_static(b) * dtype_size(x->dtype)));
  Node *n = in[0] ? mk(I, OP_CONCAT, 2, in) : NULL;
  if (!n) return NULL;
  node_set_int(I->g, n, "axis", axis + 1);
  Shape c = x->shape;
  c.d[axis] *= s;
  return finish(I, n) ? take(I, reshape_to(I, n->out[0], c), axis, 0, (x->shape.d[axis] - 1) * s + 1, 1) : NULL;
}

/* 3-D ConvTranspose (one group): per kernel tap, the channels-last input
 * (zeros inserted for strides) times that tap's [Ci, Co] matrix, shifted into
 * place by a pad (negative pads crop) and summed. */
static bool conv_transpose_taps(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  Value *x = in[0], *w = in[1];
  int S = 3;
  int64_t st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, p[6] = {0}, op[3] = {0}, taps = 1;
  const Onnx__AttributeProto *a;
  if (w->shape.rank != 5 || w->shape.d[0] != x->shape.d[1] || attr_i(np, "group", 1) != 1 || attr(np, "output_shape") ||
      (attr(np, "auto_pad") && strncmp((const char *)attr(np, "auto_pad")->s.data, "NOTSET", 6)))
    return unsupported(I, "ConvTranspose", "3-D ConvTranspose with groups, output_shape or auto_pad");
  if ((a = attr(np, "strides")) && a->n_ints == 3) memcpy(st, a->ints, sizeof st);
  if ((a = attr(np, "dilations")) && a->n_ints == 3) memcpy(dl, a->ints, sizeof dl);
  if ((a = attr(np, "pads")) && a->n_ints == 6) memcpy(p, a->ints, sizeof p);
  if ((a = attr(np, "output_padding")) && a->n_ints == 3) memcpy(op, a->ints, sizeof op);
  for (int i = 0; i < S; i++) {
    if (st[i] < 1 || st[i] > 64 || dl[i] < 1 || p[i] < 0 || p[S + i] < 0) return fail(I, "bad strides, dilations or pads");
    taps *= w->shape.d[2 + i];
  }
  if (taps > 512) return unsupported(I, "ConvTranspose", "3-D ConvTranspose with more than 512 kernel taps");
  int64_t ci = x->shape.d[1], co = w->shape.d[1];
  Value *xt = transpose(I, x, (const int64_t[]){0, 2, 3, 4, 1}), *acc = NULL;
  for (int i = 0; i < S && xt; i++)
    if (st[i] > 1) xt = zero_insert(I, xt, 1 + i, st[i]);
  if (!xt) return false;
  Shape zs = xt->shape;
  zs.d[4] = co;
  Value *x2 = reshape_to(I, xt, shape_make(2, (int64_t[]){shape_numel_static(xt->shape) / ci, ci}));
  for (int64_t t = 0; t < taps && x2; t++) {
    int64_t o[3], q = t, pads[10] = {0};
    for (int i = S - 1; i >= 0; i--) o[i] = q % w->shape.d[2 + i], q /= w->shape.d[2 + i];
    Value *wt = w;
    for (int i = 0; i < S && wt; i++) wt = take(I, wt, 2 + i, o[i], o[i] + 1, 1);
    Value *z = wt ? mk2(I, OP_MATMUL, x2, reshape_to(I, wt, shape_make(2, (int64_t[]){ci, co}))) : NULL;
    if (!z || !(z = reshape_to(I, z, zs))) return false;
    for (int i = 0; i < S; i++)
      pads[1 + i] = o[i] * dl[i] - p[i], pads[6 + i] = (w->shape.d[2 + i] - 1 - o[i]) * dl[i] - p[S + i] + op[i];
    Node *n = mk(I, OP_PAD, 1, &z);
    node_set_ints(I->g, n, "pads", pads, 10);
    if (!finish(I, n)) return false;
    acc = acc ? mk2(I, OP_ADD, acc, n->out[0]) : n->out[0];
  }
  Value *y = acc ? transpose(I, acc, (const int64_t[]){0, 4, 1, 2, 3}) : NULL;
  if (y && nin > 2 && in[2]) y = mk2(I, OP_ADD, y, reshape_to(I, in[2], shape_make(5, (int64_t[]){1, co, 1, 1, 1})));
  return (out[0] = y) != NULL;
}

/* ConvTranspose is the input gradient of the convolution that maps its
 * output back to its input: conv2d_grad_input with that convolution's
 * geometry. Output size per axis: (in - 1) s + (k - 1) d + 1 - pads + output_padding. */
static bool h_conv_transpose(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool one_d;
  Value *x, *w;
  Window win;
  if (nin >= 2 && in[0] && in[1] && in[0]->shape.rank == 5) return conv_transpose_taps(I, np, in, nin, out);
  if (!conv_operands(I, in, nin, &x, &w, &win, &one_d)) return false;
  int64_t g = attr_i(np, "group", 1), op[2] = {0, 0}, size[2];
  const Onnx__AttributeProto *opa = attr(np, "output_padding"), *osa = attr(np, "output_shape");
  if (!window_attrs(I, np, x->shape, one_d, &win) || g < 1) return false;
  if (opa && (int)opa->n_ints == (one_d ? 1 : 2)) memcpy(op + one_d, opa->ints, sizeof(int64_t) * opa->n_ints);
  for (int i = 0; i < 2; i++) {
    int64_t full = (x->shape.d[2 + i] - 1) * win.s[i] + (win.k[i] - 1) * win.d[i] + 1 + op[i];
    int64_t want = osa && (int)osa->n_ints == (one_d ? 1 : 2) ? (i < one_d ? 1 : osa->ints[i - one_d]) : -1;
    bool same = attr(np, "auto_pad") && !strncmp((const char *)attr(np, "auto_pad")->s.data, "SAME", 4);
    if (same && want < 0) want = x->shape.d[2 + i] * win.s[i];
    if (want >= 0) { /* pads from the requested size, the odd one at the end (SAME_UPPER) */
      int64_t total = full - want > 0 ? full - want : 0; /* a larger output gets zero rows at the end */
      if (want - full >= win.s[i]) return fail(I, "output_shape is larger than the transposed convolution gives");
      bool lower = same && !strncmp((const char *)attr(np, "auto_pad")->s.data, "SAME_LOWER", 10);
      win.p[i] = lower ? total - total / 2 : total / 2, win.p[i + 2] = total - win.p[i];
    }
    size[i] = want >= 0 ? want : full - win.p[i] - win.p[i + 2]; /* output_padding rows stay zero */
    if (size[i] < 1) return fail(I, "the output would be empty");
  }
  Value *xt = transpose(I, x, TO_NHWC), *wt = xt ? transpose(I, w, (const int64_t[]){2, 3, 1, 0}) : NULL;
  if (!wt) return false;
  Value *args[2] = {xt, wt};
  Node *n = mk(I, OP_CONV2D_GRAD_INPUT, 2, args);
  set_window(I, n, &win, true);
  node_set_int(I->g, n, "groups", g);
  node_set_ints(I->g, n, "input_shape", (int64_t[]){x->shape.d[0], size[0], size[1], wt->shape.d[2] * g}, 4);
  if (!finish(I, n) || !from_nhwc(I, n->out[0], one_d, out)) return false;
  if (nin < 3 || !in[2]) return true;
  Shape bs = {out[0]->shape.rank, {1}};
  for (int i = 0; i < bs.rank; i++) bs.d[i] = i == 1 ? in[2]->shape.d[0] : 1;
  Value *b = reshape_to(I, in[2], bs);
  return b && (out[0] = mk2(I, OP_ADD, out[0], b)) != NULL;
}

/* v (N, C, spatial...) padded by p (begins, then ends of the spatial axes) with value. */
static Value *pad_spatial(Imp *I, Value *v, const int64_t *p, double value) {
  int S = v->shape.rank - 2;
  int64_t pads[2 * MAX_RANK] = {0}, any = 0;
  for (int i = 0; i < S; i++) pads[2 + i] = p[i], pads[v->shape.rank + 2 + i] = p[S + i], any |= p[i] | p[S + i];
  if (!any) return v;
  Node *n = mk(I, OP_PAD, 1, &v);
  node_set_ints(I->g, n, "pads", pads, 2 * v->shape.rank);
  node_set_float(I->g, n, "constant_value", value);
  return finish(I, n) ? n->out[0] : NULL;
}

/* The general pool (any spatial rank up to 3, dilations, MaxPool's indices):
 * one strided slice of the padded input per kernel tap, combined by max (the
 * first largest tap wins the index) or summed and divided by the number of
 * taps inside the input (or all of them with count_include_pad). Indices
 * count into the flattened input, row-major (storage_order 1: column-major). */
static bool pool_taps(Imp *I, NodeP *np, Value *x, bool avg, Value **y, Value **idx) {
  Shape xs = x->shape;
  int S = xs.rank - 2;
  int64_t k[3], st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, p[6] = {0}, o[3], taps = 1;
  const Onnx__AttributeProto *a = attr(np, "kernel_shape");
  if (S < 1 || S > 3 || !a || (int)a->n_ints != S) return unsupported(I, np->op_type, "%s needs rank 3..5 and kernel_shape", np->op_type);
  memcpy(k, a->ints, sizeof(int64_t) * (size_t)S);
  if ((a = attr(np, "strides")) && (int)a->n_ints == S) memcpy(st, a->ints, sizeof(int64_t) * (size_t)S);
  if ((a = attr(np, "dilations")) && (int)a->n_ints == S) memcpy(dl, a->ints, sizeof(int64_t) * (size_t)S);
  if ((a = attr(np, "pads")) && (int)a->n_ints == 2 * S) memcpy(p, a->ints, sizeof(int64_t) * (size_t)(2 * S));
  if (attr_i(np, "ceil_mode", 0) || (attr(np, "auto_pad") && strncmp((const char *)attr(np, "auto_pad")->s.data, "NOTSET", 6)))
    return unsupported(I, np->op_type, "%s with ceil_mode or auto_pad on this form (3-D, dilated or with indices)", np->op_type);
  for (int i = 0; i < S; i++) {
    if (k[i] < 1 || st[i] < 1 || dl[i] < 1 || p[i] < 0 || p[S + i] < 0 || k[i] > 64) return fail(I, "bad kernel, strides, dilations or pads");
    o[i] = (xs.d[2 + i] + p[i] + p[S + i] - (k[i] - 1) * dl[i] - 1) / st[i] + 1;
    if (o[i] < 1) return fail(I, "the kernel is larger than the padded input");
    taps *= k[i];
  }
  if (taps > 256) return unsupported(I, np->op_type, "%s with more than 256 kernel taps in this form", np->op_type);
  Value *srcs[3] = {pad_spatial(I, x, p, avg ? 0 : -INFINITY), NULL, NULL}; /* values, indices or counts */
  bool padded = false;
  for (int i = 0; i < 2 * S; i++) padded = padded || p[i];
  if (idx || (avg && padded && !attr_i(np, "count_include_pad", 0))) {
    Value *c = value_new(I->g, "taps", VK_CONST, idx ? DT_I64 : x->dtype, xs);
    Tensor t = {c->dtype, xs, shape_numel_static(xs), NULL};
    c->data = t.data = arena_alloc(&I->g->arena, (size_t)(t.numel * 8 + 8));
    int64_t sp = 1, co[MAX_RANK];
    for (int i = 0; i < S; i++) sp *= xs.d[2 + i];
    for (int64_t e = 0; e < t.numel; e++) { /* the flat index, or 1 for counting */
      int64_t q = e, off = 0, mul = 1;
      for (int i = xs.rank - 1; i >= 0; i--) co[i] = q % xs.d[i], q /= xs.d[i];
      for (int i = 0; i < S; i++) { /* column-major: the first spatial axis varies fastest */
        int ax = attr_i(np, "storage_order", 0) ? 2 + i : xs.rank - 1 - i;
        off += co[ax] * mul, mul *= xs.d[ax];
      }
      tensor_set(&t, e, idx ? (double)(e / sp * sp + off) : 1);
    }
    srcs[idx ? 1 : 2] = pad_spatial(I, c, p, 0);
  }
  Value *acc[3] = {NULL, NULL, NULL};
  for (int64_t tp = 0; tp < taps; tp++) {
    int64_t lo[3], hi[3], axes[3], q = tp;
    for (int i = S - 1; i >= 0; i--) lo[i] = q % k[i] * dl[i], q /= k[i];
    for (int i = 0; i < S; i++) hi[i] = lo[i] + (o[i] - 1) * st[i] + 1, axes[i] = 2 + i;
    Value *v[3] = {NULL, NULL, NULL};
    for (int j = 0; j < 3; j++) {
      if (!srcs[j]) continue;
      Node *n = mk(I, OP_SLICE, 1, &srcs[j]);
      node_set_ints(I->g, n, "starts", lo, S), node_set_ints(I->g, n, "ends", hi, S);
      node_set_ints(I->g, n, "axes", axes, S), node_set_ints(I->g, n, "steps", st, S);
      if (!finish(I, n)) return false;
      v[j] = n->out[0];
    }
    if (!tp) {
      memcpy(acc, v, sizeof acc);
      continue;
    }
    if (avg) {
      acc[0] = mk2(I, OP_ADD, acc[0], v[0]);
      if (v[2]) acc[2] = mk2(I, OP_ADD, acc[2], v[2]);
    } else if (idx) {
      Value *gt = mk2(I, OP_GREATER, v[0], acc[0]);
      Value *w0[3] = {gt, v[0], acc[0]}, *w1[3] = {gt, v[1], acc[1]};
      Node *n0 = gt ? mk(I, OP_WHERE, 3, w0) : NULL, *n1 = gt ? mk(I, OP_WHERE, 3, w1) : NULL;
      if (!n0 || !finish(I, n0) || !finish(I, n1)) return false;
      acc[0] = n0->out[0], acc[1] = n1->out[0];
    } else acc[0] = mk2(I, OP_MAX, acc[0], v[0]);
    if (!acc[0]) return false;
  }
  if (avg) acc[0] = mk2(I, OP_DIV, acc[0], acc[2] ? acc[2] : scalar_like(I, acc[0], (double)taps));
  if (idx) *idx = acc[1];
  return (*y = acc[0]) != NULL;
}

/* MaxPool and AveragePool. Integer MaxPool runs in floating point (f64 for
 * wide integers, so it stays exact); count_include_pad pads with zeros
 * before pooling. */
static bool h_pool(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool one_d, avg = !strcmp(np->op_type, "AveragePool");
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  const Onnx__AttributeProto *ks = attr(np, "kernel_shape"), *dl = attr(np, "dilations");
  DType t = in[0]->dtype, ct = dtype_is_float(t) ? t : dtype_size(t) <= 2 ? DT_F32 : DT_F64;
  Value *x = ct == t ? in[0] : cast_to(I, in[0], ct);
  bool general = x && (x->shape.rank == 5 || (np->n_output > 1 && *np->output[1]));
  for (size_t i = 0; dl && i < dl->n_ints; i++) general = general || dl->ints[i] != 1;
  if (general) {
    if (!pool_taps(I, np, x, avg, &out[0], np->n_output > 1 && *np->output[1] ? &out[1] : NULL)) return false;
    return ct == t || (out[0] = cast_to(I, out[0], t)) != NULL;
  }
  if (!(x = x ? as_2d(I, x, &one_d) : NULL)) return false;
  if (!ks || (int)ks->n_ints != (one_d ? 1 : 2)) return fail(I, "kernel_shape must list one size per spatial axis");
  Window win;
  if (one_d) widen(win.k, ks->ints, 1);
  else memcpy(win.k, ks->ints, sizeof win.k);
  if (!window_attrs(I, np, x->shape, one_d, &win)) return false;
  if (avg && attr_i(np, "count_include_pad", 0)) {
    if (attr_i(np, "ceil_mode", 0)) return unsupported(I, "AveragePool", "count_include_pad=1 with ceil_mode=1 is not supported");
    if (!(x = pad_spatial(I, x, win.p, 0))) return false;
    memset(win.p, 0, sizeof win.p);
  }
  for (int i = 0; i < 2 && attr_i(np, "ceil_mode", 0); i++) { /* ceil: pad the end so the last window fits */
    int64_t span = x->shape.d[2 + i] + win.p[i] + win.p[i + 2] - win.k[i];
    int64_t o = (span + win.s[i] - 1) / win.s[i] + 1;
    if ((o - 1) * win.s[i] >= x->shape.d[2 + i] + win.p[i]) o--; /* the last window must start inside */
    win.p[i + 2] += (o - 1) * win.s[i] + win.k[i] - (x->shape.d[2 + i] + win.p[i] + win.p[i + 2]);
  }
  Value *xt = transpose(I, x, TO_NHWC);
  if (!xt) return false;
  Node *n = mk(I, avg ? OP_AVGPOOL2D : OP_MAXPOOL2D, 1, &xt);
  node_set_ints(I->g, n, "kernel", win.k, 2);
  set_window(I, n, &win, false);
  if (!finish(I, n) || !from_nhwc(I, n->out[0], one_d, out)) return false;
  return ct == t || (out[0] = cast_to(I, out[0], t)) != NULL;
}

/* GlobalAveragePool / GlobalMaxPool: a reduction over the spatial axes. */
static bool h_global_pool(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 1, 1)) return false;
  int op = !strcmp(np->op_type, "GlobalAveragePool") ? OP_REDUCE_MEAN : find_ir_op("ReduceMax");
  if (op < 0) return unsupported(I, np->op_type, "%s needs the ReduceMax op", np->op_type);
  int64_t axes[MAX_RANK];
  int r = in[0]->shape.rank;
  for (int i = 2; i < r; i++) axes[i - 2] = i;
  Node *n = mk(I, (OpKind)op, 1, in);
  node_set_ints(I->g, n, "axes", axes, r - 2);
  node_set_int(I->g, n, "keepdims", 1);
  if (!finish(I, n)) return false;
  out[0] = n->out[0];
  return true;
}

/* ---- losses, built from IR ops (so they differentiate) ----
 * NegativeLogLikelihoodLoss(x [N,C,d...], t [N,d...], w [C]?): the picked
 * element is selected with a one-hot mask (t == class), whose class list has
 * the ignored class replaced by a value no label has, so ignored positions
 * get weight 0 without a separate test. Per element: loss = -sum_c W x,
 * weight = sum_c W with W = onehot * w; mean = sum(loss) / sum(weight). */

static Value *reduce_axes(Imp *I, OpKind op, Value *x, const int64_t *axes, int naxes, bool keep) {
  Node *n = mk(I, op, 1, &x);
  if (naxes) node_set_ints(I->g, n, "axes", axes, naxes);
  node_set_int(I->g, n, "keepdims", keep);
  return finish(I, n) ? n->out[0] : NULL;
}

static Value *cast_to(Imp *I, Value *x, DType t) {
  Node *n = mk(I, OP_CAST, 1, &x);
  node_set_string(I->g, n, "to", dtype_name(t));
  return finish(I, n) ? n->out[0] : NULL;
}

static bool nll(Imp *I, NodeP *np, Value *x, Value *t, Value *w, Value **out) {
  Shape xs = x->shape;
  if (xs.rank < 2 || t->shape.rank != xs.rank - 1 || dtype_is_float(t->dtype))
    return fail(I, "needs input [N,C,...] and integer target [N,...]");
  int64_t C = xs.d[1], ignore = attr_i(np, "ignore_index", INT64_MIN);
  Shape cs = {xs.rank, {1}};
  for (int i = 0; i < xs.rank; i++) cs.d[i] = i == 1 ? C : 1;
  Value *cls = value_new(I->g, "classes", VK_CONST, t->dtype, cs);
  cls->data = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(C + 1));
  Tensor ct = {t->dtype, cs, C, cls->data};
  for (int64_t c = 0; c < C; c++) tensor_set(&ct, c, c == ignore ? -1e9 : (double)c);
  Shape ts = t->shape; /* the target with a class axis of 1 */
  for (int i = ts.rank; i > 1; i--) ts.d[i] = ts.d[i - 1];
  ts.d[1] = 1, ts.rank++;
  Value *tt = reshape_to(I, t, ts), *eq = tt ? mk2(I, OP_EQUAL, tt, cls) : NULL, *W = eq ? cast_to(I, eq, x->dtype) : NULL;
  if (W && w) {
    Value *wr = reshape_to(I, w, shape_make(cs.rank, cs.d));
    W = wr ? mk2(I, OP_MUL, W, wr) : NULL;
  }
  int64_t one = 1;
  Value *picked = W ? mk2(I, OP_MUL, W, x) : NULL;
  Value *loss = picked ? reduce_axes(I, OP_REDUCE_SUM, picked, &one, 1, false) : NULL;
  loss = loss ? mk2(I, OP_SUB, scalar_like(I, loss, 0), loss) : NULL;
  if (!loss) return false;
  char red[16] = "mean";
  const Onnx__AttributeProto *ra = attr(np, "reduction");
  if (ra) snprintf(red, sizeof red, "%.*s", (int)ra->s.len, (const char *)ra->s.data);
  if (!strcmp(red, "none")) return (*out = loss) != NULL;
  Value *sum = reduce_axes(I, OP_REDUCE_SUM, loss, NULL, 0, false);
  if (!strcmp(red, "sum")) return (*out = sum) != NULL;
  if (strcmp(red, "mean")) return fail(I, "unknown reduction '%s'", red);
  Value *ws = reduce_axes(I, OP_REDUCE_SUM, W, NULL, 0, false);
  return sum && ws && (*out = mk2(I, OP_DIV, sum, ws)) != NULL;
}

static bool h_nll(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  return need_inputs(I, in, nin, 2, 3) && nll(I, np, in[0], in[1], nin == 3 ? in[2] : NULL, out);
}

static bool h_softmax_ce(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!need_inputs(I, in, nin, 2, 3)) return false;
  Node *n = mk(I, OP_LOG_SOFTMAX, 1, in);
  node_set_int(I->g, n, "axis", 1);
  return finish(I, n) && nll(I, np, n->out[0], in[1], nin == 3 ? in[2] : NULL, out) && (out[1] = n->out[0]);
}

/* ---- recurrent layers: LSTM, GRU and RNN are unrolled by rnn_lower (rnn.h),
 * the same lowering as the .nn layers, so imported recurrent models train.
 * Each direction is lowered on its own slice of W, R, B and the initial
 * states; the outputs are stacked on the direction axis. ---- */

/* t[start:end:step] along axis. */
static Value *take(Imp *I, Value *t, int axis, int64_t start, int64_t end, int64_t step) {
  Node *n = mk(I, OP_SLICE, 1, &t);
  int64_t ax = axis;
  node_set_ints(I->g, n, "starts", &start, 1);
  node_set_ints(I->g, n, "ends", &end, 1);
  node_set_ints(I->g, n, "axes", &ax, 1);
  node_set_ints(I->g, n, "steps", &step, 1);
  return finish(I, n) ? n->out[0] : NULL;
}

/* Direction d of t (the direction on `axis`), reshaped to s. */
static Value *direction(Imp *I, Value *t, int axis, int d, Shape s) {
  Value *v = take(I, t, axis, d, d + 1, 1);
  return v ? reshape_to(I, v, s) : NULL;
}

/* Per-direction results of [..] shape `s` joined on a new axis `axis`. */
static Value *join_directions(Imp *I, Value **parts, int D, int axis) {
  Value *u[2];
  for (int d = 0; d < D; d++) {
    Shape s = parts[d]->shape;
    for (int k = s.rank; k > axis; k--) s.d[k] = s.d[k - 1];
    s.d[axis] = 1, s.rank++;
    if (!(u[d] = reshape_to(I, parts[d], s))) return NULL;
  }
  if (D == 1) return u[0];
  Node *n = mk(I, OP_CONCAT, 2, u);
  node_set_int(I->g, n, "axis", axis);
  return finish(I, n) ? n->out[0] : NULL;
}

/* Only the default activations (per cell) are supported. */
static bool default_activations(NodeP *np, RnnCell cell) {
  static const char *want[3] = {"Sigmoid", "Tanh", "Tanh"};
  const Onnx__AttributeProto *a = attr(np, "activations");
  int first = cell == RNN_SIMPLE ? 1 : 0, per = cell == RNN_LSTM ? 3 : cell == RNN_GRU ? 2 : 1;
  for (size_t i = 0; a && i < a->n_strings; i++) {
    const char *w = want[first + (int)(i % (size_t)per)];
    if (a->strings[i].len != strlen(w) || memcmp(a->strings[i].data, w, strlen(w))) return false;
  }
  return true;
}

/* sequence_lens is fine when it is constant and every sequence is full. */
static bool full_sequences(Value *lens, int64_t T) {
  if (!lens) return true;
  if (lens->kind != VK_CONST) return false;
  Tensor t = {lens->dtype, lens->shape, shape_numel_static(lens->shape), lens->data};
  for (int64_t i = 0; i < t.numel; i++)
    if (tensor_get(&t, i) != (double)T) return false;
  return true;
}

static bool h_recurrent(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  RnnCell cell = !strcmp(np->op_type, "LSTM") ? RNN_LSTM : !strcmp(np->op_type, "GRU") ? RNN_GRU : RNN_SIMPLE;
  if (!need_inputs(I, in, nin, 3, cell == RNN_LSTM ? 8 : 6)) return false;
  Value *x = in[0], *W = in[1], *R = in[2];
  int layout = (int)attr_i(np, "layout", 0), ta = layout ? 1 : 0;
  if (x->shape.rank != 3 || W->shape.rank != 3 || R->shape.rank != 3)
    return fail(I, "X, W and R must have rank 3");
  for (int i = 0; i < nin; i++)
    if (in[i] && i != 4 && in[i]->dtype != DT_F32) return fail(I, "input %d must be float (found %s)", i, dtype_name(in[i]->dtype));
  int64_t T = x->shape.d[ta], N = x->shape.d[1 - ta], GH = W->shape.d[1], F = W->shape.d[2];
  int64_t H = GH / rnn_gates(cell);
  if (nin > 4 && in[4] && !has_data(in[4])) return need_const(I, in[4], "sequence_lens");
  if (attr(np, "clip") || attr_i(np, "input_forget", 0) || !default_activations(np, cell) ||
      !full_sequences(nin > 4 ? in[4] : NULL, T))
    return unsupported(I, np->op_type, "%s with clip, input_forget, other activations or short sequences is not supported",
                       np->op_type);
  const Onnx__AttributeProto *da = attr(np, "direction");
  char dir[32] = "forward";
  if (da && da->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    snprintf(dir, sizeof dir, "%.*s", (int)da->s.len, (const char *)da->s.data);
  int D = !strcmp(dir, "bidirectional") ? 2 : 1;
  if (strcmp(dir, "forward") && strcmp(dir, "reverse") && D != 2) return fail(I, "unknown direction '%s'", dir);
  if (W->shape.d[0] != D || R->shape.d[0] != D || GH % rnn_gates(cell) || R->shape.d[2] != H)
    return fail(I, "W, R must be [%d, gates*hidden, ...] with matching hidden sizes", D);
  Value *ys[2], *hs[2], *cs[2];
  for (int d = 0; d < D; d++) {
    RnnSpec s = {cell, RNN_ONNX, true, D == 2 ? d == 1 : !strcmp(dir, "reverse"), true,
                 attr_i(np, "linear_before_reset", 0) != 0, ta, NULL, NULL, NULL, NULL, NULL, NULL,
                 graph_unique_name(I->g, cell == RNN_LSTM ? "lstm" : cell == RNN_GRU ? "gru" : "rnn"), {NULL, NULL, NULL}};
    s.w = direction(I, W, 0, d, shape_make(2, (int64_t[]){GH, F}));
    s.u = direction(I, R, 0, d, shape_make(2, (int64_t[]){GH, H}));
    if (nin > 3 && in[3]) {
      Value *b = direction(I, in[3], 0, d, shape_make(1, (int64_t[]){2 * GH}));
      s.b = b ? take(I, b, 0, 0, GH, 1) : NULL;
      s.rb = b ? take(I, b, 0, GH, 2 * GH, 1) : NULL;
      if (!s.b || !s.rb) return false;
    }
    Shape st = shape_make(2, (int64_t[]){N, H});
    if (nin > 5 && in[5] && !(s.h0 = direction(I, in[5], layout ? 1 : 0, d, st))) return false;
    if (nin > 6 && in[6] && !(s.c0 = direction(I, in[6], layout ? 1 : 0, d, st))) return false;
    if (nin > 7 && in[7]) { /* peepholes P [D, 3H]: i, o, f */
      Value *pd = direction(I, in[7], 0, d, shape_make(1, (int64_t[]){3 * H}));
      for (int k = 0; k < 3; k++)
        if (!pd || !(s.peep[k] = take(I, pd, 0, k * H, (k + 1) * H, 1))) return false;
    }
    if (!s.w || !s.u) return false;
    const char *err = rnn_check(I->g, &s, x);
    if (err) return fail(I, "%s", err);
    ys[d] = rnn_lower(I->g, &s, x, &hs[d], cell == RNN_LSTM ? &cs[d] : NULL);
    /* rnn_lower stacks in processing order; ONNX's Y is in time order */
    if (s.reverse && !(ys[d] = take(I, ys[d], ta, -1, -(T + 1), -1))) return false;
  }
  out[0] = join_directions(I, ys, D, layout ? 2 : 1);
  if (np->n_output > 1) out[1] = join_directions(I, hs, D, layout ? 1 : 0);
  if (np->n_output > 2 && cell == RNN_LSTM) out[2] = join_directions(I, cs, D, layout ? 1 : 0);
  return out[0] != NULL;
}

static const struct {
  const char *op;
  Handler fn;
} handlers[] = {
  {"NegativeLogLikelihoodLoss", h_nll}, {"SoftmaxCrossEntropyLoss", h_softmax_ce},
  {"Conv", h_conv}, {"ConvTranspose", h_conv_transpose}, {"MaxPool", h_pool}, {"AveragePool", h_pool}, {"GlobalAveragePool", h_global_pool},
  {"GlobalMaxPool", h_global_pool},
  {"Constant", h_constant}, {"CastLike", h_cast_like}, {"HannWindow", h_window}, {"HammingWindow", h_window},
  {"BlackmanWindow", h_window}, {"QuantizeLinear", h_quantize}, {"DequantizeLinear", h_quantize},
  {"DynamicQuantizeLinear", h_dynamic_quantize}, {"Compress", h_compress}, {"ReverseSequence", h_reverse_sequence},
  {"MaxUnpool", h_max_unpool}, {"Identity", h_identity}, {"Dropout", h_dropout},  {"Shape", h_shape},
  {"Size", h_size},         {"Reshape", h_reshape},   {"Flatten", h_flatten},  {"Squeeze", h_squeeze},
  {"LSTM", h_recurrent}, {"GRU", h_recurrent}, {"RNN", h_recurrent},
  {"Unsqueeze", h_unsqueeze}, {"MatMul", h_matmul},   {"Gemm", h_gemm},
};

/* IR ops whose ops.def names an ONNX op but whose form differs (layout,
 * attributes): the generic path must not take them. */
static const char *not_generic[] = {"Conv", "MaxPool", "AveragePool", NULL};

static bool unsupported_op(Imp *I, NodeP *np, const char *dom, int64_t version) {
  I->node = NULL; /* the message names the node itself */
  return unsupported(I, np->op_type, "unsupported op %s (%s, opset %lld) at node %s", np->op_type, dom,
                     (long long)version, node_name(np));
}

/* The opset a node's domain is imported at (-1 if the model does not import it). */
static int64_t domain_version(Imp *I, const char *dom) {
  for (size_t i = 0; i < I->model->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = I->model->opset_import[i];
    const char *d = o->domain ? o->domain : "";
    if (!strcmp(d, dom ? dom : "") || (!*d && dom && !strcmp(dom, "ai.onnx"))) return o->version;
  }
  return -1;
}

static bool import_node(Imp *I, NodeP *np) {
  I->node = np;
  const char *dom = np->domain && *np->domain ? np->domain : "ai.onnx";
  if (!np->op_type) return fail(I, "node without an op type");
  bool training = !strcmp(dom, "ai.onnx.preview.training") &&
                  (!strcmp(np->op_type, "Adam") || !strcmp(np->op_type, "Adagrad") || !strcmp(np->op_type, "Momentum"));
  if (!training && (strcmp(dom, "ai.onnx") || I->opset < 1)) return unsupported_op(I, np, dom, domain_version(I, np->domain));
  Value *in[64] = {0}, *out[16] = {0};
  if (np->n_input > 64 || np->n_output > 16) return fail(I, "too many inputs or outputs");
  if (np->n_output == 0) return fail(I, "the node has no outputs");
  for (size_t i = 0; i < np->n_attribute; i++)
    if (!np->attribute[i]->name || !*np->attribute[i]->name) return fail(I, "attribute %zu has no name", i);
  for (size_t i = 0; i < np->n_input; i++) {
    if (!np->input[i] || !*np->input[i]) continue; /* optional input left out */
    in[i] = lookup(I, np->input[i]);
    if (!in[i]) return fail(I, "input '%s' is not defined before the node (a dangling name or a cycle)", np->input[i]);
  }
  int nin = (int)np->n_input;
  while (nin > 0 && !in[nin - 1]) nin--;
  /* running statistics are not trained: BatchNormalization's mean and var stay constants */
  for (int i = 3; i < nin && i < 5 && !strcmp(np->op_type, "BatchNormalization"); i++)
    if (in[i]->kind == VK_PARAM && in[i]->init.kind == INIT_DATA) in[i]->kind = VK_CONST;
  bool ok = false, found = false;
  for (size_t k = 0; k < sizeof handlers / sizeof handlers[0] && !found; k++)
    if (!strcmp(handlers[k].op, np->op_type)) ok = handlers[k].fn(I, np, in, nin, out), found = true;
  if (training) ok = h_optimizer(I, np, in, nin, out), found = true;
  if (!found) {
    int op = find_ir_op(np->op_type);
    for (int k = 0; not_generic[k]; k++)
      if (!strcmp(not_generic[k], np->op_type)) op = -1;
    if (op < 0) return unsupported_op(I, np, dom, I->opset);
    ok = generic(I, np, op, in, out);
  }
  if (!ok) return false;
  for (size_t k = 0; k < np->n_output; k++) {
    if (!np->output[k] || !*np->output[k]) continue;
    if (!out[k]) return unsupported(I, np->op_type, "output %zu of %s is not supported", k, np->op_type);
    if (lookup(I, np->output[k])) return fail(I, "value '%s' is defined twice", np->output[k]);
    if (!value_bound(I, out[k])) value_set_unique_name(I->g, out[k], c_name(I, np->output[k]));
    bind(I, np->output[k], out[k]);
  }
  return true;
}

/* ---- the whole model ---- */

static bool read_opsets(Imp *I) {
  I->opset = -1;
  for (size_t i = 0; i < I->model->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = I->model->opset_import[i];
    if ((!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) && o->has_version) I->opset = o->version;
  }
  if (I->opset > 17) return unsupported(I, "opset", "opset %lld is newer than nn2c knows (17)", (long long)I->opset);
  return true;
}

static bool import_graph(Imp *I) {
  const Onnx__GraphProto *gp = I->model->graph;
  if (!gp) return fail(I, "the model has no graph");
  if (!read_opsets(I) || !import_inputs(I, gp)) return false;
  for (size_t i = 0; i < gp->n_node; i++)
    if (!import_node(I, gp->node[i])) return false;
  I->node = NULL;
  if (!gp->n_output) return fail(I, "the graph has no outputs");
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name;
    Value *v = name ? lookup(I, name) : NULL;
    if (!v) return fail(I, "graph output '%s' is not computed by any node", name ? name : "");
    graph_add_output(I->g, v);
  }
  return true;
}

Graph *onnx_import(const char *path, const OnnxOptions *o, OnnxStatus *st) {
  size_t len;
  char *data = read_whole_file(path, &len);
  if (!data) {
    if (st) *st = (OnnxStatus){.need_const = -1};
    error_plain("cannot read '%s'", path);
    return NULL;
  }
  Graph *g = onnx_import_buffer(path, data, len, o, st);
  free(data);
  return g;
}

Graph *onnx_import_buffer(const char *path, const void *data, size_t len, const OnnxOptions *o, OnnxStatus *st) {
  static const OnnxOptions none = {0};
  if (st) *st = (OnnxStatus){.need_const = -1};
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, data);
  if (!m) {
    error_plain("%s: not a valid ONNX model (truncated or corrupt protobuf)", path);
    return NULL;
  }
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  Graph *g = graph_new(NULL);
  Imp I = {.g = g, .opt = o ? o : &none, .st = st, .path = path, .model = m};
  char *name = arena_strndup(&g->arena, base, strcspn(base, "."));
  g->name = c_name(&I, name);
  bool ok = import_graph(&I);
  if (ok) graph_compact(g);
  onnx__model_proto__free_unpacked(m, NULL);
  free(I.b);
  if (!ok) {
    graph_free(g);
    return NULL;
  }
  return g;
}

void *onnx_read_tensor(const char *path, DType *t, Shape *s) {
  size_t len;
  char *data = read_whole_file(path, &len);
  if (!data) {
    error_plain("cannot read '%s'", path);
    return NULL;
  }
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, (const uint8_t *)data);
  free(data);
  if (!tp) {
    error_plain("%s: not a valid TensorProto", path);
    return NULL;
  }
  Graph *g = graph_new(NULL);
  static const OnnxOptions none = {0};
  Imp I = {.g = g, .opt = &none, .path = path};
  Value *v = tensor_const(&I, tp, "t");
  void *r = NULL;
  if (v) {
    size_t bytes = (size_t)shape_numel_static(v->shape) * (size_t)dtype_size(v->dtype);
    r = memcpy(xmalloc(bytes ? bytes : 1), v->data, bytes);
    *t = v->dtype;
    *s = v->shape;
  }
  onnx__tensor_proto__free_unpacked(tp, NULL);
  graph_free(g);
  return r;
}

bool onnx_model_ops(const char *path, Vec *ops) {
  size_t len;
  char *data = read_whole_file(path, &len);
  Onnx__ModelProto *m = data ? onnx__model_proto__unpack(NULL, len, (const uint8_t *)data) : NULL;
  free(data);
  if (!m) return false;
  for (size_t i = 0; m->graph && i < m->graph->n_node; i++)
    if (m->graph->node[i]->op_type) vec_push(ops, xstrdup(m->graph->node[i]->op_type));
  onnx__model_proto__free_unpacked(m, NULL);
  return true;
}

/* ---- export: the source model with trained initializers ---- */

static bool write_atomically(const char *path, const uint8_t *data, size_t len) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(data, 1, len, f) == len;
  ok = f && fclose(f) == 0 && ok;
  if (ok && rename(tmp, path) == 0) return true;
  error_plain("cannot write '%s'", path);
  remove(tmp);
  return false;
}

/* Initializer t takes the values of param v (raw little-endian f32, as x86
 * and ARM store floats); the caller restores *saved before freeing. */
static void replace_initializer(Onnx__TensorProto *t, const float *vals, int64_t n, Onnx__TensorProto *saved) {
  *saved = *t;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->has_raw_data = 1;
  t->raw_data.len = (size_t)n * sizeof(float);
  t->raw_data.data = (uint8_t *)vals;
  t->n_float_data = 0;
  t->n_external_data = 0;
  t->has_data_location = 0;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
}

bool onnx_export(const char *src_path, Graph *g, const float *params, const char *out_path) {
  size_t len;
  char *data = read_whole_file(src_path, &len);
  Onnx__ModelProto *m = data ? onnx__model_proto__unpack(NULL, len, (const uint8_t *)data) : NULL;
  free(data);
  if (!m || !m->graph) {
    error_plain("%s: cannot read the source model", src_path);
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    return false;
  }
  Onnx__GraphProto *gp = m->graph;
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  graph_block_layout(g, VK_PARAM, off);
  Onnx__TensorProto *saved = xcalloc(gp->n_initializer + 1, sizeof(Onnx__TensorProto));
  bool *replaced = xcalloc(gp->n_initializer + 1, sizeof(bool));
  Imp I = {.g = g};
  int nparams = 0, matched = 0;
  for (int i = 0; i < g->nvalues; i++) nparams += g->values[i]->kind == VK_PARAM;
  for (size_t k = 0; k < gp->n_initializer; k++) {
    Value *v = gp->initializer[k]->name ? graph_find(g, c_name(&I, gp->initializer[k]->name)) : NULL;
    if (!v || v->kind != VK_PARAM) continue;
    replace_initializer(gp->initializer[k], params + off[v->id], shape_numel_static(v->shape), &saved[k]);
    replaced[k] = true;
    matched++;
  }
  bool ok = matched == nparams;
  if (!ok) error_plain("%s: %d of the %d trained tensors match no initializer", src_path, nparams - matched, nparams);
  size_t n = onnx__model_proto__get_packed_size(m);
  uint8_t *buf = xmalloc(n ? n : 1);
  onnx__model_proto__pack(m, buf);
  ok = ok && write_atomically(out_path, buf, n);
  free(buf);
  for (size_t k = 0; k < gp->n_initializer; k++)
    if (replaced[k]) *gp->initializer[k] = saved[k];
  onnx__model_proto__free_unpacked(m, NULL);
  free(saved);
  free(replaced);
  free(off);
  return ok;
}
