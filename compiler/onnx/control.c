/* control.c - ONNX control flow on a graph without control flow: If, Loop
 * and Scan are expanded at import.
 *
 * A body (a GraphProto attribute) is imported like the main graph, in a
 * scope: its formal inputs are bound to the values given, names of the
 * enclosing graphs stay visible, and the bindings it made are dropped
 * afterwards (imp_body), so a body can be imported once per iteration.
 *
 * - If: a constant condition imports only the branch taken; otherwise both
 *   branches are imported and each output is where(cond, then, else).
 * - Loop: the trip count and the condition must be known at compile time
 *   (the condition after each iteration too); the body is unrolled, scan
 *   outputs stacked on a new axis 0.
 * - Scan: the sequence length is the scan inputs' extent; the body is
 *   unrolled over it (directions and axes per input and output), and
 *   opset 8's form (a batch axis first) once per batch entry.
 * Everything becomes ordinary IR ops, so bodies that differentiate train. */
#include "onnx/onnx_impl.h"

#include <string.h>

enum { UNROLL_MAX = 4096 };               /* iterations a Loop or Scan may unroll into */
#define BODY_NODES_MAX ((int64_t)1 << 20) /* body nodes imported in all, nested loops included */

static const Onnx__GraphProto *graph_attr(NodeP *np, const char *name) {
  const Onnx__AttributeProto *a = imp_attr(np, name);
  return a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH ? a->g : NULL;
}

bool imp_body(Imp *I, const Onnx__GraphProto *body, Value **args, ImpSeq **aseq, int nargs, Value **res,
              ImpSeq **rseq) {
  NodeP *outer = I->node;
  int scope = I->nb;
  bool ok = true;
  if ((I->body_nodes += (int64_t)body->n_node) > BODY_NODES_MAX)
    return imp_unsupported(I, "control flow", "control flow that unrolls into more than %lld nodes",
                           (long long)BODY_NODES_MAX);
  for (size_t i = 0; i < body->n_input && ok; i++)
    if (!body->input[i]->name || !*body->input[i]->name) ok = imp_fail(I, "a body input has no name");
  for (size_t i = 0; i < body->n_output && ok; i++)
    if (!body->output[i]->name || !*body->output[i]->name) ok = imp_fail(I, "a body output has no name");
  for (size_t k = 0; k < body->n_initializer && ok; k++)
    if (!body->initializer[k]->name || !*body->initializer[k]->name) ok = imp_fail(I, "a body initializer has no name");
  for (size_t i = 0; i < body->n_input && (int)i < nargs && ok; i++)
    if (args[i] == &I->seq_mark && aseq && aseq[i])
      imp_bind_seq(I, body->input[i]->name, aseq[i]);
    else if (args[i] == &I->seq_mark)
      ok = imp_fail(I, "a sequence argument without its list");
    else if (args[i])
      imp_bind(I, body->input[i]->name, args[i]);
  for (size_t k = 0; k < body->n_initializer && ok; k++) {
    Value *v = imp_tensor_const(I, body->initializer[k], NULL);
    ok = v != NULL;
    if (ok) imp_bind(I, body->initializer[k]->name, v);
  }
  for (size_t i = 0; i < body->n_node && ok; i++)
    ok = imp_node(I, body->node[i]);
  I->node = outer;
  for (size_t i = 0; i < body->n_output && ok; i++) {
    res[i] = imp_lookup(I, body->output[i]->name);
    ImpSeq *seq = res[i] ? NULL : imp_lookup_seq(I, body->output[i]->name);
    if (seq && !rseq) ok = imp_unsupported(I, "sequence", "a sequence result of this body");
    if (seq && rseq) res[i] = &I->seq_mark, rseq[i] = seq;
    if (ok && !res[i]) ok = imp_fail(I, "body output '%s' is not computed", body->output[i]->name);
  }
  imp_unbind_to(I, scope);
  return ok;
}

static Value *bool_const(Imp *I, bool b) {
  Value *v = value_new(I->g, "cond", VK_CONST, DT_BOOL, shape_scalar());
  v->data = arena_alloc(&I->g->arena, 8);
  *(uint8_t *)v->data = b;
  return v;
}

static Value *i64_const(Imp *I, int64_t x) {
  Value *v = value_new(I->g, "iter", VK_CONST, DT_I64, shape_scalar());
  v->data = arena_alloc(&I->g->arena, 8);
  *(int64_t *)v->data = x;
  return v;
}

/* A constant's first element as a number. */
static double first_of(const Value *v) {
  Tensor t = {v->dtype, v->shape, 1, v->data};
  return tensor_get(&t, 0);
}

bool h_if(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  const Onnx__GraphProto *tb = graph_attr(np, "then_branch"), *eb = graph_attr(np, "else_branch");
  if (!tb || !eb || tb->n_output != np->n_output || eb->n_output != np->n_output || np->n_output > 16)
    return imp_fail(I, "If needs then_branch and else_branch with one output per output");
  Value *cond = in[0];
  ImpSeq *ts[16] = {NULL}, *es[16] = {NULL};
  if (imp_is_const(cond) && shape_numel_static(cond->shape) >= 1) {
    if (!imp_body(I, first_of(cond) != 0 ? tb : eb, NULL, NULL, 0, out, ts)) return false;
    memcpy(I->seq_outs, ts, sizeof ts);
    return true;
  }
  Value *t[16], *e[16];
  if (!imp_body(I, tb, NULL, NULL, 0, t, ts) || !imp_body(I, eb, NULL, NULL, 0, e, es)) return false;
  for (size_t k = 0; k < np->n_output; k++) {
    bool seq = t[k] == &I->seq_mark, eseq = e[k] == &I->seq_mark;
    if (seq != eseq || (seq && ts[k]->n != es[k]->n))
      return imp_unsupported(I, "If", "If on a runtime condition whose branches give different kinds or lengths");
    int n = seq ? ts[k]->n : 1;
    ImpSeq *r = seq ? imp_seq_new(I, n, ts[k]->dtype) : NULL;
    for (int i = 0; i < n; i++) { /* a sequence: item by item */
      Value *a = seq ? ts[k]->items[i] : t[k], *b = seq ? es[k]->items[i] : e[k];
      if (a->dtype != b->dtype || !shape_eq(a->shape, b->shape))
        return imp_unsupported(I, "If", "If on a runtime condition whose branches give different types or shapes");
      Value *w[3] = {cond, a, b};
      Node *wn = imp_mk(I, OP_WHERE, 3, w);
      if (!imp_finish(I, wn)) return false;
      if (seq) r->items[i] = wn->out[0];
      out[k] = seq ? &I->seq_mark : wn->out[0];
    }
    ts[k] = r;
  }
  memcpy(I->seq_outs, ts, sizeof ts);
  return true;
}

/* Values of [..] stacked on a new axis `axis`, 15 at a time onto the result. */
static Value *stack(Imp *I, Value **parts, int64_t n, int axis) {
  Value *acc = NULL;
  int64_t j = 0;
  while (j < n) {
    Value *in[16];
    int cnt = 0;
    if (acc) in[cnt++] = acc;
    while (j < n && cnt < 16) {
      Shape s = parts[j]->shape;
      for (int k = s.rank; k > axis; k--)
        s.d[k] = s.d[k - 1];
      s.d[axis] = 1, s.rank++;
      if (!(in[cnt++] = imp_reshape_to(I, parts[j++], s))) return NULL;
    }
    if (cnt == 1) {
      acc = in[0];
      continue;
    }
    Node *c = imp_mk(I, OP_CONCAT, cnt, in);
    node_set_int(I->g, c, "axis", axis);
    if (!imp_finish(I, c)) return NULL;
    acc = c->out[0];
  }
  return acc;
}

/* Scan outputs: per output k, its values over the iterations (iters x nscan). */
static bool stack_outputs(Imp *I, Value **per_iter, int64_t iters, int nscan, const int64_t *axes, const bool *rev,
                          Value **out) {
  Value **col = xcalloc((size_t)iters + 1, sizeof(Value *));
  bool ok = true;
  for (int k = 0; k < nscan && ok; k++) {
    for (int64_t t = 0; t < iters; t++)
      col[t] = per_iter[(rev && rev[k] ? iters - 1 - t : t) * nscan + k];
    int ax = axes ? (int)axes[k] : 0;
    if (ax < 0) ax += col[0]->shape.rank + 1;
    ok = ax >= 0 && ax <= col[0]->shape.rank ? (out[k] = stack(I, col, iters, ax)) != NULL
                                             : imp_fail(I, "bad scan output axis");
  }
  free(col);
  return ok;
}

bool h_loop(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const Onnx__GraphProto *body = graph_attr(np, "body");
  int ncarried = (int)np->n_input - 2, nscan = (int)np->n_output - ncarried;
  if (!body || ncarried < 0) return imp_fail(I, "Loop needs a body, M and cond (either may be empty)");
  for (int k = 0; k < ncarried; k++)
    if (!in[2 + k]) return imp_fail(I, "loop-carried input %d is missing", 2 + k);
  if (nscan < 0 || (int)body->n_output != 1 + ncarried + nscan || (int)body->n_input != 2 + ncarried || ncarried > 14)
    return imp_fail(I, "the body's inputs and outputs do not fit the Loop's");
  int64_t trips = INT64_MAX;
  if (in[0] && !imp_is_const(in[0])) return imp_need_const(I, in[0], "the trip count M");
  if (nin > 1 && in[1] && !imp_is_const(in[1])) return imp_need_const(I, in[1], "the loop condition");
  if (in[0]) trips = (int64_t)first_of(in[0]);
  bool go = nin > 1 && in[1] ? first_of(in[1]) != 0 : true;
  if (!in[0] && !(nin > 1 && in[1])) return imp_unsupported(I, "Loop", "a Loop without a trip count or condition");
  Value *args[16] = {NULL, nin > 1 && in[1] ? in[1] : bool_const(I, true)}, *res[32];
  ImpSeq *aseq[16] = {NULL}, *rseq[32] = {NULL};
  for (int k = 0; k < ncarried; k++) {
    args[2 + k] = in[2 + k];
    if (in[2 + k] == &I->seq_mark) aseq[2 + k] = imp_lookup_seq(I, np->input[2 + k]);
  }
  Value **scans = xcalloc((size_t)UNROLL_MAX * (size_t)(nscan + 1) + 1, sizeof(Value *));
  int64_t it = 0;
  bool ok = true;
  for (; it < trips && go && ok; it++) {
    if (it == UNROLL_MAX) {
      ok = imp_unsupported(I, "Loop", "a Loop of more than %d iterations (nn2c unrolls loops)", UNROLL_MAX);
      break;
    }
    args[0] = i64_const(I, it);
    ok = imp_body(I, body, args, aseq, 2 + ncarried, res, rseq);
    if (!ok) break;
    if (!imp_is_const(res[0]))
      ok = imp_unsupported(I, "Loop", "a Loop whose condition is computed at run time (nn2c unrolls loops)");
    go = ok && first_of(res[0]) != 0;
    args[1] = res[0];
    for (int k = 0; k < ncarried; k++)
      args[2 + k] = res[1 + k], aseq[2 + k] = rseq[1 + k];
    for (int k = 0; k < nscan && ok; k++)
      if ((scans[it * nscan + k] = res[1 + ncarried + k]) == &I->seq_mark)
        ok = imp_unsupported(I, "sequence", "a sequence as a Loop's scan output");
  }
  if (ok && nscan && it == 0) ok = imp_unsupported(I, "Loop", "scan outputs of a Loop that runs no iteration");
  for (int k = 0; k < ncarried && ok; k++)
    out[k] = args[2 + k], I->seq_outs[k] = aseq[2 + k]; /* set last: the body's nodes use seq_outs too */
  ok = ok && stack_outputs(I, scans, it, nscan, NULL, NULL, out + ncarried);
  free(scans);
  return ok;
}

/* One Scan (opset 9's form) over states st[0..ns) and scan inputs
 * xs[0..nx): the final states in out[0..ns), the scan outputs after them. */
static bool scan_run(Imp *I, NodeP *np, const Onnx__GraphProto *body, Value **st, int ns, Value **xs, int nx,
                     Value **out) {
  const Onnx__AttributeProto *ia = imp_attr(np, "scan_input_axes"), *id = imp_attr(np, "scan_input_directions");
  const Onnx__AttributeProto *oa = imp_attr(np, "scan_output_axes"), *od = imp_attr(np, "scan_output_directions");
  int ny = (int)body->n_output - ns;
  int64_t T = -1, axes[16];
  for (int j = 0; j < nx; j++) {
    int ax = ia && (int)ia->n_ints == nx ? (int)ia->ints[j] : 0;
    axes[j] = ax < 0 ? ax + xs[j]->shape.rank : ax;
    if (axes[j] < 0 || axes[j] >= xs[j]->shape.rank || (T >= 0 && xs[j]->shape.d[axes[j]] != T) ||
        xs[j]->shape.d[axes[j]] == DIM_BATCH)
      return imp_fail(I, "scan inputs differ in length or have a bad axis");
    T = xs[j]->shape.d[axes[j]];
  }
  if (T < 1 || T > UNROLL_MAX) return imp_unsupported(I, "Scan", "a Scan over %lld steps", (long long)T);
  Value *args[32], *res[32], **ys = xcalloc((size_t)(T * ny) + 1, sizeof(Value *));
  bool ok = true;
  for (int k = 0; k < ns; k++)
    args[k] = st[k];
  for (int64_t t = 0; t < T && ok; t++) {
    for (int j = 0; j < nx && ok; j++) {
      bool rev = id && (int)id->n_ints == nx && id->ints[j];
      int64_t at = rev ? T - 1 - t : t;
      Value *v = imp_take(I, xs[j], (int)axes[j], at, at + 1, 1);
      Shape s = {0, {0}};
      for (int k = 0; v && k < v->shape.rank; k++)
        if (k != axes[j]) s.d[s.rank++] = v->shape.d[k];
      ok = v && (args[ns + j] = imp_reshape_to(I, v, s)) != NULL;
    }
    ok = ok && imp_body(I, body, args, NULL, ns + nx, res, NULL);
    for (int k = 0; ok && k < ns; k++)
      args[k] = res[k];
    for (int k = 0; ok && k < ny; k++)
      ys[t * ny + k] = res[ns + k];
  }
  bool rev[16] = {false};
  int64_t oaxes[16] = {0};
  for (int k = 0; k < ny && k < 16; k++) {
    rev[k] = od && (int)od->n_ints == ny && od->ints[k];
    oaxes[k] = oa && (int)oa->n_ints == ny ? oa->ints[k] : 0;
  }
  for (int k = 0; ok && k < ns; k++)
    out[k] = args[k];
  ok = ok && stack_outputs(I, ys, T, ny, oaxes, rev, out + ns);
  free(ys);
  return ok;
}

bool h_scan(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const Onnx__GraphProto *body = graph_attr(np, "body");
  int nx = (int)imp_attr_i(np, "num_scan_inputs", 0), first = I->opset < 9; /* opset 8: sequence_lens first */
  int ns = nin - first - nx;
  if (!body || nx < 1 || ns < 0 || nx > 16 || ns > 16 || (int)body->n_input != ns + nx ||
      (int)body->n_output != (int)np->n_output || (int)np->n_output < ns)
    return imp_fail(I, "the body's inputs and outputs do not fit the Scan's");
  for (int i = first; i < nin; i++)
    if (!in[i]) return imp_fail(I, "input %d is missing", i);
  if (!first) return scan_run(I, np, body, in, ns, in + ns, nx, out);
  if (in[0]) return imp_unsupported(I, "Scan", "opset 8 Scan with sequence_lens");
  /* opset 8: axis 0 of every input is a batch; one scan per entry, restacked */
  int64_t B = in[1]->shape.d[0];
  int ny = (int)np->n_output - ns;
  if (B < 1 || B > 256 || B == DIM_BATCH)
    return imp_unsupported(I, "Scan", "opset 8 Scan over a batch of %lld", (long long)B);
  Value **per = xcalloc((size_t)(B * (ns + ny)) + 1, sizeof(Value *));
  bool ok = true;
  for (int64_t b = 0; b < B && ok; b++) {
    Value *v[32];
    for (int i = 0; i < ns + nx && ok; i++) {
      Value *x = imp_take(I, in[1 + i], 0, b, b + 1, 1);
      Shape s = x ? x->shape : shape_scalar();
      s.rank = x ? s.rank - 1 : 0;
      for (int k = 0; k < s.rank; k++)
        s.d[k] = x->shape.d[k + 1];
      ok = x && (v[i] = imp_reshape_to(I, x, s)) != NULL;
    }
    ok = ok && scan_run(I, np, body, v, ns, v + ns, nx, per + b * (ns + ny));
  }
  ok = ok && stack_outputs(I, per, B, ns + ny, NULL, NULL, out);
  free(per);
  return ok;
}
