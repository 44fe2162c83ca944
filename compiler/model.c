/* model.c - gives meaning to a parsed .nn file: lowers the layer list (or
 * takes the graph section), adds the loss for eval/train graphs, reads the
 * train and data sections. Errors point at the offending line and column. */
#include "lower.h"

#include <fnmatch.h>
#include <math.h>
#include <string.h>

#include "nn2c_rt.h"

#define KERAS_EPSILON 1e-7

/* ---- loss ---- */

static Value *scalar_reduce(Graph *g, Value *v, bool sum) {
  Node *n = build_node(g, sum ? OP_REDUCE_SUM : OP_REDUCE_MEAN, 1, &v);
  node_set_int(g, n, "keepdims", 0);
  return build_finish(g, n);
}

/* Keras losses on probabilities; clip keeps log away from 0 exactly as Keras
 * does, and simplify turns log(clip(softmax(z))) into log_softmax(z). */
static Value *build_loss(Graph *g, const TrainSpec *t, Value *p, Value *y) {
  Value *one = build_scalar(g, DT_F32, 1.0);
  switch (t->loss) {
  case LOSS_MSE: {
    Value *d = build2(g, OP_SUB, p, y);
    return scalar_reduce(g, build2(g, OP_MUL, d, d), t->sum);
  }
  case LOSS_BCE: {
    Node *c = build_node(g, OP_CLIP, 1, &p);
    node_set_float(g, c, "min", KERAS_EPSILON);
    node_set_float(g, c, "max", 1 - KERAS_EPSILON);
    Value *pc = build_finish(g, c);
    Value *a = build2(g, OP_MUL, y, build1(g, OP_LOG, pc));
    Value *log_not_p = build1(g, OP_LOG, build2(g, OP_SUB, one, pc));
    Value *b = build2(g, OP_MUL, build2(g, OP_SUB, one, y), log_not_p);
    return build1(g, OP_NEG, scalar_reduce(g, build2(g, OP_ADD, a, b), t->sum));
  }
  case LOSS_CCE:
  case LOSS_SPARSE_CCE: {
    Node *c = build_node(g, OP_CLIP, 1, &p);
    node_set_float(g, c, "min", KERAS_EPSILON);
    node_set_float(g, c, "max", 1.0);
    Value *lp = build1(g, OP_LOG, build_finish(g, c));
    if (t->loss == LOSS_SPARSE_CCE) return scalar_reduce(g, build2(g, OP_NLL, lp, y), t->sum);
    Node *r = build_node(g, OP_REDUCE_SUM, 1, (Value *[]){build2(g, OP_MUL, y, lp)});
    node_set_ints(g, r, "axes", (int64_t[]){1}, 1);
    node_set_int(g, r, "keepdims", 0);
    return build1(g, OP_NEG, scalar_reduce(g, build_finish(g, r), t->sum));
  }
  }
  return NULL;
}

/* ---- train section ---- */

static bool parse_loss(Source *src, const Line *l, TrainSpec *t) {
  static const char *names[] = {"mse", "binary_crossentropy", "categorical_crossentropy",
                                "sparse_categorical_crossentropy"};
  const char *n = l->nargs == 1 && l->args[0]->kind == EX_IDENT ? l->args[0]->ident : "";
  int k = -1;
  for (int i = 0; i < 4; i++)
    if (!strcmp(n, names[i])) k = i;
  if (k < 0) {
    error_at(src, l->line, l->col,
             "unknown loss '%s' (expected mse, binary_crossentropy, categorical_crossentropy or "
             "sparse_categorical_crossentropy)",
             n);
    return false;
  }
  t->loss = (LossKind)k;
  t->loss_line = l->line, t->loss_col = l->col;
  const KwArg *r = line_kw(l, "reduction");
  if (r) {
    const char *rv = r->val->kind == EX_IDENT ? r->val->ident : "";
    if (strcmp(rv, "sum") && strcmp(rv, "mean")) {
      error_at(src, r->line, r->col, "reduction must be sum or mean");
      return false;
    }
    t->sum = !strcmp(rv, "sum");
  }
  return true;
}

static bool kw_num(Source *src, const Line *l, const char *key, double *out) {
  const KwArg *k = line_kw(l, key);
  return !k || expr_num(src, k->val, out);
}

static bool parse_optimizer(Source *src, const Line *l, OptSpec *o) {
  const char *n = l->nargs == 1 && l->args[0]->kind == EX_IDENT ? l->args[0]->ident : "";
  static const char *keys[] = {"lr", "momentum", "nesterov", "beta1", "beta2", "epsilon", NULL};
  for (int i = 0; i < l->nkw; i++) {
    bool known = false;
    for (int j = 0; keys[j]; j++)
      known = known || !strcmp(l->kw[i].key, keys[j]);
    if (!known) {
      error_at(src, l->kw[i].line, l->kw[i].col, "unknown optimizer option '%s'", l->kw[i].key);
      return false;
    }
  }
  if (!strcmp(n, "sgd"))
    *o = (OptSpec){OPT_SGD, 0.01, 0, false, 0.9, 0.999, 1e-7, o->weight_decay, o->ema};
  else if (!strcmp(n, "adam"))
    *o = (OptSpec){OPT_ADAM, 0.001, 0, false, 0.9, 0.999, 1e-7, o->weight_decay, o->ema};
  else {
    error_at(src, l->line, l->col, "unknown optimizer '%s' (expected sgd or adam)", n);
    return false;
  }
  double nesterov = 0;
  bool ok = kw_num(src, l, "lr", &o->lr) && kw_num(src, l, "momentum", &o->momentum) &&
            kw_num(src, l, "nesterov", &nesterov) && kw_num(src, l, "beta1", &o->beta1) &&
            kw_num(src, l, "beta2", &o->beta2) && kw_num(src, l, "epsilon", &o->epsilon);
  o->nesterov = nesterov != 0;
  if (ok && !((float)o->lr > 0 && isfinite((float)o->lr))) { /* the step uses it as a float */
    error_at(src, l->line, l->col, "the learning rate must be positive and finite as a float (1e-45 to 3e38)");
    return false;
  }
  return ok;
}

/* `dataset NAME key=value ...`: the options travel to the trainer as text;
 * the runtime's parser checks them here already, so errors point at the line. */
static bool parse_dataset(Source *src, Arena *arena, const Line *l, TrainSpec *t) {
  const Expr *a = l->nargs == 1 ? l->args[0] : NULL;
  if (!a || a->kind != EX_IDENT) {
    error_at(src, l->line, l->col, "expected `dataset NAME [key=value ...]`");
    return false;
  }
  Buf opts = {0};
  buf_puts(&opts, "");
  for (int i = 0; i < l->nkw; i++) {
    const Expr *v = l->kw[i].val;
    if (v->kind != EX_NUM || !v->is_int || v->inum < 0 || v->inum > INT32_MAX) {
      error_at(src, l->kw[i].line, l->kw[i].col, "dataset option '%s' must be a non-negative integer", l->kw[i].key);
      buf_free(&opts);
      return false;
    }
    buf_printf(&opts, "%s%s=%lld", i ? " " : "", l->kw[i].key, (long long)v->inum);
  }
  nn2c_data_spec spec;
  char err[512];
  bool ok = nn2c_data_spec_parse(a->ident, opts.data, &spec, err, sizeof err) == 0;
  if (!ok) error_at(src, a->line, a->col, "%s", err);
  t->dataset = a->ident;
  t->dataset_options = ok ? arena_strdup(arena, opts.data) : "";
  t->dataset_line = l->line, t->dataset_col = l->col;
  buf_free(&opts);
  return ok;
}

/* `ema MOMENTUM`: the moving average's momentum, in (0, 1). */
static bool parse_ema(Source *src, const Expr *a, double *ema) {
  if (!expr_num(src, a, ema)) return false;
  if (*ema > 0 && *ema < 1) return true;
  error_at(src, a->line, a->col, "the ema momentum must lie between 0 and 1 (Keras's default: 0.99)");
  return false;
}

/* Appends "--flag value\n" to the trainer flags the model carries. */
static void add_train_flag(Arena *arena, TrainSpec *t, const char *flag, const char *value) {
  t->train_flags = arena_printf(arena, "%s%s %s\n", t->train_flags ? t->train_flags : "", flag, value);
}

/* `lr_schedule KIND key=value ...`: checked by the runtime's parser, which the trainer runs again. */
static bool parse_lr_schedule(Source *src, Arena *arena, const Line *l, TrainSpec *t) {
  const Expr *a = l->nargs == 1 ? l->args[0] : NULL;
  if (!a || a->kind != EX_IDENT) {
    error_at(src, l->line, l->col, "expected `lr_schedule KIND [key=value ...]` (step, exponential, cosine, plateau)");
    return false;
  }
  Buf text = {0};
  buf_puts(&text, a->ident);
  for (int i = 0; i < l->nkw; i++) {
    if (l->kw[i].val->kind != EX_NUM) {
      error_at(src, l->kw[i].line, l->kw[i].col, "lr_schedule option '%s' must be a number", l->kw[i].key);
      buf_free(&text);
      return false;
    }
    buf_printf(&text, " %s=%.17g", l->kw[i].key, l->kw[i].val->num);
  }
  nn2c_lr_schedule sched;
  char err[512];
  bool ok = nn2c_lr_schedule_parse(text.data, &sched, err, sizeof err) == 0;
  if (!ok) error_at(src, l->line, l->col, "%s", err);
  if (ok) add_train_flag(arena, t, "--lr-schedule", text.data);
  buf_free(&text);
  return ok;
}

/* early_stop PATIENCE, monitor METRIC, save_best "FILE", lr_schedule ...: the trainer's callback flags. */
static bool parse_callback(Source *src, Arena *arena, const Line *l, TrainSpec *t, bool *ok) {
  const char *k = l->kind;
  const Expr *a = l->nargs == 1 && !l->nkw ? l->args[0] : NULL;
  int64_t v;
  char err[512];
  int index;
  if (!strcmp(k, "lr_schedule")) return *ok = parse_lr_schedule(src, arena, l, t), true;
  if (strcmp(k, "early_stop") && strcmp(k, "monitor") && strcmp(k, "save_best")) return false;
  *ok = false;
  if (!a)
    error_at(src, l->line, l->col, "'%s' takes one value", k);
  else if (!strcmp(k, "early_stop") && expr_int(src, a, 1, INT32_MAX, &v))
    add_train_flag(arena, t, "--early-stop", arena_printf(arena, "%lld", (long long)v)), *ok = true;
  else if (!strcmp(k, "monitor") && (a->kind != EX_IDENT || nn2c_monitor_parse(a->ident, &index, err, sizeof err)))
    error_at(src, a->line, a->col, "%s", a->kind == EX_IDENT ? err : "expected a metric name such as val_loss");
  else if (!strcmp(k, "monitor"))
    add_train_flag(arena, t, "--monitor", a->ident), *ok = true;
  else if (!strcmp(k, "save_best") && (a->kind != EX_STRING || !a->ident[0] || strchr(a->ident, '\n')))
    error_at(src, a->line, a->col, "expected a file name in quotes: save_best \"best.ckpt\"");
  else if (!strcmp(k, "save_best"))
    add_train_flag(arena, t, "--save-best", a->ident), *ok = true;
  return true;
}

static bool parse_train_line(Source *src, Arena *arena, const Line *l, TrainSpec *t) {
  const char *k = l->kind;
  int64_t v;
  bool ok;
  if (!strcmp(k, "loss")) return parse_loss(src, l, t);
  if (!strcmp(k, "optimizer")) return parse_optimizer(src, l, &t->opt);
  if (!strcmp(k, "dataset")) return parse_dataset(src, arena, l, t);
  if (parse_callback(src, arena, l, t, &ok)) return ok;
  if (l->nargs != 1) {
    error_at(src, l->line, l->col, "'%s' takes one value", k);
    return false;
  }
  const Expr *a = l->args[0];
  if (!strcmp(k, "batch")) return expr_int(src, a, 1, 1 << 20, &v) && (t->batch = (int)v, true);
  if (!strcmp(k, "epochs")) return expr_int(src, a, 1, 1 << 30, &v) && (t->epochs = (int)v, true);
  if (!strcmp(k, "seed")) return expr_int(src, a, 0, INT64_MAX, &v) && (t->seed = (uint64_t)v, true);
  if (!strcmp(k, "weight_decay")) return expr_num(src, a, &t->opt.weight_decay);
  if (!strcmp(k, "ema")) return parse_ema(src, a, &t->opt.ema);
  if (!strcmp(k, "metrics")) {
    if (a->kind != EX_IDENT || strcmp(a->ident, "accuracy")) {
      error_at(src, a->line, a->col, "the only metric is accuracy");
      return false;
    }
    return t->accuracy = true;
  }
  error_at(src, l->line, l->col, "unknown train setting '%s'", k);
  return false;
}

static bool parse_train(Model *m) {
  ModelFile *f = m->file;
  TrainSpec *t = &m->train;
  *t = (TrainSpec){f->has_train,
                   LOSS_MSE,
                   false,
                   {OPT_SGD, 0.01, 0, false, 0.9, 0.999, 1e-7, 0, 0},
                   32,
                   1,
                   1,
                   false,
                   f->ndata ? "inline" : "mnist",
                   "",
                   0,
                   0,
                   NULL,
                   0,
                   0};
  bool ok = true, have_loss = false;
  for (int i = 0; i < f->ntrain; i++) {
    ok = parse_train_line(&f->src, &m->arena, &f->train[i], t) && ok;
    have_loss = have_loss || !strcmp(f->train[i].kind, "loss");
  }
  if (f->has_train && !have_loss) {
    error_at(&f->src, 1, 1, "the train section needs a `loss` line");
    ok = false;
  }
  return ok;
}

/* ---- data section ---- */

/* Appends the numbers of a (nested) list; false on a non-number. */
static bool flatten_numbers(Source *src, const Expr *e, Buf *out, int64_t *count) {
  if (e->kind == EX_NUM) {
    float f = (float)e->num;
    if (out->len + sizeof f + 1 > out->cap) {
      out->cap = (out->len + sizeof f + 1) * 2;
      out->data = xrealloc(out->data, out->cap);
    }
    memcpy(out->data + out->len, &f, sizeof f);
    out->len += sizeof f;
    (*count)++;
    return true;
  }
  if (e->kind != EX_LIST) {
    error_at(src, e->line, e->col, "expected a number or a list of numbers");
    return false;
  }
  for (int i = 0; i < e->nitems; i++)
    if (!flatten_numbers(src, e->items[i], out, count)) return false;
  return true;
}

static const KwArg *data_entry(ModelFile *f, const char *name) {
  for (int i = 0; i < f->ndata; i++)
    if (!strcmp(f->data[i].key, name)) return &f->data[i];
  return NULL;
}

/* Reads x and y of the data section, checked against the graph's input and labels. */
static bool load_inline_data(Model *m, Graph *eval) {
  ModelFile *f = m->file;
  const KwArg *x = data_entry(f, "x"), *y = data_entry(f, "y");
  for (int i = 0; i < f->ndata; i++)
    if (strcmp(f->data[i].key, "x") && strcmp(f->data[i].key, "y")) {
      error_at(&f->src, f->data[i].line, f->data[i].col, "unknown data entry '%s' (expected x and y)", f->data[i].key);
      return false;
    }
  if (!x || !y || x->val->kind != EX_LIST || y->val->kind != EX_LIST) {
    error_at(&f->src, f->ndata ? f->data[0].line : 1, 1, "the data section needs lists `x = [...]` and `y = [...]`");
    return false;
  }
  int n = x->val->nitems;
  Value *in = eval->values[0], *lab = graph_find(eval, LABELS_NAME);
  int64_t in_numel = shape_numel(in->shape, 1), lab_numel = shape_numel(lab->shape, 1);
  Buf bx = {0}, by = {0};
  int64_t cx = 0, cy = 0;
  bool ok = flatten_numbers(&f->src, x->val, &bx, &cx) && flatten_numbers(&f->src, y->val, &by, &cy);
  if (ok && (cx != (int64_t)n * in_numel || y->val->nitems != n || cy != (int64_t)n * lab_numel)) {
    error_at(&f->src, x->line, x->col,
             "data: x must have %d samples of %lld numbers and y %d samples of %lld (got %lld and %lld numbers)", n,
             (long long)in_numel, n, (long long)lab_numel, (long long)cx, (long long)cy);
    ok = false;
  }
  if (ok) {
    m->inline_n = n;
    m->inline_x = arena_alloc(&m->arena, bx.len);
    memcpy(m->inline_x, bx.data, bx.len);
    if (lab->dtype == DT_F32) {
      m->inline_yf = arena_alloc(&m->arena, by.len);
      memcpy(m->inline_yf, by.data, by.len);
    } else {
      int64_t classes = eval->outputs[0]->shape.d[eval->outputs[0]->shape.rank - 1];
      m->inline_yi = arena_alloc(&m->arena, sizeof(int32_t) * (size_t)n);
      for (int i = 0; i < n && ok; i++) {
        float c = ((float *)by.data)[i];
        if (!(c >= 0 && c < (float)classes && c == (float)(int32_t)c)) {
          error_at(&f->src, y->line, y->col, "data: label %d is %g; class labels must be integers in [0, %lld)", i,
                   (double)c, (long long)classes);
          ok = false;
        }
        m->inline_yi[i] = ok ? (int32_t)c : 0;
      }
    }
  }
  buf_free(&bx);
  buf_free(&by);
  return ok;
}

/* ---- whole models ---- */

/* The data a dataset line names must fit the model's input and labels
 * (the trainer checks again; here the error can point at the line). */
static bool check_dataset_fit(Model *m, Graph *eval) {
  const TrainSpec *t = &m->train;
  Value *in = eval->values[0], *lab = graph_find(eval, LABELS_NAME), *pred = eval->outputs[0];
  nn2c_data_spec spec;
  char err[512];
  if (!t->dataset_line || nn2c_data_spec_parse(t->dataset, t->dataset_options, &spec, err, sizeof err)) return true;
  if (!lab || nn2c_data_spec_fit(&spec, (int)shape_numel(in->shape, 1), (int)shape_numel(pred->shape, 1),
                                 (int)shape_numel(lab->shape, 1), lab->dtype != DT_F32, err, sizeof err) == 0)
    return true;
  error_at(&m->file->src, t->dataset_line, t->dataset_col, "%s", err);
  return false;
}

void model_free(Model *m) {
  if (!m) return;
  if (m->file) graph_free(m->file->graph); /* the parsed graph section owns its own memory */
  arena_free(&m->arena);
  free(m);
}

Model *model_load(const char *path) { return model_load_text(path, NULL); }

Model *model_load_text(const char *path, const char *text) {
  Model *m = xcalloc(1, sizeof(Model));
  m->file = text ? model_file_parse_text(path, text, &m->arena) : model_file_parse(path, &m->arena);
  bool ok = m->file != NULL;
  if (ok) {
    /* The layers are lowered after train-section errors too, so one run reports both. */
    ok = parse_train(m);
    m->name = m->file->name ? m->file->name : "model";
    Graph *g = model_build(m, m->train.present ? MODE_EVAL : MODE_INFER);
    ok = g != NULL && ok;
    if (ok && m->file->ndata) ok = m->train.present ? load_inline_data(m, g) : true;
    if (ok && !strcmp(m->train.dataset, "inline") && !m->inline_n && m->train.present) {
      error_at(&m->file->src, 1, 1, "dataset inline needs a data section");
      ok = false;
    }
    if (ok && m->train.present) ok = check_dataset_fit(m, g);
    graph_free(g);
    if (!ok) error_summary(&m->file->src);
  }
  if (!ok) {
    model_free(m);
    return NULL;
  }
  return m;
}

static void remove_dropout(Graph *g) {
  graph_recount(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    /* a mask read by a gradient (a training graph printed as IR) keeps its dropout */
    if (n->op != OP_DROPOUT || n->out[1]->nuses) continue;
    value_replace_uses(g, n->out[0], n->in[0]);
    n->dead = true;
  }
  graph_compact(g);
}

Model *model_new_imported(const char *path, const char *name, Graph *(*import)(const Model *, GraphMode),
                          const void *ctx) {
  Model *m = xcalloc(1, sizeof(Model));
  m->file = arena_alloc(&m->arena, sizeof(ModelFile));
  m->file->src = (Source){arena_strdup(&m->arena, path), "", 0};
  m->name = arena_strdup(&m->arena, name);
  m->train = (TrainSpec){.loss = LOSS_SPARSE_CCE,
                         .opt = {OPT_SGD, 0.01, 0, false, 0.9, 0.999, 1e-7, 0, 0},
                         .batch = 1,
                         .epochs = 1,
                         .seed = 1,
                         .dataset = "random",
                         .dataset_options = ""};
  m->import = import;
  m->import_ctx = ctx;
  return m;
}

static Graph *build_forward(Model *m, GraphMode mode) {
  ModelFile *f = m->file;
  if (m->import) {
    Graph *g = m->import(m, mode);
    if (g && mode != MODE_TRAIN) remove_dropout(g);
    return g;
  }
  if (f->graph) {
    /* Each mode gets a fresh copy: parse the same text again. */
    ModelFile *copy = model_file_parse_text(f->src.path, f->src.text, &m->arena);
    NN2C_ASSERT(copy && copy->graph);
    Graph *g = copy->graph;
    g->src = &f->src;
    if (mode != MODE_TRAIN) remove_dropout(g);
    PassCtx cx = {0};
    bool ok = g->noutputs >= 1 && g->nvalues > 0 && g->values[0]->kind == VK_INPUT;
    if (!ok) error_at(&f->src, 1, 1, "the graph needs an input (first) and an output");
    if (!ok || !pass_shape(g, &cx)) {
      graph_free(g);
      return NULL;
    }
    return g;
  }
  Graph *g = graph_new(m->name);
  g->src = &f->src;
  Lower L = {.m = m, .g = g, .mode = mode, .src = &f->src};
  Value *y = lower_layers(&L);
  if (!y || f->src.nerrors) {
    graph_free(g);
    return NULL;
  }
  graph_add_output(g, y);
  return g;
}

/* --freeze GLOB: the params whose names match are frozen; a glob matching none is an error
 * listing the names (so a typo does not silently train everything). */
static bool apply_freeze(Model *m, Graph *g) {
  bool ok = true;
  for (int k = 0; k < m->nfreeze; k++) {
    int hits = 0;
    for (int i = 0; i < g->nvalues; i++)
      if (g->values[i]->kind == VK_PARAM && !fnmatch(m->freeze[k], g->values[i]->name, 0))
        g->values[i]->frozen = true, hits++;
    ok = ok && hits > 0;
    if (hits || m->freeze_reported) continue;
    m->freeze_reported = true;
    Buf names = {0};
    for (int i = 0; i < g->nvalues; i++)
      if (g->values[i]->kind == VK_PARAM) buf_printf(&names, "%s%s", names.len ? ", " : "", g->values[i]->name);
    error_plain("%s: --freeze '%s' matches no parameter (the parameters: %s)", m->file->src.path, m->freeze[k],
                names.len ? names.data : "none");
    buf_free(&names);
  }
  return ok;
}

Graph *model_build(Model *m, GraphMode mode) {
  Graph *g = build_forward(m, mode);
  if (g && !apply_freeze(m, g)) {
    graph_free(g);
    return NULL;
  }
  if (!g || mode == MODE_INFER) return g;
  Value *p = g->outputs[0];
  Value *y;
  if (m->train.loss == LOSS_SPARSE_CCE) {
    if (p->shape.rank != 2 || p->shape.d[0] != DIM_BATCH) {
      const char *got = shape_str(&g->arena, p->shape);
      if (m->train.loss_line)
        error_at(&m->file->src, m->train.loss_line, m->train.loss_col,
                 "sparse_categorical_crossentropy needs predictions [N,classes], got %s", got);
      else
        error_plain("%s: sparse_categorical_crossentropy needs predictions [N,classes], got %s", m->file->src.path,
                    got);
      graph_free(g);
      return NULL;
    }
    y = value_new(g, LABELS_NAME, VK_INPUT, DT_I32, shape_make(1, (int64_t[]){DIM_BATCH}));
  } else {
    y = value_new(g, LABELS_NAME, VK_INPUT, DT_F32, p->shape);
  }
  g->loss = build_loss(g, &m->train, p, y);
  value_set_unique_name(g, g->loss, "loss");
  return g;
}

Graph *model_compile(Model *m, GraphMode mode, const char *passes, PassCtx *cx) {
  Graph *g = model_build(m, mode);
  if (!g) return NULL;
  if (mode == MODE_EVAL) g->grads = NULL;
  cx->opt = &m->train.opt;
  const char *pipeline = passes ? passes : mode == MODE_TRAIN ? PIPELINE_TRAIN : PIPELINE_INFER;
  if (!pass_run_pipeline(g, cx, pipeline)) {
    graph_free(g);
    return NULL;
  }
  return g;
}
