/* nn2c_rt.h - the runtime library that nn2c-generated trainers link against.
 *
 * It holds everything a trainer needs that is not the model itself:
 *   - a small deterministic RNG (xoshiro256** seeded through splitmix64), so a
 *     seed gives the same shuffles on every platform (nn2c_rng.c);
 *   - a monotonic clock for progress and throughput, whole-file and
 *     line-by-line reads with transparent gzip, in-memory datasets and
 *     accuracy (nn2c_rt.c);
 *   - data loaders: MNIST IDX files and CIFAR-10's binary version
 *     (nn2c_images.c), random data (nn2c_data.c), IMDB reviews tokenized with
 *     the Keras word index (nn2c_text.c), Speech Commands clips as log-mel
 *     spectrograms (nn2c_audio.c);
 *   - checkpoint save/load with atomic replace and a checksum (nn2c_ckpt.c);
 *   - your own data: NumPy .npy files (nn2c_npy.c) and CSV files (nn2c_csv.c);
 *   - the --metrics file, CSV or JSON Lines (nn2c_metrics.c);
 *   - callbacks: learning-rate schedules and the watched metric behind early
 *     stopping and best checkpoints (nn2c_callbacks.c);
 *   - nn2c_train_main, the generic training loop behind every NAME_train
 *     (nn2c_train.c).
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

/* ---- RNG (nn2c_rng.c) --------------------------------------------------- */

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

/* ---- Files and datasets (nn2c_rt.c; image loaders in nn2c_images.c) ---- */

/* Reads a whole file into a malloc'd buffer (*data, free() it; never NULL on
 * success, even for an empty file). A gzip file (detected by its magic bytes)
 * is decompressed when the runtime was built with -DNN2C_HAVE_ZLIB and is an
 * error otherwise. If PATH does not exist, PATH.gz is tried, and for a PATH
 * ending in .gz, PATH without the suffix. */
int nn2c_read_file(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen);
/* Same, and writes the path actually read (PATH or its .gz twin) into used. */
int nn2c_read_file_as(const char *path, unsigned char **data, size_t *len, char *used, size_t usedlen, char *err,
                      size_t errlen);
/* Makes *data (from the readers above, len bytes) one byte longer and ends it
 * with a NUL, so text parsers may cut lines in place; frees it on failure. */
int nn2c_text_terminate(unsigned char **data, size_t len, char *err, size_t errlen);
/* Reads PATH's bytes as they are: no gzip, no .gz twin (checkpoints). */
int nn2c_read_file_plain(const char *path, unsigned char **data, size_t *len, char *err, size_t errlen);

/* Calls fn(ctx, line, len, lineno) for every line of PATH (plain or gzip,
 * with the same .gz twin rule as nn2c_read_file; line excludes the '\n' and
 * is not NUL-terminated; lineno counts from 1), reading 1 MB at a time, so a
 * large text file never sits in memory whole. A nonzero return from fn stops
 * the reading (fn then writes its own message into err). */
typedef int (*nn2c_line_fn)(void *ctx, char *line, size_t len, size_t lineno);
int nn2c_read_lines(const char *path, nn2c_line_fn fn, void *ctx, char *used, size_t usedlen, char *err, size_t errlen);

/* Formats a message into err[errlen] (err may be NULL) and returns -1: the
 * runtime's way to fail. */
int nn2c_fail(char *err, size_t errlen, const char *fmt, ...);

/* An in-memory dataset: n samples, x row-major [n][sample_numel]. Exactly one
 * of yi (class ids, label_numel 1) and yf ([n][label_numel] float targets) is
 * set. num_classes is the number of classes for yi (0 for yf). */
typedef struct {
  int n, sample_numel;
  float *x;          /* float samples, or NULL when xb holds them */
  unsigned char *xb; /* 8-bit samples (image loaders): element = xb[i] / 255; 4x less memory */
  int32_t *xi;       /* integer samples (token ids): element = (float)xi[i] */
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

/* Reorders the samples by a permutation drawn from seed (same seed, same
 * order). Loaders of files sorted by class use it so --limit-* keep a mix. */
int nn2c_dataset_shuffle(nn2c_dataset *d, uint64_t seed, char *err, size_t errlen);

/* Frees x, xb, xi, yi, yf and zeroes *d. Safe on a zeroed or already-freed dataset. */
void nn2c_dataset_free(nn2c_dataset *d);

/* Loads MNIST from the IDX files in DIR (train-images-idx3-ubyte,
 * train-labels-idx1-ubyte, t10k-...; each plain or .gz). split 0 = train
 * (60000), 1 = test (10000). Pixels become floats in [0,1] (v/255), samples
 * are 784 floats, labels int32 0..9. On error *out is left zeroed. */
int nn2c_load_mnist(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen);
/* Same, for a model that takes rows x cols images: a file of another image
 * size is an error naming it and both sizes (rows 0: any size, as above). */
int nn2c_load_mnist_sized(const char *dir, int split, int rows, int cols, nn2c_dataset *out, char *err, size_t errlen);

/* Loads CIFAR-10's binary version from DIR: split 0 = train (data_batch_1.bin
 * .. data_batch_5.bin, 50000 samples), 1 = test (test_batch.bin, 10000); each
 * file plain or .gz. A file holds exactly 10000 records of 3073 bytes: a label
 * byte 0..9, then the 32x32 image as 1024 red, 1024 green and 1024 blue bytes
 * (each plane row-major). Samples come out as 3072 floats in NHWC order,
 * [32][32][3] (row, column, channel), scaled to [0,1] (v/255); labels int32.
 * On error *out is left zeroed. */
int nn2c_load_cifar10(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen);
/* Same, reading only the files that hold the first max samples (max <= 0: all). */
int nn2c_load_cifar10_max(const char *dir, int split, int max, nn2c_dataset *out, char *err, size_t errlen);

/* ---- Data sets named in a model's train section (nn2c_data.c) ---------- */

/* Log-mel spectrogram settings (speech_commands). A clip is 1 s at 16 kHz
 * (16000 samples, shorter clips padded with zeros, longer ones cut). Frame t
 * covers samples [t*hop, t*hop+window) (zeros past the clip's end), is
 * weighted by a periodic Hann window, zero-padded to n_fft and transformed;
 * the power spectrum |X|^2 goes through n_mels triangular filters on the HTK
 * mel scale (mel = 2595 log10(1 + f/700)) between fmin and fmax with peak 1
 * (librosa's htk=True, norm=None), then log(power + 1e-6). The result is
 * [n_mels][frames] (mels are rows, frames columns: input shape
 * n_mels x frames x 1). normalize=1 scales each clip's features to mean 0 and
 * standard deviation 1. Samples are read as v / 32768. */
typedef struct {
  int n_mels, frames, window, hop, n_fft, fmin, fmax, normalize;
} nn2c_logmel_opts;

/* A train section's `dataset NAME key=value ...` line. Options are integers:
 *   random           samples=1000 classes=C (default: the model's outputs, 2
 *                    for a single output), optional seq= features= (checked
 *                    against the model input: seq*features = its size)
 *   imdb             num_words=10000 maxlen=100
 *   speech_commands  n_mels=20 frames=80 window=400 hop=200 n_fft=512 (the
 *                    smallest power of two >= window) fmin=0 fmax=8000
 *                    normalize=1
 *   mnist, cifar10, inline: none
 * Defaults are the values shown. */
typedef struct {
  char name[32];
  int samples, classes, seq, features; /* random (0 = not given) */
  int num_words, maxlen;               /* imdb */
  nn2c_logmel_opts mel;                /* speech_commands */
} nn2c_data_spec;

/* Parses NAME and OPTIONS ("key=value" words separated by spaces; NULL or ""
 * for none) and checks every value. */
int nn2c_data_spec_parse(const char *name, const char *options, nn2c_data_spec *s, char *err, size_t errlen);
/* Checks that a model with in_numel inputs per sample, out_numel outputs and
 * the given labels can train on the spec's data (classes known up front),
 * and sets random's default classes from the model. */
int nn2c_data_spec_fit(nn2c_data_spec *s, int in_numel, int out_numel, int label_numel, int label_is_int, char *err,
                       size_t errlen);
/* Checks that class labels 0..classes-1 suit a model's output and labels:
 * int labels with classes outputs (or 1 sigmoid output and 2 classes),
 * 1 float label and 2 classes (targets 0/1), or classes floats (one-hot). */
int nn2c_labels_fit(int classes, int out_numel, int label_numel, int label_is_int, char *err, size_t errlen);
/* Turns the class ids yi of d into the labels a model takes (see
 * nn2c_labels_fit): kept for int labels, else floats (0/1 or one-hot). */
int nn2c_dataset_labels_as(nn2c_dataset *d, int label_numel, int label_is_int, char *err, size_t errlen);
/* n samples of sample_numel floats uniform in [0,1) and class ids uniform in
 * [0,classes), all drawn from one xoshiro256** stream seeded with seed:
 * sample by sample, its floats (nn2c_rng_uniform) then its class
 * (nn2c_rng_below). */
int nn2c_load_random(int n, int sample_numel, int classes, uint64_t seed, nn2c_dataset *out, char *err, size_t errlen);
/* The trainer's `dataset random`: samples training samples drawn with seed
 * --seed ^ NN2C_RANDOM_TRAIN_SEED and max(1, samples/5) test samples with
 * --seed ^ NN2C_RANDOM_TEST_SEED (so the data differs from the stream the
 * model's init draws from the same seed). */
#define NN2C_RANDOM_TRAIN_SEED 0x6A09E667F3BCC908ull
#define NN2C_RANDOM_TEST_SEED 0xBB67AE8584CAA73Bull

/* ---- Your own data: .npy (nn2c_npy.c) and CSV (nn2c_csv.c) ------------ */

/* What a data set must fit: the model's input and labels. */
typedef struct {
  const char *name;     /* the model, for messages */
  const char *in_shape; /* its input's shape per sample, "28x28x1" (NULL: not known) */
  int in_numel, out_numel, label_numel, label_is_int;
} nn2c_model_io;

#define NN2C_NPY_MAX_DIMS 8
/* A parsed .npy array; data points into the caller's buffer. */
typedef struct {
  char kind;      /* 'b' bool, 'i' signed, 'u' unsigned integer, 'f' float */
  int size;       /* bytes per element: 1, 2, 4 or 8 */
  int big_endian; /* '>' in the dtype */
  int ndim;
  int64_t dims[NN2C_NPY_MAX_DIMS];
  size_t count; /* elements */
  const unsigned char *data;
} nn2c_npy;

/* Parses a .npy file held in p[0..len) (format in nn2c_npy.c); name is used in messages. */
int nn2c_npy_parse(const char *name, const unsigned char *p, size_t len, nn2c_npy *a, char *err, size_t errlen);
/* Element i (C order) as a double. */
double nn2c_npy_value(const nn2c_npy *a, size_t i);
/* Samples from XPATH (shape (n, ...), any accepted dtype, values taken as
 * they are: scale them yourself, as for Keras) and labels from YPATH (n
 * values or (n, k)): class ids 0..C-1 (integers, or integral floats) for a
 * model with int labels or one-hot float labels, float targets otherwise. The
 * values per sample must match the model's, else an error names both. */
int nn2c_load_npy(const char *xpath, const char *ypath, const nn2c_model_io *io, nn2c_dataset *out, char *err,
                  size_t errlen);
/* Samples from a CSV file of numbers (format in nn2c_csv.c); label_col is a
 * column number from 0 or a header name (NULL: the last column). */
int nn2c_load_csv(const char *path, const char *label_col, const nn2c_model_io *io, nn2c_dataset *out, char *err,
                  size_t errlen);
/* Sets d's labels (d->n samples, k values each, value i = get(src, i)) as
 * nn2c_load_npy describes; name is the file, for messages. */
int nn2c_labels_from(nn2c_dataset *d, const char *name, double (*get)(const void *src, size_t i), const void *src,
                     int k, const nn2c_model_io *io, char *err, size_t errlen);
/* Moves the last count samples of d into val (Keras's validation_split). */
int nn2c_dataset_split_tail(nn2c_dataset *d, int count, nn2c_dataset *val, char *err, size_t errlen);

/* ---- IMDB reviews (nn2c_text.c) ----------------------------------------- */

/* A word -> rank map read from a JSON object of string keys and positive
 * integer values (Keras's imdb_word_index.json). */
typedef struct {
  uint32_t hash;    /* of the key's bytes */
  int32_t key, len; /* the key: keys + key, len bytes; key -1 = empty slot */
  int32_t rank;
} nn2c_word_slot;

typedef struct {
  char *keys;            /* every key, NUL-terminated, one after another */
  nn2c_word_slot *slots; /* open addressing with linear probing, at most half full */
  uint32_t mask;         /* number of slots - 1 (a power of two) */
  int count;             /* number of words */
  int max_len;           /* longest key in bytes: longer tokens cannot be words */
} nn2c_word_index;

/* Parses json[0..len); name is used in messages ("NAME: byte 12: ..."). */
int nn2c_word_index_parse(const char *name, const char *json, size_t len, nn2c_word_index *wi, char *err,
                          size_t errlen);
int nn2c_word_index_load(const char *path, nn2c_word_index *wi, char *err, size_t errlen);
/* The rank of word[0..n), or 0 when it is not in the index. */
int nn2c_word_index_rank(const nn2c_word_index *wi, const char *word, size_t n);
void nn2c_word_index_free(nn2c_word_index *wi);

/* Encodes one review as Keras's imdb.load_data + pad_sequences would: ASCII
 * lowercase; tokens are runs of [a-z0-9'] with leading and trailing '
 * removed (empty ones dropped); a word of rank r becomes r + 3 if that is
 * below num_words, else 2 (out of vocabulary), as does a word not in the
 * index; 1 (start) comes first. The sequence is padded with 0 or cut at the
 * front to maxlen ids (padding and truncating 'pre'), written to ids. Returns
 * the sequence length before padding or cutting (start included). */
int nn2c_imdb_encode(const nn2c_word_index *wi, const char *text, size_t len, int num_words, int maxlen, int32_t *ids);
/* Loads DIR/train.txt.gz (split 0) or DIR/test.txt.gz (split 1), lines
 * "<0|1> <text>", in file order, with DIR/imdb_word_index.json. Samples are
 * maxlen token ids (xi), labels int32 0/1, num_classes 2. */
int nn2c_load_imdb(const char *dir, int split, int num_words, int maxlen, nn2c_dataset *out, char *err, size_t errlen);

/* ---- Speech commands (nn2c_audio.c) ------------------------------------- */

/* Reads a RIFF/WAVE file of 16-bit PCM mono samples into *samples (malloc'd,
 * v / 32768, free() it), *n of them, at *rate Hz. Unknown chunks are
 * skipped; any other format, a truncated file or a chunk running past the
 * end is an error naming the file. */
int nn2c_wav_load(const char *path, float **samples, int *n, int *rate, char *err, size_t errlen);
/* In-place forward DFT X[k] = sum_j x[j] e^{-2 pi i jk/n}, n a power of two. */
void nn2c_fft(double *re, double *im, int n);
/* Checks log-mel settings (window <= n_fft, n_fft a power of two, no empty
 * mel band, frames within the clip, ...). */
int nn2c_logmel_check(const nn2c_logmel_opts *o, char *err, size_t errlen);
/* The log-mel features of x[0..n) at 16 kHz (see nn2c_logmel_opts) into
 * out[n_mels][frames]; o must pass nn2c_logmel_check. */
int nn2c_logmel(const float *x, int n, const nn2c_logmel_opts *o, float *out, char *err, size_t errlen);
/* Loads the clips of one split (0 train, 1 test, 2 validation) listed in
 * DIR/subset_manifest.tsv or DIR/speech_commands_v0.01/subset_manifest.tsv
 * (a header "path<TAB>label<TAB>split", then one clip per line, paths
 * relative to the manifest). Class = index of the label among all the
 * manifest's labels sorted by strcmp. Samples are n_mels*frames floats. */
int nn2c_load_speech_commands(const char *dir, int split, const nn2c_logmel_opts *o, nn2c_dataset *out, char *err,
                              size_t errlen);

/* Number of correct predictions in a batch. out is [batch][out_numel].
 *   yi set:                   argmax(out) == yi (for out_numel 1: (out>0.5) == (yi!=0))
 *   yf set, label_numel 1:    (out>0.5) == (yf>0.5)
 *   yf set, label_numel > 1:  argmax(out) == argmax(yf)
 * Ties in argmax go to the lowest index. */
int nn2c_count_correct(const float *out, int out_numel, const int32_t *yi, const float *yf, int label_numel, int batch);

/* ---- Checkpoints (nn2c_ckpt.c) ----------------------------------------- */

/* File format (all integers and floats little-endian):
 *   "NN2CCKPT" (8 bytes), u32 version (1), u32 nsections,
 *   per section: u32 name length, name bytes (no NUL), u64 count, count f32,
 *   u64 FNV-1a 64 hash of every byte before it.
 * Saving writes a new temp file PATH.tmp.<pid>.XXXXXX (mkstemp: created
 * exclusively, never through a planted symlink), flushes, fsyncs and renames it
 * over PATH, so PATH holds either the old or the new checkpoint, never a
 * partial one. The temp file is removed on every error; after a save, temp
 * files of PATH left by processes that no longer run (a killed save) are
 * removed too.
 * Loading expects exactly the caller's sections, in the caller's order, with
 * the same names and counts, and fills their data.
 * A trainer writes the sections "params", "state", "step" (see nn2c_train.c)
 * and, since the callbacks' state was kept, "trainer" (NN2C_TRAINER_FLOATS
 * floats); it still reads checkpoints without "trainer". */
#define NN2C_CKPT_VERSION 1u
/* A section's count that matches any count: its data is skipped (data NULL). */
#define NN2C_CKPT_ANY_COUNT UINT64_MAX
/* The "trainer" section: what the trainer carries from epoch to epoch, so a
 * run resumed from a checkpoint decides as the uninterrupted run would. Each
 * field is a u64 in 4 floats (nn2c_u64_to_floats; doubles and floats as their
 * bits), in this order:
 *   version (1); the monitored metric (nn2c_monitor_parse's index);
 *   early stopping's and --save-best's watch: seen, wait, best, best epoch;
 *   reduce-on-plateau's watch: seen, wait, best; the lr schedule's kind, the
 *   --lr it started from and the learning rate now;
 *   an epoch cut short by --steps: its loss sum, right answers and samples;
 *   the --log-every rows' window: the same three. */
#define NN2C_TRAINER_FIELDS 18
#define NN2C_TRAINER_FLOATS (4 * NN2C_TRAINER_FIELDS)

typedef struct {
  const char *name;
  float *data;
  uint64_t count; /* floats */
} nn2c_ckpt_section;

int nn2c_ckpt_save(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen);
/* Fails when PATH exists and is not a regular file (after symlinks): saving
 * would replace a device node such as /dev/null. nn2c_ckpt_save checks it;
 * a program calls it early to refuse such a target before any work. */
int nn2c_ckpt_check_target(const char *path, char *err, size_t errlen);
int nn2c_ckpt_load(const char *path, const nn2c_ckpt_section *s, int n, char *err, size_t errlen);
/* Like nn2c_ckpt_load, but the file may end after any section from
 * s[required] on (a section a later trainer added); *found (unless NULL)
 * is then how many it holds. */
int nn2c_ckpt_load_opt(const char *path, const nn2c_ckpt_section *s, int n, int required, int *found, char *err,
                       size_t errlen);

/* A u64 (the trainer's step counter) stored exactly in 4 floats, each holding
 * one 16-bit limb, least significant first. Floats hold integers up to 2^24
 * exactly, so this survives the float-only checkpoint format. */
void nn2c_u64_to_floats(uint64_t v, float f[4]);
uint64_t nn2c_floats_to_u64(const float f[4]); /* returns UINT64_MAX if f is not such an encoding */

/* Writes len bytes to PATH atomically, as nn2c_ckpt_save does: a temp file
 * beside it, fsync, rename over PATH; refuses a PATH that is not a regular
 * file. */
int nn2c_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* ---- Metrics file (nn2c_metrics.c) -------------------------------------- */

/* The trainer's --metrics FILE: CSV when FILE ends in .csv (a header line,
 * then one line per row), JSON Lines when it ends in .jsonl (one object per
 * row). Columns, in this order:
 *   kind            "epoch" (after an epoch's evaluation) or "step" (every
 *                   --log-every steps)
 *   epoch, step     the epoch (from 1) and the steps taken in total
 *   train_loss, train_accuracy   over the epoch, or over the steps since the
 *                   previous step row
 *   val_loss, val_accuracy       on the --validation-split samples
 *   test_loss, test_accuracy     on the test set
 *   lr              the learning rate of the last step
 *   samples_per_s   training samples per second (over the same span)
 *   elapsed_s       seconds since training started (resumed runs add on)
 * A value that does not apply (validation without a split, evaluations in a
 * step row) is empty in CSV and null in JSON. Numbers have 8 significant
 * digits. */
typedef struct {
  const char *kind;
  int epoch;
  uint64_t step;
  double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc; /* NAN: none */
  double lr, samples_per_s, elapsed_s;
} nn2c_metrics_row;

typedef struct {
  const char *path;
  int jsonl, failed;
  char *text; /* the whole file */
  size_t len, cap;
  double elapsed0; /* elapsed_s of the last row kept from a resumed run */
} nn2c_metrics;

/* Starts the file's text (PATH must end in .csv or .jsonl and may not be a
 * device). With resume 1, an existing file's rows up to resume_step are
 * kept; with resume 2 (a checkpoint inside an epoch) likewise but for the
 * epoch row at resume_step, the cut epoch's. A file that is not one of ours
 * is an error. Nothing is written yet. */
int nn2c_metrics_open(nn2c_metrics *m, const char *path, int resume, uint64_t resume_step, char *err, size_t errlen);
void nn2c_metrics_add(nn2c_metrics *m, const nn2c_metrics_row *r);
/* Writes every row so far, atomically. */
int nn2c_metrics_write(nn2c_metrics *m, char *err, size_t errlen);
void nn2c_metrics_free(nn2c_metrics *m);

/* ---- Callbacks: learning-rate schedules, the monitored metric ------------
 * (nn2c_callbacks.c; the trainer's --lr-schedule, --monitor, --early-stop,
 * --save-best) */

enum { NN2C_LR_CONSTANT, NN2C_LR_STEP, NN2C_LR_EXPONENTIAL, NN2C_LR_COSINE, NN2C_LR_PLATEAU };
/* "KIND key=value ..." (spaces or commas between words; "constant": none):
 *   step every=10 factor=0.5        exponential rate=0.96 steps=0 staircase=0
 *   cosine steps=0 alpha=0          plateau factor=0.1 patience=10 min_lr=0
 * steps=0 means an epoch's steps (exponential) or the whole run (cosine). */
typedef struct {
  int kind;
  double every, factor, rate, steps, staircase, alpha, patience, min_lr;
} nn2c_lr_schedule;

int nn2c_lr_schedule_parse(const char *text, nn2c_lr_schedule *s, char *err, size_t errlen);
/* The learning rate of the step after `step` steps, in epoch `epoch` (from
 * 0), starting from lr0; steps = the default steps (see above). */
double nn2c_lr_at(const nn2c_lr_schedule *s, double lr0, uint64_t step, int epoch, double steps);

/* Metrics the callbacks watch: train_loss, train_accuracy, val_loss,
 * val_accuracy, test_loss, test_accuracy (index 0..5; odd = higher is better). */
int nn2c_monitor_parse(const char *name, int *index, char *err, size_t errlen);
const char *nn2c_monitor_name(int index);
/* The best value so far and the epochs since it. */
typedef struct {
  int seen, wait;
  double best;
} nn2c_watch;
/* 1 when value beats the best so far (or is the first), which it becomes;
 * else counts one more epoch without improvement and returns 0. */
int nn2c_watch_improved(nn2c_watch *w, int monitor, double value);

/* ---- The generic trainer ------------------------------------------------ */

/* A model's parallel loops (its NAME_parallel_info, see its header): matmul and
 * convolution loops run on the threads from min_work multiply-adds, elementwise
 * loops from min_elems elements (SIZE_MAX: never); measured = 1 when calibrated,
 * from the seconds below (a parallel loop's start and join; a multiply-add and an
 * element on one thread and shared out over the threads; the calibration). */
typedef struct {
  int measured;
  size_t min_work, min_elems;
  double region_s, madd_s, madd_threads_s, elem_s, elem_threads_s, took_s;
} nn2c_parallel_info;

/* What a generated model tells the trainer. templates/train_main.c.in fills
 * this from the model's NAME.h; the trainer owns every allocation. The model
 * struct type differs per model, so the trainer allocates model_size bytes
 * and lets model_bind point its fields at the buffers. */
typedef struct {
  const char *name;            /* model name, a C identifier; the program is NAME_train */
  const char *in_shape;        /* the input's shape per sample, "28x28x1", for messages (NULL: not known) */
  const char *dataset;         /* "mnist", "cifar10", "inline", "random", "imdb", "speech_commands" */
  const char *dataset_options; /* "key=value ..." (see nn2c_data_spec_parse); NULL = none */
  /* Flags from the model's train section, "--flag value" lines read before the
   * command line's (early_stop, monitor, lr_schedule, save_best); NULL = none. */
  const char *train_flags;
  int in_numel, out_numel, label_numel, label_is_int;
  long param_floats, state_floats;
  /* has_ema: state[ema_offset ...] holds a moving average of the params, laid
   * out like them; the trainer evaluates with it and saves it as "params"
   * (the raw weights then go where it was, so resuming stays exact). */
  int has_ema;
  long ema_offset;
  int default_batch, default_epochs;
  float default_lr;
  uint64_t default_seed;

  size_t model_size; /* sizeof(NAME_Model) */
  /* Sets every field of the model struct at m: buffers, max batch, lr, step 0. */
  void (*model_bind)(void *m, float *params, float *state, unsigned char *arena, int max_batch, float lr);
  uint64_t (*model_get_step)(const void *m);
  void (*model_set_step)(void *m, uint64_t step);
  /* Optional: sets the learning rate the next steps take (lr schedules). */
  void (*model_set_lr)(void *m, float lr);

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
  /* Optional: the thresholds set_threads chose for the parallel loops, and
   * what they were measured from. The trainer prints them when --threads is
   * above 1. */
  void (*parallel_info)(nn2c_parallel_info *p);
  /* Optional: a model whose imported weights nn2c wrote to a file
   * (weights_file, "NAME.weights") reads them with load_weights after init
   * (0 = ok; nonzero after printing why). The trainer looks for the file next
   * to its program unless --weights names it; --load skips it. */
  const char *weights_file;
  int (*load_weights)(float *params, const char *path);

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
