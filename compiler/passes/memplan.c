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
 * 0. Assignments in place: an assignment's source (the optimizer's new
 *    parameter or state) is computed straight into its destination's storage
 *    when its producer is an elementwise loop of the destination's shape and
 *    every reader of the old contents runs before that loop or inside it at
 *    the same index (an inline node of the loop, or the loop's own node). The
 *    update is then one pass over the parameter block, with no arena tensor
 *    and no copy at the end of the step.
 * 1. Lifetime of a value: [index of its producer, index of its last reader];
 *    values the step hands back (outputs, loss, assigned values) live to the end.
 *    Nodes marked inline=1 (fuse.c) run in their reader's loop: their outputs
 *    get no storage and their reads count at the reader's index.
 * 2. Per part, place values largest first at the lowest offset that does not
 *    collide with an already placed value of overlapping lifetime (first fit);
 *    those values come from a segment tree over schedule positions.
 * 3. Report the arena size and the sum of the sizes it would take unshared. */
#include "pass.h"

#include <string.h>

typedef struct {
  Value *v;
  int start, end; /* lifetime in schedule positions, inclusive */
  int64_t size;   /* bytes (per sample in the scaled part) */
  int64_t off;
} Slot;

static int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

static int by_size_desc(const void *a, const void *b) {
  const Slot *x = a, *y = b;
  if (x->size != y->size) return x->size < y->size ? 1 : -1;
  return x->v->id - y->v->id; /* deterministic */
}

/* Which slots' lifetimes overlap a given one, without a scan of all slots (that made
 * planning quadratic in the model's size): a segment tree over schedule positions holds
 * each slot in the O(log n) tree nodes that cover its lifetime exactly, so the slots
 * alive at a position are those on the path from its leaf to the root; the slots that
 * overlap [s, e] are those alive at s plus those starting in (s, e] (by_start). */
typedef struct {
  int size;           /* leaves: a power of two above the last position */
  int *first, *items; /* tree node i holds items[first[i] .. first[i + 1]) */
  int *by_start;      /* slot indices ordered by start */
  int nslots;
} Lives;

/* Runs visit(node) for each tree node of the exact cover of positions [l, r]. */
#define COVER(L, l, r, visit)                                                                                          \
  for (int lo = (l) + (L)->size, hi = (r) + (L)->size + 1; lo < hi; lo >>= 1, hi >>= 1) {                              \
    if (lo & 1) visit(lo++);                                                                                           \
    if (hi & 1) visit(--hi);                                                                                           \
  }

static void lives_build(Lives *L, const Slot *s, int n) {
  int last = 0;
  for (int i = 0; i < n; i++)
    last = s[i].end > last ? s[i].end : last;
  for (L->size = 1; L->size <= last; L->size *= 2) {
  }
  int nodes = 2 * L->size;
  L->first = xcalloc((size_t)nodes + 1, sizeof(int));
#define COUNT(node) L->first[(node) + 1]++
  for (int i = 0; i < n; i++)
    COVER(L, s[i].start, s[i].end, COUNT)
#undef COUNT
  for (int i = 0; i < nodes; i++)
    L->first[i + 1] += L->first[i];
  int *fill = xmalloc(sizeof(int) * (size_t)nodes);
  memcpy(fill, L->first, sizeof(int) * (size_t)nodes);
  L->items = xmalloc(sizeof(int) * (size_t)(L->first[nodes] + 1));
#define PUT(node) L->items[fill[node]++] = i
  for (int i = 0; i < n; i++)
    COVER(L, s[i].start, s[i].end, PUT)
#undef PUT
  free(fill);
  /* slot indices by start: a counting sort over positions (stable, so ties keep index order) */
  int *count = xcalloc((size_t)L->size + 1, sizeof(int));
  for (int i = 0; i < n; i++)
    count[s[i].start + 1]++;
  for (int p = 0; p < L->size; p++)
    count[p + 1] += count[p];
  L->by_start = xmalloc(sizeof(int) * (size_t)(n + 1));
  for (int i = 0; i < n; i++)
    L->by_start[count[s[i].start]++] = i;
  free(count);
  L->nslots = n;
}

static void lives_free(Lives *L) {
  free(L->first);
  free(L->items);
  free(L->by_start);
}

/* The placed slots whose lifetimes overlap s[cur], into near; returns how many. */
static int placed_overlapping(const Lives *L, Slot *s, const bool *placed, int cur, Slot **near) {
  int k = 0;
  for (int node = s[cur].start + L->size; node >= 1; node >>= 1)
    for (int j = L->first[node]; j < L->first[node + 1]; j++)
      if (placed[L->items[j]]) near[k++] = &s[L->items[j]];
  int lo = 0, hi = L->nslots; /* the first slot in start order starting after s[cur] */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (s[L->by_start[mid]].start <= s[cur].start)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (int j = lo; j < L->nslots && s[L->by_start[j]].start <= s[cur].end; j++)
    if (placed[L->by_start[j]]) near[k++] = &s[L->by_start[j]];
  return k;
}

static int by_offset(const void *a, const void *b) {
  const Slot *x = *(Slot *const *)a, *y = *(Slot *const *)b;
  if (x->off != y->off) return x->off < y->off ? -1 : 1;
  return x->v->id - y->v->id;
}

/* First fit: the lowest aligned offset clear of the placed, lifetime-overlapping slots
 * near[0..k). Walking them by offset and stepping past each one in the way finds it in
 * one pass (no aligned offset below a step is free, so none is skipped). */
static int64_t place(Slot **near, int k, const Slot *cur, int64_t align) {
  qsort(near, (size_t)k, sizeof(Slot *), by_offset);
  int64_t off = 0;
  for (int i = 0; i < k && near[i]->off < off + cur->size; i++)
    if (near[i]->off + near[i]->size > off) off = align_up(near[i]->off + near[i]->size, align);
  return off;
}

static void plan_part(Slot *s, int n, int64_t align, int64_t *total, int64_t *unshared) {
  /* total is rounded to `align` too, so the part after it stays aligned */
  qsort(s, (size_t)n, sizeof(Slot), by_size_desc);
  Lives L;
  lives_build(&L, s, n);
  bool *placed = xcalloc((size_t)n + 1, sizeof(bool));
  Slot **near = xmalloc(sizeof(Slot *) * (size_t)(n + 1));
  *total = *unshared = 0;
  for (int i = 0; i < n; i++) {
    s[i].off = place(near, placed_overlapping(&L, s, placed, i, near), &s[i], align);
    placed[i] = true;
    if (s[i].off + s[i].size > *total) *total = s[i].off + s[i].size;
    *unshared += s[i].size;
  }
  *total = align_up(*total, align);
  free(placed);
  free(near);
  lives_free(&L);
}

/* at[i]: the position where node i really runs. A node marked inline=1
 * (fuse.c) runs inside its sole reader's loop. */
static int *run_positions(Graph *g) {
  int *at = xmalloc(sizeof(int) * (size_t)(g->nnodes + 1));
  int *reader = xmalloc(sizeof(int) * (size_t)(g->nvalues + 1));
  for (int i = 0; i < g->nvalues; i++)
    reader[i] = -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i]->nin; k++)
      reader[g->nodes[i]->in[k]->id] = i;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    at[i] = node_int(n, "inline", 0) ? at[reader[n->out[0]->id]] : i;
  }
  free(reader);
  return at;
}

/* How many assignments write dst and read src (each should be one). */
static void count_assigns(Graph *g, int *by_dst, int *by_src) {
  for (int i = 0; i < g->nassigns; i++)
    by_dst[g->assigns[i].dst->id]++, by_src[g->assigns[i].src->id]++;
}

/* Where the old contents of each value are last read: last[id], the latest position
 * of a reader, and aligned[id], whether every reader there has the value's shape
 * (an elementwise loop reading it at the loop's own index). One pass over the graph. */
static void last_reads(Graph *g, const int *at, int *last, bool *aligned) {
  for (int i = 0; i < g->nvalues; i++)
    last[i] = -1, aligned[i] = true;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i]->nin; k++) {
      Value *d = g->nodes[i]->in[k];
      bool same = shape_eq(g->nodes[i]->out[0]->shape, d->shape);
      if (at[i] > last[d->id])
        last[d->id] = at[i], aligned[d->id] = same;
      else if (at[i] == last[d->id])
        aligned[d->id] = aligned[d->id] && same;
    }
}

/* Step 0 for one assignment: whether its source may live in its destination. */
static bool fits_in_place(Graph *g, const Assign *a, const int *last, const bool *aligned, const int *by_dst,
                          const int *by_src) {
  Value *d = a->dst, *s = a->src;
  Node *def = s->def;
  if (s->kind != VK_TEMP || !def || def->nout != 1 || node_int(def, "inline", 0)) return false;
  if (!(op_table[def->op].flags & OPF_ELEMENTWISE) || s->dtype != DT_F32 || d->dtype != DT_F32) return false;
  if (!shape_eq(s->shape, d->shape) || by_dst[d->id] != 1 || by_src[s->id] != 1 || s == g->loss) return false;
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == s) return false;
  for (int i = 0; i < g->ngrads; i++)
    if (g->grads[i].grad == s) return false;
  /* no reader of the old contents after the loop, nor inside it at another index */
  return last[d->id] < def->id || (last[d->id] == def->id && aligned[d->id]);
}

static void assign_in_place(Graph *g) {
  int *at = run_positions(g);
  int *by_dst = xcalloc((size_t)g->nvalues + 1, sizeof(int)), *by_src = xcalloc((size_t)g->nvalues + 1, sizeof(int));
  int *last = xmalloc(sizeof(int) * (size_t)(g->nvalues + 1));
  bool *aligned = xmalloc(sizeof(bool) * (size_t)(g->nvalues + 1));
  count_assigns(g, by_dst, by_src);
  last_reads(g, at, last, aligned);
  for (int i = 0; i < g->nvalues; i++)
    g->values[i]->mem.slot = NULL;
  for (int i = 0; i < g->nassigns; i++)
    if (fits_in_place(g, &g->assigns[i], last, aligned, by_dst, by_src))
      g->assigns[i].src->mem.slot = g->assigns[i].dst;
  free(last);
  free(aligned);
  free(at);
  free(by_dst);
  free(by_src);
}

/* Lifetimes by where nodes really run: an inline node's output takes no
 * space, and its inputs are read when its reader runs. */
static void lifetimes(Graph *g, int *start, int *end) {
  int *at = run_positions(g);
  for (int i = 0; i < g->nvalues; i++)
    start[i] = end[i] = -1;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; k < n->nout && at[i] == i; k++)
      start[n->out[k]->id] = end[n->out[k]->id] = i;
    for (int k = 0; k < n->nin; k++)
      if (at[i] > end[n->in[k]->id]) end[n->in[k]->id] = at[i];
  }
  free(at);
  int last = g->nnodes;
  for (int i = 0; i < g->noutputs; i++)
    end[g->outputs[i]->id] = last;
  for (int i = 0; i < g->nassigns; i++)
    end[g->assigns[i].src->id] = last;
  for (int i = 0; i < g->ngrads; i++)
    end[g->grads[i].grad->id] = last;
  if (g->loss) end[g->loss->id] = last;
}

bool pass_memplan(Graph *g, PassCtx *cx) {
  assign_in_place(g);
  int nv = g->nvalues;
  int *start = xmalloc(sizeof(int) * (size_t)(nv + 1)), *end = xmalloc(sizeof(int) * (size_t)(nv + 1));
  lifetimes(g, start, end);
  Slot *fixed = xcalloc((size_t)nv + 1, sizeof(Slot)), *scaled = xcalloc((size_t)nv + 1, sizeof(Slot));
  int nf = 0, ns = 0;
  for (int i = 0; i < nv; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_TEMP || start[i] < 0 || v->mem.slot) continue;
    int64_t bytes = shape_numel_static(v->shape) * dtype_size(v->dtype);
    if (shape_has_batch(v->shape))
      scaled[ns++] = (Slot){v, start[i], end[i], align_up(bytes, 16), 0};
    else
      fixed[nf++] = (Slot){v, start[i], end[i], align_up(bytes, 64), 0};
  }
  plan_part(fixed, nf, 64, &cx->arena_fixed, &cx->tensors_fixed);
  plan_part(scaled, ns, 16, &cx->arena_per_sample, &cx->tensors_per_sample);
  for (int i = 0; i < nf; i++)
    fixed[i].v->mem = (MemLoc){true, fixed[i].off, 0, NULL};
  for (int i = 0; i < ns; i++)
    scaled[i].v->mem = (MemLoc){true, cx->arena_fixed, scaled[i].off, NULL};
  free(start);
  free(end);
  free(fixed);
  free(scaled);
  return true;
}
