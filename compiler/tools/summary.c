/* summary.c - `nn2c summary MODEL [--batch B] [--train]`: Keras's
 * model.summary() for a .nn or ONNX model.
 *
 * 1. The forward graph after shape inference is cut into rows: the nodes a
 *    .nn layer line lowered to (they carry its line) make one row named after
 *    the layer's output; every other node (graph sections, ONNX) is a row.
 * 2. A parameter counts in the first row that reads it: trainable, or frozen
 *    (trainable=false, --freeze, and persistent state such as running means).
 * 3. Totals: parameters and bytes, multiply-adds and FLOPs per sample, the
 *    memory plan of the compiled inference graph at batch B, and with --train
 *    the compiled training step's FLOPs, arena and optimizer state. */
#include "tools/tools.h"

#include <string.h>

static const char *usage =
    "usage: nn2c summary MODEL [--batch B] [--train] [--freeze GLOB]... [--dim NAME=VALUE]... [--loss LOSS] "
    "[--optimizer O]\n";

typedef struct {
  const char *name, *op;
  Shape shape;
  int64_t trainable, frozen, macs;
} Row;

/* "1,234,567", as Keras prints counts. */
static const char *commas(Arena *a, int64_t x) {
  char digits[32], out[48];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)(x < 0 ? -x : x)), k = 0;
  if (x < 0) out[k++] = '-';
  for (int i = 0; i < n; i++) {
    if (i && (n - i) % 3 == 0) out[k++] = ',';
    out[k++] = digits[i];
  }
  out[k] = 0;
  return arena_strdup(a, out);
}

static bool auto_named(const char *s) { return s[0] == 't' && s[1] && strspn(s + 1, "0123456789") == strlen(s + 1); }

/* The .nn layer written on `line`, or NULL. */
static const Line *layer_at(const Model *m, int line) {
  for (int i = 0; line && !m->import && !m->file->graph && i < m->file->nlayers; i++)
    if (m->file->layers[i].line == line) return &m->file->layers[i];
  return NULL;
}

static void count_params(const Node *n, bool *seen, Row *r) {
  for (int k = 0; k < n->nin; k++) {
    Value *v = n->in[k];
    if ((v->kind != VK_PARAM && v->kind != VK_STATE) || seen[v->id]) continue;
    seen[v->id] = true;
    int64_t c = shape_numel_static(v->shape);
    if (v->kind == VK_PARAM && !v->frozen)
      r->trainable += c;
    else
      r->frozen += c;
  }
}

/* A layer's row is named after its output up to the first '_' ("lstm1" for
 * "lstm1_h99"), other rows after their output; unnamed outputs ("t12") get
 * the op and a count ("flatten_1"). */
static const char *row_name(Graph *g, const Row *rows, const Row *r, const char *out, bool layer) {
  if (!auto_named(out)) return layer ? arena_strndup(&g->arena, out, strcspn(out, "_")) : out;
  int k = 1;
  for (const Row *p = rows; p < r; p++)
    k += !strcmp(p->op, r->op);
  return arena_printf(&g->arena, "%s_%d", r->op, k);
}

/* Step 1 and 2: the rows of graph g (allocated in its arena). */
static Row *summary_rows(const Model *m, Graph *g, int *nrows) {
  Row *rows = arena_alloc(&g->arena, sizeof(Row) * (size_t)(g->nnodes + 1));
  bool *seen = xcalloc((size_t)g->nvalues, sizeof(bool));
  int n = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *nd = g->nodes[i];
    const Line *l = layer_at(m, nd->line);
    bool same = n && l && i && g->nodes[i - 1]->line == nd->line;
    Row *r = same ? &rows[n - 1] : &rows[n++];
    if (!same) r->op = l ? l->kind : op_name(nd->op);
    r->shape = nd->out[0]->shape;
    r->name = row_name(g, rows, r, nd->out[0]->name, l != NULL);
    r->macs += node_macs(nd, 1);
    count_params(nd, seen, r);
  }
  free(seen);
  *nrows = n;
  return rows;
}

static void print_table(Graph *g, const Row *rows, int n) {
  printf("%-24s %-14s %-20s %12s %10s %14s\n", "Layer", "Op", "Output shape", "Trainable", "Frozen", "MACs/sample");
  printf("%.*s\n", 99,
         "===================================================================================================");
  for (int i = 0; i < n; i++)
    printf("%-24s %-14s %-20s %12s %10s %14s\n", rows[i].name, rows[i].op, shape_str(&g->arena, rows[i].shape),
           commas(&g->arena, rows[i].trainable), commas(&g->arena, rows[i].frozen), commas(&g->arena, rows[i].macs));
  printf("%.*s\n", 99,
         "===================================================================================================");
}

static int64_t graph_flops(const Graph *g, int64_t batch) {
  int64_t f = 0;
  for (int i = 0; i < g->nnodes; i++)
    f += node_flops(g->nodes[i], batch);
  return f;
}

static void print_plan(Arena *a, const char *what, const PassCtx *cx, int64_t batch) {
  printf("%s arena at batch %lld: %s bytes (%s + %s per sample)\n", what, (long long)batch,
         commas(a, cx->arena_fixed + cx->arena_per_sample * batch), commas(a, cx->arena_fixed),
         commas(a, cx->arena_per_sample));
}

/* Step 3: totals of the forward graph g and its compiled inference plan. */
static void print_totals(Graph *g, const Row *rows, int n, const PassCtx *infer, int64_t batch) {
  int64_t tr = 0, fr = 0, macs = 0;
  for (int i = 0; i < n; i++)
    tr += rows[i].trainable, fr += rows[i].frozen, macs += rows[i].macs;
  Arena *a = &g->arena;
  printf("Total params: %s (%s bytes)\n", commas(a, tr + fr), commas(a, 4 * (tr + fr)));
  printf("Trainable params: %s\nFrozen params: %s\n", commas(a, tr), commas(a, fr));
  printf("Forward per sample: %s multiply-adds, %s FLOPs\n", commas(a, macs), commas(a, graph_flops(g, 1)));
  print_plan(a, "Inference", infer, batch);
}

static void print_training(Arena *a, Graph *tg, const PassCtx *cx, int64_t batch) {
  int64_t f = graph_flops(tg, batch), with_grad = 0;
  for (int i = 0; i < tg->ngrads; i++)
    with_grad += shape_numel_static(tg->grads[i].param->shape);
  printf("Training step at batch %lld: %s FLOPs (%s per sample)\n", (long long)batch, commas(a, f),
         commas(a, f / batch));
  print_plan(a, "Training", cx, batch);
  printf("Gradients: %s params; optimizer state: %s bytes\n", commas(a, with_grad),
         commas(a, 4 * graph_block_layout(tg, VK_STATE, NULL)));
}

int summary_main(int argc, char **argv) {
  ToolArgs a = {0};
  if (!tool_args(argc, argv, "--batch --train --freeze --dim --loss --optimizer", usage, &a)) return 1;
  Model *m = tool_load_model(&a);
  if (!m) return 1;
  int64_t batch = tool_batch(&a, m);
  PassCtx fwd_cx = {0}, infer_cx = {0}, train_cx = {0};
  Graph *g = model_compile(m, MODE_INFER, "shape", &fwd_cx);
  Graph *ig = g ? model_compile(m, MODE_INFER, NULL, &infer_cx) : NULL;
  Graph *tg = ig && a.train ? model_compile(m, MODE_TRAIN, NULL, &train_cx) : NULL;
  bool ok = ig && (tg || !a.train);
  if (ok) {
    int n;
    Row *rows = summary_rows(m, g, &n);
    printf("Model: %s (%s)\n", m->name, a.model);
    print_table(g, rows, n);
    print_totals(g, rows, n, &infer_cx, batch);
    if (tg) print_training(&g->arena, tg, &train_cx, batch);
  }
  graph_free(g);
  graph_free(ig);
  graph_free(tg);
  model_free(m);
  return ok ? 0 : 1;
}
