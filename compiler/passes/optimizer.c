/* optimizer.c - lowers the optimizer's update step to IR (Keras semantics).
 *
 * Requires: g->grads from autodiff; cx->opt. Adds step inputs `lr` (f32[])
 * and, for Adam, `step` (f32[], 1-based count of the step being taken).
 * Guarantees: for each param w with gradient g, an `assign` of the updated
 * weights, and of each optimizer state value it introduces:
 *   weight decay:  g <- g + wd * w
 *   sgd:           w <- w - lr * g
 *   momentum:      v <- mu * v - lr * g;  w <- w + v  (nesterov: w + mu * v - lr * g)
 *   adam:          m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
 *                  w <- w - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 *   ema (any optimizer; Keras's use_ema): a state `W_ema` per param, after
 *   the update  a <- w (first step), else a <- e a + (1 - e) w.
 *   These states come last, one per param in the param block's order and of
 *   its shapes, so the state block ends with a mirror of the param block. */
#include "pass.h"

/* The step inputs this pass adds (lr, step) are created once, here. */
static Value *input_scalar(Graph *g, const char *name) { return value_new(g, name, VK_INPUT, DT_F32, shape_scalar()); }

/* A model value may not take the name of a step input the trainer feeds. */
static bool names_free(Graph *g) {
  static const char *reserved[] = {INPUT_LR, INPUT_STEP};
  for (int i = 0; i < 2; i++)
    if (graph_find(g, reserved[i])) {
      error_plain("optimizer: the model has a value named '%s', the name of the trainer's %s input; rename the value",
                  reserved[i], i ? "step-count" : "learning-rate");
      return false;
    }
  return true;
}

static Value *state_like(Graph *g, Value *w, const char *suffix) {
  Value *s = value_new(g, arena_printf(&g->arena, "%s_%s", w->name, suffix), VK_STATE, DT_F32, w->shape);
  s->init.kind = INIT_ZEROS;
  return s;
}

#define MUL(a, b) build2(g, OP_MUL, a, b)
#define ADD(a, b) build2(g, OP_ADD, a, b)
#define SUB(a, b) build2(g, OP_SUB, a, b)
#define DIV(a, b) build2(g, OP_DIV, a, b)
#define K(x) build_scalar(g, DT_F32, x)

/* The update functions assign w and return its new value. */
static Value *sgd_update(Graph *g, const OptSpec *o, Value *w, Value *grad, Value *lr) {
  if (o->momentum == 0) {
    Value *w2 = SUB(w, MUL(lr, grad));
    graph_add_assign(g, w, w2);
    return w2;
  }
  Value *v = state_like(g, w, "velocity");
  Value *lg = MUL(lr, grad);
  Value *v2 = SUB(MUL(K(o->momentum), v), lg);
  Value *w2 = o->nesterov ? SUB(ADD(w, MUL(K(o->momentum), v2)), lg) : ADD(w, v2);
  graph_add_assign(g, v, v2);
  graph_add_assign(g, w, w2);
  return w2;
}

/* Each builder call is its own statement: C leaves the order of argument evaluation
 * unspecified, and the order in which constants are built names them, so nested calls
 * made the IR depend on the compiler that built nn2c. The order below is the one the
 * recorded tests and emitted C were made with. */
static Value *adam_update(Graph *g, const OptSpec *o, Value *w, Value *grad, Value *lr_t) {
  Value *m = state_like(g, w, "m"), *v = state_like(g, w, "v");
  Value *k = K(1 - o->beta1);
  Value *new_part = MUL(k, grad);
  k = K(o->beta1);
  Value *m2 = ADD(MUL(k, m), new_part);
  Value *grad2 = MUL(grad, grad);
  k = K(1 - o->beta2);
  new_part = MUL(k, grad2);
  k = K(o->beta2);
  Value *v2 = ADD(MUL(k, v), new_part);
  k = K(o->epsilon);
  Value *den = ADD(build1(g, OP_SQRT, v2), k);
  Value *w2 = SUB(w, MUL(lr_t, DIV(m2, den)));
  graph_add_assign(g, m, m2);
  graph_add_assign(g, v, v2);
  graph_add_assign(g, w, w2);
  return w2;
}

/* 1 - b^t */
static Value *one_minus_pow(Graph *g, double b, Value *t) {
  Value *pow = build2(g, OP_POW, K(b), t);
  return SUB(K(1), pow);
}

/* lr * sqrt(1 - b2^t) / (1 - b1^t), a scalar computed once per step. */
static Value *adam_lr(Graph *g, const OptSpec *o, Value *lr, Value *t) {
  Value *c1 = one_minus_pow(g, o->beta1, t);
  Value *c2 = one_minus_pow(g, o->beta2, t);
  return DIV(MUL(lr, build1(g, OP_SQRT, c2)), c1);
}

/* The moving averages, after every other value (see the header comment).
 * next[id] is the param's updated value (NULL: it has no gradient). */
static void ema_update(Graph *g, const OptSpec *o, Value *step, Value **next) {
  /* 0 on the first step (the average starts at the weights), else e */
  Value *one = K(1);
  Value *count = SUB(step, K(1));
  Value *first = build2(g, OP_MIN, count, one);
  Value *e = MUL(K(o->ema), first);
  int nvalues = g->nvalues;
  for (int i = 0; i < nvalues; i++) {
    Value *w = g->values[i];
    if (w->kind != VK_PARAM) continue;
    Value *w2 = next[w->id] ? next[w->id] : w;
    Value *a = state_like(g, w, "ema");
    graph_add_assign(g, a, ADD(w2, MUL(e, SUB(a, w2))));
  }
}

int64_t optimizer_ema_offset(Graph *g, const OptSpec *o) {
  if (!o || o->ema == 0) return -1;
  int64_t params = graph_block_layout(g, VK_PARAM, NULL), states = graph_block_layout(g, VK_STATE, NULL);
  /* the mirror: the last states pair up with the params, in order */
  int p = g->nvalues, s = g->nvalues;
  for (;;) {
    do
      p--;
    while (p >= 0 && g->values[p]->kind != VK_PARAM);
    do
      s--;
    while (s >= 0 && g->values[s]->kind != VK_STATE);
    if (p < 0) break;
    NN2C_ASSERT(s >= 0 && g->values[p]->dtype == DT_F32 && shape_eq(g->values[p]->shape, g->values[s]->shape));
  }
  return states - params;
}

bool pass_optimizer(Graph *g, PassCtx *cx) {
  const OptSpec *o = cx->opt;
  if (!o) {
    error_plain("optimizer: no optimizer configured");
    return false;
  }
  if (!names_free(g)) return false;
  Value *lr = input_scalar(g, INPUT_LR);
  Value *step = o->kind == OPT_ADAM || o->ema != 0 ? input_scalar(g, INPUT_STEP) : NULL;
  Value *lr_t = o->kind == OPT_ADAM ? adam_lr(g, o, lr, step) : lr;
  Value **next = arena_alloc(&cx->scratch, sizeof(Value *) * (size_t)g->nvalues);
  for (int i = 0; i < g->ngrads; i++) {
    Value *w = g->grads[i].param, *grad = g->grads[i].grad;
    if (o->weight_decay != 0) grad = ADD(grad, MUL(K(o->weight_decay), w));
    next[w->id] = o->kind == OPT_SGD ? sgd_update(g, o, w, grad, lr) : adam_update(g, o, w, grad, lr_t);
  }
  if (o->ema != 0) ema_update(g, o, step, next);
  return true;
}
