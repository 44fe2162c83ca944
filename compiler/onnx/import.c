/* import.c - ONNX model -> IR graph, through protobuf-c code generated
 * at build time from the system's onnx.proto.
 *
 * 1. Unpack the ModelProto; read the opset of each domain.
 * 2. Graph inputs (those without an initializer) become VK_INPUT values, with
 *    symbolic dimensions fixed by --dim; then initializers become constants
 *    (tensor.c: raw_data, typed fields or external data files next to the model).
 * 3. Nodes in file order (ONNX requires topological order, so a name used
 *    before it is defined is dangling or part of a cycle). Each node goes to a
 *    special handler (ops whose IR form differs: Conv and the pools in nchw.c,
 *    Gemm, Reshape, Shape, ...) or to the generic path: the IR op whose
 *    ops.def `onnx` field is the op type, with the same inputs and attributes;
 *    inputs beyond the IR op's tensor inputs are compile-time parameters and
 *    become attributes named as the ONNX input (docs/design.md).
 * 4. Each new node gets its shape inference at once and, when all its inputs
 *    are constants, is folded with the interpreter's kernel, so the shape
 *    arithmetic PyTorch emits (Shape -> Gather -> Concat -> Reshape) turns
 *    into constants that later nodes read as attributes.
 * Errors name the node; the protobuf is freed before returning. */
#include "onnx/onnx_impl.h"
#include "rnn.h"

#include <math.h>
#include <string.h>

/* ---- diagnostics ---- */

/* A node's name, or its first output's when it has none (common in exports). */
static const char *node_name(const Onnx__NodeProto *np) {
  if (np->name && *np->name) return np->name;
  return np->n_output && np->output[0] ? np->output[0] : "?";
}

bool imp_fail(Imp *I, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (I->node)
    error_plain("%s: node '%s' (%s): %s", I->path, node_name(I->node), I->node->op_type ? I->node->op_type : "?", msg);
  else
    error_plain("%s: %s", I->path, msg);
  return false;
}

bool imp_unsupported(Imp *I, const char *what, const char *fmt, ...) {
  if (I->st) {
    I->st->unsupported = true;
    snprintf(I->st->what, sizeof I->st->what, "%s", what);
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return imp_fail(I, "%s", msg);
}

/* The graph input (by position) v is computed from, or -1. */
static int input_of(Imp *I, Value *v, int depth) {
  for (int k = 0; k < I->ninputs; k++)
    if (I->inputs[k] == v && v->kind == VK_INPUT) return k; /* not one frozen already */
  for (int i = 0; v->def && depth < 64 && i < v->def->nin; i++) {
    int k = input_of(I, v->def->in[i], depth + 1);
    if (k >= 0) return k;
  }
  return -1;
}

/* A value that must be known at compile time is not: if it is computed from
 * a graph input, say which, so a caller may freeze it and try again. */
bool imp_need_const(Imp *I, Value *v, const char *what) {
  if (I->st) I->st->need_const = input_of(I, v, 0);
  return imp_unsupported(I, I->node ? I->node->op_type : "?", "%s must be a constant (nn2c needs it at compile time)",
                         what);
}

/* ---- names and bindings ---- */

const char *imp_name(Imp *I, const char *s) {
  char *r = arena_printf(&I->g->arena, "%s%s", s && (*s >= '0' && *s <= '9') ? "v" : "", s && *s ? s : "t");
  for (char *p = r; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))) *p = '_';
  return r;
}

/* Bindings are found through a hash index (a scan of all of them per name was quadratic
 * in the model's size: 135 s for 20,000 nodes). */
static BindSlot *bind_slot(Imp *I, const char *name) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = name; *p; p++)
    h = (h ^ (uint8_t)*p) * 16777619u;
  uint32_t mask = (uint32_t)I->capslots - 1, i = h & mask;
  while (I->slots[i].name && strcmp(I->slots[i].name, name))
    i = (i + 1) & mask;
  return &I->slots[i];
}

/* The latest binding of name, or -1. A recorded one past nb or now holding another name
 * was dropped with its body: then the bindings left are scanned, once. */
static int find_binding(Imp *I, const char *name) {
  if (!I->capslots) return -1;
  BindSlot *s = bind_slot(I, name);
  if (!s->name || s->idx < 0) return -1;
  if (s->idx < I->nb && !strcmp(I->b[s->idx].name, name)) return s->idx;
  int i = I->nb - 1;
  while (i >= 0 && strcmp(I->b[i].name, name))
    i--;
  return s->idx = i;
}

static Value *lookup(Imp *I, const char *name) {
  int i = find_binding(I, name);
  return i >= 0 ? I->b[i].v : NULL;
}

ImpSeq *imp_lookup_seq(Imp *I, const char *name) {
  int i = find_binding(I, name);
  return i >= 0 ? I->b[i].seq : NULL;
}

static bool value_bound(Imp *I, Value *v) { return v->id >= 0 && v->id < I->capnbound && I->nbound[v->id] > 0; }

static void count_binding(Imp *I, Value *v, int by) {
  if (!v) return;
  if (v->id >= I->capnbound) {
    int cap = I->capnbound;
    I->capnbound = 2 * v->id + 64;
    I->nbound = xrealloc(I->nbound, sizeof(int) * (size_t)I->capnbound);
    memset(I->nbound + cap, 0, sizeof(int) * (size_t)(I->capnbound - cap));
  }
  I->nbound[v->id] += by;
}

static void bind(Imp *I, const char *name, Value *v) {
  if (I->nb == I->capb) {
    I->capb = I->capb ? I->capb * 2 : 64;
    I->b = xrealloc(I->b, sizeof(Binding) * (size_t)I->capb);
  }
  if (2 * (I->nslots + 1) > I->capslots) { /* grow the index */
    BindSlot *old = I->slots;
    int cap = I->capslots;
    I->capslots = cap ? 2 * cap : 256;
    I->slots = xcalloc((size_t)I->capslots, sizeof(BindSlot));
    for (int i = 0; i < cap; i++)
      if (old[i].name) *bind_slot(I, old[i].name) = old[i];
    free(old);
  }
  BindSlot *s = bind_slot(I, name);
  if (!s->name) s->name = name, I->nslots++;
  s->idx = I->nb;
  count_binding(I, v, 1);
  I->b[I->nb++] = (Binding){name, v, NULL};
}

void imp_unbind_to(Imp *I, int nb) {
  while (I->nb > nb)
    count_binding(I, I->b[--I->nb].v, -1);
}

void imp_free_bindings(Imp *I) {
  free(I->b);
  free(I->slots);
  free(I->nbound);
}

static void bind_seq(Imp *I, const char *name, ImpSeq *seq) {
  bind(I, name, NULL);
  I->b[I->nb - 1].seq = seq;
}

/* ---- graph inputs ---- */

/* With batch_dim "", the batch N is axis 0 of the inputs under the symbolic
 * name the first input that has one gave it (inputs sharing that name share
 * N); otherwise the dimension named batch_dim. */
static bool is_batch_dim(Imp *I, const char *dim_param, size_t axis) {
  const char *b = I->opt->batch_dim;
  if (!b || (!*b && axis != 0)) return false;
  if (*b) return !strcmp(b, dim_param);
  if (!I->batch_name) I->batch_name = dim_param;
  return !strcmp(I->batch_name, dim_param);
}

static bool input_shape(Imp *I, const Onnx__ValueInfoProto *vi, DType *d, Shape *s) {
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return imp_unsupported(I, "non-tensor input", "input '%s' is not a tensor (sequences and maps are not supported)",
                           vi->name);
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  if (!tt->has_elem_type || !dtype_from_onnx(tt->elem_type, d)) {
    const char *ty = onnx_type_name(tt->has_elem_type ? tt->elem_type : 0);
    return imp_unsupported(I, ty, "input '%s' has dtype %s, which nn2c does not support", vi->name, ty);
  }
  if (!tt->shape) return imp_fail(I, "input '%s' has no shape", vi->name);
  int64_t dims[MAX_RANK + 1];
  size_t rank = tt->shape->n_dim;
  if (rank > MAX_RANK) return imp_unsupported(I, "rank", "input '%s' has rank %zu", vi->name, rank);
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
    if (!found)
      return imp_fail(I, "input '%s': dimension %zu is symbolic ('%s'); fix it with --dim %s=VALUE", vi->name, i, p, p);
  }
  if (!imp_make_shape(I, arena_printf(&I->g->arena, "input '%s'", vi->name), rank, dims, s)) return false;
  for (size_t i = 0; i < rank && batch; i++) {
    const Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[i];
    if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && is_batch_dim(I, dm->dim_param, i))
      s->d[i] = DIM_BATCH, batch = false;
  }
  return true;
}

/* The next graph input value (a constant when the runner froze it), or NULL. */
static Value *new_input(Imp *I, const char *name, DType d, Shape s) {
  const OnnxFrozen *fz = NULL;
  for (int k = 0; k < I->opt->nfrozen; k++)
    if (I->opt->frozen[k].index == I->ninputs) fz = &I->opt->frozen[k];
  Value *v = value_new(I->g, imp_name(I, name), fz ? VK_CONST : VK_INPUT, d, s);
  if (fz) {
    size_t bytes = (size_t)shape_numel_static(s) * (size_t)dtype_size(d);
    if (fz->dtype != d || !shape_eq(fz->shape, s))
      return imp_fail(I, "frozen input '%s' has the wrong type", name), NULL;
    v->data = memcpy(arena_alloc(&I->g->arena, bytes + 1), fz->data, bytes);
  }
  if (I->ninputs < 64) I->inputs[I->ninputs++] = v;
  return v;
}

/* A sequence input (graph input `index`): its length from seq_lens, its
 * tensors inputs NAME_0, NAME_1... shaped by shapes[] (the runner's data) or
 * by the element type when that is static. */
static bool import_seq_input(Imp *I, const Onnx__ValueInfoProto *vi, int index) {
  const Onnx__TypeProto *et = vi->type->sequence_type ? vi->type->sequence_type->elem_type : NULL;
  const Onnx__TypeProto__Tensor *tt =
      et && et->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ? et->tensor_type : NULL;
  DType d;
  if (!tt || !tt->has_elem_type || !dtype_from_onnx(tt->elem_type, &d))
    return imp_unsupported(I, "non-tensor input", "input '%s' is a sequence of non-tensors or of an unsupported dtype",
                           vi->name);
  int n = index < I->opt->nseq_lens ? I->opt->seq_lens[index] : -1;
  if (n < 0)
    return imp_fail(I, "input '%s' is a sequence: its length must be known (nn2c test-onnx reads it from the data)",
                    vi->name);
  ImpSeq *sq = imp_seq_new(I, n, d);
  for (int e = 0; e < n; e++) {
    Shape s = {0, {0}};
    bool known = I->ninputs < I->opt->nshapes;
    if (known) s = I->opt->shapes[I->ninputs];
    for (size_t i = 0; !known && tt->shape && i < tt->shape->n_dim && i < MAX_RANK; i++) {
      known = tt->shape->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      s.d[s.rank++] = tt->shape->dim[i]->dim_value;
    }
    if (!known) return imp_fail(I, "the tensors of sequence input '%s' need static shapes", vi->name);
    if (!(sq->items[e] = new_input(I, arena_printf(&I->g->arena, "%s_%d", vi->name, e), d, s))) return false;
  }
  bind_seq(I, vi->name, sq);
  return true;
}

static bool import_inputs(Imp *I, const Onnx__GraphProto *gp) {
  int index = 0; /* among the graph inputs without an initializer */
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    if (!vi->name || !*vi->name) return imp_fail(I, "graph input %zu has no name", i);
    bool init = false;
    for (size_t k = 0; k < gp->n_initializer && !init; k++)
      init = gp->initializer[k]->name && !strcmp(gp->initializer[k]->name, vi->name);
    if (init) continue;
    if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) {
      if (!import_seq_input(I, vi, index++)) return false;
      continue;
    }
    index++;
    DType d = DT_F32;
    Shape s;
    if (!input_shape(I, vi, &d, &s)) return false;
    Value *v = new_input(I, vi->name, d, s);
    if (!v) return false;
    bind(I, vi->name, v);
  }
  for (size_t k = 0; k < gp->n_initializer; k++) {
    const Onnx__TensorProto *t = gp->initializer[k];
    if (!t->name || !*t->name) return imp_fail(I, "initializer %zu has no name", k);
    Value *v = imp_tensor_const(I, t, NULL);
    if (!v) return false;
    /* trainable before the nodes come in, so no folding bakes them into constants */
    if (I->opt->trainable && v->dtype == DT_F32 && shape_numel_static(v->shape) > 0)
      v->kind = VK_PARAM, v->init = (Init){INIT_DATA, 0, 0};
    bind(I, t->name, v);
  }
  if (gp->n_sparse_initializer)
    return imp_unsupported(I, "sparse initializer", "sparse initializers are not supported");
  return true;
}

/* ---- building nodes ---- */

/* The IR op the generic path imports an ONNX op type as (ops.def's onnx
 * column), or -1. */
static int find_ir_op(const char *onnx_type) {
  for (int k = 0; k < OP_COUNT && *onnx_type; k++) /* "" marks internal ops, never an ONNX name */
    if (!strcmp(op_table[k].onnx, onnx_type)) return k;
  return -1;
}

Node *imp_mk(Imp *I, OpKind op, int nin, Value **in) { return node_new(I->g, op, nin, in, op_table[op].nout); }

/* Shape inference now, and folding when every input is constant. */
/* Whether v is an integer constant holding IMP_BATCH_MARK. */
static bool has_batch_mark(const Value *v) {
  if (v->kind != VK_CONST || v->dtype != DT_I64) return false;
  for (int64_t i = 0; i < shape_numel_static(v->shape); i++)
    if (((const int64_t *)v->data)[i] == IMP_BATCH_MARK) return true;
  return false;
}

/* Whether v is a constant without the mark whose values are all <= 0 (never N). */
static bool never_batch(const Value *v) {
  if (v->kind != VK_CONST || has_batch_mark(v)) return false;
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  for (int64_t i = 0; i < t.numel; i++)
    if (tensor_get(&t, i) > 0) return false;
  return true;
}

/* Ops that only move a shape's entries may take the batch mark; so may Where,
 * and Equal with values N never takes (the exporters' "-1 keeps the size" test). */
static bool moves_batch_mark(const Node *n) {
  OpKind op = n->op;
  if (op == OP_EQUAL) return never_batch(n->in[0]) || never_batch(n->in[1]);
  if (op == OP_WHERE) return !has_batch_mark(n->in[0]);
  return op == OP_GATHER ? n->in[1]->kind == VK_CONST && !has_batch_mark(n->in[1])
                         : op == OP_CONCAT || op == OP_SLICE || op == OP_RESHAPE || op == OP_IDENTITY ||
                               (op == OP_CAST && n->out[0]->dtype == DT_I64);
}

bool imp_finish(Imp *I, Node *n) {
  const OpDef *d = &op_table[n->op];
  for (int k = 0; k < n->nin; k++)
    if (has_batch_mark(n->in[k]) && !moves_batch_mark(n))
      return imp_unsupported(I, "Shape", "%s of the batch N (from Shape; fix the batch with --dim)", d->name);
  if (n->nin < d->min_in || n->nin > d->max_in)
    return imp_fail(I, "%s takes %d..%d inputs, got %d", d->name, d->min_in, d->max_in, n->nin);
  const char *err = d->infer(I->g, n);
  if (err) return imp_fail(I, "%s", err);
  for (int k = 0; k < n->nout; k++) {
    Value *o = n->out[k];
    int64_t c = 1;
    for (int i = 0; i < o->shape.rank; i++) {
      int64_t e = o->shape.d[i] == DIM_BATCH ? 1 : o->shape.d[i];
      if (e < 0 || (e && c > MAX_NUMEL / e)) return imp_fail(I, "output %d has an absurd shape", k);
      c *= e;
    }
    bool storage = n->op == OP_CAST || n->op == OP_CAST_LIKE || n->op == OP_RESHAPE; /* generic() computes in f32 */
    if ((o->dtype == DT_F16 || o->dtype == DT_BF16) && !storage)
      return imp_unsupported(I, "float16", "float16 results of %s are not supported", d->name);
  }
  int64_t most = 0; /* folding allocates the results: only for modest sizes */
  for (int k = 0; k < n->nout; k++)
    most += shape_numel(n->out[k]->shape, 1) * dtype_size(n->out[k]->dtype);
  return most > FOLD_BYTES || constfold_node(I->g, n) || imp_fail(I, "on its constant inputs");
}

Value *imp_mk2(Imp *I, OpKind op, Value *a, Value *b) {
  if (!a || !b) return NULL;
  Value *in[2] = {a, b};
  Node *n = imp_mk(I, op, 2, in);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

static Value *mk1(Imp *I, OpKind op, Value *a) {
  Node *n = a ? imp_mk(I, op, 1, &a) : NULL;
  return n && imp_finish(I, n) ? n->out[0] : NULL;
}

Value *imp_reshape_to(Imp *I, Value *x, Shape s) {
  if (shape_eq(x->shape, s)) return x;
  Node *n = imp_mk(I, OP_RESHAPE, 1, &x);
  node_set_reshape(I->g, n, s);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

Value *imp_scalar_like(Imp *I, Value *x, double v) {
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
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    node_set_int(g, n, key, a->i);
    return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    node_set_float(g, n, key, a->f);
    return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    node_set_ints(g, n, key, a->ints, (int)a->n_ints);
    return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    node_set_string(g, n, key, arena_strndup(&g->arena, (const char *)a->s.data, a->s.len));
    return true;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: {
    double *f = arena_alloc(&g->arena, sizeof(double) * (a->n_floats + 1));
    for (size_t i = 0; i < a->n_floats; i++)
      f[i] = a->floats[i];
    node_set_floats(g, n, key, f, (int)a->n_floats);
    return true;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
    Value *c = a->t ? imp_tensor_const(I, a->t, key) : NULL;
    if (!c) return false;
    Tensor t = {c->dtype, c->shape, shape_numel_static(c->shape), c->data};
    if (dtype_is_float(c->dtype)) {
      double *f = arena_alloc(&g->arena, sizeof(double) * (size_t)(t.numel + 1));
      for (int64_t i = 0; i < t.numel; i++)
        f[i] = tensor_get(&t, i);
      node_set_floats(g, n, key, f, (int)t.numel);
    } else {
      int64_t *v = arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(t.numel + 1));
      for (int64_t i = 0; i < t.numel; i++)
        v[i] = c->dtype == DT_I64 ? ((int64_t *)c->data)[i] : (int64_t)tensor_get(&t, i);
      node_set_ints(g, n, key, v, (int)t.numel);
    }
    node_set_int(g, n, arena_printf(&g->arena, "%s_dtype", key), dtype_to_onnx(c->dtype));
    if (!node_attr(n, "dtype")) node_set_int(g, n, "dtype", dtype_to_onnx(c->dtype)); /* ConstantOfShape's result */
    return true;
  }
  default:
    return imp_unsupported(I, "graph attribute", "attribute '%s' has a type nn2c does not support", a->name);
  }
}

/* A constant, or a trainable initializer read where ONNX needs a constant. */
static bool has_data(const Value *v) {
  return v->kind == VK_CONST || (v->kind == VK_PARAM && v->init.kind == INIT_DATA);
}

/* A constant input as integers (shapes, axes); false if not constant. */
static bool const_ints(Value *v, int64_t **out, int *n, Arena *a) {
  if (!has_data(v) || v->shape.rank > 1) return false;
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  *n = (int)t.numel;
  *out = arena_alloc(a, sizeof(int64_t) * (size_t)(t.numel + 1));
  for (int64_t i = 0; i < t.numel; i++)
    (*out)[i] = v->dtype == DT_I64 ? ((int64_t *)v->data)[i] : (int64_t)tensor_get(&t, i);
  return true;
}

/* A constant input as an attribute named after the ONNX input. */
static bool input_to_attr(Imp *I, Node *n, Value *v, const char *key) {
  if (!has_data(v)) return imp_need_const(I, v, arena_printf(&I->g->arena, "input '%s'", key));
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  if (!strcmp(key, "start") || !strcmp(key, "values")) /* Range's and OneHot's result dtype */
    node_set_int(I->g, n, "dtype", dtype_to_onnx(v->dtype));
  if (dtype_is_float(v->dtype)) {
    double *f = arena_alloc(&I->g->arena, sizeof(double) * (size_t)(t.numel + 1));
    for (int64_t i = 0; i < t.numel; i++)
      f[i] = tensor_get(&t, i);
    if (v->shape.rank == 0)
      node_set_float(I->g, n, key, f[0]);
    else
      node_set_floats(I->g, n, key, f, (int)t.numel);
  } else {
    int64_t *x;
    int cnt;
    if (!const_ints(v, &x, &cnt, &I->g->arena)) return imp_fail(I, "input '%s' must have rank 0 or 1", key);
    bool shape = !strcmp(key, "shape") || !strcmp(key, "input"); /* Expand's, ConstantOfShape's: N allowed */
    for (int i = 0; i < cnt; i++)
      if (x[i] == IMP_BATCH_MARK && !(x[i] = shape ? DIM_BATCH : 0))
        return imp_unsupported(I, "Shape", "input '%s' holds the batch N (from Shape; fix the batch with --dim)", key);
    bool scalar = v->shape.rank == 0 || (cnt == 1 && (!strcmp(key, "k") || !strcmp(key, "axis"))); /* TopK's K is [1] */
    if (scalar)
      node_set_int(I->g, n, key, x[0]);
    else
      node_set_ints(I->g, n, key, x, cnt);
  }
  return true;
}

/* Names of ONNX inputs that are compile-time parameters (docs/design.md). */
static const struct {
  const char *op;
  const char *in[5];
} param_inputs[] = {
    {"Reshape", {"data", "shape"}},
    {"Expand", {"input", "shape"}},
    {"Tile", {"input", "repeats"}},
    {"Slice", {"data", "starts", "ends", "axes", "steps"}},
    {"Pad", {"data", "pads", "constant_value", "axes"}},
    {"TopK", {"X", "k"}},
    {"Squeeze", {"data", "axes"}},
    {"Unsqueeze", {"data", "axes"}},
    {"ReduceSum", {"data", "axes"}},
    {"Split", {"input", "split"}},
    {"OneHot", {"indices", "depth", "values"}},
    {"Range", {"start", "limit", "delta"}},
    {"Clip", {"input", "min", "max"}},
    {"Resize", {"X", "roi", "scales", "sizes"}},
    {"Upsample", {"X", "scales"}},
    {"ConstantOfShape", {"input"}},
    {"CumSum", {"x", "axis"}},
    {"Trilu", {"input", "k"}},
    {"Dropout", {"data", "ratio", "training_mode"}},
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

const Onnx__AttributeProto *imp_attr(NodeP *np, const char *name) {
  for (size_t i = 0; i < np->n_attribute; i++)
    if (np->attribute[i]->name && !strcmp(np->attribute[i]->name, name)) return np->attribute[i];
  return NULL;
}

int64_t imp_attr_i(NodeP *np, const char *name, int64_t dflt) {
  const Onnx__AttributeProto *a = imp_attr(np, name);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ? a->i : dflt;
}

static double attr_f(NodeP *np, const char *name, double dflt) {
  const Onnx__AttributeProto *a = imp_attr(np, name);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT ? a->f : dflt;
}

/* Broadcasting before opset 7: a binary op's broadcast=1 matches B against
 * A's axes from `axis` on (default: its last axes, numpy's rule), and
 * PRelu's slope [C] applies along A's channel axis 1. B gets the trailing
 * unit axes that make today's numpy rule give the same result. */
static Value *legacy_broadcast(Imp *I, NodeP *np, Value *a, Value *b) {
  int axis = (int)imp_attr_i(np, "axis", -1);
  bool prelu = !strcmp(np->op_type, "PRelu");
  if (prelu && b->shape.rank == 1 && a->shape.rank > 2 && b->shape.d[0] == a->shape.d[1] && b->shape.d[0] != 1)
    axis = 1;
  else if (prelu || !imp_attr_i(np, "broadcast", 0) || axis < 0)
    return b;
  if (axis > a->shape.rank || axis + b->shape.rank > a->shape.rank) return b; /* inference reports the shapes */
  Shape s = b->shape;
  while (s.rank < a->shape.rank - axis)
    s.d[s.rank++] = 1;
  return imp_reshape_to(I, b, s);
}

static bool generic(Imp *I, NodeP *np, int op, Value **in, Value **out) {
  const OpDef *d = &op_table[op];
  int nt = 0; /* tensor inputs: the leading ones, up to the IR op's max */
  while (nt < (int)np->n_input && nt < d->max_in && in[nt])
    nt++;
  if (I->opset < 7 && nt == 2 && !(in[1] = legacy_broadcast(I, np, in[0], in[1]))) return false;
  DType half = DT_F32; /* float16 and bfloat16 are storage only: other ops compute in f32 and round back */
  for (int k = 0; k < nt && op != OP_CAST && op != OP_CAST_LIKE; k++)
    if (in[k]->dtype == DT_F16 || in[k]->dtype == DT_BF16) half = in[k]->dtype, in[k] = imp_cast_to(I, in[k], DT_F32);
  for (int k = 0; k < nt; k++)
    if (!in[k]) return false;
  Node *n = node_new(I->g, (OpKind)op, nt, in, d->flags & OPF_VAR_OUT ? (int)np->n_output : d->nout);
  for (size_t i = (size_t)nt; i < np->n_input; i++) {
    if (!in[i]) continue;
    const char *key = param_input_name(np->op_type, i);
    if (!key) return imp_unsupported(I, np->op_type, "input %zu of %s is not supported", i, np->op_type);
    bool reduce = !strncmp(np->op_type, "Reduce", 6);
    if (reduce && in[i]->kind == VK_CONST && !shape_numel_static(in[i]->shape) &&
        !imp_attr_i(np, "noop_with_empty_axes", 0))
      continue; /* empty axes: reduce over all of them */
    if (!input_to_attr(I, n, in[i], key)) return false;
  }
  for (size_t i = 0; i < np->n_attribute; i++)
    if (!copy_attr(I, n, np->attribute[i], attr_key(I, np->op_type, np->attribute[i]->name))) return false;
  if (!strcmp(np->op_type, "LeakyRelu") && !node_attr(n, "alpha"))
    node_set_float(I->g, n, "alpha", 0.01); /* not Keras's 0.3 */
  bool softmax_family =
      !strcmp(np->op_type, "Softmax") || !strcmp(np->op_type, "LogSoftmax") || !strcmp(np->op_type, "Hardmax");
  if (softmax_family && I->opset < 13) node_set_int(I->g, n, "legacy_2d", 1);
  node_set_int(I->g, n, "opset", I->opset);
  if (!strcmp(np->op_type, "Cast") && node_int(n, "to", 1) == 8)
    return imp_unsupported(I, "string", "Cast to string is not supported");
  if (!imp_finish(I, n)) return false;
  for (int k = 0; k < n->nout; k++)
    out[k] = half != DT_F32 && n->out[k]->dtype == DT_F32 ? imp_cast_to(I, n->out[k], half) : n->out[k];
  return true;
}

/* ---- special handlers ---- */

typedef bool (*Handler)(Imp *I, NodeP *np, Value **in, int nin, Value **out);

enum { VARIADIC_MAX = 16 }; /* the IR's concat, sum, mean, max and min take up to 16 inputs */

/* Concat, Sum, Mean, Max, Min with any number of inputs: up to 16 go to the
 * IR op as they are; more are combined in groups of 16 and the groups'
 * results combined again (concatenation and these reductions are
 * associative). Mean sums the groups and divides by the count once. */
static bool h_variadic(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  int op = find_ir_op(np->op_type);
  NN2C_ASSERT(op >= 0);
  if (nin <= VARIADIC_MAX) return generic(I, np, op, in, out);
  bool mean = !strcmp(np->op_type, "Mean");
  int ngroups = (nin + VARIADIC_MAX - 1) / VARIADIC_MAX;
  Value **parts = xcalloc((size_t)ngroups, sizeof(Value *));
  Onnx__NodeProto group = *np; /* the same attributes (Concat's axis) over a slice of the inputs */
  if (mean) group.op_type = "Sum";
  bool ok = true;
  for (int k = 0; k < ngroups && ok; k++) {
    int lo = k * VARIADIC_MAX, cnt = nin - lo < VARIADIC_MAX ? nin - lo : VARIADIC_MAX;
    group.n_input = (size_t)cnt;
    for (int i = lo; i < lo + cnt && ok; i++)
      ok = in[i] != NULL || imp_fail(I, "input %d is missing", i);
    Value *one[16] = {0};
    ok = ok && h_variadic(I, &group, in + lo, cnt, one);
    parts[k] = one[0];
  }
  group.n_input = (size_t)ngroups;
  Value *all[16] = {0};
  ok = ok && h_variadic(I, &group, parts, ngroups, all);
  free(parts);
  if (!ok) return false;
  out[0] = mean ? imp_mk2(I, OP_DIV, all[0], imp_scalar_like(I, all[0], nin)) : all[0];
  return out[0] != NULL;
}

/* The handler's inputs: lo..hi of them, the first lo present. */
bool imp_need_inputs(Imp *I, Value **in, int nin, int lo, int hi) {
  for (int i = 0; i < lo && i < nin; i++)
    if (!in[i]) return imp_fail(I, "input %d is missing", i);
  return (nin >= lo && nin <= hi) || imp_fail(I, "expects %d..%d inputs, got %d", lo, hi, nin);
}

static Value *int64_const(Imp *I, const char *name, int rank, const int64_t *d, int n) {
  Value *v = value_new(I->g, name, VK_CONST, DT_I64, rank ? shape_make(1, (int64_t[]){n}) : shape_scalar());
  v->data = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(n + 1));
  memcpy(v->data, d, sizeof(int64_t) * (size_t)n);
  return v;
}

static bool h_constant(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)in, (void)nin;
  if (np->n_attribute != 1) return imp_fail(I, "Constant needs exactly one value attribute");
  const Onnx__AttributeProto *a = np->attribute[0];
  const char *name = np->n_output ? np->output[0] : "c";
  if (!strcmp(a->name, "value") && a->t) return (out[0] = imp_tensor_const(I, a->t, name)) != NULL;
  if (!strcmp(a->name, "value_int")) return (out[0] = int64_const(I, name, 0, &a->i, 1)) != NULL;
  if (!strcmp(a->name, "value_ints")) return (out[0] = int64_const(I, name, 1, a->ints, (int)a->n_ints)) != NULL;
  bool one = !strcmp(a->name, "value_float");
  if (!one && strcmp(a->name, "value_floats"))
    return imp_unsupported(I, "Constant", "Constant %s is not supported", a->name);
  int cnt = one ? 1 : (int)a->n_floats;
  Value *v =
      value_new(I->g, imp_name(I, name), VK_CONST, DT_F32, one ? shape_scalar() : shape_make(1, (int64_t[]){cnt}));
  v->data = arena_alloc(&I->g->arena, sizeof(float) * (size_t)(cnt + 1));
  memcpy(v->data, one ? &a->f : a->floats, sizeof(float) * (size_t)cnt);
  return (out[0] = v) != NULL;
}

static bool h_identity(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!imp_need_inputs(I, in, nin, 1, 3)) return false;
  out[0] = in[0];
  if (in[0] == &I->seq_mark) I->seq_outs[0] = imp_lookup_seq(I, np->input[0]); /* a sequence passes through */
  if (np->n_output > 1 && *np->output[1]) { /* Dropout's mask: all ones in inference */
    Value *m = value_new(I->g, "mask", VK_CONST, DT_BOOL, in[0]->shape);
    m->data = arena_alloc(&I->g->arena, (size_t)shape_numel_static(in[0]->shape) + 1);
    memset(m->data, 1, (size_t)shape_numel_static(in[0]->shape));
    out[1] = m;
  }
  return true;
}

static bool h_shape(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  Shape s = in[0]->shape;
  for (int i = 0; i < s.rank; i++)
    s.d[i] = s.d[i] == DIM_BATCH ? IMP_BATCH_MARK : s.d[i];
  int64_t lo = imp_attr_i(np, "start", 0), hi = imp_attr_i(np, "end", s.rank);
  lo = lo < 0 ? lo + s.rank : lo;
  hi = hi < 0 ? hi + s.rank : hi;
  lo = lo < 0 ? 0 : lo > s.rank ? s.rank : lo;
  hi = hi < lo ? lo : hi > s.rank ? s.rank : hi;
  out[0] = int64_const(I, "shape", 1, s.d + lo, (int)(hi - lo));
  return true;
}

static bool h_size(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  if (shape_has_batch(in[0]->shape))
    return imp_unsupported(I, "Size", "Size of a value with the batch dimension N (fix the batch with --dim)");
  int64_t n = shape_numel_static(in[0]->shape);
  out[0] = int64_const(I, "size", 0, &n, 1);
  return true;
}

/* Reshape, Flatten, Squeeze, Unsqueeze: a reshape to a shape known now. */
static bool h_reshape(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 2)) return false;
  Shape x = in[0]->shape, s = {0, {0}};
  int64_t *d = NULL;
  int n = 0;
  const Onnx__AttributeProto *a = imp_attr(np, "shape");
  if (nin == 2 && !const_ints(in[1], &d, &n, &I->g->arena)) return imp_need_const(I, in[1], "the shape input");
  if (nin == 1 && a) d = a->ints, n = (int)a->n_ints;
  if (n > MAX_RANK) return imp_fail(I, "shape has %d dimensions", n);
  int infer = -1;
  int64_t known = 1;
  bool copied_batch = false; /* a 0 entry copied the batch N */
  for (int i = 0; i < n; i++) {
    bool copy = d[i] == 0 && !imp_attr_i(np, "allowzero", 0);
    s.d[i] = copy ? (i < x.rank ? x.d[i] : 0) : d[i] == IMP_BATCH_MARK ? DIM_BATCH : d[i];
    if ((copy || d[i] == IMP_BATCH_MARK) && s.d[i] == DIM_BATCH)
      copied_batch = true;
    else if (s.d[i] == -1 && infer < 0)
      infer = i;
    else if (s.d[i] < 0)
      return imp_fail(I, "bad shape entry %lld", (long long)d[i]);
    else
      known *= s.d[i];
  }
  s.rank = n;
  bool absorbs_batch = infer >= 0 && shape_has_batch(x) && !copied_batch; /* -1 takes N (and nothing else) */
  if (absorbs_batch && known != shape_numel_static(x))
    return imp_unsupported(I, "Reshape", "reshape of %s to a shape that merges the batch N with other axes",
                           shape_str(&I->g->arena, x));
  if (infer >= 0) s.d[infer] = absorbs_batch ? DIM_BATCH : known ? shape_numel_static(x) / known : 0;
  if (shape_numel_static(s) != shape_numel_static(x) || shape_has_batch(s) != shape_has_batch(x))
    return imp_fail(I, "cannot reshape %s to %s", shape_str(&I->g->arena, x), shape_str(&I->g->arena, s));
  return (out[0] = imp_reshape_to(I, in[0], s)) != NULL;
}

static bool h_flatten(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  Shape x = in[0]->shape;
  int64_t ax = imp_attr_i(np, "axis", 1);
  if (ax < 0) ax += x.rank;
  if (ax < 0 || ax > x.rank) return imp_fail(I, "axis %lld out of range", (long long)imp_attr_i(np, "axis", 1));
  int64_t a = 1, b = 1;
  for (int i = 0; i < x.rank; i++)
    *(i < ax ? &a : &b) *= x.d[i];
  return (out[0] = imp_reshape_to(I, in[0], shape_make(2, (int64_t[]){a, b}))) != NULL;
}

/* Axes of Squeeze/Unsqueeze: an attribute before opset 13, an input since. */
static bool axes_of(Imp *I, NodeP *np, Value **in, int nin, int64_t **ax, int *n) {
  const Onnx__AttributeProto *a = imp_attr(np, "axes");
  if (a)
    *ax = a->ints, *n = (int)a->n_ints;
  else if (nin < 2)
    *ax = NULL, *n = 0;
  else if (!const_ints(in[1], ax, n, &I->g->arena))
    return imp_need_const(I, in[1], "the axes input");
  return true;
}

static bool h_squeeze(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  int64_t *ax;
  int n;
  if (!imp_need_inputs(I, in, nin, 1, 2) || !axes_of(I, np, in, nin, &ax, &n)) return false;
  Shape x = in[0]->shape, s = {0, {0}};
  bool drop[MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int k = normalize_axis(ax[i], x.rank);
    if (k < 0 || x.d[k] != 1)
      return imp_fail(I, "cannot squeeze axis %lld of %s", (long long)ax[i], shape_str(&I->g->arena, x));
    drop[k] = true;
  }
  for (int i = 0; i < x.rank; i++)
    if (!(n ? drop[i] : x.d[i] == 1)) s.d[s.rank++] = x.d[i];
  return (out[0] = imp_reshape_to(I, in[0], s)) != NULL;
}

static bool h_unsqueeze(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  int64_t *ax;
  int n;
  if (!imp_need_inputs(I, in, nin, 1, 2) || !axes_of(I, np, in, nin, &ax, &n)) return false;
  Shape x = in[0]->shape, s = {0, {0}};
  int rank = x.rank + n;
  if (rank > MAX_RANK) return imp_unsupported(I, "rank", "result has rank %d", rank);
  bool ins[MAX_RANK] = {false};
  for (int i = 0; i < n; i++) {
    int k = normalize_axis(ax[i], rank);
    if (k < 0 || ins[k]) return imp_fail(I, "bad axis %lld", (long long)ax[i]);
    ins[k] = true;
  }
  for (int i = 0, j = 0; i < rank; i++)
    s.d[i] = ins[i] ? 1 : x.d[j++];
  s.rank = rank;
  return (out[0] = imp_reshape_to(I, in[0], s)) != NULL;
}

static Value *slice_first(Imp *I, Value *x, int64_t i, Shape s) {
  Node *n = imp_mk(I, OP_SLICE, 1, &x);
  node_set_ints(I->g, n, "starts", &i, 1);
  node_set_ints(I->g, n, "ends", (int64_t[]){i + 1}, 1);
  node_set_ints(I->g, n, "axes", (int64_t[]){0}, 1);
  return imp_finish(I, n) ? imp_reshape_to(I, n->out[0], s) : NULL;
}

/* Stacks of matrices with equal batch dimensions: one 2-D matmul per matrix,
 * joined by a concat. */
static bool batched_matmul(Imp *I, Value *a, Value *b, Value **out) {
  Shape as = a->shape, bs = b->shape;
  bool same = as.rank == bs.rank;
  for (int i = 0; i < as.rank - 2 && same; i++)
    same = as.d[i] == bs.d[i];
  int64_t m = as.d[as.rank - 2], k = as.d[as.rank - 1], n = bs.d[bs.rank - 1],
          nb = shape_numel_static(as) / (m * k > 0 ? m * k : 1);
  if (!same || bs.d[bs.rank - 2] != k || nb > 256 || nb < 1)
    return imp_unsupported(I, "MatMul", "MatMul with broadcast batch dimensions is not supported");
  Value *A = imp_reshape_to(I, a, shape_make(3, (int64_t[]){nb, m, k})),
        *B = imp_reshape_to(I, b, shape_make(3, (int64_t[]){nb, k, n}));
  Value *parts[256];
  for (int64_t i = 0; i < nb; i++) {
    Value *ai = slice_first(I, A, i, shape_make(2, (int64_t[]){m, k}));
    Value *bi = ai ? slice_first(I, B, i, shape_make(2, (int64_t[]){k, n})) : NULL;
    Value *ci = bi ? imp_mk2(I, OP_MATMUL, ai, bi) : NULL;
    if (!ci || !(parts[i] = imp_reshape_to(I, ci, shape_make(3, (int64_t[]){1, m, n})))) return false;
  }
  Value *c = parts[0];
  for (int64_t i = 1; i < nb; i += 15) { /* concat takes up to 16 inputs */
    Value *in[16] = {c};
    int cnt = 1;
    for (int64_t j = i; j < nb && cnt < 16; j++)
      in[cnt++] = parts[j];
    Node *cn = imp_mk(I, OP_CONCAT, cnt, in);
    node_set_int(I->g, cn, "axis", 0);
    if (!imp_finish(I, cn)) return false;
    c = cn->out[0];
  }
  Shape s = as;
  s.d[s.rank - 1] = n;
  return (*out = imp_reshape_to(I, c, s)) != NULL;
}

static Value *reduce_axes(Imp *I, OpKind op, Value *x, const int64_t *axes, int naxes, bool keep);

/* x with a unit axis inserted at position `at`. */
static Value *with_unit_axis(Imp *I, Value *x, int at) {
  Shape s = x->shape;
  for (int i = s.rank; i > at; i--)
    s.d[i] = s.d[i - 1];
  s.d[at] = 1, s.rank++;
  return imp_reshape_to(I, x, s);
}

/* a [.., m, k] x b [.., k, n] for the forms the 2-D matmul cannot take (a
 * stack that broadcasts, or the batch N inside a stack): a as [.., m, k, 1]
 * times b as [.., 1, k, n], summed over k. Ordinary broadcasting ops, so it
 * differentiates; it holds m k n products per stack entry, hence the limit. */
static bool matmul_by_broadcast(Imp *I, Value *a, Value *b, Value **out) {
  int64_t m = a->shape.d[a->shape.rank - 2], k = a->shape.d[a->shape.rank - 1], n = b->shape.d[b->shape.rank - 1];
  int rank = (a->shape.rank > b->shape.rank ? a->shape.rank : b->shape.rank) + 1;
  if (rank > MAX_RANK || m * k * n > ((int64_t)1 << 22) || b->shape.d[b->shape.rank - 2] != k)
    return imp_unsupported(I, "MatMul", "MatMul of %s and %s (broadcast stacks of more than 4 Mi products or rank 8)",
                           shape_str(&I->g->arena, a->shape), shape_str(&I->g->arena, b->shape));
  Value *a1 = with_unit_axis(I, a, a->shape.rank);
  Value *b1 = with_unit_axis(I, b, b->shape.rank - 2);
  Value *prod = a1 && b1 ? imp_mk2(I, OP_MUL, a1, b1) : NULL;
  int64_t axis = rank - 2;
  return prod && (*out = reduce_axes(I, OP_REDUCE_SUM, prod, &axis, 1, false)) != NULL;
}

/* Equal stacks of matrices, without the batch N (batched_matmul's form). */
static bool same_stacks(Shape a, Shape b) {
  bool same = a.rank == b.rank && !shape_has_batch(a) && !shape_has_batch(b);
  for (int i = 0; i < a.rank - 2 && same; i++)
    same = a.d[i] == b.d[i];
  return same;
}

/* MatMul: numpy semantics. 1-D operands gain a unit axis (dropped from the
 * result); a 2-D b takes the 2-D matmul op (a's leading axes folded into
 * rows unless the batch N is among them); equal stacks take
 * batched_matmul; everything else matmul_by_broadcast. */
static bool h_matmul(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!imp_need_inputs(I, in, nin, 2, 2)) return false;
  int ra = in[0]->shape.rank, rb = in[1]->shape.rank;
  if (ra == 0 || rb == 0) return imp_fail(I, "MatMul operands must not be scalars");
  Value *A = ra == 1 ? with_unit_axis(I, in[0], 0) : in[0];
  Value *B = rb == 1 ? with_unit_axis(I, in[1], 1) : in[1];
  if (!A || !B) return false;
  Shape as = A->shape, bs = B->shape;
  Value *c = NULL;
  if (bs.rank == 2 && (as.rank == 2 || !shape_has_batch(as))) {
    int64_t k = as.d[as.rank - 1], rows = shape_numel_static(as) / (k ? k : 1);
    Value *A2 = as.rank == 2 ? A : imp_reshape_to(I, A, shape_make(2, (int64_t[]){rows, k}));
    Shape ys = as;
    ys.d[ys.rank - 1] = bs.d[1];
    if (!A2 || !(c = imp_mk2(I, OP_MATMUL, A2, B)) || !(c = imp_reshape_to(I, c, as.rank == 2 ? c->shape : ys)))
      return false;
  } else if (same_stacks(as, bs)) {
    if (!batched_matmul(I, A, B, &c)) return false;
  } else if (!matmul_by_broadcast(I, A, B, &c))
    return false;
  Shape s = c->shape; /* drop the unit axes the 1-D operands gained */
  if (rb == 1) s.rank--;
  if (ra == 1) s.d[s.rank - (rb == 1 ? 1 : 2)] = s.d[s.rank - 1], s.rank--;
  return (out[0] = imp_reshape_to(I, c, s)) != NULL;
}

/* Gemm: alpha op(A) op(B) + beta C. */
static bool h_gemm(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 3)) return false;
  Value *ab[2] = {in[0], in[1]};
  int64_t tb = imp_attr_i(np, "transB", 0);
  if (tb && in[1]->kind == VK_CONST && in[1]->shape.rank == 2) { /* a constant: transposed once, here */
    Node *t = imp_mk(I, OP_TRANSPOSE, 1, &ab[1]);
    node_set_ints(I->g, t, "perm", (const int64_t[]){1, 0}, 2);
    if (!imp_finish(I, t)) return false;
    ab[1] = t->out[0], tb = 0;
  }
  Node *n = imp_mk(I, OP_MATMUL, 2, ab);
  node_set_int(I->g, n, "transa", imp_attr_i(np, "transA", 0));
  node_set_int(I->g, n, "transb", tb);
  if (!imp_finish(I, n)) return false;
  Value *y = n->out[0];
  double alpha = attr_f(np, "alpha", 1), beta = attr_f(np, "beta", 1);
  if (alpha != 1 && !(y = imp_mk2(I, OP_MUL, y, imp_scalar_like(I, y, alpha)))) return false;
  if (nin == 3 && in[2] && beta != 0) {
    Value *c = beta == 1 ? in[2] : imp_mk2(I, OP_MUL, in[2], imp_scalar_like(I, in[2], beta));
    if (!c || !(y = imp_mk2(I, OP_ADD, y, c))) return false;
  }
  out[0] = y;
  return true;
}

/* CastLike reads only like's dtype: a cast, so like may go unread. */
static bool h_cast_like(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  return imp_need_inputs(I, in, nin, 2, 2) && (out[0] = imp_cast_to(I, in[0], in[1]->dtype)) != NULL;
}

/* Dropout: the identity (and a mask of ones) in inference mode or with ratio
 * 0. In training mode with a seed attribute the mask is drawn here, as
 * ONNX's reference does on every call (numpy seeded with the seed, keep
 * where uniform >= ratio), so the compiled model applies that fixed mask;
 * without a seed (a fresh mask per call) it is not supported. */
static bool h_dropout(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (nin >= 3 && in[2] && !has_data(in[2])) return imp_need_const(I, in[2], "training_mode");
  double r = 0;
  if (nin >= 3 && in[2] && ((uint8_t *)in[2]->data)[0]) {
    r = 0.5;
    if (nin >= 2 && in[1] && !has_data(in[1])) return imp_need_const(I, in[1], "ratio");
    Tensor t = {in[1] ? in[1]->dtype : DT_F32, shape_scalar(), 1, in[1] ? in[1]->data : NULL};
    if (in[1]) r = tensor_get(&t, 0);
  }
  if (r == 0) return h_identity(I, np, in, nin > 1 ? 1 : nin, out);
  if (!imp_attr(np, "seed") || !(r > 0 && r < 1) || !dtype_is_float(in[0]->dtype))
    return imp_unsupported(I, "Dropout", "Dropout in training mode needs a seed attribute and a ratio in [0, 1)");
  int64_t n = shape_numel_static(in[0]->shape);
  if (shape_has_batch(in[0]->shape) || n > FOLD_BYTES / 8)
    return imp_unsupported(I, "Dropout", "seeded Dropout on a large or batched input");
  Value *m = value_new(I->g, "mask", VK_CONST, DT_BOOL, in[0]->shape),
        *k = value_new(I->g, "keep", VK_CONST, in[0]->dtype, in[0]->shape);
  ImpRng rng;
  if (!imp_rng_from_seed(I, np, &rng)) return false;
  m->data = arena_alloc(&I->g->arena, (size_t)n + 1);
  k->data = arena_alloc(&I->g->arena, (size_t)(n * dtype_size(k->dtype)) + 8);
  Tensor kt = {k->dtype, k->shape, n, k->data};
  for (int64_t e = 0; e < n; e++) {
    double u = imp_rng_uniform(&rng);
    ((uint8_t *)m->data)[e] = u >= r, tensor_set(&kt, e, u >= r ? 1 / (1 - r) : 0);
  }
  out[0] = imp_mk2(I, OP_MUL, in[0], k);
  if (np->n_output > 1) out[1] = m;
  return out[0] != NULL;
}

static Value *clip_to(Imp *I, Value *v, double lo, double hi) {
  Node *c = v ? imp_mk(I, OP_CLIP, 1, &v) : NULL;
  if (!c) return NULL;
  node_set_float(I->g, c, "min", lo);
  node_set_float(I->g, c, "max", hi);
  return imp_finish(I, c) ? c->out[0] : NULL;
}

static Value *reduce_axes(Imp *I, OpKind op, Value *x, const int64_t *axes, int naxes, bool keep);

/* DynamicQuantizeLinear: scale and zero point to map [min(x, 0), max(x, 0)]
 * onto uint8, then QuantizeLinear. One built value per statement (the order
 * of a call's arguments is unspecified, and it names the values), in the
 * order gcc used for the nested calls this replaces, so the IR is unchanged. */
static bool h_dynamic_quantize(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  Value *x = in[0];
  int64_t axes[MAX_RANK];
  for (int i = 0; i < x->shape.rank; i++)
    axes[i] = i;
  if (!dtype_is_float(x->dtype)) return imp_unsupported(I, np->op_type, "DynamicQuantizeLinear needs an f32 input");
  Value *zero = imp_scalar_like(I, x, 0);
  Value *lo = reduce_axes(I, OP_REDUCE_MIN, x, axes, x->shape.rank, false);
  Value *mn = imp_mk2(I, OP_MIN, lo, zero);
  zero = imp_scalar_like(I, x, 0);
  Value *hi = reduce_axes(I, OP_REDUCE_MAX, x, axes, x->shape.rank, false);
  Value *mx = imp_mk2(I, OP_MAX, hi, zero);
  Value *levels = imp_scalar_like(I, x, 255);
  Value *sc = imp_mk2(I, OP_DIV, imp_mk2(I, OP_SUB, mx, mn), levels);
  Value *shift = imp_mk2(I, OP_DIV, mn, sc);
  zero = imp_scalar_like(I, x, 0);
  Value *zp = mk1(I, OP_ROUND, clip_to(I, imp_mk2(I, OP_SUB, zero, shift), 0, 255));
  Value *q[3] = {x, sc, zp ? imp_cast_to(I, zp, DT_U8) : NULL};
  if (!q[2] || !h_quantize(I, np, q, 3, out)) return false;
  out[1] = sc, out[2] = q[2];
  return true;
}

/* Compress: a Gather of the positions whose condition holds (the condition
 * must be known at compile time; without an axis x is flattened first). */
static bool h_compress(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 2)) return false;
  if (!has_data(in[1])) return imp_need_const(I, in[1], "the condition");
  Value *x = imp_attr(np, "axis")
                 ? in[0]
                 : imp_reshape_to(I, in[0], shape_make(1, (int64_t[]){shape_numel_static(in[0]->shape)}));
  int axis = x ? normalize_axis(imp_attr_i(np, "axis", 0), x->shape.rank) : -1;
  if (axis < 0 || shape_has_batch(x->shape)) return imp_fail(I, "bad axis");
  Tensor c = {in[1]->dtype, in[1]->shape, shape_numel_static(in[1]->shape), in[1]->data};
  int64_t n = 0, *idx = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(c.numel + 1));
  for (int64_t i = 0; i < c.numel && i < x->shape.d[axis]; i++)
    if (tensor_get(&c, i) != 0) idx[n++] = i;
  Value *g[2] = {x, int64_const(I, "kept", 1, idx, (int)n)};
  Node *gn = imp_mk(I, OP_GATHER, 2, g);
  node_set_int(I->g, gn, "axis", axis);
  return imp_finish(I, gn) && (out[0] = gn->out[0]) != NULL;
}

/* ReverseSequence: a GatherElements whose indices reverse the first
 * sequence_lens[b] steps of each batch entry b (lengths known at compile time). */
static bool h_reverse_sequence(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 2)) return false;
  if (!has_data(in[1])) return imp_need_const(I, in[1], "sequence_lens");
  Shape xs = in[0]->shape;
  int ba = (int)imp_attr_i(np, "batch_axis", 1), ta = (int)imp_attr_i(np, "time_axis", 0);
  Tensor l = {in[1]->dtype, in[1]->shape, shape_numel_static(in[1]->shape), in[1]->data};
  if (xs.rank < 2 || ba < 0 || ta < 0 || ba >= xs.rank || ta >= xs.rank || ba == ta || shape_has_batch(xs) ||
      l.numel != xs.d[ba])
    return imp_fail(I, "bad batch_axis, time_axis or sequence_lens");
  Value *ix = value_new(I->g, "reversed", VK_CONST, DT_I64, xs);
  int64_t n = shape_numel_static(xs), co[MAX_RANK],
          *d = ix->data = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(n + 1));
  for (int64_t e = 0; e < n; e++) {
    int64_t q = e;
    for (int i = xs.rank - 1; i >= 0; i--)
      co[i] = q % xs.d[i], q /= xs.d[i];
    int64_t len = (int64_t)tensor_get(&l, co[ba]), t = co[ta];
    d[e] = t < len ? len - 1 - t : t;
  }
  Value *g[2] = {in[0], ix};
  Node *gn = imp_mk(I, OP_GATHER_ELEMENTS, 2, g);
  node_set_int(I->g, gn, "axis", ta);
  return imp_finish(I, gn) && (out[0] = gn->out[0]) != NULL;
}

/* MaxUnpool: X scattered to the flat positions I of a zero tensor of the
 * unpooled shape ((in - 1) stride + kernel - pads per spatial axis), padded
 * with zeros at the end up to output_shape when that is given. */
static bool h_max_unpool(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 3)) return false;
  Shape xs = in[0]->shape, ys = xs;
  int S = xs.rank - 2;
  const Onnx__AttributeProto *k = imp_attr(np, "kernel_shape"), *st = imp_attr(np, "strides"),
                             *p = imp_attr(np, "pads");
  if (S < 1 || !k || (int)k->n_ints != S || !shape_eq(in[1]->shape, xs) || shape_has_batch(xs))
    return imp_fail(I, "bad kernel_shape or indices");
  int64_t *os = NULL;
  int n = 0;
  if (nin > 2 && in[2] && !const_ints(in[2], &os, &n, &I->g->arena)) return imp_need_const(I, in[2], "output_shape");
  for (int i = 0; i < S; i++) {
    int64_t s = st && (int)st->n_ints == S ? st->ints[i] : 1,
            pd = p && (int)p->n_ints == 2 * S ? p->ints[i] + p->ints[S + i] : 0;
    ys.d[2 + i] = (xs.d[2 + i] - 1) * s + k->ints[i] - pd;
  }
  int64_t grow[2 * MAX_RANK] = {0}; /* a larger output_shape: zeros after the default one, indices unchanged */
  for (int i = 0; os && i < n && i < ys.rank; i++)
    grow[ys.rank + i] = os[i] - ys.d[i];
  for (int i = 0; i < ys.rank; i++)
    if (grow[ys.rank + i] < 0 || (i < 2 && grow[ys.rank + i]))
      return imp_fail(I, "output_shape is smaller than the unpooled shape");
  if ((os && n != ys.rank) || shape_numel_static(ys) > FOLD_BYTES / 8) return imp_fail(I, "bad output_shape");
  int64_t total = shape_numel_static(ys), cnt = shape_numel_static(xs);
  Value *z = value_new(I->g, "zeros", VK_CONST, in[0]->dtype, shape_make(1, &total));
  z->data = arena_alloc(&I->g->arena, (size_t)(total * dtype_size(z->dtype)) + 8);
  memset(z->data, 0, (size_t)(total * dtype_size(z->dtype)));
  Shape flat = shape_make(1, &cnt);
  Value *sc[3] = {z, imp_reshape_to(I, in[1], flat), imp_reshape_to(I, in[0], flat)};
  Node *sn = sc[1] && sc[2] ? imp_mk(I, OP_SCATTER_ELEMENTS, 3, sc) : NULL;
  if (!sn) return false;
  node_set_int(I->g, sn, "axis", 0);
  Value *y = imp_finish(I, sn) ? imp_reshape_to(I, sn->out[0], ys) : NULL;
  Node *pn = y && os ? imp_mk(I, OP_PAD, 1, &y) : NULL;
  if (pn) node_set_ints(I->g, pn, "pads", grow, 2 * ys.rank);
  return (out[0] = pn ? (imp_finish(I, pn) ? pn->out[0] : NULL) : y) != NULL;
}

/* HannWindow, HammingWindow, BlackmanWindow: a constant of the given size,
 * a0 - a1 cos(2 pi n / D) + a2 cos(4 pi n / D), D = size (periodic) or size - 1. */
static bool h_window(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  if (!has_data(in[0])) return imp_need_const(I, in[0], "the size input");
  Tensor st = {in[0]->dtype, shape_scalar(), 1, in[0]->data};
  int64_t n = (int64_t)tensor_get(&st, 0);
  DType t;
  if (n < 0 || n > FOLD_BYTES / 8 || !dtype_from_onnx((int)imp_attr_i(np, "output_datatype", 1), &t) ||
      !dtype_is_float(t))
    return imp_fail(I, "bad size or output_datatype");
  double a0 = 0.5, a1 = 0.5, a2 = 0, D = imp_attr_i(np, "periodic", 1) ? n : n - 1;
  if (np->op_type[0] == 'H' && np->op_type[2] == 'm') a0 = 25.0 / 46, a1 = 21.0 / 46;
  if (np->op_type[0] == 'B') a0 = 0.42, a2 = 0.08;
  Value *v = value_new(I->g, "window", VK_CONST, t, shape_make(1, &n));
  v->data = arena_alloc(&I->g->arena, (size_t)(n * 8 + 8));
  Tensor vt = {t, v->shape, n, v->data};
  for (int64_t i = 0; i < n; i++)
    tensor_set(&vt, i, a0 - a1 * cos(6.283185307179586 * (double)i / D) + a2 * cos(12.566370614359172 * (double)i / D));
  return (out[0] = v) != NULL;
}

/* ---- ai.onnx.preview.training optimizers: one update step, written out in
 * elementwise ops (one built value per statement, in the order gcc used for
 * the nested calls this replaces, so the IR does not depend on the compiler). Inputs R (rate), T (step count), then the
 * tensors X..., G..., and the state (V..., H...); outputs X_new... and the new state. ---- */

static bool h_optimizer(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const char *op = np->op_type;
  bool adam = !strcmp(op, "Adam"), adagrad = !strcmp(op, "Adagrad");
  int groups = adam ? 4 : 3;
  if (nin < 2 + groups || (nin - 2) % groups || !in[0] || !in[1])
    return imp_fail(I, "expects R, T and %d groups of tensors", groups);
  int n = (nin - 2) / groups;
  for (int i = 2; i < nin; i++)
    if (!in[i] || in[i]->dtype != DT_F32) return imp_unsupported(I, op, "%s needs f32 tensors", op);
  double norm = attr_f(np, "norm_coefficient", 0), alpha = attr_f(np, "alpha", adam ? 0.9 : 0);
  double beta = attr_f(np, "beta", adam ? 0.999 : 0), eps = attr_f(np, "epsilon", adam || adagrad ? 1e-6 : 0);
  bool nesterov =
      imp_attr(np, "mode") && imp_attr(np, "mode")->s.len == 8 && !memcmp(imp_attr(np, "mode")->s.data, "nesterov", 8);
  Value *R = in[0], *T = imp_cast_to(I, in[1], DT_F32);
  Value *started = T ? imp_mk2(I, OP_GREATER, T, imp_scalar_like(I, T, 0)) : NULL;
  for (int i = 0; i < n; i++) {
    Value *X = in[2 + i], *G = in[2 + n + i], *S = in[2 + 2 * n + i];
#define C(v) imp_scalar_like(I, X, (v))
    Value *g = imp_mk2(I, OP_ADD, imp_mk2(I, OP_MUL, C(norm), X), G), *x = NULL, *s1 = NULL, *s2 = NULL;
    if (adagrad) {
      Value *decay = imp_mk2(I, OP_MUL, T, C(attr_f(np, "decay_factor", 0)));
      Value *r = imp_mk2(I, OP_DIV, R, imp_mk2(I, OP_ADD, C(1), decay));
      s1 = imp_mk2(I, OP_ADD, S, imp_mk2(I, OP_MUL, g, g));
      Value *e = C(eps);
      Value *den = imp_mk2(I, OP_ADD, mk1(I, OP_SQRT, s1), e);
      Value *step = imp_mk2(I, OP_DIV, imp_mk2(I, OP_MUL, r, g), den);
      x = imp_mk2(I, OP_SUB, X, step);
    } else if (!adam) {                 /* Momentum: beta applies from the second step */
      Value *bc = C(beta), *one = C(1); /* not in the initializer: its order is unspecified */
      Value *w[3] = {started, bc, one};
      Node *wn = started ? imp_mk(I, OP_WHERE, 3, w) : NULL;
      Value *b = wn && imp_finish(I, wn) ? wn->out[0] : NULL;
      Value *fresh = imp_mk2(I, OP_MUL, b, g);
      s1 = imp_mk2(I, OP_ADD, imp_mk2(I, OP_MUL, C(alpha), S), fresh);
      Value *dir = s1;
      if (nesterov) {
        Value *ahead = imp_mk2(I, OP_MUL, C(alpha), s1);
        dir = imp_mk2(I, OP_ADD, g, ahead);
      }
      x = imp_mk2(I, OP_SUB, X, imp_mk2(I, OP_MUL, R, dir));
    } else { /* Adam, with bias correction from the first step on */
      Value *fresh = imp_mk2(I, OP_MUL, C(1 - alpha), g);
      s1 = imp_mk2(I, OP_ADD, imp_mk2(I, OP_MUL, C(alpha), S), fresh);
      Value *g2 = imp_mk2(I, OP_MUL, g, g);
      Value *fresh2 = imp_mk2(I, OP_MUL, C(1 - beta), g2);
      s2 = imp_mk2(I, OP_ADD, imp_mk2(I, OP_MUL, C(beta), in[2 + 3 * n + i]), fresh2);
      Value *apow = imp_mk2(I, OP_POW, C(alpha), T);
      Value *c1 = imp_mk2(I, OP_SUB, C(1), apow);
      Value *bpow = imp_mk2(I, OP_POW, C(beta), T);
      Value *c2 = mk1(I, OP_SQRT, imp_mk2(I, OP_SUB, C(1), bpow));
      Value *corr = imp_mk2(I, OP_DIV, c2, c1);
      Value *w[3] = {started, imp_mk2(I, OP_MUL, R, corr), R};
      Node *wn = started && w[1] ? imp_mk(I, OP_WHERE, 3, w) : NULL;
      Value *r = wn && imp_finish(I, wn) ? wn->out[0] : NULL;
      Value *e = C(eps);
      Value *den = imp_mk2(I, OP_ADD, mk1(I, OP_SQRT, s2), e);
      Value *step = imp_mk2(I, OP_MUL, r, imp_mk2(I, OP_DIV, s1, den));
      x = imp_mk2(I, OP_SUB, X, step);
      x = imp_mk2(I, OP_MUL, C(1 - attr_f(np, "norm_coefficient_post", 0)), x);
    }
#undef C
    if (!x || !s1 || (adam && !s2)) return false;
    out[i] = x, out[n + i] = s1;
    if (adam) out[2 * n + i] = s2;
  }
  return true;
}

/* ---- losses, built from IR ops (so they differentiate) ----
 * NegativeLogLikelihoodLoss(x [N,C,d...], t [N,d...], w [C]?): the picked
 * element is selected with a one-hot mask (t == class), whose class list has
 * the ignored class replaced by a value no label has, so ignored positions
 * get weight 0 without a separate test. Per element: loss = -sum_c W x,
 * weight = sum_c W with W = onehot * w; mean = sum(loss) / sum(weight). */

static Value *reduce_axes(Imp *I, OpKind op, Value *x, const int64_t *axes, int naxes, bool keep) {
  Node *n = imp_mk(I, op, 1, &x);
  if (naxes) node_set_ints(I->g, n, "axes", axes, naxes);
  node_set_int(I->g, n, "keepdims", keep);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

Value *imp_cast_to(Imp *I, Value *x, DType t) {
  Node *n = imp_mk(I, OP_CAST, 1, &x);
  node_set_string(I->g, n, "to", dtype_name(t));
  return imp_finish(I, n) ? n->out[0] : NULL;
}

static bool nll(Imp *I, NodeP *np, Value *x, Value *t, Value *w, Value **out) {
  Shape xs = x->shape;
  if (xs.rank < 2 || t->shape.rank != xs.rank - 1 || dtype_is_float(t->dtype))
    return imp_fail(I, "needs input [N,C,...] and integer target [N,...]");
  int64_t C = xs.d[1], ignore = imp_attr_i(np, "ignore_index", INT64_MIN);
  Shape cs = {xs.rank, {1}};
  for (int i = 0; i < xs.rank; i++)
    cs.d[i] = i == 1 ? C : 1;
  Value *cls = value_new(I->g, "classes", VK_CONST, t->dtype, cs);
  cls->data = arena_alloc(&I->g->arena, sizeof(int64_t) * (size_t)(C + 1));
  Tensor ct = {t->dtype, cs, C, cls->data};
  for (int64_t c = 0; c < C; c++)
    tensor_set(&ct, c, c == ignore ? -1e9 : (double)c);
  Shape ts = t->shape; /* the target with a class axis of 1 */
  for (int i = ts.rank; i > 1; i--)
    ts.d[i] = ts.d[i - 1];
  ts.d[1] = 1, ts.rank++;
  Value *tt = imp_reshape_to(I, t, ts), *eq = tt ? imp_mk2(I, OP_EQUAL, tt, cls) : NULL,
        *W = eq ? imp_cast_to(I, eq, x->dtype) : NULL;
  if (W && w) {
    Value *wr = imp_reshape_to(I, w, shape_make(cs.rank, cs.d));
    W = wr ? imp_mk2(I, OP_MUL, W, wr) : NULL;
  }
  int64_t one = 1;
  Value *picked = W ? imp_mk2(I, OP_MUL, W, x) : NULL;
  Value *loss = picked ? reduce_axes(I, OP_REDUCE_SUM, picked, &one, 1, false) : NULL;
  loss = loss ? imp_mk2(I, OP_SUB, imp_scalar_like(I, loss, 0), loss) : NULL;
  if (!loss) return false;
  char red[16] = "mean";
  const Onnx__AttributeProto *ra = imp_attr(np, "reduction");
  if (ra) snprintf(red, sizeof red, "%.*s", (int)ra->s.len, (const char *)ra->s.data);
  if (!strcmp(red, "none")) return (*out = loss) != NULL;
  Value *sum = reduce_axes(I, OP_REDUCE_SUM, loss, NULL, 0, false);
  if (!strcmp(red, "sum")) return (*out = sum) != NULL;
  if (strcmp(red, "mean")) return imp_fail(I, "unknown reduction '%s'", red);
  Value *ws = reduce_axes(I, OP_REDUCE_SUM, W, NULL, 0, false);
  return sum && ws && (*out = imp_mk2(I, OP_DIV, sum, ws)) != NULL;
}

static bool h_nll(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  return imp_need_inputs(I, in, nin, 2, 3) && nll(I, np, in[0], in[1], nin == 3 ? in[2] : NULL, out);
}

static bool h_softmax_ce(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 3)) return false;
  Node *n = imp_mk(I, OP_LOG_SOFTMAX, 1, in);
  node_set_int(I->g, n, "axis", 1);
  return imp_finish(I, n) && nll(I, np, n->out[0], in[1], nin == 3 ? in[2] : NULL, out) && (out[1] = n->out[0]);
}

/* ---- recurrent layers: LSTM, GRU and RNN are unrolled by rnn_lower (rnn.h),
 * the same lowering as the .nn layers, so imported recurrent models train.
 * Each direction is lowered on its own slice of W, R, B and the initial
 * states; the outputs are stacked on the direction axis. ---- */

/* t[start:end:step] along axis. */
Value *imp_take(Imp *I, Value *t, int axis, int64_t start, int64_t end, int64_t step) {
  Node *n = imp_mk(I, OP_SLICE, 1, &t);
  int64_t ax = axis;
  node_set_ints(I->g, n, "starts", &start, 1);
  node_set_ints(I->g, n, "ends", &end, 1);
  node_set_ints(I->g, n, "axes", &ax, 1);
  node_set_ints(I->g, n, "steps", &step, 1);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

/* Direction d of t (the direction on `axis`), reshaped to s. */
static Value *direction(Imp *I, Value *t, int axis, int d, Shape s) {
  Value *v = imp_take(I, t, axis, d, d + 1, 1);
  return v ? imp_reshape_to(I, v, s) : NULL;
}

/* Per-direction results of [..] shape `s` joined on a new axis `axis`. */
static Value *join_directions(Imp *I, Value **parts, int D, int axis) {
  Value *u[2];
  for (int d = 0; d < D; d++) {
    Shape s = parts[d]->shape;
    for (int k = s.rank; k > axis; k--)
      s.d[k] = s.d[k - 1];
    s.d[axis] = 1, s.rank++;
    if (!(u[d] = imp_reshape_to(I, parts[d], s))) return NULL;
  }
  if (D == 1) return u[0];
  Node *n = imp_mk(I, OP_CONCAT, 2, u);
  node_set_int(I->g, n, "axis", axis);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

/* Only the default activations (per cell) are supported. */
static bool default_activations(NodeP *np, RnnCell cell) {
  static const char *want[3] = {"Sigmoid", "Tanh", "Tanh"};
  const Onnx__AttributeProto *a = imp_attr(np, "activations");
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
  if (!imp_need_inputs(I, in, nin, 3, cell == RNN_LSTM ? 8 : 6)) return false;
  Value *x = in[0], *W = in[1], *R = in[2];
  int layout = (int)imp_attr_i(np, "layout", 0), ta = layout ? 1 : 0;
  if (x->shape.rank != 3 || W->shape.rank != 3 || R->shape.rank != 3) return imp_fail(I, "X, W and R must have rank 3");
  for (int i = 0; i < nin; i++)
    if (in[i] && i != 4 && in[i]->dtype != DT_F32)
      return imp_fail(I, "input %d must be float (found %s)", i, dtype_name(in[i]->dtype));
  int64_t T = x->shape.d[ta], N = x->shape.d[1 - ta], GH = W->shape.d[1], F = W->shape.d[2];
  int64_t H = GH / rnn_gates(cell);
  if (nin > 4 && in[4] && !has_data(in[4])) return imp_need_const(I, in[4], "sequence_lens");
  if (imp_attr(np, "clip") || imp_attr_i(np, "input_forget", 0) || !default_activations(np, cell) ||
      !full_sequences(nin > 4 ? in[4] : NULL, T))
    return imp_unsupported(I, np->op_type,
                           "%s with clip, input_forget, other activations or short sequences is not supported",
                           np->op_type);
  const Onnx__AttributeProto *da = imp_attr(np, "direction");
  char dir[32] = "forward";
  if (da && da->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    snprintf(dir, sizeof dir, "%.*s", (int)da->s.len, (const char *)da->s.data);
  int D = !strcmp(dir, "bidirectional") ? 2 : 1;
  if (strcmp(dir, "forward") && strcmp(dir, "reverse") && D != 2) return imp_fail(I, "unknown direction '%s'", dir);
  if (W->shape.d[0] != D || R->shape.d[0] != D || GH % rnn_gates(cell) || R->shape.d[2] != H)
    return imp_fail(I, "W, R must be [%d, gates*hidden, ...] with matching hidden sizes", D);
  Value *ys[2], *hs[2], *cs[2];
  for (int d = 0; d < D; d++) {
    RnnSpec s = {cell,
                 RNN_ONNX,
                 true,
                 D == 2 ? d == 1 : !strcmp(dir, "reverse"),
                 true,
                 imp_attr_i(np, "linear_before_reset", 0) != 0,
                 ta,
                 NULL,
                 NULL,
                 NULL,
                 NULL,
                 NULL,
                 NULL,
                 graph_unique_name(I->g, cell == RNN_LSTM  ? "lstm"
                                         : cell == RNN_GRU ? "gru"
                                                           : "rnn"),
                 {NULL, NULL, NULL}};
    s.w = direction(I, W, 0, d, shape_make(2, (int64_t[]){GH, F}));
    s.u = direction(I, R, 0, d, shape_make(2, (int64_t[]){GH, H}));
    if (nin > 3 && in[3]) {
      Value *b = direction(I, in[3], 0, d, shape_make(1, (int64_t[]){2 * GH}));
      s.b = b ? imp_take(I, b, 0, 0, GH, 1) : NULL;
      s.rb = b ? imp_take(I, b, 0, GH, 2 * GH, 1) : NULL;
      if (!s.b || !s.rb) return false;
    }
    Shape st = shape_make(2, (int64_t[]){N, H});
    if (nin > 5 && in[5] && !(s.h0 = direction(I, in[5], layout ? 1 : 0, d, st))) return false;
    if (nin > 6 && in[6] && !(s.c0 = direction(I, in[6], layout ? 1 : 0, d, st))) return false;
    if (nin > 7 && in[7]) { /* peepholes P [D, 3H]: i, o, f */
      Value *pd = direction(I, in[7], 0, d, shape_make(1, (int64_t[]){3 * H}));
      for (int k = 0; k < 3; k++)
        if (!pd || !(s.peep[k] = imp_take(I, pd, 0, k * H, (k + 1) * H, 1))) return false;
    }
    if (!s.w || !s.u) return false;
    const char *err = rnn_check(I->g, &s, x);
    if (err) return imp_fail(I, "%s", err);
    ys[d] = rnn_lower(I->g, &s, x, &hs[d], cell == RNN_LSTM ? &cs[d] : NULL);
    /* rnn_lower stacks in processing order; ONNX's Y is in time order */
    if (s.reverse && !(ys[d] = imp_take(I, ys[d], ta, -1, -(T + 1), -1))) return false;
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
    {"NegativeLogLikelihoodLoss", h_nll},
    {"SoftmaxCrossEntropyLoss", h_softmax_ce},
    {"Conv", nchw_conv},
    {"ConvTranspose", nchw_conv_transpose},
    {"MaxPool", nchw_pool},
    {"AveragePool", nchw_pool},
    {"GlobalAveragePool", nchw_global_pool},
    {"GlobalMaxPool", nchw_global_pool},
    {"Constant", h_constant},
    {"CastLike", h_cast_like},
    {"HannWindow", h_window},
    {"HammingWindow", h_window},
    {"BlackmanWindow", h_window},
    {"QuantizeLinear", h_quantize},
    {"DequantizeLinear", h_quantize},
    {"DynamicQuantizeLinear", h_dynamic_quantize},
    {"Compress", h_compress},
    {"ReverseSequence", h_reverse_sequence},
    {"MaxUnpool", h_max_unpool},
    {"Identity", h_identity},
    {"Dropout", h_dropout},
    {"Bernoulli", h_random},
    {"RandomUniform", h_random},
    {"RandomUniformLike", h_random},
    {"RandomNormal", h_random},
    {"RandomNormalLike", h_random},
    {"Shape", h_shape},
    {"Size", h_size},
    {"Reshape", h_reshape},
    {"Flatten", h_flatten},
    {"Squeeze", h_squeeze},
    {"LSTM", h_recurrent},
    {"GRU", h_recurrent},
    {"RNN", h_recurrent},
    {"Unsqueeze", h_unsqueeze},
    {"MatMul", h_matmul},
    {"Gemm", h_gemm},
    {"Concat", h_variadic},
    {"Sum", h_variadic},
    {"Mean", h_variadic},
    {"Max", h_variadic},
    {"Min", h_variadic},
    {"If", h_if},
    {"MatMulInteger", h_matmul_integer},
    {"NonZero", h_nonzero},
    {"MelWeightMatrix", h_mel},
    {"TfIdfVectorizer", h_tfidf},
    {"DFT", h_dft},
    {"STFT", h_stft},
    {"Unique", h_unique},
    {"NonMaxSuppression", h_nms},
    {"ConvInteger", h_conv_integer},
    {"QLinearMatMul", h_qlinear},
    {"QLinearConv", h_qlinear},
    {"SequenceEmpty", h_sequence},
    {"SequenceConstruct", h_sequence},
    {"SequenceInsert", h_sequence},
    {"SequenceErase", h_sequence},
    {"SequenceAt", h_sequence},
    {"SequenceLength", h_sequence},
    {"SplitToSequence", h_sequence},
    {"ConcatFromSequence", h_sequence},
    {"SequenceMap", h_sequence},
    {"Loop", h_loop},
    {"Scan", h_scan},
};

static bool unsupported_op(Imp *I, NodeP *np, const char *dom, int64_t version) {
  I->node = NULL; /* the message names the node itself */
  return imp_unsupported(I, np->op_type, "unsupported op %s (%s, opset %lld) at node %s", np->op_type, dom,
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

static bool import_node_into(Imp *I, NodeP *np, Value **in, Value **out) {
  const char *dom = np->domain && *np->domain ? np->domain : "ai.onnx";
  if (!np->op_type) return imp_fail(I, "node without an op type");
  bool training = !strcmp(dom, "ai.onnx.preview.training") &&
                  (!strcmp(np->op_type, "Adam") || !strcmp(np->op_type, "Adagrad") || !strcmp(np->op_type, "Momentum"));
  if (!training && (strcmp(dom, "ai.onnx") || I->opset < 1))
    return unsupported_op(I, np, dom, domain_version(I, np->domain));
  if (np->n_output == 0) return imp_fail(I, "the node has no outputs");
  for (size_t i = 0; i < np->n_attribute; i++)
    if (!np->attribute[i]->name || !*np->attribute[i]->name) return imp_fail(I, "attribute %zu has no name", i);
  if (!*np->op_type) return imp_fail(I, "node without an op type"); /* protobuf-c reads a missing one as "" */
  for (size_t i = 0; i < np->n_input; i++) {
    if (!np->input[i] || !*np->input[i]) continue; /* optional input left out */
    in[i] = lookup(I, np->input[i]);
    if (!in[i] && imp_lookup_seq(I, np->input[i])) in[i] = &I->seq_mark;
    if (!in[i])
      return imp_fail(I, "input '%s' is not defined before the node (a dangling name or a cycle)", np->input[i]);
    if (in[i] == &I->seq_mark && !strstr(np->op_type, "Sequence") && strcmp(np->op_type, "Identity") &&
        strcmp(np->op_type, "Loop"))
      return imp_unsupported(I, "sequence", "%s does not take the sequence '%s'", np->op_type, np->input[i]);
  }
  int nin = (int)np->n_input;
  while (nin > 0 && !in[nin - 1])
    nin--;
  /* running statistics are not trained: BatchNormalization's mean and var stay constants */
  for (int i = 3; i < nin && i < 5 && !strcmp(np->op_type, "BatchNormalization"); i++)
    if (in[i]->kind == VK_PARAM && in[i]->init.kind == INIT_DATA) in[i]->kind = VK_CONST;
  bool ok = false, found = false;
  for (size_t k = 0; k < sizeof handlers / sizeof handlers[0] && !found; k++)
    if (!strcmp(handlers[k].op, np->op_type)) ok = handlers[k].fn(I, np, in, nin, out), found = true;
  if (training) ok = h_optimizer(I, np, in, nin, out), found = true;
  if (!found) {
    int op = find_ir_op(np->op_type);
    if (op < 0) return unsupported_op(I, np, dom, I->opset);
    ok = generic(I, np, op, in, out);
  }
  if (!ok) return false;
  for (size_t k = 0; k < np->n_output; k++) {
    if (!np->output[k] || !*np->output[k]) continue;
    if (!out[k]) return imp_unsupported(I, np->op_type, "output %zu of %s is not supported", k, np->op_type);
    if (lookup(I, np->output[k]) || imp_lookup_seq(I, np->output[k]))
      return imp_fail(I, "value '%s' is defined twice", np->output[k]);
    if (out[k] == &I->seq_mark) {
      bind_seq(I, np->output[k], I->seq_outs[k]);
      continue;
    }
    if (!value_bound(I, out[k])) value_set_unique_name(I->g, out[k], imp_name(I, np->output[k]));
    bind(I, np->output[k], out[k]);
  }
  return true;
}

/* Any number of inputs (a DenseNet Concat has dozens); outputs are few. */
static bool import_node(Imp *I, NodeP *np) {
  I->node = np;
  if (np->n_input > 4096 || np->n_output > 16) return imp_fail(I, "too many inputs or outputs");
  /* at least 64 slots: handlers read optional inputs past nin as NULL */
  Value **in = xcalloc(np->n_input > 64 ? np->n_input : 64, sizeof(Value *)), *out[16] = {0};
  bool ok = import_node_into(I, np, in, out);
  free(in);
  return ok;
}

Value *imp_lookup(Imp *I, const char *name) { return lookup(I, name); }
bool imp_matmul(Imp *I, NodeP *np, Value **in, int nin, Value **out) { return h_matmul(I, np, in, nin, out); }
void imp_bind(Imp *I, const char *name, Value *v) { bind(I, name, v); }
void imp_bind_seq(Imp *I, const char *name, ImpSeq *seq) { bind_seq(I, name, seq); }
bool imp_node(Imp *I, NodeP *np) { return import_node(I, np); }
bool imp_is_const(const Value *v) { return has_data(v); }

/* ---- the whole model ---- */

static bool read_opsets(Imp *I) {
  I->opset = -1;
  for (size_t i = 0; i < I->model->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = I->model->opset_import[i];
    if ((!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) && o->has_version) I->opset = o->version;
  }
  if (I->opset > 17)
    return imp_unsupported(I, "opset", "opset %lld is newer than nn2c knows (17)", (long long)I->opset);
  return true;
}

static bool import_graph(Imp *I) {
  const Onnx__GraphProto *gp = I->model->graph;
  if (!gp) return imp_fail(I, "the model has no graph");
  if (!read_opsets(I) || !import_inputs(I, gp)) return false;
  for (size_t i = 0; i < gp->n_node; i++)
    if (!import_node(I, gp->node[i])) return false;
  I->node = NULL;
  if (!gp->n_output) return imp_fail(I, "the graph has no outputs");
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name;
    Value *v = name ? lookup(I, name) : NULL;
    ImpSeq *sq = !v && name ? imp_lookup_seq(I, name) : NULL;
    for (int e = 0; sq && e < sq->n; e++) /* a sequence output: its tensors, in order */
      graph_add_output(I->g, sq->items[e]);
    if (sq) continue;
    if (!v) return imp_fail(I, "graph output '%s' is not computed by any node", name ? name : "");
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
  g->name = imp_name(&I, name);
  bool ok = import_graph(&I);
  if (ok) graph_compact(g);
  onnx__model_proto__free_unpacked(m, NULL);
  imp_free_bindings(&I);
  if (!ok) {
    graph_free(g);
    return NULL;
  }
  return g;
}

bool onnx_model_sequences(const char *path, bool *in_seq, int max_in, bool *out_seq, int max_out) {
  size_t len;
  char *data = read_whole_file(path, &len);
  Onnx__ModelProto *m = data ? onnx__model_proto__unpack(NULL, len, (const uint8_t *)data) : NULL;
  free(data);
  if (!m || !m->graph) return m ? (onnx__model_proto__free_unpacked(m, NULL), false) : false;
  const Onnx__GraphProto *gp = m->graph;
  int k = 0;
  for (size_t i = 0; i < gp->n_input && k < max_in; i++) {
    bool init = false;
    for (size_t j = 0; j < gp->n_initializer && !init; j++)
      init = gp->input[i]->name && gp->initializer[j]->name && !strcmp(gp->initializer[j]->name, gp->input[i]->name);
    const Onnx__TypeProto *t = gp->input[i]->type;
    if (!init) in_seq[k++] = t && t->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
  }
  for (size_t i = 0; i < gp->n_output && (int)i < max_out; i++) {
    const Onnx__TypeProto *t = gp->output[i]->type;
    out_seq[i] = t && t->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
  }
  onnx__model_proto__free_unpacked(m, NULL);
  return true;
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
