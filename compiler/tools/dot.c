/* dot.c - `nn2c dot MODEL [--train] -o graph.dot`: the graph as Graphviz DOT.
 *
 * 1. Build the graph: the forward graph after shape inference; with --train
 *    the training graph after autodiff and optimizer lowering, remembering
 *    how many nodes each stage had so its nodes can be told apart (the
 *    passes that would merge or reorder them are not run).
 * 2. Write one box per node (its output's name and op), one ellipse per
 *    input, parameter and optimizer state (scalar constants are left out:
 *    they would only clutter), and an edge per value read, labelled with
 *    the value's shape. Backward and optimizer nodes go in their own
 *    clusters; assignments are dashed edges into the value they update.
 * 3. Write the file atomically. */
#include "tools/tools.h"

#include <string.h>

static const char *usage =
    "usage: nn2c dot MODEL [--train] -o FILE.dot [--quiet] [--freeze GLOB]... [--dim NAME=VALUE]... "
    "[--loss LOSS] [--optimizer O]\n";

/* Where a node came from: nodes [0, nforward) are the forward graph (and the
 * loss), then autodiff's, then the optimizer's. */
typedef struct {
  int nforward, nbackward;
} Stages;

static Graph *dot_graph(Model *m, bool train, Stages *st) {
  PassCtx cx = {0};
  Graph *g = model_compile(m, train ? MODE_TRAIN : MODE_INFER, "shape", &cx);
  st->nforward = st->nbackward = g ? g->nnodes : 0;
  if (!g || !train) return g;
  cx.opt = &m->train.opt;
  bool ok = pass_run_pipeline(g, &cx, "autodiff");
  st->nbackward = g->nnodes;
  ok = ok && pass_run_pipeline(g, &cx, "optimizer");
  arena_free(&cx.scratch);
  if (ok) return g;
  graph_free(g);
  return NULL;
}

static bool drawn_value(const Value *v) {
  return v->kind == VK_INPUT || v->kind == VK_PARAM || v->kind == VK_STATE ||
         (v->kind == VK_CONST && v->shape.rank > 0);
}

/* The DOT id of what produces v: its node, or the value's own ellipse. */
static const char *source_id(Graph *g, const Value *v) {
  return v->def ? arena_printf(&g->arena, "n%d", v->def->id) : arena_printf(&g->arena, "v%d", v->id);
}

static void put_values(Buf *b, Graph *g) {
  static const char *kinds[] = {[VK_INPUT] = "input", [VK_PARAM] = "param", [VK_STATE] = "state", [VK_CONST] = "const"};
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (!v->def && drawn_value(v))
      buf_printf(b, "  v%d [label=\"%s\\n%s%s %s%s\", shape=ellipse%s];\n", v->id, v->name, kinds[v->kind],
                 v->frozen ? " (frozen)" : "", dtype_name(v->dtype), shape_str(&g->arena, v->shape),
                 v->kind == VK_INPUT ? ", style=filled, fillcolor=\"#dbe9f6\"" : "");
  }
}

static void put_node(Buf *b, const Node *n, const char *indent) {
  buf_printf(b, "%sn%d [label=\"%s\\n%s\"];\n", indent, n->id, n->out[0]->name, op_name(n->op));
}

static void put_cluster(Buf *b, Graph *g, const char *name, const char *color, int from, int to) {
  if (from >= to) return;
  buf_printf(b, "  subgraph cluster_%s {\n    label=\"%s\"; style=filled; color=\"%s\";\n", name, name, color);
  for (int i = from; i < to; i++)
    put_node(b, g->nodes[i], "    ");
  buf_puts(b, "  }\n");
}

static void put_edges(Buf *b, Graph *g) {
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; k < n->nin; k++)
      if (n->in[k]->def || drawn_value(n->in[k]))
        buf_printf(b, "  %s -> n%d [label=\"%s\"];\n", source_id(g, n->in[k]), n->id,
                   shape_str(&g->arena, n->in[k]->shape));
  }
  for (int i = 0; i < g->nassigns; i++)
    buf_printf(b, "  %s -> v%d [style=dashed, label=\"assign\"];\n", source_id(g, g->assigns[i].src),
               g->assigns[i].dst->id);
  for (int i = 0; i < g->noutputs; i++)
    buf_printf(b, "  out%d [label=\"output %s\", shape=plaintext];\n  %s -> out%d [label=\"%s\"];\n", i,
               g->outputs[i]->name, source_id(g, g->outputs[i]), i, shape_str(&g->arena, g->outputs[i]->shape));
}

static void dot_write(Buf *b, Graph *g, const Stages *st) {
  for (int i = 0; i < g->nnodes; i++)
    g->nodes[i]->id = i;
  buf_printf(b, "digraph \"%s\" {\n  node [shape=box, fontname=\"Helvetica\"];\n", g->name);
  buf_puts(b, "  edge [fontname=\"Helvetica\", fontsize=10];\n");
  put_values(b, g);
  for (int i = 0; i < st->nforward; i++)
    put_node(b, g->nodes[i], "  ");
  put_cluster(b, g, "backward", "#fdebd0", st->nforward, st->nbackward);
  put_cluster(b, g, "optimizer", "#e8f6e8", st->nbackward, g->nnodes);
  put_edges(b, g);
  buf_puts(b, "}\n");
}

int dot_main(int argc, char **argv) {
  ToolArgs a = {0};
  if (!tool_args(argc, argv, "-o --quiet --train --freeze --dim --loss --optimizer", usage, &a)) return 1;
  Model *m = tool_load_model(&a);
  Stages st;
  Graph *g = m ? dot_graph(m, a.train, &st) : NULL;
  Buf b = {0};
  if (g) dot_write(&b, g, &st);
  bool ok = g && tool_write(&a, b.data, b.len, "nn2c dot writes a new file there");
  buf_free(&b);
  graph_free(g);
  model_free(m);
  return ok ? 0 : 1;
}
