/* train.c - `nn2c run`: the runtime's trainer front end (flags, data,
 * shuffling, checkpoints) driving the interpreter instead of generated code,
 * so both produce directly comparable runs and checkpoints. */
#include "interp.h"

#include <stdlib.h>
#include <string.h>

#include "nn2c_rt.h"

/* The runtime's descriptor callbacks carry no user pointer (generated code
 * needs none), so the compiled graphs of the one model being run live here. */
static struct { Graph *infer, *eval, *train; } run_graphs;

typedef struct {
  float *params, *state;
  int max_batch;
  float lr;
  uint64_t step;
} InterpModel;

static void bind(void *mv, float *params, float *state, unsigned char *arena, int max_batch, float lr) {
  InterpModel *m = mv;
  (void)arena;
  *m = (InterpModel){params, state, max_batch, lr, 0};
}

static uint64_t get_step(const void *m) { return ((const InterpModel *)m)->step; }
static void set_step(void *m, uint64_t s) { ((InterpModel *)m)->step = s; }
static void set_lr(void *m, float lr) { ((InterpModel *)m)->lr = lr; }
static size_t arena_bytes(int batch) {
  (void)batch;
  return 64;
}
static Graph *param_graph(void) { return run_graphs.train ? run_graphs.train : run_graphs.infer; }
static void init(float *params, uint64_t seed) { interp_init_params(param_graph(), params, seed); }
static void init_state(float *state) { interp_init_state(param_graph(), state); }

static void copy_out(InterpRun *r, Value *v, float *out) {
  if (!out) return;
  Tensor *t = &r->vals[v->id];
  for (int64_t i = 0; i < t->numel; i++)
    out[i] = (float)tensor_get(t, i);
}

static int run(Graph *g, InterpModel *m, const float *x, const void *y, int batch, float *loss, float *out) {
  if (batch < 1 || batch > m->max_batch) return 1;
  float lr = m->lr, step = (float)(m->step + 1);
  Feed feeds[4] = {{g->values[0]->name, x}, {LABELS_NAME, y}, {INPUT_LR, &lr}, {INPUT_STEP, &step}};
  InterpRun r = {0};
  bool ok = interp_run(g, m->params, m->state, feeds, y ? 4 : 1, batch, m->step, &r);
  if (ok) {
    copy_out(&r, g->outputs[0], out);
    if (loss && g->loss) *loss = (float)tensor_get(&r.vals[g->loss->id], 0);
  }
  interp_run_free(&r);
  return ok ? 0 : 1;
}

static int forward(void *m, const float *x, float *out, int batch) {
  return run(run_graphs.infer, m, x, NULL, batch, NULL, out);
}

static int train_step(void *mv, const float *x, const void *y, int batch, float *loss, float *out) {
  InterpModel *m = mv;
  int rc = run(run_graphs.train, m, x, y, batch, loss, out);
  if (!rc) m->step++;
  return rc;
}

static int evaluate(void *m, const float *x, const void *y, int batch, float *loss, float *out) {
  return run(run_graphs.eval, m, x, y, batch, loss, out);
}

bool interp_weights(Model *m, Graph *g, const char *ckpt, float **params, float **state) {
  int64_t np = graph_block_layout(g, VK_PARAM, NULL), ns = graph_block_layout(g, VK_STATE, NULL);
  *params = xcalloc((size_t)np + 1, sizeof(float)), *state = xcalloc((size_t)ns + 1, sizeof(float));
  interp_init_params(g, *params, m->train.present ? m->train.seed : 1);
  interp_init_state(g, *state);
  return !ckpt || interp_load_checkpoint(m, g, ckpt, *params, *state);
}

bool interp_load_checkpoint(Model *m, Graph *g, const char *ckpt, float *params, float *state) {
  PassCtx cx = {0};
  Graph *tg = model_compile(m, MODE_TRAIN, NULL, &cx);
  if (!tg) return false;
  int64_t np = graph_block_layout(tg, VK_PARAM, NULL);
  int64_t *soff = xcalloc((size_t)tg->nvalues, sizeof(int64_t)), *goff = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  int64_t ns = graph_block_layout(tg, VK_STATE, soff);
  graph_block_layout(g, VK_STATE, goff);
  float *tstate = xcalloc((size_t)ns + 1, sizeof(float)), step[4];
  nn2c_ckpt_section s[4] = {{"params", params, (uint64_t)np},
                            {"state", tstate, (uint64_t)ns},
                            {"step", step, 4},
                            {"trainer", NULL, NN2C_CKPT_ANY_COUNT}}; /* the callbacks' state: not needed */
  char err[512];
  bool ok = np == graph_block_layout(g, VK_PARAM, NULL) && !nn2c_ckpt_load_opt(ckpt, s, 4, 3, NULL, err, sizeof err);
  if (!ok && np != graph_block_layout(g, VK_PARAM, NULL)) error_plain("%s: the params do not line up", ckpt);
  if (!ok && np == graph_block_layout(g, VK_PARAM, NULL)) error_plain("%s", err); /* it names the file */
  for (int i = 0; ok && i < g->nvalues; i++) {
    Value *v = g->values[i], *t = v->kind == VK_STATE ? graph_find(tg, v->name) : NULL;
    if (t && t->kind == VK_STATE)
      memcpy(state + goff[v->id], tstate + soff[t->id], sizeof(float) * (size_t)shape_numel_static(v->shape));
  }
  free(tstate);
  free(soff);
  free(goff);
  graph_free(tg);
  return ok;
}

int interp_train_main(Model *m, int argc, char **argv) {
  PassCtx cx = {0};
  run_graphs.infer = model_compile(m, MODE_INFER, NULL, &cx);
  if (m->train.present) {
    run_graphs.eval = model_compile(m, MODE_EVAL, NULL, &cx);
    run_graphs.train = model_compile(m, MODE_TRAIN, NULL, &cx);
  }
  if (!run_graphs.infer || (m->train.present && (!run_graphs.eval || !run_graphs.train))) return 1;
  if (!m->train.present) {
    error_plain("'%s' has no train section; nn2c run trains and evaluates models", m->file->src.path);
    return 1;
  }
  Graph *tg = run_graphs.train;
  Value *in = tg->values[0], *lab = graph_find(tg, LABELS_NAME), *pred = tg->outputs[0];
  nn2c_model_desc d = {0};
  d.name = m->name;
  d.dataset = m->train.dataset;
  d.dataset_options = m->train.dataset_options;
  d.in_numel = (int)shape_numel(in->shape, 1);
  d.out_numel = (int)shape_numel(pred->shape, 1);
  d.label_numel = (int)shape_numel(lab->shape, 1);
  d.label_is_int = lab->dtype != DT_F32;
  d.param_floats = (long)graph_block_layout(tg, VK_PARAM, NULL);
  d.state_floats = (long)graph_block_layout(tg, VK_STATE, NULL);
  d.ema_offset = (long)optimizer_ema_offset(tg, &m->train.opt);
  d.has_ema = d.ema_offset >= 0;
  d.default_batch = m->train.batch;
  d.default_epochs = m->train.epochs;
  d.default_lr = (float)m->train.opt.lr;
  d.default_seed = m->train.seed;
  d.model_size = sizeof(InterpModel);
  d.model_bind = bind;
  d.model_get_step = get_step;
  d.model_set_step = set_step;
  d.model_set_lr = set_lr;
  d.train_flags = m->train.train_flags;
  d.arena_bytes = arena_bytes;
  d.init = init;
  d.init_state = init_state;
  d.forward = forward;
  d.train_step = train_step;
  d.evaluate = evaluate;
  d.inline_n = m->inline_n;
  d.inline_x = m->inline_x;
  d.inline_yf = m->inline_yf;
  d.inline_yi = m->inline_yi;
  int rc = nn2c_train_main(argc, argv, &d);
  graph_free(run_graphs.infer);
  graph_free(run_graphs.eval);
  graph_free(run_graphs.train);
  return rc;
}
