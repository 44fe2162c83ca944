/* test_parse.c - the .nn parser and the IR printer: sequential lines, expressions, the
 * train and data sections, the graph form, and print -> parse -> print round trips. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"
#include "parse.h"

#define CHECK(c)                                                                                                       \
  do {                                                                                                                 \
    if (!(c)) {                                                                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                                            \
      exit(1);                                                                                                         \
    }                                                                                                                  \
  } while (0)

static Arena arena;

static ModelFile *parse(const char *text) {
  ModelFile *mf = model_file_parse_text("test.nn", text, &arena);
  CHECK(mf != NULL);
  return mf;
}

static bool num_is(const Expr *e, double v) { return e && e->kind == EX_NUM && e->num == v; }
static bool ident_is(const Expr *e, const char *s) { return e && e->kind == EX_IDENT && !strcmp(e->ident, s); }

static void test_layers(void) {
  ModelFile *mf = parse("# a comment line\n"
                        "model mlp\n"
                        "\n"
                        "input 28 28 1   # trailing comment\n"
                        "input [28, 28, 1]\n"
                        "flatten\n"
                        "dense 128 activation=relu kernel_initializer=uniform(0, 1)\n"
                        "dense 10 relu\n"
                        "dropout 0.2\n"
                        "dense -1 x=1e-3 y=1.5E+2 s=\"hi there\"\n");
  CHECK(!strcmp(mf->name, "mlp") && mf->name_line == 2 && mf->name_col == 7);
  CHECK(mf->nlayers == 7 && mf->graph == NULL && !mf->has_train);
  Line *l = &mf->layers[0];
  CHECK(!strcmp(l->kind, "input") && l->nargs == 3 && l->nkw == 0 && l->line == 4 && l->col == 1);
  CHECK(num_is(l->args[0], 28) && l->args[0]->is_int && num_is(l->args[2], 1));
  l = &mf->layers[1];
  CHECK(l->nargs == 1 && l->args[0]->kind == EX_LIST && l->args[0]->nitems == 3);
  CHECK(num_is(l->args[0]->items[1], 28) && l->args[0]->col == 7);
  CHECK(!strcmp(mf->layers[2].kind, "flatten") && mf->layers[2].nargs == 0);
  l = &mf->layers[3];
  CHECK(l->nargs == 1 && num_is(l->args[0], 128) && l->nkw == 2);
  CHECK(!strcmp(l->kw[0].key, "activation") && ident_is(l->kw[0].val, "relu"));
  const KwArg *k = line_kw(l, "kernel_initializer");
  CHECK(k && k->val->kind == EX_CALL && !strcmp(k->val->ident, "uniform") && k->val->nitems == 2);
  CHECK(num_is(k->val->items[0], 0) && num_is(k->val->items[1], 1) && k->line == 7 && k->col == 27);
  CHECK(line_kw(l, "missing") == NULL);
  CHECK(mf->layers[4].nargs == 2 && ident_is(mf->layers[4].args[1], "relu"));
  CHECK(num_is(mf->layers[5].args[0], 0.2) && !mf->layers[5].args[0]->is_int);
  l = &mf->layers[6];
  CHECK(num_is(l->args[0], -1) && l->args[0]->is_int && l->args[0]->inum == -1);
  CHECK(num_is(line_kw(l, "x")->val, 1e-3) && !line_kw(l, "x")->val->is_int);
  CHECK(num_is(line_kw(l, "y")->val, 150.0));
  CHECK(line_kw(l, "s")->val->kind == EX_STRING && !strcmp(line_kw(l, "s")->val->ident, "hi there"));
}

static void test_nested(void) {
  ModelFile *mf = parse("weights [[1, 2], [3, [4, 5]], []] f(g(1), [2])\n"
                        "big 9007199254740993\n");
  Line *l = &mf->layers[0];
  CHECK(l->nargs == 2);
  Expr *e = l->args[0];
  CHECK(e->kind == EX_LIST && e->nitems == 3 && e->items[2]->kind == EX_LIST && e->items[2]->nitems == 0);
  CHECK(e->items[1]->items[1]->kind == EX_LIST && num_is(e->items[1]->items[1]->items[1], 5));
  e = l->args[1];
  CHECK(e->kind == EX_CALL && e->nitems == 2 && e->items[0]->kind == EX_CALL && !strcmp(e->items[0]->ident, "g"));
  CHECK(mf->layers[1].args[0]->inum == INT64_C(9007199254740993)); /* exact beyond 2^53 */
}

static void test_train_data(void) {
  ModelFile *mf = parse("input 2\n"
                        "dense 1 sigmoid\n"
                        "train {\n"
                        "  loss binary_crossentropy\n"
                        "\n"
                        "  optimizer adam lr=1e-3 beta1=0.9\n"
                        "  batch 32\n"
                        "  seed 1\n"
                        "}\n"
                        "data {\n"
                        "  x = [[0,0],[0,1],\n"
                        "       [1,0],[1,1]]\n"
                        "  y = [\n"
                        "    0,\n"
                        "    1, 1, 0,\n"
                        "  ]\n"
                        "}\n");
  CHECK(mf->has_train && mf->ntrain == 4 && mf->nlayers == 2 && mf->name == NULL);
  CHECK(!strcmp(mf->train[1].kind, "optimizer") && ident_is(mf->train[1].args[0], "adam"));
  CHECK(num_is(line_kw(&mf->train[1], "beta1")->val, 0.9) && mf->train[1].line == 6);
  CHECK(!strcmp(mf->train[3].kind, "seed") && num_is(mf->train[3].args[0], 1));
  CHECK(mf->ndata == 2 && !strcmp(mf->data[0].key, "x") && !strcmp(mf->data[1].key, "y"));
  CHECK(mf->data[0].val->nitems == 4 && num_is(mf->data[0].val->items[3]->items[1], 1));
  CHECK(mf->data[1].val->nitems == 4 && mf->data[1].line == 13);
}

static const char *graph_text =
    "model net\n"
    "graph g {\n"
    "  input x: f32[N,4]\n"
    "  param w: f32[4,3] = uniform(0, 1)\n"
    "  param b: f32[3]\n"
    "  state m: f32[4,3] = zeros\n"
    "  const c: f32[] = 0.5\n"
    "  const k: i32[2,2] = [[1, 2], [3, 4]]\n"
    "  h = matmul(x, w)\n"
    "  y: f32[N,3], mask: bool[N,3] = dropout(h, rate=0.5, seed=3, mode=\"a b\", axes=[0, 1])\n"
    "  l = reduce_mean(y,\n"
    "                  keepdims=0)\n"
    "  output y\n"
    "  loss l\n"
    "  grad w = h\n"
    "  assign m <- w\n"
    "}\n";

static void test_graph(void) {
  ModelFile *mf = parse(graph_text);
  Graph *g = mf->graph;
  CHECK(g && !strcmp(g->name, "g") && !strcmp(mf->name, "net") && g->src == &mf->src);
  Value *x = graph_find(g, "x"), *w = graph_find(g, "w"), *b = graph_find(g, "b");
  CHECK(x && x->kind == VK_INPUT && x->dtype == DT_F32 && x->shape.rank == 2 && x->shape.d[0] == DIM_BATCH);
  CHECK(x->line == 3 && x->col == 9);
  CHECK(w->kind == VK_PARAM && w->init.kind == INIT_UNIFORM && w->init.a == 0 && w->init.b == 1);
  CHECK(b->init.kind == INIT_ZEROS && graph_find(g, "m")->kind == VK_STATE);
  Value *c = graph_find(g, "c"), *k = graph_find(g, "k");
  CHECK(c->kind == VK_CONST && c->shape.rank == 0 && *(float *)c->data == 0.5f);
  CHECK(k->dtype == DT_I32 && ((int32_t *)k->data)[3] == 4);
  CHECK(g->nnodes == 3);
  Node *n = g->nodes[0];
  CHECK(n->op == OP_MATMUL && n->nin == 2 && n->in[1] == w && n->line == 9 && n->col == 3);
  CHECK(!strcmp(n->out[0]->name, "h") && !n->out[0]->annotated && n->out[0]->def == n);
  n = g->nodes[1];
  CHECK(n->op == OP_DROPOUT && n->nout == 2 && !strcmp(n->out[1]->name, "mask"));
  CHECK(n->out[1]->annotated && n->out[1]->dtype == DT_BOOL && n->out[1]->shape.d[1] == 3);
  CHECK(n->out[1]->line == 10 && n->out[1]->col == 16);
  CHECK(node_attr(n, "rate")->type == AT_FLOAT && node_float(n, "rate", 0) == 0.5);
  CHECK(node_attr(n, "seed")->type == AT_INT && node_int(n, "seed", 0) == 3);
  CHECK(!strcmp(node_string(n, "mode", ""), "a b"));
  CHECK(node_attr(n, "axes")->type == AT_INTS && node_attr(n, "axes")->n == 2);
  CHECK(g->noutputs == 1 && g->outputs[0] == graph_find(g, "y"));
  CHECK(g->loss == graph_find(g, "l") && node_int(g->nodes[2], "keepdims", 9) == 0);
  CHECK(g->ngrads == 1 && g->grads[0].param == w && g->grads[0].grad == graph_find(g, "h"));
  CHECK(g->nassigns == 1 && g->assigns[0].dst == graph_find(g, "m") && g->assigns[0].src == w);
  graph_free(g);
}

/* Parses the text as a graph, prints it, parses and prints again: the two prints must match. */
static char *round_trip(const char *text) {
  ModelFile *mf = parse(text);
  Buf b1 = {0}, b2 = {0};
  ir_print(&b1, mf->graph);
  ModelFile *mf2 = model_file_parse_text("printed.nn", b1.data, &arena);
  if (!mf2) fprintf(stderr, "printed text did not parse:\n%s", b1.data);
  CHECK(mf2 != NULL);
  ir_print(&b2, mf2->graph);
  if (strcmp(b1.data, b2.data)) fprintf(stderr, "first print:\n%s\nsecond print:\n%s", b1.data, b2.data);
  CHECK(!strcmp(b1.data, b2.data));
  graph_free(mf->graph);
  graph_free(mf2->graph);
  buf_free(&b2);
  return b1.data;
}

static void test_round_trip(void) {
  char *s = round_trip(graph_text);
  CHECK(strstr(s, "graph g {\n  input x: f32[N,4]\n  param w: f32[4,3] = uniform(0, 1)\n"));
  CHECK(strstr(s, "  param b: f32[3] = zeros\n  state m: f32[4,3] = zeros\n"));
  CHECK(strstr(s, "  const c: f32[] = 0.5\n  const k: i32[2,2] = [1, 2, 3, 4]\n"));
  CHECK(strstr(s, "  h: f32[] = matmul(x, w)\n")); /* unannotated: node_new's default type */
  CHECK(strstr(s, "y: f32[N,3], mask: bool[N,3] = dropout(h, rate=0.5, seed=3, mode=\"a b\", axes=[0, 1])\n"));
  CHECK(strstr(s, "  output y\n  loss l\n  grad w = h\n  assign m <- w\n}\n"));
  free(s);
  /* Every dtype the text form holds, awkward floats, float lists, quoted strings. */
  s = round_trip("graph t {\n"
                 "  input a: f32[N,2,3]\n"
                 "  param p: f32[2] = normal(-0.5, 0.05)\n"
                 "  param q: f32[2,2] = constant(0.1)\n"
                 "  param r: f32[2,2] = he_normal\n"
                 "  const f: f32[4] = [0.1, -0, 3e38, -inf]\n"
                 "  const d: f64[3] = [0.1, 1e-300, inf]\n"
                 "  const i8v: i8[2] = [-128, 127]\n"
                 "  const u: u8[2] = [0, 255]\n"
                 "  const l64: i64[] = -9223372036854775807\n"
                 "  const bb: bool[2] = [1, 0]\n"
                 "  const e: f32[0] = []\n"
                 "  z: f32[N,2,3] = clip(a, min=-1.0, max=1e+20, v=[0.5, 1.0, 1e-10], s=\"q\\\"\\\\\", w=[])\n"
                 "  output z\n"
                 "}\n");
  CHECK(strstr(s, "normal(-0.5, 0.05)") && strstr(s, "constant(0.1)") && strstr(s, "= he_normal\n"));
  CHECK(strstr(s, "[0.1, -0, 3e+38, -inf]") && strstr(s, "[0.1, 1e-300, inf]"));
  CHECK(strstr(s, "min=-1.0, max=1e+20, v=[0.5, 1.0, 1e-10], s=\"q\\\"\\\\\", w=[]"));
  free(s);
}

/* A graph built in C (not parsed) prints, reparses and prints the same. */
static void test_print_built(void) {
  Graph *g = graph_new("built");
  Value *x = value_new(g, "x", VK_INPUT, DT_F32, shape_make(2, (int64_t[]){DIM_BATCH, 8}));
  Node *n = node_new(g, OP_RELU, 1, &x, 1);
  n->out[0]->shape = x->shape;
  node_set_float(g, n, "alpha", 2.0);
  node_set_float(g, n, "beta", 0.1f); /* a float widened to double */
  node_set_string(g, n, "name", "not an ident");
  node_set_floats(g, n, "fs", (double[]){1.0, -2.5}, 2);
  Node *dead = node_new(g, OP_NEG, 1, &x, 1);
  dead->dead = true;
  graph_add_output(g, n->out[0]);
  Buf b = {0};
  ir_print(&b, g);
  CHECK(strstr(b.data, "alpha=2.0, beta=0.10000000149011612, name=\"not an ident\", fs=[1.0, -2.5])"));
  CHECK(!strstr(b.data, "neg("));
  free(round_trip(b.data));
  buf_free(&b);
  graph_free(g);
}

/* Bad inputs return NULL (messages go to stderr; tests/errors checks their text). */
static void test_errors(void) {
  const char *bad[] = {
      "dense @\n",
      "x [1, 2\ndense 3\n",
      "s \"abc\n",
      "train {\n batch 3\n",
      "graph g {\n y = foo(x)\n}\n",
      "graph g {\n input x: f33[2]\n}\n",
      "graph g {\n input x: f32[2.5]\n}\n",
      "graph g {\n input x: f32[2]\n input x: f32[3]\n}\n",
      "graph g {\n y = relu(q)\n}\n",
      "graph g {\n input x: f32[2]\n y = add(x)\n}\n",
      "graph g {\n const c: f32[2] = [1]\n}\n",
      "graph g {\n const c: u8[1] = [256]\n}\n",
      "big 1e999\n",
      "model a\nmodel b\n",
      "graph g {\n input x: f32[1099511627777]\n}\n",
      "graph g {\n param w: f32[N,2]\n}\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ModelFile *mf = model_file_parse_text("bad.nn", bad[i], &arena);
    if (mf) fprintf(stderr, "accepted bad input: %s", bad[i]);
    CHECK(mf == NULL);
  }
  /* 65 levels of nesting is over the limit; 64 is fine. */
  char deep[256] = "x ";
  for (int i = 0; i < 65; i++)
    strcat(deep, "[");
  for (int i = 0; i < 65; i++)
    strcat(deep, "]");
  CHECK(model_file_parse_text("deep.nn", deep, &arena) == NULL);
  deep[2] = ' ';
  deep[strlen(deep) - 1] = '\n';
  CHECK(model_file_parse_text("deep.nn", deep, &arena) != NULL);
  CHECK(model_file_parse("/nonexistent/dir/model.nn", &arena) == NULL);
}

int main(void) {
  test_layers();
  test_nested();
  test_train_data();
  test_graph();
  test_round_trip();
  test_print_built();
  test_errors();
  arena_free(&arena);
  printf("test_parse: ok\n");
  return 0;
}
