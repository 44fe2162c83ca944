/* fuzz_train_flags.c - libFuzzer target for the trainer's command line
 * (nn2c_train_main): the input is its arguments, one per line. Any command
 * line must run or stop with a message and exit status 1, never crash.
 *
 * The model is a stand-in: 2 inputs, 2 outputs, 6 params, 8 built-in points;
 * its train_step fails (status 7) after 3 steps, so a fuzzed --epochs or
 * --steps cannot make a run long, and the trainer's error path is covered.
 * The trainer runs in the private scratch directory (and back to the first
 * one after, for libFuzzer's relative paths), and inputs holding '/' are
 * skipped, so --save/--load only touch files there. */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  float *params, *state;
  unsigned char *arena;
  int max_batch;
  float lr;
  uint64_t step;
} Stub;

static int steps_left;

static void bind(void *m, float *params, float *state, unsigned char *arena, int max_batch, float lr) {
  *(Stub *)m = (Stub){params, state, arena, max_batch, lr, 0};
}
static uint64_t get_step(const void *m) { return ((const Stub *)m)->step; }
static void set_step(void *m, uint64_t s) { ((Stub *)m)->step = s; }
static size_t arena_bytes(int batch) { return 64 + 16 * (size_t)batch; }
static void init(float *p, uint64_t seed) {
  for (int i = 0; i < 6; i++)
    p[i] = (float)((seed + (uint64_t)i) % 7) * 0.01f;
}
static int forward(void *mv, const float *x, float *out, int batch) {
  const Stub *m = mv;
  if (batch < 1 || batch > m->max_batch) return 2;
  for (int b = 0; b < batch; b++) {
    out[2 * b] = m->params[0] * x[2 * b] + m->params[4];
    out[2 * b + 1] = m->params[3] * x[2 * b + 1] + m->params[5];
  }
  return 0;
}
static int evaluate(void *m, const float *x, const void *y, int batch, float *loss, float *out) {
  float tmp[2 * 8];
  int rc = forward(m, x, out ? out : tmp, batch > 8 && !out ? 8 : batch);
  (void)y;
  *loss = 0.5f;
  return rc;
}
static int train_step(void *mv, const float *x, const void *y, int batch, float *loss, float *out) {
  Stub *m = mv;
  if (steps_left-- <= 0) return 7;
  m->step++;
  return evaluate(mv, x, y, batch, loss, out);
}

static const float points[16] = {0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.4f, 0.0f, 0.5f,
                                 0.9f, 0.8f, 0.7f, 1.0f, 1.0f, 0.6f, 0.8f, 0.9f};
static const int32_t labels[8] = {0, 0, 0, 0, 1, 1, 1, 1};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096 || memchr(data, '/', size)) return 0;
  char *text = malloc(size + 1), *argv[34] = {"fuzz_train"};
  int argc = 1;
  memcpy(text, data, size);
  text[size] = 0;
  for (char *p = text; argc < 33;) {
    argv[argc++] = p;
    char *nl = strchr(p, '\n');
    if (!nl) break;
    *nl = 0;
    p = nl + 1;
  }
  argv[argc] = NULL;
  if (size == 0) argc = 1;

  nn2c_model_desc d = {0};
  d.name = "fuzz", d.dataset = "inline";
  d.in_numel = 2, d.out_numel = 2, d.label_numel = 1, d.label_is_int = 1;
  d.param_floats = 6, d.state_floats = 0;
  d.default_batch = 4, d.default_epochs = 1, d.default_lr = 0.5f, d.default_seed = 1;
  d.model_size = sizeof(Stub);
  d.model_bind = bind, d.model_get_step = get_step, d.model_set_step = set_step;
  d.arena_bytes = arena_bytes, d.init = init;
  d.forward = forward, d.train_step = train_step, d.evaluate = evaluate;
  d.inline_n = 8, d.inline_x = points, d.inline_yi = labels;
  steps_left = 3;
  int here = open(".", O_RDONLY | O_DIRECTORY);
  if (here < 0 || chdir(fuzz_dir())) abort();
  nn2c_train_main(argc, argv, &d);
  if (fchdir(here)) abort();
  close(here);
  free(text);
  return 0;
}
