/* gradcheck_nn.c - the softmax family and dropout (ops/nn.c). Hardmax is
 * piecewise constant: its gradient must be zero. */
#include "gradcheck.h"

static void softmax(Case *c) { c->y = build1(c->g, OP_SOFTMAX, param(c, S(2, 4), R_ANY)); }
static void softmax_rank3(Case *c) { c->y = build1(c->g, OP_SOFTMAX, param(c, S(2, 1, 3), R_ANY)); }
static void log_softmax(Case *c) { c->y = build1(c->g, OP_LOG_SOFTMAX, param(c, S(2, 4), R_ANY)); }
static void log_softmax_batch(Case *c) { c->y = op1(c, OP_LOG_SOFTMAX, batch_x(c), "axis=1"); }

/* The mask (output 1) is checked too: gradient = mask * d loss / d y. */
static void dropout_of(Case *c, double rate, uint64_t step) {
  Value *x = param(c, S(2, 4), R_ANY);
  Node *n = build_node(c->g, OP_DROPOUT, 1, &x);
  node_set_float(c->g, n, "rate", rate);
  node_set_int(c->g, n, "seed", 7);
  c->y = build_finish(c->g, n);
  c->mask = n->out[1];
  c->step = step;
}
static void dropout(Case *c) { dropout_of(c, 0.5, 3); }
static void dropout_rate_quarter(Case *c) { dropout_of(c, 0.25, 15); }

static const CaseDef cases[] = {
    {.name = "softmax", .build = softmax},
    {.name = "softmax_rank3", .build = softmax_rank3},
    OP_CASE("softmax_axis0", OP_SOFTMAX, 1, R_ANY, 1, "axis=0"),
    OP_CASE("softmax_legacy_2d", OP_SOFTMAX, 1, R_ANY, 1, "axis=1 legacy_2d=1"),
    {.name = "log_softmax", .build = log_softmax},
    {.name = "log_softmax_batch", .build = log_softmax_batch},
    OP_CASE("log_softmax_axis1", OP_LOG_SOFTMAX, 1, R_ANY, 1, "axis=1"),
    OP_CASE("log_softmax_legacy_2d", OP_LOG_SOFTMAX, 1, R_ANY, 1, "legacy_2d=1"),
    OP_CASE("hardmax", OP_HARDMAX, 1, R_ANY, 1, "axis=1"),
    {.name = "dropout", .build = dropout},
    {.name = "dropout_rate_quarter", .build = dropout_rate_quarter},
};
FAMILY(nn, cases);
