/* check.h - the minimal assertion helpers of the runtime tests. A failed
 * check prints file:line and the expression and exits 1. */
#ifndef CHECK_H
#define CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                     \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* CALL must fail (return nonzero) with an error message containing WANT. */
#define CHECK_ERR(call, err, want)                                                                 \
  do {                                                                                             \
    (err)[0] = '\0';                                                                               \
    if ((call) == 0 || !strstr((err), (want))) {                                                   \
      fprintf(stderr, "%s:%d: %s: wanted an error containing \"%s\", got \"%s\"\n", __FILE__,      \
              __LINE__, #call, (want), (err));                                                     \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* CALL must succeed; otherwise print its error message. */
#define CHECK_OK(call, err)                                                                        \
  do {                                                                                             \
    (err)[0] = '\0';                                                                               \
    if ((call) != 0) {                                                                             \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, (err));                 \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

static inline void write_bytes(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  CHECK(fwrite(p, 1, n, f) == n);
  CHECK(fclose(f) == 0);
}

#endif
