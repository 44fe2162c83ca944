/* mpi_allreduce.c - the time of one MPI_Allreduce (sum of floats) by message size,
 * for checking docs/distributed.md's ring cost model on this machine:
 *
 *   mpicc -O2 bench/mpi_allreduce.c -o allreduce && mpirun -np N ./allreduce [ITERS]
 *
 * For each size (floats): ITERS timed calls after 5 untimed ones, all ranks in
 * step (a barrier before each call); rank 0 prints the median in microseconds:
 *   allreduce ranks=N floats=F bytes=B median_us=T */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  static const int sizes[] = {16, 4096, 93328, 122576, 1048576, 11689512};
  int rank, ranks, iters = argc > 1 ? atoi(argv[1]) : 40, s, i;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  if (iters < 1) iters = 40;
  for (s = 0; s < (int)(sizeof sizes / sizeof sizes[0]); s++) {
    float *buf = calloc((size_t)sizes[s], sizeof(float));
    double *t = calloc((size_t)iters, sizeof(double));
    if (!buf || !t) MPI_Abort(MPI_COMM_WORLD, 1);
    for (i = -5; i < iters; i++) {
      double t0;
      MPI_Barrier(MPI_COMM_WORLD);
      t0 = MPI_Wtime();
      MPI_Allreduce(MPI_IN_PLACE, buf, sizes[s], MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      if (i >= 0) t[i] = MPI_Wtime() - t0;
    }
    qsort(t, (size_t)iters, sizeof(double), by_value);
    if (rank == 0)
      printf("allreduce ranks=%d floats=%d bytes=%ld median_us=%.1f\n", ranks, sizes[s], 4L * sizes[s],
             t[iters / 2] * 1e6);
    free(buf);
    free(t);
  }
  MPI_Finalize();
  return 0;
}
