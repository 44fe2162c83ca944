/* memplan.c - static memory planning: one arena for all temporaries.
 *
 * Requires: a schedule. Guarantees: every VK_TEMP value has a MemLoc; two
 * values whose lifetimes overlap never share bytes. The arena has a part of
 * fixed size and a part that scales with the batch:
 *   offset(v) = fixed + per_sample * B,  arena_bytes(B) = F + P * B.
 * Values with the batch dimension live in the scaled part, planned in
 * per-sample bytes; since all of them scale by the same B, a packing that is
 * valid per sample is valid for every B.
 *
 * 1. Lifetime of a value: [index of its producer, index of its last reader];
 *    values the step hands back (outputs, loss, assigned values) live to the end.
 *    Nodes marked inline=1 (fuse.c) run in their reader's loop: their outputs
 *    get no storage and their reads count at the reader's index.
 * 2. Per part, place values largest first at the lowest offset that does not
 *    collide with an already placed value of overlapping lifetime (first fit).
 * 3. Report the arena size and the sum of the sizes it would take unshared. */
#include "pass.h"

#include <string.h>

typedef struct {
  Value *v;
  int start, end;   /* lifetime in schedule positions, inclusive */
  int64_t size;     /* bytes (per sample in the scaled part) */
  int64_t off;
} Slot;

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

static int by_size_desc(const void *a, const void *b) {
  const Slot *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->v->id - y->v->id; /* deterministic */
}

static bool overlaps(const Slot *a, const Slot *b) { return a->start <= b->end && b->start <= a->end; }

/* First fit: the lowest offset clear of all placed, lifetime-overlapping slots. */
static int64_t place(Slot *s, int nplaced, Slot *cur, int64_t align) {
  int64_t off = 0;
  for (bool moved = true; moved;) {
    moved = false;
    for (int i = 0; i < nplaced; i++) {
      Slot *o = &s[i];
      if (!overlaps(o, cur) || off >= o->off + o->size || o->off >= off + cur->size) continue;
      off = align_up(o->off + o->size, align);
      moved = true;
    }
  }
  return off;
}

static void plan_part(Slot *s, int n, int64_t align, int64_t *total, int64_t *unshared) {
  /* total is rounded to `align` too, so the part after it stays aligned */
  qsort(s, (size_t)n, sizeof(Slot), by_size_desc);
  *total = *unshared = 0;
  for (int i = 0; i < n; i++) {
    s[i].off = place(s, i, &s[i], align);
    if (s[i].off + s[i].size > *total) *total = s[i].off + s[i].size;
    *unshared += s[i].size;
  }
  *total = align_up(*total, align);
}

/* A node marked inline=1 (fuse.c) runs inside its sole reader's loop: its
 * output takes no space, and its inputs are read when the reader runs. */
static void lifetimes(Graph *g, int *start, int *end) {
  int *at = xmalloc(sizeof(int) * (size_t)(g->nnodes + 1)); /* where node i really runs */
  int *reader = xmalloc(sizeof(int) * (size_t)(g->nvalues + 1));
  for (int i = 0; i < g->nvalues; i++) start[i] = end[i] = reader[i] = -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i]->nin; k++) reader[g->nodes[i]->in[k]->id] = i;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    at[i] = node_int(n, "inline", 0) ? at[reader[n->out[0]->id]] : i;
  }
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; k < n->nout && at[i] == i; k++) start[n->out[k]->id] = end[n->out[k]->id] = i;
    for (int k = 0; k < n->nin; k++)
      if (at[i] > end[n->in[k]->id]) end[n->in[k]->id] = at[i];
  }
  free(at);
  free(reader);
  int last = g->nnodes;
  for (int i = 0; i < g->noutputs; i++) end[g->outputs[i]->id] = last;
  for (int i = 0; i < g->nassigns; i++) end[g->assigns[i].src->id] = last;
  for (int i = 0; i < g->ngrads; i++) end[g->grads[i].grad->id] = last;
  if (g->loss) end[g->loss->id] = last;
}

bool pass_memplan(Graph *g, PassCtx *cx) {
  int nv = g->nvalues;
  int *start = xmalloc(sizeof(int) * (size_t)(nv + 1)), *end = xmalloc(sizeof(int) * (size_t)(nv + 1));
  lifetimes(g, start, end);
  Slot *fixed = xcalloc((size_t)nv + 1, sizeof(Slot)), *scaled = xcalloc((size_t)nv + 1, sizeof(Slot));
  int nf = 0, ns = 0;
  for (int i = 0; i < nv; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_TEMP || start[i] < 0) continue;
    int64_t bytes = shape_numel_static(v->shape) * dtype_size(v->dtype);
    if (shape_has_batch(v->shape)) scaled[ns++] = (Slot){v, start[i], end[i], align_up(bytes, 16), 0};
    else fixed[nf++] = (Slot){v, start[i], end[i], align_up(bytes, 64), 0};
  }
  plan_part(fixed, nf, 64, &cx->arena_fixed, &cx->tensors_fixed);
  plan_part(scaled, ns, 16, &cx->arena_per_sample, &cx->tensors_per_sample);
  for (int i = 0; i < nf; i++) fixed[i].v->mem = (MemLoc){true, fixed[i].off, 0};
  for (int i = 0; i < ns; i++) scaled[i].v->mem = (MemLoc){true, cx->arena_fixed, scaled[i].off};
  free(start);
  free(end);
  free(fixed);
  free(scaled);
  return true;
}
