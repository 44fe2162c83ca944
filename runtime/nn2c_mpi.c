/* nn2c_mpi.c - data-parallel training on MPI: the hooks of nn2c_dist.h.
 *
 * Built into a trainer by `make MPI=1` (with mpicc) in a folder emitted by
 * nn2c compile --train --mpi, and launched with mpirun -np N. Every rank loads
 * the same data, draws the same shuffle and starts from the same parameters
 * (the same seeded init, or rank 0's --load broadcast). Each step:
 *   1. rank r takes samples [bs * r / N, bs * (r + 1) / N) of the global batch
 *      of bs (nn2c_dist_slice) and computes its gradients with the model's
 *      NAME_train_grads;
 *   2. for a mean loss it scales them by its share local / bs, so their sum
 *      is the gradient of the global batch's mean; its loss x share and its
 *      count of correct predictions ride along at the end of the same buffer;
 *   3. the buffer is summed over the ranks in buckets: NAME_train_grads reports
 *      each parameter's gradient as the backward pass completes it, and once a
 *      run of adjacent gradients reaches the bucket size (or the next one is not
 *      adjacent) a non-blocking MPI_Iallreduce starts on it while backward goes
 *      on; the step waits for all of them before the update. Every rank starts
 *      the same buckets in the same order, and MPI sums each in a fixed order
 *      for a fixed rank count, so runs repeat bit for bit;
 *   4. every rank applies the same sum with NAME_train_apply, so parameters
 *      and optimizer state stay identical without ever being sent.
 * Running statistics (batch_norm's mean and variance, which NAME_train_grads
 * updates from the samples it sees) ride along too, weighted by the share of
 * samples, so every rank keeps their sample-weighted mean over the ranks (for
 * the running mean the global batch's; for the variance the mean of the
 * slices' variances, without the spread between slices).
 * Exact mode (NN2C_MPI_SLICES=S in rank 0's environment): the global batch is
 * cut into S fixed slices, slice s = samples [bs * s / S, bs * (s + 1) / S),
 * rank r owns slices [S * r / N, S * (r + 1) / N) and computes each alone;
 * the slices' gradients are added in slice order, the partial sum passed from
 * rank to rank (MPI_Send/MPI_Recv) and the last rank's total broadcast. The
 * additions then happen in the same order for every rank count, so 1, 2, 3
 * or 4 ranks with S = 12 give bit-identical parameters, at the price of
 * smaller model calls, one buffer of gradients per owned slice and a chain
 * instead of a ring (docs/distributed.md measures it).
 * Errors: a failing rank prints its message (named by its rank, see
 * nn2c_dist_start) and calls MPI_Abort, which ends every rank; mpirun also
 * ends the job when a rank dies. This file keeps the process's MPI state in
 * statics: there is one MPI world per process. */
#define _POSIX_C_SOURCE 200112L /* setenv */
#ifndef NN2C_MPI
#define NN2C_MPI /* this file is the MPI side of nn2c_dist.h */
#endif
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn2c_dist.h"

/* Defined by the folder's NAME_mpi.c: the model's split train step. */
extern const nn2c_split_step nn2c_model_split;

static int world_rank, world_size = 1;
static float *sum_buf; /* param_floats gradients, loss share, correct count, running statistics */
static long sum_len;
static int slices;        /* exact mode's S; 0: one MPI_Allreduce per step */
static float *slice_bufs; /* exact mode: one sum_len buffer per slice this rank owns */
static float *running0;   /* exact mode: the running statistics before the step */

/* The default mode's buckets (step 3 above): at least 256 KB, so a message
 * costs mostly bandwidth, and a sixteenth of the gradients, so a large model
 * pays the per-message latency about 16 times a step, not once per 256 KB. */
#define BUCKET_MIN_FLOATS (1L << 16)
#define MAX_REQUESTS 256 /* buckets in flight; more wait for the earlier ones first */

typedef struct {
  float *g, share; /* the sum buffer; the gradients' scale */
  long size;       /* floats that make a bucket full */
  long lo, hi;     /* the bucket being filled: floats [lo, hi) of g (empty when lo == hi) */
  MPI_Request req[MAX_REQUESTS];
  int nreq, failed;
} Buckets;

/* NN2C_MPI_SLICES from rank 0's environment (mpirun may not pass it to other hosts). */
static int read_slices(char *prog) {
  const char *v = world_rank == 0 ? getenv("NN2C_MPI_SLICES") : NULL;
  char *end = NULL;
  long s = v && *v ? strtol(v, &end, 10) : 0;
  int bad = v && *v && (*end || s < 0 || s > 4096);
  if (bad) fprintf(stderr, "%s: error: NN2C_MPI_SLICES: expected a number of slices 0..4096, got '%s'\n", prog, v);
  s = bad ? -1 : s;
  MPI_Bcast(&s, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  slices = (int)s;
  return s < 0;
}

int nn2c_dist_start(int *argc, char ***argv, char *prog, size_t progsize) {
  size_t n = strlen(prog);
  /* Open MPI spins while a rank waits for the others; on a machine with more
   * processes than cores that spinning takes the time the other ranks need.
   * Yielding costs nothing on idle cores. An explicit setting wins. */
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
  if (world_size > 1 && n < progsize) snprintf(prog + n, progsize - n, " (rank %d of %d)", world_rank, world_size);
  return read_slices(prog);
}

int nn2c_dist_finish(int rc) {
  free(sum_buf);
  free(slice_bufs);
  free(running0);
  sum_buf = slice_bufs = running0 = NULL;
  if (rc != 0 && world_size > 1) {
    fflush(stdout);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, rc); /* ends the other ranks, wherever they wait */
  }
  MPI_Finalize();
  return rc;
}

int nn2c_dist_rank(void) { return world_rank; }

/* The first of rank r's exact-mode slices (r = world_size: S). */
static int first_slice(int r) { return (int)((long long)slices * r / world_size); }

/* Start of slice s of n items. */
static int slice_start(int n, int s) { return (int)((long long)n * s / slices); }

void nn2c_dist_slice(int n, int *lo, int *hi) {
  if (slices > 0) { /* whole slices, so the batch's cuts do not depend on the rank count */
    *lo = slice_start(n, first_slice(world_rank));
    *hi = slice_start(n, first_slice(world_rank + 1));
    return;
  }
  *lo = (int)((long long)n * world_rank / world_size);
  *hi = (int)((long long)n * (world_rank + 1) / world_size);
}

int nn2c_dist_bcast(nn2c_ckpt_section *s, int n) {
  int i;
  for (i = 0; i < n; i++) {
    uint64_t done = 0;
    while (done < s[i].count) { /* MPI counts are ints */
      uint64_t part = s[i].count - done < (1u << 30) ? s[i].count - done : (1u << 30);
      if (MPI_Bcast(s[i].data + done, (int)part, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) return -1;
      done += part;
    }
  }
  return 0;
}

int nn2c_dist_sum(double *v, int n) {
  return MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS;
}

/* The sum buffer, allocated at the first step (the model's size is known then). */
static float *sum_buffer(const nn2c_model_desc *d) {
  if (!sum_buf) {
    int own = slices > 0 ? first_slice(world_rank + 1) - first_slice(world_rank) : 0;
    sum_len = d->param_floats + 2 + nn2c_model_split.running;
    if (sum_len > (1L << 30)) return NULL; /* one MPI_Allreduce takes an int count */
    sum_buf = calloc((size_t)sum_len, sizeof(float));
    if (own > 0 && !(slice_bufs = calloc((size_t)sum_len * (size_t)own, sizeof(float)))) return NULL;
    if (!(running0 = calloc((size_t)nn2c_model_split.running + 1, sizeof(float)))) return NULL;
  }
  return sum_buf;
}

/* Starts the sum of the bucket being filled. */
static void bucket_send(Buckets *b) {
  if (b->lo == b->hi) return;
  if (b->nreq == MAX_REQUESTS) {
    b->failed |= MPI_Waitall(b->nreq, b->req, MPI_STATUSES_IGNORE) != MPI_SUCCESS;
    b->nreq = 0;
  }
  b->failed |= MPI_Iallreduce(MPI_IN_PLACE, b->g + b->lo, (int)(b->hi - b->lo), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                              &b->req[b->nreq++]) != MPI_SUCCESS;
  b->lo = b->hi = 0;
}

/* NAME_train_grads's ready callback: floats [off, off + n) of the gradients are
 * final. Gradients arrive last layer first, i.e. from the end of the block
 * down; one joins the bucket when it ends where the bucket starts (or starts
 * where it ends), up to the 16-float alignment of the param block
 * (graph_block_layout), so no other parameter can lie in between. */
static void bucket_ready(void *ctx, long off, long n) {
  Buckets *b = (Buckets *)ctx;
  long i, end = (off + n + 15) / 16 * 16;
  int done;
  if (b->share != 1.0f)
    for (i = off; i < off + n; i++)
      b->g[i] *= b->share;
  if (b->lo < b->hi && end == b->lo)
    b->lo = off;
  else if (b->lo < b->hi && off == (b->hi + 15) / 16 * 16) /* a bias after its weights */
    b->hi = off + n;
  else
    bucket_send(b), b->lo = off, b->hi = off + n;
  if (b->hi - b->lo >= b->size) bucket_send(b);
  if (b->nreq) MPI_Testall(b->nreq, b->req, &done, MPI_STATUSES_IGNORE); /* lets MPI progress the sums */
}

/* Gradients (scaled by share), loss x share and correct count of one group of
 * samples into g[0..sum_len); zeros for an empty group. With buckets b, the
 * gradients are scaled and sent as they come (the caller waits for them). */
static int local_grads(const nn2c_model_desc *d, void *m, const float *x, const void *y, int n, int global, float *out,
                       float *g, Buckets *b) {
  const nn2c_split_step *s = &nn2c_model_split;
  float share = s->loss_is_sum ? 1.0f : (float)n / (float)global, l = 0;
  long i, np = d->param_floats;
  int rc;
  if (n == 0) return memset(g, 0, (size_t)sum_len * sizeof(float)), 0;
  if (b) b->g = g, b->share = share, b->lo = b->hi = 0, b->nreq = b->failed = 0;
  if (b) b->size = np / 16 > BUCKET_MIN_FLOATS ? np / 16 : BUCKET_MIN_FLOATS;
  if ((rc = s->grads(m, x, y, n, &l, out, g, b ? bucket_ready : NULL, b)) != 0) return rc;
  if (share != 1.0f && !b)
    for (i = 0; i < np; i++)
      g[i] *= share;
  g[np] = l * share;
  g[np + 1] = (float)nn2c_count_correct(out, d->out_numel, d->label_is_int ? (const int32_t *)y : NULL,
                                        d->label_is_int ? NULL : (const float *)y, d->label_numel, n);
  for (i = 0; i < s->running; i++) /* weighted by samples, whatever the loss */
    g[np + 2 + i] = s->state(m)[i] * ((float)n / (float)global);
  return 0;
}

/* Exact mode: this rank's slices one by one, then the ordered chain of sums. */
static int exact_sum(const nn2c_model_desc *d, void *m, const float *x, const void *y, int lo, int global, float *out) {
  int first = first_slice(world_rank), last = first_slice(world_rank + 1), k, rc;
  size_t nx = (size_t)d->in_numel, ny = (size_t)d->label_numel;
  long i, nr = nn2c_model_split.running;
  float *state = nn2c_model_split.state(m);
  memcpy(running0, state, (size_t)nr * sizeof(float));
  for (k = first; k < last; k++) {
    int a = slice_start(global, k) - lo, n = slice_start(global, k + 1) - slice_start(global, k);
    memcpy(state, running0, (size_t)nr * sizeof(float)); /* each slice starts from the step's statistics */
    const void *yk = (const float *)y + (size_t)a * ny;  /* int32_t and float labels are both 4 bytes */
    if ((rc = local_grads(d, m, x + (size_t)a * nx, yk, n, global, out, slice_bufs + (k - first) * sum_len, NULL)) != 0)
      return rc;
  }
  if (world_rank > 0 &&
      MPI_Recv(sum_buf, (int)sum_len, MPI_FLOAT, world_rank - 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
    return 3;
  if (world_rank == 0) memset(sum_buf, 0, (size_t)sum_len * sizeof(float));
  for (k = first; k < last; k++) /* left to right: the same additions for every rank count */
    for (i = 0; i < sum_len; i++)
      sum_buf[i] += slice_bufs[(k - first) * sum_len + i];
  if (world_rank + 1 < world_size &&
      MPI_Send(sum_buf, (int)sum_len, MPI_FLOAT, world_rank + 1, 1, MPI_COMM_WORLD) != MPI_SUCCESS)
    return 3;
  return MPI_Bcast(sum_buf, (int)sum_len, MPI_FLOAT, world_size - 1, MPI_COMM_WORLD) != MPI_SUCCESS ? 3 : 0;
}

int nn2c_dist_train_step(const nn2c_model_desc *d, void *m, const float *x, const void *y, int local, int global,
                         float *loss, float *out, long long *correct) {
  float *g = sum_buffer(d);
  long np = d->param_floats;
  int lo, hi, rc;
  if (!g) return 3;
  if (slices > 0) {
    nn2c_dist_slice(global, &lo, &hi);
    if ((rc = exact_sum(d, m, x, y, lo, global, out)) != 0) return rc;
  } else if (world_size == 1 || global < world_size) { /* a rank without samples has no buckets to match */
    if ((rc = local_grads(d, m, x, y, local, global, out, g, NULL)) != 0) return rc; /* zeros when local is 0 */
    if (world_size > 1 &&
        MPI_Allreduce(MPI_IN_PLACE, g, (int)sum_len, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
      return 3;
  } else {
    static Buckets b;
    if ((rc = local_grads(d, m, x, y, local, global, out, g, &b)) != 0) return rc;
    bucket_send(&b);
    b.lo = np, b.hi = sum_len; /* the loss, the count of correct predictions, the running statistics */
    bucket_send(&b);
    if (MPI_Waitall(b.nreq, b.req, MPI_STATUSES_IGNORE) != MPI_SUCCESS || b.failed) return 3;
  }
  *loss = g[np];
  *correct = (long long)g[np + 1];
  memcpy(nn2c_model_split.state(m), g + np + 2, (size_t)nn2c_model_split.running * sizeof(float));
  return nn2c_model_split.apply(m, g);
}
