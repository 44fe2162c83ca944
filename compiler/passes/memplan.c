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
 *    the offset ranges those values take come from a segment tree over
 *    schedule positions (Lives).
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

/* First fit needs, for a slot, the offset ranges taken by placed slots whose lifetimes
 * overlap its own. Gathering those slots one by one made planning quadratic: in a deep
 * training graph every forward activation lives until its backward step, so thousands
 * overlap. A segment tree over schedule positions keeps, per tree node, the union of the
 * placed offset ranges as sorted disjoint runs, which coalesce (a stack of activations
 * is one run): own[x] for slots whose exact cover includes node x, sub[x] for slots with
 * a cover node in x's subtree. The slots that overlap [s, e] are those in sub[c] of its
 * cover nodes c and in own[a] of their ancestors a. */
typedef struct {
  int64_t *iv; /* iv[2i] .. iv[2i + 1]: the i-th run, [start, end) */
  int n, cap;
} Runs;

typedef struct {
  int size;        /* leaves: a power of two above the last position */
  Runs *own, *sub; /* per tree node */
  int *seen;       /* per tree node: the last query or insertion that visited it */
  int *q, nq;      /* the current query's nodes, sub lists first */
  int nsub;
} Lives;

/* Runs visit(node) for each tree node of the exact cover of positions [l, r]. */
#define COVER(L, l, r, visit)                                                                                          \
  for (int lo = (l) + (L)->size, hi = (r) + (L)->size + 1; lo < hi; lo >>= 1, hi >>= 1) {                              \
    if (lo & 1) visit(lo++);                                                                                           \
    if (hi & 1) visit(--hi);                                                                                           \
  }

/* The first run of r ending after off, or r->n. */
static int runs_after(const Runs *r, int64_t off) {
  int lo = 0, hi = r->n;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (r->iv[2 * mid + 1] > off)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Adds [a, b) to r, merged with the runs it overlaps or touches. */
static void runs_add(Runs *r, int64_t a, int64_t b) {
  int lo = runs_after(r, a - 1), hi = lo;
  for (; hi < r->n && r->iv[2 * hi] <= b; hi++) {
    a = r->iv[2 * hi] < a ? r->iv[2 * hi] : a;
    b = r->iv[2 * hi + 1] > b ? r->iv[2 * hi + 1] : b;
  }
  if (hi == lo && r->n == r->cap) {
    r->cap = r->cap ? 2 * r->cap : 2;
    r->iv = xrealloc(r->iv, sizeof(int64_t) * 2 * (size_t)r->cap);
  }
  /* the runs from hi on move to just after the new or merged one, at lo */
  memmove(r->iv + 2 * (lo + 1), r->iv + 2 * hi, sizeof(int64_t) * 2 * (size_t)(r->n - hi));
  r->n += lo + 1 - hi;
  r->iv[2 * lo] = a, r->iv[2 * lo + 1] = b;
}

static void lives_init(Lives *L, const Slot *s, int n) {
  int last = 0;
  for (int i = 0; i < n; i++)
    last = s[i].end > last ? s[i].end : last;
  int depth = 1;
  for (L->size = 1; L->size <= last; L->size *= 2)
    depth++;
  L->own = xcalloc(2 * (size_t)L->size, sizeof(Runs));
  L->sub = xcalloc(2 * (size_t)L->size, sizeof(Runs));
  L->seen = xcalloc(2 * (size_t)L->size, sizeof(int));
  L->q =
      xmalloc(sizeof(int) * 4 * (size_t)depth); /* a cover has two nodes per level at most, and so do its ancestors */
}

static void lives_free(Lives *L) {
  for (int i = 0; i < 2 * L->size; i++)
    free(L->own[i].iv), free(L->sub[i].iv);
  free(L->own);
  free(L->sub);
  free(L->seen);
  free(L->q);
}

static void take(Lives *L, int node, int stamp) { L->q[L->nq++] = node, L->seen[node] = stamp; }

/* The query's nodes for slot number `stamp` over [s, e]: cover nodes, then their ancestors. */
static void lives_query(Lives *L, int s, int e, int stamp) {
  L->nq = 0;
#define TAKE(node) take(L, node, stamp)
  COVER(L, s, e, TAKE)
  L->nsub = L->nq;
  for (int k = 0; k < L->nsub; k++)
    for (int a = L->q[k] >> 1; a >= 1 && L->seen[a] != stamp; a >>= 1)
      TAKE(a);
#undef TAKE
}

/* First fit: the lowest aligned offset whose bytes no run of the query's lists touches.
 * Each step moves past a run in the way, and no aligned offset below it is free. */
static int64_t place(const Lives *L, int64_t size, int64_t align) {
  int64_t off = 0;
  for (bool moved = true; moved;) {
    moved = false;
    for (int k = 0; k < L->nq; k++) {
      const Runs *r = k < L->nsub ? &L->sub[L->q[k]] : &L->own[L->q[k]];
      int j = runs_after(r, off);
      if (j < r->n && r->iv[2 * j] < off + size) off = align_up(r->iv[2 * j + 1], align), moved = true;
    }
  }
  return off;
}

/* Records slot [s, e] at [a, b) in the lists of its cover nodes and their ancestors. */
static void lives_insert(Lives *L, int s, int e, int64_t a, int64_t b, int stamp) {
#define OWN(node) runs_add(&L->own[node], a, b)
  COVER(L, s, e, OWN)
#undef OWN
  lives_query(L, s, e, stamp);
  for (int k = 0; k < L->nq; k++)
    runs_add(&L->sub[L->q[k]], a, b);
}

static void plan_part(Slot *s, int n, int64_t align, int64_t *total, int64_t *unshared) {
  /* total is rounded to `align` too, so the part after it stays aligned */
  qsort(s, (size_t)n, sizeof(Slot), by_size_desc);
  Lives L;
  lives_init(&L, s, n);
  *total = *unshared = 0;
  for (int i = 0; i < n; i++) {
    lives_query(&L, s[i].start, s[i].end, 2 * i + 1);
    s[i].off = place(&L, s[i].size, align);
    lives_insert(&L, s[i].start, s[i].end, s[i].off, s[i].off + s[i].size, 2 * i + 2);
    if (s[i].off + s[i].size > *total) *total = s[i].off + s[i].size;
    *unshared += s[i].size;
  }
  *total = align_up(*total, align);
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
