/* nn2c_ckpt.c - checkpoints: save with a checksum and an atomic replace,
 * load with every byte checked before the caller's buffers are touched
 * (format in nn2c_rt.h); and the u64 <-> 4 floats encoding of the step.
 *
 * C99 plus POSIX (fsync, getpid, mkstemp, opendir, kill).
 */
#define _POSIX_C_SOURCE 200809L

#include "nn2c_rt.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
  if (w->n && fwrite(w->buf, 1, w->n, w->f) != w->n) w->failed = 1;
  w->n = 0;
}

static void cw_bytes(CkptWriter *w, const void *p, size_t n) {
  const unsigned char *c = p;
  w->hash = fnv1a(w->hash, c, n);
  while (n > 0) {
    size_t k = sizeof w->buf - w->n;
    if (k > n) k = n;
    memcpy(w->buf + w->n, c, k);
    w->n += k;
    c += k;
    n -= k;
    if (w->n == sizeof w->buf) cw_flush(w);
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

/* loading: a section may be NN2C_CKPT_ANY_COUNT (skipped); a save needs every count. */
static int ckpt_check_sections(const char *path, const nn2c_ckpt_section *s, int n, int loading, char *err,
                               size_t errlen) {
  int i;
  if (n < 0) return nn2c_fail(err, errlen, "%s: negative section count %d", path, n);
  for (i = 0; i < n; i++) {
    if (!s[i].name || strlen(s[i].name) > 65535)
      return nn2c_fail(err, errlen, "%s: section %d has no name or a name too long", path, i);
    if (s[i].count > 0 && !s[i].data && !(loading && s[i].count == NN2C_CKPT_ANY_COUNT))
      return nn2c_fail(err, errlen, "%s: section '%s' has no data", path, s[i].name);
  }
  return 0;
}

/* Temp files are PATH.tmp.<pid>.XXXXXX: made by mkstemp (O_CREAT|O_EXCL, so a
 * planted file or symlink is never followed) beside PATH, so the rename stays
 * on one file system. */
#define CKPT_TMP_SUFFIX ".tmp."

/* Removes the temp files of PATH that a killed save left behind: those whose
 * pid no longer runs. A temp of a live process (another save in progress) is
 * left alone. Best effort: errors are ignored. */
static void ckpt_remove_stale(const char *path) {
  char dir[4096], stale[4096];
  const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
  size_t nbase = strlen(base);
  struct dirent *e;
  DIR *d;
  if ((size_t)snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path + (slash == path)) : 1,
                       slash ? path : ".") >= sizeof dir ||
      !(d = opendir(dir)))
    return;
  while ((e = readdir(d)) != NULL) {
    const char *p = e->d_name + nbase + strlen(CKPT_TMP_SUFFIX);
    char *end;
    long pid;
    if (strncmp(e->d_name, base, nbase) != 0 || strncmp(e->d_name + nbase, CKPT_TMP_SUFFIX, strlen(CKPT_TMP_SUFFIX)))
      continue;
    pid = strtol(p, &end, 10);
    if (end == p || *end != '.' || strlen(end + 1) != 6 || pid <= 0 || pid == (long)getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* running, or not ours to ask about */
    if ((size_t)snprintf(stale, sizeof stale, "%s/%s", dir, e->d_name) < sizeof stale) remove(stale);
  }
  closedir(d);
}

/* Creates the temp file beside path, readable as a plain fopen would leave it. */
static FILE *ckpt_create_tmp(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen) {
  mode_t mask = umask(0);
  FILE *f;
  int fd, e;
  umask(mask);
  if ((size_t)snprintf(tmp, tmplen, "%s" CKPT_TMP_SUFFIX "%ld.XXXXXX", path, (long)getpid()) >= tmplen) {
    nn2c_fail(err, errlen, "%s: path too long", path);
    return NULL;
  }
  fd = mkstemp(tmp);
  if (fd < 0) {
    e = errno;
    nn2c_fail(err, errlen, "%s: cannot create temporary file %s: %s", path, tmp, strerror(e));
    return NULL;
  }
  if (fchmod(fd, 0666 & ~mask) != 0 || !(f = fdopen(fd, "wb"))) {
    e = errno;
    close(fd);
    remove(tmp);
    nn2c_fail(err, errlen, "%s: cannot open temporary file %s: %s", path, tmp, strerror(e));
    return NULL;
  }
  return f;
}

int nn2c_ckpt_check_target(const char *path, char *err, size_t errlen) {
  struct stat st;
  char dir[4096];
  const char *slash = strrchr(path, '/');
  int n = slash ? (int)(slash - path) + 1 : 1; /* "a/b" -> "a/", "/b" -> "/", "b" -> "." */
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return nn2c_fail(err, errlen, "%s: not a regular file (a device, FIFO or directory); refusing to replace it", path);
  /* checked before training, so a long run does not end in a save that cannot be made */
  snprintf(dir, sizeof dir, "%.*s", n, slash ? path : ".");
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return nn2c_fail(err, errlen, "%s: the folder %s does not exist", path, dir);
  return 0;
}

int nn2c_ckpt_save(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen) {
  char tmp[4096];
  CkptWriter *w;
  int e = 0, closed;
  if (ckpt_check_sections(path, s, n, 0, err, errlen) || nn2c_ckpt_check_target(path, err, errlen)) return -1;
  w = calloc(1, sizeof *w);
  if (!w) return nn2c_fail(err, errlen, "%s: out of memory", path);
  w->hash = FNV_OFFSET;
  w->f = ckpt_create_tmp(path, tmp, sizeof tmp, err, errlen);
  if (!w->f) {
    free(w);
    return -1;
  }
  ckpt_write_body(w, s, n);
  /* fsync before rename: otherwise a crash could leave the new name on
   * not-yet-written data, which is exactly what the temp file avoids. */
  if (w->failed || fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) e = errno ? errno : EIO;
  closed = fclose(w->f);
  if (!e && closed != 0) e = errno;
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
  ckpt_remove_stale(path);
  return 0;
}

int nn2c_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen) {
  char tmp[4096];
  FILE *f;
  int e = 0, closed;
  if (nn2c_ckpt_check_target(path, err, errlen) || !(f = ckpt_create_tmp(path, tmp, sizeof tmp, err, errlen)))
    return -1;
  if ((len && fwrite(data, 1, len, f) != len) || fflush(f) != 0 || fsync(fileno(f)) != 0) e = errno ? errno : EIO;
  closed = fclose(f);
  if (!e && closed != 0) e = errno;
  if (!e && rename(tmp, path) != 0) e = errno;
  if (e) {
    remove(tmp);
    return nn2c_fail(err, errlen, "%s: writing it (through %s) failed: %s", path, tmp, strerror(e));
  }
  ckpt_remove_stale(path);
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
    if (len < pos + 4) return *need = pos + 4, -1;
    pos += 4 + get_le(p + pos, 4);
    if (len < pos + 8) return *need = pos + 8, -1;
    count = get_le(p + pos, 8);
    pos += 8;
    if (count > (len - pos) / 4) /* shown only; saturated where it would wrap */
      return *need = count > (UINT64_MAX - pos) / 4 ? UINT64_MAX : pos + 4 * count, -1;
    pos += 4 * count;
  }
  *need = pos + 8;
  return len < pos + 8 ? -1 : 0;
}

/* Compares the file's sections with the expected ones (the first `required`
 * of s, then as many more as the file holds); with copy set, also copies the
 * data. Run once without copy first so a mismatch in a later section leaves
 * the caller's buffers untouched. */
static int ckpt_match(const char *path, const unsigned char *p, const nn2c_ckpt_section *s, int n, int required,
                      int copy, char *err, size_t errlen) {
  uint32_t nsec = (uint32_t)get_le(p + 12, 4);
  size_t pos = 16;
  int i;
  if (nsec < (uint32_t)required || nsec > (uint32_t)n)
    return required == n
               ? nn2c_fail(err, errlen, "%s: has %lu sections but %d were expected", path, (unsigned long)nsec, n)
               : nn2c_fail(err, errlen, "%s: has %lu sections but %d to %d were expected", path, (unsigned long)nsec,
                           required, n);
  for (i = 0; i < (int)nsec; i++) {
    size_t nlen = (size_t)get_le(p + pos, 4), want = strlen(s[i].name);
    uint64_t count, k;
    const char *name = (const char *)p + pos + 4;
    if (nlen != want || memcmp(name, s[i].name, want) != 0)
      return nn2c_fail(err, errlen, "%s: section %d is named '%.*s' but '%s' was expected", path, i,
                       (int)(nlen > 200 ? 200 : nlen), name, s[i].name);
    pos += 4 + nlen;
    count = get_le(p + pos, 8);
    pos += 8;
    if (count != s[i].count && s[i].count != NN2C_CKPT_ANY_COUNT)
      return nn2c_fail(err, errlen, "%s: section '%s' holds %llu floats but %llu were expected", path, s[i].name,
                       (unsigned long long)count, (unsigned long long)s[i].count);
    for (k = 0; copy && s[i].data && k < count; k++) {
      uint32_t bits = (uint32_t)get_le(p + pos + 4 * k, 4);
      memcpy(&s[i].data[k], &bits, 4);
    }
    pos += 4 * (size_t)count;
  }
  return 0;
}

static int ckpt_parse(const char *path, const unsigned char *p, size_t len, const nn2c_ckpt_section *s, int n,
                      int required, char *err, size_t errlen) {
  uint64_t need, stored;
  uint32_t version;
  if (len == 0) return nn2c_fail(err, errlen, "%s: empty file, not an nn2c checkpoint", path);
  if (memcmp(p, ckpt_magic, len < 8 ? len : 8) != 0)
    return nn2c_fail(err, errlen, "%s: bad magic, not an nn2c checkpoint", path);
  if (len < 16)
    return nn2c_fail(err, errlen, "%s: truncated: %lu bytes, the header alone needs 16", path, (unsigned long)len);
  version = (uint32_t)get_le(p + 8, 4);
  if (version != NN2C_CKPT_VERSION)
    return nn2c_fail(err, errlen, "%s: unsupported checkpoint version %lu (this runtime reads %u)", path,
                     (unsigned long)version, NN2C_CKPT_VERSION);
  if (ckpt_walk(p, len, &need))
    return nn2c_fail(err, errlen, "%s: truncated: %lu bytes, expected at least %llu", path, (unsigned long)len,
                     (unsigned long long)need);
  if (len > need)
    return nn2c_fail(err, errlen, "%s: %lu unexpected bytes after the checksum", path, (unsigned long)(len - need));
  stored = get_le(p + len - 8, 8);
  if (stored != fnv1a(FNV_OFFSET, p, len - 8))
    return nn2c_fail(err, errlen, "%s: checksum mismatch: the file is corrupted", path);
  if (ckpt_match(path, p, s, n, required, 0, err, errlen)) return -1;
  return ckpt_match(path, p, s, n, required, 1, err, errlen);
}

int nn2c_ckpt_load_opt(const char *path, const nn2c_ckpt_section *s, int n, int required, int *found, char *err,
                       size_t errlen) {
  unsigned char *p;
  size_t len;
  int rc;
  if (required < 0 || required > n) return nn2c_fail(err, errlen, "%s: %d of %d sections required", path, required, n);
  if (ckpt_check_sections(path, s, n, 1, err, errlen)) return -1;
  if (nn2c_read_file_plain(path, &p, &len, err, errlen)) return -1;
  rc = ckpt_parse(path, p, len, s, n, required, err, errlen);
  if (!rc && found) *found = (int)get_le(p + 12, 4);
  free(p);
  return rc;
}

int nn2c_ckpt_load(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen) {
  return nn2c_ckpt_load_opt(path, s, n, n, NULL, err, errlen);
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
    if (!(f[i] >= 0.0f && f[i] <= 65535.0f) || f[i] != (float)(uint32_t)f[i]) return UINT64_MAX;
    v = v << 16 | (uint64_t)(uint32_t)f[i];
  }
  return v;
}
