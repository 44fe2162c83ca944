/* load.c - what the tool commands share: their command line, loading a .nn
 * or ONNX model, and the arithmetic of a node (for `summary`). */
#include "tools/tools.h"

#include <ctype.h>
#include <string.h>

#ifdef NN2C_HAVE_ONNX
#include "onnx.h"
#endif

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

/* Whether argv[*i] is flag (as `flag value` or `flag=value`); *v gets the value. */
static bool flag_is(int argc, char **argv, int *i, const char *flag, const char **v, bool *bad) {
  size_t n = strlen(flag);
  if (strncmp(argv[*i], flag, n) || (argv[*i][n] && argv[*i][n] != '=')) return false;
  *v = argv[*i][n] == '=' ? argv[*i] + n + 1 : *i + 1 < argc ? argv[++*i] : NULL;
  if (!*v || !**v) error_plain("%s needs a value", flag), *bad = true;
  return true;
}

/* Whether `name` is one of the space-separated words of `list`. */
static bool listed(const char *list, const char *name) {
  size_t n = strlen(name);
  for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
    if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n])) return true;
  return false;
}

static bool push(const char **list, int *n, const char *v, const char *flag) {
  if (*n == TOOL_MAX_LIST) {
    error_plain("too many %s flags (at most %d)", flag, TOOL_MAX_LIST);
    return false;
  }
  list[(*n)++] = v;
  return true;
}

static bool tool_flag(int argc, char **argv, int *i, ToolArgs *a, bool *bad) {
  const char *v = NULL;
  char *end;
  if (!strcmp(argv[*i], "--train")) return a->train = true;
  if (!strcmp(argv[*i], "--quiet")) return a->quiet = true;
  if (flag_is(argc, argv, i, "-o", &v, bad)) return a->out = v, true;
  if (flag_is(argc, argv, i, "--loss", &v, bad)) return a->loss = v, true;
  if (flag_is(argc, argv, i, "--optimizer", &v, bad)) return a->optimizer = v, true;
  if (flag_is(argc, argv, i, "--dim", &v, bad)) return *bad = *bad || !push(a->dims, &a->ndims, v, "--dim"), true;
  if (flag_is(argc, argv, i, "--freeze", &v, bad))
    return *bad = *bad || !push(a->freeze, &a->nfreeze, v, "--freeze"), true;
  if (!flag_is(argc, argv, i, "--batch", &v, bad)) return false;
  a->batch = v ? strtoll(v, &end, 10) : 0;
  if (v && (*end || a->batch < 1 || a->batch > (1 << 20)))
    error_plain("--batch must be an integer in [1, %d], got '%s'", 1 << 20, v), *bad = true;
  return true;
}

bool tool_write(const ToolArgs *a, const char *data, size_t len, const char *why) {
  if (!write_file_atomic(a->out, data, len, why)) return false;
  if (!a->quiet) fprintf(stderr, "nn2c: wrote %s (%zu bytes)\n", a->out, len);
  return true;
}

bool tool_args(int argc, char **argv, const char *accepted, const char *usage, ToolArgs *a) {
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    bool bad = false;
    char flag[32];
    snprintf(flag, sizeof flag, "%.*s", (int)strcspn(arg, "="), arg);
    if (arg[0] == '-' && (!listed(accepted, flag) || !tool_flag(argc, argv, &i, a, &bad))) {
      error_plain("%s: unknown option '%s'\n%s", argv[1], arg, usage);
      return false;
    }
    if (bad) return false;
    if (arg[0] == '-') continue;
    if (a->model) {
      error_plain("%s: more than one input given ('%s' and '%s')\n%s", argv[1], a->model, arg, usage);
      return false;
    }
    a->model = arg;
  }
  if (!a->model) error_plain("%s: no input file given\n%s", argv[1], usage);
  if (a->model && listed(accepted, "-o") && !a->out) error_plain("%s: missing -o FILE\n%s", argv[1], usage);
  return a->model && (a->out || !listed(accepted, "-o"));
}

#ifdef NN2C_HAVE_ONNX
static Graph *import_onnx(const Model *m, GraphMode mode) {
  (void)mode;
  return onnx_import(m->file->src.path, m->import_ctx, NULL);
}

/* --dim NAME=VALUE into the importer's options (which live as long as the model). */
static OnnxOptions *onnx_options(ToolArgs *a) {
  static OnnxDim dims[TOOL_MAX_LIST];
  static OnnxOptions o;
  o = (OnnxOptions){.dims = dims, .batch_dim = "", .trainable = true};
  for (int i = 0; i < a->ndims; i++) {
    const char *eq = strchr(a->dims[i], '=');
    char *end;
    long long x = eq ? strtoll(eq + 1, &end, 10) : 0;
    if (!eq || eq == a->dims[i] || !eq[1] || *end || x < 1 || x > (1LL << 31)) {
      error_plain("--dim needs NAME=VALUE with a positive VALUE, got '%s'", a->dims[i]);
      return NULL;
    }
    char *name = xstrdup(a->dims[i]); /* kept for the process's life, like the options */
    name[eq - a->dims[i]] = 0;
    dims[o.ndims++] = (OnnxDim){name, x};
  }
  return &o;
}
#endif

/* --loss and --optimizer for an imported model (a .nn file has a train section). */
static bool imported_training(ToolArgs *a, Model *m) {
  static const char *losses[] = {"mse", "binary_crossentropy", "categorical_crossentropy",
                                 "sparse_categorical_crossentropy"};
  int k = -1;
  for (int i = 0; i < 4; i++)
    if (a->loss && !strcmp(a->loss, losses[i])) k = i;
  if (a->loss && k < 0) {
    error_plain("--loss must be mse, binary_crossentropy, categorical_crossentropy or "
                "sparse_categorical_crossentropy, got '%s'",
                a->loss);
    return false;
  }
  const char *opt = a->optimizer ? a->optimizer : "sgd";
  if (strcmp(opt, "sgd") && strcmp(opt, "momentum") && strcmp(opt, "adam")) {
    error_plain("--optimizer must be sgd, momentum or adam, got '%s'", opt);
    return false;
  }
  m->train.present = a->train;
  if (k >= 0) m->train.loss = (LossKind)k;
  if (!strcmp(opt, "adam")) m->train.opt = (OptSpec){OPT_ADAM, 0.001, 0, false, 0.9, 0.999, 1e-7, 0, 0};
  if (!strcmp(opt, "momentum")) m->train.opt.momentum = 0.9;
  return true;
}

static Model *load_onnx(ToolArgs *a) {
#ifdef NN2C_HAVE_ONNX
  OnnxOptions *o = onnx_options(a);
  if (!o) return NULL;
  const char *base = strrchr(a->model, '/') ? strrchr(a->model, '/') + 1 : a->model;
  char name[256];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(base, "."), base);
  for (char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p)) *p = '_';
  if (!isalpha((unsigned char)name[0])) name[0] = 'm';
  Model *m = model_new_imported(a->model, name, import_onnx, o);
  if (!imported_training(a, m)) {
    model_free(m);
    return NULL;
  }
  return m;
#else
  error_plain("%s: this nn2c was built without ONNX support (configure with -DNN2C_ONNX=ON)", a->model);
  return NULL;
#endif
}

Model *tool_load_model(ToolArgs *a) {
  bool onnx = has_suffix(a->model, ".onnx");
  if (!onnx && (a->loss || a->optimizer || a->ndims)) {
    error_plain("--loss, --optimizer and --dim are for ONNX models (a .nn file has its own train section)");
    return NULL;
  }
  Model *m = onnx ? load_onnx(a) : model_load(a->model);
  if (m) m->freeze = a->freeze, m->nfreeze = a->nfreeze;
  if (m && a->train && !m->train.present) {
    error_plain("%s: --train needs a train section in the model", a->model);
    model_free(m);
    return NULL;
  }
  return m;
}

int64_t tool_batch(const ToolArgs *a, const Model *m) {
  return a->batch ? a->batch : m->train.present && m->train.batch > 0 ? m->train.batch : 1;
}

/* ---- arithmetic of a node ---- */

/* The contracted length of a matrix product: op(a)'s columns. */
static int64_t inner_dim(const Node *n, const char *trans_key) {
  Shape a = n->in[0]->shape;
  bool ta = node_int(n, trans_key, 0) != 0;
  return a.rank < 1 ? 1 : ta && a.rank >= 2 ? a.d[a.rank - 2] : a.d[a.rank - 1];
}

int64_t node_macs(const Node *n, int64_t batch) {
  switch (n->op) {
  case OP_MATMUL:
  case OP_MATMUL_BIAS:
    return shape_numel(n->out[0]->shape, batch) * inner_dim(n, "transa");
  case OP_GEMM:
    return shape_numel(n->out[0]->shape, batch) * inner_dim(n, "transA");
  case OP_CONV2D:
  case OP_CONV2D_GRAD_INPUT:
  case OP_CONV2D_GRAD_WEIGHT: {
    /* each output of the forward convolution is kh*kw*cin/groups products;
     * both gradients make as many (the kernel is HWIO) */
    Value *k = n->op == OP_CONV2D_GRAD_WEIGHT ? n->out[0] : n->in[1];
    Value *y = n->op == OP_CONV2D ? n->out[0] : n->op == OP_CONV2D_GRAD_INPUT ? n->in[0] : n->in[1];
    int64_t cout = k->shape.rank ? k->shape.d[k->shape.rank - 1] : 1;
    return shape_numel(y->shape, batch) * (shape_numel_static(k->shape) / (cout ? cout : 1));
  }
  default:
    return 0;
  }
}

/* Ops that only move, copy or select data. */
static bool moves_data(OpKind op) {
  static const OpKind ops[] = {
      OP_RESHAPE,         OP_TRANSPOSE, OP_SQUEEZE, OP_UNSQUEEZE,  OP_FLATTEN,  OP_IDENTITY,       OP_EXPAND,
      OP_SLICE,           OP_CONCAT,    OP_PAD,     OP_SPLIT,      OP_TILE,     OP_GATHER,         OP_STACK,
      OP_UNSTACK,         OP_EMBEDDING, OP_CAST,    OP_SLICE_GRAD, OP_PAD_GRAD, OP_DEPTH_TO_SPACE, OP_SPACE_TO_DEPTH,
      OP_GATHER_ELEMENTS, OP_GATHER_ND};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (ops[i] == op) return true;
  return false;
}

int64_t node_flops(const Node *n, int64_t batch) {
  int64_t macs = node_macs(n, batch);
  if (macs) return 2 * macs;
  if (moves_data(n->op)) return 0;
  int64_t out = shape_numel(n->out[0]->shape, batch), in = n->nin ? shape_numel(n->in[0]->shape, batch) : 0;
  return out > in ? out : in; /* a reduction works on every input element */
}
