/* nn2c_metrics.c - the trainer's --metrics file: one row per epoch (and per
 * --log-every steps), as CSV (.csv) or JSON Lines (.jsonl); format in
 * nn2c_rt.h.
 *
 * The rows are kept in memory and the whole file is rewritten atomically
 * (nn2c_write_atomic) whenever the trainer asks, so the file on disk is
 * always complete: a killed run leaves the rows up to its last write. On
 * resume the file's rows up to the checkpoint's step are kept (rows written
 * after that checkpoint was saved would be repeated), but for the row of an
 * epoch the checkpoint cut short (the resumed run writes the whole epoch's),
 * so one file covers a run trained in pieces.
 */
#include "nn2c_rt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const columns[] = {"kind",           "epoch",    "step",          "train_loss",
                                      "train_accuracy", "val_loss", "val_accuracy",  "test_loss",
                                      "test_accuracy",  "lr",       "samples_per_s", "elapsed_s"};
#define NCOLUMNS (int)(sizeof columns / sizeof columns[0])

/* Appends printf output to m->text; on out of memory marks the file failed. */
static void put(nn2c_metrics *m, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || m->failed) return;
  if (m->len + (size_t)n + 1 > m->cap) {
    size_t cap = (m->len + (size_t)n + 1) * 2;
    char *p = realloc(m->text, cap);
    if (!p) {
      m->failed = 1;
      return;
    }
    m->text = p, m->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(m->text + m->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  m->len += (size_t)n;
}

static void put_header(nn2c_metrics *m) {
  int i;
  for (i = 0; i < NCOLUMNS; i++)
    put(m, "%s%s", i ? "," : "", columns[i]);
  put(m, "\n");
}

/* One value: a number, or empty (CSV) / null (JSON) when v is NaN. */
static void put_value(nn2c_metrics *m, int col, double v) {
  if (m->jsonl) put(m, ",\"%s\":", columns[col]);
  if (isnan(v))
    put(m, m->jsonl ? "null" : (col ? "," : ""));
  else
    put(m, "%s%.8g", m->jsonl || !col ? "" : ",", v);
}

void nn2c_metrics_add(nn2c_metrics *m, const nn2c_metrics_row *r) {
  const double v[] = {r->train_loss, r->train_acc,     r->val_loss,
                      r->val_acc,    r->test_loss,     r->test_acc,
                      r->lr,         r->samples_per_s, m->elapsed0 + r->elapsed_s};
  int i;
  if (m->jsonl)
    put(m, "{\"kind\":\"%s\",\"epoch\":%d,\"step\":%llu", r->kind, r->epoch, (unsigned long long)r->step);
  else
    put(m, "%s,%d,%llu", r->kind, r->epoch, (unsigned long long)r->step);
  for (i = 0; i < (int)(sizeof v / sizeof v[0]); i++)
    put_value(m, i + 3, v[i]);
  put(m, m->jsonl ? "}\n" : "\n");
}

/* The step and elapsed seconds of one row written by nn2c_metrics_add, and
 * whether it is an epoch's; -1 if it is not one. */
static int parse_row(const nn2c_metrics *m, const char *line, unsigned long long *step, double *elapsed, int *epoch) {
  const char *p;
  int i;
  const char *epoch_row = m->jsonl ? "{\"kind\":\"epoch\"," : "epoch,";
  *epoch = !strncmp(line, epoch_row, strlen(epoch_row));
  if (m->jsonl) {
    const char *s = strstr(line, "\"step\":"), *e = strstr(line, "\"elapsed_s\":");
    if (strncmp(line, "{\"kind\":", 8) || !s || !e || sscanf(s + 7, "%llu", step) != 1) return -1;
    *elapsed = strtod(e + 12, NULL);
    return 0;
  }
  for (p = line, i = 0; i < 2 && p; i++) /* the step is the third column */
    if ((p = strchr(p, ',')) != NULL) p++;
  if (!p || sscanf(p, "%llu", step) != 1) return -1;
  p = strrchr(line, ',');
  *elapsed = p ? strtod(p + 1, NULL) : 0.0;
  return 0;
}

/* Keeps the rows of text[0..len) whose step is at most max_step, but with cut
 * set an epoch's row at max_step. */
static int keep_rows(nn2c_metrics *m, char *text, size_t len, uint64_t max_step, int cut, char *err, size_t errlen) {
  char *line = text, *end = text + len;
  int lineno = 1;
  if (!m->jsonl) { /* a CSV file starts with our header */
    char *nl = memchr(text, '\n', len);
    if (!nl || (size_t)(nl - text) != m->len - 1 || memcmp(text, m->text, m->len - 1))
      return nn2c_fail(err, errlen,
                       "%s: its first line is not the metrics header (%.*s...): not a file this trainer wrote; "
                       "name another --metrics file",
                       m->path, (int)(m->len > 40 ? 40 : m->len - 1), m->text);
    line = nl + 1, lineno = 2;
  }
  for (; line < end; lineno++) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    unsigned long long step;
    double elapsed;
    int epoch;
    if (!nl) nl = end; /* a last line without its newline */
    *nl = '\0';
    if (parse_row(m, line, &step, &elapsed, &epoch))
      return nn2c_fail(err, errlen, "%s:%d: not a metrics row written by this trainer; name another --metrics file",
                       m->path, lineno);
    if (step < max_step || (step == max_step && !(cut && epoch))) {
      put(m, "%s\n", line);
      m->elapsed0 = elapsed;
    }
    line = nl + 1;
  }
  return m->failed ? nn2c_fail(err, errlen, "%s: out of memory", m->path) : 0;
}

int nn2c_metrics_open(nn2c_metrics *m, const char *path, int resume, uint64_t resume_step, char *err, size_t errlen) {
  size_t n = strlen(path), len;
  unsigned char *old = NULL;
  char probe[8];
  int rc = 0;
  memset(m, 0, sizeof *m);
  m->path = path;
  m->jsonl = n > 6 && !strcmp(path + n - 6, ".jsonl");
  if (!m->jsonl && !(n > 4 && !strcmp(path + n - 4, ".csv")))
    return m->path = NULL,
           nn2c_fail(err, errlen, "%s: the metrics file must end in .csv (CSV) or .jsonl (JSON Lines)", path);
  if (nn2c_ckpt_check_target(path, err, errlen)) {
    m->path = NULL;
    return -1;
  }
  if (!m->jsonl) put_header(m);
  if (resume && nn2c_read_file_plain(path, &old, &len, probe, sizeof probe) == 0) {
    if (nn2c_text_terminate(&old, len, err, errlen)) return nn2c_metrics_free(m), -1;
    if (len) rc = keep_rows(m, (char *)old, len, resume_step, resume == 2, err, errlen);
    free(old);
  }
  if (rc) nn2c_metrics_free(m); /* path cleared: the caller never writes a file it failed to open */
  return rc;
}

int nn2c_metrics_write(nn2c_metrics *m, char *err, size_t errlen) {
  if (m->failed) return nn2c_fail(err, errlen, "%s: out of memory keeping the metrics rows", m->path);
  return nn2c_write_atomic(m->path, m->text, m->len, err, errlen);
}

void nn2c_metrics_free(nn2c_metrics *m) {
  free(m->text);
  memset(m, 0, sizeof *m);
}
