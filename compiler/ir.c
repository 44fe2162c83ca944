/* ir.c - dtypes, shapes, graphs, attributes. */
#include "ir.h"

#include <string.h>

static const struct {
  const char *name;
  int size;
} dtype_info[DT_COUNT] = {
    [DT_F32] = {"f32", 4},   [DT_F64] = {"f64", 8}, [DT_F16] = {"f16", 2}, [DT_BF16] = {"bf16", 2},
    [DT_I8] = {"i8", 1},     [DT_I16] = {"i16", 2}, [DT_I32] = {"i32", 4}, [DT_I64] = {"i64", 8},
    [DT_U8] = {"u8", 1},     [DT_U16] = {"u16", 2}, [DT_U32] = {"u32", 4}, [DT_U64] = {"u64", 8},
    [DT_BOOL] = {"bool", 1},
};

const char *dtype_name(DType t) { return dtype_info[t].name; }
int dtype_size(DType t) { return dtype_info[t].size; }
bool dtype_is_float(DType t) { return t == DT_F32 || t == DT_F64 || t == DT_F16 || t == DT_BF16; }

bool dtype_from_name(const char *s, DType *t) {
  for (int i = 0; i < DT_COUNT; i++)
    if (!strcmp(s, dtype_info[i].name)) {
      *t = (DType)i;
      return true;
    }
  return false;
}

Shape shape_make(int rank, const int64_t *d) {
  NN2C_ASSERT(rank >= 0 && rank <= MAX_RANK);
  Shape s = {rank, {0}};
  for (int i = 0; i < rank; i++)
    s.d[i] = d[i];
  return s;
}

Shape shape_scalar(void) { return (Shape){0, {0}}; }

bool shape_eq(Shape a, Shape b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; i++)
    if (a.d[i] != b.d[i]) return false;
  return true;
}

bool shape_has_batch(Shape s) {
  for (int i = 0; i < s.rank; i++)
    if (s.d[i] == DIM_BATCH) return true;
  return false;
}

int64_t shape_numel(Shape s, int64_t batch) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++)
    n *= s.d[i] == DIM_BATCH ? batch : s.d[i];
  return n;
}

int64_t shape_numel_static(Shape s) { return shape_numel(s, 1); }

char *shape_str(Arena *a, Shape s) {
  Buf b = {0};
  buf_puts(&b, "[");
  for (int i = 0; i < s.rank; i++) {
    if (s.d[i] == DIM_BATCH)
      buf_printf(&b, "%sN", i ? "," : "");
    else
      buf_printf(&b, "%s%lld", i ? "," : "", (long long)s.d[i]);
  }
  buf_puts(&b, "]");
  char *r = arena_strdup(a, b.data);
  buf_free(&b);
  return r;
}

Graph *graph_new(const char *name) {
  Graph *g = xcalloc(1, sizeof(Graph));
  g->name = arena_strdup(&g->arena, name ? name : "model");
  return g;
}

void graph_free(Graph *g) {
  if (!g) return;
  free(g->values);
  free(g->nodes);
  free(g->outputs);
  free(g->assigns);
  free(g->grads);
  free(g->names);
  arena_free(&g->arena);
  free(g);
}

/* Grows a plain array held as (ptr, len, cap). */
#define GROW(ptr, len, cap)                                                                                            \
  do {                                                                                                                 \
    if ((len) == (cap)) {                                                                                              \
      (cap) = (cap) ? (cap)*2 : 16;                                                                                    \
      (ptr) = xrealloc((ptr), sizeof(*(ptr)) * (size_t)(cap));                                                         \
    }                                                                                                                  \
  } while (0)

/* ---- the name index: graph_find and graph_unique_name in constant time, so that
 * building a graph of n values costs O(n), not O(n^2) (a 10,000-step LSTM). ---- */

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++)
    h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* The slot holding name, or the empty slot where it would go. */
static NameSlot *name_slot(Graph *g, const char *name) {
  uint32_t h = name_hash(name), mask = (uint32_t)g->capnames - 1, i = h & mask;
  while (g->names[i].name && g->names[i].name != name && (g->names[i].hash != h || strcmp(g->names[i].name, name)))
    i = (i + 1) & mask;
  return &g->names[i];
}

static void name_index_grow(Graph *g) {
  NameSlot *old = g->names;
  int cap = g->capnames;
  g->capnames = cap ? cap * 2 : 256;
  g->names = xcalloc((size_t)g->capnames, sizeof(NameSlot));
  for (int i = 0; i < cap; i++)
    if (old[i].name) *name_slot(g, old[i].name) = old[i];
  free(old);
}

/* Records that name is taken (by v, or by a value about to be given it). */
static void name_claim(Graph *g, const char *name, Value *v) {
  if (2 * (g->nnames + 1) > g->capnames) name_index_grow(g);
  NameSlot *s = name_slot(g, name);
  if (!s->name) g->nnames++, s->name = name, s->hash = name_hash(name);
  s->value = v;
}

static bool value_in_graph(Graph *g, Value *v, const char *name) {
  return v && v->id >= 0 && v->id < g->nvalues && g->values[v->id] == v && (v->name == name || !strcmp(v->name, name));
}

/* Rebuilds the index from the values' names. Names handed out by graph_unique_name are
 * then held by the values they were given to (callers assign them right away). */
static void name_index_rebuild(Graph *g) {
  memset(g->names, 0, sizeof(NameSlot) * (size_t)g->capnames);
  g->nnames = 0;
  for (int i = 0; i < g->nvalues; i++)
    name_claim(g, g->values[i]->name, g->values[i]);
}

/* Names only come from value_new, value_rename and graph_unique_name, which record them,
 * so a name the index has never seen is free. A recorded one may be stale (its value was
 * renamed or compacted away, or was given it after graph_unique_name): then the index is
 * rebuilt once, in linear time, rather than scanned for this one name. */
Value *graph_find(Graph *g, const char *name) {
  if (!g->capnames) return NULL;
  NameSlot *s = name_slot(g, name);
  if (!s->name) return NULL;
  if (value_in_graph(g, s->value, name)) return s->value;
  name_index_rebuild(g);
  s = name_slot(g, name);
  return s->name ? s->value : NULL;
}

/* The smallest free name among base, base_1, base_2, ... Trying them all from 1 made
 * n constants named "c" cost O(n^2) time and arena bytes, so base's slot remembers where
 * the taken run ends, for as long as no name has been dropped (which could free one). */
char *graph_unique_name(Graph *g, const char *base) {
  char *s = arena_strdup(&g->arena, base);
  if (!graph_find(g, s)) {
    name_claim(g, s, NULL);
    return s;
  }
  NameSlot *b = name_slot(g, base);
  int i = b->epoch == g->name_epoch && b->next > 1 ? b->next : 1;
  do
    s = arena_printf(&g->arena, "%s_%d", base, i++);
  while (graph_find(g, s));
  name_claim(g, s, NULL);
  b = name_slot(g, base); /* the index may have been rebuilt or grown */
  if (b->name) b->next = i, b->epoch = g->name_epoch;
  return s;
}

void value_set_unique_name(Graph *g, Value *v, const char *base) {
  v->name = graph_unique_name(g, base);
  name_claim(g, v->name, v);
}

void value_rename(Graph *g, Value *v, const char *name) {
  g->name_epoch++;
  v->name = arena_strdup(&g->arena, name);
  name_claim(g, v->name, v);
}

Value *value_new(Graph *g, const char *name, ValueKind kind, DType t, Shape s) {
  Value *v = arena_alloc(&g->arena, sizeof(Value));
  v->id = g->nvalues;
  v->name = name ? graph_unique_name(g, name) : graph_unique_name(g, arena_printf(&g->arena, "t%d", g->nvalues));
  v->kind = kind;
  v->dtype = t;
  v->shape = s;
  if (kind == VK_PARAM) v->init.kind = s.rank >= 2 ? INIT_GLOROT_UNIFORM : INIT_ZEROS;
  GROW(g->values, g->nvalues, g->capvalues);
  g->values[g->nvalues++] = v;
  name_claim(g, v->name, v);
  return v;
}

Node *node_new(Graph *g, OpKind op, int nin, Value **in, int nout) {
  Node *n = arena_alloc(&g->arena, sizeof(Node));
  n->id = g->nnodes;
  n->op = op;
  n->nin = nin;
  n->in = arena_alloc(&g->arena, sizeof(Value *) * (size_t)(nin ? nin : 1));
  for (int i = 0; i < nin; i++)
    n->in[i] = in[i];
  n->nout = nout;
  n->out = arena_alloc(&g->arena, sizeof(Value *) * (size_t)(nout ? nout : 1));
  for (int i = 0; i < nout; i++) {
    n->out[i] = value_new(g, NULL, VK_TEMP, DT_F32, shape_scalar());
    n->out[i]->def = n;
  }
  GROW(g->nodes, g->nnodes, g->capnodes);
  g->nodes[g->nnodes++] = n;
  return n;
}

void graph_add_output(Graph *g, Value *v) {
  GROW(g->outputs, g->noutputs, g->capoutputs);
  g->outputs[g->noutputs++] = v;
}

void graph_add_assign(Graph *g, Value *dst, Value *src) {
  GROW(g->assigns, g->nassigns, g->capassigns);
  g->assigns[g->nassigns++] = (Assign){dst, src};
}

void graph_add_grad(Graph *g, Value *param, Value *grad) {
  GROW(g->grads, g->ngrads, g->capgrads);
  g->grads[g->ngrads++] = (GradLink){param, grad};
}

void graph_recount(Graph *g) {
  for (int i = 0; i < g->nvalues; i++)
    g->values[i]->nuses = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead) continue;
    for (int j = 0; j < n->nin; j++)
      n->in[j]->nuses++;
  }
}

bool graph_is_root(const Graph *g, const Value *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  for (int i = 0; i < g->nassigns; i++)
    if (g->assigns[i].src == v) return true;
  for (int i = 0; i < g->ngrads; i++)
    if (g->grads[i].grad == v) return true;
  return g->loss == v;
}

void graph_mark_roots(const Graph *g, bool *root) {
  memset(root, 0, sizeof(bool) * (size_t)g->nvalues);
  for (int i = 0; i < g->noutputs; i++)
    root[g->outputs[i]->id] = true;
  for (int i = 0; i < g->nassigns; i++)
    root[g->assigns[i].src->id] = true;
  for (int i = 0; i < g->ngrads; i++)
    root[g->grads[i].grad->id] = true;
  if (g->loss) root[g->loss->id] = true;
}

/* A value stays if it is persistent, an input, or still referenced. */
static bool value_live(Graph *g, Value *v) {
  if (v->kind != VK_TEMP && v->kind != VK_CONST) return true;
  if (v->kind == VK_TEMP) return v->def && !v->def->dead;
  if (v->nuses > 0) return true;
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  for (int i = 0; i < g->nassigns; i++)
    if (g->assigns[i].src == v) return true;
  return false;
}

void graph_compact(Graph *g) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead) {
      g->nodes[k] = g->nodes[i];
      g->nodes[k]->id = k;
      k++;
    }
  g->nnodes = k;
  graph_recount(g);
  k = 0;
  for (int i = 0; i < g->nvalues; i++)
    if (value_live(g, g->values[i])) {
      g->values[k] = g->values[i];
      g->values[k]->id = k;
      k++;
    }
  g->nvalues = k;
  g->name_epoch++;
}

void value_replace_uses(Graph *g, Value *old, Value *with) {
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++)
      if (g->nodes[i]->in[j] == old) g->nodes[i]->in[j] = with;
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == old) g->outputs[i] = with;
  for (int i = 0; i < g->nassigns; i++)
    if (g->assigns[i].src == old) g->assigns[i].src = with;
  for (int i = 0; i < g->ngrads; i++)
    if (g->grads[i].grad == old) g->grads[i].grad = with;
  if (g->loss == old) g->loss = with;
}

int graph_count_kind(Graph *g, ValueKind k) {
  int n = 0;
  for (int i = 0; i < g->nvalues; i++)
    n += g->values[i]->kind == k;
  return n;
}

static Attr *attr_slot(Graph *g, Node *n, const char *key) {
  for (int i = 0; i < n->nattrs; i++)
    if (!strcmp(n->attrs[i].key, key)) return &n->attrs[i];
  Attr *a = arena_alloc(&g->arena, sizeof(Attr) * (size_t)(n->nattrs + 1));
  if (n->nattrs) memcpy(a, n->attrs, sizeof(Attr) * (size_t)n->nattrs);
  n->attrs = a;
  Attr *s = &a[n->nattrs++];
  s->key = arena_strdup(&g->arena, key);
  return s;
}

void node_set_int(Graph *g, Node *n, const char *key, int64_t v) {
  Attr *a = attr_slot(g, n, key);
  a->type = AT_INT;
  a->i = v;
}

void node_set_float(Graph *g, Node *n, const char *key, double v) {
  Attr *a = attr_slot(g, n, key);
  a->type = AT_FLOAT;
  a->f = v;
}

void node_set_ints(Graph *g, Node *n, const char *key, const int64_t *v, int len) {
  Attr *a = attr_slot(g, n, key);
  a->type = AT_INTS;
  a->n = len;
  a->ints = arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(len ? len : 1));
  if (len) memcpy(a->ints, v, sizeof(int64_t) * (size_t)len);
}

void node_set_floats(Graph *g, Node *n, const char *key, const double *v, int len) {
  Attr *a = attr_slot(g, n, key);
  a->type = AT_FLOATS;
  a->n = len;
  a->floats = arena_alloc(&g->arena, sizeof(double) * (size_t)(len ? len : 1));
  if (len) memcpy(a->floats, v, sizeof(double) * (size_t)len);
}

void node_set_string(Graph *g, Node *n, const char *key, const char *s) {
  Attr *a = attr_slot(g, n, key);
  a->type = AT_STRING;
  a->s = arena_strdup(&g->arena, s);
}

const Attr *node_attr(const Node *n, const char *key) {
  for (int i = 0; i < n->nattrs; i++)
    if (!strcmp(n->attrs[i].key, key)) return &n->attrs[i];
  return NULL;
}

int64_t node_int(const Node *n, const char *key, int64_t dflt) {
  const Attr *a = node_attr(n, key);
  if (!a) return dflt;
  if (a->type == AT_FLOAT) return (int64_t)a->f;
  return a->type == AT_INT ? a->i : dflt;
}

double node_float(const Node *n, const char *key, double dflt) {
  const Attr *a = node_attr(n, key);
  if (!a) return dflt;
  if (a->type == AT_INT) return (double)a->i;
  return a->type == AT_FLOAT ? a->f : dflt;
}

const char *node_string(const Node *n, const char *key, const char *dflt) {
  const Attr *a = node_attr(n, key);
  return a && a->type == AT_STRING ? a->s : dflt;
}

void node_copy_attrs(Graph *g, Node *dst, const Node *src) {
  for (int i = 0; i < src->nattrs; i++) {
    const Attr *a = &src->attrs[i];
    switch (a->type) {
    case AT_INT:
      node_set_int(g, dst, a->key, a->i);
      break;
    case AT_FLOAT:
      node_set_float(g, dst, a->key, a->f);
      break;
    case AT_INTS:
      node_set_ints(g, dst, a->key, a->ints, a->n);
      break;
    case AT_FLOATS:
      node_set_floats(g, dst, a->key, a->floats, a->n);
      break;
    case AT_STRING:
      node_set_string(g, dst, a->key, a->s);
      break;
    }
  }
}

static const char *init_names[INIT_COUNT] = {
    "zeros",      "ones",      "constant",      "uniform",      "normal",     "glorot_uniform",   "glorot_normal",
    "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "orthogonal", "unit_forget_bias", "data",
};

const char *init_name(InitKind k) { return init_names[k]; }

bool init_from_name(const char *s, InitKind *k) {
  for (int i = 0; i < INIT_DATA; i++) /* data has no source syntax */
    if (!strcmp(s, init_names[i])) {
      *k = (InitKind)i;
      return true;
    }
  return false;
}

int64_t graph_block_layout(Graph *g, ValueKind k, int64_t *offsets) {
  int64_t off = 0;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != k) continue;
    if (offsets) offsets[v->id] = off;
    int64_t words = (shape_numel_static(v->shape) * dtype_size(v->dtype) + 3) / 4; /* 4-byte units */
    off += (words + 15) / 16 * 16;
  }
  return off;
}

void shape_fans(Shape s, double *fan_in, double *fan_out) {
  if (s.rank < 2) {
    *fan_in = *fan_out = s.rank ? (double)s.d[0] : 1;
    return;
  }
  double rf = 1; /* receptive field: all but the last two (in, out) dimensions */
  for (int i = 0; i < s.rank - 2; i++)
    rf *= (double)s.d[i];
  *fan_in = (double)s.d[s.rank - 2] * rf;
  *fan_out = (double)s.d[s.rank - 1] * rf;
}
