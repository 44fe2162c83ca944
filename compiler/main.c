/* main.c - the nn2c command line.
 *   nn2c compile MODEL -o DIR [--train] [--name NAME] [--passes=LIST] [--dump-after=PASS]
 *   nn2c compile MODEL --emit=ir [--train]      print the compiled IR
 *   nn2c run MODEL [trainer flags]              train/evaluate with the interpreter
 *   nn2c run MODEL.onnx [--dim k=v] [INPUT.pb...] inference with the interpreter
 *   nn2c test-onnx [-j N] CASE_DIR...           ONNX backend tests (onnx/onnx_test.c) */
#include <ctype.h>
#include <string.h>

#include "codegen/codegen.h"
#include "interp/interp.h"
#include "nn2c_rt.h"
#include "tools/tools.h"
#include "target.h"
#ifdef NN2C_HAVE_ONNX
#include "onnx.h"
#endif

static const char *usage =
    "usage: nn2c compile MODEL -o DIR [--train [--mpi]] [--name NAME] [--passes=LIST] [--dump-after=PASS] [--quiet]\n"
    "                  (--mpi: the trainer also builds for mpirun, data-parallel; docs/distributed.md)\n"
    "       nn2c compile MODEL --emit=ir [--train] [--passes=LIST]\n"
    "       nn2c compile MODEL -o DIR --target cortex-m4|cortex-m7|cortex-m33 [--batch N] [--weights CKPT]\n"
    "                  (bare-metal inference at a fixed batch, default 1; docs/microcontrollers.md)\n"
    "       nn2c run MODEL [--data PATH] [--epochs N] [--batch N] [--lr X] [--seed N] [--steps N] ...\n"
    "       nn2c run MODEL.onnx [--dim NAME=VALUE]... [INPUT.pb]...   (interpreter; prints the outputs)\n"
    "       nn2c compile MODEL.onnx -o DIR [--weights-threshold FLOATS]   (imported weights of at least\n"
    "                  FLOATS floats, default 1048576, go to DIR/NAME.weights; 0: always)\n"
    "       nn2c compile MODEL.onnx --train --loss LOSS [--optimizer sgd|momentum|adam] [--lr X] [--batch N]\n"
    "                  [--ema M] [--dataset 'NAME key=value...'] [--freeze GLOB]... -o DIR   (trainer for an imported\n"
    "                  model; --freeze: params whose names match do not train)\n"
    "       nn2c run MODEL.onnx --train --loss LOSS [same flags] [trainer flags]   (interpreter training)\n"
    "       nn2c export MODEL.onnx CHECKPOINT -o OUT.onnx [--quiet]   (trained weights back into the model)\n"
    "       nn2c export MODEL.nn [CHECKPOINT] -o OUT.onnx [--quiet]   (a native model as ONNX)\n"
    "       nn2c quantize MODEL.nn --data DIR [--load CKPT] --calibrate N [--test M] -o OUT.onnx   (int8 QDQ)\n"
    "       nn2c test-onnx [-j N] [--work DIR] CASE_DIR...\n"
    "       nn2c summary MODEL [--batch B] [--train]   (layers, parameters, FLOPs, memory; docs/tools.md)\n"
    "       nn2c dot MODEL [--train] -o FILE.dot [--quiet]   (the graph for Graphviz; --train: backward and optimizer "
    "too)\n"
    "       nn2c plot METRICS.csv -o CURVES.svg [--quiet]   (loss and accuracy per epoch from a trainer's --metrics "
    "file)\n"
    "       nn2c --help | --version\n"
    "MODEL is a .nn file (layers or a graph section; see docs/nn-format.md) or an ONNX model (.onnx;\n"
    "fix symbolic dimensions with --dim NAME=VALUE).\n";

#define MAX_DIMS 16

typedef struct {
  const char *model, *out_dir, *name, *passes, *dump_after, *emit;
  bool train, quiet, mpi;
  const char *loss, *optimizer, *lr, *batch, *dataset, *ema; /* training an imported model */
  const char *weights_threshold;
  const char *freeze[MAX_DIMS]; /* --freeze GLOB: params that do not train */
  int nfreeze;
  const char *target;  /* --target: a microcontroller, or host */
  const char *weights; /* --weights CKPT: trained params for a microcontroller build */
  int fixed_batch;     /* with a microcontroller target: the batch */
#ifdef NN2C_HAVE_ONNX
  OnnxDim dims[MAX_DIMS];
  OnnxOptions onnx;
#endif
} CompileOpts;

static bool is_identifier(const char *s) {
  if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
  return true;
}

/* Accepts --flag=value and --flag value; an empty value (-o "") is an error. */
static const char *flag_value(int argc, char **argv, int *i, const char *flag) {
  size_t n = strlen(flag);
  if (strncmp(argv[*i], flag, n)) return NULL;
  if (argv[*i][n] != '=' && argv[*i][n] != 0) return NULL;
  if (argv[*i][n] == 0 && *i + 1 >= argc) {
    error_plain("%s needs a value", flag);
    exit(1);
  }
  const char *v = argv[*i][n] == '=' ? argv[*i] + n + 1 : argv[++*i];
  if (!*v) {
    error_plain("%s: the value is empty", flag);
    exit(1);
  }
  return v;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

#ifdef NN2C_HAVE_ONNX
/* --dim NAME=VALUE fixes a symbolic dimension of an ONNX model's inputs. */
static bool parse_dim(const char *v, CompileOpts *o) {
  const char *eq = strchr(v, '=');
  char *end;
  long long x = eq ? strtoll(eq + 1, &end, 10) : 0;
  if (!eq || eq == v || !eq[1] || *end || x < 1 || x > (1LL << 31)) {
    error_plain("--dim needs NAME=VALUE with a positive VALUE, got '%s'", v);
    return false;
  }
  if (o->onnx.ndims == MAX_DIMS) {
    error_plain("too many --dim flags (at most %d)", MAX_DIMS);
    return false;
  }
  *(char *)eq = 0; /* argv is writable: the name ends at the '=' */
  o->dims[o->onnx.ndims++] = (OnnxDim){v, x};
  o->onnx.dims = o->dims;
  return true;
}

static Graph *import_onnx(const Model *m, GraphMode mode) {
  (void)mode;
  return onnx_import(m->file->src.path, m->import_ctx, NULL);
}
#endif

/* Loads a .nn model, or an ONNX model when built with ONNX support. */
static Model *load_model(const char *path, const void *onnx_opts) {
  if (!ends_with(path, ".onnx")) return model_load(path);
#ifdef NN2C_HAVE_ONNX
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
  for (char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p)) *p = '_';
  if (!isalpha((unsigned char)name[0])) name[0] = 'm';
  Model *m = model_new_imported(path, name, import_onnx, onnx_opts);
  Graph *g = model_build(m, MODE_INFER); /* reports import errors now */
  if (!g) {
    model_free(m);
    return NULL;
  }
  graph_free(g);
  return m;
#else
  (void)onnx_opts;
  error_plain("%s: this nn2c was built without ONNX support (configure with -DNN2C_ONNX=ON)", path);
  return NULL;
#endif
}

static bool add_freeze(CompileOpts *o, const char *glob) {
  if (o->nfreeze == MAX_DIMS) error_plain("too many --freeze flags (at most %d)", MAX_DIMS);
  return o->nfreeze < MAX_DIMS && (o->freeze[o->nfreeze++] = glob);
}

static bool parse_compile_args(int argc, char **argv, CompileOpts *o) {
  for (int i = 2; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--train"))
      o->train = true;
    else if (!strcmp(argv[i], "--quiet"))
      o->quiet = true;
    else if (!strcmp(argv[i], "--mpi"))
      o->mpi = true;
    else if ((v = flag_value(argc, argv, &i, "-o")))
      o->out_dir = v;
    else if ((v = flag_value(argc, argv, &i, "--name")))
      o->name = v;
    else if ((v = flag_value(argc, argv, &i, "--passes")))
      o->passes = v;
    else if ((v = flag_value(argc, argv, &i, "--dump-after")))
      o->dump_after = v;
    else if ((v = flag_value(argc, argv, &i, "--emit")))
      o->emit = v;
    else if ((v = flag_value(argc, argv, &i, "--loss")))
      o->loss = v;
    else if ((v = flag_value(argc, argv, &i, "--optimizer")))
      o->optimizer = v;
    else if ((v = flag_value(argc, argv, &i, "--lr")))
      o->lr = v;
    else if ((v = flag_value(argc, argv, &i, "--batch")))
      o->batch = v;
    else if ((v = flag_value(argc, argv, &i, "--dataset")))
      o->dataset = v;
    else if ((v = flag_value(argc, argv, &i, "--ema")))
      o->ema = v;
    else if ((v = flag_value(argc, argv, &i, "--weights-threshold")))
      o->weights_threshold = v;
    else if ((v = flag_value(argc, argv, &i, "--freeze"))) {
      if (!add_freeze(o, v)) return false;
    } else if ((v = flag_value(argc, argv, &i, "--target")))
      o->target = v;
    else if ((v = flag_value(argc, argv, &i, "--weights")))
      o->weights = v;
#ifdef NN2C_HAVE_ONNX
    else if ((v = flag_value(argc, argv, &i, "--dim"))) {
      if (!parse_dim(v, o)) return false;
    }
#endif
    else if (argv[i][0] == '-') {
      error_plain("unknown option '%s'\n%s", argv[i], usage);
      return false;
    } else if (o->model) {
      error_plain("more than one model given ('%s' and '%s')", o->model, argv[i]);
      return false;
    } else
      o->model = argv[i];
  }
  if (!o->model)
    error_plain("no model file given\n%s", usage);
  else if (o->emit && strcmp(o->emit, "ir") && strcmp(o->emit, "c"))
    error_plain("--emit must be ir or c, got '%s'", o->emit);
  else if ((!o->emit || !strcmp(o->emit, "c")) && !o->out_dir)
    error_plain("missing -o DIR (where to write the C files)");
  else if (o->name && !is_identifier(o->name))
    error_plain("--name '%s' is not a C identifier", o->name);
  else if (o->dump_after && strcmp(o->dump_after, "all") && !pass_lookup(o->dump_after))
    error_plain("--dump-after: unknown pass '%s' (a pass's name, or all)", o->dump_after);
  else
    return true;
  return false;
}

/* --loss/--optimizer/--lr/--batch/--ema/--dataset: the train section of an
 * imported model (a .nn file has its own). */
static bool imported_train_spec(const CompileOpts *o, TrainSpec *t) {
  static const char *losses[] = {"mse", "binary_crossentropy", "categorical_crossentropy",
                                 "sparse_categorical_crossentropy"};
  int k = -1;
  for (int i = 0; i < 4 && o->loss; i++)
    if (!strcmp(o->loss, losses[i])) k = i;
  if (k < 0) {
    error_plain(
        "--loss must be mse, binary_crossentropy, categorical_crossentropy or sparse_categorical_crossentropy%s%s%s",
        o->loss ? ", got '" : " (missing)", o->loss ? o->loss : "", o->loss ? "'" : "");
    return false;
  }
  t->present = true;
  t->loss = (LossKind)k;
  const char *opt = o->optimizer ? o->optimizer : "sgd";
  if (!strcmp(opt, "sgd") || !strcmp(opt, "momentum"))
    t->opt = (OptSpec){OPT_SGD, 0.01, !strcmp(opt, "momentum") ? 0.9 : 0, false, 0.9, 0.999, 1e-7, 0, 0};
  else if (!strcmp(opt, "adam"))
    t->opt = (OptSpec){OPT_ADAM, 0.001, 0, false, 0.9, 0.999, 1e-7, 0, 0};
  else {
    error_plain("--optimizer must be sgd, momentum or adam, got '%s'", opt);
    return false;
  }
  char *end;
  if (o->lr && (t->opt.lr = strtod(o->lr, &end), *end || !((float)t->opt.lr > 0) || t->opt.lr > 1e6)) {
    error_plain("--lr must be a positive number, got '%s' (as a float: at least 1e-45)", o->lr);
    return false;
  }
  if (o->ema && (t->opt.ema = strtod(o->ema, &end), *end || !(t->opt.ema > 0 && t->opt.ema < 1))) {
    error_plain("--ema must be a momentum between 0 and 1 (Keras's default: 0.99), got '%s'", o->ema);
    return false;
  }
  long b = o->batch ? strtol(o->batch, &end, 10) : 32;
  if (o->batch && (*end || b < 1 || b > (1 << 20))) {
    error_plain("--batch must be an integer in [1, %d], got '%s'", 1 << 20, o->batch);
    return false;
  }
  t->batch = (int)b;
  t->epochs = 1;
  t->seed = 1;
  const char *ds = o->dataset ? o->dataset : "random";
  static char name[256]; /* lives as long as the model */
  size_t n = strcspn(ds, " ");
  snprintf(name, sizeof name, "%.*s", (int)n, ds);
  t->dataset = name;
  t->dataset_options = ds[n] ? ds + n + 1 : "";
  nn2c_data_spec spec;
  char err[512];
  if (nn2c_data_spec_parse(t->dataset, t->dataset_options, &spec, err, sizeof err)) {
    error_plain("--dataset: %s", err);
    return false;
  }
  return true;
}

static bool compile_graph(Model *m, GraphMode mode, const CompileOpts *o, CompiledGraph *cg, Buf *dump) {
  cg->plan.dump_after = o->dump_after;
  cg->plan.dump = dump;
  cg->plan.verify = true;
  cg->plan.batch = o->fixed_batch;
  cg->g = model_compile(m, mode, o->passes, &cg->plan);
  return cg->g != NULL;
}

/* The two halves of the split train step (--mpi), always with their own pipelines. */
static bool compile_split_step(Model *m, const CompileOpts *o, CodegenInput *in, Buf *dump) {
  CompileOpts halves = *o;
  halves.passes = PIPELINE_GRADS;
  if (!compile_graph(m, MODE_TRAIN, &halves, &in->grads, dump)) return false;
  halves.passes = PIPELINE_APPLY;
  return compile_graph(m, MODE_TRAIN, &halves, &in->apply, dump);
}

static void report_plan(const char *what, CompiledGraph *cg, int batch) {
  PassCtx *p = &cg->plan;
  long long arena = p->arena_fixed + p->arena_per_sample * batch;
  long long sum = p->tensors_fixed + p->tensors_per_sample * batch;
  fprintf(stderr, "nn2c: %s: arena %lld bytes at batch %d (%lld + %lld per sample); tensors %lld bytes; saved %lld\n",
          what, arena, batch, (long long)p->arena_fixed, (long long)p->arena_per_sample, sum, sum - arena);
}

static int cmd_compile(int argc, char **argv) {
  CompileOpts o = {0};
  if (!parse_compile_args(argc, argv, &o)) return 1;
  bool imported = ends_with(o.model, ".onnx");
  TrainSpec spec = {0};
  const McuTarget *mcu = o.target && strcmp(o.target, "host") ? codegen_mcu_target(o.target) : NULL;
  if (o.target && strcmp(o.target, "host") && !mcu) return 1;
  if (mcu && o.train) {
    error_plain("--target %s builds inference only; --train needs the host (drop --target)", mcu->name);
    return 1;
  }
  if (mcu && !(o.fixed_batch = target_batch(o.batch))) return 1;
  if (o.weights && !mcu) {
    error_plain("--weights goes with --target (a host build reads trained weights at run time: --load)");
    return 1;
  }
  if ((o.loss || o.optimizer || o.lr || (o.batch && !mcu) || o.ema || o.dataset) && (!o.train || !imported)) {
    error_plain("--loss/--optimizer/--lr/--batch/--ema/--dataset go with --train on an .onnx model (a .nn file has a "
                "train section)");
    return 1;
  }
  if (o.train && imported && !imported_train_spec(&o, &spec)) return 1;
  if (o.mpi && (!o.train || (o.emit && !strcmp(o.emit, "ir")))) {
    error_plain("--mpi goes with --train and -o DIR: it adds the data-parallel trainer to the emitted folder");
    return 1;
  }
  char *end;
  long long threshold = o.weights_threshold ? strtoll(o.weights_threshold, &end, 10) : 1LL << 20;
  if (o.weights_threshold && (!*o.weights_threshold || *end || threshold < 0)) {
    error_plain("--weights-threshold must be a number of floats (0 or more), got '%s'", o.weights_threshold);
    return 1;
  }
#ifdef NN2C_HAVE_ONNX
  if (imported)
    o.onnx.batch_dim = ""; /* a symbolic first dimension becomes N, as in .nn models (--batch fixes
                              it on a microcontroller) */
  if (o.train && imported) o.onnx.trainable = true;
  Model *m = load_model(o.model, &o.onnx);
#else
  Model *m = load_model(o.model, NULL);
#endif
  if (!m) return 1;
  m->freeze = o.freeze, m->nfreeze = o.nfreeze;
  if (spec.present) m->train = spec;
  if (o.train && !m->train.present) {
    error_plain("%s: --train needs a train section in the model", o.model);
    model_free(m);
    return 1;
  }
  CodegenInput in = {o.name ? o.name : m->name, o.train, {0}, {0}, {0}, false, o.mpi, {0}, {0}, NULL, 0};
  if (!is_identifier(in.name)) {
    error_plain("model name '%s' is not a C identifier; pass --name", in.name);
    model_free(m);
    return 1;
  }
  Buf dump = {0};
  bool ok = compile_graph(m, MODE_INFER, &o, &in.infer, &dump);
  if (ok && o.train)
    ok = compile_graph(m, MODE_EVAL, &o, &in.eval, &dump) && compile_graph(m, MODE_TRAIN, &o, &in.train_graph, &dump) &&
         (!o.mpi || compile_split_step(m, &o, &in, &dump));
  int64_t wfloats = ok && imported && !mcu ? codegen_weights_floats(&in) : 0;
  in.weights_file = wfloats > 0 && wfloats >= threshold;
  in.mcu = mcu, in.batch = o.fixed_batch;
  if (ok && mcu && !(o.emit && !strcmp(o.emit, "ir"))) ok = target_prepare(m, &in, o.weights);
  if (ok && o.emit && !strcmp(o.emit, "ir")) {
    Buf b = {0};
    ir_print(&b, o.train ? in.train_graph.g : in.infer.g);
    fputs(b.data, stdout);
    buf_free(&b);
  } else if (ok) {
    if (dump.len) fputs(dump.data, stdout);
    ok = codegen_write_dir(m, &in, o.out_dir);
    if (ok && !o.quiet && mcu) {
      Buf r = {0};
      codegen_mcu_report(&in, &r);
      fputs(r.data, stderr);
      buf_free(&r);
      fprintf(stderr, "nn2c: wrote %s: %s.c, %s.h, a test firmware and a Makefile (`make -C %s run`)\n", o.out_dir,
              in.name, in.name, o.out_dir);
    } else if (ok && !o.quiet) {
      report_plan("forward", &in.infer, m->train.batch);
      if (o.train) report_plan("train_step", &in.train_graph, m->train.batch);
      char *dir = arena_strdup(&m->arena, o.out_dir); /* named without its trailing slashes */
      for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = 0;
      fprintf(stderr, "nn2c: wrote %s/: %s.c and %s.h%s, the runtime and a Makefile (`make -C %s`)\n", dir, m->name,
              m->name, o.train ? arena_printf(&m->arena, ", %s_train.c", m->name) : "", dir);
    }
  }
  buf_free(&dump);
  graph_free(in.infer.g);
  graph_free(in.eval.g);
  graph_free(in.train_graph.g);
  graph_free(in.grads.g);
  graph_free(in.apply.g);
  model_free(m);
  return ok ? 0 : 1;
}

#ifdef NN2C_HAVE_ONNX
static void print_tensor(Graph *g, Value *v, Tensor *t) {
  printf("%s %s%s:", v->name, dtype_name(v->dtype), shape_str(&g->arena, v->shape));
  for (int64_t i = 0; i < t->numel; i++)
    printf(" %.9g", tensor_get(t, i));
  printf("\n");
}

/* nn2c run MODEL.onnx [--dim k=v] [INPUT.pb...]: one inference with the interpreter. */
static int run_onnx(int argc, char **argv) {
  CompileOpts o = {0};
  Feed feeds[16];
  void *data[16];
  const char *files[16];
  DType types[16];
  Shape shapes[16];
  int nf = 0;
  bool ok = true;
  for (int i = 3; i < argc && ok; i++) {
    const char *v;
    if ((v = flag_value(argc, argv, &i, "--dim")))
      ok = parse_dim(v, &o);
    else if (nf == 16)
      ok = false, error_plain("too many inputs");
    else {
      files[nf] = argv[i];
      ok = (data[nf] = onnx_read_tensor(argv[i], &types[nf], &shapes[nf])) != NULL;
      nf += ok;
    }
  }
  o.onnx.shapes = shapes, o.onnx.nshapes = nf; /* symbolic dimensions from the files */
  Graph *g = ok ? onnx_import(argv[2], &o.onnx, NULL) : NULL;
  PassCtx cx = {0};
  ok = g && pass_run_pipeline(g, &cx, "shape,constfold,dce,schedule");
  int k = 0;
  for (int i = 0; ok && i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_INPUT) continue;
    const char *want = arena_printf(&g->arena, "%s%s", dtype_name(v->dtype), shape_str(&g->arena, v->shape));
    if (k >= nf) {
      error_plain("input '%s' %s needs a value: pass a TensorProto file for each input", v->name, want);
      ok = false;
    } else if (types[k] != v->dtype || !shape_eq(shapes[k], v->shape)) { /* the interpreter reads the model's size */
      error_plain("%s: input '%s' of %s is %s, the file holds %s%s", files[k], v->name, argv[2], want,
                  dtype_name(types[k]), shape_str(&g->arena, shapes[k]));
      ok = false;
    } else
      feeds[k] = (Feed){v->name, data[k]}, k++;
  }
  if (ok && k < nf) {
    error_plain("%s: %d input files given, the model %s has %d input%s", files[k], nf, argv[2], k, k == 1 ? "" : "s");
    ok = false;
  }
  InterpRun r = {0};
  float dummy[16] = {0};
  ok = ok && interp_run(g, dummy, dummy, feeds, k, 1, 0, &r);
  for (int i = 0; ok && i < g->noutputs; i++)
    print_tensor(g, g->outputs[i], &r.vals[g->outputs[i]->id]);
  interp_run_free(&r);
  for (int i = 0; i < nf; i++)
    free(data[i]);
  graph_free(g);
  return ok ? 0 : 1;
}
#endif

#ifdef NN2C_HAVE_ONNX
/* The "params" section of a checkpoint (format in nn2c_rt.h), checked
 * against its hash; it must hold exactly `count` floats. */
static float *read_ckpt_params(const char *path, uint64_t count) {
  size_t len, pos = 16;
  unsigned char *d = (unsigned char *)read_whole_file(path, &len);
  const char *why = !d ? "cannot read it" : len < 24 || memcmp(d, "NN2CCKPT", 8) ? "not an nn2c checkpoint" : NULL;
  uint64_t h = 14695981039346656037ULL, stored = 0;
  for (size_t i = 0; !why && i + 8 < len; i++)
    h = (h ^ d[i]) * 1099511628211ULL;
  for (int i = 7; !why && i >= 0; i--)
    stored = stored << 8 | d[len - 8 + (size_t)i];
  if (!why && h != stored) why = "checksum mismatch (corrupt or truncated)";
  float *params = NULL;
  uint32_t nsec = why ? 0 : (uint32_t)(d[12] | d[13] << 8 | d[14] << 16 | (uint32_t)d[15] << 24);
  for (uint32_t s = 0; s < nsec && !why && !params; s++) {
    uint32_t nl = 0;
    uint64_t n = 0;
    if (pos + 4 > len - 8) break;
    for (int i = 3; i >= 0; i--)
      nl = nl << 8 | d[pos + (size_t)i];
    if (nl > len || pos + 4 + nl + 8 > len - 8) break;
    for (int i = 7; i >= 0; i--)
      n = n << 8 | d[pos + 4 + nl + (size_t)i];
    bool is_params = nl == 6 && !memcmp(d + pos + 4, "params", 6);
    pos += 4 + nl + 8;
    if (n > (len - 8 - pos) / 4) break;
    if (is_params && n != count)
      why = "its params do not fit this model";
    else if (is_params)
      params = memcpy(xmalloc(n * 4 + 1), d + pos, n * 4);
    pos += n * 4;
  }
  if (!why && !params) why = "no params section";
  if (why) error_plain("%s: %s", path, why);
  free(d);
  return why ? NULL : params;
}

/* nn2c export MODEL.onnx CHECKPOINT -o OUT.onnx: the trained weights back into the model. */
static int cmd_export(int argc, char **argv) {
  CompileOpts o = {0};
  const char *ckpt = NULL;
  bool ok = true, quiet = false;
  for (int i = 2; i < argc && ok; i++) {
    const char *v;
    if (!strcmp(argv[i], "--quiet"))
      quiet = true;
    else if ((v = flag_value(argc, argv, &i, "-o")))
      o.out_dir = v;
    else if ((v = flag_value(argc, argv, &i, "--dim")))
      ok = parse_dim(v, &o);
    else if (argv[i][0] == '-')
      ok = false, error_plain("unknown option '%s'", argv[i]);
    else if (!o.model)
      o.model = argv[i];
    else if (!ckpt)
      ckpt = argv[i];
    else
      ok = false, error_plain("unexpected argument '%s'", argv[i]);
  }
  if (ok && (!o.model || !ckpt || !o.out_dir || !ends_with(o.model, ".onnx")))
    ok = false, error_plain("usage: nn2c export MODEL.onnx CHECKPOINT -o OUT.onnx [--quiet]");
  if (!ok) return 1;
  o.onnx.batch_dim = "", o.onnx.trainable = true;
  Model *m = load_model(o.model, &o.onnx);
  PassCtx cx = {0};
  Graph *g = m ? model_compile(m, MODE_INFER, NULL, &cx) : NULL;
  int64_t *off = g ? xcalloc((size_t)g->nvalues, sizeof(int64_t)) : NULL;
  float *params = g ? read_ckpt_params(ckpt, (uint64_t)graph_block_layout(g, VK_PARAM, off)) : NULL;
  long long nparams = 0; /* the block has padding between tensors: count the elements */
  for (int i = 0; g && i < g->nvalues; i++)
    if (g->values[i]->kind == VK_PARAM) nparams += shape_numel_static(g->values[i]->shape);
  size_t bytes = 0;
  ok = params && onnx_export(o.model, g, params, o.out_dir, &bytes);
  if (ok && !quiet) fprintf(stderr, "nn2c: wrote %s (%zu bytes, %lld parameters)\n", o.out_dir, bytes, nparams);
  free(params);
  free(off);
  graph_free(g);
  model_free(m);
  return ok ? 0 : 1;
}
#endif

#ifdef NN2C_HAVE_ONNX
/* nn2c run MODEL.onnx --train --loss L [--optimizer O] [--dataset D] [--dim k=v] [trainer flags]:
 * trains with the interpreter; --lr/--batch go to both the spec and the trainer. */
static int run_onnx_train(int argc, char **argv) {
  CompileOpts o = {.model = argv[2], .train = true};
  char **rest = xcalloc((size_t)argc + 1, sizeof(char *));
  int nrest = 0;
  rest[nrest++] = "nn2c run";
  bool ok = true;
  for (int i = 3; i < argc && ok; i++) {
    const char *v;
    int at = i;
    if (!strcmp(argv[i], "--train")) continue;
    if ((v = flag_value(argc, argv, &i, "--loss")))
      o.loss = v;
    else if ((v = flag_value(argc, argv, &i, "--optimizer")))
      o.optimizer = v;
    else if ((v = flag_value(argc, argv, &i, "--dataset")))
      o.dataset = v;
    else if ((v = flag_value(argc, argv, &i, "--ema")))
      o.ema = v;
    else if ((v = flag_value(argc, argv, &i, "--dim")))
      ok = parse_dim(v, &o);
    else if ((v = flag_value(argc, argv, &i, "--freeze")))
      ok = add_freeze(&o, v);
    else {
      if ((v = flag_value(argc, argv, &i, "--lr")))
        o.lr = v;
      else if ((v = flag_value(argc, argv, &i, "--batch")))
        o.batch = v;
      for (int k = at; k <= i; k++)
        rest[nrest++] = argv[k];
    }
  }
  TrainSpec spec = {0};
  ok = ok && imported_train_spec(&o, &spec);
  o.onnx.batch_dim = "", o.onnx.trainable = true;
  Model *m = ok ? load_model(o.model, &o.onnx) : NULL;
  int rc = 1;
  if (m) {
    m->train = spec;
    m->freeze = o.freeze, m->nfreeze = o.nfreeze;
    rc = interp_train_main(m, nrest, rest);
  }
  model_free(m);
  free(rest);
  return rc;
}
#endif

static int cmd_run(int argc, char **argv) {
  if (argc < 3 || argv[2][0] == '-') {
    error_plain("nn2c run needs a model file\n%s", usage);
    return 1;
  }
#ifdef NN2C_HAVE_ONNX
  for (int i = 3; i < argc && ends_with(argv[2], ".onnx"); i++)
    if (!strcmp(argv[i], "--train")) return run_onnx_train(argc, argv);
  if (ends_with(argv[2], ".onnx")) return run_onnx(argc, argv);
#endif
  Model *m = model_load(argv[2]);
  if (!m) return 1;
  /* The trainer front end parses the remaining flags; argv[0] names the program. */
  argv[2] = "nn2c run";
  int rc = interp_train_main(m, argc - 2, argv + 2);
  model_free(m);
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    puts("nn2c 0.1.0");
    return 0;
  }
  if (!strcmp(argv[1], "compile")) return cmd_compile(argc, argv);
  if (!strcmp(argv[1], "run")) return cmd_run(argc, argv);
  if (!strcmp(argv[1], "summary")) return summary_main(argc, argv);
  if (!strcmp(argv[1], "dot")) return dot_main(argc, argv);
  if (!strcmp(argv[1], "plot")) return plot_main(argc, argv);
  if (!strcmp(argv[1], "quantize")) return quantize_main(argc, argv);
  if (!strcmp(argv[1], "export") && export_is_native(argc, argv)) return export_native_main(argc, argv);
#ifdef NN2C_HAVE_ONNX
  if (!strcmp(argv[1], "export")) return cmd_export(argc, argv);
  if (!strcmp(argv[1], "test-onnx")) return onnx_test_main(argc - 1, argv + 1);
#endif
  error_plain("unknown command '%s'\n%s", argv[1], usage);
  return 1;
}
