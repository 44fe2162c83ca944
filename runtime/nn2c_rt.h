/* nn2c_rt.h - the runtime library that nn2c-generated trainers link against.
 *
 * It holds everything a trainer needs that is not the model itself:
 *   - a small deterministic RNG (xoshiro256** seeded through splitmix64), so a
 *     seed gives the same shuffles on every platform;
 *   - a monotonic clock for progress and throughput;
 *   - data loaders (whole-file reads with transparent gzip, MNIST IDX files,
 *     CIFAR-10's binary version);
 *   - checkpoint save/load with atomic replace and a checksum;
 *   - nn2c_train_main, the generic training loop behind every NAME_train.
 *
 * Plain C99. Every function that can fail returns 0 on success or -1 with a
 * one-line message (naming the file involved) written into err[errlen]; the
 * library itself never prints and never exits, except nn2c_train_main, which
 * is a program's main and reports to stdout/stderr.
 */
#ifndef NN2C_RT_H
#define NN2C_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- RNG ---------------------------------------------------------------- */

/* xoshiro256** state. Seed it with nn2c_rng_seed; an all-zero state is never
 * produced by seeding. */
typedef struct {
  uint64_t s[4];
} nn2c_rng;

void nn2c_rng_seed(nn2c_rng *r, uint64_t seed);
uint64_t nn2c_rng_u64(nn2c_rng *r);
uint32_t nn2c_rng_u32(nn2c_rng *r);                  /* the high 32 bits of nn2c_rng_u64 */
uint32_t nn2c_rng_below(nn2c_rng *r, uint32_t n);    /* uniform in [0,n), unbiased; n > 0 */
double nn2c_rng_uniform(nn2c_rng *r);                /* [0,1) with 53 random bits */
void nn2c_shuffle(int32_t *idx, int n, nn2c_rng *r); /* Fisher-Yates, in place */

/* Monotonic seconds since an arbitrary origin; only differences mean anything. */
double nn2c_now(void);

/* ---- Files and datasets ------------------------------------------------- */

/* Reads a whole file into a malloc'd buffer (*data, free() it; never NULL on
 * success, even for an empty file). A gzip file (detected by its magic bytes)
 * is decompressed when the runtime was built with -DNN2C_HAVE_ZLIB and is an
 * error otherwise. If PATH does not exist, PATH.gz is tried, and for a PATH
 * ending in .gz, PATH without the suffix. */
int nn2c_read_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen);

/* An in-memory dataset: n samples, x row-major [n][sample_numel]. Exactly one
 * of yi (class ids, label_numel 1) and yf ([n][label_numel] float targets) is
 * set. num_classes is the number of classes for yi (0 for yf). */
typedef struct {
  int n, sample_numel;
  float *x;          /* float samples, or NULL when xb holds them */
  unsigned char *xb; /* 8-bit samples (image loaders): element = xb[i] / 255; 4x less memory */
  int32_t *yi;
  float *yf;
  int label_numel;
  int num_classes;
} nn2c_dataset;

/* Element i of the flattened samples, whichever way they are stored. */
float nn2c_dataset_value(const nn2c_dataset *d, size_t i);
/* Copies sample k (sample_numel floats) into dst. */
void nn2c_dataset_get(const nn2c_dataset *d, size_t k, float *dst);

/* Keeps only the first n samples and gives the memory of the rest back. */
void nn2c_dataset_truncate(nn2c_dataset *d, int n);

/* Frees x, xb, yi, yf and zeroes *d. Safe on a zeroed or already-freed dataset. */
void nn2c_dataset_free(nn2c_dataset *d);

/* Loads MNIST from the IDX files in DIR (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-...; each plain or .gz). split 0 = train
 * (60000), 1 = test (10000). Pixels become floats in [0,1] (v/255), samples
 * are 784 floats, labels int32 0..9. On error *out is left zeroed. */
int nn2c_load_mnist(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen);

/* Loads CIFAR-10's binary version from DIR: split 0 = train (data_batch_1.bin
 * .. data_batch_5.bin, 50000 samples), 1 = test (test_batch.bin, 10000); each
 * file plain or .gz. A file holds exactly 10000 records of 3073 bytes: a label
 * byte 0..9, then the 32x32 image as 1024 red, 1024 green and 1024 blue bytes
 * (each plane row-major). Samples come out as 3072 floats in NHWC order,
 * [32][32][3] (row, column, channel), scaled to [0,1] (v/255); labels int32.
 * On error *out is left zeroed. */
int nn2c_load_cifar10(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen);
/* Same, reading only the files that hold the first max samples (max <= 0: all). */
int nn2c_load_cifar10_max(const char *dir, int split, int max, nn2c_dataset *out, char *err,
                          size_t errlen);

/* Number of correct predictions in a batch. out is [batch][out_numel].
 *   yi set:                   argmax(out) == yi (for out_numel 1: (out>0.5) == (yi!=0))
 *   yf set, label_numel 1:    (out>0.5) == (yf>0.5)
 *   yf set, label_numel > 1:  argmax(out) == argmax(yf)
 * Ties in argmax go to the lowest index. */
int nn2c_count_correct(const float *out, int out_numel, const int32_t *yi, const float *yf,
                       int label_numel, int batch);

/* ---- Checkpoints -------------------------------------------------------- */

/* File format (all integers and floats little-endian):
 *   "NN2CCKPT" (8 bytes), u32 version (1), u32 nsections,
 *   per section: u32 name length, name bytes (no NUL), u64 count, count f32,
 *   u64 FNV-1a 64 hash of every byte before it.
 * Saving writes PATH.tmp.<pid>, flushes, fsyncs and renames it over PATH, so
 * PATH holds either the old or the new checkpoint, never a partial one.
 * Loading expects exactly the caller's sections, in the caller's order, with
 * the same names and counts, and fills their data. */
#define NN2C_CKPT_VERSION 1u

typedef struct {
  const char *name;
  float *data;
  uint64_t count; /* floats */
} nn2c_ckpt_section;

int nn2c_ckpt_save(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen);
int nn2c_ckpt_load(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen);

/* A u64 (the trainer's step counter) stored exactly in 4 floats, each holding
 * one 16-bit limb, least significant first. Floats hold integers up to 2^24
 * exactly, so this survives the float-only checkpoint format. */
void nn2c_u64_to_floats(uint64_t v, float f[4]);
uint64_t nn2c_floats_to_u64(const float f[4]); /* returns UINT64_MAX if f is not such an encoding */

/* ---- The generic trainer ------------------------------------------------ */

/* What a generated model tells the trainer. templates/train_main.c.in fills
 * this from the model's NAME.h; the trainer owns every allocation. The model
 * struct type differs per model, so the trainer allocates model_size bytes
 * and lets model_bind point its fields at the buffers. */
typedef struct {
  const char *name;    /* model name, a C identifier; the program is NAME_train */
  const char *dataset; /* "mnist", "cifar10" or "inline" */
  int in_numel, out_numel, label_numel, label_is_int;
  long param_floats, state_floats;
  int default_batch, default_epochs;
  float default_lr;
  uint64_t default_seed;

  size_t model_size; /* sizeof(NAME_Model) */
  /* Sets every field of the model struct at m: buffers, max batch, lr, step 0. */
  void (*model_bind)(void *m, float *params, float *state, unsigned char *arena, int max_batch,
                     float lr);
  uint64_t (*model_get_step)(const void *m);
  void (*model_set_step)(void *m, uint64_t step);

  size_t (*arena_bytes)(int batch);
  void (*init)(float *params, uint64_t seed);
  /* Optional: sets optimizer/normalization state to its initial values
   * (running variances start at one); NULL leaves the state zeroed. */
  void (*init_state)(float *state);
  int (*forward)(void *m, const float *x, float *out, int batch);
  int (*train_step)(void *m, const float *x, const void *y, int batch, float *loss, float *out);
  int (*evaluate)(void *m, const float *x, const void *y, int batch, float *loss, float *out);
  /* Optional: tells a model compiled with threads how many to use (1..256,
   * from --threads), once, after model_bind. NULL = the model is
   * single-threaded. */
  void (*set_threads)(void *m, int threads);

  /* dataset "inline": inline_n samples; inline_yi or inline_yf per label_is_int */
  int inline_n;
  const float *inline_x;
  const float *inline_yf;
  const int32_t *inline_yi;
} nn2c_model_desc;

/* Parses the NAME_train command line, loads data, trains, evaluates and
 * prints; see nn2c_train.c for the flags and output lines. Returns the
 * process exit status (0 ok, 1 error). */
int nn2c_train_main(int argc, char **argv, const nn2c_model_desc *d);

#ifdef __cplusplus
}
#endif

#endif /* NN2C_RT_H */
