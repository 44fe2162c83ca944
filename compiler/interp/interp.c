/* interp.c - runs a graph node by node with the ops' eval hooks. */
#include "interp.h"

#include <string.h>

static bool bind_inputs(InterpRun *r, const Feed *feeds, int nfeeds) {
  Graph *g = r->g;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_INPUT) continue;
    const Feed *f = NULL;
    for (int k = 0; k < nfeeds; k++)
      if (!strcmp(feeds[k].name, v->name)) f = &feeds[k];
    if (!f) {
      error_plain("interpreter: no data fed for input '%s'", v->name);
      return false;
    }
    r->vals[i].data = (void *)f->data;
  }
  return true;
}

bool interp_run(Graph *g, float *params, float *state, const Feed *feeds, int nfeeds, int64_t batch, uint64_t step,
                InterpRun *run) {
  run->g = g;
  run->vals = xcalloc((size_t)g->nvalues, sizeof(Tensor));
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  graph_block_layout(g, VK_PARAM, off);
  graph_block_layout(g, VK_STATE, off);
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    Tensor *t = &run->vals[i];
    t->dtype = v->dtype;
    t->shape = v->shape;
    for (int d = 0; d < v->shape.rank; d++)
      if (t->shape.d[d] == DIM_BATCH) t->shape.d[d] = batch;
    t->numel = shape_numel(v->shape, batch);
    if (v->kind == VK_PARAM)
      t->data = params + off[i];
    else if (v->kind == VK_STATE)
      t->data = state + off[i];
    else if (v->kind == VK_CONST)
      t->data = v->data;
    else if (v->kind == VK_TEMP)
      t->data = xcalloc((size_t)(t->numel ? t->numel : 1), (size_t)dtype_size(v->dtype));
  }
  free(off);
  if (!bind_inputs(run, feeds, nfeeds)) return false;
  EvalCtx cx = {batch, step, NULL};
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    Tensor **in = xmalloc(sizeof(Tensor *) * (size_t)(n->nin + n->nout + 1)), **out = in + n->nin;
    for (int k = 0; k < n->nin; k++)
      in[k] = &run->vals[n->in[k]->id];
    for (int k = 0; k < n->nout; k++)
      out[k] = &run->vals[n->out[k]->id];
    op_table[n->op].eval(&cx, n, in, out);
    free(in);
    if (cx.error) {
      error_plain("node %s = %s(...): %s", n->out[0]->name, op_name(n->op), cx.error);
      return false;
    }
  }
  /* All assignments read their sources before any is written. */
  for (int i = 0; i < g->nassigns; i++) {
    Assign *a = &g->assigns[i];
    NN2C_ASSERT(a->src->kind == VK_TEMP || a->src->kind == VK_CONST);
  }
  for (int i = 0; i < g->nassigns; i++) {
    Tensor *dst = &run->vals[g->assigns[i].dst->id], *src = &run->vals[g->assigns[i].src->id];
    for (int64_t j = 0; j < dst->numel; j++)
      tensor_set(dst, j, tensor_get(src, j));
  }
  return true;
}

void interp_run_free(InterpRun *run) {
  if (!run->vals) return;
  for (int i = 0; i < run->g->nvalues; i++)
    if (run->g->values[i]->kind == VK_TEMP) free(run->vals[i].data);
  free(run->vals);
  run->vals = NULL;
}
