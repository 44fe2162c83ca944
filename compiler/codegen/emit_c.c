/* emit_c.c - the model file: one C function per graph (forward, train step,
 * evaluate), llm.c style: named pointers into the parameter, state and
 * arena blocks, then one commented loop nest per node. */
#include "codegen.h"
#include "embedded.h"
#include "mcu.h"
#include "../ops/quant.h"

#include <math.h>
#include <string.h>

/* ---- per-function emission ---- */

static const char *kind_block(ValueKind k) { return k == VK_PARAM ? "m->params" : "m->state"; }

static void node_comment(Emit *e, Node *n) {
  Buf b = {0};
  buf_printf(&b, "/* node %d: ", n->id);
  for (int k = 0; k < n->nout; k++)
    buf_printf(&b, "%s%s", k ? ", " : "", n->out[k]->name);
  buf_printf(&b, " = %s(", op_name(n->op));
  for (int k = 0; k < n->nin; k++)
    buf_printf(&b, "%s%s", k ? ", " : "", n->in[k]->name);
  buf_printf(&b, ") -> %s%s */", dtype_name(n->out[0]->dtype), shape_str(&e->g->arena, n->out[0]->shape));
  emit_line(e, "%s", b.data);
  buf_free(&b);
}

/* The param whose gradient link points at v, or NULL. */
static Value *grad_param(Graph *g, Value *v) {
  for (int i = 0; i < g->ngrads; i++)
    if (g->grads[i].grad == v) return g->grads[i].param;
  return NULL;
}

/* Declares a C pointer for every value the body referenced. */
static int by_id(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* Declares the values a part uses (ids[0..n), in value order); input_index[id] is an
 * input's position among the graph's inputs. Only the used ids are visited, so a
 * model of many parts costs time linear in its size. */
static void declare_values(Buf *out, Graph *g, int *ids, int n, const int *input_index, int64_t *off, Value *data_in,
                           const char *prefix) {
  Emit e = {out, g, 1, NULL, NULL, NULL, NULL};
  qsort(ids, (size_t)n, sizeof(int), by_id);
  for (int k = 0; k < n; k++) {
    int i = ids[k];
    if (g->values[i]->kind == VK_INPUT && !data_in) {
      const char *ty = emit_ctype(g->values[i]->dtype);
      emit_line(&e, "const %s *%s = (const %s *)inputs[%d]; /* %s */", ty, emit_ref(&e, g->values[i]), ty,
                input_index[i], shape_str(&g->arena, g->values[i]->shape));
    }
    Value *v = g->values[i];
    const char *ty = emit_ctype(v->dtype), *name = emit_ref(&e, v);
    const char *shape = shape_str(&g->arena, v->shape);
    switch (v->kind) {
    case VK_PARAM:
    case VK_STATE:
      emit_line(&e, "float *%s = %s + %lld; /* %s */", name, kind_block(v->kind), (long long)off[i], shape);
      break;
    case VK_TEMP:
      if (v->mem.slot) { /* an update computed in place */
        const Value *d = v->mem.slot;
        emit_line(&e, "float *%s = %s + %lld; /* %s, in place of %s */", name, kind_block(d->kind),
                  (long long)off[d->id], shape, d->name);
        break;
      }
      emit_line(&e, "%s *%s = (%s *)(m->arena + %lld + %lld * B); /* %s */", ty, name, ty, (long long)v->mem.fixed,
                (long long)v->mem.per_sample, shape);
      break;
    case VK_CONST:
      emit_line(&e, "const %s *%s = %s_%s;", ty, name, prefix, v->name);
      break;
    case VK_INPUT:
      if (!data_in) break;
      if (v == data_in)
        emit_line(&e, "const float *%s = x; /* %s */", name, shape);
      else if (!strcmp(v->name, LABELS_NAME))
        emit_line(&e, "const %s *%s = y; /* %s */", ty, name, shape);
      else if (!strcmp(v->name, INPUT_LR))
        emit_line(&e, "const float %s[1] = {m->lr};", name);
      else if (!strcmp(v->name, INPUT_STEP))
        emit_line(&e, "const float %s[1] = {(float)(m->step + 1)};", name);
      else if (grad_param(g, v)) /* the apply half: y is the summed gradient block */
        emit_line(&e, "const float *%s = (const float *)y + %lld; /* %s */", name, (long long)off[grad_param(g, v)->id],
                  shape);
      else
        NN2C_ASSERT(!"unknown graph input");
      break;
    }
  }
}

/* The gradients half (NAME_train_grads) hands each gradient over as soon as
 * node n (NULL: the end of the step, for gradients no node computes) has
 * computed it, so the trainer can send it while the backward pass goes on.
 * Nodes come in schedule order, so a cursor over the gradients ordered by
 * the node computing them finds n's (a scan of all gradients per node was
 * quadratic). */
typedef struct {
  int64_t *order; /* (node id << 32) | gradient index, ascending */
  int n, at;
} GradCursor;

static int by_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void grad_cursor_init(GradCursor *c, Graph *g) {
  c->order = xmalloc(sizeof(int64_t) * (size_t)(g->ngrads + 1));
  c->n = c->at = 0;
  for (int i = 0; i < g->ngrads; i++)
    if (g->grads[i].grad->def) c->order[c->n++] = (int64_t)g->grads[i].grad->def->id << 32 | i;
  qsort(c->order, (size_t)c->n, sizeof(int64_t), by_int64);
}

static void grad_done(Emit *e, Graph *g, int i, int64_t *poff) {
  Value *v = g->grads[i].grad;
  emit_line(e, "grad_done(outputs, %lld, %s, %s); /* d loss / d %s */", (long long)poff[g->grads[i].param->id],
            emit_ref(e, v), emit_numel(e, v), g->grads[i].param->name);
}

static void emit_grads_done(Emit *e, Graph *g, Node *n, int64_t *poff, GradCursor *c) {
  for (; n && c->at < c->n && c->order[c->at] >> 32 <= n->id; c->at++)
    if (c->order[c->at] >> 32 == n->id) grad_done(e, g, (int)(c->order[c->at] & 0xffffffff), poff);
  for (int i = 0; !n && i < g->ngrads; i++)
    if (!g->grads[i].grad->def) grad_done(e, g, i, poff);
}

/* Nodes [from, to) in schedule order; the last part also hands back the
 * outputs and writes the assignments. generic: outputs is an array of typed
 * pointers (NAME_run); otherwise the first output goes to out. */
static void emit_body(Emit *e, Graph *g, int from, int to, int64_t *poff, int64_t *soff, bool generic,
                      GradCursor *grads_out) {
  for (int i = from; i < to; i++) {
    Node *n = g->nodes[i];
    node_comment(e, n);
    bool empty = true; /* zero-size outputs: nothing to compute (and loops to 0 would warn) */
    for (int k = 0; k < n->nout; k++)
      empty = empty && !shape_has_batch(n->out[k]->shape) && !shape_numel_static(n->out[k]->shape);
    if (node_int(n, "inline", 0))
      emit_line(e, "/* computed in the loop of its reader */");
    else if (empty)
      emit_line(e, "/* no elements */");
    else
      op_table[n->op].emit(e, n);
    if (grads_out) emit_grads_done(e, g, n, poff, grads_out);
  }
  if (to < g->nnodes) return;
  for (int i = 0; i < g->noutputs && generic; i++)
    emit_line(e, "if (outputs[%d]) memcpy(outputs[%d], %s, sizeof(%s) * %s);", i, i, emit_ref(e, g->outputs[i]),
              emit_ctype(g->outputs[i]->dtype), emit_numel(e, g->outputs[i]));
  if (!generic && g->noutputs > 0)
    emit_line(e, "if (out) memcpy(out, %s, sizeof(float) * %s);", emit_ref(e, g->outputs[0]),
              emit_numel(e, g->outputs[0]));
  if (g->loss) emit_line(e, "if (loss) *loss = %s[0];", emit_ref(e, g->loss));
  if (grads_out) emit_grads_done(e, g, NULL, poff, grads_out);
  for (int i = 0; i < g->nassigns; i++) {
    Assign *a = &g->assigns[i];
    if (a->src->mem.slot == a->dst) continue; /* computed in place */
    int64_t off = a->dst->kind == VK_PARAM ? poff[a->dst->id] : soff[a->dst->id];
    emit_line(e, "memcpy(%s + %lld, %s, sizeof(float) * %s); /* %s */", kind_block(a->dst->kind), (long long)off,
              emit_ref(e, a->src), emit_numel(e, a->src), a->dst->name);
  }
}

static void emit_consts(Buf *c, Graph *g, unsigned char *used, const char *prefix);

/* Bytes of scratch space a graph's nodes need beyond the planned tensors
 * (node_scratch_bytes: transposed operands, im2col patches). The scratch follows the planned
 * part of the arena; nodes use it one at a time. */
static int64_t scratch_bytes(Graph *g) {
  int64_t most = 0;
  for (int i = 0; g && i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    int64_t b = node_scratch_bytes(n);
    if (b > most) most = b;
  }
  return (most + 63) / 64 * 64;
}

int64_t codegen_scratch_bytes(Graph *g) { return scratch_bytes(g); }

#define PART_LINES 400 /* lines per part function: compilers slow down on huge functions */

/* A graph's nodes are emitted in part functions of about PART_LINES lines each (a
 * part ends after the node that reaches it; an unrolled recurrent layer has
 * thousands of nodes, a CNN's kernels are calls), called in order by the public
 * function; each part declares only the pointers it uses. A part returns
 * nonzero to stop the step (an embedding id out of range).
 * generic: inputs and outputs are arrays of typed pointers (NAME_run);
 * otherwise one float input x and the first output into out. */
/* Offsets of g's params and state in the blocks laid out for graph ref (a
 * half of a split train step holds only some of the train graph's state). */
static void block_offsets_like(Graph *g, Graph *ref, ValueKind k, int64_t *off) {
  int64_t *roff = xcalloc((size_t)ref->nvalues, sizeof(int64_t));
  graph_block_layout(ref, k, roff);
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i], *r = v->kind == k ? graph_find(ref, v->name) : NULL;
    if (v->kind != k) continue;
    NN2C_ASSERT(r && r->kind == k && shape_eq(r->shape, v->shape));
    off[i] = roff[r->id];
  }
  free(roff);
}

/* Flags of emit_function. */
enum {
  FN_LABELS = 1, /* takes labels y, reports the loss */
  FN_BUMPS_STEP = 2,
  FN_GENERIC = 4,   /* typed input and output arrays (NAME_run) */
  FN_GRADS_OUT = 8, /* writes the gradients into outputs[0] (the gradients half) */
  FN_BARE = 16,     /* bare metal (--target): the static model and arena, a fixed batch, one thread */
};

static void emit_function(Buf *c, Buf *helpers, const char *N, const char *prefix, const char *sig, CompiledGraph *cg,
                          Graph *layout, int flags) {
  Graph *g = cg->g;
  bool labels = flags & FN_LABELS, bumps_step = flags & FN_BUMPS_STEP, generic = flags & FN_GENERIC;
  int64_t *poff = xcalloc((size_t)g->nvalues, sizeof(int64_t)), *soff = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  block_offsets_like(g, layout, VK_PARAM, poff);
  block_offsets_like(g, layout, VK_STATE, soff);
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_STATE) poff[i] = soff[i];
  unsigned char *used = xcalloc((size_t)g->nvalues, 1), *all = xcalloc((size_t)g->nvalues, 1);
  int *marked = xmalloc(sizeof(int) * (size_t)(g->nvalues + 1)), nmarked = 0;
  int *input_index = xmalloc(sizeof(int) * (size_t)(g->nvalues + 1)), ninputs = 0;
  for (int i = 0; i < g->nvalues; i++)
    input_index[i] = g->values[i]->kind == VK_INPUT ? ninputs++ : -1;
  Buf parts = {0}, calls = {0};
  int np = 0;
  bool scratch = scratch_bytes(g) > 0; /* once: a scan of all nodes per part was quadratic */
  GradCursor cursor;
  grad_cursor_init(&cursor, g);
  for (int from = 0, to; from < g->nnodes || np == 0; from = to, np++) {
    Buf body = {0};
    nmarked = 0;
    Emit e = {&body, g, 1, used, helpers, marked, &nmarked};
    int lines = 0;
    to = from;
    do { /* one node at a time until the part is long enough; the last one adds the step's end */
      size_t start = body.len;
      emit_body(&e, g, to, to + 1 <= g->nnodes ? to + 1 : to, poff, soff, generic,
                flags & FN_GRADS_OUT ? &cursor : NULL);
      for (size_t k = start; k < body.len; k++)
        lines += body.data[k] == '\n';
      to = to + 1 <= g->nnodes ? to + 1 : to;
    } while (to < g->nnodes && lines < PART_LINES);
    buf_printf(&parts,
               "static NN2C_KERNEL int %s_part%d(%s, const float *x, const void *y, const void *const *inputs,\n"
               "    void *const *outputs, size_t B, int nt, unsigned char *scratch, float *loss, float *out) {\n",
               prefix, np, arena_printf(&g->arena, "%s_Model *m", N));
    buf_puts(&parts,
             "  (void)m, (void)x, (void)y, (void)inputs, (void)outputs, (void)B, (void)nt, (void)scratch, (void)loss,"
             " (void)out;\n");
    declare_values(&parts, g, marked, nmarked, input_index, poff, generic ? NULL : g->values[0], prefix);
    buf_puts(&parts, body.data ? body.data : "");
    buf_puts(&parts, "  return 0;\n}\n\n");
    buf_free(&body);
    for (int k = 0; k < nmarked; k++)
      all[marked[k]] = 1, used[marked[k]] = 0;
    buf_printf(&calls, "  if ((rc = %s_part%d(m, %s, %s, %s, B, nt, %s, %s, %s)) != 0) return rc;\n", prefix, np,
               generic ? "NULL" : "x", labels ? "y" : "NULL",
               generic                ? "inputs, outputs"
               : flags & FN_GRADS_OUT ? "NULL, outputs"
                                      : "NULL, NULL",
               scratch ? "scratch" : "NULL", labels ? "loss" : "NULL", generic ? "NULL" : "out");
  }
  emit_consts(c, g, all, prefix);
  buf_puts(c, parts.data);
  buf_printf(c, "%s {\n", sig);
  if (flags & FN_BARE) /* one static arena, the batch fixed when the model was compiled */
    buf_printf(c, "  %s_Model *m = &%s_model;\n  const size_t B = %s_BATCH;\n  const int nt = 1;\n  int rc;\n", N, N,
               N);
  else {
    buf_printf(c, "  if (!m || batch < 1 || batch > m->max_batch) return 1;\n");
    if (flags & FN_GRADS_OUT)
      buf_puts(c,
               "  if (!grads) return 1;\n  GradSink sink;\n  sink.grads = grads, sink.ready = ready, sink.ctx = ctx;\n"
               "  void *const outputs[1] = {&sink}; /* where the gradients go */\n");
    buf_printf(c, "  const size_t B = (size_t)batch;\n  int rc;\n");
    buf_printf(c, "  const int nt = m->threads > 0 ? m->threads : 1; /* threads for NN2C_PARALLEL_FOR */\n");
    buf_printf(c, "  NN2C_PARALLEL_SETUP(nt);\n");
  }
  if (scratch)
    buf_printf(c, "  unsigned char *scratch = m->arena + %lld + %lld * B; /* after the planned tensors */\n",
               (long long)cg->plan.arena_fixed, (long long)cg->plan.arena_per_sample);
  buf_puts(c, calls.data);
  if (bumps_step) buf_puts(c, "  m->step++;\n");
  buf_puts(c, "  return 0;\n}\n\n");
  buf_free(&parts);
  buf_free(&calls);
  free(cursor.order);
  free(used);
  free(all);
  free(marked);
  free(input_index);
  free(poff);
  free(soff);
}

/* ---- constants, initializers ---- */

/* One element, exactly: floats round-trip, integers keep all 64 bits. */
static void emit_const_elem(Buf *c, const Tensor *t, int64_t j) {
  double v = tensor_get(t, j);
  if (t->dtype == DT_F16 || t->dtype == DT_BF16)
    buf_printf(c, "%u", (unsigned)((const uint16_t *)t->data)[j]); /* the bits */
  else if (dtype_is_float(t->dtype) && !isfinite(v))
    buf_puts(c, v != v ? "NAN" : v > 0 ? "INFINITY" : "-INFINITY");
  else if (dtype_is_float(t->dtype)) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, t->dtype == DT_F32 ? "%.9g" : "%.17g", v);
    buf_printf(c, "%s%s%s", tmp, strpbrk(tmp, ".e") ? "" : ".0", t->dtype == DT_F32 ? "f" : "");
  } else if (t->dtype == DT_I64) {
    long long x = ((const int64_t *)t->data)[j];
    if (x == INT64_MIN)
      buf_puts(c, "INT64_MIN");
    else
      buf_printf(c, "%lldLL", x);
  } else if (t->dtype == DT_U64)
    buf_printf(c, "%lluULL", (unsigned long long)((const uint64_t *)t->data)[j]);
  else if (t->dtype == DT_U32)
    buf_printf(c, "%.0fU", v);
  else if (t->dtype == DT_I32 && v == -2147483648.0)
    buf_puts(c, "INT32_MIN");
  else
    buf_printf(c, "%.0f", v);
}

static void emit_consts(Buf *c, Graph *g, unsigned char *used, const char *prefix) {
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_CONST || !used[i]) continue;
    int64_t n = shape_numel_static(v->shape);
    buf_printf(c, "static const %s %s_%s[%lld] = {", emit_ctype(v->dtype), prefix, v->name, (long long)(n ? n : 1));
    Tensor t = {v->dtype, v->shape, n, v->data};
    for (int64_t j = 0; j < n; j++) {
      buf_puts(c, j ? ", " : "");
      emit_const_elem(c, &t, j);
    }
    buf_puts(c, n ? "};\n" : "0};\n");
  }
}

/* Appends templates/FILE with @NAME@ replaced by N, then a blank line. */
static void put_template(Buf *c, const char *file, const char *N) {
  codegen_template(c, file, N);
  buf_puts(c, "\n");
}

/* C expression for element i of param k. */
static char *init_expr(Arena *a, Value *v, int k) {
  double fi, fo;
  shape_fans(v->shape, &fi, &fo);
  Init in = v->init;
  long long n = (long long)shape_numel_static(v->shape);
  switch (in.kind) {
  case INIT_ZEROS:
    return "0.0";
  case INIT_ONES:
    return "1.0";
  case INIT_CONSTANT:
    return arena_printf(a, "%.17g", in.a);
  case INIT_UNIFORM:
    return arena_printf(a, "%.17g + %.17g * init_uniform(seed, %d, i)", in.a, in.b - in.a, k);
  case INIT_NORMAL:
    return arena_printf(a, "%.17g + %.17g * init_normal(seed, %d, i)", in.a, in.b, k);
  case INIT_GLOROT_UNIFORM:
    return arena_printf(a, "sqrt(6.0 / %.17g) * (2.0 * init_uniform(seed, %d, i) - 1.0)", fi + fo, k);
  case INIT_HE_UNIFORM:
    return arena_printf(a, "sqrt(6.0 / %.17g) * (2.0 * init_uniform(seed, %d, i) - 1.0)", fi, k);
  case INIT_LECUN_UNIFORM:
    return arena_printf(a, "sqrt(3.0 / %.17g) * (2.0 * init_uniform(seed, %d, i) - 1.0)", fi, k);
  case INIT_GLOROT_NORMAL:
    return arena_printf(a, "sqrt(2.0 / %.17g) * init_truncated(seed, %d, i, %lld)", fi + fo, k, n);
  case INIT_HE_NORMAL:
    return arena_printf(a, "sqrt(2.0 / %.17g) * init_truncated(seed, %d, i, %lld)", fi, k, n);
  case INIT_LECUN_NORMAL:
    return arena_printf(a, "sqrt(1.0 / %.17g) * init_truncated(seed, %d, i, %lld)", fi, k, n);
  case INIT_UNIT_FORGET_BIAS:
    return arena_printf(a, "i >= %lld && i < %lld ? 1.0 : 0.0", n / 4, n / 2);
  default:
    NN2C_ASSERT(!"unknown initializer");
    return "0";
  }
}

/* Emits only the helpers some initializer needs (unused statics would warn). */
static void emit_init_helpers(Buf *c, Graph *g) {
  bool uni = false, nor = false, tru = false, orth = false;
  for (int j = 0; j < g->nvalues; j++) {
    InitKind k = g->values[j]->kind == VK_PARAM ? g->values[j]->init.kind : INIT_ZEROS;
    tru = tru || k == INIT_GLOROT_NORMAL || k == INIT_HE_NORMAL || k == INIT_LECUN_NORMAL;
    nor = nor || tru || k == INIT_NORMAL || k == INIT_ORTHOGONAL;
    orth = orth || k == INIT_ORTHOGONAL;
    uni =
        uni || nor || k == INIT_UNIFORM || k == INIT_GLOROT_UNIFORM || k == INIT_HE_UNIFORM || k == INIT_LECUN_UNIFORM;
  }
  /* The initializer spec of docs/initializers.md, written out in the model file
   * (the interpreter has its own implementation to check this one). */
  if (uni) put_template(c, "init_uniform.c.in", NULL);
  if (nor) put_template(c, "init_normal.c.in", NULL);
  if (tru) put_template(c, "init_truncated.c.in", NULL);
  if (orth) put_template(c, "init_orthogonal.c.in", NULL);
}

static void emit_init(Buf *c, const char *name, Graph *g, bool weights_file) {
  if (weights_file) { /* every param is imported data */
    buf_printf(c,
               "void %s_init(float *params, uint64_t seed) {\n"
               "  /* the weights are in %s.weights: %s_load_weights reads them */\n"
               "  (void)params;\n  (void)seed;\n}\n\n",
               name, name, name);
    return;
  }
  emit_init_helpers(c, g);
  int64_t work = 0; /* doubles the largest orthogonal param needs */
  for (int j = 0; j < g->nvalues; j++)
    if (g->values[j]->kind == VK_PARAM && g->values[j]->init.kind == INIT_ORTHOGONAL &&
        shape_numel_static(g->values[j]->shape) > work)
      work = shape_numel_static(g->values[j]->shape);
  if (work) buf_printf(c, "static double orth_work[%lld]; /* NAME_init's work area */\n\n", (long long)work);
  buf_printf(c, "void %s_init(float *params, uint64_t seed) {\n  uint64_t i;\n", name);
  buf_printf(c, "  memset(params, 0, sizeof(float) * %s_PARAM_FLOATS);\n", name);
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  graph_block_layout(g, VK_PARAM, off);
  int k = 0;
  for (int j = 0; j < g->nvalues; j++) {
    Value *v = g->values[j];
    if (v->kind != VK_PARAM) continue;
    buf_printf(c, "  /* %s %s%s: %s */\n", v->name, dtype_name(v->dtype), shape_str(&g->arena, v->shape),
               init_name(v->init.kind));
    int64_t numel = shape_numel_static(v->shape), cols = v->shape.rank ? v->shape.d[v->shape.rank - 1] : 1;
    if (v->init.kind == INIT_DATA) {
      buf_puts(c, "  {\n    static const float w[] = {");
      for (int64_t e = 0; e < numel; e++)
        buf_printf(c, "%s%s%.9g", e ? "," : "", e % 8 ? " " : "\n      ", ((const float *)v->data)[e]);
      buf_printf(c, "};\n    memcpy(params + %lld, w, sizeof w);\n  }\n", (long long)off[j]);
    } else if (v->init.kind == INIT_ORTHOGONAL)
      buf_printf(c, "  init_orthogonal(params + %lld, %lld, %lld, seed, %d, orth_work);\n", (long long)off[j],
                 (long long)(numel / cols), (long long)cols, k);
    else
      buf_printf(c, "  for (i = 0; i < %lld; i++) params[%lld + i] = (float)(%s);\n", (long long)numel,
                 (long long)off[j], init_expr(&g->arena, v, k));
    k++;
  }
  buf_puts(c, "  (void)seed;\n  (void)i;\n}\n\n");
  free(off);
}

/* State starts at its initializer (zeros, or ones for running variances). */
static void emit_init_state(Buf *c, const char *name, Graph *g) {
  buf_printf(c, "void %s_init_state(float *state) {\n  size_t i;\n", name);
  buf_printf(c, "  memset(state, 0, sizeof(float) * %s_STATE_FLOATS);\n", name);
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  graph_block_layout(g, VK_STATE, off);
  for (int j = 0; j < g->nvalues; j++) {
    Value *v = g->values[j];
    if (v->kind != VK_STATE || v->init.kind == INIT_ZEROS) continue;
    NN2C_ASSERT(v->init.kind == INIT_ONES || v->init.kind == INIT_CONSTANT);
    buf_printf(c, "  for (i = 0; i < %lld; i++) state[%lld + i] = %s; /* %s */\n",
               (long long)shape_numel_static(v->shape), (long long)off[j],
               emit_float(&(Emit){NULL, g, 0, NULL, NULL, NULL, NULL}, v->init.kind == INIT_ONES ? 1.0 : v->init.a),
               v->name);
  }
  buf_puts(c, "  (void)i;\n}\n\n");
  free(off);
}

/* ---- imported weights in NAME.weights ---- */

/* f32 constants a node reads, but scalars (emitters fold those into expressions). */
static bool is_weight_const(Value *v, const unsigned char *read) {
  return v->kind == VK_CONST && read[v->id] && v->dtype == DT_F32 && v->data && shape_numel_static(v->shape) > 1;
}

static unsigned char *values_read(Graph *g) {
  unsigned char *read = xcalloc((size_t)g->nvalues, 1);
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i]->nin; k++)
      if (g->nodes[i]->in[k]) read[g->nodes[i]->in[k]->id] = 1;
  for (int i = 0; i < g->noutputs; i++)
    read[g->outputs[i]->id] = 1;
  return read;
}

int64_t codegen_weights_floats(CodegenInput *in) {
  Graph *g = in->train ? in->train_graph.g : in->infer.g;
  unsigned char *read = values_read(g);
  int64_t n = 0;
  for (int i = 0; i < g->nvalues && n >= 0; i++) {
    Value *v = g->values[i];
    if (v->kind == VK_PARAM)
      n = v->init.kind == INIT_DATA ? n + shape_numel_static(v->shape) : -1;
    else if (!in->train && is_weight_const(v, read))
      n += shape_numel_static(v->shape);
  }
  free(read);
  return n > 0 ? n : 0;
}

/* Inference: the weight constants become params (INIT_DATA), so they live in
 * the caller's params block that NAME_load_weights fills. */
static void weights_to_params(Graph *g) {
  unsigned char *read = values_read(g);
  for (int i = 0; i < g->nvalues; i++)
    if (is_weight_const(g->values[i], read))
      g->values[i]->kind = VK_PARAM, g->values[i]->init = (Init){INIT_DATA, 0, 0};
  free(read);
}

/* ---- the header and the model file ---- */

static bool uses_int_pow(Graph *g) {
  for (int i = 0; g && i < g->nnodes; i++)
    if (g->nodes[i]->op == OP_POW && !dtype_is_float(g->nodes[i]->in[0]->dtype) &&
        !dtype_is_float(g->nodes[i]->in[1]->dtype))
      return true;
  return false;
}

static bool has_op(Graph *g, OpKind op) {
  for (int i = 0; g && i < g->nnodes; i++)
    if (g->nodes[i]->op == op) return true;
  return false;
}

static int64_t arena_at(const CompiledGraph *cg, int64_t batch) {
  return cg->g ? cg->plan.arena_fixed + cg->plan.arena_per_sample * batch + scratch_bytes(cg->g) : 0;
}

/* The arena serves every function, so it is sized for the largest plan. */
static long long arena_max(const CodegenInput *in, int64_t batch) {
  int64_t a = arena_at(&in->infer, batch), t = arena_at(&in->train_graph, batch), e = arena_at(&in->eval, batch);
  int64_t most = a > t ? (a > e ? a : e) : (t > e ? t : e);
  if (in->mpi) { /* the halves of the split train step share the arena */
    int64_t gr = arena_at(&in->grads, batch), ap = arena_at(&in->apply, batch);
    most = most > gr ? most : gr;
    most = most > ap ? most : ap;
  }
  return (long long)most;
}

/* NAME_forward exists when the model has one float input and a float first output. */
static bool has_forward(Graph *g) {
  int n = 0;
  for (int i = 0; i < g->nvalues; i++)
    n += g->values[i]->kind == VK_INPUT;
  return n == 1 && g->values[0]->kind == VK_INPUT && g->values[0]->dtype == DT_F32 && g->outputs[0]->dtype == DT_F32;
}

/* Documents NAME_run's arrays: one line per input and output. */
static void header_io(Buf *h, Graph *g) {
  int k = 0;
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_INPUT)
      buf_printf(h, " *   inputs[%d]  %s %s%s\n", k++, g->values[i]->name, dtype_name(g->values[i]->dtype),
                 shape_str(&g->arena, g->values[i]->shape));
  for (int i = 0; i < g->noutputs; i++)
    buf_printf(h, " *   outputs[%d] %s %s%s\n", i, g->outputs[i]->name, dtype_name(g->outputs[i]->dtype),
               shape_str(&g->arena, g->outputs[i]->shape));
}

/* nn2c compile --mpi: the train step in two halves, for a data-parallel trainer. */
/* The length of the state prefix the gradients half assigns (running statistics,
 * which come before the optimizer's state in the block): 0 for most models. */
static int64_t running_state_floats(CodegenInput *in) {
  Graph *g = in->grads.g, *ref = in->train_graph.g;
  int64_t *off = xcalloc((size_t)ref->nvalues, sizeof(int64_t)), end = 0;
  graph_block_layout(ref, VK_STATE, off);
  for (int i = 0; i < g->nassigns; i++) {
    Value *r = graph_find(ref, g->assigns[i].dst->name);
    int64_t e = off[r->id] + shape_numel_static(r->shape);
    end = e > end ? e : end;
  }
  free(off);
  return end;
}

static void header_split_step(Buf *h, const char *N, const char *lt, bool loss_is_sum, int64_t running) {
  buf_printf(h,
             "\n/* Data-parallel training (nn2c compile --mpi): %s_train_step in two halves, so a\n"
             " * trainer can sum the gradients of several processes in between (runtime/nn2c_mpi.c).\n"
             " * %s_train_grads computes loss, out and the gradient of the loss into grads\n"
             " * (%s_PARAM_FLOATS floats laid out like params) and updates running statistics;\n"
             " * as each parameter's gradient is complete it calls ready(ctx, offset, count)\n"
             " * (unless NULL) for floats [offset, offset + count) of grads, in backward order;\n"
             " * %s_train_apply takes one optimizer step with grads and counts it. The loss is a\n"
             " * %s over the batch (%s_LOSS_IS_SUM), so are the gradients. Both return 0, or 1 for\n"
             " * a bad batch or a NULL grads. %s_train_grads also updates state[0 ..\n"
             " * %s_RUNNING_STATE_FLOATS) (running statistics); a trainer averages them. */\n"
             "#define %s_HAS_SPLIT_STEP 1\n#define %s_LOSS_IS_SUM %d\n#define %s_RUNNING_STATE_FLOATS %lld\n"
             "typedef void (*%s_GradReady)(void *ctx, long offset, long count);\n"
             "int %s_train_grads(%s_Model *m, const float *x, const %s *y, int batch, float *loss, float *out,\n"
             "    float *grads, %s_GradReady ready, void *ctx);\n"
             "int %s_train_apply(%s_Model *m, const float *grads);\n",
             N, N, N, N, loss_is_sum ? "sum" : "mean", N, N, N, N, N, loss_is_sum, N, (long long)running, N, N, N, lt,
             N, N, N);
}

/* The trainer's starting point (train headers only): batch, epochs, lr, seed, data set, callbacks. */
static void emit_train_defines(Buf *h, const Model *m, const Value *x, const char *N) {
  buf_printf(h, "#define %s_IN_SHAPE \"", N); /* per sample, for the trainer's messages */
  for (int i = 0, first = 1; i < x->shape.rank; i++)
    if (x->shape.d[i] != DIM_BATCH) buf_printf(h, "%s%lld", first ? "" : "x", (long long)x->shape.d[i]), first = 0;
  buf_puts(h, "\"\n");
  buf_printf(h, "#define %s_DEFAULT_BATCH %d\n#define %s_DEFAULT_EPOCHS %d\n", N, m->train.batch, N, m->train.epochs);
  buf_printf(h, "#define %s_DEFAULT_LR %.9gf\n#define %s_DEFAULT_SEED %lluu\n", N, m->train.opt.lr, N,
             (unsigned long long)m->train.seed);
  buf_printf(h, "#define %s_DATASET \"%s\"\n", N, m->train.dataset);
  buf_printf(h, "#define %s_DATASET_OPTIONS \"%s\"\n", N, m->train.dataset_options);
  buf_printf(h, "#define %s_DATASET_INLINE %d\n", N, m->inline_n > 0);
  if (m->train.train_flags) { /* the train section's callbacks, read by the trainer */
    buf_printf(h, "#define %s_TRAIN_FLAGS \"", N);
    for (const char *p = m->train.train_flags; *p; p++)
      buf_printf(h, *p == '\n' ? "\\n" : *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    buf_puts(h, "\"\n");
  }
}

/* init_state for training, or for an inference model that keeps state (batch-norm statistics). */
static bool needs_init_state(CodegenInput *in) {
  return in->train || graph_block_layout(in->infer.g, VK_STATE, NULL) > 0;
}

bool codegen_has_forward(Graph *g) { return has_forward(g); }
void codegen_header_io(Buf *h, Graph *g) { header_io(h, g); }

static void emit_header(Model *m, CodegenInput *in, Buf *h) {
  const char *N = in->name;
  Graph *g = in->train ? in->train_graph.g : in->infer.g;
  Value *x = g->values[0], *pred = g->outputs[0], *lab = in->train ? graph_find(g, LABELS_NAME) : NULL;
  int64_t batch = m->train.batch;
  buf_printf(h, "/* %s.h - generated by nn2c from %s. Do not edit.\n", N, m->file->src.path);
  buf_printf(h, " *\n * input:  %s %s%s\n * output: %s %s%s\n", x->name, dtype_name(x->dtype),
             shape_str(&g->arena, x->shape), pred->name, dtype_name(pred->dtype), shape_str(&g->arena, pred->shape));
  buf_printf(h, " * params: %lld floats in %d tensors\n", (long long)graph_block_layout(g, VK_PARAM, NULL),
             graph_count_kind(g, VK_PARAM));
  if (quant_code_bytes(g)) /* an int8 model: its weights are constants in the code */
    buf_printf(h, " * consts: %lld bytes in the code (int8 weights packed, biases, scales, other tables)\n",
               (long long)quant_code_bytes(g));
  buf_printf(h, " * arena:  %lld bytes at batch %lld (see %s_arena_bytes)\n", arena_max(in, batch), (long long)batch,
             N);
  buf_printf(h,
             " * link:   lib%s.a (or %s.c) and -lm; also -fopenmp when %s.c was compiled with\n"
             " *         OpenMP (the Makefile's default when the compiler has it; `make OPENMP=0`\n"
             " *         builds without), else the link fails on GOMP_* symbols. After `make`,\n"
             " *         PKG_CONFIG_PATH=<this folder> pkg-config --cflags --libs %s prints\n"
             " *         them (%s.pc); docs/consumers.md has the details.\n */\n",
             N, N, N, N, N);
  buf_printf(h, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n", N, N);
  buf_printf(h, "#define %s_IN_NUMEL %lld\n", N, (long long)shape_numel(x->shape, 1));
  buf_printf(h, "#define %s_OUT_NUMEL %lld\n", N, (long long)shape_numel(pred->shape, 1));
  if (in->train) {
    buf_printf(h, "#define %s_LABEL_NUMEL %lld\n", N, (long long)shape_numel(lab->shape, 1));
    buf_printf(h, "#define %s_LABEL_IS_INT %d\n", N, lab->dtype != DT_F32);
  }
  buf_printf(h, "#define %s_PARAM_FLOATS %lld\n", N, (long long)graph_block_layout(g, VK_PARAM, NULL));
  buf_printf(h, "#define %s_STATE_FLOATS %lld\n", N, (long long)graph_block_layout(g, VK_STATE, NULL));
  int64_t ema = in->train ? optimizer_ema_offset(g, &m->train.opt) : -1;
  if (ema >= 0)
    buf_printf(h,
               "/* The state block ends with the params' moving average (train `ema %g`), laid\n"
               " * out like the param block: state + %s_EMA_OFFSET. The trainer evaluates and\n"
               " * saves it as the params (see docs/nn-format.md). */\n#define %s_EMA_OFFSET %lld\n",
               m->train.opt.ema, N, N, (long long)ema);
  if (in->train) /* what the trainer starts from; an inference-only header has no trainer */
    emit_train_defines(h, m, x, N);
  buf_printf(h, "#define %s_ARENA_BYTES %lldu /* at the default batch */\n\n", N, arena_max(in, batch));
  put_template(h, "model_api.h.in", N);
  buf_printf(h, "size_t %s_arena_bytes(int batch);\nvoid %s_init(float *params, uint64_t seed);\n", N, N);
  if (in->weights_file)
    buf_printf(h,
               "\n/* The imported weights are not in %s.c: nn2c wrote them to %s.weights next to\n"
               " * it (an nn2c checkpoint with one \"params\" section of %s_PARAM_FLOATS floats).\n"
               " * %s_init leaves params alone; call %s_load_weights(params, path) before the\n"
               " * first run. It returns 0, or 1 after printing to stderr what is wrong with the\n"
               " * file (missing, truncated, not a weights file, wrong parameter count, bad\n"
               " * checksum); params is then unspecified.%s */\n"
               "#define %s_WEIGHTS_FILE \"%s.weights\"\nint %s_load_weights(float *params, const char *path);\n\n",
               N, N, N, N, N, in->train ? " The trainer's --save checkpoints fit too." : "", N, N, N);
  if (needs_init_state(in))
    buf_printf(h, "void %s_init_state(float *state); /* before training: moments zero, running variances one */\n", N);
  put_template(h, "load_checkpoint.h.in", N);
  if (needs_init_state(in)) put_template(h, "load_state.h.in", N); /* running statistics too */
  buf_printf(h, "/* Each returns 0, or 1 when batch is outside [1, max_batch]. */\n");
  buf_printf(h, "/* Inference; dimension N is the batch. Either array may hold NULL for an output not wanted.\n");
  header_io(h, in->infer.g);
  buf_printf(h, " */\nint %s_run(%s_Model *m, const void *const *inputs, void *const *outputs, int batch);\n", N, N);
  if (has_forward(in->infer.g))
    buf_printf(h, "int %s_forward(%s_Model *m, const float *x, float *out, int batch);\n", N, N);
  if (in->train) {
    const char *lt = lab->dtype == DT_F32 ? "float" : "int32_t";
    buf_printf(h, "int %s_train_step(%s_Model *m, const float *x, const %s *y, int batch, float *loss, float *out);\n",
               N, N, lt);
    buf_printf(h, "int %s_evaluate(%s_Model *m, const float *x, const %s *y, int batch, float *loss, float *out);\n", N,
               N, lt);
    if (in->mpi) header_split_step(h, N, lt, m->train.sum, running_state_floats(in));
  }
  if (m->inline_n > 0 && in->train)
    buf_printf(
        h,
        "\nextern const int %s_INLINE_N;\nextern const float %s_INLINE_X[];\nextern const float %s_INLINE_YF[];\n"
        "extern const int32_t %s_INLINE_YI[];\n",
        N, N, N, N);
  buf_printf(h, "\n#endif\n");
}

static void emit_inline_data(Model *m, const char *N, Buf *c, int64_t in_numel, int64_t lab_numel) {
  buf_printf(c, "const int %s_INLINE_N = %d;\nconst float %s_INLINE_X[] = {", N, m->inline_n, N);
  for (int64_t i = 0; i < m->inline_n * in_numel; i++)
    buf_printf(c, "%s%.9g", i ? ", " : "", m->inline_x[i]);
  buf_printf(c, "};\nconst float %s_INLINE_YF[] = {", N);
  for (int64_t i = 0; m->inline_yf && i < m->inline_n * lab_numel; i++)
    buf_printf(c, "%s%.9g", i ? ", " : "", m->inline_yf[i]);
  buf_printf(c, "%s};\nconst int32_t %s_INLINE_YI[] = {", m->inline_yf ? "" : "0", N);
  for (int64_t i = 0; m->inline_yi && i < m->inline_n; i++)
    buf_printf(c, "%s%d", i ? ", " : "", m->inline_yi[i]);
  buf_printf(c, "%s};\n\n", m->inline_yi ? "" : "0");
}

/* NAME_train_grads and NAME_train_apply (see header_split_step). */
static void emit_split_step(Buf *fns, Buf *helpers, CodegenInput *in, const char *lt) {
  const char *N = in->name;
  Arena *a = &in->infer.g->arena;
  buf_printf(fns,
             "/* The first half of a split train step: loss, predictions and gradients.\n"
             " * Each gradient goes to grads as soon as it is complete, then to ready. */\n"
             "typedef struct {\n  float *grads;\n  %s_GradReady ready;\n  void *ctx;\n} GradSink;\n\n"
             "static void grad_done(void *const *outputs, size_t offset, const float *g, size_t count) {\n"
             "  const GradSink *s = (const GradSink *)outputs[0];\n"
             "  memcpy(s->grads + offset, g, sizeof(float) * count);\n"
             "  if (s->ready) s->ready(s->ctx, (long)offset, (long)count);\n}\n\n",
             N);
  char *sig = arena_printf(a,
                           "int %s_train_grads(%s_Model *m, const float *x, const %s *y, int batch, float *loss, "
                           "float *out, float *grads, %s_GradReady ready, void *ctx)",
                           N, N, lt, N);
  emit_function(fns, helpers, N, "grads", sig, &in->grads, in->train_graph.g, FN_LABELS | FN_GRADS_OUT);
  buf_puts(fns, "/* The second half: the optimizer, reading the gradients from y. */\n");
  sig = arena_printf(a,
                     "static int %s_apply_grads(%s_Model *m, const float *x, const float *y, int batch, float *loss, "
                     "float *out)",
                     N, N);
  emit_function(fns, helpers, N, "apply", sig, &in->apply, in->train_graph.g, FN_LABELS | FN_BUMPS_STEP);
  buf_printf(fns,
             "int %s_train_apply(%s_Model *m, const float *grads) {\n"
             "  return grads ? %s_apply_grads(m, NULL, grads, 1, NULL, NULL) : 1;\n}\n\n",
             N, N, N);
}

/* NAME.c after its #includes on the host: the kernel layer, threads, the arena
 * size for any batch, initializers (and the weights file's loader). */
static void host_prologue(CodegenInput *in, Buf *c) {
  const char *N = in->name;
  codegen_template(c, "model_prelude.c.in", N);
  buf_puts(c, "\n");
  buf_puts(c, embedded("simd.h")->data);
  buf_puts(c, "\n");
  buf_puts(c, embedded("parallel.h")->data);
  buf_puts(c, "\n");
  put_template(c, "model_threads.c.in", N);
  put_template(c, "fast_math.c.in", NULL);
  CompiledGraph *gs[5] = {&in->infer, in->train ? &in->eval : NULL, in->train ? &in->train_graph : NULL,
                          in->mpi ? &in->grads : NULL, in->mpi ? &in->apply : NULL};
  buf_printf(c, "size_t %s_arena_bytes(int batch) {\n  size_t b = batch > 0 ? (size_t)batch : 0, need = 0, a;\n", N);
  for (int i = 0; i < 5; i++)
    if (gs[i])
      buf_printf(c, "  a = %lldu + %lldu * b + %lldu;\n  if (a > need) need = a;\n", (long long)gs[i]->plan.arena_fixed,
                 (long long)gs[i]->plan.arena_per_sample, (long long)scratch_bytes(gs[i]->g));
  buf_puts(c, "  return need;\n}\n\n");
  if (has_op(in->train ? in->train_graph.g : NULL, OP_DROPOUT)) put_template(c, "dropout.c.in", NULL);
  if (uses_int_pow(in->infer.g) || uses_int_pow(in->train ? in->train_graph.g : NULL) ||
      uses_int_pow(in->train ? in->eval.g : NULL))
    put_template(c, "int_pow.c.in", NULL);
  emit_init(c, N, in->train ? in->train_graph.g : in->infer.g, in->weights_file);
  if (in->weights_file) put_template(c, "load_weights.c.in", N); /* libc only, checks everything */
  if (needs_init_state(in)) emit_init_state(c, N, in->train ? in->train_graph.g : in->infer.g);
  put_template(c, "load_checkpoint.c.in", N); /* libc only, checks everything before writing params */
  if (needs_init_state(in)) put_template(c, "load_state.c.in", N);
}

void codegen_model(Model *m, CodegenInput *in, Buf *h, Buf *c) {
  const char *N = in->name;
  if (in->weights_file && !in->train) weights_to_params(in->infer.g);
  if (in->mcu)
    mcu_header(m, in, h);
  else
    emit_header(m, in, h);
  if (in->mcu)
    buf_printf(c,
               "/* %s.c - generated by nn2c from %s for %s (bare metal). Do not edit.\n * No heap, no stdio, "
               "float only; see %s.h for the API. */\n",
               N, m->file->src.path, in->mcu->name, N);
  else
    buf_printf(
        c, "/* %s.c - generated by nn2c from %s. Do not edit.\n * Uses only libc and libm; see %s.h for the API. */\n",
        N, m->file->src.path, N);
  if (in->weights_file && !in->mcu) buf_puts(c, "#include <errno.h>\n");
  if (!in->mcu) buf_puts(c, "#include <stdio.h>\n"); /* NAME_load_checkpoint's fopen */
  buf_printf(
      c, "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\n#include \"%s.h\"\n\n",
      N);
  if (in->mcu) {
    mcu_prologue(in, c);
    if (uses_int_pow(in->infer.g)) put_template(c, "int_pow.c.in", NULL);
  } else
    host_prologue(in, c);
  /* The functions go after the static helpers their nodes share (matmul kernels). */
  Buf helpers = {0}, fns = {0};
  buf_puts(&helpers, "");
  char *sig =
      in->mcu
          ? arena_printf(&in->infer.g->arena, "int %s_run(const void *const *inputs, void *const *outputs)", N)
          : arena_printf(&in->infer.g->arena,
                         "int %s_run(%s_Model *m, const void *const *inputs, void *const *outputs, int batch)", N, N);
  buf_puts(&fns, "/* Inference: typed inputs -> outputs (see the header). */\n");
  emit_function(&fns, &helpers, N, "forward", sig, &in->infer, in->infer.g, FN_GENERIC | (in->mcu ? FN_BARE : 0));
  if (has_forward(in->infer.g) && in->mcu) {
    buf_printf(&fns,
               "/* Inference with one float input and the first output. */\n"
               "int %s_forward(const float *x, float *out) {\n"
               "  const void *in[1];\n  void *o[%d] = {0};\n  in[0] = x;\n  o[0] = out;\n"
               "  return %s_run(in, o);\n}\n\n",
               N, in->infer.g->noutputs, N);
  } else if (has_forward(in->infer.g)) {
    buf_printf(&fns,
               "/* Inference with one float input and the first output. */\n"
               "int %s_forward(%s_Model *m, const float *x, float *out, int batch) {\n"
               "  const void *in[1];\n  void *o[%d] = {0};\n  in[0] = x;\n  o[0] = out;\n"
               "  return %s_run(m, in, o, batch);\n}\n\n",
               N, N, in->infer.g->noutputs, N);
  }
  if (in->train) {
    Value *lab = graph_find(in->train_graph.g, LABELS_NAME);
    const char *lt = lab->dtype == DT_F32 ? "float" : "int32_t";
    buf_puts(&fns, "/* One optimizer step on a batch; loss and out (predictions) are optional. */\n");
    sig = arena_printf(
        &in->infer.g->arena,
        "int %s_train_step(%s_Model *m, const float *x, const %s *y, int batch, float *loss, float *out)", N, N, lt);
    emit_function(&fns, &helpers, N, "train", sig, &in->train_graph, in->train_graph.g, FN_LABELS | FN_BUMPS_STEP);
    buf_puts(&fns, "/* Loss and predictions on a batch, without training. */\n");
    sig = arena_printf(&in->infer.g->arena,
                       "int %s_evaluate(%s_Model *m, const float *x, const %s *y, int batch, float *loss, float *out)",
                       N, N, lt);
    emit_function(&fns, &helpers, N, "eval", sig, &in->eval, in->eval.g, FN_LABELS);
    if (in->mpi) emit_split_step(&fns, &helpers, in, lt);
  }
  buf_puts(c, helpers.data);
  buf_puts(c, fns.data);
  buf_free(&helpers);
  buf_free(&fns);
  if (in->mcu) mcu_strip_host(c);
  if (in->train) {
    Value *lab = graph_find(in->train_graph.g, LABELS_NAME);
    if (m->inline_n > 0)
      emit_inline_data(m, N, c, shape_numel(in->train_graph.g->values[0]->shape, 1), shape_numel(lab->shape, 1));
  }
}
