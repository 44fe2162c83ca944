/* layers.c - lowers the layer list of a .nn file (Keras-Sequential style)
 * to IR, one function per layer kind. Errors point at the layer's line. */
#include "lower.h"

#include <math.h>
#include <string.h>

static void err_line(Lower *L, const Line *l, const char *fmt, const char *arg) {
  error_at(L->src, l->line, l->col, fmt, arg);
}

/* ---- expressions ---- */

bool expr_int(Source *src, const Expr *e, int64_t lo, int64_t hi, int64_t *out) {
  if (e->kind != EX_NUM || !e->is_int || e->num < (double)lo || e->num > (double)hi) {
    error_at(src, e->line, e->col, "expected an integer in [%lld, %lld]", (long long)lo, (long long)hi);
    return false;
  }
  *out = (int64_t)e->num;
  return true;
}

bool expr_num(Source *src, const Expr *e, double *out) {
  if (e->kind != EX_NUM) {
    error_at(src, e->line, e->col, "expected a number");
    return false;
  }
  *out = e->num;
  return true;
}

bool expr_init(Source *src, const Expr *e, Init *init) {
  const char *name = e->kind == EX_IDENT || e->kind == EX_CALL ? e->ident : NULL;
  InitKind k;
  if (!name || !init_from_name(name, &k)) {
    error_at(src, e->line, e->col, "unknown initializer%s%s%s", name ? " '" : "", name ? name : "", name ? "'" : "");
    return false;
  }
  int want = k == INIT_UNIFORM || k == INIT_NORMAL ? 2 : k == INIT_CONSTANT ? 1 : 0;
  int have = e->kind == EX_CALL ? e->nitems : 0;
  if (have != want && !(k == INIT_UNIFORM && have == 0) && !(k == INIT_NORMAL && have == 0)) {
    error_at(src, e->line, e->col, "initializer '%s' takes %d arguments", name, want);
    return false;
  }
  /* Keras defaults: uniform(-0.05, 0.05), normal(0, 0.05) */
  double a = k == INIT_UNIFORM ? -0.05 : 0, b = 0.05;
  if (have >= 1 && !expr_num(src, e->items[0], &a)) return false;
  if (have >= 2 && !expr_num(src, e->items[1], &b)) return false;
  *init = (Init){k, a, b};
  return true;
}

/* ---- layers ---- */

/* Gives a value a readable name (emitted C uses value names). */
static Value *named(Graph *g, Value *v, const char *fmt, int k) {
  v->name = graph_unique_name(g, arena_printf(&g->arena, fmt, k));
  return v;
}

static Value *activation(Lower *L, const Line *l, const char *name, Value *x) {
  if (!strcmp(name, "relu")) return build1(L->g, OP_RELU, x);
  if (!strcmp(name, "sigmoid")) return build1(L->g, OP_SIGMOID, x);
  if (!strcmp(name, "tanh")) return build1(L->g, OP_TANH, x);
  if (!strcmp(name, "leaky_relu")) return build1(L->g, OP_LEAKY_RELU, x);
  if (!strcmp(name, "softmax")) {
    if (x->shape.rank < 1) return x;
    return build1(L->g, OP_SOFTMAX, x);
  }
  if (!strcmp(name, "linear")) return x;
  err_line(L, l, "unknown activation '%s' (expected relu, leaky_relu, sigmoid, tanh, softmax or linear)", name);
  return NULL;
}

static bool kw_init(Lower *L, const Line *l, const char *key, const char *alias, Init *init) {
  const KwArg *k = line_kw(l, key);
  if (!k) k = line_kw(l, alias);
  return !k || expr_init(L->src, k->val, init);
}

static Value *lower_dense(Lower *L, const Line *l, Value *x) {
  int64_t units;
  if (l->nargs < 1 || !expr_int(L->src, l->args[0], 1, 1 << 24, &units)) {
    if (l->nargs < 1) err_line(L, l, "dense needs the number of units, e.g. `dense 128`%s", "");
    return NULL;
  }
  if (x->shape.rank != 2) {
    err_line(L, l, "dense needs a flat input [N,features]; add `flatten` before it (input is %s)",
             shape_str(&L->g->arena, x->shape));
    return NULL;
  }
  Graph *g = L->g;
  L->ndense++;
  Value *w = value_new(g, arena_printf(&g->arena, "dense%d_w", L->ndense), VK_PARAM, DT_F32,
                       shape_make(2, (int64_t[]){x->shape.d[1], units}));
  w->init = (Init){INIT_GLOROT_UNIFORM, 0, 0};
  if (!kw_init(L, l, "kernel_initializer", "kernel_init", &w->init)) return NULL;
  Value *y = named(g, build2(g, OP_MATMUL, x, w), "dense%d_xw", L->ndense);
  const KwArg *ub = line_kw(l, "use_bias");
  int64_t use_bias = 1;
  if (ub && !expr_int(L->src, ub->val, 0, 1, &use_bias)) return NULL;
  if (use_bias) {
    Value *b = value_new(g, arena_printf(&g->arena, "dense%d_b", L->ndense), VK_PARAM, DT_F32,
                         shape_make(1, &units));
    b->init = (Init){INIT_ZEROS, 0, 0};
    if (!kw_init(L, l, "bias_initializer", "bias_init", &b->init)) return NULL;
    y = named(g, build2(g, OP_ADD, y, b), "dense%d_z", L->ndense);
  }
  const KwArg *act = line_kw(l, "activation");
  const char *aname = act ? act->val->ident : l->nargs > 1 ? l->args[1]->ident : "linear";
  if (!aname || (act && act->val->kind != EX_IDENT) || (!act && l->nargs > 1 && l->args[1]->kind != EX_IDENT)) {
    err_line(L, l, "activation must be a name such as relu%s", "");
    return NULL;
  }
  Value *out = activation(L, l, aname, y);
  return out && out != y ? named(g, out, "dense%d", L->ndense) : out;
}

/* [N, d1, d2, ...] -> [N, d1 * d2 * ...]; the first dimension is always N here. */
static Value *lower_flatten(Lower *L, Value *x) {
  return build_reshape(L->g, x, shape_make(2, (int64_t[]){DIM_BATCH, shape_numel_static(x->shape)}));
}

static Value *lower_dropout(Lower *L, const Line *l, Value *x) {
  double rate;
  if (l->nargs < 1) {
    err_line(L, l, "dropout needs a rate, e.g. `dropout 0.5`%s", "");
    return NULL;
  }
  if (!expr_num(L->src, l->args[0], &rate)) return NULL;
  if (!(rate >= 0 && rate < 1)) {
    error_at(L->src, l->args[0]->line, l->args[0]->col, "dropout rate must be in [0, 1)");
    return NULL;
  }
  L->ndropout++;
  if (L->mode != MODE_TRAIN || rate == 0) return x;
  Node *n = build_node(L->g, OP_DROPOUT, 1, &x);
  node_set_float(L->g, n, "rate", rate);
  node_set_int(L->g, n, "seed", L->ndropout);
  named(L->g, n->out[1], "dropout%d_mask", L->ndropout);
  return named(L->g, build_finish(L->g, n), "dropout%d", L->ndropout);
}

/* ---- batchnorm: normalizes over all axes but the last (channels), built
 * from ordinary ops so autodiff derives its gradient. Training uses the batch
 * statistics and moves the running ones (state) toward them:
 *   running = momentum * running + (1 - momentum) * batch
 * inference and evaluation use the running statistics. Keras defaults:
 * momentum 0.99, epsilon 1e-3, gamma ones, beta zeros, running mean zeros and
 * running variance ones; the batch variance is the biased one. ---- */

static bool kw_num_in(Lower *L, const Line *l, const char *key, double lo, double hi, double *v) {
  const KwArg *k = line_kw(l, key);
  if (!k) return true;
  if (!expr_num(L->src, k->val, v)) return false;
  if (*v >= lo && *v <= hi) return true;
  error_at(L->src, k->line, k->col, "%s must be in [%g, %g]", key, lo, hi);
  return false;
}

static Value *channel_value(Lower *L, ValueKind kind, const char *what, int64_t c, InitKind init) {
  Graph *g = L->g;
  Value *v = value_new(g, arena_printf(&g->arena, "bn%d_%s", L->nbn, what), kind, DT_F32, shape_make(1, &c));
  v->init = (Init){init, 0, 0};
  return v;
}

/* Mean over every axis but the last, as a [C] vector. */
static Value *channel_mean(Graph *g, Value *x) {
  int64_t axes[MAX_RANK];
  for (int i = 0; i < x->shape.rank - 1; i++) axes[i] = i;
  Node *n = build_node(g, OP_REDUCE_MEAN, 1, &x);
  node_set_ints(g, n, "axes", axes, x->shape.rank - 1);
  node_set_int(g, n, "keepdims", 0);
  return build_finish(g, n);
}

static Value *moving(Graph *g, Value *running, Value *batch, double momentum) {
  Value *a = build2(g, OP_MUL, running, build_scalar(g, DT_F32, momentum));
  return build2(g, OP_ADD, a, build2(g, OP_MUL, batch, build_scalar(g, DT_F32, 1 - momentum)));
}

static Value *lower_batchnorm(Lower *L, const Line *l, Value *x) {
  double momentum = 0.99, eps = 1e-3;
  if (!kw_num_in(L, l, "momentum", 0, 1, &momentum) || !kw_num_in(L, l, "epsilon", 1e-12, 1, &eps)) return NULL;
  if (x->shape.rank < 2) {
    err_line(L, l, "batchnorm needs an input with a batch and a channel axis (input is %s)", shape_str(&L->g->arena, x->shape));
    return NULL;
  }
  Graph *g = L->g;
  int64_t c = x->shape.d[x->shape.rank - 1];
  L->nbn++;
  Value *gamma = channel_value(L, VK_PARAM, "gamma", c, INIT_ONES);
  Value *beta = channel_value(L, VK_PARAM, "beta", c, INIT_ZEROS);
  Value *rmean = channel_value(L, VK_STATE, "mean", c, INIT_ZEROS);
  Value *rvar = channel_value(L, VK_STATE, "var", c, INIT_ONES);
  Value *mean = rmean, *var = rvar;
  if (L->mode == MODE_TRAIN) {
    mean = channel_mean(g, x);
    Value *d = build2(g, OP_SUB, x, mean);
    var = channel_mean(g, build2(g, OP_MUL, d, d));
    graph_add_assign(g, rmean, moving(g, rmean, mean, momentum));
    graph_add_assign(g, rvar, moving(g, rvar, var, momentum));
  }
  Value *inv = build1(g, OP_SQRT, build2(g, OP_ADD, var, build_scalar(g, DT_F32, eps)));
  Value *scale = build2(g, OP_DIV, gamma, inv);
  Value *y = build2(g, OP_MUL, build2(g, OP_SUB, x, mean), scale);
  y = build2(g, OP_ADD, y, beta);
  y->name = graph_unique_name(g, arena_printf(&g->arena, "bn%d", L->nbn));
  return y;
}

static Value *lower_input(Lower *L, const Line *l) {
  Shape s = {1, {DIM_BATCH}};
  const Expr *const *dims = (const Expr *const *)l->args;
  int nd = l->nargs;
  if (nd == 1 && l->args[0]->kind == EX_LIST) dims = (const Expr *const *)l->args[0]->items, nd = l->args[0]->nitems;
  if (nd < 1 || nd >= MAX_RANK) {
    err_line(L, l, "input needs 1 to 7 dimensions, e.g. `input 784` or `input 28 28 1`%s", "");
    return NULL;
  }
  for (int i = 0; i < nd; i++) {
    int64_t d;
    if (!expr_int(L->src, dims[i], 1, INT64_C(1) << 31, &d)) return NULL;
    s.d[s.rank++] = d;
  }
  return value_new(L->g, "x", VK_INPUT, DT_F32, s);
}

static Value *lower_layer(Lower *L, const Line *l, Value *x) {
  const char *k = l->kind;
  if (!strcmp(k, "dense")) return lower_dense(L, l, x);
  if (!strcmp(k, "flatten")) return lower_flatten(L, x);
  if (!strcmp(k, "dropout")) return lower_dropout(L, l, x);
  if (!strcmp(k, "batchnorm")) return lower_batchnorm(L, l, x);
  if (!strcmp(k, "activation")) {
    if (l->nargs != 1 || l->args[0]->kind != EX_IDENT) {
      err_line(L, l, "activation needs a name, e.g. `activation relu`%s", "");
      return NULL;
    }
    return activation(L, l, l->args[0]->ident, x);
  }
  if (!strcmp(k, "leaky_relu")) {
    double alpha = 0.3;
    if (!kw_num_in(L, l, "alpha", 0, 1e6, &alpha)) return NULL;
    Node *n = build_node(L->g, OP_LEAKY_RELU, 1, &x);
    node_set_float(L->g, n, "alpha", alpha);
    return build_finish(L->g, n);
  }
  if (!strcmp(k, "relu") || !strcmp(k, "sigmoid") || !strcmp(k, "tanh") || !strcmp(k, "softmax") ||
      !strcmp(k, "linear"))
    return activation(L, l, k, x);
  err_line(L, l, "unknown layer '%s'", k);
  return NULL;
}

Value *lower_layers(Lower *L) {
  ModelFile *f = L->m->file;
  if (f->nlayers == 0 || strcmp(f->layers[0].kind, "input")) {
    if (f->nlayers) err_line(L, &f->layers[0], "the first layer must be `input`, got '%s'", f->layers[0].kind);
    else error_at(L->src, 1, 1, "the model has no layers and no graph section");
    return NULL;
  }
  Value *x = lower_input(L, &f->layers[0]);
  for (int i = 1; i < f->nlayers && x; i++) x = lower_layer(L, &f->layers[i], x);
  return x;
}
