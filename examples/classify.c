/* classify.c - classifies a 28x28 digit with the trained MNIST CNN, from C.
 *   nn2c compile examples/mnist_cnn.nn -o out/cnn && make -C out/cnn        (the model alone)
 *   cc -std=c11 -O2 -Iout/cnn examples/classify.c out/cnn/libmnist_cnn.a -fopenmp -lm -o classify
 *   ./classify cnn.ckpt digit.pgm     (cnn.ckpt: mnist_cnn_train --save; a binary PGM, P5)
 * A model with batch normalization also fills a state block: NAME_init_state, NAME_load_checkpoint_state. */
#include <stdio.h>
#include <stdlib.h>

#include "mnist_cnn.h"

int main(int argc, char **argv) {
  static float params[mnist_cnn_PARAM_FLOATS], x[784], out[10];
  unsigned char pixels[784];
  mnist_cnn_Model m = {params, NULL, NULL, 1, 0, 0, 1};
  int w = 0, h = 0, max = 0, i, best = 0, rc;
  FILE *f;
  if (argc != 3) return fprintf(stderr, "usage: %s CHECKPOINT IMAGE.pgm\n", argv[0]), 2;
  if ((rc = mnist_cnn_load_checkpoint(params, argv[1])) != 0)
    return fprintf(stderr, "%s: %s\n", argv[1], mnist_cnn_checkpoint_error(rc)), 1;
  f = fopen(argv[2], "rb");
  if (!f || fscanf(f, "P5 %d %d %d", &w, &h, &max) != 3 || w != 28 || h != 28 || max != 255 || fgetc(f) == EOF ||
      fread(pixels, 1, 784, f) != 784)
    return fprintf(stderr, "%s: not a 28x28 8-bit binary PGM\n", argv[2]), 1;
  fclose(f);
  for (i = 0; i < 784; i++) /* pixels scaled as the trainer scales MNIST */
    x[i] = pixels[i] / 255.0f;
  m.arena = aligned_alloc(64, (mnist_cnn_arena_bytes(1) + 63) / 64 * 64);
  if (!m.arena || mnist_cnn_forward(&m, x, out, 1) != 0) return fprintf(stderr, "inference failed\n"), 1;
  for (i = 1; i < 10; i++)
    best = out[i] > out[best] ? i : best;
  printf("%d (p=%.3f)\n", best, out[best]);
  free(m.arena);
  return 0;
}
