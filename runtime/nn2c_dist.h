/* nn2c_dist.h - the hooks through which nn2c_train.c runs data-parallel.
 *
 * A trainer built with -DNN2C_MPI (`make MPI=1` in a folder emitted with
 * nn2c compile --mpi) links nn2c_mpi.c, which implements these hooks on MPI:
 * N processes ("ranks") each take a contiguous slice of every batch, sum
 * their gradients and apply the same optimizer update (docs/distributed.md).
 * Without NN2C_MPI the hooks below are the single-process trainer: one rank
 * that holds every sample, and the model's fused train_step. */
#ifndef NN2C_DIST_H
#define NN2C_DIST_H

#include "nn2c_rt.h"

/* A model's train step in two halves (NAME_train_grads/_apply, see NAME.h),
 * defined by the folder's NAME_mpi.c. grads holds the model's param_floats. */
typedef struct {
  int (*grads)(void *m, const float *x, const void *y, int batch, float *loss, float *out, float *grads,
               void (*ready)(void *ctx, long offset, long count), void *ctx);
  int (*apply)(void *m, const float *grads);
  int loss_is_sum;          /* the loss (and so the gradient) sums over the batch instead of averaging */
  long running;             /* grads also updates state[0..running) (batch-norm running statistics) */
  float *(*state)(void *m); /* the model's state block */
} nn2c_split_step;

#ifdef NN2C_MPI
/* Starts MPI and appends " (rank R of N)" to prog when there are several ranks,
 * so every message names the rank that prints it. 0 = ok. */
int nn2c_dist_start(int *argc, char ***argv, char *prog, size_t progsize);
/* Ends the run: MPI_Finalize after success; after an error, MPI_Abort, which
 * stops every rank at once (never a hang). Returns rc. */
int nn2c_dist_finish(int rc);
int nn2c_dist_rank(void);
/* This rank's part [lo, hi) of n items: item i belongs to rank i * N / n
 * (floor), i.e. lo = n * rank / N, hi = n * (rank + 1) / N. */
void nn2c_dist_slice(int n, int *lo, int *hi);
/* Rank 0's copy of the sections goes to every rank. 0 = ok. */
int nn2c_dist_bcast(nn2c_ckpt_section *s, int n);
/* Sums v[0..n) over the ranks, in place. 0 = ok. */
int nn2c_dist_sum(double *v, int n);
/* One training step on a batch of `global` samples of which this rank holds
 * x, y (`local` of them, its slice). loss is the global batch's loss (its mean
 * or sum, like the model's own), *correct counts right predictions over the
 * global batch; out holds this rank's predictions. 0 = ok, else the model's
 * status. */
int nn2c_dist_train_step(const nn2c_model_desc *d, void *m, const float *x, const void *y, int local, int global,
                         float *loss, float *out, long long *correct);
#else
static inline int nn2c_dist_start(int *argc, char ***argv, char *prog, size_t progsize) {
  (void)argc, (void)argv, (void)prog, (void)progsize;
  return 0;
}
static inline int nn2c_dist_finish(int rc) { return rc; }
static inline int nn2c_dist_rank(void) { return 0; }
static inline void nn2c_dist_slice(int n, int *lo, int *hi) { *lo = 0, *hi = n; }
static inline int nn2c_dist_bcast(nn2c_ckpt_section *s, int n) { return (void)s, (void)n, 0; }
static inline int nn2c_dist_sum(double *v, int n) { return (void)v, (void)n, 0; }
static inline int nn2c_dist_train_step(const nn2c_model_desc *d, void *m, const float *x, const void *y, int local,
                                       int global, float *loss, float *out, long long *correct) {
  int rc = d->train_step(m, x, y, local, loss, out);
  (void)global;
  *correct = rc ? 0
                : nn2c_count_correct(out, d->out_numel, d->label_is_int ? (const int32_t *)y : NULL,
                                     d->label_is_int ? NULL : (const float *)y, d->label_numel, local);
  return rc;
}
#endif

#endif /* NN2C_DIST_H */
