/* shape.c - shape inference.
 * Runs every node's infer hook in schedule order, so each node sees its
 * inputs' final types. Requires: inputs, params and constants typed. Guarantees:
 * every value has a dtype and shape; a type written in the source (annotated)
 * agrees with the inferred one; no tensor has more than MAX_ELEMENTS elements
 * per sample (its byte sizes then fit in int64 and size_t, with room for the
 * batch). With cx->batch > 0 (a microcontroller build's fixed batch) every N in a
 * value's shape, annotations included, becomes that number first, so the rest
 * of the pipeline plans fixed sizes. Errors name the node and its source line; after one, the
 * nodes that read the failed node's outputs (whose types are unknown) are skipped silently and
 * every other node is still checked, so one run reports every independent error. */
#include "pass.h"

#define MAX_ELEMENTS ((int64_t)1 << 40)

/* The product of s's static dims, or -1 past MAX_ELEMENTS (checked before it could overflow). */
static int64_t numel_checked(Shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++) {
    int64_t d = s.d[i] == DIM_BATCH ? 1 : s.d[i];
    if (d < 0 || (d > 0 && n > MAX_ELEMENTS / d)) return -1;
    n *= d;
  }
  return n;
}

/* Inputs, params, state and constants, which no node produces: their sizes are checked first;
 * a value too large is marked unknown. */
static bool source_sizes_ok(Graph *g, bool *unknown) {
  bool ok = true;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->def || numel_checked(v->shape) >= 0) continue;
    if (g->src && v->line)
      error_at(g->src, v->line, v->col, "'%s' of shape %s is too large (more than 2^40 elements per sample)", v->name,
               shape_str(&g->arena, v->shape));
    else
      error_plain("'%s' of shape %s is too large (more than 2^40 elements per sample)", v->name,
                  shape_str(&g->arena, v->shape));
    unknown[v->id] = true;
    ok = false;
  }
  return ok;
}

static void node_error(Graph *g, Node *n, const char *msg) {
  if (g->src && n->line)
    error_at(g->src, n->line, n->col, "%s: %s", op_name(n->op), msg);
  else
    error_plain("node %s = %s(...): %s", n->nout ? n->out[0]->name : "?", op_name(n->op), msg);
}

static void fix_batch(Graph *g, int64_t batch) {
  for (int i = 0; i < g->nvalues; i++)
    for (int k = 0; k < g->values[i]->shape.rank; k++)
      if (g->values[i]->shape.d[k] == DIM_BATCH) g->values[i]->shape.d[k] = batch;
}

/* Infers n's outputs and checks them against sizes and annotations; false after an error. */
static bool infer_node(Graph *g, Node *n) {
  const OpDef *d = &op_table[n->op];
  if (n->nin < d->min_in || n->nin > d->max_in || !op_nout_ok(d, n->nout)) {
    node_error(g, n,
               arena_printf(&g->arena, "takes %d..%d inputs and %d outputs, got %d and %d", d->min_in, d->max_in,
                            d->nout, n->nin, n->nout));
    return false;
  }
  Shape declared[16];
  DType declared_t[16];
  for (int k = 0; k < n->nout && k < 16; k++)
    declared[k] = n->out[k]->shape, declared_t[k] = n->out[k]->dtype;
  const char *err = d->infer(g, n);
  if (err) {
    node_error(g, n, err);
    return false;
  }
  bool ok = true;
  for (int k = 0; k < n->nout && k < 16; k++) {
    Value *v = n->out[k];
    if (numel_checked(v->shape) < 0) {
      node_error(g, n,
                 arena_printf(&g->arena, "'%s' of shape %s is too large (more than 2^40 elements per sample)", v->name,
                              shape_str(&g->arena, v->shape)));
      ok = false;
    } else if (v->annotated && (!shape_eq(declared[k], v->shape) || declared_t[k] != v->dtype)) {
      node_error(g, n,
                 arena_printf(&g->arena, "'%s' declared %s%s but inferred %s%s", v->name, dtype_name(declared_t[k]),
                              shape_str(&g->arena, declared[k]), dtype_name(v->dtype), shape_str(&g->arena, v->shape)));
      ok = false;
    }
  }
  return ok;
}

bool pass_shape(Graph *g, PassCtx *cx) {
  if (cx->batch > 0) fix_batch(g, cx->batch);
  bool *unknown = xcalloc((size_t)g->nvalues + 1, sizeof(bool)); /* values whose type an error left open */
  bool ok = source_sizes_ok(g, unknown);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    bool skip = false;
    for (int k = 0; k < n->nin; k++)
      skip = skip || (n->in[k] && unknown[n->in[k]->id]);
    if (skip || !infer_node(g, n)) {
      ok = false;
      for (int k = 0; k < n->nout; k++)
        unknown[n->out[k]->id] = true;
    }
  }
  free(unknown);
  if (ok && g->loss && (g->loss->shape.rank != 0 || !dtype_is_float(g->loss->dtype))) {
    error_plain("the loss '%s' must be a float scalar, got %s%s", g->loss->name, dtype_name(g->loss->dtype),
                shape_str(&g->arena, g->loss->shape));
    ok = false;
  }
  return ok;
}
