/* fuzz_files.h - scratch files for the fuzz targets whose parser reads from a
 * path: fuzz_file() writes the input to a file in a private directory made
 * once per process (mkdtemp under TMPDIR, else /dev/shm, which keeps the
 * file writes off the disk, else /tmp) and returns its path. The
 * directory and every file in it are removed at exit. Header-only: each target is
 * one translation unit. */
#ifndef FUZZ_FILES_H
#define FUZZ_FILES_H
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_path[4096];

/* Removes the directory and every file in it (the targets make no subfolders). */
static inline void fuzz_cleanup(void) {
  DIR *d = opendir(fuzz_dir_path);
  struct dirent *e;
  char path[8192];
  while (d && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
      snprintf(path, sizeof path, "%s/%s", fuzz_dir_path, e->d_name);
      unlink(path);
    }
  if (d) closedir(d);
  rmdir(fuzz_dir_path);
}

/* The private directory. */
static inline const char *fuzz_dir(void) {
  if (!fuzz_dir_path[0]) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/nn2c-fuzz-XXXXXX", tmp);
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
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
    perror(path);
    abort();
  }
  return path;
}

#endif
