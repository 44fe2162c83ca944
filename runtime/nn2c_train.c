/* nn2c_train.c - the generic training loop behind every generated NAME_train.
 *
 * A generated trainer main (templates/train_main.c.in) describes its model
 * in an nn2c_model_desc and calls nn2c_train_main, which:
 *   1. parses and validates the flags (see usage() below);
 *   2. loads the train and test sets (MNIST or CIFAR-10 from --data, IMDB or
 *      speech commands from --data or their default folder, random data
 *      drawn from --seed, or the model's inline points, which serve as both
 *      sets), cut to --limit-*;
 *   3. allocates everything once: parameters, optimizer state (zeroed), the
 *      model's arena (64-byte aligned), the model struct and batch buffers,
 *      so the step loop itself never allocates; passes --threads to a model
 *      that has a set_threads hook;
 *   4. initializes the parameters from --seed, or restores parameters, state
 *      and step counter from --load;
 *   5. per epoch: shuffles with an RNG seeded from (seed, epoch), runs
 *      train_step on each mini-batch (the last one may be partial), prints
 *      progress, evaluates on the test set and saves the --save checkpoint;
 *   6. prints "final: test_loss=... test_accuracy=..." and, for inline data,
 *      the model's output for every inline sample.
 *
 * Resuming: --epochs and --steps count from the very first step, not from the
 * checkpoint. A checkpoint at step s resumes in epoch s / steps_per_epoch,
 * skipping the batches already done; since each epoch's shuffle depends only
 * on the seed and the epoch, training in pieces gives the same result as
 * training at once (given the same --seed, --batch and --limit-train). The
 * checkpoint's "trainer" section carries the callbacks' state and a cut
 * epoch's sums, so callbacks and metrics rows resume exactly too.
 *
 * Data-parallel runs (nn2c compile --mpi) go through the nn2c_dist_* calls of
 * nn2c_dist.h: each process trains on its slice of every batch and evaluates
 * its slice of the test set; rank 0 alone reads --load, prints and saves.
 * Without MPI those calls are the one-process trainer.
 *
 * Losses: the model reports one loss per batch "as its loss defines it" (a
 * mean for reduction=mean, a sum for reduction=sum). Train and test losses
 * printed here are those per-batch values averaged with the batch sizes as
 * weights, i.e. the per-sample mean loss for mean reduction and the
 * (size-weighted) mean per-batch sum for sum reduction.
 */
#define _POSIX_C_SOURCE 200809L

#include "nn2c_dist.h"
#include "nn2c_rt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  const char *data, *save, *load, *weights, *metrics;
  const char *train_x, *train_y, *test_x, *test_y, *train_csv, *test_csv, *label_column; /* your own data */
  double validation_split;                                                               /* 0 = none */
  int epochs, batch, quiet, threads;
  float lr;
  uint64_t seed;
  long long limit_train, limit_test, steps;      /* 0 = no limit */
  long long log_every;                           /* --metrics step rows; 0 = none */
  const char *save_best, *monitor, *lr_schedule; /* callbacks; NULL = none (monitor: see pick_monitor) */
  long long early_stop;                          /* patience in epochs; 0 = none */
} Options;

/* Training since the last --log-every row (the epoch's totals live in EpochStats). */
typedef struct {
  double loss_sum, t0;
  long long correct, seen;
} Window;

typedef struct {
  const nn2c_model_desc *d;
  char prog[160];    /* NAME_train (and its rank under MPI), the prefix of every message */
  const char *argv0; /* how the program was started (finds NAME.weights) */
  Options o;
  nn2c_dataset train, test, val; /* val: --validation-split's samples (n 0 without) */
  float *params, *state;
  unsigned char *arena_raw, *arena; /* arena = arena_raw rounded up to 64 bytes */
  void *model;
  int32_t *order;             /* train sample order, reshuffled every epoch */
  float *bx, *bout, *bstep;   /* batch inputs, outputs, step counter for checkpoints */
  void *by;                   /* batch labels: int32_t or float (both 4 bytes) */
  int tty;                    /* stdout is a terminal: progress rewrites one line */
  double test_loss, test_acc; /* from the latest evaluation */
  double val_loss, val_acc;   /* NAN without a validation split */
  float lr;                   /* the learning rate the model trains with now */
  nn2c_metrics metrics;       /* --metrics: open when metrics.path is set */
  Window window;              /* --log-every */
  double t0;                  /* when training started */
  const char *ckpt_path;      /* where write_checkpoint writes: --save or --save-best */
  char *flags_text;           /* the model's train flags, split up (parse_model_flags) */
  /* Callbacks (nn2c_callbacks.c): */
  double train_loss, train_acc; /* the last epoch's */
  int monitor;                  /* index of the watched metric (nn2c_monitor_parse) */
  nn2c_watch best, plateau;     /* for early stopping and --save-best; for reduce-on-plateau */
  nn2c_lr_schedule sched;       /* kind NN2C_LR_CONSTANT without --lr-schedule */
  double sched_steps;           /* the schedule's default steps: an epoch's (exponential) or the run's (cosine) */
  int stop;                     /* early stopping said so */
  int best_epoch;               /* when the metric was best (from 1) */
  /* An epoch cut short by --steps: its sums so far, which a resumed run goes on from. */
  double cut_loss;
  long long cut_correct, cut_seen;
  float tstate[NN2C_TRAINER_FLOATS]; /* the checkpoint's "trainer" section (nn2c_rt.h) */
} Trainer;

static int error(const Trainer *t, const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fprintf(stderr, "%s: error: ", t->prog);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

/* ---- 1. Command line ---------------------------------------------------- */

static void usage(const Trainer *t) {
  const nn2c_model_desc *d = t->d;
  printf("usage: %s [options]\n"
         "Trains model %s (dataset %s) and reports test loss and accuracy.\n\n"
         "  --data PATH        dataset directory (required for mnist and cifar10; default\n"
         "                     data/imdb for imdb, data/speech-commands for speech_commands)\n"
         "  --epochs N         epochs to train, counted from step 0 (default %d)\n"
         "  --batch N          mini-batch size (default %d)\n"
         "  --lr X             learning rate, a positive finite float (default %g)\n"
         "  --seed N           seed for initialization and shuffling (default %llu)\n"
         "  --save FILE        write a checkpoint after every epoch and at the end (each\n"
         "                     save prints one line: the file, parameters and bytes)\n"
         "  --load FILE        resume from a checkpoint written by --save\n"
         "  --weights FILE     the imported weights of a model compiled with a weights\n"
         "                     file (default: NAME.weights next to this program)\n"
         "  --train-x F --train-y F --test-x F --test-y F\n"
         "                     train and test on NumPy .npy files (samples, labels);\n"
         "                     --data DIR holding x_train.npy, y_train.npy, x_test.npy\n"
         "                     and y_test.npy does the same\n"
         "  --train-csv F --test-csv F  train and test on CSV files of numbers\n"
         "  --label-column C   the CSV label column: a number from 0 or a header name\n"
         "                     (default: the last column)\n"
         "  --validation-split F  hold out the last fraction F of the training samples,\n"
         "                     evaluated after every epoch (val_loss, val_accuracy)\n"
         "  --limit-train N    use only the first N training samples\n"
         "  --limit-test N     use only the first N test samples\n"
         "  --steps N          stop once the model has taken N steps in total\n"
         "  --metrics FILE     write a row per epoch to FILE: CSV (.csv) or JSON Lines\n"
         "                     (.jsonl); appended to when resuming with --load\n"
         "  --log-every N      and a row every N steps\n"
         "  --monitor M        the metric the callbacks below watch: train_, val_ or\n"
         "                     test_ loss or accuracy (default val_loss with\n"
         "                     --validation-split, else test_loss)\n"
         "  --early-stop P     stop after P epochs without improvement of the metric\n"
         "                     (0: never; --lr-schedule constant: no schedule)\n"
         "  --save-best FILE   write a checkpoint to FILE whenever the metric improves\n"
         "  --lr-schedule S    step every=10 factor=0.5 | exponential rate=0.96 steps=N\n"
         "                     [staircase=1] | cosine [steps=N] [alpha=0] | plateau\n"
         "                     factor=0.1 patience=10 [min_lr=0] (see docs/trainer.md)\n"
         "  --threads N        threads for a model compiled with threads, 1..256 (default 1)\n"
         "  --quiet            print only the final line (and inline outputs): no progress,\n"
         "                     epoch or saved lines\n"
         "  --help             show this help\n",
         t->prog, d->name, d->dataset, d->default_epochs, d->default_batch, (double)d->default_lr,
         (unsigned long long)d->default_seed);
}

/* Parses a decimal integer in [min, max]; only digits are accepted. */
static int parse_int(const Trainer *t, const char *flag, const char *v, long long min, long long max, long long *out) {
  const char *kind = min > 0 ? "a positive integer" : "a non-negative integer";
  unsigned long long x;
  const char *p;
  char *end;
  for (p = v; *p; p++)
    if (!isdigit((unsigned char)*p)) break;
  if (*v == '\0' || *p != '\0') return error(t, "%s: expected %s, got '%s'", flag, kind, v);
  errno = 0;
  x = strtoull(v, &end, 10);
  if (errno == ERANGE || x > (unsigned long long)max)
    return error(t, "%s: %s is too large (at most %lld)", flag, v, max);
  if ((long long)x < min) return error(t, "%s: expected %s, got '%s'", flag, kind, v);
  *out = (long long)x;
  return 0;
}

static int parse_seed(const Trainer *t, const char *flag, const char *v, uint64_t *out) {
  const char *p;
  for (p = v; *p; p++)
    if (!isdigit((unsigned char)*p)) break;
  if (*v == '\0' || *p != '\0') return error(t, "%s: expected a non-negative integer, got '%s'", flag, v);
  errno = 0;
  *out = strtoull(v, NULL, 10);
  if (errno == ERANGE) return error(t, "%s: %s does not fit in 64 bits", flag, v);
  return 0;
}

static int parse_lr(const Trainer *t, const char *flag, const char *v, float *out) {
  char *end;
  double x;
  errno = 0;
  x = strtod(v, &end);
  if (*v == '\0' || isspace((unsigned char)*v) || *end != '\0' || errno == ERANGE || !(x > 0.0) || x > 1e30)
    return error(t, "%s: expected a positive number, got '%s'", flag, v);
  *out = (float)x; /* the model computes in float: 1e-50 would become 0 and train nothing */
  if (!(*out > 0.0f) || !isfinite(*out))
    return error(t, "%s: %s is not a positive finite float (it rounds to %g)", flag, v, (double)*out);
  return 0;
}

/* A fraction strictly between 0 and 1. */
static int parse_fraction(const Trainer *t, const char *flag, const char *v, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (*v == '\0' || isspace((unsigned char)*v) || *end != '\0' || !(x > 0.0 && x < 1.0))
    return error(t, "%s: expected a fraction between 0 and 1 (exclusive), got '%s'", flag, v);
  *out = x;
  return 0;
}

/* Stores the value of one flag that takes a value. */
static int set_option(Trainer *t, const char *f, const char *v) {
  Options *o = &t->o;
  long long x = 0;
  if (!strcmp(f, "--data"))
    o->data = v;
  else if (!strcmp(f, "--save"))
    o->save = v;
  else if (!strcmp(f, "--load"))
    o->load = v;
  else if (!strcmp(f, "--weights"))
    o->weights = v;
  else if (!strcmp(f, "--metrics"))
    o->metrics = v;
  else if (!strcmp(f, "--train-x"))
    o->train_x = v;
  else if (!strcmp(f, "--train-y"))
    o->train_y = v;
  else if (!strcmp(f, "--test-x"))
    o->test_x = v;
  else if (!strcmp(f, "--test-y"))
    o->test_y = v;
  else if (!strcmp(f, "--train-csv"))
    o->train_csv = v;
  else if (!strcmp(f, "--test-csv"))
    o->test_csv = v;
  else if (!strcmp(f, "--label-column"))
    o->label_column = v;
  else if (!strcmp(f, "--save-best"))
    o->save_best = v;
  else if (!strcmp(f, "--monitor"))
    o->monitor = v;
  else if (!strcmp(f, "--lr-schedule"))
    o->lr_schedule = v;
  else if (!strcmp(f, "--early-stop"))
    return parse_int(t, f, v, 0, INT_MAX, &o->early_stop); /* 0: off, over a train-section line */
  else if (!strcmp(f, "--validation-split"))
    return parse_fraction(t, f, v, &o->validation_split);
  else if (!strcmp(f, "--log-every"))
    return parse_int(t, f, v, 1, LLONG_MAX, &o->log_every);
  else if (!strcmp(f, "--seed"))
    return parse_seed(t, f, v, &o->seed);
  else if (!strcmp(f, "--lr"))
    return parse_lr(t, f, v, &o->lr);
  else if (!strcmp(f, "--limit-train"))
    return parse_int(t, f, v, 1, INT_MAX, &o->limit_train);
  else if (!strcmp(f, "--limit-test"))
    return parse_int(t, f, v, 1, INT_MAX, &o->limit_test);
  else if (!strcmp(f, "--steps"))
    return parse_int(t, f, v, 1, LLONG_MAX, &o->steps);
  else if (!strcmp(f, "--threads")) {
    if (parse_int(t, f, v, 1, 256, &x)) return 1;
    o->threads = (int)x;
  } else if (!strcmp(f, "--epochs")) {
    if (parse_int(t, f, v, 0, INT_MAX, &x)) return 1;
    o->epochs = (int)x;
  } else if (!strcmp(f, "--batch")) {
    if (parse_int(t, f, v, 1, INT_MAX, &x)) return 1;
    o->batch = (int)x;
  } else {
    return error(t, "unknown option '%s' (see --help)", f);
  }
  return 0;
}

static int takes_path(const char *f) {
  return !strcmp(f, "--data") || !strcmp(f, "--save") || !strcmp(f, "--load") || !strcmp(f, "--weights") ||
         !strcmp(f, "--metrics") || !strcmp(f, "--train-x") || !strcmp(f, "--train-y") || !strcmp(f, "--test-x") ||
         !strcmp(f, "--test-y") || !strcmp(f, "--train-csv") || !strcmp(f, "--test-csv") || !strcmp(f, "--save-best");
}

static int takes_value(const char *f) {
  static const char *const flags[] = {
      "--epochs",           "--batch",   "--lr",          "--seed",      "--limit-train",
      "--limit-test",       "--steps",   "--threads",     "--log-every", "--label-column",
      "--validation-split", "--monitor", "--lr-schedule", "--early-stop"};
  size_t i;
  for (i = 0; i < sizeof flags / sizeof flags[0]; i++)
    if (!strcmp(f, flags[i])) return 1;
  return takes_path(f);
}

/* The model's train-section callbacks: "--flag value" lines, read before the
 * command line, which overrides them. The values point into a copy of the
 * lines, kept until the end. */
static int parse_model_flags(Trainer *t) {
  const char *src = t->d->train_flags;
  char *p;
  if (!src || !*src) return 0;
  if (!(t->flags_text = malloc(strlen(src) + 1))) return error(t, "out of memory");
  for (p = strcpy(t->flags_text, src); *p;) {
    char *flag = p, *value;
    size_t n = strcspn(p, "\n"), k = strcspn(p, " \n");
    if (k == n)
      return error(t, "internal error: model %s has a train flag without a value: '%.*s'", t->d->name, (int)n, p);
    p += n + (p[n] == '\n');
    flag[n] = flag[k] = '\0';
    value = flag + k + 1;
    if (!takes_value(flag) || set_option(t, flag, value))
      return error(t, "(%s %s comes from model %s's train section)", flag, value, t->d->name);
  }
  return 0;
}

/* Returns 0 to go on, 1 on error, 2 after --help. Accepts "--flag value" and
 * "--flag=value". */
static int parse_args(Trainer *t, int argc, char **argv) {
  int i;
  for (i = 1; i < argc; i++) {
    char flag[64];
    const char *a = argv[i], *eq = strchr(a, '='), *v;
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    if (strncmp(a, "--", 2) != 0) return error(t, "unexpected argument '%s' (see --help)", a);
    if (n >= sizeof flag) return error(t, "unknown option '%s' (see --help)", a);
    memcpy(flag, a, n);
    flag[n] = '\0';
    if (!strcmp(flag, "--help") || !strcmp(flag, "--quiet")) {
      if (eq) return error(t, "%s takes no value", flag);
      if (!strcmp(flag, "--help")) return nn2c_dist_rank() == 0 ? usage(t) : (void)0, 2; /* once, not per rank */
      t->o.quiet = 1;
      continue;
    }
    if (!takes_value(flag)) return error(t, "unknown option '%s' (see --help)", flag);
    if (eq)
      v = eq + 1;
    else if (i + 1 < argc)
      v = argv[++i];
    else
      v = NULL;
    /* "--save --quiet" is a forgotten value, not a file named --quiet */
    if (!v || (takes_path(flag) && (*v == '\0' || !strncmp(v, "--", 2)))) return error(t, "%s: missing value", flag);
    if (set_option(t, flag, v)) return 1;
  }
  return 0;
}

/* --save or --metrics onto a device or directory, or a metrics file of an
 * unknown kind, is refused before any training. */
static int check_targets(Trainer *t) {
  char err[1024];
  if (t->o.save && nn2c_ckpt_check_target(t->o.save, err, sizeof err)) return error(t, "--save: %s", err);
  if (t->o.log_every && !t->o.metrics) return error(t, "--log-every: needs --metrics FILE to write the rows to");
  if (t->o.save_best && nn2c_ckpt_check_target(t->o.save_best, err, sizeof err))
    return error(t, "--save-best: %s", err);
  if (t->o.save_best && t->o.save && !strcmp(t->o.save, t->o.save_best))
    return error(t, "--save-best: %s is the --save file too; name another", t->o.save);
  if (!t->o.metrics) return 0;
  if (nn2c_metrics_open(&t->metrics, t->o.metrics, 0, 0, err, sizeof err)) return error(t, "--metrics: %s", err);
  nn2c_metrics_free(&t->metrics);
  return 0;
}

/* ---- 2. Data ------------------------------------------------------------ */

/* Copies the model's inline points into ds (so every dataset is freed alike). */
static int load_inline(Trainer *t, nn2c_dataset *ds) {
  const nn2c_model_desc *d = t->d;
  size_t n = (size_t)d->inline_n, nx = n * (size_t)d->in_numel, ny = n * (size_t)d->label_numel;
  int have_y = d->label_is_int ? d->inline_yi != NULL : d->inline_yf != NULL;
  if (d->inline_n <= 0 || !d->inline_x || !have_y)
    return error(t,
                 "model %s uses inline data but its trainer has none "
                 "(%s.h must #define %s_DATASET_INLINE 1)",
                 d->name, d->name, d->name);
  ds->x = malloc(nx * sizeof(float));
  if (d->label_is_int)
    ds->yi = malloc(n * sizeof(int32_t));
  else
    ds->yf = malloc(ny * sizeof(float));
  if (!ds->x || !(ds->yi || ds->yf)) return error(t, "out of memory copying inline data");
  memcpy(ds->x, d->inline_x, nx * sizeof(float));
  if (ds->yi) memcpy(ds->yi, d->inline_yi, n * sizeof(int32_t));
  if (ds->yf) memcpy(ds->yf, d->inline_yf, ny * sizeof(float));
  ds->n = d->inline_n;
  ds->sample_numel = d->in_numel;
  ds->label_numel = d->label_numel;
  ds->num_classes = d->label_is_int ? d->out_numel : 0;
  return 0;
}

/* A data set of 10 classes read from --data by one of the runtime's loaders. */
typedef struct {
  const char *title; /* for messages: "MNIST" */
  const char *files; /* what --data must hold */
  int in_numel;
  /* max: samples needed (0 = all); a loader may read fewer files */
  int (*load)(const char *dir, int split, int max, nn2c_dataset *out, char *err, size_t errlen);
} ClassData;

static int load_mnist(const char *dir, int split, int max, nn2c_dataset *out, char *err, size_t errlen) {
  (void)max;                                                          /* one file per split: nothing to skip */
  return nn2c_load_mnist_sized(dir, split, 28, 28, out, err, errlen); /* load_classes checked 784 */
}

static int load_classes(Trainer *t, const ClassData *c) {
  const nn2c_model_desc *d = t->d;
  char err[1024];
  if (!t->o.data) return error(t, "--data DIR is required (the directory with the %s files)", c->files);
  if (d->in_numel != c->in_numel || !d->label_is_int || d->label_numel != 1 || d->out_numel < 10)
    return error(t,
                 "model %s does not fit %s: it takes %d inputs and %s labels, "
                 "%s has %d inputs and 10 int classes",
                 d->name, c->title, d->in_numel, d->label_is_int ? "int" : "float", c->title, c->in_numel);
  if (c->load(t->o.data, 0, (int)t->o.limit_train, &t->train, err, sizeof err) ||
      c->load(t->o.data, 1, (int)t->o.limit_test, &t->test, err, sizeof err))
    return error(t, "%s", err);
  return 0;
}

/* Every loader checks its files; this catches one that does not (a batch
 * holds in_numel values a sample, so a larger sample would overflow it). */
static int check_samples(const Trainer *t, const nn2c_dataset *ds, const char *split) {
  if (ds->n > 0 && ds->sample_numel != t->d->in_numel)
    return error(t, "%s: the %s samples have %d values each, but model %s takes %d inputs",
                 t->o.data ? t->o.data : t->d->dataset, split, ds->sample_numel, t->d->name, t->d->in_numel);
  return 0;
}

/* Files sorted by class (IMDB, speech commands) are mixed with this fixed
 * seed at load time, so --limit-* keep every class and every run sees the
 * same subset whatever --seed is. */
#define FILE_ORDER_SEED 113

static int load_files(Trainer *t, const nn2c_data_spec *s, char *err, size_t errlen) {
  const char *dir = t->o.data;
  int imdb = !strcmp(s->name, "imdb"), rc;
  if (!dir) dir = imdb ? "data/imdb" : "data/speech-commands";
  if (imdb)
    rc = nn2c_load_imdb(dir, 0, s->num_words, s->maxlen, &t->train, err, errlen) ||
         nn2c_load_imdb(dir, 1, s->num_words, s->maxlen, &t->test, err, errlen);
  else
    rc = nn2c_load_speech_commands(dir, 0, &s->mel, &t->train, err, errlen) ||
         nn2c_load_speech_commands(dir, 1, &s->mel, &t->test, err, errlen);
  if (rc && !t->o.data) {
    size_t n = strlen(err);
    snprintf(err + n, errlen - n, " (fetch it with scripts/get-data.sh %s %s, or pass --data DIR)",
             imdb ? "imdb" : "speech-commands", dir);
  }
  return rc || nn2c_dataset_shuffle(&t->train, FILE_ORDER_SEED, err, errlen) ||
         nn2c_dataset_shuffle(&t->test, FILE_ORDER_SEED, err, errlen);
}

/* random, imdb and speech_commands: the options come from the model. */
static int load_spec(Trainer *t) {
  const nn2c_model_desc *d = t->d;
  nn2c_data_spec s;
  char err[1536];
  int rc;
  if (nn2c_data_spec_parse(d->dataset, d->dataset_options, &s, err, sizeof err) ||
      nn2c_data_spec_fit(&s, d->in_numel, d->out_numel, d->label_numel, d->label_is_int, err, sizeof err))
    return error(t, "model %s: %s", d->name, err);
  if (!strcmp(s.name, "random")) {
    if (t->o.data) return error(t, "--data: dataset random is drawn from --seed and reads no files");
    rc = nn2c_load_random(s.samples, d->in_numel, s.classes, t->o.seed ^ NN2C_RANDOM_TRAIN_SEED, &t->train, err,
                          sizeof err) ||
         nn2c_load_random(s.samples / 5 > 0 ? s.samples / 5 : 1, d->in_numel, s.classes,
                          t->o.seed ^ NN2C_RANDOM_TEST_SEED, &t->test, err, sizeof err);
  } else {
    rc = load_files(t, &s, err, sizeof err);
  }
  if (rc) return error(t, "%s", err);
  if (nn2c_labels_fit(t->train.num_classes, d->out_numel, d->label_numel, d->label_is_int, err, sizeof err))
    return error(t, "model %s does not fit dataset %s: %s", d->name, s.name, err);
  return 0;
}

/* ---- Your own data: .npy or CSV files ---------------------------------- */

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Whether files hold your own data: --train-x..., --train-csv..., or a --data DIR with x_train.npy. */
static int own_data_named(const Trainer *t) {
  const Options *o = &t->o;
  char path[4096];
  if (o->train_x || o->train_y || o->test_x || o->test_y || o->train_csv || o->test_csv) return 1;
  return o->data && (size_t)snprintf(path, sizeof path, "%s/x_train.npy", o->data) < sizeof path && file_exists(path);
}

static int need_flag(const Trainer *t, const char *v, const char *flag, const char *with) {
  if (!v) return error(t, "%s is missing: %s needs it", flag, with);
  return 0;
}

static int load_csv_files(Trainer *t, const nn2c_model_io *io) {
  const Options *o = &t->o;
  char err[1536];
  if (need_flag(t, o->train_csv, "--train-csv", "--test-csv") || need_flag(t, o->test_csv, "--test-csv", "--train-csv"))
    return 1;
  if (nn2c_load_csv(o->train_csv, o->label_column, io, &t->train, err, sizeof err) ||
      nn2c_load_csv(o->test_csv, o->label_column, io, &t->test, err, sizeof err))
    return error(t, "%s", err);
  return 0;
}

/* The four .npy paths: from the flags, or in --data DIR. */
static int npy_paths(const Trainer *t, char p[4][4096]) {
  static const char *const names[4] = {"x_train", "y_train", "x_test", "y_test"};
  static const char *const flags[4] = {"--train-x", "--train-y", "--test-x", "--test-y"};
  const Options *o = &t->o;
  const char *v[4];
  int i;
  v[0] = o->train_x, v[1] = o->train_y, v[2] = o->test_x, v[3] = o->test_y;
  for (i = 0; i < 4; i++) {
    if (o->data) {
      if ((size_t)snprintf(p[i], 4096, "%s/%s.npy", o->data, names[i]) >= 4096 || !file_exists(p[i]))
        return error(t, "%s: missing (a --data DIR with x_train.npy needs y_train.npy, x_test.npy and y_test.npy too)",
                     p[i]);
    } else if (need_flag(t, v[i], flags[i], "training on .npy files")) {
      return 1;
    } else {
      snprintf(p[i], 4096, "%s", v[i]);
    }
  }
  return 0;
}

static int load_own(Trainer *t) {
  const nn2c_model_desc *d = t->d;
  const Options *o = &t->o;
  nn2c_model_io io;
  char p[4][4096], err[1536];
  int csv = o->train_csv || o->test_csv, npy = o->train_x || o->train_y || o->test_x || o->test_y;
  io.name = d->name, io.in_shape = d->in_shape, io.in_numel = d->in_numel, io.out_numel = d->out_numel;
  io.label_numel = d->label_numel, io.label_is_int = d->label_is_int;
  if ((csv && npy) || (o->data && (csv || npy)))
    return error(t, "give one source of data: --data DIR, .npy files (--train-x ...) or CSV files (--train-csv ...)");
  if (csv) return load_csv_files(t, &io);
  if (npy_paths(t, p)) return 1;
  if (nn2c_load_npy(p[0], p[1], &io, &t->train, err, sizeof err) ||
      nn2c_load_npy(p[2], p[3], &io, &t->test, err, sizeof err))
    return error(t, "%s", err);
  return 0;
}

/* --validation-split F: the last fraction of the training samples (after
 * --limit-train), as Keras holds out the last samples before shuffling. */
static int split_validation(Trainer *t) {
  int keep = (int)((double)t->train.n * (1.0 - t->o.validation_split)), n = t->train.n - keep;
  char err[256];
  t->val_loss = t->val_acc = NAN;
  if (t->o.validation_split == 0) return 0;
  if (keep < 1 || n < 1)
    return error(t, "--validation-split %g of %d training samples leaves %d to train on and %d to validate",
                 t->o.validation_split, t->train.n, keep, n);
  if (nn2c_dataset_split_tail(&t->train, n, &t->val, err, sizeof err)) return error(t, "%s", err);
  if (!t->o.quiet)
    printf("validation: the last %d of %d training samples (--validation-split %g)\n", n, keep + n,
           t->o.validation_split);
  return 0;
}

static int load_data(Trainer *t) {
  const char *ds = t->d->dataset;
  char err[1024];
  int rc;
  if (t->o.label_column && !t->o.train_csv && !t->o.test_csv)
    return error(t, "--label-column: it chooses a column of --train-csv and --test-csv");
  if (own_data_named(t)) {
    rc = load_own(t);
  } else if (!strcmp(ds, "inline")) {
    if (t->o.data) return error(t, "--data: model %s has its data built in", t->d->name);
    rc = load_inline(t, &t->train) || load_inline(t, &t->test);
  } else if (!strcmp(ds, "mnist")) {
    static const ClassData mnist = {"MNIST", "MNIST", 784, load_mnist};
    rc = load_classes(t, &mnist);
  } else if (!strcmp(ds, "cifar10")) {
    static const ClassData cifar = {"CIFAR-10", "CIFAR-10 .bin", 3072, nn2c_load_cifar10_max};
    rc = load_classes(t, &cifar);
  } else if (!strcmp(ds, "random") || !strcmp(ds, "imdb") || !strcmp(ds, "speech_commands")) {
    rc = load_spec(t);
  } else {
    return error(t,
                 "dataset '%s' is not supported by this runtime (supported: mnist, cifar10, "
                 "inline, random, imdb, speech_commands)",
                 ds);
  }
  if (rc || check_samples(t, &t->train, "train") || check_samples(t, &t->test, "test")) return 1;
  if (t->o.limit_train && t->o.limit_train < t->train.n) nn2c_dataset_truncate(&t->train, (int)t->o.limit_train);
  if (t->o.limit_test && t->o.limit_test < t->test.n) nn2c_dataset_truncate(&t->test, (int)t->o.limit_test);
  if (nn2c_dataset_labels_as(&t->train, t->d->label_numel, t->d->label_is_int, err, sizeof err) ||
      nn2c_dataset_labels_as(&t->test, t->d->label_numel, t->d->label_is_int, err, sizeof err))
    return error(t, "%s", err);
  return split_validation(t);
}

/* ---- 3. Memory ---------------------------------------------------------- */

/* calloc with a message; always allocates at least one byte so NULL means failure. */
static void *alloc(const Trainer *t, size_t count, size_t size, const char *what) {
  void *p = NULL;
  if (size == 0 || count <= (SIZE_MAX - 64) / size) p = calloc(count ? count : 1, size ? size : 1);
  if (!p) error(t, "out of memory allocating %s (%lu x %lu bytes)", what, (unsigned long)count, (unsigned long)size);
  return p;
}

/* With more than one thread: which loops run on them, and why (the model's
 * measured thresholds, see NAME_parallel_info in its header). */
static void print_threads(Trainer *t) {
  nn2c_parallel_info p;
  if (t->o.quiet || t->o.threads < 2 || !t->d->parallel_info) return;
  memset(&p, 0, sizeof p);
  t->d->parallel_info(&p);
  printf("threads: %d, ", t->o.threads);
  if (p.min_work == SIZE_MAX && p.min_elems == SIZE_MAX)
    printf("no loop runs on them");
  else if (p.min_work == SIZE_MAX)
    printf("for elementwise loops of at least %.0f elements", (double)p.min_elems);
  else if (p.min_elems == SIZE_MAX)
    printf("for loops of at least %.0f multiply-adds", (double)p.min_work);
  else
    printf("for loops of at least %.0f multiply-adds or %.0f elements", (double)p.min_work, (double)p.min_elems);
  if (p.measured && p.madd_s > 0)
    printf(" (measured in %.1f ms: parallel loop %.1f us; multiply-add %.2f ps on 1 thread, %.2f "
           "shared; element %.1f ps, %.1f)\n",
           p.took_s * 1e3, p.region_s * 1e6, p.madd_s * 1e12, p.madd_threads_s * 1e12, p.elem_s * 1e12,
           p.elem_threads_s * 1e12);
  else if (p.measured) /* the parallel loop alone was too slow */
    printf(" (measured in %.1f ms: parallel loop %.1f us)\n", p.took_s * 1e3, p.region_s * 1e6);
  else if (p.min_work == SIZE_MAX)
    printf(" (the model was built without OpenMP)\n");
  else
    printf(" (set by NN2C_PARALLEL_MIN_WORK)\n");
}

/* The most samples one call can see: a batch never holds more than a whole set, so a
 * --batch above that (one batch per epoch) is planned at the set's size, not the flag's
 * (--batch 1122784515 on 8 samples asked for 18 GB). */
static int batch_capacity(const Trainer *t) {
  int n = t->train.n > t->test.n ? t->train.n : t->test.n;
  if (t->val.n > n) n = t->val.n;
  if (t->d->inline_n > n) n = t->d->inline_n;
  return t->o.batch < n || n < 1 ? t->o.batch : n;
}

static int alloc_all(Trainer *t) {
  const nn2c_model_desc *d = t->d;
  int cap = batch_capacity(t);
  size_t b = (size_t)cap, arena = d->arena_bytes(cap);
  if (arena > SIZE_MAX - 64) return error(t, "arena for batch %d is too large", cap);
  if (!(t->params = alloc(t, (size_t)d->param_floats, sizeof(float), "parameters")) ||
      !(t->state = alloc(t, (size_t)d->state_floats, sizeof(float), "optimizer state")) ||
      !(t->arena_raw = alloc(t, arena + 64, 1, "the model arena")) ||
      !(t->model = alloc(t, 1, d->model_size, "the model")) ||
      !(t->order = alloc(t, (size_t)t->train.n, sizeof(int32_t), "the sample order")) ||
      !(t->bx = alloc(t, b, (size_t)d->in_numel * sizeof(float), "the input batch")) ||
      !(t->by = alloc(t, b, (size_t)d->label_numel * sizeof(float), "the label batch")) ||
      !(t->bout = alloc(t, b, (size_t)d->out_numel * sizeof(float), "the output batch")) ||
      !(t->bstep = alloc(t, 4, sizeof(float), "the step counter")))
    return 1;
  /* the model's kernels may assume 64-byte alignment for vector loads */
  t->arena = t->arena_raw + (64 - (uintptr_t)t->arena_raw % 64) % 64;
  t->lr = t->o.lr;
  d->model_bind(t->model, t->params, t->state, t->arena, cap, t->lr);
  if (d->set_threads) {
    d->set_threads(t->model, t->o.threads);
    print_threads(t);
  } else if (t->o.threads > 1) {
    fflush(stdout);
    fprintf(stderr, "%s: note: model %s was compiled without threads; running on 1 thread\n", t->prog, d->name);
  }
  return 0;
}

static void free_all(Trainer *t) {
  nn2c_dataset_free(&t->train);
  nn2c_dataset_free(&t->test);
  nn2c_dataset_free(&t->val);
  free(t->params);
  free(t->state);
  free(t->arena_raw);
  free(t->model);
  free(t->order);
  free(t->bx);
  free(t->by);
  free(t->bout);
  free(t->bstep);
  nn2c_metrics_free(&t->metrics);
  free(t->flags_text);
}

/* ---- 4. Checkpoints ----------------------------------------------------- */

/* Sections: "params", "state" (may hold 0 floats), "step" (4 floats, see
 * nn2c_u64_to_floats), "trainer" (see pack_trainer_state; older checkpoints
 * end before it). */
#define CKPT_SECTIONS 4
static void ckpt_sections(Trainer *t, nn2c_ckpt_section s[CKPT_SECTIONS]) {
  s[0].name = "params", s[0].data = t->params, s[0].count = (uint64_t)t->d->param_floats;
  s[1].name = "state", s[1].data = t->state, s[1].count = (uint64_t)t->d->state_floats;
  s[2].name = "step", s[2].data = t->bstep, s[2].count = 4;
  s[3].name = "trainer", s[3].data = t->tstate, s[3].count = NN2C_TRAINER_FLOATS;
}

/* The "trainer" section's fields, in order (nn2c_rt.h). */
enum {
  TS_VERSION,
  TS_MONITOR,
  TS_BEST_SEEN,
  TS_BEST_WAIT,
  TS_BEST,
  TS_BEST_EPOCH,
  TS_PLATEAU_SEEN,
  TS_PLATEAU_WAIT,
  TS_PLATEAU_BEST,
  TS_SCHEDULE,
  TS_LR0,
  TS_LR,
  TS_CUT_LOSS,
  TS_CUT_CORRECT,
  TS_CUT_SEEN,
  TS_WINDOW_LOSS,
  TS_WINDOW_CORRECT,
  TS_WINDOW_SEEN
};
#define TRAINER_STATE_VERSION 1

static uint64_t double_bits(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static double bits_double(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static uint64_t float_bits(float v) {
  uint32_t u;
  memcpy(&u, &v, sizeof u);
  return u;
}

static float bits_float(uint64_t u) {
  uint32_t b = (uint32_t)u;
  float v;
  memcpy(&v, &b, sizeof v);
  return v;
}

/* What the callbacks remember, the cut epoch's and the log window's sums, into t->tstate. */
static void pack_trainer_state(Trainer *t) {
  uint64_t f[NN2C_TRAINER_FIELDS];
  int i;
  f[TS_VERSION] = TRAINER_STATE_VERSION, f[TS_MONITOR] = (uint64_t)t->monitor;
  f[TS_BEST_SEEN] = (uint64_t)t->best.seen, f[TS_BEST_WAIT] = (uint64_t)t->best.wait;
  f[TS_BEST] = double_bits(t->best.best), f[TS_BEST_EPOCH] = (uint64_t)t->best_epoch;
  f[TS_PLATEAU_SEEN] = (uint64_t)t->plateau.seen, f[TS_PLATEAU_WAIT] = (uint64_t)t->plateau.wait;
  f[TS_PLATEAU_BEST] = double_bits(t->plateau.best);
  f[TS_SCHEDULE] = (uint64_t)t->sched.kind, f[TS_LR0] = float_bits(t->o.lr), f[TS_LR] = float_bits(t->lr);
  f[TS_CUT_LOSS] = double_bits(t->cut_loss), f[TS_CUT_CORRECT] = (uint64_t)t->cut_correct;
  f[TS_CUT_SEEN] = (uint64_t)t->cut_seen;
  f[TS_WINDOW_LOSS] = double_bits(t->window.loss_sum), f[TS_WINDOW_CORRECT] = (uint64_t)t->window.correct;
  f[TS_WINDOW_SEEN] = (uint64_t)t->window.seen;
  for (i = 0; i < NN2C_TRAINER_FIELDS; i++)
    nn2c_u64_to_floats(f[i], t->tstate + 4 * i);
}

/* Exchanges the params with their moving average (a no-op without one, and
 * before the first step, when the average holds nothing yet). Evaluation and
 * checkpoints see the average as the params; training sees the raw weights. */
static void swap_ema(Trainer *t) {
  float *a = t->params, *b = t->state + t->d->ema_offset, x;
  long i;
  if (!t->d->has_ema || t->d->model_get_step(t->model) == 0) return;
  for (i = 0; i < t->d->param_floats; i++)
    x = a[i], a[i] = b[i], b[i] = x;
}

/* Runs fn with the average in the params' place (see swap_ema). */
static int with_average(Trainer *t, int (*fn)(Trainer *)) {
  int rc;
  swap_ema(t);
  rc = fn(t);
  swap_ema(t);
  return rc;
}

static int write_checkpoint(Trainer *t) {
  nn2c_ckpt_section s[CKPT_SECTIONS];
  char err[1024];
  struct stat st;
  long i;
  nn2c_u64_to_floats(t->d->model_get_step(t->model), t->bstep);
  pack_trainer_state(t);
  ckpt_sections(t, s);
  for (i = 0; i < t->d->param_floats; i++) /* a finite loss may still leave a param at inf */
    if (!isfinite(t->params[i]))
      return error(t, "%s: not written: parameter %ld is not finite (%g) at step %llu", t->ckpt_path, i,
                   (double)t->params[i], (unsigned long long)t->d->model_get_step(t->model));
  if (nn2c_ckpt_save(t->ckpt_path, s, CKPT_SECTIONS, err, sizeof err)) return error(t, "%s", err);
  if (!t->o.quiet && stat(t->ckpt_path, &st) == 0)
    printf("saved %s (%ld parameters, %lld bytes)\n", t->ckpt_path, t->d->param_floats, (long long)st.st_size);
  return 0;
}

/* The checkpoint holds the average as its params (and the raw weights in its place). */
static int save_to(Trainer *t, const char *path) {
  t->ckpt_path = path;
  return with_average(t, write_checkpoint);
}

static int save(Trainer *t) { return save_to(t, t->o.save); }

/* The model's weights file: --weights, else weights_file in the folder of
 * argv[0] (where the Makefile built the trainer, next to the file). */
static int load_weights(Trainer *t) {
  char path[4096];
  const char *slash = strrchr(t->argv0, '/');
  int n = slash ? (int)(slash - t->argv0) + 1 : 0;
  if (t->o.weights)
    snprintf(path, sizeof path, "%s", t->o.weights);
  else if ((size_t)snprintf(path, sizeof path, "%.*s%s", n, t->argv0, t->d->weights_file) >= sizeof path)
    return error(t, "path of %s too long", t->d->weights_file);
  if (t->d->load_weights(t->params, path))
    return error(t, "%s: cannot load the model's weights (pass --weights FILE)", path);
  return 0;
}

static int init_params(Trainer *t) {
  nn2c_ckpt_section s[CKPT_SECTIONS];
  char err[1024];
  uint64_t step;
  if (!t->o.load) {
    t->d->init(t->params, t->o.seed);
    if (t->d->init_state) t->d->init_state(t->state);
    return t->d->load_weights ? load_weights(t) : 0;
  }
  ckpt_sections(t, s);
  /* a checkpoint without "trainer" leaves t->tstate zero: version 0, nothing kept */
  if (nn2c_dist_rank() == 0 && nn2c_ckpt_load_opt(t->o.load, s, CKPT_SECTIONS, 3, NULL, err, sizeof err))
    return error(t, "%s", err);
  if (nn2c_dist_bcast(s, CKPT_SECTIONS))
    return error(t, "%s: cannot pass the checkpoint on to the other ranks", t->o.load);
  step = nn2c_floats_to_u64(t->bstep);
  if (step == UINT64_MAX) return error(t, "%s: section 'step' does not hold a step count", t->o.load);
  t->d->model_set_step(t->model, step);
  swap_ema(t); /* the checkpoint holds the average as its params */
  return 0;
}

/* ---- 5. Training -------------------------------------------------------- */

typedef struct {
  double loss_sum; /* sum of batch loss x batch size */
  long long correct, seen;
  double t0, last_print;
  long long seen0; /* of seen, the samples a checkpoint's cut epoch had trained (not timed here) */
  int cut;         /* --steps ended the epoch before its last batch */
} EpochStats;

/* Copies the samples order[0..bs) into the batch buffers. */
static void gather(Trainer *t, const int32_t *order, int bs) {
  const nn2c_dataset *ds = &t->train;
  size_t nx = (size_t)ds->sample_numel, ny = (size_t)ds->label_numel;
  int i;
  for (i = 0; i < bs; i++) {
    size_t k = (size_t)order[i];
    nn2c_dataset_get(ds, k, t->bx + i * nx);
    if (ds->yi)
      ((int32_t *)t->by)[i] = ds->yi[k];
    else
      memcpy((float *)t->by + i * ny, ds->yf + k * ny, ny * sizeof(float));
  }
}

static void progress(Trainer *t, const EpochStats *st, int epoch, int b, int nb) {
  double dt = nn2c_now() - st->t0;
  printf("%sepoch %d/%d step %d/%d loss %.4f acc %.4f %.1e samples/s%s", t->tty ? "\r" : "", epoch + 1, t->o.epochs, b,
         nb, st->loss_sum / (double)st->seen, (double)st->correct / (double)st->seen,
         dt > 0 ? (double)(st->seen - st->seen0) / dt : 0.0, t->tty ? "" : "\n");
  fflush(stdout);
}

/* ---- Metrics rows -------------------------------------------------------- */

static nn2c_metrics_row metrics_row(const Trainer *t, const char *kind, int epoch) {
  nn2c_metrics_row r;
  r.kind = kind, r.epoch = epoch + 1, r.step = t->d->model_get_step(t->model);
  r.train_loss = r.train_acc = r.val_loss = r.val_acc = r.test_loss = r.test_acc = NAN;
  r.lr = t->lr, r.samples_per_s = NAN, r.elapsed_s = nn2c_now() - t->t0;
  return r;
}

/* Every --log-every steps: a row for the steps since the previous one. */
static void log_step(Trainer *t, int epoch, double loss, int correct, int bs) {
  Window *w = &t->window;
  nn2c_metrics_row r;
  double dt;
  w->loss_sum += loss * bs, w->correct += correct, w->seen += bs;
  if (!t->metrics.path || !t->o.log_every || t->d->model_get_step(t->model) % (uint64_t)t->o.log_every) return;
  r = metrics_row(t, "step", epoch);
  dt = nn2c_now() - w->t0;
  r.train_loss = w->loss_sum / (double)w->seen, r.train_acc = (double)w->correct / (double)w->seen;
  r.samples_per_s = dt > 0 ? (double)w->seen / dt : 0.0;
  nn2c_metrics_add(&t->metrics, &r);
  w->loss_sum = 0, w->correct = w->seen = 0, w->t0 = nn2c_now();
}

static int write_metrics(Trainer *t) {
  char err[1024];
  if (t->metrics.path && nn2c_metrics_write(&t->metrics, err, sizeof err)) return error(t, "--metrics: %s", err);
  return 0;
}

/* After an epoch's evaluation: its row, and the file rewritten. */
static int log_epoch(Trainer *t, int epoch, const EpochStats *st, double samples_per_s) {
  nn2c_metrics_row r;
  if (!t->metrics.path) return 0;
  r = metrics_row(t, "epoch", epoch);
  r.train_loss = st->loss_sum / (double)st->seen, r.train_acc = (double)st->correct / (double)st->seen;
  r.test_loss = t->test_loss, r.test_acc = t->test_acc, r.samples_per_s = samples_per_s;
  r.val_loss = t->val_loss, r.val_acc = t->val_acc;
  nn2c_metrics_add(&t->metrics, &r);
  return write_metrics(t);
}

/* ---- Callbacks ----------------------------------------------------------- */

/* The watched metric: --monitor, else val_loss with a validation split, else test_loss. */
static int pick_monitor(Trainer *t) {
  char err[512];
  if (!t->o.monitor) return t->monitor = t->val.n ? 2 : 4, 0;
  if (nn2c_monitor_parse(t->o.monitor, &t->monitor, err, sizeof err)) return error(t, "--monitor: %s", err);
  if (!t->val.n && (t->monitor == 2 || t->monitor == 3))
    return error(t, "--monitor %s: needs --validation-split F (or monitor test_loss)", t->o.monitor);
  return 0;
}

static int setup_callbacks(Trainer *t, int steps_per_epoch) {
  char err[512];
  if (pick_monitor(t)) return 1;
  if (t->o.lr_schedule && nn2c_lr_schedule_parse(t->o.lr_schedule, &t->sched, err, sizeof err))
    return error(t, "--lr-schedule: %s", err);
  if (t->sched.kind != NN2C_LR_CONSTANT && !t->d->model_set_lr)
    return error(t, "--lr-schedule: model %s's trainer cannot change the learning rate (rebuild it)", t->d->name);
  t->sched_steps = t->sched.kind == NN2C_LR_EXPONENTIAL ? steps_per_epoch
                   : t->o.steps                         ? (double)t->o.steps
                                                        : (double)t->o.epochs * steps_per_epoch;
  if (t->o.quiet || !(t->o.early_stop || t->o.save_best || t->o.lr_schedule)) return 0;
  printf("callbacks: monitor %s", nn2c_monitor_name(t->monitor));
  if (t->o.early_stop) printf("; early stop after %lld epochs without improvement", t->o.early_stop);
  if (t->o.save_best) printf("; best checkpoint to %s", t->o.save_best);
  if (t->o.lr_schedule) printf("; lr schedule %s", t->o.lr_schedule);
  printf("\n");
  return 0;
}

/* Before each step: the schedule's learning rate, through the model's lr. */
static void scheduled_lr(Trainer *t, int epoch) {
  float lr;
  if (t->sched.kind == NN2C_LR_CONSTANT || t->sched.kind == NN2C_LR_PLATEAU) return;
  lr = (float)nn2c_lr_at(&t->sched, t->o.lr, t->d->model_get_step(t->model), epoch, t->sched_steps);
  if (lr != t->lr) t->d->model_set_lr(t->model, t->lr = lr);
}

static double monitored(const Trainer *t) {
  const double v[6] = {t->train_loss, t->train_acc, t->val_loss, t->val_acc, t->test_loss, t->test_acc};
  return v[t->monitor];
}

/* Reduce-on-plateau: the lr times factor once the metric stalls for patience epochs. */
static void plateau(Trainer *t, int epoch) {
  const nn2c_lr_schedule *s = &t->sched;
  float lr;
  if (s->kind != NN2C_LR_PLATEAU || nn2c_watch_improved(&t->plateau, t->monitor, monitored(t)) ||
      t->plateau.wait < (int)s->patience)
    return;
  t->plateau.wait = 0;
  lr = (float)(t->lr * s->factor > s->min_lr ? t->lr * s->factor : s->min_lr);
  if (lr >= t->lr) return;
  if (!t->o.quiet)
    printf("epoch %d: %s has not improved for %d epochs: lr %g -> %g\n", epoch + 1, nn2c_monitor_name(t->monitor),
           (int)s->patience, (double)t->lr, (double)lr);
  t->d->model_set_lr(t->model, t->lr = lr);
}

/* After an epoch's evaluation: --save-best, --early-stop, reduce-on-plateau. */
static int after_epoch(Trainer *t, int epoch) {
  const char *m = nn2c_monitor_name(t->monitor);
  double before = t->best.best, v = monitored(t);
  int first = !t->best.seen;
  plateau(t, epoch);
  if (nn2c_watch_improved(&t->best, t->monitor, v)) {
    t->best_epoch = epoch + 1;
    if (!t->o.save_best) return 0;
    if (!t->o.quiet && first) printf("epoch %d: %s %.6f, the first: ", epoch + 1, m, v);
    if (!t->o.quiet && !first) printf("epoch %d: %s improved from %.6f to %.6f: ", epoch + 1, m, before, v);
    return save_to(t, t->o.save_best);
  }
  if (t->o.early_stop && t->best.wait >= t->o.early_stop) {
    t->stop = 1;
    if (!t->o.quiet)
      printf("early stop: %s has not improved for %d epochs (best %.6f at epoch %d)\n", m, t->best.wait, t->best.best,
             t->best_epoch);
  }
  return 0;
}

/* ---- Resuming the callbacks (the checkpoint's "trainer" section) --------- */

static int unpack_trainer_state(Trainer *t, uint64_t f[NN2C_TRAINER_FIELDS]) {
  int i;
  for (i = 0; i < NN2C_TRAINER_FIELDS; i++)
    if ((f[i] = nn2c_floats_to_u64(t->tstate + 4 * i)) == UINT64_MAX)
      return error(t, "%s: section 'trainer' does not hold a trainer's state (field %d)", t->o.load, i);
  if (f[TS_VERSION] > TRAINER_STATE_VERSION)
    return error(t, "%s: its trainer state has version %llu; this trainer reads version %d (rebuild it)", t->o.load,
                 (unsigned long long)f[TS_VERSION], TRAINER_STATE_VERSION);
  return 0;
}

/* The watches, and with the same schedule from the same --lr the plateau-reduced rate. */
static void restore_callbacks(Trainer *t, const uint64_t f[NN2C_TRAINER_FIELDS]) {
  t->best.seen = (int)f[TS_BEST_SEEN], t->best.wait = (int)f[TS_BEST_WAIT], t->best.best = bits_double(f[TS_BEST]);
  t->best_epoch = (int)f[TS_BEST_EPOCH];
  t->plateau.seen = (int)f[TS_PLATEAU_SEEN], t->plateau.wait = (int)f[TS_PLATEAU_WAIT];
  t->plateau.best = bits_double(f[TS_PLATEAU_BEST]);
  if (t->sched.kind == NN2C_LR_PLATEAU && f[TS_SCHEDULE] == NN2C_LR_PLATEAU && f[TS_LR0] == float_bits(t->o.lr) &&
      bits_float(f[TS_LR]) != t->lr)
    t->d->model_set_lr(t->model, t->lr = bits_float(f[TS_LR]));
  if (!t->o.early_stop || !t->best.seen || t->best.wait < t->o.early_stop) return;
  t->stop = 1; /* the run stopped here; a larger --early-stop goes on */
  if (!t->o.quiet)
    printf("early stop: %s had not improved for %d epochs at the checkpoint (best %.6f at epoch %d)\n",
           nn2c_monitor_name(t->monitor), t->best.wait, t->best.best, t->best_epoch);
}

/* After --load: what the callbacks remembered, the cut epoch's and the log window's sums. */
static int restore_trainer_state(Trainer *t) {
  uint64_t f[NN2C_TRAINER_FIELDS];
  int active = t->o.early_stop || t->o.save_best || t->sched.kind == NN2C_LR_PLATEAU;
  if (unpack_trainer_state(t, f)) return 1;
  if (f[TS_VERSION] == 0) { /* a checkpoint from before the section */
    if (active && !t->o.quiet)
      printf("note: %s holds no callback state (an older checkpoint): the callbacks start afresh\n", t->o.load);
    return 0;
  }
  t->cut_loss = bits_double(f[TS_CUT_LOSS]), t->cut_correct = (long long)f[TS_CUT_CORRECT];
  t->cut_seen = (long long)f[TS_CUT_SEEN];
  t->window.loss_sum = bits_double(f[TS_WINDOW_LOSS]), t->window.correct = (long long)f[TS_WINDOW_CORRECT];
  t->window.seen = (long long)f[TS_WINDOW_SEEN];
  if ((int)f[TS_MONITOR] == t->monitor) {
    restore_callbacks(t, f);
  } else if (active && !t->o.quiet) {
    printf("note: the checkpoint's callbacks watched %s, these watch %s: they start afresh\n",
           f[TS_MONITOR] < 6 ? nn2c_monitor_name((int)f[TS_MONITOR]) : "?", nn2c_monitor_name(t->monitor));
  }
  return 0;
}

static int steps_left(const Trainer *t) { return !t->o.steps || t->d->model_get_step(t->model) < (uint64_t)t->o.steps; }

/* Trains one epoch from batch `first` on; stops early at --steps. */
static int train_epoch(Trainer *t, int epoch, int first, EpochStats *st) {
  const nn2c_model_desc *d = t->d;
  int n = t->train.n, nb = (n + t->o.batch - 1) / t->o.batch, b, i;
  nn2c_rng rng;
  /* the order depends only on (seed, epoch), which is what makes resuming exact */
  nn2c_rng_seed(&rng, t->o.seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(epoch + 1)));
  for (i = 0; i < n; i++)
    t->order[i] = i;
  nn2c_shuffle(t->order, n, &rng);
  st->t0 = st->last_print = nn2c_now();
  for (b = first; b < nb && steps_left(t); b++) {
    int start = b * t->o.batch, bs = n - start < t->o.batch ? n - start : t->o.batch, rc, lo, hi;
    float loss = 0;
    long long correct = 0;
    nn2c_dist_slice(bs, &lo, &hi); /* this process's part of the batch (all of it without MPI) */
    gather(t, t->order + start + lo, hi - lo);
    scheduled_lr(t, epoch);
    rc = nn2c_dist_train_step(d, t->model, t->bx, t->by, hi - lo, bs, &loss, t->bout, &correct);
    if (rc)
      return error(t, "train_step failed with status %d at step %llu", rc,
                   (unsigned long long)d->model_get_step(t->model));
    if (!isfinite(loss)) /* the params are garbage from here on: keep the last checkpoint */
      return error(t,
                   "the loss is not finite (%g) at epoch %d, step %llu; training stopped, no checkpoint "
                   "written (a smaller --lr may help)",
                   (double)loss, epoch + 1, (unsigned long long)d->model_get_step(t->model));
    st->loss_sum += (double)loss * bs;
    st->seen += bs;
    st->correct += correct;
    log_step(t, epoch, loss, (int)correct, bs);
    if (!t->o.quiet && nn2c_now() - st->last_print >= 0.5) {
      progress(t, st, epoch, b + 1, nb);
      st->last_print = nn2c_now();
    }
  }
  st->cut = b < nb;
  if (!t->o.quiet && st->seen) {
    progress(t, st, epoch, b, nb);
    if (t->tty) putchar('\n');
  }
  return 0;
}

/* Evaluates a whole data set in order, in batches of --batch. */
static int evaluate_set(Trainer *t, const nn2c_dataset *ds, double *mean_loss, double *accuracy) {
  const nn2c_model_desc *d = t->d;
  double loss_sum = 0, sums[2];
  long long correct = 0;
  int start, lo, hi;
  nn2c_dist_slice(ds->n, &lo, &hi); /* each process evaluates its part; the sums add up */
  for (start = lo; start < hi; start += t->o.batch) {
    int bs = hi - start < t->o.batch ? hi - start : t->o.batch, rc;
    const int32_t *yi = ds->yi ? ds->yi + start : NULL;
    const float *yf = ds->yf ? ds->yf + (size_t)start * ds->label_numel : NULL;
    float loss = 0;
    int i;
    for (i = 0; i < bs; i++) /* the batch buffer holds at least --batch samples */
      nn2c_dataset_get(ds, (size_t)(start + i), t->bx + (size_t)i * ds->sample_numel);
    rc = d->evaluate(t->model, t->bx, yi ? (const void *)yi : (const void *)yf, bs, &loss, t->bout);
    if (rc) return error(t, "evaluate failed with status %d", rc);
    loss_sum += (double)loss * bs;
    correct += nn2c_count_correct(t->bout, d->out_numel, yi, yf, d->label_numel, bs);
  }
  sums[0] = loss_sum, sums[1] = (double)correct;
  if (nn2c_dist_sum(sums, 2)) return error(t, "cannot add up the evaluation over the ranks");
  loss_sum = sums[0], correct = (long long)sums[1];
  *mean_loss = ds->n ? loss_sum / ds->n : 0.0;
  *accuracy = ds->n ? (double)correct / ds->n : 0.0;
  return 0;
}

/* The validation samples (if any), then the test set. */
static int evaluate_batches(Trainer *t) {
  if (t->val.n && evaluate_set(t, &t->val, &t->val_loss, &t->val_acc)) return 1;
  return evaluate_set(t, &t->test, &t->test_loss, &t->test_acc);
}

/* The test set, with the params' moving average when the model keeps one. */
static int evaluate(Trainer *t) { return with_average(t, evaluate_batches); }

/* An epoch from batch `first` on (a resumed run's first epoch goes on from the
 * checkpoint's cut epoch), its evaluation, row, callbacks and checkpoint. The
 * callbacks act on whole epochs only: a cut epoch's are left to the run that
 * finishes it, so a run in pieces decides as one run would. */
static int run_epoch(Trainer *t, int epoch, int first) {
  EpochStats st = {0, 0, 0, 0, 0, 0, 0};
  double t0 = nn2c_now(), train_time, samples_per_s;
  if (first) st.loss_sum = t->cut_loss, st.correct = t->cut_correct, st.seen = st.seen0 = t->cut_seen;
  if (train_epoch(t, epoch, first, &st)) return 1;
  train_time = nn2c_now() - t0;
  samples_per_s = train_time > 0 ? (double)(st.seen - st.seen0) / train_time : 0.0;
  if (evaluate(t)) return 1;
  if (!t->o.quiet && st.seen) {
    printf("epoch %d: train_loss=%.6f train_accuracy=%.4f ", epoch + 1, st.loss_sum / (double)st.seen,
           (double)st.correct / (double)st.seen);
    if (t->val.n) printf("val_loss=%.6f val_accuracy=%.4f ", t->val_loss, t->val_acc);
    printf("test_loss=%.6f test_accuracy=%.4f time=%.2fs samples/s=%.1f\n", t->test_loss, t->test_acc, nn2c_now() - t0,
           samples_per_s);
  }
  fflush(stdout);
  if (st.seen) t->train_loss = st.loss_sum / (double)st.seen, t->train_acc = (double)st.correct / (double)st.seen;
  if (st.seen && log_epoch(t, epoch, &st, samples_per_s)) return 1;
  t->cut_loss = st.cut ? st.loss_sum : 0, t->cut_correct = st.cut ? st.correct : 0, t->cut_seen = st.cut ? st.seen : 0;
  if (st.seen && !st.cut && after_epoch(t, epoch)) return 1;
  return t->o.save ? save(t) : 0; /* after the callbacks: the checkpoint holds what they decided */
}

/* Runs the epochs that remain after the checkpoint's step, then the final report. */
static int train(Trainer *t) {
  int nb = (t->train.n + t->o.batch - 1) / t->o.batch;
  uint64_t step0 = t->d->model_get_step(t->model);
  int epoch = (int)(step0 / (uint64_t)nb < (uint64_t)INT_MAX ? step0 / (uint64_t)nb : INT_MAX);
  int first = (int)(step0 % (uint64_t)nb);
  int trained = 0;
  char err[1024];
  /* resuming inside an epoch, the cut epoch's row goes: this run writes the whole epoch's */
  int resume = !t->o.load ? 0 : first ? 2 : 1;
  if (t->o.metrics && nn2c_metrics_open(&t->metrics, t->o.metrics, resume, step0, err, sizeof err))
    return error(t, "--metrics: %s", err);
  if (setup_callbacks(t, nb)) return 1;
  t->t0 = t->window.t0 = nn2c_now();
  if (t->o.load && !t->o.quiet)
    printf("resumed from %s at step %llu (epoch %d, batch %d)\n", t->o.load, (unsigned long long)step0, epoch + 1,
           first);
  if (t->o.load && restore_trainer_state(t)) return 1;
  for (; epoch < t->o.epochs && steps_left(t) && !t->stop; epoch++, first = 0) {
    if (run_epoch(t, epoch, first)) return 1;
    trained = 1;
  }
  if (!trained) {
    if (evaluate(t)) return 1;
    if (t->o.save && save(t)) return 1;
  }
  if (write_metrics(t)) return 1;
  if (nn2c_dist_rank() == 0) printf("final: test_loss=%.6f test_accuracy=%.4f\n", t->test_loss, t->test_acc);
  return 0;
}

/* ---- 6. Inline outputs -------------------------------------------------- */

static int print_inline_batches(Trainer *t) {
  const nn2c_model_desc *d = t->d;
  int start, i, j;
  for (start = 0; start < d->inline_n; start += t->o.batch) {
    int bs = d->inline_n - start < t->o.batch ? d->inline_n - start : t->o.batch;
    int rc = d->forward(t->model, d->inline_x + (size_t)start * d->in_numel, t->bout, bs);
    if (rc) return error(t, "forward failed with status %d", rc);
    for (i = 0; i < bs; i++) {
      printf("output[%d] =", start + i);
      for (j = 0; j < d->out_numel; j++)
        printf(" %.6g", t->bout[(size_t)i * d->out_numel + j]);
      putchar('\n');
    }
  }
  return 0;
}

static int print_inline_outputs(Trainer *t) { return with_average(t, print_inline_batches); }

/* ---- main --------------------------------------------------------------- */

static int check_desc(const Trainer *t) {
  const nn2c_model_desc *d = t->d;
  if (!d->dataset || d->in_numel <= 0 || d->out_numel <= 0 || d->label_numel <= 0 || d->param_floats < 0 ||
      d->state_floats < 0 || d->model_size == 0 || !d->model_bind || !d->model_get_step || !d->model_set_step ||
      !d->arena_bytes || !d->init || !d->forward || !d->train_step || !d->evaluate ||
      (d->label_is_int && d->label_numel != 1) ||
      (d->has_ema && (d->ema_offset < 0 || d->ema_offset > d->state_floats - d->param_floats)))
    return error(t, "internal error: incomplete model description");
  return 0;
}

int nn2c_train_main(int argc, char **argv, const nn2c_model_desc *d) {
  Trainer *t = calloc(1, sizeof *t);
  int rc;
  if (!t) return fprintf(stderr, "%s_train: error: out of memory\n", d->name), 1;
  t->d = d;
  t->argv0 = argc > 0 && argv[0] ? argv[0] : "";
  snprintf(t->prog, sizeof t->prog, "%s_train", d->name);
  t->o.epochs = d->default_epochs;
  t->o.batch = d->default_batch > 0 ? d->default_batch : 1;
  t->o.lr = d->default_lr;
  t->o.seed = d->default_seed;
  t->o.threads = 1;
  t->tty = isatty(fileno(stdout));
  rc = nn2c_dist_start(&argc, &argv, t->prog, sizeof t->prog) || check_desc(t);
  if (!rc) rc = parse_model_flags(t);
  if (!rc) rc = parse_args(t, argc, argv);
  if (!rc && nn2c_dist_rank() > 0) /* rank 0 alone prints and writes files */
    t->o.quiet = 1, t->o.save = NULL, t->o.save_best = NULL, t->o.metrics = NULL, t->o.log_every = 0;
  if (!rc) rc = check_targets(t);
  if (!rc)
    rc = load_data(t) || alloc_all(t) || init_params(t) || train(t) ||
         (!strcmp(d->dataset, "inline") && nn2c_dist_rank() == 0 && print_inline_outputs(t));
  if (rc == 1 && t->metrics.path) write_metrics(t); /* the rows up to a failure, which they may explain */
  if (rc == 2) rc = 0;                              /* --help */
  fflush(stdout);
  free_all(t);
  free(t);
  return nn2c_dist_finish(rc);
}
