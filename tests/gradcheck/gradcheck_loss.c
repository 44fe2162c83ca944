/* gradcheck_loss.c - nll (ops/loss.c), alone and after log_softmax on a batch. */
#include "gradcheck.h"

static void nll_of(Case *c, Value *lp) {
  Value *lab = value_new(c->g, "labels", VK_INPUT, DT_I32, S(lp->shape.d[0]));
  int32_t *l = feed(c, lab, sizeof(int32_t));
  int64_t rows = lp->shape.d[0] == DIM_BATCH ? BATCH : lp->shape.d[0];
  for (int64_t i = 0; i < rows; i++)
    l[i] = (int32_t)((i * 3 + 1) % lp->shape.d[1]);
  c->y = build2(c->g, OP_NLL, lp, lab);
}
static void nll(Case *c) { nll_of(c, param(c, S(2, 4), R_ANY)); }
static void nll_log_softmax_batch(Case *c) { nll_of(c, build1(c->g, OP_LOG_SOFTMAX, batch_x(c))); }

static const CaseDef cases[] = {
    {.name = "nll", .build = nll},
    {.name = "nll_log_softmax_batch", .build = nll_log_softmax_batch},
};
FAMILY(loss, cases);
