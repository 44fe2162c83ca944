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
 *                  w <- w - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps) */
#include "pass.h"

/* The step inputs this pass adds (lr, step) are created once, here. */
static Value *input_scalar(Graph *g, const char *name) {
  return value_new(g, name, VK_INPUT, DT_F32, shape_scalar());
}

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

static void sgd_update(Graph *g, const OptSpec *o, Value *w, Value *grad, Value *lr) {
  if (o->momentum == 0) {
    graph_add_assign(g, w, SUB(w, MUL(lr, grad)));
    return;
  }
  Value *v = state_like(g, w, "velocity");
  Value *lg = MUL(lr, grad);
  Value *v2 = SUB(MUL(K(o->momentum), v), lg);
  Value *w2 = o->nesterov ? SUB(ADD(w, MUL(K(o->momentum), v2)), lg) : ADD(w, v2);
  graph_add_assign(g, v, v2);
  graph_add_assign(g, w, w2);
}

static void adam_update(Graph *g, const OptSpec *o, Value *w, Value *grad, Value *lr_t) {
  Value *m = state_like(g, w, "m"), *v = state_like(g, w, "v");
  Value *m2 = ADD(MUL(K(o->beta1), m), MUL(K(1 - o->beta1), grad));
  Value *v2 = ADD(MUL(K(o->beta2), v), MUL(K(1 - o->beta2), MUL(grad, grad)));
  Value *den = ADD(build1(g, OP_SQRT, v2), K(o->epsilon));
  graph_add_assign(g, m, m2);
  graph_add_assign(g, v, v2);
  graph_add_assign(g, w, SUB(w, MUL(lr_t, DIV(m2, den))));
}

/* lr * sqrt(1 - b2^t) / (1 - b1^t), a scalar computed once per step. */
static Value *adam_lr(Graph *g, const OptSpec *o, Value *lr) {
  Value *t = input_scalar(g, INPUT_STEP);
  Value *c1 = SUB(K(1), build2(g, OP_POW, K(o->beta1), t));
  Value *c2 = SUB(K(1), build2(g, OP_POW, K(o->beta2), t));
  return DIV(MUL(lr, build1(g, OP_SQRT, c2)), c1);
}

bool pass_optimizer(Graph *g, PassCtx *cx) {
  const OptSpec *o = cx->opt;
  if (!o) {
    error_plain("optimizer: no optimizer configured");
    return false;
  }
  if (!names_free(g)) return false;
  Value *lr = input_scalar(g, INPUT_LR);
  Value *lr_t = o->kind == OPT_ADAM ? adam_lr(g, o, lr) : lr;
  for (int i = 0; i < g->ngrads; i++) {
    Value *w = g->grads[i].param, *grad = g->grads[i].grad;
    if (o->weight_decay != 0) grad = ADD(grad, MUL(K(o->weight_decay), w));
    if (o->kind == OPT_SGD) sgd_update(g, o, w, grad, lr);
    else adam_update(g, o, w, grad, lr_t);
  }
  return true;
}
