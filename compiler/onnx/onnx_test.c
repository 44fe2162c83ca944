/* onnx_test.c - `nn2c test-onnx CASE_DIR...`: ONNX backend-test cases
 * (model.onnx, test_data_set_N/input_K.pb, output_K.pb) through the
 * interpreter and through emitted C.
 *
 * 1. Per case: import, run the inference pipeline, run the interpreter on
 *    each data set and compare; emit the model's C and a small harness
 *    (main.c reads raw inputs, calls NAME_run, writes raw outputs).
 * 2. Build every harness with $CC, N compilers at a time; a case that does
 *    not compile fails alone.
 * 3. Run each harness per data set and compare its outputs.
 * No shell runs: the compiler and the harnesses are started with fork/exec,
 * so a case folder's name (`x;touch PWNED`) is only ever a path.
 * Tolerance (ONNX's): |got - want| <= atol + rtol |want| with rtol 1e-3,
 * atol 1e-7, or at most 4 units in the last place (the ULP allowance covers
 * libm differences near zero, where rtol is tiny). NaN matches NaN;
 * integers and bools match exactly. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "interp/interp.h"
#include "onnx.h"

#define RTOL 1e-3
#define ATOL 1e-7
#define ULPS 4
#define MAX_SETS 8
#define MAX_IO 16

typedef enum { C_PASS, C_FAIL, C_UNSUPPORTED } CaseStatus;

typedef struct {
  const char *dir, *name, *work, *log;
  CaseStatus st;
  char why[400];
  int nsets, nin, nout;
  bool emitted;
  bool frozen[MAX_IO];                  /* inputs compiled in as constants (import_case) */
  bool in_seq[MAX_IO], out_seq[MAX_IO]; /* data files holding a SequenceProto, by file number */
  int seq_lens[MAX_IO];                 /* their lengths in data set 0 (-1: not read yet) */
} Case;

static bool is_dir(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_file(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

static void set_status(Case *c, CaseStatus st, const char *fmt, ...) {
  if (c->st != C_PASS) return; /* keep the first reason */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->why, sizeof c->why, fmt, ap);
  va_end(ap);
  c->st = st;
}

/* ---- comparison ---- */

static int64_t ordered_bits(double v, bool f32) {
  if (f32) {
    float f = (float)v;
    int32_t i;
    memcpy(&i, &f, 4);
    return i < 0 ? (int64_t)INT32_MIN - i : i;
  }
  int64_t i;
  memcpy(&i, &v, 8);
  return i < 0 ? INT64_MIN - i : i;
}

static bool close_enough(double got, double want, bool f32) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
  if (isinf(want) || isinf(got)) return got == want;
  if (fabs(got - want) <= ATOL + RTOL * fabs(want)) return true;
  int64_t d = ordered_bits(got, f32) - ordered_bits(want, f32);
  return d <= ULPS && d >= -ULPS;
}

/* Compares n elements of dtype t; describes the first mismatch in why. */
static bool compare(DType t, const void *got, const void *want, int64_t n, char *why, size_t wn) {
  Tensor g = {t, shape_scalar(), n, (void *)got}, w = {t, shape_scalar(), n, (void *)want};
  for (int64_t i = 0; i < n; i++) {
    bool ok;
    if (t == DT_I64 || t == DT_U64)
      ok = ((const int64_t *)got)[i] == ((const int64_t *)want)[i];
    else if (dtype_is_float(t))
      ok = close_enough(tensor_get(&g, i), tensor_get(&w, i), t == DT_F32);
    else
      ok = tensor_get(&g, i) == tensor_get(&w, i);
    if (!ok) {
      snprintf(why, wn, "element %lld is %.9g, expected %.9g", (long long)i, tensor_get(&g, i), tensor_get(&w, i));
      return false;
    }
  }
  return true;
}

/* ---- per case: import, interpreter, emission ---- */

static char *pathf(Arena *a, const char *fmt, ...) {
  Buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  char *s = arena_strdup(a, b.data);
  buf_free(&b);
  return s;
}

static Value *graph_input(Graph *g, int k) {
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_INPUT && k-- == 0) return g->values[i];
  return NULL;
}

/* ONNX's reference stored bfloat16 test data as uint16. */
static bool dtype_matches(DType model, DType data) { return model == data || (model == DT_BF16 && data == DT_U16); }

/* Loads set s's tensors of one kind ("input"/"output"); returns how many. */
/* A sequence's tensors count as that many, in order (the importer makes
 * them that many graph inputs or outputs). */
static int load_set(Arena *a, Case *c, int s, const char *kind, void **data, DType *t, Shape *sh) {
  int n = 0;
  bool input = !strcmp(kind, "input");
  for (int f = 0; n < MAX_IO && f < MAX_IO; f++) {
    char *p = pathf(a, "%s/test_data_set_%d/%s_%d.pb", c->dir, s, kind, f);
    if (!is_file(p)) break;
    if ((input ? c->in_seq : c->out_seq)[f]) {
      int m = onnx_read_sequence(p, MAX_IO - n, data + n, t + n, sh + n);
      if (m < 0) {
        set_status(c, C_FAIL, "cannot read %s", p);
        break;
      }
      if (input && s == 0) c->seq_lens[f] = m;
      n += m;
      continue;
    }
    data[n] = onnx_read_tensor(p, &t[n], &sh[n]);
    if (!data[n]) {
      set_status(c, C_FAIL, "cannot read %s", p);
      break;
    }
    n++;
  }
  return n;
}

static void free_set(void **d, int n) {
  for (int i = 0; i < n; i++)
    free(d[i]);
}

static bool check_outputs(Case *c, Graph *g, void **got, void **want, DType *wt, Shape *ws, int nw, const char *who) {
  if (nw != g->noutputs) {
    set_status(c, C_FAIL, "%d expected outputs, the model has %d", nw, g->noutputs);
    return false;
  }
  for (int k = 0; k < nw; k++) {
    Value *o = g->outputs[k];
    char why[160];
    if (!dtype_matches(o->dtype, wt[k]) || shape_numel_static(o->shape) != shape_numel_static(ws[k])) {
      set_status(c, C_FAIL, "output %d is %s%s, expected %s%s", k, dtype_name(o->dtype), shape_str(&g->arena, o->shape),
                 dtype_name(wt[k]), shape_str(&g->arena, ws[k]));
      return false;
    }
    if (!compare(o->dtype, got[k], want[k], shape_numel_static(o->shape), why, sizeof why)) {
      set_status(c, C_FAIL, "%s output %d: %s", who, k, why);
      return false;
    }
  }
  return true;
}

static bool is_read(Graph *g, Value *v) {
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i]->nin; k++)
      if (g->nodes[i]->in[k] == v) return true;
  return false;
}

/* Runs the interpreter on every data set and writes the raw inputs for the harness. */
static void run_sets(Case *c, Graph *g, Arena *a) {
  for (int s = 0; s < MAX_SETS; s++) {
    if (!is_dir(pathf(a, "%s/test_data_set_%d", c->dir, s))) break;
    void *in[MAX_IO], *want[MAX_IO];
    DType it[MAX_IO], wt[MAX_IO];
    Shape is[MAX_IO], ws[MAX_IO];
    int ni = load_set(a, c, s, "input", in, it, is), nw = load_set(a, c, s, "output", want, wt, ws);
    Feed feeds[MAX_IO];
    bool ok = c->st == C_PASS;
    int j = 0; /* graph input fed by data input k */
    for (int k = 0; k < ni && ok; k++) {
      if (c->frozen[k]) continue;
      Value *v = graph_input(g, j);
      ok = v && dtype_matches(v->dtype, it[k]) && (shape_eq(v->shape, is[k]) || !is_read(g, v));
      if (!ok) set_status(c, C_FAIL, "input %d does not match the model's inputs", k);
      if (ok && !shape_eq(v->shape, is[k])) { /* read by no node (CastLike's like): zeros of the model's shape */
        free(in[k]);
        in[k] = xcalloc((size_t)(shape_numel_static(v->shape) * dtype_size(v->dtype)) + 1, 1);
        is[k] = v->shape;
      }
      if (ok) feeds[j] = (Feed){v->name, in[k]};
      if (ok)
        ok = write_whole_file(pathf(a, "%s/set%d_in%d.bin", c->work, s, j), in[k],
                              (size_t)(shape_numel_static(is[k]) * dtype_size(it[k])));
      j++;
    }
    if (ok && graph_input(g, j))
      set_status(c, C_FAIL, "data set %d has %d inputs; the model needs more", s, ni), ok = false;
    InterpRun r = {0};
    float dummy[16] = {0};
    if (ok && !interp_run(g, dummy, dummy, feeds, j, 1, 0, &r)) set_status(c, C_FAIL, "interpreter failed"), ok = false;
    if (ok) {
      void *got[MAX_IO];
      for (int k = 0; k < g->noutputs && k < MAX_IO; k++)
        got[k] = r.vals[g->outputs[k]->id].data;
      check_outputs(c, g, got, want, wt, ws, nw, "interpreter");
    }
    interp_run_free(&r);
    free_set(in, ni);
    free_set(want, nw);
    c->nsets = s + 1;
    c->nin = ni;
    c->nout = nw;
  }
}

static const char *harness =
    "\n/* test harness: argv[1] is the data-set prefix */\n#include <stdio.h>\n#include <stdlib.h>\n\n"
    "static void save(const char *prefix, int k, const void *d, size_t n) {\n  char p[4096];\n  FILE *f;\n"
    "  sprintf(p, \"%s_out%d.bin\", prefix, k);\n  f = fopen(p, \"wb\");\n  if (!f || fwrite(d, 1, n, f) != n) "
    "exit(4);\n"
    "  fclose(f);\n}\n\n";
static const char *harness_load =
    "static void *load(const char *prefix, int k, size_t n) {\n  char p[4096];\n  void *d = calloc(n ? n : 1, 1);\n"
    "  FILE *f;\n  sprintf(p, \"%s_in%d.bin\", prefix, k);\n  f = fopen(p, \"rb\");\n"
    "  if (!f || !d || fread(d, 1, n, f) != n) exit(3);\n  fclose(f);\n  return d;\n}\n\n";

static void emit_harness(Buf *b, Graph *g) {
  int nin = 0;
  for (int i = 0; i < g->nvalues; i++)
    nin += g->values[i]->kind == VK_INPUT;
  buf_printf(b, "#include \"model.c\"\n%s%s", harness, nin ? harness_load : "");
  buf_printf(b,
             "int main(int argc, char **argv) {\n  model_Model m;\n  const void *in[%d];\n  void *out[%d];\n  int k;\n",
             nin ? nin : 1, g->noutputs);
  buf_puts(
      b,
      "  if (argc < 2) return 2;\n  memset(&m, 0, sizeof m);\n  m.max_batch = 1;\n"
      "  m.params = calloc(model_PARAM_FLOATS + 1, sizeof(float));\n"
      "  m.state = calloc(model_STATE_FLOATS + 1, sizeof(float));\n  m.arena = malloc(model_arena_bytes(1) + 64);\n");
  for (int k = 0; k < nin; k++) {
    Value *v = graph_input(g, k);
    buf_printf(b, "  in[%d] = load(argv[1], %d, %lld);\n", k, k,
               (long long)(shape_numel_static(v->shape) * dtype_size(v->dtype)));
  }
  for (int k = 0; k < g->noutputs; k++) {
    Value *v = g->outputs[k];
    buf_printf(b, "  out[%d] = calloc(%lld + 1, 1);\n", k,
               (long long)(shape_numel_static(v->shape) * dtype_size(v->dtype)));
  }
  buf_puts(b, "  if (model_run(&m, in, out, 1)) return 5;\n");
  for (int k = 0; k < g->noutputs; k++) {
    Value *v = g->outputs[k];
    buf_printf(b, "  save(argv[1], %d, out[%d], %lld);\n", k, k,
               (long long)(shape_numel_static(v->shape) * dtype_size(v->dtype)));
  }
  buf_printf(b, "  for (k = 0; k < %d; k++) free((void *)in[k]);\n  for (k = 0; k < %d; k++) free(out[k]);\n", nin,
             g->noutputs);
  buf_puts(b, "  free(m.params);\n  free(m.state);\n  free(m.arena);\n  return 0;\n}\n");
}

static bool emit_case(Case *c, Graph *g, CompiledGraph *cg) {
  Model *m = model_new_imported(pathf(&g->arena, "%s/model.onnx", c->dir), "model", NULL, NULL);
  CodegenInput in = {"model", false, *cg, {0}, {0}, false, false, {0}, {0}, NULL, 0};
  Buf h = {0}, src = {0}, hb = {0};
  codegen_model(m, &in, &h, &src);
  emit_harness(&hb, g);
  Arena *a = &g->arena;
  bool ok = write_whole_file(pathf(a, "%s/model.h", c->work), h.data, h.len) &&
            write_whole_file(pathf(a, "%s/model.c", c->work), src.data, src.len) &&
            write_whole_file(pathf(a, "%s/main.c", c->work), hb.data, hb.len);
  buf_free(&h);
  buf_free(&src);
  buf_free(&hb);
  model_free(m);
  if (!ok) set_status(c, C_FAIL, "cannot write %s", c->work);
  return ok;
}

/* Imports a case; graph inputs the model needs as constants (a Reshape's
 * shape fed as an input) are frozen to data set 0's values and the import
 * retried. frozen[k] marks input k. */
static Graph *import_case(Case *c, Arena *a, OnnxStatus *st, bool *frozen) {
  OnnxFrozen fz[MAX_IO];
  OnnxOptions o = {.frozen = fz};
  void *data[MAX_IO] = {0};
  DType t[MAX_IO];
  Shape s[MAX_IO];
  int n = -1;
  Graph *g = NULL;
  for (int tries = 0; tries <= MAX_IO && !g; tries++) {
    g = onnx_import(pathf(a, "%s/model.onnx", c->dir), &o, st);
    int k = st->need_const;
    bool symbolic = !g && !st->unsupported && n < 0;
    if (!g && (k >= 0 || symbolic) && n < 0) {
      n = load_set(a, c, 0, "input", data, t, s);
      o.shapes = s, o.nshapes = n; /* symbolic dimensions from the data */
      o.seq_lens = c->seq_lens, o.nseq_lens = MAX_IO;
      if (symbolic) continue;
    }
    if (g || k < 0 || k >= n || frozen[k]) break;
    frozen[k] = true;
    fz[o.nfrozen++] = (OnnxFrozen){k, t[k], s[k], data[k]};
    fprintf(stderr, "test-onnx: input %d frozen to data set 0's value\n", k);
  }
  free_set(data, n);
  return g;
}

static void prepare_case(Case *c) {
  Arena a = {0};
  OnnxStatus st;
  for (int k = 0; k < MAX_IO; k++)
    c->seq_lens[k] = -1;
  onnx_model_sequences(pathf(&a, "%s/model.onnx", c->dir), c->in_seq, MAX_IO, c->out_seq, MAX_IO);
  Graph *g = import_case(c, &a, &st, c->frozen);
  if (!g) {
    set_status(c, st.unsupported ? C_UNSUPPORTED : C_FAIL, "%s", st.unsupported ? st.what : "import failed");
    arena_free(&a);
    return;
  }
  CompiledGraph cg = {0};
  cg.g = g;
  cg.plan.verify = true;
  if (!pass_run_pipeline(g, &cg.plan, PIPELINE_INFER)) set_status(c, C_FAIL, "compile pipeline failed");
  if (c->st == C_PASS && mkdir(c->work, 0777) != 0 && errno != EEXIST)
    set_status(c, C_FAIL, "cannot create %s", c->work);
  if (c->st == C_PASS) run_sets(c, g, &a);
  if (c->st == C_PASS) c->emitted = emit_case(c, g, &cg);
  graph_free(g);
  arena_free(&a);
}

/* The first line of a log that says "error" (else its last line). */
static void error_line(const char *path, char *out, size_t n) {
  char *t = read_whole_file(path, NULL);
  char *e = t ? strstr(t, "error") : NULL;
  size_t len = t ? strlen(t) : 0;
  while (len && t[len - 1] == '\n')
    t[--len] = 0;
  if (e)
    while (e > t && e[-1] != '\n')
      e--;
  else if (t)
    e = strrchr(t, '\n') ? strrchr(t, '\n') + 1 : t;
  snprintf(out, n, "%.*s", e ? (int)strcspn(e, "\n") : 0, e ? e : "");
  free(t);
}

/* Each case is prepared in a child process, `jobs` at a time: an internal
 * error (an assert) in one case then fails that case alone. The child sends
 * its Case back through a pipe. */
static void prepare_all(Case *cs, int n, int jobs) {
  pid_t *pid = xcalloc((size_t)n, sizeof(pid_t));
  int *fd = xcalloc((size_t)n, sizeof(int));
  for (int i = 0, done = 0; done < n;) {
    if (i < n && i - done < jobs) {
      int p[2];
      if (pipe(p) != 0) p[0] = p[1] = -1;
      fflush(NULL);
      pid[i] = fork();
      if (pid[i] == 0) {
        close(p[0]);
        if (!freopen(cs[i].log, "w", stderr)) _exit(1);
        prepare_case(&cs[i]);
        fflush(stderr); /* a file now: buffered, and _exit does not flush */
        ssize_t w = write(p[1], &cs[i], sizeof(Case));
        _exit(w == (ssize_t)sizeof(Case) ? 0 : 1);
      }
      close(p[1]);
      fd[i++] = p[0];
      continue;
    }
    Case got;
    ssize_t r = read(fd[done], &got, sizeof got);
    int status = 0;
    waitpid(pid[done], &status, 0);
    close(fd[done]);
    if (r == (ssize_t)sizeof got)
      cs[done] = got;
    else
      set_status(&cs[done], C_FAIL, "internal error while compiling (status %d)", status);
    if (cs[done].st != C_PASS && strstr(cs[done].why, "failed")) { /* add the first error printed */
      size_t len = strlen(cs[done].why);
      cs[done].why[len] = ' ';
      error_line(cs[done].log, cs[done].why + len + 1, sizeof cs[done].why - len - 1);
    }
    done++;
  }
  free(pid);
  free(fd);
}

/* ---- compiling and running the emitted C ---- */

/* Starts argv[0] (searched in PATH) with stdout to /dev/null and stderr to
 * err_path (or /dev/null); with a timeout it is killed by SIGALRM after that
 * many seconds. The child's pid, or -1. */
static pid_t spawn(char **argv, const char *err_path, unsigned timeout) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid != 0) return pid;
  int null = open("/dev/null", O_WRONLY);
  int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0666) : null;
  if (null < 0 || err < 0 || dup2(null, 1) < 0 || dup2(err, 2) < 0) _exit(126);
  if (timeout) alarm(timeout); /* pending alarms survive exec */
  execvp(argv[0], argv);
  _exit(127);
}

/* How a child ended, for messages: "" when it exited with 0. */
static const char *exit_reason(int status, char *buf, size_t n) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  if (WIFEXITED(status))
    snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
  else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
    snprintf(buf, n, "timed out");
  else if (WIFSIGNALED(status))
    snprintf(buf, n, "was killed by signal %d", WTERMSIG(status));
  else
    snprintf(buf, n, "ended with status %d", status);
  return buf;
}

/* Compiles each emitted case's harness to WORK/run, `jobs` compilers at a
 * time. cc is $CC split at spaces ("ccache gcc" works). */
static void build_all(Case *cs, int n, int jobs, const char *cc) {
  char *ccw = xstrdup(cc), *argv[64];
  int na = 0;
  for (char *t = strtok(ccw, " \t"); t && na < 48; t = strtok(NULL, " \t"))
    argv[na++] = t;
  if (!na) argv[na++] = "cc";
  static char *flags[] = {"-std=c99", "-O0", "-Wall", "-Wextra", "-Werror", "-pedantic"};
  for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
    argv[na++] = flags[k];
  Arena a = {0};
  int running = 0;
  for (int i = 0; i <= n; i++) {
    while (running > 0 && (running >= jobs || i == n)) { /* wait for a free slot, or for all at the end */
      if (wait(NULL) < 0 && errno != EINTR)
        running = 0;
      else
        running--;
    }
    if (i == n || !cs[i].emitted) continue;
    char *args[64];
    memcpy(args, argv, sizeof(char *) * (size_t)na);
    int k = na;
    args[k++] = pathf(&a, "%s/main.c", cs[i].work);
    args[k++] = "-o";
    args[k++] = pathf(&a, "%s/run", cs[i].work);
    args[k++] = "-lm";
    args[k] = NULL;
    if (spawn(args, pathf(&a, "%s/cc.log", cs[i].work), 0) > 0) running++;
  }
  arena_free(&a);
  free(ccw);
}

static void run_emitted(Case *c) {
  Arena a = {0};
  char *exe = pathf(&a, "%s/run", c->work);
  if (!is_file(exe)) {
    char line[160];
    error_line(pathf(&a, "%s/cc.log", c->work), line, sizeof line);
    set_status(c, C_FAIL, "emitted C does not compile: %s", line);
  }
  for (int s = 0; s < c->nsets && c->st == C_PASS; s++) {
    char *prefix = pathf(&a, "%s/set%d", c->work, s), *args[] = {exe, prefix, NULL}, why[64];
    pid_t pid = spawn(args, NULL, 60);
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) status = -1;
    if (*exit_reason(status, why, sizeof why)) {
      set_status(c, C_FAIL, "emitted C %s on data set %d", why, s);
      break;
    }
    void *want[MAX_IO], *got[MAX_IO] = {0};
    DType wt[MAX_IO];
    Shape ws[MAX_IO];
    int nw = load_set(&a, c, s, "output", want, wt, ws);
    bool ok = true;
    for (int k = 0; k < nw && ok; k++) {
      size_t bytes = (size_t)(shape_numel_static(ws[k]) * dtype_size(wt[k]));
      size_t len = 0;
      got[k] = read_whole_file(pathf(&a, "%s_out%d.bin", prefix, k), &len);
      ok = got[k] && len == bytes;
      if (!ok) set_status(c, C_FAIL, "emitted C wrote no output %d", k);
      char why[160];
      if (ok && !compare(wt[k], got[k], want[k], shape_numel_static(ws[k]), why, sizeof why))
        set_status(c, C_FAIL, "emitted C output %d: %s", k, why), ok = false;
    }
    free_set(got, nw);
    free_set(want, nw);
  }
  arena_free(&a);
}

/* ---- driver ---- */

/* --ops-list FILE: how many cases use only the ops FILE lists, and how many of those pass. */
static void report_listed(Case *cs, int n, const char *file) {
  char *list = read_whole_file(file, NULL);
  if (!list) {
    error_plain("cannot read '%s'", file);
    return;
  }
  int listed = 0, passed = 0;
  for (int i = 0; i < n; i++) {
    Vec ops = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/model.onnx", cs[i].dir);
    bool all = onnx_model_ops(path, &ops);
    for (int k = 0; k < ops.len; k++) {
      char pat[256];
      snprintf(pat, sizeof pat, " %s ", (char *)ops.items[k]);
      Buf padded = {0};
      buf_printf(&padded, " %s ", list);
      for (char *p = padded.data; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
      all = all && strstr(padded.data, pat);
      buf_free(&padded);
      free(ops.items[k]);
    }
    vec_free(&ops);
    listed += all;
    passed += all && cs[i].st == C_PASS;
  }
  printf("ops in %s only: %d cases, %d passed\n", file, listed, passed);
  free(list);
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* d without its trailing slashes (but "/" stays "/"), xstrdup'd. */
static char *trim_slashes(const char *d) {
  size_t n = strlen(d);
  while (n > 1 && d[n - 1] == '/')
    n--;
  char *r = xmalloc(n + 1);
  memcpy(r, d, n);
  r[n] = 0;
  return r;
}

/* d is a case (it holds model.onnx) or a folder of cases: each subfolder
 * that holds model.onnx, sorted by name for stable output. */
static void add_cases(Vec *dirs, const char *arg) {
  char *d = trim_slashes(arg);
  Buf p = {0};
  buf_printf(&p, "%s/model.onnx", d);
  bool one = is_file(p.data);
  buf_free(&p);
  if (one) {
    vec_push(dirs, d);
    return;
  }
  Vec subs = {0};
  DIR *dir = opendir(d);
  for (struct dirent *e; dir && (e = readdir(dir));) {
    if (e->d_name[0] == '.') continue;
    Buf sub = {0};
    buf_printf(&sub, "%s/%s/model.onnx", strcmp(d, "/") ? d : "", e->d_name);
    if (is_file(sub.data)) {
      sub.data[strlen(sub.data) - strlen("/model.onnx")] = 0;
      vec_push(&subs, xstrdup(sub.data));
    }
    buf_free(&sub);
  }
  if (dir) closedir(dir);
  if (subs.len) qsort(subs.items, (size_t)subs.len, sizeof(void *), compare_names); /* items is NULL when empty */
  for (int i = 0; i < subs.len; i++)
    vec_push(dirs, subs.items[i]);
  vec_free(&subs);
  free(d);
}

/* A case's name: its folder's name (of the real path for "." and ".."). */
static const char *case_name(Arena *a, const char *dir) {
  const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
  if (*base && strcmp(base, ".") && strcmp(base, "..")) return base;
  char *real = realpath(dir, NULL);
  const char *r = real && strrchr(real, '/') && strrchr(real, '/')[1] ? strrchr(real, '/') + 1 : "case";
  const char *name = arena_strdup(a, r);
  free(real);
  return name;
}

int onnx_test_main(int argc, char **argv) {
  int jobs = 2;
  const char *work = NULL, *ops_list = NULL, *cc = getenv("CC") ? getenv("CC") : "cc";
  Vec dirs = {0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-j") && i + 1 < argc)
      jobs = atoi(argv[++i]);
    else if (!strncmp(argv[i], "-j", 2) && argv[i][2])
      jobs = atoi(argv[i] + 2);
    else if (!strcmp(argv[i], "--work") && i + 1 < argc)
      work = argv[++i];
    else if (!strcmp(argv[i], "--ops-list") && i + 1 < argc)
      ops_list = argv[++i];
    else if (argv[i][0] == '-') {
      error_plain("test-onnx: unknown option '%s' (usage: nn2c test-onnx [-j N] [--work DIR] CASE_DIR...)", argv[i]);
      return 1;
    } else
      add_cases(&dirs, argv[i]);
  }
  if (jobs < 1 || jobs > 256) {
    error_plain("test-onnx: -j needs a number of jobs from 1 to 256");
    return 1;
  }
  if (!dirs.len) {
    error_plain("test-onnx: no cases found (usage: nn2c test-onnx [-j N] [--work DIR] CASE_DIR...)");
    return 1;
  }
  char tmp[] = "/tmp/nn2c-onnx-XXXXXX";
  if (!work && !(work = mkdtemp(tmp))) {
    error_plain("test-onnx: cannot create a work folder");
    return 1;
  }
  mkdir(work, 0777);
  Case *cs = xcalloc((size_t)dirs.len, sizeof(Case));
  Arena a = {0};
  for (int i = 0; i < dirs.len; i++) {
    Case *c = &cs[i];
    c->dir = dirs.items[i];
    c->name = case_name(&a, c->dir);
    int same = 0; /* cases of one name (a/test_x, b/test_x) get work folders of their own */
    for (int k = 0; k < i; k++)
      same += !strcmp(cs[k].name, c->name);
    c->work = same ? pathf(&a, "%s/%s.%d", work, c->name, same) : pathf(&a, "%s/%s", work, c->name);
    c->log = pathf(&a, "%s.log", c->work);
  }
  prepare_all(cs, dirs.len, jobs > 0 ? jobs : 1);
  build_all(cs, dirs.len, jobs > 0 ? jobs : 1, cc);
  int pass = 0, failn = 0, skip = 0;
  for (int i = 0; i < dirs.len; i++) {
    Case *c = &cs[i];
    if (c->st == C_PASS) run_emitted(c);
    if (c->st == C_PASS)
      printf("PASS %s\n", c->name), pass++;
    else if (c->st == C_FAIL)
      printf("FAIL %s %s\n", c->name, c->why), failn++;
    else
      printf("UNSUPPORTED %s %s\n", c->name, c->why), skip++;
    fflush(stdout);
  }
  if (ops_list) report_listed(cs, dirs.len, ops_list);
  printf("%d passed, %d failed, %d skipped\n", pass, failn, skip);
  for (int i = 0; i < dirs.len; i++)
    free(dirs.items[i]);
  vec_free(&dirs);
  free(cs);
  arena_free(&a);
  return failn ? 1 : 0;
}
