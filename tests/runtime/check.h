/* check.h - the minimal assertion helpers of the runtime tests. A failed
 * check prints file:line and the expression and exits 1. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                                    \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                                         \
      exit(1);                                                                                                         \
    }                                                                                                                  \
  } while (0)

/* CALL must fail (return nonzero) with an error message containing WANT. */
#define CHECK_ERR(call, err, want)                                                                                     \
  do {                                                                                                                 \
    (err)[0] = '\0';                                                                                                   \
    if ((call) == 0 || !strstr((err), (want))) {                                                                       \
      fprintf(stderr, "%s:%d: %s: wanted an error containing \"%s\", got \"%s\"\n", __FILE__, __LINE__, #call, (want), \
              (err));                                                                                                  \
      exit(1);                                                                                                         \
    }                                                                                                                  \
  } while (0)

/* CALL must succeed; otherwise print its error message. */
#define CHECK_OK(call, err)                                                                                            \
  do {                                                                                                                 \
    (err)[0] = '\0';                                                                                                   \
    if ((call) != 0) {                                                                                                 \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, (err));                                     \
      exit(1);                                                                                                         \
    }                                                                                                                  \
  } while (0)

/* DIR/NAME in one of 4 rotating buffers, so a call can take up to 4 paths. */
static inline const char *path_in(const char *dir, const char *name) {
  static char buf[4][4096];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 4096, "%s/%s", dir, name);
  return p;
}

static inline void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(p, 1, n, f) == n);
  CHECK(fclose(f) == 0);
}

#endif
