/* embedded.h - runtime sources and templates compiled into the nn2c binary. */
#ifndef NN2C_EMBEDDED_H
#define NN2C_EMBEDDED_H

#include <stddef.h>

#include "../util.h"

typedef struct {
  const char *name; /* file name, e.g. "nn2c_rt.c" */
  const char *data; /* contents, NUL-terminated */
  size_t len;       /* bytes, excluding the NUL */
} EmbeddedFile;

extern const EmbeddedFile embedded_files[]; /* ends with a NULL name */

/* The embedded file of that name (an internal error if there is none). */
const EmbeddedFile *embedded(const char *name);

/* Appends the embedded template FILE (templates/FILE) to out with every
 * @NAME@ replaced by name (NULL: none expected). Lines starting with ## are
 * the template's own comments and are left out. */
void codegen_template(Buf *out, const char *file, const char *name);

#endif
