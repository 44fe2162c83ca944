/* odd_desc.c - runs nn2c_train_main on deliberately broken descriptions of
 * the inline_softmax model (argv[1] picks which), to check the trainer's messages for
 * failures a normal command line can't cause. The rest of argv goes to the
 * trainer. */
#include <string.h>

#include "inline_softmax.h"
#include "nn2c_rt.h"

static void bind(void *mv, float *params, float *state, unsigned char *arena, int max_batch, float lr) {
  inline_softmax_Model *m = mv;
  m->params = params, m->state = state, m->arena = arena;
  m->max_batch = max_batch, m->lr = lr, m->step = 0;
}
static uint64_t get_step(const void *m) { return ((const inline_softmax_Model *)m)->step; }
static void set_step(void *m, uint64_t s) { ((inline_softmax_Model *)m)->step = s; }
static int forward(void *m, const float *x, float *out, int batch) { return inline_softmax_forward(m, x, out, batch); }
static int train_step(void *m, const float *x, const void *y, int b, float *loss, float *out) {
  return inline_softmax_train_step(m, x, y, b, loss, out);
}
static int evaluate(void *m, const float *x, const void *y, int b, float *loss, float *out) {
  return inline_softmax_evaluate(m, x, y, b, loss, out);
}
static int forward_fails(void *m, const float *x, float *out, int batch) {
  (void)m, (void)x, (void)out, (void)batch;
  return 5;
}

int main(int argc, char **argv) {
  nn2c_model_desc d = {0};
  const char *mode = argc > 1 ? argv[1] : "";
  d.name = "odd", d.dataset = "inline";
  d.in_numel = 2, d.out_numel = 2, d.label_numel = 1, d.label_is_int = 1;
  d.param_floats = 6, d.state_floats = 6;
  d.default_batch = 4, d.default_epochs = 2, d.default_lr = 0.5f, d.default_seed = 1;
  d.model_size = sizeof(inline_softmax_Model);
  d.model_bind = bind, d.model_get_step = get_step, d.model_set_step = set_step;
  d.arena_bytes = inline_softmax_arena_bytes, d.init = inline_softmax_init;
  d.forward = forward, d.train_step = train_step, d.evaluate = evaluate;
  d.inline_n = inline_softmax_INLINE_N, d.inline_x = inline_softmax_INLINE_X, d.inline_yi = inline_softmax_INLINE_YI;
  if (!strcmp(mode, "oom"))
    d.param_floats = 1L << 62; /* more than any address space */
  else if (!strcmp(mode, "no-inline"))
    d.inline_n = 0, d.inline_x = NULL;
  else if (!strcmp(mode, "no-hooks"))
    d.train_step = NULL;
  else if (!strcmp(mode, "dataset"))
    d.dataset = "imagenet";
  else if (!strcmp(mode, "cifar10"))
    d.dataset = "cifar10"; /* but inline_softmax takes 2 inputs */
  else if (!strcmp(mode, "forward-fails"))
    d.forward = forward_fails;
  return nn2c_train_main(argc - 1, argv + 1, &d);
}
