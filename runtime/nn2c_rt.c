/* nn2c_rt.c - clock, file reading (whole files and line by line, plain or
 * gzip), in-memory datasets, accuracy. RNG, image loaders and checkpoints
 * have their own files (nn2c_rng.c, nn2c_images.c, nn2c_ckpt.c).
 *
 * C99 plus POSIX (clock_gettime). zlib is optional: with
 * -DNN2C_HAVE_ZLIB gzip files are read through gzopen/gzread, otherwise a
 * gzip file is reported as an error that tells the user to gunzip it.
 */
#define _POSIX_C_SOURCE 200809L

#include "nn2c_rt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    if (cap > SIZE_MAX / 2) return -1;
    cap *= 2;
  }
  if (cap == b->cap) return 0;
  p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

/* Opens path for reading if it is a regular file: a FIFO would block and a device such as
 * /dev/zero never end (O_NONBLOCK keeps the open of a FIFO from waiting for a writer).
 * The descriptor, or -1 after an error message. */
static int open_regular(const char *path, char *err, size_t errlen) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) return nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) return fd;
  close(fd);
  return nn2c_fail(err, errlen, "%s: not a regular file (%s)", path,
                   S_ISDIR(st.st_mode) ? "a directory" : "a FIFO, socket or device");
}

static FILE *fopen_regular(const char *path, char *err, size_t errlen) {
  int fd = open_regular(path, err, errlen);
  FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
  if (fd >= 0 && !f) {
    close(fd);
    nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  }
  return f;
}

static int read_plain(const char *path, Buf *b, char *err, size_t errlen) {
  FILE *f = fopen_regular(path, err, errlen);
  if (!f) return -1;
  for (;;) {
    size_t got;
    if (buf_reserve(b, 65536)) {
      fclose(f);
      return nn2c_fail(err, errlen, "%s: out of memory reading file", path);
    }
    got = fread(b->p + b->n, 1, b->cap - b->n, f);
    b->n += got;
    if (got == 0) break;
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
/* gzerror's text without the "<fd:N>: " a gzdopen stream puts in front (the caller names the file). */
static const char *gz_reason(gzFile g, int *zerr) {
  const char *m = gzerror(g, zerr), *colon = strstr(m, ": ");
  return strncmp(m, "<fd:", 4) == 0 && colon ? colon + 2 : m;
}

/* gzdopen on a checked descriptor: gzopen would block on a FIFO. */
static gzFile gzopen_regular(const char *path, char *err, size_t errlen) {
  int fd = open_regular(path, err, errlen);
  gzFile g = fd >= 0 ? gzdopen(fd, "rb") : NULL;
  if (fd >= 0 && !g) {
    close(fd);
    nn2c_fail(err, errlen, "%s: cannot open: %s", path, strerror(errno));
  }
  return g;
}

static int read_gzip(const char *path, Buf *b, char *err, size_t errlen) {
  gzFile g = gzopen_regular(path, err, errlen);
  if (!g) return -1;
  gzbuffer(g, 1u << 17);
  for (;;) {
    size_t room;
    int got;
    if (buf_reserve(b, 65536)) {
      gzclose(g);
      return nn2c_fail(err, errlen, "%s: out of memory decompressing file", path);
    }
    room = b->cap - b->n;
    if (room > (1u << 30)) room = 1u << 30; /* gzread takes an unsigned, returns an int */
    got = gzread(g, b->p + b->n, (unsigned)room);
    if (got < 0) {
      int zerr;
      const char *msg = gz_reason(g, &zerr);
      nn2c_fail(err, errlen, "%s: gzip error: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
      gzclose(g);
      return -1;
    }
    if (got == 0) break;
    b->n += (size_t)got;
  }
  /* zlib reports a cut-off stream only through gzerror (Z_BUF_ERROR), since
   * a file still being written looks the same */
  {
    int zerr;
    const char *msg = gz_reason(g, &zerr);
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
  int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO: no wait; refused when it is read */
  ssize_t got;
  if (fd < 0) return -1;
  got = read(fd, m, 2);
  close(fd);
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
  if (n + 4 > sizeof alt || n + 1 > usedlen) return nn2c_fail(err, errlen, "%s: path too long", path);
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

int nn2c_read_file_as(const char *path, unsigned char **data, size_t *len, char *used, size_t usedlen, char *err,
                      size_t errlen) {
  Buf b = {NULL, 0, 0};
  int rc;
  *data = NULL;
  *len = 0;
  if (resolve_path(path, used, usedlen, err, errlen)) return -1;
  if (sniff_gzip(used) == 1) {
#ifdef NN2C_HAVE_ZLIB
    rc = read_gzip(used, &b, err, errlen);
#else
    rc = nn2c_fail(err, errlen, "%s: gzip file but nn2c runtime built without zlib; gunzip it first", used);
#endif
  } else {
    rc = read_plain(used, &b, err, errlen);
  }
  if (rc == 0 && !b.p && !(b.p = malloc(1))) rc = nn2c_fail(err, errlen, "%s: out of memory", used);
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
    if (!(s->g = gzopen_regular(path, err, errlen))) return -1;
    gzbuffer(s->g, 1u << 17);
    return 0;
#else
    return nn2c_fail(err, errlen, "%s: gzip file but nn2c runtime built without zlib; gunzip it first", path);
#endif
  }
  return (s->f = fopen_regular(path, err, errlen)) ? 0 : -1;
}

/* Reads up to n bytes; 0 at the end; -1 on an error (a cut-off gzip stream too). */
static long stream_read(Stream *s, unsigned char *p, size_t n, char *err, size_t errlen) {
  size_t got;
#ifdef NN2C_HAVE_ZLIB
  if (s->g) {
    int k = gzread(s->g, p, (unsigned)(n < (1u << 30) ? n : (1u << 30))), zerr;
    const char *msg = gz_reason(s->g, &zerr);
    if (k < 0 || (k == 0 && zerr != Z_OK))
      return nn2c_fail(err, errlen, "%s: gzip error: %s", s->path,
                       zerr == Z_BUF_ERROR ? "truncated (unexpected end of file)"
                       : zerr == Z_ERRNO   ? strerror(errno)
                                           : msg);
    return k;
  }
#endif
  got = fread(p, 1, n, s->f);
  if (got == 0 && ferror(s->f)) return nn2c_fail(err, errlen, "%s: read error: %s", s->path, strerror(errno));
  return (long)got;
}

static void stream_close(Stream *s) {
  if (s->f) fclose(s->f);
#ifdef NN2C_HAVE_ZLIB
  if (s->g) gzclose(s->g);
#endif
}

/* Hands every complete line of b[*start..b->n) to fn; *start moves past them. */
static int emit_lines(Buf *b, size_t *start, size_t *lineno, nn2c_line_fn fn, void *ctx) {
  unsigned char *nl;
  while ((nl = memchr(b->p + *start, '\n', b->n - *start)) != NULL) {
    int rc = fn(ctx, (char *)b->p + *start, (size_t)(nl - (b->p + *start)), ++*lineno);
    *start = (size_t)(nl - b->p) + 1;
    if (rc) return rc;
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
  if (resolve_path(path, used, usedlen, err, errlen) || stream_open(&s, used, err, errlen)) return -1;
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
    if (rc == 0) rc = emit_lines(&b, &start, &lineno, fn, ctx);
  }
  if (rc == 0 && start < b.n) /* a last line without '\n' */
    rc = fn(ctx, (char *)b.p + start, b.n - start, ++lineno);
  stream_close(&s);
  free(b.p);
  return rc ? -1 : 0;
}

int nn2c_read_file_plain(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen) {
  Buf b = {NULL, 0, 0};
  int rc = read_plain(path, &b, err, errlen);
  *data = NULL;
  *len = 0;
  if (rc == 0 && !b.p && !(b.p = malloc(1))) rc = nn2c_fail(err, errlen, "%s: out of memory", path);
  if (rc) {
    free(b.p);
    return -1;
  }
  *data = b.p;
  *len = b.n;
  return 0;
}

int nn2c_text_terminate(unsigned char **data, size_t len, char *err, size_t errlen) {
  unsigned char *p = len < SIZE_MAX ? realloc(*data, len + 1) : NULL;
  if (!p) {
    free(*data);
    *data = NULL;
    return nn2c_fail(err, errlen, "out of memory");
  }
  p[len] = '\0';
  *data = p;
  return 0;
}

/* ---- Datasets ----------------------------------------------------------- */

/* realloc to a smaller size; keeps the old block if the system declines. */
static void *shrink(void *p, size_t bytes) {
  void *q = p && bytes ? realloc(p, bytes) : NULL;
  return q ? q : p;
}

float nn2c_dataset_value(const nn2c_dataset *d, size_t i) {
  if (d->x) return d->x[i];
  return d->xi ? (float)d->xi[i] : (float)d->xb[i] / 255.0f;
}

void nn2c_dataset_get(const nn2c_dataset *d, size_t k, float *dst) {
  size_t n = (size_t)d->sample_numel, i;
  if (d->x) {
    memcpy(dst, d->x + k * n, n * sizeof(float));
    return;
  }
  if (d->xi) {
    for (i = 0; i < n; i++)
      dst[i] = (float)d->xi[k * n + i];
    return;
  }
  for (i = 0; i < n; i++)
    dst[i] = (float)d->xb[k * n + i] / 255.0f;
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

/* A copy of rows [from, from + count) of an array of rows of size bytes; NULL src stays NULL. */
static void *copy_rows(const void *src, size_t from, size_t count, size_t size, int *failed) {
  void *p;
  if (!src) return NULL;
  p = malloc(count * size + 1);
  if (!p) return *failed = 1, NULL;
  memcpy(p, (const char *)src + from * size, count * size);
  return p;
}

int nn2c_dataset_split_tail(nn2c_dataset *d, int count, nn2c_dataset *val, char *err, size_t errlen) {
  size_t from = (size_t)(d->n - count), k = (size_t)count, s = (size_t)d->sample_numel, l = (size_t)d->label_numel;
  int failed = 0;
  *val = *d;
  val->n = count;
  val->x = copy_rows(d->x, from, k, s * sizeof(float), &failed);
  val->xb = copy_rows(d->xb, from, k, s, &failed);
  val->xi = copy_rows(d->xi, from, k, s * sizeof(int32_t), &failed);
  val->yi = copy_rows(d->yi, from, k, sizeof(int32_t), &failed);
  val->yf = copy_rows(d->yf, from, k, l * sizeof(float), &failed);
  if (failed) {
    nn2c_dataset_free(val);
    return nn2c_fail(err, errlen, "out of memory for %d validation samples", count);
  }
  nn2c_dataset_truncate(d, d->n - count);
  return 0;
}

void nn2c_dataset_free(nn2c_dataset *d) {
  free(d->x);
  free(d->xb);
  free(d->xi);
  free(d->yi);
  free(d->yf);
  memset(d, 0, sizeof *d);
}

/* ---- Accuracy ----------------------------------------------------------- */

static int argmax(const float *v, int n) {
  int i, best = 0;
  for (i = 1; i < n; i++)
    if (v[i] > v[best]) best = i;
  return best;
}

int nn2c_count_correct(const float *out, int out_numel, const int32_t *yi, const float *yf, int label_numel,
                       int batch) {
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
