/* fuzz_files.h - scratch files for the fuzz targets whose parser reads from a
 * path: fuzz_file() writes the input to a file in a private directory made
 * once per process (mkdtemp under TMPDIR or /tmp) and returns its path. The
 * directory and its files are removed at exit. Header-only: each target is
 * one translation unit. */
#ifndef FUZZ_FILES_H
#define FUZZ_FILES_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_path[4096];
static char fuzz_names[8][4096];
static int fuzz_nnames;

static inline void fuzz_cleanup(void) {
  for (int i = 0; i < fuzz_nnames; i++) unlink(fuzz_names[i]);
  if (fuzz_dir_path[0]) rmdir(fuzz_dir_path);
}

/* The private directory. */
static inline const char *fuzz_dir(void) {
  if (!fuzz_dir_path[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/nn2c-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fuzz_dir_path)) {
      perror("mkdtemp");
      abort();
    }
    atexit(fuzz_cleanup);
  }
  return fuzz_dir_path;
}

/* Writes data[0..size) to DIR/name (replacing it) and returns the path. */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
  int known = 0;
  for (int i = 0; i < fuzz_nnames; i++) known |= !strcmp(fuzz_names[i], path);
  if (!known && fuzz_nnames < 8) snprintf(fuzz_names[fuzz_nnames++], sizeof fuzz_names[0], "%s", path);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
    perror(path);
    abort();
  }
  return path;
}

#endif
