/* gradcheck.c - checks every op's gradient rule against central differences.
 *
 * Each case (one table per op family, in gradcheck_<family>.c) builds a tiny
 * f64 graph with the op under test, fed by params (whose gradients autodiff
 * computes) and inputs (fixed data), and the loss
 *   loss = reduce_sum(mul(y, W), keepdims=0)
 * with W fixed random weights, so d loss / d y = W exercises every output
 * element with a different weight. The pipeline "shape,autodiff" adds the
 * backward graph; the interpreter evaluates loss and gradients; each gradient
 * element is compared with (loss(p + h) - loss(p - h)) / 2h.
 *
 *   gradcheck FAMILY     runs the cases of one family (see `families` below)
 *   gradcheck coverage   fails if an op with a gradient rule has no case
 *   gradcheck --list     prints every case as FAMILY NAME
 *   gradcheck            runs everything
 *
 * Inputs are drawn away from kinks (relu at 0, clip at its bounds) and from
 * the edges of domains (log, sqrt, pow's base, div's divisor). */
#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H 1e-6
#define RTOL 1e-6
#define ATOL 1e-8

static const Family *const families[] = {
    &family_elementwise, &family_math,     &family_activation, &family_compare, &family_matmul, &family_reduce,
    &family_select,      &family_movement, &family_gather,     &family_norm,    &family_nn,     &family_loss,
    &family_conv,        &family_pool,     &family_rnn,        &family_fanout,  &family_layout, &family_sample,
};
#define NFAMILIES ((int)(sizeof families / sizeof families[0]))

/* ---- deterministic random numbers ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

double urand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double draw(Range r) {
  double s = urand() < 0.5 ? -1 : 1;
  switch (r) {
  case R_ANY:
    return -1.5 + 3 * urand();
  case R_POS:
    return 0.5 + 1.5 * urand();
  case R_AWAY0:
    return s * (0.1 + 1.4 * urand());
  case R_CLIP:
    return s * (urand() < 0.5 ? 0.1 + 0.3 * urand() : 0.6 + 0.6 * urand());
  case R_UNIT:
    return s * (0.1 + 0.7 * urand());
  case R_GT1:
    return 1.2 + 1.3 * urand();
  case R_WIDE:
    return s * (0.1 + 3.9 * urand());
  }
  return 0;
}

/* ---- builders' helpers ---- */

Shape shp(int rank, const int64_t *d) { return shape_make(rank, d); }

Value *param(Case *c, Shape s, Range r) {
  NN2C_ASSERT(c->nparam < MAXP);
  Value *v = value_new(c->g, "p", VK_PARAM, DT_F64, s);
  int64_t n = shape_numel_static(s);
  double *d = xcalloc((size_t)n, sizeof(double));
  for (int64_t i = 0; i < n; i++)
    d[i] = draw(r);
  c->param[c->nparam] = v;
  c->pdata[c->nparam++] = d;
  return v;
}

Value *distinct_param(Case *c, Shape s) {
  Value *v = param(c, s, R_ANY);
  double *d = c->pdata[c->nparam - 1];
  int64_t n = shape_numel_static(s);
  for (int64_t i = 0; i < n; i++)
    d[i] = 0.05 * (double)i - 0.025 * (double)n;
  for (int64_t i = n - 1; i > 0; i--) { /* shuffle */
    int64_t j = (int64_t)(urand() * (double)(i + 1));
    double t = d[i];
    d[i] = d[j], d[j] = t;
  }
  return v;
}

void *feed(Case *c, Value *v, size_t elem) {
  NN2C_ASSERT(c->nfeeds < MAXP);
  void *d = xcalloc((size_t)shape_numel(v->shape, BATCH) + 1, elem);
  c->feeds[c->nfeeds++] = (Feed){v->name, d};
  return d;
}

Value *input(Case *c, Shape s, Range r) {
  Value *v = value_new(c->g, "x", VK_INPUT, DT_F64, s);
  double *d = feed(c, v, sizeof(double));
  for (int64_t i = 0; i < shape_numel(s, BATCH); i++)
    d[i] = draw(r);
  return v;
}

/* The batch axis: an input times a param, so it has a gradient. */
Value *batch_x(Case *c) { return build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_ANY), param(c, S(3), R_ANY)); }

Value *iconst(Case *c, Shape s, const int64_t *v) {
  Value *k = value_new(c->g, "idx", VK_CONST, DT_I64, s);
  int64_t n = shape_numel_static(s);
  k->data = arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(n ? n : 1));
  memcpy(k->data, v, sizeof(int64_t) * (size_t)n);
  return k;
}

Value *opn(Case *c, OpKind op, int nin, Value **in, const char *spec) {
  Node *n = node_new(c->g, op, nin, in, op_table[op].flags & OPF_VAR_OUT ? 1 : op_table[op].nout);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec ? spec : "");
  for (char *kv = strtok(buf, " "); kv; kv = strtok(NULL, " ")) {
    char *eq = strpbrk(kv, "=:");
    NN2C_ASSERT(eq);
    char sep = *eq;
    *eq = 0;
    const char *v = eq + 1;
    if (sep == ':')
      node_set_string(c->g, n, kv, v);
    else if (*v == '[') {
      int64_t xs[16];
      int k = 0;
      for (const char *p = v + 1; *p && *p != ']'; k++) {
        NN2C_ASSERT(k < 16);
        xs[k] = strtoll(p, (char **)&p, 10);
        if (*p == ',') p++;
      }
      node_set_ints(c->g, n, kv, xs, k);
    } else if (strchr(v, '.'))
      node_set_float(c->g, n, kv, atof(v));
    else
      node_set_int(c->g, n, kv, atoll(v));
  }
  return build_finish(c->g, n);
}

Value *op1(Case *c, OpKind op, Value *x, const char *spec) { return opn(c, op, 1, &x, spec); }

/* keep < 0 leaves keepdims out (its default); naxes 0 leaves axes out. */
Value *reduce_of(Case *c, OpKind op, Value *x, int naxes, const int64_t *axes, int keep) {
  Node *n = build_node(c->g, op, 1, &x);
  if (naxes) node_set_ints(c->g, n, "axes", axes, naxes);
  if (keep >= 0) node_set_int(c->g, n, "keepdims", keep);
  return build_finish(c->g, n);
}

/* Inputs: [2,3] or [2,2,3], then [3] and [2,1] (or [2,1,3] and [1]) broadcast against it. */
void op_case(Case *c) {
  const CaseDef *o = c->def;
  Shape full = o->rank3 ? S(2, 2, 3) : S(2, 3), more[2] = {o->rank3 ? S(2, 1, 3) : S(3), o->rank3 ? S(1) : S(2, 1)};
  if (o->op == OP_PRELU) more[0] = o->rank3 ? S(2, 1, 1) : S(3);
  Value *in[3];
  NN2C_ASSERT(o->nin >= 1 && o->nin <= 3);
  for (int k = 0; k < o->nin; k++)
    in[k] = param(c, k ? more[k - 1] : full, o->r);
  c->y = opn(c, o->op, o->nin, in, o->attrs);
}

void op_case_scalar(Case *c) { c->y = op1(c, c->def->op, param(c, S0, c->def->r), c->def->attrs); }

/* ---- running a case ---- */

static void case_free(Case *c) {
  for (int i = 0; i < c->nparam; i++)
    free(c->pdata[i]);
  for (int i = 0; i < c->nfeeds; i++)
    free((void *)c->feeds[i].data);
  graph_free(c->g);
}

/* Builds the case's graph and the weighted-sum loss. */
static void case_build(const CaseDef *d, Case *c) {
  memset(c, 0, sizeof *c);
  c->def = d;
  c->g = graph_new(d->name);
  d->build(c);
  NN2C_ASSERT(c->y && c->y->dtype == DT_F64);
  c->nforward = c->g->nnodes;
  Value *w = input(c, c->y->shape, R_ANY);
  c->w = (double *)c->feeds[c->nfeeds - 1].data;
  Node *r = build_node(c->g, OP_REDUCE_SUM, 1, (Value *[]){build2(c->g, OP_MUL, c->y, w)});
  node_set_int(c->g, r, "keepdims", 0);
  c->g->loss = build_finish(c->g, r);
  graph_add_output(c->g, c->y);
}

/* The params block: each f64 param's doubles at its float offset. The block
 * layout counts 4-byte words, so a double param takes two per element. */
static float *params_block(Case *c, int64_t *off) {
  int64_t nf = graph_block_layout(c->g, VK_PARAM, off);
  float *blk = xcalloc((size_t)nf * 2 + 16, sizeof(float));
  for (int i = 0; i < c->nparam; i++) {
    Value *v = c->param[i];
    int64_t n = shape_numel_static(v->shape);
    memcpy(blk + off[v->id], c->pdata[i], sizeof(double) * (size_t)n);
  }
  return blk;
}

static bool eval_loss(Case *c, float *blk, double *loss, InterpRun *keep) {
  InterpRun r = {0};
  float state[16] = {0};
  bool ok = interp_run(c->g, blk, state, c->feeds, c->nfeeds, BATCH, c->step, &r);
  if (ok) *loss = tensor_get(&r.vals[c->g->loss->id], 0);
  if (keep)
    *keep = r;
  else
    interp_run_free(&r);
  return ok;
}

static int check_dropout(Case *c, InterpRun *r, Value *grad) {
  Tensor *m = &r->vals[c->mask->id], *gt = &r->vals[grad->id];
  int zeros = 0, kept = 0, bad = 0;
  for (int64_t i = 0; i < m->numel; i++) {
    double mv = tensor_get(m, i);
    if (mv == 0)
      zeros++;
    else
      kept++;
    if (fabs(tensor_get(gt, i) - mv * c->w[i]) > 1e-12) bad++;
  }
  if (!zeros || !kept) {
    printf("FAIL %s: dropout mask is all %s; the case checks nothing\n", c->g->name, zeros ? "zeros" : "ones");
    return 1;
  }
  if (bad) printf("FAIL %s: %d gradient elements differ from mask * dloss/dy\n", c->g->name, bad);
  return bad != 0;
}

static int run_case(const CaseDef *d) {
  Case c;
  case_build(d, &c);
  PassCtx cx = {0};
  cx.verify = true;
  if (!pass_run_pipeline(c.g, &cx, c.passes ? c.passes : "shape,autodiff")) {
    printf("FAIL %s: pipeline failed\n", d->name);
    case_free(&c);
    return 1;
  }
  for (int i = 0; i < c.g->nnodes && c.passes; i++)
    if (c.g->nodes[i]->op == OP_TRANSPOSE) {
      printf("FAIL %s: a transpose is left after %s\n", d->name, c.passes);
      case_free(&c);
      return 1;
    }
  int64_t *off = xcalloc((size_t)c.g->nvalues, sizeof(int64_t));
  float *blk = params_block(&c, off);
  double loss0;
  InterpRun r;
  int fails = 0;
  if (!eval_loss(&c, blk, &loss0, &r) || !isfinite(loss0)) {
    printf("FAIL %s: interpreter failed or loss not finite\n", d->name);
    fails = 1;
  }
  double worst = 0;
  for (int gi = 0; gi < c.g->ngrads && !fails; gi++) {
    Value *p = c.g->grads[gi].param, *gv = c.g->grads[gi].grad;
    Tensor *gt = &r.vals[gv->id];
    if (!shape_eq(gv->shape, p->shape) || gt->dtype != DT_F64) {
      printf("FAIL %s: gradient of %s has type %s%s\n", d->name, p->name, dtype_name(gv->dtype),
             shape_str(&c.g->arena, gv->shape));
      fails++;
      continue;
    }
    double *pd = (double *)(blk + off[p->id]);
    for (int64_t i = 0; i < gt->numel; i++) {
      double save = pd[i], lp = 0, lm = 0;
      pd[i] = save + H;
      eval_loss(&c, blk, &lp, NULL);
      pd[i] = save - H;
      eval_loss(&c, blk, &lm, NULL);
      pd[i] = save;
      double fd = (lp - lm) / (2 * H), an = tensor_get(gt, i);
      double err = fabs(fd - an), tol = RTOL * fmax(fabs(fd), fabs(an)) + ATOL;
      if (err / tol > worst) worst = err / tol;
      if (!(err <= tol)) {
        printf("FAIL %s: d loss / d %s[%lld]: autodiff %.12g, central difference %.12g\n", d->name, p->name,
               (long long)i, an, fd);
        fails++;
      }
    }
    if (c.mask) fails += check_dropout(&c, &r, gv);
  }
  if (c.g->ngrads != c.nparam) {
    printf("FAIL %s: %d params but %d gradients\n", d->name, c.nparam, c.g->ngrads);
    fails++;
  }
  if (!fails) printf("ok   %-32s params %d, worst error %.3f of tolerance\n", d->name, c.nparam, worst);
  interp_run_free(&r);
  free(blk);
  free(off);
  case_free(&c);
  return fails != 0;
}

/* Every op with a gradient rule must appear in some case's forward part. */
static int check_coverage(void) {
  bool seen[OP_COUNT] = {0};
  int ncases = 0;
  for (int f = 0; f < NFAMILIES; f++)
    for (int i = 0; i < families[f]->ncases; i++, ncases++) {
      Case c;
      case_build(&families[f]->cases[i], &c);
      for (int k = 0; k < c.nforward; k++)
        seen[c.g->nodes[k]->op] = true;
      case_free(&c);
    }
  int missing = 0, covered = 0;
  for (int op = 0; op < OP_COUNT; op++) {
    if (op_table[op].flags & OPF_NO_GRAD) continue;
    if (seen[op])
      covered++;
    else {
      printf("FAIL coverage: op '%s' has a gradient rule but no gradcheck case\n", op_name((OpKind)op));
      missing++;
    }
  }
  printf("%s: %d ops with gradient rules covered, %d missing, %d cases\n", missing ? "FAIL" : "ok", covered, missing,
         ncases);
  return missing != 0;
}

int main(int argc, char **argv) {
  const char *family = argc > 1 ? argv[1] : NULL;
  if (family && !strcmp(family, "coverage")) return check_coverage();
  if (family && !strcmp(family, "--list")) {
    for (int f = 0; f < NFAMILIES; f++)
      for (int i = 0; i < families[f]->ncases; i++)
        printf("%s %s\n", families[f]->name, families[f]->cases[i].name);
    return 0;
  }
  int fails = 0, ran = 0;
  for (int f = 0; f < NFAMILIES; f++) {
    if (family && strcmp(family, families[f]->name)) continue;
    for (int i = 0; i < families[f]->ncases; i++, ran++)
      fails += run_case(&families[f]->cases[i]);
  }
  if (!family) fails += check_coverage();
  if (!ran) {
    printf("FAIL: no cases in family '%s'\n", family ? family : "");
    return 1;
  }
  printf("%d cases, %d failed\n", ran, fails);
  return fails ? 1 : 0;
}
