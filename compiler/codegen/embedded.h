/* embedded.h - runtime sources and templates compiled into the nn2c binary. */
#ifndef NN2C_EMBEDDED_H
#define NN2C_EMBEDDED_H

#include <stddef.h>

typedef struct {
  const char *name; /* file name, e.g. "nn2c_rt.c" */
  const char *data; /* contents, NUL-terminated */
  size_t len;       /* bytes, excluding the NUL */
} EmbeddedFile;

extern const EmbeddedFile embedded_files[]; /* ends with a NULL name */

/* The embedded file of that name (an internal error if there is none). */
const EmbeddedFile *embedded(const char *name);

#endif
