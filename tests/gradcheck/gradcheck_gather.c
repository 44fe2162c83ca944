/* gradcheck_gather.c - indexing (ops/gather.c): gather, gather_elements,
 * gather_nd and the scatters, with constant or batched indices. */
#include "gradcheck.h"

static void gather(Case *c) {
  Value *in[2] = {param(c, S(5, 3), R_ANY), IDX(S(2, 2), 0, -1, 2, 0)};
  c->y = opn(c, OP_GATHER, 2, in, NULL);
}
static void gather_axis1(Case *c) {
  Value *in[2] = {param(c, S(2, 4, 2), R_ANY), IDX(S(3), 3, 1, 3)};
  c->y = opn(c, OP_GATHER, 2, in, "axis=1");
}
static void gather_batch_indices(Case *c) {
  Value *in[2] = {param(c, S(4, 2), R_ANY), NULL};
  Value *ix = value_new(c->g, "ids", VK_INPUT, DT_I64, S(DIM_BATCH, 2));
  int64_t *d = feed(c, ix, sizeof(int64_t));
  for (int i = 0; i < BATCH * 2; i++)
    d[i] = (i * 3) % 4;
  in[1] = ix;
  c->y = opn(c, OP_GATHER, 2, in, NULL);
}
static void gather_elements(Case *c) {
  Value *in[2] = {param(c, S(3, 4), R_ANY), IDX(S(3, 2), 0, 3, 1, 1, -1, 2)};
  c->y = opn(c, OP_GATHER_ELEMENTS, 2, in, "axis=1");
}
static void gather_nd(Case *c) {
  Value *in[2] = {param(c, S(3, 2, 2), R_ANY), IDX(S(2, 2), 2, 1, 0, 1)};
  c->y = opn(c, OP_GATHER_ND, 2, in, NULL);
}
static void scatter_elements(Case *c) {
  Value *in[3] = {param(c, S(3, 4), R_ANY), IDX(S(3, 2), 1, 3, 0, 2, 2, 1), param(c, S(3, 2), R_ANY)};
  c->y = opn(c, OP_SCATTER_ELEMENTS, 3, in, "axis=1");
}
static void scatter_elements_add(Case *c) {
  Value *in[3] = {param(c, S(4, 2), R_ANY), IDX(S(2, 2), 1, 3, 1, 0), param(c, S(2, 2), R_ANY)};
  c->y = opn(c, OP_SCATTER_ELEMENTS, 3, in, "reduction:add");
}
static void scatter(Case *c) {
  Value *in[3] = {param(c, S(2, 3), R_ANY), IDX(S(2, 1), 2, 0), param(c, S(2, 1), R_ANY)};
  c->y = opn(c, OP_SCATTER, 3, in, "axis=1");
}
static void scatter_nd(Case *c) {
  Value *in[3] = {param(c, S(4, 3), R_ANY), IDX(S(2, 1), 3, 1), param(c, S(2, 3), R_ANY)};
  c->y = opn(c, OP_SCATTER_ND, 3, in, NULL);
}
static void scatter_nd_add(Case *c) {
  Value *in[3] = {param(c, S(2, 3), R_ANY), IDX(S(3, 2), 0, 1, 1, 2, 0, 1), param(c, S(3), R_ANY)};
  c->y = opn(c, OP_SCATTER_ND, 3, in, "reduction:add");
}

static const CaseDef cases[] = {
    {.name = "gather", .build = gather},
    {.name = "gather_axis1", .build = gather_axis1},
    {.name = "gather_batch_indices", .build = gather_batch_indices},
    {.name = "gather_elements", .build = gather_elements},
    {.name = "gather_nd", .build = gather_nd},
    {.name = "scatter_elements", .build = scatter_elements},
    {.name = "scatter_elements_add", .build = scatter_elements_add},
    {.name = "scatter", .build = scatter},
    {.name = "scatter_nd", .build = scatter_nd},
    {.name = "scatter_nd_add", .build = scatter_nd_add},
};
FAMILY(gather, cases);
