/* imdb_dump DIR SPLIT NUM_WORDS MAXLEN - prints every review of an IMDB split
 * as nn2c encodes it ("label id id ..."), in file order, for
 * tests/runtime/imdb_ref.py to compare with a Python version of the rules. */
#include <stdio.h>
#include <stdlib.h>

#include "nn2c_rt.h"

int main(int argc, char **argv) {
  char err[1024];
  nn2c_dataset d;
  int i, j;
  if (argc != 5) {
    fprintf(stderr, "usage: imdb_dump DIR SPLIT NUM_WORDS MAXLEN\n");
    return 2;
  }
  if (nn2c_load_imdb(argv[1], atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), &d, err, sizeof err)) {
    fprintf(stderr, "imdb_dump: %s\n", err);
    return 1;
  }
  for (i = 0; i < d.n; i++) {
    printf("%d", d.yi[i]);
    for (j = 0; j < d.sample_numel; j++)
      printf(" %d", d.xi[(size_t)i * d.sample_numel + j]);
    putchar('\n');
  }
  nn2c_dataset_free(&d);
  return 0;
}
