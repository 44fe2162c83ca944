/* quantize.c - `nn2c quantize MODEL.nn --data DIR [--load CKPT] --calibrate N
 * [--calib minmax|percentile[:P]] [--test M] -o OUT.onnx`: post-training
 * static quantization (docs/int8.md).
 *
 * 1. The forward graph after shape inference with the checkpoint's weights
 *    (or the initial ones), weights turned into constants.
 * 2. Calibration: the interpreter runs the first N training samples of the
 *    model's data set (mnist or cifar10) and records each value's minimum and
 *    maximum; with --calib percentile:P (P 99.99 by default) a second run
 *    fills a 2048-bin histogram per value over that range and the range
 *    narrows to the P and 100 - P percentiles (bin edges).
 * 3. Every conv2d and dense layer (matmul of a constant) gets quantize ->
 *    dequantize pairs: its input and its output (after the bias and a relu)
 *    per tensor, int8 with a zero point mapping [min(lo, 0), max(hi, 0)] onto
 *    [-128, 127]; its weights per output channel, symmetric int8 in
 *    [-127, 127] (scale max|w| / 127), rounded half to even. Max pooling of a
 *    quantized value is quantized again with the same parameters.
 * 4. The graph is written as a QDQ ONNX model (onnx/write.c), which nn2c
 *    compile turns into int8 kernels (passes/qdq_fold.c).
 * 5. That file is imported back and run on the int8 kernels (interpreter) on
 *    the calibration samples (and M test samples): per-layer ranges, the
 *    float-vs-int8 output error and both accuracies are printed. */
#include "tools/tools.h"

#include <math.h>
#include <string.h>

#include "interp/interp.h"
#include "nn2c_rt.h"
#ifdef NN2C_HAVE_ONNX
#include "onnx.h"
#endif

static const char *usage =
    "usage: nn2c quantize MODEL.nn --data DIR [--load CKPT] --calibrate N [--calib minmax|percentile[:P]] [--test M] "
    "-o OUT.onnx\n";

typedef struct {
  const char *model, *ckpt, *data, *out;
  long calibrate, test;
  double pct; /* --calib percentile:P; 0 for min/max */
} QArgs;

typedef struct {
  double lo, hi;
} Range;

typedef struct {
  double s;
  int z;
} QP;

static bool parse_count(const char *flag, const char *v, long lo, long *out) {
  char *end;
  long n = v ? strtol(v, &end, 10) : 0;
  if (!v || *end || n < lo || n > 1000000) {
    error_plain("quantize: %s needs a whole number in [%ld, 1000000], got '%s'%s", flag, lo, v ? v : "",
                lo > 0 && v && !strcmp(v, "0") ? " (a calibration set of 0 samples gives no ranges)" : "");
    return false;
  }
  *out = n;
  return true;
}

/* --calib minmax | percentile[:P], P in (50, 100] (default 99.99). */
static bool parse_calib(const char *v, double *pct) {
  char *end = NULL;
  *pct = 0;
  if (!strcmp(v, "minmax")) return true;
  if (!strncmp(v, "percentile", 10) && (!v[10] || v[10] == ':')) {
    *pct = v[10] ? strtod(v + 11, &end) : 99.99;
    if (!v[10] || (end != v + 11 && !*end && *pct > 50 && *pct <= 100)) return true;
  }
  error_plain("quantize: --calib needs minmax, percentile or percentile:P with P in (50, 100], got '%s'", v);
  return false;
}

static bool parse_args(int argc, char **argv, QArgs *a) {
  memset(a, 0, sizeof *a);
  a->calibrate = -1;
  bool ok = true;
  for (int i = 2; i < argc && ok; i++) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(f, "-o") && v)
      a->out = v, i++;
    else if (!strcmp(f, "--load") && v)
      a->ckpt = v, i++;
    else if (!strcmp(f, "--data") && v)
      a->data = v, i++;
    else if (!strcmp(f, "--calibrate"))
      ok = parse_count(f, v, 1, &a->calibrate), i++;
    else if (!strcmp(f, "--calib") && v)
      ok = parse_calib(v, &a->pct), i++;
    else if (!strcmp(f, "--test"))
      ok = parse_count(f, v, 0, &a->test), i++;
    else if (f[0] != '-' && !a->model)
      a->model = f;
    else
      ok = false, error_plain("quantize: unexpected argument '%s'", f);
  }
  if (ok && (!a->model || !a->out || !a->data || a->calibrate < 0))
    ok = false, error_plain("quantize: MODEL, --data, --calibrate and -o are required");
  if (!ok) fputs(usage, stderr);
  return ok;
}

/* Step 1: params and state become constants holding their values. */
static void freeze_weights(Graph *g, const float *params, const float *state) {
  int64_t *poff = xcalloc((size_t)g->nvalues + 1, sizeof(int64_t)), *soff = xcalloc((size_t)g->nvalues + 1, 8);
  graph_block_layout(g, VK_PARAM, poff);
  graph_block_layout(g, VK_STATE, soff);
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_PARAM && v->kind != VK_STATE) continue;
    size_t bytes = sizeof(float) * (size_t)shape_numel_static(v->shape);
    v->data = arena_alloc(&g->arena, bytes + 8);
    memcpy(v->data, (v->kind == VK_PARAM ? params + poff[v->id] : state + soff[v->id]), bytes);
    v->kind = VK_CONST;
  }
  free(poff);
  free(soff);
}

/* Elements of one sample of v (its first dimension is the batch). */
static int64_t per_sample(const Value *v) {
  int64_t k = 1;
  for (int i = 1; i < v->shape.rank; i++)
    k *= v->shape.d[i];
  return k;
}

/* The first n samples of a split of the model's data set (0 train, 1 test). */
static bool load_split(Model *m, Value *x, const char *dir, int split, long n, nn2c_dataset *d) {
  char err[1024];
  const char *ds = m->train.present ? m->train.dataset : "";
  int rc = -1;
  memset(d, 0, sizeof *d);
  if (ds && !strcmp(ds, "mnist") && x->shape.rank == 4)
    rc = nn2c_load_mnist_sized(dir, split, (int)x->shape.d[1], (int)x->shape.d[2], d, err, sizeof err);
  else if (ds && !strcmp(ds, "cifar10"))
    rc = nn2c_load_cifar10_max(dir, split, (int)n, d, err, sizeof err);
  else
    snprintf(err, sizeof err, "quantize reads the mnist or cifar10 data sets; %s's is '%s'", m->name, ds ? ds : "");
  if (rc) {
    error_plain("%s", err);
    return false;
  }
  if (d->sample_numel != per_sample(x)) {
    error_plain("%s: samples of %d values do not fit input %s", dir, d->sample_numel, x->name);
    return false;
  }
  if (d->n > n) nn2c_dataset_truncate(d, (int)n);
  return true;
}

enum { NBINS = 2048 }; /* histogram bins per value for --calib percentile */

/* One sample a of a value with range r into its histogram h (bins over r). */
static void hist_add(uint32_t *h, Range r, double a) {
  double b = r.hi > r.lo ? (a - r.lo) / (r.hi - r.lo) * NBINS : 0;
  h[b < 0 ? 0 : b >= NBINS ? NBINS - 1 : (int)b]++;
}

/* r narrowed to the bin edges outside which at most (100 - pct)% of the
 * samples lie on each side: rare outliers no longer stretch the scale, at the
 * price of clipping them. */
static Range hist_clip(const uint32_t *h, Range r, double pct) {
  uint64_t n = 0, c = 0;
  for (int b = 0; b < NBINS; b++)
    n += h[b];
  double cut = (double)n * (100 - pct) / 100, w = (r.hi - r.lo) / NBINS;
  int lo = 0, hi = NBINS - 1;
  for (c = h[0]; lo < NBINS - 1 && (double)c <= cut; c += h[++lo]) {
  }
  for (c = h[NBINS - 1]; hi > lo && (double)c <= cut; c += h[--hi]) {
  }
  Range q = {r.lo + lo * w, r.lo + (hi + 1) * w};
  return q;
}

/* Runs g on the samples, 32 at a time: the first output (probabilities or
 * logits) into out and, for every f32 value, its range into r (hist NULL) or
 * each sample into its histogram over the range r (hist: NBINS per value). */
static bool run_samples(Graph *g, Value *x, const nn2c_dataset *d, Range *r, uint32_t *hist, float *out,
                        int64_t out_numel) {
  enum { B = 32 };
  float *buf = xcalloc((size_t)d->sample_numel * B + 1, sizeof(float)), dummy[16] = {0};
  bool ok = true;
  for (int i0 = 0; i0 < d->n && ok; i0 += B) {
    int b = d->n - i0 < B ? d->n - i0 : B;
    for (int k = 0; k < b; k++)
      nn2c_dataset_get(d, (size_t)(i0 + k), buf + (size_t)k * d->sample_numel);
    Feed f = {x->name, buf};
    InterpRun run;
    ok = interp_run(g, dummy, dummy, &f, 1, b, 0, &run);
    for (int v = 0; ok && r && v < g->nvalues; v++) {
      Tensor *t = &run.vals[v];
      if (!t->data || g->values[v]->dtype != DT_F32) continue;
      for (int64_t e = 0; e < t->numel; e++) {
        double a = tensor_get(t, e);
        if (hist)
          hist_add(hist + (size_t)v * NBINS, r[v], a);
        else
          r[v].lo = a < r[v].lo ? a : r[v].lo, r[v].hi = a > r[v].hi ? a : r[v].hi;
      }
    }
    if (ok)
      memcpy(out + (size_t)i0 * out_numel, run.vals[g->outputs[0]->id].data, sizeof(float) * (size_t)(b * out_numel));
    interp_run_free(&run);
  }
  free(buf);
  return ok;
}

/* Step 2b: the ranges clipped to the pct percentiles of a second run's histograms. */
static bool clip_ranges(Graph *g, Value *x, const nn2c_dataset *cal, Range *r, float *out, int64_t k, double pct) {
  uint32_t *hist = xcalloc((size_t)g->nvalues * NBINS, sizeof(uint32_t));
  bool ok = run_samples(g, x, cal, r, hist, out, k);
  for (int v = 0; ok && v < g->nvalues; v++)
    if (r[v].hi > r[v].lo) r[v] = hist_clip(hist + (size_t)v * NBINS, r[v], pct);
  free(hist);
  return ok;
}

static QP act_qp(Range r) {
  double lo = r.lo < 0 ? r.lo : 0, hi = r.hi > 0 ? r.hi : 0, s = (float)((hi - lo) / 255);
  QP p = {s > 0 ? s : 1, 0};
  double z = rint(-128 - lo / p.s);
  p.z = z < -128 ? -128 : z > 127 ? 127 : (int)z;
  return p;
}

static Value *scalar_const(Graph *g, const char *name, DType t, double v) {
  Value *c = value_new(g, name, VK_CONST, t, shape_scalar());
  c->data = arena_alloc(&g->arena, 8);
  Tensor tt = {t, c->shape, 1, c->data};
  tensor_set(&tt, 0, v);
  return c;
}

/* quantize -> dequantize of v with p; the dequantized value. */
static Value *qdq(Graph *g, Value *v, QP p) {
  Value *s = scalar_const(g, arena_printf(&g->arena, "%s_scale", v->name), DT_F32, p.s);
  Value *z = scalar_const(g, arena_printf(&g->arena, "%s_zero", v->name), DT_I8, p.z);
  Value *in[3] = {v, s, z};
  Value *q = build_finish(g, build_node(g, OP_QUANTIZE_LINEAR, 3, in));
  value_set_unique_name(g, q, arena_printf(&g->arena, "%s_q", v->name));
  in[0] = q;
  Value *d = build_finish(g, build_node(g, OP_DEQUANTIZE_LINEAR, 3, in));
  value_set_unique_name(g, d, arena_printf(&g->arena, "%s_dq", v->name));
  return d;
}

/* qdq after v: every use of v reads the dequantized value. */
static void qdq_after(Graph *g, Value *v, QP p) {
  Value *d = qdq(g, v, p);
  Node *q = d->def->in[0]->def;
  value_replace_uses(g, v, d);
  q->in[0] = v; /* the quantize itself still reads v */
}

static bool is_dq(const Value *v) { return v->def && v->def->op == OP_DEQUANTIZE_LINEAR; }

/* Weights w [..., F] per output channel: int8 in [-127, 127], scale max|w| / 127;
 * dequantize(wq, scales, axis=last). Prints the largest and smallest channel scale. */
static Value *quantized_weights(Graph *g, Value *w) {
  int64_t F = w->shape.d[w->shape.rank - 1], n = shape_numel_static(w->shape);
  const float *src = w->data;
  Value *wq = value_new(g, arena_printf(&g->arena, "%s_q", w->name), VK_CONST, DT_I8, w->shape);
  Value *sc = value_new(g, arena_printf(&g->arena, "%s_scale", w->name), VK_CONST, DT_F32, shape_make(1, &F));
  int8_t *q = wq->data = arena_alloc(&g->arena, (size_t)n + 8);
  float *s = sc->data = arena_alloc(&g->arena, sizeof(float) * (size_t)F + 8);
  for (int64_t f = 0; f < F; f++) {
    double m = 0;
    for (int64_t i = f; i < n; i += F)
      m = fabs(src[i]) > m ? fabs(src[i]) : m;
    s[f] = m > 0 ? (float)(m / 127) : 1.0f;
  }
  for (int64_t i = 0; i < n; i++) {
    double v = rint((double)(src[i] / s[i % F]));
    q[i] = (int8_t)(v < -127 ? -127 : v > 127 ? 127 : v);
  }
  Value *in[2] = {wq, sc};
  Node *dq = build_node(g, OP_DEQUANTIZE_LINEAR, 2, in);
  node_set_int(g, dq, "axis", w->shape.rank - 1);
  return build_finish(g, dq);
}

/* The layer's output: after a bias add and a relu that only it feeds. */
static Value *layer_out(Graph *g, Value *y) {
  for (int step = 0; step < 2; step++) {
    Node *u = NULL;
    for (int i = 0; i < g->nnodes && y->nuses == 1; i++)
      for (int k = 0; k < g->nodes[i]->nin; k++)
        if (g->nodes[i]->in[k] == y) u = g->nodes[i];
    if (u && ((u->op == OP_ADD && u->in[0] == y && u->in[1]->kind == VK_CONST) || u->op == OP_RELU) &&
        !graph_is_root(g, y))
      y = u->out[0];
  }
  return y;
}

static void print_range(const char *what, const Value *v, Range r, QP p) {
  printf("  %-7s %-12s [%10.4f, %10.4f]  scale %.6g  zero point %d\n", what, v->name, r.lo, r.hi, p.s, p.z);
}

/* A conv2d or a dense layer's matmul with constant f32 weights. */
static bool quantizable(const Node *n) {
  bool conv = n->op == OP_CONV2D;
  if (!conv && !(n->op == OP_MATMUL && !node_int(n, "transa", 0) && !node_int(n, "transb", 0))) return false;
  Value *x = n->in[0], *w = n->in[1];
  return w->kind == VK_CONST && w->dtype == DT_F32 && w->shape.rank == (conv ? 4 : 2) &&
         x->shape.rank == (conv ? 4 : 2);
}

static int count_layers(const Graph *g) {
  int n = 0;
  for (int i = 0; i < g->nnodes; i++)
    n += quantizable(g->nodes[i]);
  return n;
}

/* Step 3 on one layer; false when it is not a quantizable one. */
static bool quantize_layer(Graph *g, Node *n, const Range *r) {
  if (!quantizable(n)) return false;
  bool conv = n->op == OP_CONV2D;
  Value *x = n->in[0], *w = n->in[1];
  printf("%s %s:\n", conv ? "conv2d" : "dense", n->out[0]->name);
  bool in_q = is_dq(x) || (x->def && x->def->op == OP_RESHAPE && is_dq(x->def->in[0]));
  if (!in_q) {
    QP p = act_qp(r[x->id]);
    print_range("input", x, r[x->id], p);
    n->in[0] = qdq(g, x, p);
  } else
    printf("  input   %-12s (quantized by the layer before)\n", x->name);
  n->in[1] = quantized_weights(g, w);
  const float *s = n->in[1]->def->in[1]->data;
  int64_t F = w->shape.d[w->shape.rank - 1];
  double smin = s[0], smax = s[0];
  for (int64_t f = 1; f < F; f++)
    smin = s[f] < smin ? s[f] : smin, smax = s[f] > smax ? s[f] : smax;
  printf("  weights %-12s %lld channels, scales %.6g .. %.6g (int8, symmetric)\n", w->name, (long long)F, smin, smax);
  graph_recount(g);
  Value *y = layer_out(g, n->out[0]);
  QP p = act_qp(r[y->id]);
  print_range("output", y, r[y->id], p);
  qdq_after(g, y, p);
  return true;
}

/* Max pooling of a dequantized value: quantized again with the same parameters. */
static void quantize_pool(Graph *g, Node *n) {
  if (n->op != OP_MAXPOOL2D || !is_dq(n->in[0])) return;
  Node *dq = n->in[0]->def;
  Tensor ts = {DT_F32, shape_scalar(), 1, dq->in[1]->data}, tz = {DT_I8, shape_scalar(), 1, dq->in[2]->data};
  QP p = {tensor_get(&ts, 0), (int)tensor_get(&tz, 0)};
  printf("maxpool2d %s: int8, the input's scale and zero point\n", n->out[0]->name);
  qdq_after(g, n->out[0], p);
}

static int argmax(const float *p, int64_t n) {
  int best = 0;
  for (int64_t i = 1; i < n; i++)
    best = p[i] > p[best] ? (int)i : best;
  return best;
}

/* Step 5: float and int8 outputs side by side. */
static void report(const char *what, const nn2c_dataset *d, const float *f, const float *q, int64_t k) {
  double maxd = 0, sumd = 0;
  int agree = 0, right_f = 0, right_q = 0;
  for (int i = 0; i < d->n; i++) {
    for (int64_t j = 0; j < k; j++) {
      double e = fabs((double)f[i * k + j] - q[i * k + j]);
      maxd = e > maxd ? e : maxd, sumd += e;
    }
    int a = argmax(f + i * k, k), b = argmax(q + i * k, k);
    agree += a == b;
    if (d->yi) right_f += a == d->yi[i], right_q += b == d->yi[i];
  }
  printf("%s (%d samples): float vs int8 output error max %.6f mean %.6f; same class %.2f%%", what, d->n, maxd,
         sumd / ((double)d->n * (double)k), 100.0 * agree / d->n);
  if (d->yi) printf("; accuracy float %.2f%%, int8 %.2f%%", 100.0 * right_f / d->n, 100.0 * right_q / d->n);
  printf("\n");
}

#ifdef NN2C_HAVE_ONNX
/* The written model imported and compiled as nn2c compile would: the int8 graph. */
static Graph *int8_graph(const char *path, int *nint) {
  OnnxOptions o;
  memset(&o, 0, sizeof o);
  o.batch_dim = ""; /* the first input's symbolic first dimension: the batch, as nn2c compile makes it */
  Graph *g = onnx_import(path, &o, NULL);
  PassCtx cx = {0};
  if (!g || !pass_run_pipeline(g, &cx, PIPELINE_INFER)) return graph_free(g), NULL;
  arena_free(&cx.scratch);
  *nint = 0;
  for (int i = 0; i < g->nnodes; i++)
    *nint += g->nodes[i]->op == OP_CONV_INTEGER || g->nodes[i]->op == OP_MATMUL_INTEGER;
  return g;
}

static bool quantize(Model *m, const QArgs *a) {
  PassCtx cx = {0};
  Graph *g = model_compile(m, MODE_INFER, "shape", &cx);
  if (!g) return false;
  float *params, *state;
  bool ok = interp_weights(m, g, a->ckpt, &params, &state);
  if (ok) freeze_weights(g, params, state);
  free(params);
  free(state);
  Value *x = NULL;
  for (int i = 0; i < g->nvalues && !x; i++)
    x = g->values[i]->kind == VK_INPUT ? g->values[i] : NULL;
  if (ok && !count_layers(g))
    ok = false, error_plain("%s: no quantizable layer (conv2d or dense) in the model", a->model);
  int64_t k = per_sample(g->outputs[0]);
  nn2c_dataset cal = {0}, test = {0};
  ok = ok && x && shape_has_batch(x->shape) && shape_has_batch(g->outputs[0]->shape) &&
       load_split(m, x, a->data, 0, a->calibrate, &cal) && (!a->test || load_split(m, x, a->data, 1, a->test, &test));
  if (ok && cal.n == 0) ok = false, error_plain("%s: the calibration set has 0 samples", a->data);
  Range *r = xcalloc((size_t)g->nvalues + 1, sizeof(Range));
  float *fc = ok ? xcalloc((size_t)(cal.n * k) + 1, sizeof(float)) : NULL, *qc = NULL;
  float *ft = ok ? xcalloc((size_t)(test.n * k) + 1, sizeof(float)) : NULL, *qt = NULL;
  for (int i = 0; i < g->nvalues; i++)
    r[i].lo = INFINITY, r[i].hi = -INFINITY;
  ok = ok && run_samples(g, x, &cal, r, NULL, fc, k) && (!test.n || run_samples(g, x, &test, NULL, NULL, ft, k));
  ok = ok && (!a->pct || clip_ranges(g, x, &cal, r, fc, k, a->pct));
  int layers = 0, n0 = g->nnodes, nint = 0;
  if (ok && a->pct)
    printf("calibration: %d training samples, ranges clipped to the %g%% percentiles\n", cal.n, a->pct);
  else if (ok)
    printf("calibration: %d training samples, ranges min/max\n", cal.n);
  for (int i = 0; ok && i < n0; i++) /* in order: a pool sees its input already quantized */
    if (g->nodes[i]->op == OP_MAXPOOL2D)
      quantize_pool(g, g->nodes[i]);
    else
      layers += quantize_layer(g, g->nodes[i], r);
  ok = ok && pass_schedule(g, &cx) && pass_dce(g, &cx);
  float dummy[16] = {0};
  size_t bytes = 0;
  ok = ok && onnx_write_graph(g, dummy, dummy, a->out, &bytes);
  Graph *q = ok ? int8_graph(a->out, &nint) : NULL;
  if (ok && q) {
    Value *qx = graph_find(q, x->name);
    qc = xcalloc((size_t)(cal.n * k) + 1, sizeof(float)), qt = xcalloc((size_t)(test.n * k) + 1, sizeof(float));
    ok = qx && run_samples(q, qx, &cal, NULL, NULL, qc, k) && (!test.n || run_samples(q, qx, &test, NULL, NULL, qt, k));
    printf("wrote %s (%zu bytes): %d layers quantized, %d run as int8 kernels\n", a->out, bytes, layers, nint);
    if (ok) report("calibration set", &cal, fc, qc, k);
    if (ok && test.n) report("test set", &test, ft, qt, k);
  }
  ok = ok && q;
  graph_free(q);
  free(r), free(fc), free(qc), free(ft), free(qt);
  nn2c_dataset_free(&cal);
  nn2c_dataset_free(&test);
  graph_free(g);
  arena_free(&cx.scratch); /* the passes run here directly, not by the runner that frees it */
  return ok;
}
#endif

int quantize_main(int argc, char **argv) {
  QArgs a;
  if (!parse_args(argc, argv, &a)) return 1;
#ifdef NN2C_HAVE_ONNX
  Model *m = model_load(a.model);
  bool ok = m && quantize(m, &a);
  model_free(m);
  return ok ? 0 : 1;
#else
  error_plain("%s: quantize writes ONNX and needs an nn2c built with ONNX support (-DNN2C_ONNX=ON)", a.model);
  return 1;
#endif
}
