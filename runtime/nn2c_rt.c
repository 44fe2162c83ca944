/* nn2c_rt.c - RNG, clock, file, MNIST and CIFAR-10 loading, checkpoints,
 * accuracy.
 *
 * C99 plus POSIX (clock_gettime, fsync, getpid). zlib is optional: with
 * -DNN2C_HAVE_ZLIB gzip files are read through gzopen/gzread, otherwise a
 * gzip file is reported as an error that tells the user to gunzip it.
 */
#define _POSIX_C_SOURCE 200809L

#include "nn2c_rt.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef NN2C_HAVE_ZLIB
#include <zlib.h>
#endif

int nn2c_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err && errlen > 0) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* ---- RNG ---------------------------------------------------------------- */

/* splitmix64 spreads any seed (even 0 or 1) over the whole state, which is
 * what xoshiro's authors recommend for seeding. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nn2c_rng_seed(nn2c_rng *r, uint64_t seed) {
  int i;
  for (i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

uint64_t nn2c_rng_u64(nn2c_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

/* The high bits of xoshiro256** are its best ones. */
uint32_t nn2c_rng_u32(nn2c_rng *r) { return (uint32_t)(nn2c_rng_u64(r) >> 32); }

/* Rejection sampling: drop the top partial copy of [0,n) so every value is
 * equally likely (a plain modulo favours small values). */
uint32_t nn2c_rng_below(nn2c_rng *r, uint32_t n) {
  uint32_t limit = UINT32_MAX - UINT32_MAX % n; /* a multiple of n: [0,limit) maps evenly */
  uint32_t v;
  do {
    v = nn2c_rng_u32(r);
  } while (v >= limit);
  return v % n;
}

double nn2c_rng_uniform(nn2c_rng *r) {
  return (double)(nn2c_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); /* 2^-53 */
}

void nn2c_shuffle(int32_t *idx, int n, nn2c_rng *r) {
  int i;
  for (i = n - 1; i > 0; i--) {
    int j = (int)nn2c_rng_below(r, (uint32_t)i + 1);
    int32_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

double nn2c_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- Reading whole files ------------------------------------------------ */

typedef struct {
  unsigned char *p;
  size_t n, cap;
} Buf;

/* Makes room for at least `more` bytes after p[n]; doubles to keep reads linear. */
static int buf_reserve(Buf *b, size_t more) {
  size_t cap = b->cap ? b->cap : 65536;
  unsigned char *p;
  while (cap - b->n < more) {
    if (cap > SIZE_MAX / 2)
      return -1;
    cap *= 2;
  }
  if (cap == b->cap)
    return 0;
  p = realloc(b->p, cap);
  if (!p)
    return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

static int read_plain(const char *path, Buf *b, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  for (;;) {
    size_t got;
    if (buf_reserve(b, 65536)) {
      fclose(f);
      return nn2c_fail(err, errlen, "%s: out of memory reading file", path);
    }
    got = fread(b->p + b->n, 1, b->cap - b->n, f);
    b->n += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    int e = errno;
    fclose(f);
    return nn2c_fail(err, errlen, "%s: read error: %s", path, strerror(e));
  }
  fclose(f);
  return 0;
}

#ifdef NN2C_HAVE_ZLIB
static int read_gzip(const char *path, Buf *b, char *err, size_t errlen) {
  gzFile g = gzopen(path, "rb");
  if (!g)
    return nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  gzbuffer(g, 1u << 17);
  for (;;) {
    size_t room;
    int got;
    if (buf_reserve(b, 65536)) {
      gzclose(g);
      return nn2c_fail(err, errlen, "%s: out of memory decompressing file", path);
    }
    room = b->cap - b->n;
    if (room > (1u << 30))
      room = 1u << 30; /* gzread takes an unsigned, returns an int */
    got = gzread(g, b->p + b->n, (unsigned)room);
    if (got < 0) {
      int zerr;
      const char *msg = gzerror(g, &zerr);
      nn2c_fail(err, errlen, "%s: gzip error: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
      gzclose(g);
      return -1;
    }
    if (got == 0)
      break;
    b->n += (size_t)got;
  }
  /* zlib reports a cut-off stream only through gzerror (Z_BUF_ERROR), since
   * a file still being written looks the same */
  {
    int zerr;
    const char *msg = gzerror(g, &zerr);
    if (zerr != Z_OK) {
      nn2c_fail(err, errlen, "%s: gzip error: %s", path,
           zerr == Z_BUF_ERROR ? "truncated (unexpected end of file)" : msg);
      gzclose(g);
      return -1;
    }
  }
  gzclose(g);
  return 0;
}
#endif

/* 1 if the file starts with the gzip magic bytes 1f 8b, 0 if not, -1 if unopenable. */
static int sniff_gzip(const char *path) {
  unsigned char m[2] = {0, 0};
  FILE *f = fopen(path, "rb");
  size_t got;
  if (!f)
    return -1;
  got = fread(m, 1, 2, f);
  fclose(f);
  return got == 2 && m[0] == 0x1f && m[1] == 0x8b;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Picks PATH, or its .gz twin when PATH is missing, into used[usedlen]. */
static int resolve_path(const char *path, char *used, size_t usedlen, char *err, size_t errlen) {
  char alt[4096];
  size_t n = strlen(path);
  int e;
  if (n + 4 > sizeof alt || n + 1 > usedlen)
    return nn2c_fail(err, errlen, "%s: path too long", path);
  if (sniff_gzip(path) >= 0) {
    memcpy(used, path, n + 1);
    return 0;
  }
  e = errno;
  memcpy(alt, path, n + 1);
  if (ends_with(path, ".gz"))
    alt[n - 3] = '\0';
  else
    memcpy(alt + n, ".gz", 4);
  if (sniff_gzip(alt) >= 0 && strlen(alt) < usedlen) {
    memcpy(used, alt, strlen(alt) + 1);
    return 0;
  }
  return nn2c_fail(err, errlen, "%s: cannot open: %s (also tried %s)", path, strerror(e), alt);
}

int nn2c_read_file_as(const char *path, unsigned char **data, size_t *len, char *used,
                        size_t usedlen, char *err, size_t errlen) {
  Buf b = {NULL, 0, 0};
  int rc;
  *data = NULL;
  *len = 0;
  if (resolve_path(path, used, usedlen, err, errlen))
    return -1;
  if (sniff_gzip(used) == 1) {
#ifdef NN2C_HAVE_ZLIB
    rc = read_gzip(used, &b, err, errlen);
#else
    rc = nn2c_fail(err, errlen, "%s: gzip file but nn2c runtime built without zlib; gunzip it first",
              used);
#endif
  } else {
    rc = read_plain(used, &b, err, errlen);
  }
  if (rc == 0 && !b.p && !(b.p = malloc(1)))
    rc = nn2c_fail(err, errlen, "%s: out of memory", used);
  if (rc) {
    free(b.p);
    return -1;
  }
  *data = b.p;
  *len = b.n;
  return 0;
}

int nn2c_read_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen) {
  char used[4096];
  return nn2c_read_file_as(path, data, len, used, sizeof used, err, errlen);
}

/* ---- Reading a file line by line ---------------------------------------- */

/* An open file, plain or gzip, read in chunks. */
typedef struct {
  const char *path;
  FILE *f;
#ifdef NN2C_HAVE_ZLIB
  gzFile g;
#endif
} Stream;

static int stream_open(Stream *s, const char *path, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->path = path;
  if (sniff_gzip(path) == 1) {
#ifdef NN2C_HAVE_ZLIB
    if (!(s->g = gzopen(path, "rb")))
      return nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    gzbuffer(s->g, 1u << 17);
    return 0;
#else
    return nn2c_fail(err, errlen, "%s: gzip file but nn2c runtime built without zlib; gunzip it first", path);
#endif
  }
  if (!(s->f = fopen(path, "rb")))
    return nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  return 0;
}

/* Reads up to n bytes; 0 at the end; -1 on an error (a cut-off gzip stream too). */
static long stream_read(Stream *s, unsigned char *p, size_t n, char *err, size_t errlen) {
  size_t got;
#ifdef NN2C_HAVE_ZLIB
  if (s->g) {
    int k = gzread(s->g, p, (unsigned)(n < (1u << 30) ? n : (1u << 30))), zerr;
    const char *msg = gzerror(s->g, &zerr);
    if (k < 0 || (k == 0 && zerr != Z_OK))
      return nn2c_fail(err, errlen, "%s: gzip error: %s", s->path,
                       zerr == Z_BUF_ERROR ? "truncated (unexpected end of file)"
                       : zerr == Z_ERRNO   ? strerror(errno)
                                           : msg);
    return k;
  }
#endif
  got = fread(p, 1, n, s->f);
  if (got == 0 && ferror(s->f))
    return nn2c_fail(err, errlen, "%s: read error: %s", s->path, strerror(errno));
  return (long)got;
}

static void stream_close(Stream *s) {
  if (s->f)
    fclose(s->f);
#ifdef NN2C_HAVE_ZLIB
  if (s->g)
    gzclose(s->g);
#endif
}

/* Hands every complete line of b[*start..b->n) to fn; *start moves past them. */
static int emit_lines(Buf *b, size_t *start, size_t *lineno, nn2c_line_fn fn, void *ctx) {
  unsigned char *nl;
  while ((nl = memchr(b->p + *start, '\n', b->n - *start)) != NULL) {
    int rc = fn(ctx, (char *)b->p + *start, (size_t)(nl - (b->p + *start)), ++*lineno);
    *start = (size_t)(nl - b->p) + 1;
    if (rc)
      return rc;
  }
  return 0;
}

int nn2c_read_lines(const char *path, nn2c_line_fn fn, void *ctx, char *used, size_t usedlen, char *err,
                    size_t errlen) {
  Buf b = {NULL, 0, 0};
  Stream s;
  size_t start = 0, lineno = 0;
  int rc = 0;
  long got = 1;
  if (resolve_path(path, used, usedlen, err, errlen) || stream_open(&s, used, err, errlen))
    return -1;
  while (rc == 0 && got > 0) {
    if (b.p) /* keep the partial line */
      memmove(b.p, b.p + start, b.n - start);
    b.n -= start, start = 0;
    if (buf_reserve(&b, 1u << 20)) {
      rc = nn2c_fail(err, errlen, "%s: out of memory reading a line", used);
      break;
    }
    got = stream_read(&s, b.p + b.n, b.cap - b.n, err, errlen);
    if (got < 0)
      rc = -1;
    else
      b.n += (size_t)got;
    if (rc == 0)
      rc = emit_lines(&b, &start, &lineno, fn, ctx);
  }
  if (rc == 0 && start < b.n) /* a last line without '\n' */
    rc = fn(ctx, (char *)b.p + start, b.n - start, ++lineno);
  stream_close(&s);
  free(b.p);
  return rc ? -1 : 0;
}

/* ---- MNIST IDX files ---------------------------------------------------- */

/* realloc to a smaller size; keeps the old block if the system declines. */
static void *shrink(void *p, size_t bytes) {
  void *q = p && bytes ? realloc(p, bytes) : NULL;
  return q ? q : p;
}

float nn2c_dataset_value(const nn2c_dataset *d, size_t i) {
  if (d->x)
    return d->x[i];
  return d->xi ? (float)d->xi[i] : (float)d->xb[i] / 255.0f;
}

void nn2c_dataset_get(const nn2c_dataset *d, size_t k, float *dst) {
  size_t n = (size_t)d->sample_numel, i;
  if (d->x) {
    memcpy(dst, d->x + k * n, n * sizeof(float));
    return;
  }
  if (d->xi) {
    for (i = 0; i < n; i++) dst[i] = (float)d->xi[k * n + i];
    return;
  }
  for (i = 0; i < n; i++) dst[i] = (float)d->xb[k * n + i] / 255.0f;
}

void nn2c_dataset_truncate(nn2c_dataset *d, int n) {
  size_t k = (size_t)(n < d->n ? n : d->n), s = (size_t)d->sample_numel, l = (size_t)d->label_numel;
  d->x = shrink(d->x, k * s * sizeof(float));
  d->xb = shrink(d->xb, k * s);
  d->xi = shrink(d->xi, k * s * sizeof(int32_t));
  d->yi = shrink(d->yi, k * sizeof(int32_t));
  d->yf = shrink(d->yf, k * l * sizeof(float));
  d->n = (int)k;
}

void nn2c_dataset_free(nn2c_dataset *d) {
  free(d->x);
  free(d->xb);
  free(d->xi);
  free(d->yi);
  free(d->yf);
  memset(d, 0, sizeof *d);
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* One parsed IDX file of unsigned bytes: dims[0..rank) and the payload. */
typedef struct {
  char path[4096];
  unsigned char *raw;
  size_t rawlen;
  uint32_t dims[3];
  const unsigned char *data;
  size_t count; /* product of dims */
} IdxFile;

/* Checks the header (magic 0x000008<rank>, i.e. unsigned bytes) and the sizes. */
static int idx_check(IdxFile *f, int rank, const char *kind, const char *what, char *err,
                     size_t errlen) {
  size_t header = 4 + 4 * (size_t)rank, got;
  uint32_t magic = 0x800u + (uint32_t)rank;
  uint64_t count = 1;
  int i;
  if (f->rawlen == 0)
    return nn2c_fail(err, errlen, "%s: empty file", f->path);
  if (f->rawlen < header)
    return nn2c_fail(err, errlen, "%s: truncated: expected a %u-byte IDX header, got %lu bytes", f->path,
                (unsigned)header, (unsigned long)f->rawlen);
  if (be32(f->raw) != magic)
    return nn2c_fail(err, errlen, "%s: bad magic 0x%08lx (expected 0x%08lx for an IDX %s file)", f->path,
                (unsigned long)be32(f->raw), (unsigned long)magic, kind);
  for (i = 0; i < rank; i++) {
    f->dims[i] = be32(f->raw + 4 + 4 * i);
    if (f->dims[i] == 0)
      return nn2c_fail(err, errlen, "%s: dimension %d is 0", f->path, i);
    count *= f->dims[i];
    /* INT_MAX keeps n, sample sizes and float counts in int/size_t range. */
    if (count > INT_MAX)
      return nn2c_fail(err, errlen, "%s: too large: more than %d elements", f->path, INT_MAX);
  }
  got = f->rawlen - header;
  if (got < count)
    return nn2c_fail(err, errlen, "%s: truncated: expected %lu bytes of %s, got %lu", f->path,
                (unsigned long)count, what, (unsigned long)got);
  if (got > count)
    return nn2c_fail(err, errlen, "%s: %lu unexpected bytes after the %s", f->path,
                (unsigned long)(got - count), what);
  f->data = f->raw + header;
  f->count = (size_t)count;
  return 0;
}

static int idx_read(IdxFile *f, const char *dir, const char *base, int rank, const char *kind,
                    const char *what, char *err, size_t errlen) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, base) >= sizeof path)
    return nn2c_fail(err, errlen, "%s: path too long", dir);
  if (nn2c_read_file_as(path, &f->raw, &f->rawlen, f->path, sizeof f->path, err, errlen))
    return -1;
  return idx_check(f, rank, kind, what, err, errlen);
}

/* Converts checked image and label files into *out. */
/* The pixels stay in the file's buffer (moved over the header), so loading
 * needs no second copy of the images: the trainer's peak memory is one copy. */
static int mnist_fill(IdxFile *im, const IdxFile *lb, nn2c_dataset *out, char *err,
                      size_t errlen) {
  size_t i, n = im->dims[0], numel = (size_t)im->dims[1] * im->dims[2];
  for (i = 0; i < n; i++)
    if (lb->data[i] > 9)
      return nn2c_fail(err, errlen, "%s: label %u at index %lu is out of range 0..9", lb->path,
                  (unsigned)lb->data[i], (unsigned long)i);
  out->yi = malloc(n * sizeof(int32_t));
  if (!out->yi)
    return nn2c_fail(err, errlen, "%s: out of memory", im->path);
  memmove(im->raw, im->data, n * numel);
  out->xb = shrink(im->raw, n * numel);
  im->raw = NULL; /* now owned by out */
  for (i = 0; i < n; i++)
    out->yi[i] = lb->data[i];
  out->n = (int)n;
  out->sample_numel = (int)numel;
  out->label_numel = 1;
  out->num_classes = 10;
  return 0;
}

int nn2c_load_mnist(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen) {
  static const char *const names[2][2] = {
      {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
      {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
  };
  IdxFile *im = calloc(1, sizeof *im), *lb = calloc(1, sizeof *lb);
  int rc = -1;
  memset(out, 0, sizeof *out);
  if (split != 0 && split != 1)
    nn2c_fail(err, errlen, "%s: bad MNIST split %d (0 = train, 1 = test)", dir, split);
  else if (!im || !lb)
    nn2c_fail(err, errlen, "%s: out of memory", dir);
  else if (idx_read(im, dir, names[split][0], 3, "image", "pixels", err, errlen) == 0 &&
           idx_read(lb, dir, names[split][1], 1, "label", "labels", err, errlen) == 0) {
    if (im->dims[0] != lb->dims[0])
      nn2c_fail(err, errlen, "%s: images and labels disagree: %lu vs %lu", lb->path,
           (unsigned long)im->dims[0], (unsigned long)lb->dims[0]);
    else
      rc = mnist_fill(im, lb, out, err, errlen);
  }
  if (rc)
    nn2c_dataset_free(out);
  if (im)
    free(im->raw);
  if (lb)
    free(lb->raw);
  free(im);
  free(lb);
  return rc;
}

/* ---- CIFAR-10 binary version -------------------------------------------- */

#define CIFAR_RECORDS 10000 /* per file */
#define CIFAR_PLANE 1024    /* 32x32 bytes per colour plane */
#define CIFAR_RECORD (1 + 3 * CIFAR_PLANE)

/* Checks one file's size and labels, then writes its records as samples
 * first.. of out: planar RGB bytes become NHWC floats. */
static int cifar_fill(const char *path, const unsigned char *raw, size_t len, int first,
                      nn2c_dataset *out, char *err, size_t errlen) {
  size_t r, p;
  int c;
  if (len != (size_t)CIFAR_RECORDS * CIFAR_RECORD)
    return nn2c_fail(err, errlen, "%s: %lu bytes is not %d records of %d bytes", path,
                (unsigned long)len, CIFAR_RECORDS, CIFAR_RECORD);
  for (r = 0; r < CIFAR_RECORDS; r++)
    if (raw[r * CIFAR_RECORD] > 9)
      return nn2c_fail(err, errlen, "%s: label %u at record %lu is out of range 0..9", path,
                  (unsigned)raw[r * CIFAR_RECORD], (unsigned long)r);
  for (r = 0; r < CIFAR_RECORDS; r++) {
    const unsigned char *rec = raw + r * CIFAR_RECORD;
    unsigned char *x = out->xb + ((size_t)first + r) * 3 * CIFAR_PLANE;
    out->yi[(size_t)first + r] = rec[0];
    for (p = 0; p < CIFAR_PLANE; p++) /* p = row * 32 + column */
      for (c = 0; c < 3; c++)
        x[3 * p + (size_t)c] = rec[1 + (size_t)c * CIFAR_PLANE + p];
  }
  return 0;
}

int nn2c_load_cifar10(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen) {
  return nn2c_load_cifar10_max(dir, split, 0, out, err, errlen);
}

int nn2c_load_cifar10_max(const char *dir, int split, int max, nn2c_dataset *out, char *err,
                          size_t errlen) {
  static const char *const train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                      "data_batch_4.bin", "data_batch_5.bin"};
  static const char *const test[] = {"test_batch.bin"};
  const char *const *names = split == 0 ? train : test;
  int nfiles = split == 0 ? 5 : 1, i, rc = 0;
  size_t n;
  if (max > 0 && (max + CIFAR_RECORDS - 1) / CIFAR_RECORDS < nfiles) /* only the files needed */
    nfiles = (max + CIFAR_RECORDS - 1) / CIFAR_RECORDS;
  n = (size_t)nfiles * CIFAR_RECORDS;
  memset(out, 0, sizeof *out);
  if (split != 0 && split != 1)
    return nn2c_fail(err, errlen, "%s: bad CIFAR-10 split %d (0 = train, 1 = test)", dir, split);
  for (i = 0; i < nfiles && rc == 0; i++) {
    char path[4096], used[4096];
    unsigned char *raw = NULL;
    size_t len = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
      rc = nn2c_fail(err, errlen, "%s: path too long", dir);
    else
      rc = nn2c_read_file_as(path, &raw, &len, used, sizeof used, err, errlen);
    /* allocate only once the first file has been read, so a wrong DIR fails fast */
    if (rc == 0 && !out->xb) {
      out->xb = malloc(n * 3 * CIFAR_PLANE);
      out->yi = malloc(n * sizeof(int32_t));
      if (!out->xb || !out->yi)
        rc = nn2c_fail(err, errlen, "%s: out of memory for %lu CIFAR-10 images", used,
                  (unsigned long)n);
    }
    if (rc == 0)
      rc = cifar_fill(used, raw, len, i * CIFAR_RECORDS, out, err, errlen);
    free(raw);
  }
  if (rc) {
    nn2c_dataset_free(out);
    return -1;
  }
  out->n = (int)n;
  out->sample_numel = 3 * CIFAR_PLANE;
  out->label_numel = 1;
  out->num_classes = 10;
  return 0;
}

/* ---- Accuracy ----------------------------------------------------------- */

static int argmax(const float *v, int n) {
  int i, best = 0;
  for (i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

int nn2c_count_correct(const float *out, int out_numel, const int32_t *yi, const float *yf,
                       int label_numel, int batch) {
  int b, correct = 0;
  for (b = 0; b < batch; b++) {
    const float *o = out + (size_t)b * out_numel;
    int ok;
    if (yi && out_numel == 1)
      ok = (o[0] > 0.5f) == (yi[b] != 0);
    else if (yi)
      ok = argmax(o, out_numel) == yi[b];
    else if (label_numel == 1)
      ok = (o[0] > 0.5f) == (yf[b] > 0.5f);
    else
      ok = argmax(o, out_numel) == argmax(yf + (size_t)b * label_numel, label_numel);
    correct += ok;
  }
  return correct;
}

/* ---- Checkpoints -------------------------------------------------------- */

static const char ckpt_magic[8] = {'N', 'N', '2', 'C', 'C', 'K', 'P', 'T'};

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= p[i];
    h *= FNV_PRIME;
  }
  return h;
}

/* Buffered little-endian writer that hashes everything it writes. */
typedef struct {
  FILE *f;
  uint64_t hash;
  int failed;
  size_t n;
  unsigned char buf[16384];
} CkptWriter;

static void cw_flush(CkptWriter *w) {
  if (w->n && fwrite(w->buf, 1, w->n, w->f) != w->n)
    w->failed = 1;
  w->n = 0;
}

static void cw_bytes(CkptWriter *w, const void *p, size_t n) {
  const unsigned char *c = p;
  w->hash = fnv1a(w->hash, c, n);
  while (n > 0) {
    size_t k = sizeof w->buf - w->n;
    if (k > n)
      k = n;
    memcpy(w->buf + w->n, c, k);
    w->n += k;
    c += k;
    n -= k;
    if (w->n == sizeof w->buf)
      cw_flush(w);
  }
}

static void put_le(unsigned char *p, uint64_t v, int nbytes) {
  int i;
  for (i = 0; i < nbytes; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void cw_u32(CkptWriter *w, uint32_t v) {
  unsigned char b[4];
  put_le(b, v, 4);
  cw_bytes(w, b, 4);
}

static void cw_u64(CkptWriter *w, uint64_t v) {
  unsigned char b[8];
  put_le(b, v, 8);
  cw_bytes(w, b, 8);
}

static void cw_floats(CkptWriter *w, const float *x, uint64_t count) {
  uint64_t i;
  for (i = 0; i < count; i++) {
    uint32_t bits;
    memcpy(&bits, &x[i], 4);
    cw_u32(w, bits);
  }
}

static void ckpt_write_body(CkptWriter *w, const nn2c_ckpt_section *s, int n) {
  unsigned char tail[8];
  int i;
  cw_bytes(w, ckpt_magic, 8);
  cw_u32(w, NN2C_CKPT_VERSION);
  cw_u32(w, (uint32_t)n);
  for (i = 0; i < n; i++) {
    size_t len = strlen(s[i].name);
    cw_u32(w, (uint32_t)len);
    cw_bytes(w, s[i].name, len);
    cw_u64(w, s[i].count);
    cw_floats(w, s[i].data, s[i].count);
  }
  put_le(tail, w->hash, 8); /* the checksum itself is not hashed */
  cw_bytes(w, tail, 8);
  cw_flush(w);
}

static int ckpt_check_sections(const char *path, const nn2c_ckpt_section *s, int n, char *err,
                               size_t errlen) {
  int i;
  if (n < 0)
    return nn2c_fail(err, errlen, "%s: negative section count %d", path, n);
  for (i = 0; i < n; i++) {
    if (!s[i].name || strlen(s[i].name) > 65535)
      return nn2c_fail(err, errlen, "%s: section %d has no name or a name too long", path, i);
    if (s[i].count > 0 && !s[i].data)
      return nn2c_fail(err, errlen, "%s: section '%s' has no data", path, s[i].name);
  }
  return 0;
}

int nn2c_ckpt_save(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen) {
  char tmp[4096];
  CkptWriter *w;
  int e = 0, closed;
  if (ckpt_check_sections(path, s, n, err, errlen))
    return -1;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= sizeof tmp)
    return nn2c_fail(err, errlen, "%s: path too long", path);
  w = calloc(1, sizeof *w);
  if (!w)
    return nn2c_fail(err, errlen, "%s: out of memory", path);
  w->hash = FNV_OFFSET;
  w->f = fopen(tmp, "wb");
  if (!w->f) {
    e = errno;
    free(w);
    return nn2c_fail(err, errlen, "%s: cannot create temporary file %s: %s", path, tmp, strerror(e));
  }
  ckpt_write_body(w, s, n);
  /* fsync before rename: otherwise a crash could leave the new name on
   * not-yet-written data, which is exactly what the temp file avoids. */
  if (w->failed || fflush(w->f) != 0 || fsync(fileno(w->f)) != 0)
    e = errno ? errno : EIO;
  closed = fclose(w->f);
  if (!e && closed != 0)
    e = errno;
  free(w);
  if (e) {
    remove(tmp);
    return nn2c_fail(err, errlen, "%s: writing %s failed: %s", path, tmp, strerror(e));
  }
  /* The directory itself is not fsynced: after a crash the rename may be
   * lost, but then the old checkpoint is still there, whole. */
  if (rename(tmp, path) != 0) {
    e = errno;
    remove(tmp);
    return nn2c_fail(err, errlen, "%s: cannot rename %s over it: %s", path, tmp, strerror(e));
  }
  return 0;
}

static uint64_t get_le(const unsigned char *p, int nbytes) {
  uint64_t v = 0;
  int i;
  for (i = nbytes - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* Walks the section headers of a checkpoint with a good magic and returns the
 * size the file must have (header, sections, checksum), or 0 if it is
 * shorter than that; *need is then the size needed to read on. */
static int ckpt_walk(const unsigned char *p, size_t len, uint64_t *need) {
  uint32_t nsec = (uint32_t)get_le(p + 12, 4), i;
  uint64_t pos = 16;
  for (i = 0; i < nsec; i++) {
    uint64_t count;
    if (len < pos + 4)
      return *need = pos + 4, -1;
    pos += 4 + get_le(p + pos, 4);
    if (len < pos + 8)
      return *need = pos + 8, -1;
    count = get_le(p + pos, 8);
    pos += 8;
    if (count > (len - pos) / 4)
      return *need = pos + 4 * count, -1; /* may wrap; only shown */
    pos += 4 * count;
  }
  *need = pos + 8;
  return len < pos + 8 ? -1 : 0;
}

/* Compares the file's sections with the expected ones; with copy set, also
 * copies the data. Run once without copy first so a mismatch in a later
 * section leaves the caller's buffers untouched. */
static int ckpt_match(const char *path, const unsigned char *p, const nn2c_ckpt_section *s, int n,
                      int copy, char *err, size_t errlen) {
  uint32_t nsec = (uint32_t)get_le(p + 12, 4);
  size_t pos = 16;
  int i;
  if (nsec != (uint32_t)n)
    return nn2c_fail(err, errlen, "%s: has %lu sections but %d were expected", path, (unsigned long)nsec,
                n);
  for (i = 0; i < n; i++) {
    size_t nlen = (size_t)get_le(p + pos, 4), want = strlen(s[i].name);
    uint64_t count, k;
    const char *name = (const char *)p + pos + 4;
    if (nlen != want || memcmp(name, s[i].name, want) != 0)
      return nn2c_fail(err, errlen, "%s: section %d is named '%.*s' but '%s' was expected", path, i,
                  (int)(nlen > 200 ? 200 : nlen), name, s[i].name);
    pos += 4 + nlen;
    count = get_le(p + pos, 8);
    pos += 8;
    if (count != s[i].count)
      return nn2c_fail(err, errlen, "%s: section '%s' holds %llu floats but %llu were expected", path,
                  s[i].name, (unsigned long long)count, (unsigned long long)s[i].count);
    for (k = 0; copy && k < count; k++) {
      uint32_t bits = (uint32_t)get_le(p + pos + 4 * k, 4);
      memcpy(&s[i].data[k], &bits, 4);
    }
    pos += 4 * (size_t)count;
  }
  return 0;
}

static int ckpt_parse(const char *path, const unsigned char *p, size_t len,
                      const nn2c_ckpt_section *s, int n, char *err, size_t errlen) {
  uint64_t need, stored;
  uint32_t version;
  if (len == 0)
    return nn2c_fail(err, errlen, "%s: empty file, not an nn2c checkpoint", path);
  if (memcmp(p, ckpt_magic, len < 8 ? len : 8) != 0)
    return nn2c_fail(err, errlen, "%s: bad magic, not an nn2c checkpoint", path);
  if (len < 16)
    return nn2c_fail(err, errlen, "%s: truncated: %lu bytes, the header alone needs 16", path,
                (unsigned long)len);
  version = (uint32_t)get_le(p + 8, 4);
  if (version != NN2C_CKPT_VERSION)
    return nn2c_fail(err, errlen, "%s: unsupported checkpoint version %lu (this runtime reads %u)", path,
                (unsigned long)version, NN2C_CKPT_VERSION);
  if (ckpt_walk(p, len, &need))
    return nn2c_fail(err, errlen, "%s: truncated: %lu bytes, expected at least %llu", path,
                (unsigned long)len, (unsigned long long)need);
  if (len > need)
    return nn2c_fail(err, errlen, "%s: %lu unexpected bytes after the checksum", path,
                (unsigned long)(len - need));
  stored = get_le(p + len - 8, 8);
  if (stored != fnv1a(FNV_OFFSET, p, len - 8))
    return nn2c_fail(err, errlen, "%s: checksum mismatch: the file is corrupted", path);
  if (ckpt_match(path, p, s, n, 0, err, errlen))
    return -1;
  return ckpt_match(path, p, s, n, 1, err, errlen);
}

int nn2c_ckpt_load(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen) {
  Buf b = {NULL, 0, 0};
  int rc;
  if (ckpt_check_sections(path, s, n, err, errlen))
    return -1;
  if (read_plain(path, &b, err, errlen)) {
    free(b.p);
    return -1;
  }
  rc = ckpt_parse(path, b.p, b.n, s, n, err, errlen);
  free(b.p);
  return rc;
}

void nn2c_u64_to_floats(uint64_t v, float f[4]) {
  int i;
  for (i = 0; i < 4; i++)
    f[i] = (float)((v >> (16 * i)) & 0xFFFFu);
}

uint64_t nn2c_floats_to_u64(const float f[4]) {
  uint64_t v = 0;
  int i;
  for (i = 3; i >= 0; i--) {
    if (!(f[i] >= 0.0f && f[i] <= 65535.0f) || f[i] != (float)(uint32_t)f[i])
      return UINT64_MAX;
    v = v << 16 | (uint64_t)(uint32_t)f[i];
  }
  return v;
}
