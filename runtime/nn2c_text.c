/* nn2c_text.c - IMDB reviews as Keras-style token id sequences.
 *
 * 1. The word index: a JSON object {"word": rank, ...} read by a small
 *    parser that accepts exactly that (string keys with JSON escapes,
 *    positive integer values) and names the byte offset of anything else.
 *    Words go into an open-addressing hash table (FNV-1a, linear probing).
 * 2. Encoding: lowercase, split into runs of [a-z0-9'], strip the quotes at
 *    both ends, look each word up, rank + 3 (1 = start, 2 = out of
 *    vocabulary), pad or cut at the front to maxlen. A ring of maxlen ids
 *    keeps the last maxlen tokens without a second buffer.
 * 3. The loader: one "<label> <text>" line per review, gzipped.
 */
#include "nn2c_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- 1. The word index -------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i;
  for (i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* The slot holding word[0..n) (hash h), or the empty slot where it would go. */
static uint32_t find_slot(const nn2c_word_index *wi, const char *word, size_t n, uint32_t h) {
  uint32_t i = h & wi->mask;
  const nn2c_word_slot *s;
  for (s = &wi->slots[i]; s->key >= 0; s = &wi->slots[i]) {
    if (s->hash == h && (size_t)s->len == n && !memcmp(wi->keys + s->key, word, n)) return i;
    i = (i + 1) & wi->mask;
  }
  return i;
}

int nn2c_word_index_rank(const nn2c_word_index *wi, const char *word, size_t n) {
  const nn2c_word_slot *s;
  if (!wi->slots || n > (size_t)wi->max_len) return 0;
  s = &wi->slots[find_slot(wi, word, n, hash_bytes(word, n))];
  return s->key >= 0 ? s->rank : 0;
}

void nn2c_word_index_free(nn2c_word_index *wi) {
  free(wi->keys);
  free(wi->slots);
  memset(wi, 0, sizeof *wi);
}

/* A JSON reader over one buffer; errors name the byte offset. */
typedef struct {
  const char *name, *p;
  size_t len, pos;
  char *err;
  size_t errlen;
} Json;

static int json_fail(Json *j, const char *what) {
  if (j->pos >= j->len)
    return nn2c_fail(j->err, j->errlen, "%s: byte %lu: %s, found the end of the file", j->name, (unsigned long)j->pos,
                     what);
  return nn2c_fail(j->err, j->errlen, "%s: byte %lu: %s, found '%c'", j->name, (unsigned long)j->pos, what,
                   (unsigned char)j->p[j->pos] >= 32 && (unsigned char)j->p[j->pos] < 127 ? j->p[j->pos] : '?');
}

static int json_peek(Json *j) { return j->pos < j->len ? (unsigned char)j->p[j->pos] : -1; }

static void json_space(Json *j) {
  int c;
  while ((c = json_peek(j)) == ' ' || c == '\t' || c == '\r' || c == '\n')
    j->pos++;
}

static int hex4(Json *j, unsigned *out) {
  unsigned v = 0;
  int i;
  for (i = 0; i < 4; i++, j->pos++) {
    int c = json_peek(j);
    if (c >= '0' && c <= '9')
      v = v * 16 + (unsigned)(c - '0');
    else if ((c | 32) >= 'a' && (c | 32) <= 'f')
      v = v * 16 + (unsigned)((c | 32) - 'a' + 10);
    else
      return json_fail(j, "expected 4 hex digits after \\u");
  }
  *out = v;
  return 0;
}

static char *put_utf8(char *o, unsigned c) {
  if (c < 0x80) {
    *o++ = (char)c;
  } else if (c < 0x800) {
    *o++ = (char)(0xC0 | c >> 6);
    *o++ = (char)(0x80 | (c & 63));
  } else if (c < 0x10000) {
    *o++ = (char)(0xE0 | c >> 12);
    *o++ = (char)(0x80 | (c >> 6 & 63));
    *o++ = (char)(0x80 | (c & 63));
  } else {
    *o++ = (char)(0xF0 | c >> 18);
    *o++ = (char)(0x80 | (c >> 12 & 63));
    *o++ = (char)(0x80 | (c >> 6 & 63));
    *o++ = (char)(0x80 | (c & 63));
  }
  return o;
}

/* \uXXXX after the backslash and 'u', with a surrogate pair taken whole. */
static int json_unicode(Json *j, char **o) {
  unsigned c = 0, lo = 0;
  if (hex4(j, &c)) return -1;
  if (c >= 0xD800 && c < 0xDC00) {
    if (j->pos + 1 >= j->len || j->p[j->pos] != '\\' || j->p[j->pos + 1] != 'u')
      return json_fail(j, "expected a low surrogate \\uDC00..\\uDFFF after a high one");
    j->pos += 2;
    if (hex4(j, &lo)) return -1;
    if (lo < 0xDC00 || lo > 0xDFFF) return j->pos -= 6, json_fail(j, "expected a low surrogate \\uDC00..\\uDFFF");
    c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
  } else if (c >= 0xDC00 && c < 0xE000) {
    return j->pos -= 6, json_fail(j, "unpaired low surrogate");
  }
  *o = put_utf8(*o, c);
  return 0;
}

/* A string at j->pos (the opening quote) decoded to UTF-8 at out; NUL-terminated. */
static int json_string(Json *j, char *out, size_t *outlen) {
  static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
  char *o = out;
  if (json_peek(j) != '"') return json_fail(j, "expected a string key in double quotes");
  j->pos++;
  for (;;) {
    int c = json_peek(j);
    if (c < 0) return json_fail(j, "unterminated string");
    if (c == '"') break;
    if (c < 0x20) return json_fail(j, "control character in a string");
    j->pos++;
    if (c != '\\') {
      *o++ = (char)c;
      continue;
    }
    c = json_peek(j);
    if (c == 'u') {
      j->pos++;
      if (json_unicode(j, &o)) return -1;
    } else if (c > 0 && strchr(esc_in, c)) {
      *o++ = esc_out[strchr(esc_in, c) - esc_in];
      j->pos++;
    } else {
      return json_fail(j, "bad escape after '\\'");
    }
  }
  j->pos++;
  *o = '\0';
  *outlen = (size_t)(o - out);
  return 0;
}

/* A positive integer that fits in int32 (the word's rank). */
static int json_rank(Json *j, int32_t *out) {
  long long v = 0;
  size_t start = j->pos;
  int c;
  while ((c = json_peek(j)) >= '0' && c <= '9') {
    v = v * 10 + (c - '0');
    if (v > INT32_MAX) return j->pos = start, json_fail(j, "rank too large (the limit is 2147483647)");
    j->pos++;
  }
  /* a fraction or exponent, a leading zero, or no digits at all */
  if (j->pos == start || c == '.' || c == 'e' || c == 'E' || j->p[start] == '0')
    return j->pos = start, json_fail(j, "expected a positive integer rank");
  *out = (int32_t)v;
  return 0;
}

/* Puts word -> rank in the table; a repeated word is an error. */
static int index_add(nn2c_word_index *wi, Json *j, size_t key_at, int32_t off, size_t n, int32_t rank) {
  uint32_t h = hash_bytes(wi->keys + off, n), i = find_slot(wi, wi->keys + off, n, h);
  nn2c_word_slot *s = &wi->slots[i];
  if (s->key >= 0) {
    j->pos = key_at;
    return nn2c_fail(j->err, j->errlen, "%s: byte %lu: duplicate key \"%s\"", j->name, (unsigned long)key_at,
                     wi->keys + off);
  }
  s->hash = h, s->key = off, s->len = (int32_t)n, s->rank = rank;
  wi->count++;
  if ((int)n > wi->max_len) wi->max_len = (int)n;
  return 0;
}

/* Every member has a ':' (some keys too), so twice the colons in slots keeps
 * the table at most half full whatever the file holds. */
static int index_alloc(nn2c_word_index *wi, const char *json, size_t len) {
  size_t slots = 16, colons = 0, i;
  for (i = 0; i < len; i++)
    colons += json[i] == ':';
  while (slots < 2 * colons)
    slots *= 2;
  if (len > INT32_MAX || slots > UINT32_MAX) return -1;
  wi->keys = malloc(len + 1);
  wi->slots = malloc(slots * sizeof(nn2c_word_slot));
  if (!wi->keys || !wi->slots) return -1;
  for (i = 0; i < slots; i++)
    wi->slots[i].key = -1;
  wi->mask = (uint32_t)(slots - 1);
  return 0;
}

static int json_members(Json *j, nn2c_word_index *wi) {
  size_t used = 0;
  json_space(j);
  if (json_peek(j) == '}') return j->pos++, 0;
  for (;;) {
    size_t n = 0, key_at;
    int32_t rank = 0;
    json_space(j);
    key_at = j->pos;
    if (json_string(j, wi->keys + used, &n)) return -1;
    json_space(j);
    if (json_peek(j) != ':') return json_fail(j, "expected ':' after a key");
    j->pos++;
    json_space(j);
    if (json_rank(j, &rank) || index_add(wi, j, key_at, (int32_t)used, n, rank)) return -1;
    used += n + 1;
    json_space(j);
    if (json_peek(j) == '}') return j->pos++, 0;
    if (json_peek(j) != ',') return json_fail(j, "expected ',' or '}' after a value");
    j->pos++;
  }
}

int nn2c_word_index_parse(const char *name, const char *json, size_t len, nn2c_word_index *wi, char *err,
                          size_t errlen) {
  Json j;
  j.name = name, j.p = json, j.len = len, j.pos = 0, j.err = err, j.errlen = errlen;
  memset(wi, 0, sizeof *wi);
  if (index_alloc(wi, json, len)) {
    nn2c_word_index_free(wi);
    return nn2c_fail(err, errlen, "%s: out of memory for the word index", name);
  }
  json_space(&j);
  if (json_peek(&j) != '{') {
    json_fail(&j, "expected '{' (a JSON object of word: rank)");
  } else {
    j.pos++;
    if (json_members(&j, wi) == 0) {
      json_space(&j);
      if (j.pos == len) return 0;
      json_fail(&j, "expected the end of the file after the object");
    }
  }
  nn2c_word_index_free(wi);
  return -1;
}

int nn2c_word_index_load(const char *path, nn2c_word_index *wi, char *err, size_t errlen) {
  unsigned char *data;
  size_t len;
  char used[4096];
  int rc;
  memset(wi, 0, sizeof *wi);
  if (nn2c_read_file_as(path, &data, &len, used, sizeof used, err, errlen)) return -1;
  rc = nn2c_word_index_parse(used, (const char *)data, len, wi, err, errlen);
  free(data);
  return rc;
}

/* ---- 2. Encoding -------------------------------------------------------- */

static int is_token_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'';
}

static int32_t word_id(const nn2c_word_index *wi, const char *s, size_t n, int num_words) {
  char low[256];
  size_t i;
  int rank;
  if (n > sizeof low || n > (size_t)wi->max_len) return 2;
  for (i = 0; i < n; i++)
    low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  rank = nn2c_word_index_rank(wi, low, n);
  return rank > 0 && (long long)rank + 3 < num_words ? rank + 3 : 2;
}

int nn2c_imdb_encode(const nn2c_word_index *wi, const char *text, size_t len, int num_words, int maxlen, int32_t *ids) {
  size_t i = 0;
  int count = 1, k;
  ids[0] = 1; /* ids is a ring: token t lives at ids[t % maxlen] */
  while (i < len) {
    size_t start, end;
    if (!is_token_char((unsigned char)text[i])) {
      i++;
      continue;
    }
    for (start = i; i < len && is_token_char((unsigned char)text[i]);)
      i++;
    for (end = i; start < end && text[start] == '\'';)
      start++;
    while (end > start && text[end - 1] == '\'')
      end--;
    if (end > start) ids[count++ % maxlen] = word_id(wi, text + start, end - start, num_words);
  }
  if (count < maxlen) { /* pad at the front */
    memmove(ids + (maxlen - count), ids, (size_t)count * sizeof(int32_t));
    for (k = 0; k < maxlen - count; k++)
      ids[k] = 0;
  } else if (count % maxlen) { /* rotate so the oldest kept token comes first */
    int s = count % maxlen;
    int32_t tmp[512];
    while (s > 0) {
      int m = s < 512 ? s : 512;
      memcpy(tmp, ids, (size_t)m * sizeof(int32_t));
      memmove(ids, ids + m, (size_t)(maxlen - m) * sizeof(int32_t));
      memcpy(ids + (maxlen - m), tmp, (size_t)m * sizeof(int32_t));
      s -= m;
    }
  }
  return count;
}

/* ---- 3. The loader ------------------------------------------------------ */

/* The reviews read so far; arrays grow by doubling and shrink at the end. */
typedef struct {
  const nn2c_word_index *wi;
  int num_words, maxlen;
  const char *path;
  nn2c_dataset *out;
  size_t cap;
  char *err;
  size_t errlen;
} ImdbRead;

static int imdb_line(void *ctx, char *s, size_t len, size_t lineno) {
  ImdbRead *r = ctx;
  nn2c_dataset *d = r->out;
  size_t n = (size_t)d->n, ml = (size_t)r->maxlen;
  if (len < 2 || (s[0] != '0' && s[0] != '1') || s[1] != ' ')
    return nn2c_fail(r->err, r->errlen,
                     "%s:%lu: expected a label 0 or 1 and a space at the start of the line (\"<label> <text>\")",
                     r->path, (unsigned long)lineno);
  if (n == r->cap) {
    size_t cap = r->cap ? 2 * r->cap : 1024;
    int32_t *xi = cap <= (size_t)INT32_MAX / ml ? realloc(d->xi, cap * ml * sizeof(int32_t)) : NULL, *yi;
    if (xi) d->xi = xi;
    yi = xi ? realloc(d->yi, cap * sizeof(int32_t)) : NULL;
    if (!yi) return nn2c_fail(r->err, r->errlen, "%s: out of memory for %lu reviews", r->path, (unsigned long)cap);
    d->yi = yi, r->cap = cap;
  }
  d->yi[n] = s[0] - '0';
  nn2c_imdb_encode(r->wi, s + 2, len - 2, r->num_words, r->maxlen, d->xi + n * ml);
  d->n++;
  return 0;
}

int nn2c_load_imdb(const char *dir, int split, int num_words, int maxlen, nn2c_dataset *out, char *err, size_t errlen) {
  char path[4096], used[4096];
  nn2c_word_index wi;
  int rc;
  memset(out, 0, sizeof *out);
  memset(&wi, 0, sizeof wi);
  if (split != 0 && split != 1)
    return nn2c_fail(err, errlen, "%s: bad IMDB split %d (0 = train, 1 = test)", dir, split);
  if (num_words < 3 || maxlen < 1) return nn2c_fail(err, errlen, "%s: IMDB needs num_words >= 3 and maxlen >= 1", dir);
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, split ? "test.txt.gz" : "train.txt.gz") >= sizeof path)
    return nn2c_fail(err, errlen, "%s: path too long", dir);
  snprintf(used, sizeof used, "%s/imdb_word_index.json", dir);
  rc = nn2c_word_index_load(used, &wi, err, errlen);
  if (rc == 0) {
    ImdbRead r;
    r.wi = &wi, r.num_words = num_words, r.maxlen = maxlen, r.path = used, r.out = out, r.cap = 0;
    r.err = err, r.errlen = errlen;
    out->sample_numel = maxlen, out->label_numel = 1, out->num_classes = 2;
    rc = nn2c_read_lines(path, imdb_line, &r, used, sizeof used, err, errlen);
    if (rc == 0 && out->n == 0) rc = nn2c_fail(err, errlen, "%s: no reviews in the file", used);
    if (rc == 0) /* give back the unused capacity */
      nn2c_dataset_truncate(out, out->n);
  }
  nn2c_word_index_free(&wi);
  if (rc) nn2c_dataset_free(out);
  return rc;
}
