/* test_memplan.c - checks pass_memplan's plan for examples/mnist_mlp.nn's
 * training graph: lifetimes recomputed from the schedule, then for batch 1
 * and 32 no two temporaries alive at the same time share a byte, every
 * temporary lies inside the arena, and sharing makes the arena smaller than
 * the sum of the tensor sizes.
 *   test_memplan MODEL */
#include <stdio.h>

#include "model.h"

static int fails;
#define CHECK(c, ...) ((c) ? (void)0 : (void)(fails++, printf("FAIL: " __VA_ARGS__), printf("\n")))

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: test_memplan MODEL\n"), 2;
  Model *m = model_load(argv[1]);
  if (!m) return 1;
  PassCtx cx = {0};
  cx.verify = true;
  Graph *g = model_compile(m, MODE_TRAIN, NULL, &cx);
  if (!g) return 1;
  int nv = g->nvalues, last = g->nnodes;
  int *start = xcalloc((size_t)nv, sizeof(int)), *end = xcalloc((size_t)nv, sizeof(int));
  for (int i = 0; i < nv; i++)
    start[i] = end[i] = -1;
  /* a node marked inline=1 (fuse.c) runs in its sole reader's loop: no
   * storage of its own, and its reads happen when that reader runs */
  int *at = xcalloc((size_t)g->nnodes + 1, sizeof(int));
  for (int i = g->nnodes - 1; i >= 0; i--) {
    at[i] = i;
    if (!node_int(g->nodes[i], "inline", 0)) continue;
    for (int j = i + 1; j < g->nnodes; j++)
      for (int k = 0; k < g->nodes[j]->nin; k++)
        if (g->nodes[j]->in[k] == g->nodes[i]->out[0]) at[i] = at[j];
  }
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; k < n->nout && at[i] == i; k++)
      start[n->out[k]->id] = end[n->out[k]->id] = i;
    for (int k = 0; k < n->nin; k++)
      if (end[n->in[k]->id] < at[i]) end[n->in[k]->id] = at[i];
  }
  int in_place = 0;
  for (int i = 0; i < nv; i++) {
    Value *v = g->values[i];
    const Value *d = v->mem.slot;
    if (!d) continue;
    in_place++;
    int assigns = 0;
    for (int a = 0; a < g->nassigns; a++)
      assigns += g->assigns[a].dst == d && g->assigns[a].src == v;
    CHECK(assigns == 1, "'%s' in place of '%s' without its one assignment", v->name, d->name);
    CHECK(v->def && (op_table[v->def->op].flags & OPF_ELEMENTWISE) && shape_eq(v->shape, d->shape),
          "'%s' in place of '%s' is not an elementwise result of its shape", v->name, d->name);
    for (int j = 0; v->def && j < g->nnodes; j++)
      for (int k = 0; k < g->nodes[j]->nin; k++)
        if (g->nodes[j]->in[k] == d)
          CHECK(at[j] < v->def->id || (at[j] == v->def->id && shape_eq(g->nodes[j]->out[0]->shape, v->shape)),
                "'%s' is read at node %d after '%s' overwrote it in place at node %d", d->name, at[j], v->name,
                v->def->id);
  }
  printf("%d assignments in place\n", in_place);
  CHECK(in_place > 0, "no assignment in place: the optimizer's updates of mnist_mlp all are");
  free(at);
  for (int i = 0; i < g->noutputs; i++)
    end[g->outputs[i]->id] = last;
  for (int i = 0; i < g->nassigns; i++)
    end[g->assigns[i].src->id] = last;
  for (int i = 0; i < g->ngrads; i++)
    end[g->grads[i].grad->id] = last;
  if (g->loss) end[g->loss->id] = last;
  int ntemp = 0;
  for (int i = 0; i < nv; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_TEMP || start[i] < 0 || v->mem.slot) continue;
    ntemp++;
    CHECK(v->mem.planned, "temporary '%s' has no arena offset", v->name);
  }
  const int64_t batches[2] = {1, 32};
  for (int bi = 0; bi < 2; bi++) {
    int64_t B = batches[bi], arena = cx.arena_fixed + cx.arena_per_sample * B, sum = 0;
    long pairs = 0;
    for (int i = 0; i < nv; i++) {
      Value *v = g->values[i];
      if (v->kind != VK_TEMP || start[i] < 0 || v->mem.slot) continue;
      int64_t off = v->mem.fixed + v->mem.per_sample * B, size = shape_numel(v->shape, B) * dtype_size(v->dtype);
      sum += size;
      CHECK(off >= 0 && off + size <= arena, "batch %lld: '%s' [%lld, %lld) outside the arena of %lld bytes",
            (long long)B, v->name, (long long)off, (long long)(off + size), (long long)arena);
      for (int j = i + 1; j < nv; j++) {
        Value *u = g->values[j];
        if (u->kind != VK_TEMP || start[j] < 0 || u->mem.slot) continue;
        if (!(start[i] <= end[j] && start[j] <= end[i])) continue;
        pairs++;
        int64_t uo = u->mem.fixed + u->mem.per_sample * B, us = shape_numel(u->shape, B) * dtype_size(u->dtype);
        CHECK(off + size <= uo || uo + us <= off,
              "batch %lld: '%s' [%lld, %lld) and '%s' [%lld, %lld) are alive together (nodes %d-%d, %d-%d) but overlap",
              (long long)B, v->name, (long long)off, (long long)(off + size), u->name, (long long)uo,
              (long long)(uo + us), start[i], end[i], start[j], end[j]);
      }
    }
    printf("batch %lld: %d temporaries, %ld pairs alive together; arena %lld bytes, tensors %lld bytes (%.1f%%)\n",
           (long long)B, ntemp, pairs, (long long)arena, (long long)sum, 100.0 * (double)arena / (double)sum);
    CHECK(arena < sum, "batch %lld: the arena (%lld bytes) is not smaller than the tensors (%lld bytes)", (long long)B,
          (long long)arena, (long long)sum);
    CHECK(pairs > 0, "no lifetimes overlap: the check checked nothing");
  }
  free(start);
  free(end);
  graph_free(g);
  model_free(m);
  printf("%s\n", fails ? "FAIL" : "ok");
  return fails != 0;
}
