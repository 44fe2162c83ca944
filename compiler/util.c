/* util.c - see util.h. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void nn2c_assert_fail(const char *cond, const char *file, int line) {
  fprintf(stderr, "nn2c: internal error: %s:%d: assertion failed: %s\n", file, line, cond);
  abort();
}

static void out_of_memory(void) {
  fprintf(stderr, "nn2c: error: out of memory\n");
  exit(1);
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) out_of_memory();
  return p;
}

void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) out_of_memory();
  return p;
}

char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  return memcpy(xmalloc(n), s, n);
}

struct ArenaBlock {
  ArenaBlock *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

void *arena_alloc(Arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  ArenaBlock *b = a->head;
  if (!b || b->used + n > b->cap) {
    size_t cap = n > 65536 ? n : 65536;
    b = xmalloc(sizeof(ArenaBlock) + cap);
    b->next = a->head;
    b->used = 0;
    b->cap = cap;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  return memset(p, 0, n);
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
  char *p = arena_alloc(a, n + 1);
  if (n) memcpy(p, s, n); /* an empty protobuf string may have no data pointer */
  p[n] = 0;
  return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...) {
  Buf b = {0};
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  char *s = arena_strndup(a, b.data, b.len);
  buf_free(&b);
  return s;
}

void arena_free(Arena *a) {
  for (ArenaBlock *b = a->head, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  a->head = NULL;
}

/* Formats into the room left first, and again only when the text did not fit (measuring
 * every text before writing it doubled the cost of emitting C). */
void buf_vprintf(Buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  size_t room = b->cap - b->len;
  int n = vsnprintf(room ? b->data + b->len : NULL, room, fmt, ap2);
  va_end(ap2);
  NN2C_ASSERT(n >= 0);
  if ((size_t)n + 1 > room) {
    b->cap = (b->len + (size_t)n + 1) * 2;
    b->data = xrealloc(b->data, b->cap);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  }
  b->len += (size_t)n;
}

void buf_printf(Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void buf_puts(Buf *b, const char *s) {
  size_t n = strlen(s);
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->data = xrealloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, s, n + 1);
  b->len += n;
}

void buf_free(Buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void vec_push(Vec *v, void *p) {
  if (v->len == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 8;
    v->items = xrealloc(v->items, sizeof(void *) * (size_t)v->cap);
  }
  v->items[v->len++] = p;
}

void vec_free(Vec *v) {
  free(v->items);
  v->items = NULL;
  v->len = v->cap = 0;
}

static void print_source_line(Source *src, int line, int col) {
  const char *p = src->text;
  for (int l = 1; l < line && *p; p++)
    if (*p == '\n') l++;
  const char *end = strchr(p, '\n');
  int n = end ? (int)(end - p) : (int)strlen(p);
  fprintf(stderr, "%.*s\n", n, p);
  for (int i = 1; i < col; i++)
    fputc(p[i - 1] == '\t' ? '\t' : ' ', stderr);
  fprintf(stderr, "^\n");
}

void error_at(Source *src, int line, int col, const char *fmt, ...) {
  if (++src->nerrors > ERRORS_SHOWN) return; /* the rest is often fallout of the first ones */
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d:%d: error: ", src->path, line, col);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (src->text && line > 0) print_source_line(src, line, col);
}

void error_summary(const Source *src) {
  if (src->nerrors > ERRORS_SHOWN)
    fprintf(stderr, "nn2c: %d errors in '%s' (the first %d shown)\n", src->nerrors, src->path, ERRORS_SHOWN);
  else if (src->nerrors)
    fprintf(stderr, "nn2c: %d error%s in '%s'\n", src->nerrors, src->nerrors > 1 ? "s" : "", src->path);
}

void error_plain(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nn2c: error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

char *read_whole_file(const char *path, size_t *len) {
  /* Only regular files: a FIFO would block (O_NONBLOCK keeps the open itself from waiting)
   * and a device such as /dev/zero would never end. */
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  struct stat st;
  if (fd < 0) return NULL;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return NULL;
  }
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    close(fd);
    return NULL;
  }
  Buf b = {0};
  char chunk[65536];
  size_t n;
  buf_puts(&b, "");
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (b.len + n + 1 > b.cap) {
      b.cap = (b.len + n + 1) * 2;
      b.data = xrealloc(b.data, b.cap);
    }
    memcpy(b.data + b.len, chunk, n);
    b.len += n;
    b.data[b.len] = 0;
  }
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    buf_free(&b);
    return NULL;
  }
  if (len) *len = b.len;
  return b.data;
}

bool write_whole_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return false;
  bool ok = fwrite(data, 1, len, f) == len;
  ok = (fclose(f) == 0) && ok;
  return ok;
}

/* Writes path as a whole or not at all: the bytes go to a new temporary
 * file beside it (mkstemp: O_CREAT|O_EXCL, so a planted symlink is not
 * followed), which is renamed over path once complete and removed on every
 * error. path must be a regular file if it exists (not /dev/null, a FIFO or a
 * folder, which rename would replace or fail on); `what` says why in that error. */
bool write_file_atomic(const char *path, const void *bytes, size_t len, const char *what) {
  const uint8_t *data = bytes;
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    error_plain("%s: not a regular file (%s)", path, what);
    return false;
  }
  char *tmp = xmalloc(strlen(path) + 16);
  sprintf(tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp), err = errno;
  if (fd < 0) {
    error_plain("%s: cannot create a temporary file beside it: %s", path, strerror(err));
    free(tmp);
    return false;
  }
  mode_t mask = umask(0); /* mkstemp makes 0600: give the file the usual mode */
  umask(mask);
  bool ok = fchmod(fd, 0666 & ~mask) == 0;
  for (size_t done = 0; ok && done < len;) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) done += (size_t)w;
  }
  err = errno;
  ok = ok && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  ok = ok && rename(tmp, path) == 0;
  if (!ok) {
    error_plain("%s: cannot write it: %s", path, strerror(errno ? errno : err));
    unlink(tmp);
  }
  free(tmp);
  return ok;
}

int edit_distance(const char *a, const char *b) {
  size_t n = strlen(b);
  int *row = xmalloc(sizeof(int) * (n + 1));
  for (size_t j = 0; j <= n; j++)
    row[j] = (int)j;
  for (size_t i = 1; a[i - 1]; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= n; j++) {
      int up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  int d = row[n];
  free(row);
  return d;
}

const char *closest_word(const char *w, const char *const *words, int n) {
  const char *best = NULL;
  int best_d = 1 << 30;
  for (int i = 0; i < n; i++) {
    int d = edit_distance(w, words[i]);
    if (d < best_d) best = words[i], best_d = d;
  }
  return best && best_d <= 1 + (int)strlen(best) / 3 ? best : NULL;
}
