/* nn2c_data.c - the data sets a train section names: parsing and checking
 * `dataset NAME key=value ...`, random data, shuffling, and turning class
 * ids into the labels a model takes. The file loaders live in nn2c_images.c
 * (MNIST, CIFAR-10), nn2c_text.c (IMDB) and nn2c_audio.c (speech commands).
 */
#include "nn2c_rt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One option: its key, where it lives in the spec, and its range. */
typedef struct {
  const char *key;
  size_t offset; /* of an int in nn2c_data_spec */
  int lo, hi;
} OptionDef;

#define OPT(key, field, lo, hi)                                                                                        \
  { key, offsetof(nn2c_data_spec, field), lo, hi }

static const OptionDef random_opts[] = {OPT("samples", samples, 1, 100000000),
                                        OPT("classes", classes, 2, 1000000),
                                        OPT("seq", seq, 1, INT_MAX),
                                        OPT("features", features, 1, INT_MAX),
                                        {NULL, 0, 0, 0}};
static const OptionDef imdb_opts[] = {
    OPT("num_words", num_words, 3, 1000000), OPT("maxlen", maxlen, 1, 100000), {NULL, 0, 0, 0}};
static const OptionDef speech_opts[] = {
    OPT("n_mels", mel.n_mels, 1, 512), OPT("frames", mel.frames, 1, 16000),   OPT("window", mel.window, 2, 65536),
    OPT("hop", mel.hop, 1, 16000),     OPT("n_fft", mel.n_fft, 2, 65536),     OPT("fmin", mel.fmin, 0, 8000),
    OPT("fmax", mel.fmax, 1, 8000),    OPT("normalize", mel.normalize, 0, 1), {NULL, 0, 0, 0}};
static const OptionDef no_opts[] = {{NULL, 0, 0, 0}};

static const struct {
  const char *name;
  const OptionDef *opts;
} datasets[] = {{"mnist", no_opts},      {"cifar10", no_opts}, {"inline", no_opts},
                {"random", random_opts}, {"imdb", imdb_opts},  {"speech_commands", speech_opts}};
#define NDATASETS (int)(sizeof datasets / sizeof datasets[0])

static int *field(nn2c_data_spec *s, const OptionDef *o) { return (int *)((char *)s + o->offset); }

/* Sets one "key=value" word (n bytes at w). */
static int set_option(nn2c_data_spec *s, const OptionDef *defs, const char *w, size_t n, char *err, size_t errlen) {
  const char *eq = memchr(w, '=', n), *v;
  const OptionDef *o;
  char *end;
  long x;
  if (!eq) return nn2c_fail(err, errlen, "dataset %s: expected key=value, got '%.*s'", s->name, (int)n, w);
  for (o = defs; o->key; o++)
    if (strlen(o->key) == (size_t)(eq - w) && !strncmp(o->key, w, (size_t)(eq - w))) break;
  if (!o->key) {
    char keys[256] = "";
    for (o = defs; o->key; o++)
      snprintf(keys + strlen(keys), sizeof keys - strlen(keys), "%s%s", o == defs ? "" : " ", o->key);
    return nn2c_fail(err, errlen, "dataset %s has no option '%.*s' (%s%s)", s->name, (int)(eq - w), w,
                     defs->key ? "options: " : "it takes none", keys);
  }
  v = eq + 1;
  errno = 0;
  x = strtol(v, &end, 10);
  if (v == w + n || !isdigit((unsigned char)*v) || end != w + n || errno || x < o->lo || x > o->hi)
    return nn2c_fail(err, errlen, "dataset %s: %s must be an integer in [%d, %d], got '%.*s'", s->name, o->key, o->lo,
                     o->hi, (int)(w + n - v), v);
  *field(s, o) = (int)x;
  return 0;
}

static void set_defaults(nn2c_data_spec *s) {
  s->samples = 1000, s->classes = 0, s->seq = 0, s->features = 0; /* classes 0: see fit */
  s->num_words = 10000, s->maxlen = 100;
  s->mel.n_mels = 20, s->mel.frames = 80, s->mel.window = 400, s->mel.hop = 200;
  s->mel.n_fft = 0, s->mel.fmin = 0, s->mel.fmax = 8000, s->mel.normalize = 1;
}

int nn2c_data_spec_parse(const char *name, const char *options, nn2c_data_spec *s, char *err, size_t errlen) {
  const char *p = options ? options : "";
  int k;
  memset(s, 0, sizeof *s);
  for (k = 0; k < NDATASETS; k++)
    if (!strcmp(name, datasets[k].name)) break;
  if (k == NDATASETS)
    return nn2c_fail(err, errlen,
                     "unknown dataset '%s' (expected mnist, cifar10, inline, random, imdb or "
                     "speech_commands)",
                     name);
  strcpy(s->name, name);
  set_defaults(s);
  while (*p) {
    size_t n;
    if (*p == ' ') {
      p++;
      continue;
    }
    n = strcspn(p, " ");
    if (set_option(s, datasets[k].opts, p, n, err, errlen)) return -1;
    p += n;
  }
  if (!strcmp(name, "speech_commands")) {
    if (s->mel.n_fft == 0) /* the smallest power of two that holds a window */
      for (s->mel.n_fft = 2; s->mel.n_fft < s->mel.window;)
        s->mel.n_fft *= 2;
    return nn2c_logmel_check(&s->mel, err, errlen);
  }
  return 0;
}

int nn2c_labels_fit(int classes, int out_numel, int label_numel, int label_is_int, char *err, size_t errlen) {
  if (label_is_int && (out_numel == classes || (out_numel == 1 && classes == 2))) return 0;
  if (!label_is_int && (label_numel == classes || (label_numel == 1 && classes == 2))) return 0;
  return nn2c_fail(err, errlen,
                   "%d classes do not fit a model with %d outputs and %d %s label%s (int labels "
                   "need %d outputs, float labels 1 value for 2 classes or %d one-hot values)",
                   classes, out_numel, label_numel, label_is_int ? "int" : "float", label_numel == 1 ? "" : "s",
                   classes, classes);
}

int nn2c_data_spec_fit(nn2c_data_spec *s, int in_numel, int out_numel, int label_numel, int label_is_int, char *err,
                       size_t errlen) {
  long long want = -1;
  const char *what = "";
  if (!strcmp(s->name, "random") && s->seq && s->features)
    want = (long long)s->seq * s->features, what = "seq x features";
  else if (!strcmp(s->name, "random") && (s->seq || s->features))
    return nn2c_fail(err, errlen, "dataset random: give both seq and features, or neither");
  else if (!strcmp(s->name, "imdb"))
    want = s->maxlen, what = "maxlen token ids";
  else if (!strcmp(s->name, "speech_commands"))
    want = (long long)s->mel.n_mels * s->mel.frames, what = "n_mels x frames log-mel values";
  if (want >= 0 && want != in_numel)
    return nn2c_fail(err, errlen, "dataset %s gives %lld numbers per sample (%s) but the model input takes %d", s->name,
                     want, what, in_numel);
  if (!strcmp(s->name, "random") && s->classes == 0) /* as many as the model tells apart */
    s->classes = label_is_int ? (out_numel > 1 ? out_numel : 2) : (label_numel > 1 ? label_numel : 2);
  if (!strcmp(s->name, "random")) return nn2c_labels_fit(s->classes, out_numel, label_numel, label_is_int, err, errlen);
  if (!strcmp(s->name, "imdb")) return nn2c_labels_fit(2, out_numel, label_numel, label_is_int, err, errlen);
  return 0; /* speech_commands: the classes are known once the manifest is read */
}

int nn2c_dataset_labels_as(nn2c_dataset *d, int label_numel, int label_is_int, char *err, size_t errlen) {
  size_t i, n = (size_t)d->n, l = (size_t)label_numel;
  if (!d->yi || label_is_int) return 0;
  d->yf = calloc(n * l + 1, sizeof(float));
  if (!d->yf) return nn2c_fail(err, errlen, "out of memory for %lu labels", (unsigned long)n);
  for (i = 0; i < n; i++) {
    if (l == 1)
      d->yf[i] = (float)d->yi[i];
    else
      d->yf[i * l + (size_t)d->yi[i]] = 1.0f;
  }
  free(d->yi);
  d->yi = NULL;
  d->label_numel = label_numel;
  return 0;
}

int nn2c_load_random(int n, int sample_numel, int classes, uint64_t seed, nn2c_dataset *out, char *err, size_t errlen) {
  size_t i, j, k = (size_t)sample_numel;
  nn2c_rng rng;
  memset(out, 0, sizeof *out);
  if (n < 1 || sample_numel < 1 || classes < 1)
    return nn2c_fail(err, errlen, "random data: bad size %d x %d, %d classes", n, sample_numel, classes);
  out->x = malloc((size_t)n * k * sizeof(float));
  out->yi = malloc((size_t)n * sizeof(int32_t));
  if (!out->x || !out->yi) {
    nn2c_dataset_free(out);
    return nn2c_fail(err, errlen, "out of memory for %d random samples of %d floats", n, sample_numel);
  }
  nn2c_rng_seed(&rng, seed);
  for (i = 0; i < (size_t)n; i++) {
    for (j = 0; j < k; j++)
      out->x[i * k + j] = (float)nn2c_rng_uniform(&rng);
    out->yi[i] = (int32_t)nn2c_rng_below(&rng, (uint32_t)classes);
  }
  out->n = n;
  out->sample_numel = sample_numel;
  out->label_numel = 1;
  out->num_classes = classes;
  return 0;
}

/* Returns a new block with the rows of `size` bytes of src in the order idx
 * (src freed), or src itself when it is NULL or memory runs out (*failed). */
static void *permute_rows(void *src, const int32_t *idx, size_t n, size_t size, int *failed) {
  unsigned char *dst;
  size_t i;
  if (!src || *failed) return src;
  dst = malloc(n * size + 1);
  if (!dst) {
    *failed = 1;
    return src;
  }
  for (i = 0; i < n; i++)
    memcpy(dst + i * size, (unsigned char *)src + (size_t)idx[i] * size, size);
  free(src);
  return dst;
}

int nn2c_dataset_shuffle(nn2c_dataset *d, uint64_t seed, char *err, size_t errlen) {
  size_t n = (size_t)d->n, s = (size_t)d->sample_numel, l = (size_t)d->label_numel, i;
  int32_t *idx = malloc(n * sizeof(int32_t) + 1);
  int failed = !idx;
  nn2c_rng rng;
  for (i = 0; i < n && idx; i++)
    idx[i] = (int32_t)i;
  nn2c_rng_seed(&rng, seed);
  if (idx) nn2c_shuffle(idx, d->n, &rng);
  d->x = permute_rows(d->x, idx, n, s * sizeof(float), &failed);
  d->xb = permute_rows(d->xb, idx, n, s, &failed);
  d->xi = permute_rows(d->xi, idx, n, s * sizeof(int32_t), &failed);
  d->yi = permute_rows(d->yi, idx, n, sizeof(int32_t), &failed);
  d->yf = permute_rows(d->yf, idx, n, l * sizeof(float), &failed);
  free(idx);
  return failed ? nn2c_fail(err, errlen, "out of memory shuffling %lu samples", (unsigned long)n) : 0;
}
