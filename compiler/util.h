/* util.h - arena allocation, growable buffers, string building and diagnostics.
 * Everything the compiler allocates lives in an Arena owned by a Graph or a
 * pass; nothing is freed piece by piece. */
#ifndef NN2C_UTIL_H
#define NN2C_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Always-on assertion for internal bugs (never for user errors). */
#define NN2C_ASSERT(c) ((c) ? (void)0 : nn2c_assert_fail(#c, __FILE__, __LINE__))
void nn2c_assert_fail(const char *cond, const char *file, int line);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Bump allocator: blocks chained, freed all at once. */
typedef struct ArenaBlock ArenaBlock;
typedef struct {
  ArenaBlock *head; /* newest block */
} Arena;

void *arena_alloc(Arena *a, size_t n); /* zeroed, 16-byte aligned */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...);
void arena_free(Arena *a);

/* Growable byte buffer used to build text (IR printing, C emission). */
typedef struct {
  char *data; /* NUL-terminated contents */
  size_t len; /* bytes used, excluding the NUL */
  size_t cap; /* bytes allocated */
} Buf;

void buf_printf(Buf *b, const char *fmt, ...);
void buf_vprintf(Buf *b, const char *fmt, va_list ap);
void buf_puts(Buf *b, const char *s);
void buf_free(Buf *b);

/* Growable pointer vector. */
typedef struct {
  void **items;
  int len;
  int cap;
} Vec;

void vec_push(Vec *v, void *p);
void vec_free(Vec *v);

/* Diagnostics: a source file kept in memory so errors can quote the line. */
typedef struct {
  const char *path; /* as given by the user */
  const char *text; /* whole file, NUL-terminated */
  int nerrors;      /* errors found so far (only the first ERRORS_SHOWN are printed) */
} Source;

#define ERRORS_SHOWN 20 /* errors printed per file; past that they are only counted */

/* Prints "path:line:col: error: msg", the source line and a caret; counts it in src. */
void error_at(Source *src, int line, int col, const char *fmt, ...);
/* Prints the final count of src's errors ("nn2c: 3 errors in 'm.nn'"); nothing if none. */
void error_summary(const Source *src);
/* Prints "nn2c: error: msg" for errors without a location. */
void error_plain(const char *fmt, ...);

/* NULL on failure, with errno set (EISDIR for a directory, EINVAL for a FIFO, socket or device). */
char *read_whole_file(const char *path, size_t *len);
int edit_distance(const char *a, const char *b); /* insertions, deletions, substitutions */
/* The word of words[0..n) closest to w, if close enough to be a misspelling of it; else NULL. */
const char *closest_word(const char *w, const char *const *words, int n);
bool write_whole_file(const char *path, const char *data, size_t len);
/* Writes a file the user asked for whole or not at all (temp file + rename); false after an error. */
bool write_file_atomic(const char *path, const void *data, size_t len, const char *what);

#endif
