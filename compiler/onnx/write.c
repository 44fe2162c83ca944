/* write.c - a forward graph written as a new ONNX model (`nn2c export
 * MODEL.nn`): opset 13, the batch dimension as the symbolic "N", parameters,
 * state and constants as initializers.
 *
 * 1. Each IR node becomes one or a few ONNX nodes. Ops whose IR form is the
 *    ONNX op (the `onnx` column of ops.def) are written as they are when their
 *    attributes are ONNX's too; the others are translated: conv2d and the
 *    pools (NHWC, HWIO kernels) between Transposes to and from ONNX's NCHW,
 *    matmul's transposed operands as Transposes, reshape's shape as an input,
 *    embedding as Cast + Gather, unstack as Split + Squeeze, stack as
 *    Unsqueeze + Concat. Any other op is reported by name.
 * 2. Graph inputs and outputs get their types; initializers hold raw
 *    little-endian data (as x86 and ARM store it).
 * 3. The model is packed and written atomically. */
#include "onnx/onnx_impl.h"

#include <string.h>

typedef struct {
  Graph *g;
  Arena *a;
  Vec nodes, inits; /* Onnx__NodeProto *, Onnx__TensorProto * */
  int nfresh;       /* names made so far (graph_unique_name does not reserve them) */
} Writer;

/* A name for a value the translation adds, unlike every other. */
static char *fresh(Writer *w, const char *base) {
  return graph_unique_name(w->g, arena_printf(w->a, "%s__%d", base, ++w->nfresh));
}

static Onnx__NodeProto *put(Writer *w, const char *op, int nin, const char *const *in, int nout, char **out) {
  Onnx__NodeProto *n = arena_alloc(w->a, sizeof *n);
  onnx__node_proto__init(n);
  n->op_type = arena_strdup(w->a, op);
  n->n_input = (size_t)nin;
  n->input = arena_alloc(w->a, sizeof(char *) * (size_t)(nin + 1));
  for (int i = 0; i < nin; i++)
    n->input[i] = (char *)in[i];
  n->n_output = (size_t)nout;
  n->output = out;
  n->name = out[0];
  vec_push(&w->nodes, n);
  return n;
}

static Onnx__NodeProto *last(Writer *w) { return w->nodes.items[w->nodes.len - 1]; }

/* One-output node; returns the output's name (out, or a fresh name from base). */
static char *put1(Writer *w, const char *op, int nin, const char *const *in, const char *out) {
  char **o = arena_alloc(w->a, sizeof(char *));
  o[0] = (char *)out;
  put(w, op, nin, in, 1, o);
  return o[0];
}

static Onnx__AttributeProto *new_attr(Writer *w, Onnx__NodeProto *n, const char *key) {
  Onnx__AttributeProto *at = arena_alloc(w->a, sizeof *at);
  onnx__attribute_proto__init(at);
  at->name = arena_strdup(w->a, key);
  at->has_type = 1;
  Onnx__AttributeProto **list = arena_alloc(w->a, sizeof(*list) * (n->n_attribute + 1));
  if (n->n_attribute) memcpy(list, n->attribute, sizeof(*list) * n->n_attribute);
  list[n->n_attribute++] = at;
  n->attribute = list;
  return at;
}

static void put_attr_int(Writer *w, Onnx__NodeProto *n, const char *key, int64_t v) {
  Onnx__AttributeProto *at = new_attr(w, n, key);
  at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, at->has_i = 1, at->i = v;
}

static void put_attr_float(Writer *w, Onnx__NodeProto *n, const char *key, double v) {
  Onnx__AttributeProto *at = new_attr(w, n, key);
  at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, at->has_f = 1, at->f = (float)v;
}

static void put_attr_ints(Writer *w, Onnx__NodeProto *n, const char *key, const int64_t *v, int len) {
  Onnx__AttributeProto *at = new_attr(w, n, key);
  at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
  at->n_ints = (size_t)len;
  at->ints = arena_alloc(w->a, sizeof(int64_t) * (size_t)(len + 1));
  memcpy(at->ints, v, sizeof(int64_t) * (size_t)len);
}

/* An initializer of the static shape s holding `data` (dtype t). */
static void put_init(Writer *w, const char *name, DType t, Shape s, const void *data) {
  Onnx__TensorProto *x = arena_alloc(w->a, sizeof *x);
  onnx__tensor_proto__init(x);
  x->name = (char *)name;
  x->has_data_type = 1, x->data_type = dtype_to_onnx(t);
  x->n_dims = (size_t)s.rank;
  x->dims = arena_alloc(w->a, sizeof(int64_t) * (size_t)(s.rank + 1));
  memcpy(x->dims, s.d, sizeof(int64_t) * (size_t)s.rank);
  x->has_raw_data = 1;
  x->raw_data.len = (size_t)(shape_numel_static(s) * dtype_size(t));
  x->raw_data.data = (uint8_t *)data;
  vec_push(&w->inits, x);
}

/* A 1-D int64 initializer (shapes, axes, split sizes); returns its name. */
static char *put_ints(Writer *w, const char *base, const int64_t *v, int len) {
  char *name = fresh(w, base);
  int64_t *data = arena_alloc(w->a, sizeof(int64_t) * (size_t)(len + 1));
  memcpy(data, v, sizeof(int64_t) * (size_t)len);
  put_init(w, name, DT_I64, shape_make(1, (int64_t[]){len}), data);
  return name;
}

static char *transpose(Writer *w, const char *x, const int64_t *perm, int rank, const char *out) {
  char *o = put1(w, "Transpose", 1, &x, out ? out : fresh(w, arena_printf(w->a, "%s_t", x)));
  put_attr_ints(w, last(w), "perm", perm, rank);
  return o;
}

static const int64_t TO_NCHW[] = {0, 3, 1, 2}, TO_NHWC[] = {0, 2, 3, 1}, HWIO_TO_OIHW[] = {3, 2, 0, 1};

/* conv2d and the pools: NHWC in, NCHW around the ONNX op, NHWC out. */
static bool put_spatial(Writer *w, Node *n) {
  const char *in[3] = {transpose(w, n->in[0]->name, TO_NCHW, 4, NULL), NULL, NULL};
  int nin = 1;
  bool conv = n->op == OP_CONV2D;
  if (conv) in[nin++] = transpose(w, n->in[1]->name, HWIO_TO_OIHW, 4, NULL);
  if (conv && n->nin > 2) in[nin++] = n->in[2]->name;
  const char *op = conv ? "Conv" : n->op == OP_MAXPOOL2D ? "MaxPool" : "AveragePool";
  char *y = put1(w, op, nin, in, fresh(w, arena_printf(w->a, "%s_nchw", n->out[0]->name)));
  Onnx__NodeProto *p = last(w);
  const Attr *k = node_attr(n, "kernel"), *s = node_attr(n, "strides"), *pd = node_attr(n, "pads");
  const Attr *d = node_attr(n, "dilations");
  if (conv) put_attr_ints(w, p, "kernel_shape", n->in[1]->shape.d, 2);
  if (!conv && k) put_attr_ints(w, p, "kernel_shape", k->ints, k->n);
  if (s) put_attr_ints(w, p, "strides", s->ints, s->n);
  if (!s && !conv && k) put_attr_ints(w, p, "strides", k->ints, k->n); /* the IR's pools step by their window */
  if (pd) put_attr_ints(w, p, "pads", pd->ints, pd->n);
  if (conv && d) put_attr_ints(w, p, "dilations", d->ints, d->n);
  if (conv) put_attr_int(w, p, "group", node_int(n, "groups", 1));
  transpose(w, y, TO_NHWC, 4, n->out[0]->name);
  return true;
}

/* matmul with transa/transb: the flagged operand transposed in its last two axes. */
static bool put_matmul(Writer *w, Node *n) {
  const char *in[2] = {n->in[0]->name, n->in[1]->name};
  const char *keys[2] = {"transa", "transb"};
  for (int i = 0; i < 2; i++) {
    int r = n->in[i]->shape.rank;
    if (!node_int(n, keys[i], 0) || r < 2) continue;
    int64_t perm[MAX_RANK];
    for (int k = 0; k < r; k++)
      perm[k] = k;
    perm[r - 2] = r - 1, perm[r - 1] = r - 2;
    in[i] = transpose(w, in[i], perm, r, NULL);
  }
  put1(w, "MatMul", 2, in, n->out[0]->name);
  return true;
}

static bool put_reshape(Writer *w, Node *n) {
  const Attr *s = node_attr(n, "shape");
  const char *in[2] = {n->in[0]->name, put_ints(w, "shape", s ? s->ints : NULL, s ? s->n : 0)};
  put1(w, "Reshape", 2, in, n->out[0]->name);
  if (node_int(n, "allowzero", 0)) put_attr_int(w, last(w), "allowzero", 1);
  return true;
}

static bool put_embedding(Writer *w, Node *n) {
  const char *ids = put1(w, "Cast", 1, (const char *[]){n->in[0]->name}, fresh(w, "ids"));
  put_attr_int(w, last(w), "to", ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
  put1(w, "Gather", 2, (const char *[]){n->in[1]->name, ids}, n->out[0]->name);
  put_attr_int(w, last(w), "axis", 0);
  return true;
}

static int64_t axis_of(const Node *n, int rank) {
  int64_t ax = node_int(n, "axis", 0);
  return ax < 0 ? ax + rank : ax;
}

static bool put_unstack(Writer *w, Node *n) {
  int64_t ax = axis_of(n, n->in[0]->shape.rank), *ones = arena_alloc(w->a, sizeof(int64_t) * (size_t)n->nout);
  char **parts = arena_alloc(w->a, sizeof(char *) * (size_t)n->nout);
  for (int k = 0; k < n->nout; k++)
    ones[k] = 1, parts[k] = fresh(w, arena_printf(w->a, "%s_part", n->out[k]->name));
  const char *in[2] = {n->in[0]->name, put_ints(w, "split", ones, n->nout)};
  put_attr_int(w, put(w, "Split", 2, in, n->nout, parts), "axis", ax);
  const char *axes = put_ints(w, "axes", &ax, 1);
  for (int k = 0; k < n->nout; k++)
    put1(w, "Squeeze", 2, (const char *[]){parts[k], axes}, n->out[k]->name);
  return true;
}

static bool put_stack(Writer *w, Node *n) {
  int64_t ax = axis_of(n, n->out[0]->shape.rank);
  const char *axes = put_ints(w, "axes", &ax, 1);
  const char **parts = arena_alloc(w->a, sizeof(char *) * (size_t)n->nin);
  for (int k = 0; k < n->nin; k++)
    parts[k] = put1(w, "Unsqueeze", 2, (const char *[]){n->in[k]->name, axes},
                    fresh(w, arena_printf(w->a, "%s_u", n->in[k]->name)));
  put1(w, "Concat", n->nin, parts, n->out[0]->name);
  put_attr_int(w, last(w), "axis", ax);
  return true;
}

/* Attributes that are ONNX's own under the same name and type. */
static bool onnx_attr(const Node *n, const Attr *at) {
  static const char *floats[] = {"alpha", "beta", "gamma", "lambd", "bias"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(at->key, floats[i])) return at->type == AT_FLOAT;
  if (!strcmp(at->key, "axis")) return at->type == AT_INT;
  if (!strcmp(at->key, "perm")) return at->type == AT_INTS && n->op == OP_TRANSPOSE;
  return false;
}

/* Ops whose IR form is ONNX's (with ONNX's attributes) are written as they are. */
static bool put_generic(Writer *w, Node *n) {
  const char *onnx = op_table[n->op].onnx;
  bool ok = onnx[0] && (n->op == OP_TRANSPOSE || n->op == OP_CONCAT || n->op == OP_IDENTITY || n->op == OP_SOFTMAX ||
                        n->op == OP_LOG_SOFTMAX || n->op == OP_QUANTIZE_LINEAR || n->op == OP_DEQUANTIZE_LINEAR ||
                        (op_table[n->op].flags & OPF_ELEMENTWISE));
  for (int i = 0; ok && i < n->nattrs; i++)
    ok = onnx_attr(n, &n->attrs[i]);
  if (!ok || n->nout != 1) {
    error_plain("export: op %s (computing '%s') has no ONNX form in the exporter yet", op_name(n->op), n->out[0]->name);
    return false;
  }
  const char **in = arena_alloc(w->a, sizeof(char *) * (size_t)(n->nin + 1));
  for (int i = 0; i < n->nin; i++)
    in[i] = n->in[i]->name;
  put1(w, onnx, n->nin, in, n->out[0]->name);
  Onnx__NodeProto *p = last(w);
  for (int i = 0; i < n->nattrs; i++) {
    const Attr *at = &n->attrs[i];
    if (at->type == AT_FLOAT) put_attr_float(w, p, at->key, at->f);
    if (at->type == AT_INT) put_attr_int(w, p, at->key, at->i);
    if (at->type == AT_INTS) put_attr_ints(w, p, at->key, at->ints, at->n);
  }
  return true;
}

static bool put_op(Writer *w, Node *n) {
  switch (n->op) {
  case OP_CONV2D:
  case OP_MAXPOOL2D:
  case OP_AVGPOOL2D:
    return put_spatial(w, n);
  case OP_MATMUL:
    return put_matmul(w, n);
  case OP_RESHAPE:
    return put_reshape(w, n);
  case OP_EMBEDDING:
    return put_embedding(w, n);
  case OP_UNSTACK:
    return put_unstack(w, n);
  case OP_STACK:
    return put_stack(w, n);
  default:
    return put_generic(w, n);
  }
}

/* A graph input's or output's name and type; the batch dimension is "N". */
static Onnx__ValueInfoProto *value_info(Writer *w, const Value *v) {
  Onnx__TensorShapeProto *s = arena_alloc(w->a, sizeof *s);
  onnx__tensor_shape_proto__init(s);
  s->n_dim = (size_t)v->shape.rank;
  s->dim = arena_alloc(w->a, sizeof(*s->dim) * (size_t)(v->shape.rank + 1));
  for (int i = 0; i < v->shape.rank; i++) {
    Onnx__TensorShapeProto__Dimension *d = s->dim[i] = arena_alloc(w->a, sizeof *d);
    onnx__tensor_shape_proto__dimension__init(d);
    if (v->shape.d[i] == DIM_BATCH)
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM, d->dim_param = "N";
    else
      d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE, d->dim_value = v->shape.d[i];
  }
  Onnx__TypeProto__Tensor *tt = arena_alloc(w->a, sizeof *tt);
  onnx__type_proto__tensor__init(tt);
  tt->has_elem_type = 1, tt->elem_type = dtype_to_onnx(v->dtype), tt->shape = s;
  Onnx__TypeProto *t = arena_alloc(w->a, sizeof *t);
  onnx__type_proto__init(t);
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, t->tensor_type = tt;
  Onnx__ValueInfoProto *vi = arena_alloc(w->a, sizeof *vi);
  onnx__value_info_proto__init(vi);
  vi->name = (char *)v->name, vi->type = t;
  return vi;
}

/* Inputs, initializers (params and state from their blocks, constants) and outputs. */
static void put_values(Writer *w, Onnx__GraphProto *gp, const float *params, const float *state) {
  Graph *g = w->g;
  int64_t *poff = arena_alloc(w->a, sizeof(int64_t) * (size_t)g->nvalues);
  int64_t *soff = arena_alloc(w->a, sizeof(int64_t) * (size_t)g->nvalues);
  graph_block_layout(g, VK_PARAM, poff);
  graph_block_layout(g, VK_STATE, soff);
  Vec in = {0};
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind == VK_INPUT) vec_push(&in, value_info(w, v));
    if (v->kind == VK_PARAM) put_init(w, v->name, v->dtype, v->shape, params + poff[v->id]);
    if (v->kind == VK_STATE) put_init(w, v->name, v->dtype, v->shape, state + soff[v->id]);
    if (v->kind == VK_CONST) put_init(w, v->name, v->dtype, v->shape, v->data);
  }
  gp->n_input = (size_t)in.len;
  gp->input = (Onnx__ValueInfoProto **)in.items;
  gp->n_output = (size_t)g->noutputs;
  gp->output = arena_alloc(w->a, sizeof(*gp->output) * (size_t)(g->noutputs + 1));
  for (int i = 0; i < g->noutputs; i++)
    gp->output[i] = value_info(w, g->outputs[i]);
}

bool onnx_write_graph(Graph *g, const float *params, const float *state, const char *out_path, size_t *written) {
  Arena a = {0};
  Writer w = {g, &a, {0}, {0}, 0};
  bool ok = true;
  for (int i = 0; i < g->nnodes && ok; i++)
    ok = g->nodes[i]->dead || put_op(&w, g->nodes[i]);
  Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
  gp.name = (char *)g->name;
  if (ok) put_values(&w, &gp, params, state);
  gp.n_node = (size_t)w.nodes.len, gp.node = (Onnx__NodeProto **)w.nodes.items;
  gp.n_initializer = (size_t)w.inits.len, gp.initializer = (Onnx__TensorProto **)w.inits.items;
  Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = {&opset};
  opset.domain = "", opset.has_version = 1, opset.version = 13;
  Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
  m.has_ir_version = 1, m.ir_version = 7; /* the IR version of opset 13 */
  m.n_opset_import = 1, m.opset_import = opsets;
  m.producer_name = "nn2c", m.producer_version = "0.1.0", m.graph = &gp;
  size_t n = ok ? onnx__model_proto__get_packed_size(&m) : 0;
  uint8_t *buf = ok ? xmalloc(n + 1) : NULL;
  if (ok) onnx__model_proto__pack(&m, buf);
  ok = ok && write_file_atomic(out_path, buf, n, "nn2c export writes a new ONNX file there");
  if (ok && written) *written = n;
  free(buf);
  free(gp.input); /* put_values's vector of inputs */
  vec_free(&w.nodes);
  vec_free(&w.inits);
  arena_free(&a);
  return ok;
}
