/* layers.c - lowers the layer list of a .nn file (Keras-Sequential style)
 * to IR, one function per layer kind. Errors point at the layer's line. */
#include "lower.h"

#include <math.h>
#include <string.h>

#include "rnn.h"

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
  value_set_unique_name(g, v, arena_printf(&g->arena, fmt, k));
  return v;
}

/* Keras's LeakyReLU slope is 0.3 (the op's default is ONNX's 0.01). */
static Value *keras_leaky_relu(Graph *g, Value *x) {
  Node *n = build_node(g, OP_LEAKY_RELU, 1, &x);
  node_set_float(g, n, "alpha", 0.3);
  return build_finish(g, n);
}

static Value *activation(Lower *L, const Line *l, const char *name, Value *x) {
  if (!strcmp(name, "relu")) return build1(L->g, OP_RELU, x);
  if (!strcmp(name, "sigmoid")) return build1(L->g, OP_SIGMOID, x);
  if (!strcmp(name, "tanh")) return build1(L->g, OP_TANH, x);
  if (!strcmp(name, "leaky_relu")) return keras_leaky_relu(L->g, x);
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
    Value *b = value_new(g, arena_printf(&g->arena, "dense%d_b", L->ndense), VK_PARAM, DT_F32, shape_make(1, &units));
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
  for (int i = 0; i < x->shape.rank - 1; i++)
    axes[i] = i;
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
    err_line(L, l, "batchnorm needs an input with a batch and a channel axis (input is %s)",
             shape_str(&L->g->arena, x->shape));
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
  value_set_unique_name(g, y, arena_printf(&g->arena, "bn%d", L->nbn));
  return y;
}

/* ---- convolution and pooling (NHWC activations, HWIO kernels; see ops/conv.c) ---- */

/* An int or a [a, b] pair, each in [lo, hi]. */
static bool expr_pair(Source *src, const Expr *e, int64_t lo, int64_t hi, int64_t out[2]) {
  if (e->kind == EX_LIST && e->nitems == 2)
    return expr_int(src, e->items[0], lo, hi, &out[0]) && expr_int(src, e->items[1], lo, hi, &out[1]);
  if (!expr_int(src, e, lo, hi, &out[0])) return false;
  out[1] = out[0];
  return true;
}

static bool kw_pair(Lower *L, const Line *l, const char *key, int64_t out[2]) {
  const KwArg *k = line_kw(l, key);
  return !k || expr_pair(L->src, k->val, 1, 1 << 16, out);
}

static bool needs_image(Lower *L, const Line *l, Value *x) {
  if (x->shape.rank == 4) return true;
  err_line(L, l, "%s needs an image input [N,H,W,C] (e.g. `input 28 28 1`)", l->kind);
  return false;
}

/* padding=valid (default) or same -> pads=[top,left,bottom,right]. */
static bool padding_attr(Lower *L, const Line *l, Value *x, const int64_t k[2], const int64_t s[2], const int64_t d[2],
                         int64_t pads[4]) {
  const KwArg *p = line_kw(l, "padding");
  const char *mode = p && p->val->kind == EX_IDENT ? p->val->ident : p ? "" : "valid";
  memset(pads, 0, sizeof(int64_t) * 4);
  if (!strcmp(mode, "same")) {
    conv_same_pads(x->shape.d[1], k[0], s[0], d[0], &pads[0], &pads[2]);
    conv_same_pads(x->shape.d[2], k[1], s[1], d[1], &pads[1], &pads[3]);
  } else if (strcmp(mode, "valid")) {
    error_at(L->src, p->line, p->col, "padding must be valid or same");
    return false;
  }
  return true;
}

/* A node whose shape inference fails here is a user error (window larger than the input, ...). */
static Value *finish_layer(Lower *L, const Line *l, Node *n) {
  const char *err = op_table[n->op].infer(L->g, n);
  if (err) {
    err_line(L, l, "%s", err);
    return NULL;
  }
  return n->out[0];
}

static Value *conv_params(Lower *L, const Line *l, Value *x, int64_t filters, const int64_t k[2], int64_t groups,
                          Value **b) {
  Graph *g = L->g;
  int64_t cin = x->shape.d[3];
  Value *w = value_new(g, arena_printf(&g->arena, "conv%d_w", L->nconv), VK_PARAM, DT_F32,
                       shape_make(4, (int64_t[]){k[0], k[1], cin / groups, filters}));
  w->init = (Init){INIT_GLOROT_UNIFORM, 0, 0};
  if (!kw_init(L, l, "kernel_initializer", "kernel_init", &w->init)) return NULL;
  const KwArg *ub = line_kw(l, "use_bias");
  int64_t use_bias = 1;
  if (ub && !expr_int(L->src, ub->val, 0, 1, &use_bias)) return NULL;
  *b = NULL;
  if (use_bias) {
    *b = value_new(g, arena_printf(&g->arena, "conv%d_b", L->nconv), VK_PARAM, DT_F32, shape_make(1, &filters));
    (*b)->init = (Init){INIT_ZEROS, 0, 0};
    if (!kw_init(L, l, "bias_initializer", "bias_init", &(*b)->init)) return NULL;
  }
  return w;
}

/* 1-D layers run as their 2-D forms over [N,1,T,C]: a window of height 1. */
static Value *as_image(Lower *L, Value *x) {
  if (x->shape.rank != 3) return x;
  return build_reshape(L->g, x, shape_make(4, (int64_t[]){DIM_BATCH, 1, x->shape.d[1], x->shape.d[2]}));
}
/* The input of a 2-D layer (an image) or of a 1-D one (a sequence, as an
 * image of height 1); NULL after an error. */
static Value *spatial_input(Lower *L, const Line *l, Value *x, bool one_d) {
  if (!one_d) return needs_image(L, l, x) ? x : NULL;
  if (x->shape.rank == 3) return as_image(L, x);
  err_line(L, l, "%s needs a sequence input [N,steps,channels] (e.g. `input 100 8`)", l->kind);
  return NULL;
}
static Value *as_sequence(Lower *L, Value *y) {
  return build_reshape(L->g, y, shape_make(3, (int64_t[]){DIM_BATCH, y->shape.d[2], y->shape.d[3]}));
}
static void height_one(int64_t k[2], int64_t s[2], int64_t d[2]) { k[0] = s[0] = d[0] = 1; }

/* conv2d FILTERS KERNEL [strides=] [padding=valid|same] [dilation=] [groups=] [activation=] ...
 * conv1d FILTERS KERNEL ...: the same over [N,steps,channels]. */
static Value *lower_conv2d(Lower *L, const Line *l, Value *x) {
  int64_t filters, k[2], s[2] = {1, 1}, d[2] = {1, 1}, groups = 1, pads[4];
  bool one_d = !strcmp(l->kind, "conv1d");
  if (!(x = spatial_input(L, l, x, one_d))) return NULL;
  if (l->nargs < 2) {
    err_line(L, l, "conv2d needs filters and a kernel size, e.g. `conv2d 32 3`%s", "");
    return NULL;
  }
  const KwArg *gk = line_kw(l, "groups");
  if (!expr_int(L->src, l->args[0], 1, 1 << 20, &filters) || !expr_pair(L->src, l->args[1], 1, 1 << 10, k) ||
      !kw_pair(L, l, "strides", s) || !kw_pair(L, l, "dilation", d) ||
      (gk && !expr_int(L->src, gk->val, 1, 1 << 20, &groups)) || (one_d && (height_one(k, s, d), false)) ||
      !padding_attr(L, l, x, k, s, d, pads))
    return NULL;
  if (x->shape.d[3] % groups || filters % groups) {
    err_line(L, l, "conv2d: input channels and filters must be divisible by groups%s", "");
    return NULL;
  }
  L->nconv++;
  Value *b, *w = conv_params(L, l, x, filters, k, groups, &b);
  if (!w) return NULL;
  Value *in[3] = {x, w, b};
  Node *n = node_new(L->g, OP_CONV2D, b ? 3 : 2, in, 1);
  node_set_ints(L->g, n, "strides", s, 2);
  node_set_ints(L->g, n, "pads", pads, 4);
  node_set_ints(L->g, n, "dilations", d, 2);
  node_set_int(L->g, n, "groups", groups);
  Value *y = finish_layer(L, l, n);
  if (!y) return NULL;
  named(L->g, y, "conv%d_z", L->nconv);
  const KwArg *act = line_kw(l, "activation");
  if (act && act->val->kind != EX_IDENT) {
    err_line(L, l, "activation must be a name such as relu%s", "");
    return NULL;
  }
  Value *out = activation(L, l, act ? act->val->ident : "linear", y);
  out = out && out != y ? named(L->g, out, "conv%d", L->nconv) : out;
  return out && one_d ? as_sequence(L, out) : out;
}

/* maxpool2d / avgpool2d SIZE [strides=SIZE] [padding=valid|same] */
static Value *lower_pool(Lower *L, const Line *l, Value *x, OpKind op) {
  int64_t k[2], s[2], d[2] = {1, 1}, pads[4];
  bool one_d = strstr(l->kind, "1d") != NULL;
  if (!(x = spatial_input(L, l, x, one_d))) return NULL;
  if (l->nargs < 1) {
    err_line(L, l, "%s needs a pool size, e.g. `maxpool2d 2`", l->kind);
    return NULL;
  }
  if (!expr_pair(L->src, l->args[0], 1, 1 << 10, k)) return NULL;
  s[0] = k[0], s[1] = k[1];
  if (!kw_pair(L, l, "strides", s)) return NULL;
  if (one_d) height_one(k, s, d);
  if (!padding_attr(L, l, x, k, s, d, pads)) return NULL;
  Node *n = node_new(L->g, op, 1, &x, 1);
  node_set_ints(L->g, n, "kernel", k, 2);
  node_set_ints(L->g, n, "strides", s, 2);
  node_set_ints(L->g, n, "pads", pads, 4);
  Value *y = finish_layer(L, l, n);
  if (y) named(L->g, y, "pool%d", ++L->npool);
  return y && one_d ? as_sequence(L, y) : y;
}

/* global_max_pool1d: [N,T,C] -> [N,C], a max pool over the whole time axis. */
static Value *lower_global_max_pool1d(Lower *L, const Line *l, Value *x) {
  if (x->shape.rank != 3) {
    err_line(L, l, "global_max_pool1d needs a sequence input [N,steps,channels]%s", "");
    return NULL;
  }
  Value *x4 = as_image(L, x);
  Node *n = node_new(L->g, OP_MAXPOOL2D, 1, &x4, 1);
  node_set_ints(L->g, n, "kernel", (int64_t[]){1, x->shape.d[1]}, 2);
  node_set_ints(L->g, n, "strides", (int64_t[]){1, x->shape.d[1]}, 2);
  node_set_ints(L->g, n, "pads", (int64_t[]){0, 0, 0, 0}, 4);
  Value *y = finish_layer(L, l, n);
  return y ? named(L->g, build_reshape(L->g, y, shape_make(2, (int64_t[]){DIM_BATCH, x->shape.d[2]})), "pool%d",
                   ++L->npool)
           : NULL;
}

/* global_avgpool: [N,H,W,C] -> [N,C] */
static Value *lower_global_avgpool(Lower *L, const Line *l, Value *x) {
  if (!needs_image(L, l, x)) return NULL;
  Node *n = build_node(L->g, OP_REDUCE_MEAN, 1, &x);
  node_set_ints(L->g, n, "axes", (int64_t[]){1, 2}, 2);
  node_set_int(L->g, n, "keepdims", 0);
  return named(L->g, build_finish(L->g, n), "pool%d", ++L->npool);
}

/* ---- embedding and recurrent layers (unrolled by rnn.c) ---- */

static bool kw_flag(Lower *L, const Line *l, const char *key, bool *out) {
  const KwArg *k = line_kw(l, key);
  int64_t v = *out;
  if (k && !expr_int(L->src, k->val, 0, 1, &v)) return false;
  *out = v != 0;
  return true;
}

static Value *param(Lower *L, const char *name, Shape s, InitKind init) {
  Value *v = value_new(L->g, name, VK_PARAM, DT_F32, s); /* which makes the name unique */
  v->init = (Init){init, 0, 0};
  return v;
}

static bool kw_init_of(Lower *L, const Line *l, const char *key, Value *v) {
  const KwArg *k = line_kw(l, key);
  return !k || expr_init(L->src, k->val, &v->init);
}

/* `embedding V D [mask_zero=1] [embeddings_initializer=...]`: ids [N,T] -> [N,T,D].
 * With mask_zero, id 0 is padding and its row gets no gradient (Keras also
 * masks later layers' steps; nn2c does not, see docs/nn-format.md). */
static Value *lower_embedding(Lower *L, const Line *l, Value *x) {
  int64_t vocab, dim;
  bool mask = false;
  if (l->nargs < 2) {
    err_line(L, l, "embedding needs a vocabulary size and a width, e.g. `embedding 10000 128`%s", "");
    return NULL;
  }
  if (!expr_int(L->src, l->args[0], 1, 1 << 24, &vocab) || !expr_int(L->src, l->args[1], 1, 1 << 20, &dim) ||
      !kw_flag(L, l, "mask_zero", &mask))
    return NULL;
  Graph *g = L->g;
  Value *w =
      param(L, arena_printf(&g->arena, "emb%d_w", ++L->nemb), shape_make(2, (int64_t[]){vocab, dim}), INIT_UNIFORM);
  w->init = (Init){INIT_UNIFORM, -0.05, 0.05};
  if (!kw_init_of(L, l, "embeddings_initializer", w)) return NULL;
  Value *in[2] = {x, w};
  Node *n = node_new(g, OP_EMBEDDING, 2, in, 1);
  if (mask) node_set_int(g, n, "mask_zero", 1);
  const char *err = op_table[OP_EMBEDDING].infer(g, n);
  if (err) err_line(L, l, "%s", err);
  return err ? NULL : n->out[0];
}

static bool cell_from_name(const char *k, RnnCell *c) {
  if (!strcmp(k, "lstm"))
    *c = RNN_LSTM;
  else if (!strcmp(k, "gru"))
    *c = RNN_GRU;
  else if (!strcmp(k, "simple_rnn"))
    *c = RNN_SIMPLE;
  else
    return false;
  return true;
}

/* One direction's params (Keras defaults) and its unrolled graph. */
static Value *recurrent_dir(Lower *L, const Line *l, RnnSpec *s, Value *x, int64_t units, const char *prefix) {
  Graph *g = L->g;
  int64_t gh = rnn_gates(s->cell) * units, f = x->shape.d[2];
  s->prefix = prefix;
  s->w = param(L, arena_printf(&g->arena, "%s_w", prefix), shape_make(2, (int64_t[]){f, gh}), INIT_GLOROT_UNIFORM);
  s->u = param(L, arena_printf(&g->arena, "%s_u", prefix), shape_make(2, (int64_t[]){units, gh}), INIT_ORTHOGONAL);
  s->b = param(L, arena_printf(&g->arena, "%s_b", prefix), shape_make(1, &gh), INIT_ZEROS);
  bool forget = s->cell == RNN_LSTM;
  if (!kw_flag(L, l, "unit_forget_bias", &forget) || !kw_init_of(L, l, "kernel_initializer", s->w) ||
      !kw_init_of(L, l, "recurrent_initializer", s->u) || !kw_init_of(L, l, "bias_initializer", s->b))
    return NULL;
  if (forget && s->cell == RNN_LSTM) s->b->init.kind = INIT_UNIT_FORGET_BIAS;
  if (s->cell == RNN_GRU && s->reset_after) /* Keras keeps the recurrent bias apart */
    s->rb = param(L, arena_printf(&g->arena, "%s_rb", prefix), shape_make(1, &gh), INIT_ZEROS);
  const char *err = rnn_check(g, s, x);
  if (err) {
    err_line(L, l, "%s", err);
    return NULL;
  }
  return rnn_lower(g, s, x, NULL, NULL);
}

/* `lstm|gru|simple_rnn UNITS [return_sequences=1] [go_backwards=1] [reset_after=0]`,
 * or with `bidirectional` in front (args shifted by one) and merge=concat|sum|mul|ave. */
static Value *lower_recurrent(Lower *L, const Line *l, Value *x, bool bidir) {
  int a0 = bidir ? 1 : 0;
  RnnSpec s = {0};
  int64_t units;
  if (bidir && (l->nargs < 1 || l->args[0]->kind != EX_IDENT || !cell_from_name(l->args[0]->ident, &s.cell))) {
    err_line(L, l, "bidirectional wraps lstm, gru or simple_rnn%s", "");
    return NULL;
  }
  if (!bidir) cell_from_name(l->kind, &s.cell);
  s.reset_after = true;
  s.time_axis = 1;
  if (l->nargs <= a0 || !expr_int(L->src, l->args[a0], 1, 1 << 16, &units) ||
      !kw_flag(L, l, "return_sequences", &s.return_sequences) || !kw_flag(L, l, "go_backwards", &s.reverse) ||
      !kw_flag(L, l, "reset_after", &s.reset_after)) {
    if (l->nargs <= a0) err_line(L, l, "%s needs the number of units, e.g. `lstm 64`", l->kind);
    return NULL;
  }
  if (x->shape.rank != 3) {
    err_line(L, l, "a recurrent layer needs a sequence input [N,steps,features] (input is %s)",
             shape_str(&L->g->arena, x->shape));
    return NULL;
  }
  const char *kind = bidir ? l->args[0]->ident : l->kind;
  const char *prefix = graph_unique_name(L->g, arena_printf(&L->g->arena, "%s%d", kind, ++L->nrnn));
  Value *fwd = recurrent_dir(L, l, &s, x, units, prefix);
  if (!bidir || !fwd) return fwd;
  RnnSpec sb = s;
  sb.reverse = !s.reverse;
  Value *bwd = recurrent_dir(L, l, &sb, x, units, arena_printf(&L->g->arena, "%s_back", prefix));
  if (!bwd) return NULL;
  if (s.return_sequences) bwd = rnn_reverse_time(L->g, bwd, s.time_axis);
  const KwArg *mk = line_kw(l, "merge");
  const char *merge = mk && mk->val->kind == EX_IDENT ? mk->val->ident : mk ? "" : "concat";
  if (!strcmp(merge, "concat")) {
    Node *n = build_node(L->g, OP_CONCAT, 2, (Value *[]){fwd, bwd});
    node_set_int(L->g, n, "axis", -1);
    return build_finish(L->g, n);
  }
  if (!strcmp(merge, "sum")) return build2(L->g, OP_ADD, fwd, bwd);
  if (!strcmp(merge, "mul")) return build2(L->g, OP_MUL, fwd, bwd);
  if (!strcmp(merge, "ave")) {
    Value *half = build_scalar(L->g, DT_F32, 0.5);
    return build2(L->g, OP_MUL, build2(L->g, OP_ADD, fwd, bwd), half);
  }
  error_at(L->src, mk->line, mk->col, "merge must be concat, sum, mul or ave");
  return NULL;
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

/* "unknown layer 'softmx'; did you mean 'softmax'?" when one kind is that close. */
static void unknown_layer(Lower *L, const Line *l) {
  static const char *kinds[] = {
      "dense",      "flatten", "dropout",           "batchnorm",  "conv2d",        "maxpool2d",
      "avgpool2d",  "conv1d",  "global_max_pool1d", "maxpool1d",  "embedding",     "global_avgpool",
      "lstm",       "gru",     "simple_rnn",        "relu",       "bidirectional", "sigmoid",
      "activation", "tanh",    "softmax",           "leaky_relu", "linear"};
  const char *best = closest_word(l->kind, kinds, (int)(sizeof kinds / sizeof kinds[0]));
  if (best)
    error_at(L->src, l->line, l->col, "unknown layer '%s'; did you mean '%s'?", l->kind, best);
  else
    err_line(L, l, "unknown layer '%s'", l->kind);
}

static Value *lower_layer(Lower *L, const Line *l, Value *x) {
  const char *k = l->kind;
  if (!strcmp(k, "dense")) return lower_dense(L, l, x);
  if (!strcmp(k, "flatten")) return lower_flatten(L, x);
  if (!strcmp(k, "dropout")) return lower_dropout(L, l, x);
  if (!strcmp(k, "batchnorm")) return lower_batchnorm(L, l, x);
  if (!strcmp(k, "conv2d")) return lower_conv2d(L, l, x);
  if (!strcmp(k, "maxpool2d")) return lower_pool(L, l, x, OP_MAXPOOL2D);
  if (!strcmp(k, "avgpool2d")) return lower_pool(L, l, x, OP_AVGPOOL2D);
  if (!strcmp(k, "global_avgpool")) return lower_global_avgpool(L, l, x);
  if (!strcmp(k, "conv1d")) return lower_conv2d(L, l, x);
  if (!strcmp(k, "maxpool1d")) return lower_pool(L, l, x, OP_MAXPOOL2D);
  if (!strcmp(k, "global_max_pool1d")) return lower_global_max_pool1d(L, l, x);
  if (!strcmp(k, "embedding")) return lower_embedding(L, l, x);
  if (!strcmp(k, "lstm") || !strcmp(k, "gru") || !strcmp(k, "simple_rnn")) return lower_recurrent(L, l, x, false);
  if (!strcmp(k, "bidirectional")) return lower_recurrent(L, l, x, true);
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
  unknown_layer(L, l);
  return NULL;
}

/* Every key=value of a lowered layer was read by its lowering; each other one is an
 * error naming the closest key that layer knows (all of them are reported). */
static bool keys_known(Lower *L, const Line *l) {
  bool ok = true;
  for (int i = 0; i < l->nkw; i++) {
    if (l->kw[i].used) continue;
    const char *best = l->asked ? closest_word(l->kw[i].key, l->asked->keys, l->asked->n) : NULL;
    if (best)
      error_at(L->src, l->kw[i].line, l->kw[i].col, "unknown option '%s' for %s; did you mean '%s'?", l->kw[i].key,
               l->kind, best);
    else
      error_at(L->src, l->kw[i].line, l->kw[i].col, "unknown option '%s' for %s", l->kw[i].key, l->kind);
    ok = false;
  }
  return ok;
}

/* `trainable=false` (or 0) on any layer freezes the params it makes: autodiff
 * gives them no gradient and the optimizer no update or state (Keras's
 * layer.trainable = False). */
static bool layer_trainable(Lower *L, const Line *l, bool *trainable) {
  const KwArg *k = line_kw(l, "trainable");
  if (!k) return true;
  const Expr *e = k->val;
  bool word = e->kind == EX_IDENT && (!strcmp(e->ident, "true") || !strcmp(e->ident, "false"));
  bool num = e->kind == EX_NUM && e->is_int && (e->num == 0 || e->num == 1);
  if (!word && !num) {
    error_at(L->src, e->line, e->col, "trainable must be true or false (or 1 or 0)");
    return false;
  }
  *trainable = word ? !strcmp(e->ident, "true") : e->num == 1;
  return true;
}

/* The layer's nodes remember its line: shape errors point at it and `nn2c summary`
 * groups the nodes into the layers the user wrote. */
static void mark_layer_nodes(Graph *g, int first, const Line *l) {
  for (int i = first; i < g->nnodes; i++)
    if (!g->nodes[i]->line) g->nodes[i]->line = l->line, g->nodes[i]->col = l->col;
}

/* ---- recovery: the layers after a failed one are still checked ----
 * A failed layer's output is unknown. Each later layer is then lowered into a scratch graph
 * (thrown away) against a stand-in input of the rank it needs and sizes no window exceeds, so
 * errors in its own options (values, names, unknown keys) come out in the same run; errors that
 * depend on the lost shape cannot, and show up once the first ones are fixed. */

static int64_t stand_in_channels(const Line *l) {
  for (int i = 0; i < l->nkw; i++) { /* read without marking the key used */
    const Expr *e = l->kw[i].val;
    if (!strcmp(l->kw[i].key, "groups") && e->kind == EX_NUM && e->is_int && e->inum >= 1 && e->inum <= 1 << 20)
      return e->inum;
  }
  return 1;
}

static Shape stand_in_shape(const Line *l) {
  const char *k = l->kind;
  int64_t wide = 1 << 20;
  if (!strcmp(k, "conv2d") || !strcmp(k, "maxpool2d") || !strcmp(k, "avgpool2d") || !strcmp(k, "global_avgpool"))
    return shape_make(4, (int64_t[]){DIM_BATCH, wide, wide, stand_in_channels(l)});
  if (!strcmp(k, "conv1d") || !strcmp(k, "maxpool1d") || !strcmp(k, "global_max_pool1d"))
    return shape_make(3, (int64_t[]){DIM_BATCH, wide, stand_in_channels(l)});
  if (!strcmp(k, "lstm") || !strcmp(k, "gru") || !strcmp(k, "simple_rnn") || !strcmp(k, "bidirectional"))
    return shape_make(3, (int64_t[]){DIM_BATCH, 1, 1}); /* one step: unrolling stays small */
  return shape_make(2, (int64_t[]){DIM_BATCH, 1});
}

/* Checks layer l's own options against a stand-in input in a scratch graph; false after errors. */
static bool check_layer(Lower *L, const Line *l) {
  Graph *real = L->g;
  L->g = graph_new("check");
  L->g->src = L->src;
  Value *y = lower_layer(L, l, value_new(L->g, "x", VK_INPUT, DT_F32, stand_in_shape(l)));
  graph_free(L->g);
  L->g = real;
  return y != NULL;
}

Value *lower_layers(Lower *L) {
  ModelFile *f = L->m->file;
  if (f->nlayers == 0 || strcmp(f->layers[0].kind, "input")) {
    if (f->nlayers)
      err_line(L, &f->layers[0], "the first layer must be `input`, got '%s'", f->layers[0].kind);
    else
      error_at(L->src, 1, 1, "the model has no layers and no graph section");
    return NULL;
  }
  Value *x = lower_input(L, &f->layers[0]);
  bool ok = x != NULL;
  for (int i = 1; i < f->nlayers; i++) {
    const Line *l = &f->layers[i];
    int first = L->g->nnodes, nvalues = L->g->nvalues;
    bool trainable = true, flag_ok = layer_trainable(L, l, &trainable), lowered;
    if (x) {
      x = lower_layer(L, l, x);
      lowered = x != NULL;
      mark_layer_nodes(L->g, first, l);
      for (int k = nvalues; x && !trainable && k < L->g->nvalues; k++)
        L->g->values[k]->frozen = L->g->values[k]->kind == VK_PARAM;
    } else {
      lowered = check_layer(L, l); /* an earlier layer failed: its output is unknown */
    }
    bool keys_ok = lowered && keys_known(L, l); /* a failed layer may not have read all its keys */
    ok = flag_ok && keys_ok && ok;
  }
  return ok ? x : NULL;
}
