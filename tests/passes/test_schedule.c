/* test_schedule.c - pass_schedule on graphs the text form cannot express
 * (the parser requires definitions before uses): nodes listed out of order
 * are put in dependency order, and a cycle is an error. */
#include <stdio.h>

#include "passes/pass.h"

static int fails;
#define CHECK(c) ((c) ? (void)0 : (void)(fails++, printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c)))

static int pos(Graph *g, Node *n) {
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i] == n) return i;
  return -1;
}

static void test_reorder(void) {
  Graph *g = graph_new("order");
  int64_t d[2] = {DIM_BATCH, 3};
  Value *x = value_new(g, "x", VK_INPUT, DT_F32, shape_make(2, d));
  Value *a = build1(g, OP_NEG, x), *b = build1(g, OP_RELU, a), *c = build2(g, OP_ADD, a, b);
  Value *e = build1(g, OP_EXP, x); /* independent of a, b, c */
  graph_add_output(g, c);
  graph_add_output(g, e);
  Node *na = a->def, *nb = b->def, *nc = c->def, *ne = e->def;
  /* reversed: c, e, b, a */
  g->nodes[0] = nc, g->nodes[1] = ne, g->nodes[2] = nb, g->nodes[3] = na;
  for (int i = 0; i < 4; i++)
    g->nodes[i]->id = i;
  PassCtx cx = {0};
  CHECK(pass_schedule(g, &cx));
  CHECK(pos(g, na) < pos(g, nb));
  CHECK(pos(g, nb) < pos(g, nc));
  CHECK(pos(g, ne) == 0); /* ready first and earliest in the old order */
  for (int i = 0; i < g->nnodes; i++)
    CHECK(g->nodes[i]->id == i);
  CHECK(ir_verify(g, "schedule"));
  printf("reorder: %s %s %s %s\n", op_name(g->nodes[0]->op), op_name(g->nodes[1]->op), op_name(g->nodes[2]->op),
         op_name(g->nodes[3]->op));
  graph_free(g);
}

static void test_cycle(void) {
  Graph *g = graph_new("cycle");
  int64_t d[2] = {DIM_BATCH, 3};
  Value *x = value_new(g, "x", VK_INPUT, DT_F32, shape_make(2, d));
  Value *a = build1(g, OP_NEG, x), *b = build1(g, OP_RELU, a);
  Value *c = build2(g, OP_ADD, b, x);
  graph_add_output(g, c);
  a->def->in[0] = c; /* a = neg(c), c = add(relu(a), x): a cycle */
  PassCtx cx = {0};
  printf("cycle (an error message is expected on stderr):\n");
  fflush(stdout);
  CHECK(!pass_schedule(g, &cx));
  graph_free(g);
}

int main(void) {
  test_reorder();
  test_cycle();
  printf("%s\n", fails ? "FAIL" : "ok");
  return fails != 0;
}
