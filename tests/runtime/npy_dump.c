/* npy_dump.c - prints what the runtime reads from a .npy file, for
 * npy_numpy.py to compare with numpy: "KIND SIZE ORDER ndim d0 d1 ...", then
 * every element (C order) with 17 significant digits. On a refused file it
 * prints the runtime's message to stderr and exits 1. */
#include <stdio.h>
#include <stdlib.h>

#include "nn2c_rt.h"

int main(int argc, char **argv) {
  unsigned char *p;
  size_t len, i;
  char err[1024];
  nn2c_npy a;
  int k;
  if (argc != 2) return fprintf(stderr, "usage: npy_dump FILE.npy\n"), 2;
  if (nn2c_read_file_plain(argv[1], &p, &len, err, sizeof err) || nn2c_npy_parse(argv[1], p, len, &a, err, sizeof err))
    return fprintf(stderr, "%s\n", err), 1;
  printf("%c %d %s %d", a.kind, a.size, a.big_endian ? "big" : "little", a.ndim);
  for (k = 0; k < a.ndim; k++)
    printf(" %lld", (long long)a.dims[k]);
  putchar('\n');
  for (i = 0; i < a.count; i++)
    printf("%.17g\n", nn2c_npy_value(&a, i));
  free(p);
  return 0;
}
