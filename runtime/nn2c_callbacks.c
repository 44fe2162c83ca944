/* nn2c_callbacks.c - what the trainer decides between steps and epochs, as
 * Keras's callbacks do: learning-rate schedules and the watch on a monitored
 * metric behind early stopping, best checkpoints and reduce-on-plateau.
 * Formulas follow Keras (tf.keras.optimizers.schedules, callbacks):
 *   step         lr0 * factor^floor(epoch / every)               (epoch from 0)
 *   exponential  lr0 * rate^(step / steps), the exponent floored with staircase=1
 *   cosine       lr0 * ((1 - alpha) * (1 + cos(pi * min(step, steps) / steps)) / 2 + alpha)
 *   plateau      lr * factor, not below min_lr, once the metric has not improved for patience epochs
 * where step counts the steps taken before this one. */
#include "nn2c_rt.h"

#include <ctype.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"constant", "step", "exponential", "cosine", "plateau"};

/* One key=value word of a schedule; value must be a number in [lo, hi]. */
static int set_key(nn2c_lr_schedule *s, const char *key, size_t klen, const char *val, char *err, size_t errlen) {
  static const struct {
    int kind;
    const char *key;
    double lo, hi;
    int integer;
    size_t offset;
  } keys[] = {{NN2C_LR_STEP, "every", 1, 1e9, 1, offsetof(nn2c_lr_schedule, every)},
              {NN2C_LR_STEP, "factor", 1e-12, 1, 0, offsetof(nn2c_lr_schedule, factor)},
              {NN2C_LR_EXPONENTIAL, "rate", 1e-12, 1e9, 0, offsetof(nn2c_lr_schedule, rate)},
              {NN2C_LR_EXPONENTIAL, "steps", 0, 1e18, 1, offsetof(nn2c_lr_schedule, steps)},
              {NN2C_LR_EXPONENTIAL, "staircase", 0, 1, 1, offsetof(nn2c_lr_schedule, staircase)},
              {NN2C_LR_COSINE, "steps", 0, 1e18, 1, offsetof(nn2c_lr_schedule, steps)},
              {NN2C_LR_COSINE, "alpha", 0, 1, 0, offsetof(nn2c_lr_schedule, alpha)},
              {NN2C_LR_PLATEAU, "factor", 1e-12, 0.999999, 0, offsetof(nn2c_lr_schedule, factor)},
              {NN2C_LR_PLATEAU, "patience", 1, 1e9, 1, offsetof(nn2c_lr_schedule, patience)},
              {NN2C_LR_PLATEAU, "min_lr", 0, 1e30, 0, offsetof(nn2c_lr_schedule, min_lr)}};
  size_t i;
  for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    char *end;
    double v;
    if (keys[i].kind != s->kind || strlen(keys[i].key) != klen || strncmp(keys[i].key, key, klen)) continue;
    v = strtod(val, &end);
    if (end == val || (*end && *end != ',' && !isspace((unsigned char)*end)) || !(v >= keys[i].lo && v <= keys[i].hi) ||
        (keys[i].integer && v != floor(v)))
      return nn2c_fail(err, errlen, "lr schedule %s: %.*s=%.*s is out of range (%s %g to %g)", kinds[s->kind],
                       (int)klen, key, (int)strcspn(val, ", "), val, keys[i].integer ? "an integer" : "a number",
                       keys[i].lo, keys[i].hi);
    *(double *)((char *)s + keys[i].offset) = v;
    return 0;
  }
  return nn2c_fail(err, errlen, "lr schedule %s: unknown option '%.*s'", kinds[s->kind], (int)klen, key);
}

int nn2c_lr_schedule_parse(const char *text, nn2c_lr_schedule *s, char *err, size_t errlen) {
  const char *p = text;
  size_t n = strcspn(p, ", ");
  int k;
  memset(s, 0, sizeof *s);
  for (k = 0; k < (int)(sizeof kinds / sizeof kinds[0]); k++)
    if (strlen(kinds[k]) == n && !strncmp(kinds[k], p, n)) break;
  if (k == (int)(sizeof kinds / sizeof kinds[0]))
    return nn2c_fail(err, errlen, "unknown lr schedule '%.*s' (expected step, exponential, cosine or plateau)", (int)n,
                     p);
  s->kind = k;
  s->every = 10, s->factor = k == NN2C_LR_PLATEAU ? 0.1 : 0.5; /* Keras's ReduceLROnPlateau: 0.1, patience 10 */
  s->rate = 0.96, s->patience = 10;
  for (p += n; *p;) {
    const char *eq;
    p += strspn(p, ", ");
    if (!*p) break;
    n = strcspn(p, ", ");
    eq = memchr(p, '=', n);
    if (!eq) return nn2c_fail(err, errlen, "lr schedule %s: expected key=value, got '%.*s'", kinds[k], (int)n, p);
    if (set_key(s, p, (size_t)(eq - p), eq + 1, err, errlen)) return -1;
    p += n;
  }
  return 0;
}

double nn2c_lr_at(const nn2c_lr_schedule *s, double lr0, uint64_t step, int epoch, double steps) {
  double x;
  switch (s->kind) {
  case NN2C_LR_STEP:
    return lr0 * pow(s->factor, floor((double)epoch / s->every));
  case NN2C_LR_EXPONENTIAL:
    x = (double)step / (s->steps > 0 ? s->steps : steps);
    return lr0 * pow(s->rate, s->staircase ? floor(x) : x);
  case NN2C_LR_COSINE:
    if (s->steps > 0) steps = s->steps;
    x = steps > 0 ? ((double)step < steps ? (double)step : steps) / steps : 1.0;
    return lr0 * ((1 - s->alpha) * 0.5 * (1 + cos(3.14159265358979323846 * x)) + s->alpha);
  default: /* constant, plateau: the trainer's lr as it stands */
    return lr0;
  }
}

/* ---- The monitored metric ------------------------------------------------ */

static const char *const monitors[] = {"train_loss",   "train_accuracy", "val_loss",
                                       "val_accuracy", "test_loss",      "test_accuracy"};

int nn2c_monitor_parse(const char *name, int *index, char *err, size_t errlen) {
  int i;
  for (i = 0; i < (int)(sizeof monitors / sizeof monitors[0]); i++)
    if (!strcmp(name, monitors[i])) return *index = i, 0;
  return nn2c_fail(err, errlen,
                   "unknown metric '%s' (expected train_loss, train_accuracy, val_loss, val_accuracy, test_loss or "
                   "test_accuracy)",
                   name);
}

const char *nn2c_monitor_name(int index) { return monitors[index]; }

int nn2c_watch_improved(nn2c_watch *w, int monitor, double value) {
  int higher = monitor % 2 == 1; /* accuracies */
  if (w->seen && !(higher ? value > w->best : value < w->best)) {
    w->wait++;
    return 0;
  }
  w->seen = 1, w->best = value, w->wait = 0;
  return 1;
}
