/* parse.c - the .nn model format and the IR text form (see parse.h and docs/nn-format.md).
 *
 * 1. The lexer turns text into tokens on demand (so lexical and syntax errors come out in
 *    file order). Newlines are tokens: a statement is one line. Inside [...] and (...) the
 *    parser skips newlines after '[', '(' and ',' and before the closing bracket, so long
 *    lists may span lines.
 * 2. A recursive-descent parser reads the sections. Layer, train and data lines become Lines
 *    and Exprs (meaning is given later by model.c); the graph section is built straight
 *    into a Graph, checking names, op names and arities as it goes.
 * 3. Errors: every error is reported with file:line:col, then the parser skips to the end of
 *    the line and goes on to the end of the file, so one run reports every error (error_at
 *    prints the first ERRORS_SHOWN and counts the rest). A lexer error produces a T_BAD token
 *    that the parser skips silently (the error was already reported). */
#include "parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/op.h"

#define MAX_DEPTH 64 /* deepest list nesting accepted */
#define MAX_DIM (INT64_C(1) << 40)

typedef enum { T_EOF, T_NEWLINE, T_IDENT, T_NUM, T_STRING, T_PUNCT, T_ARROW, T_BAD } TokKind;

typedef struct {
  TokKind kind;
  int line, col;
  const char *p;   /* start in the source text */
  int len;         /* bytes in the source text */
  char ch;         /* T_PUNCT: the character */
  double num;      /* T_NUM */
  int64_t inum;    /* T_NUM with is_int */
  bool is_int;     /* T_NUM written without '.' or exponent */
  const char *str; /* T_IDENT, T_STRING: the (decoded) text */
} Token;

typedef struct {
  ModelFile *mf;
  Arena *a;
  const char *cur;        /* lexer position */
  const char *line_start; /* start of the lexer's current line, for columns */
  int line;
  Token **toks; /* every token lexed so far (stable pointers); the parser may rewind */
  int ntoks, captoks;
  int pos;                   /* parser position in toks */
  Graph *g;                  /* the graph section being built */
  int model_line, model_col; /* the `model NAME` line, once seen */
} Parser;

/* ---- errors ---- */

static void err_at(Parser *P, int line, int col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Buf b = {0};
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  error_at(&P->mf->src, line, col, "%s", b.data);
  buf_free(&b);
}

/* The message names the token; a T_BAD token was reported by the lexer already. */
static void err_tok(Parser *P, const Token *t, const char *fmt, ...) {
  if (t->kind == T_BAD) return;
  va_list ap;
  va_start(ap, fmt);
  Buf b = {0};
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  err_at(P, t->line, t->col, "%s", b.data);
  buf_free(&b);
}

/* ---- lexer ---- */

static bool is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

static void lex_error(Parser *P, Token *t, const char *fmt, ...) {
  t->kind = T_BAD;
  va_list ap;
  va_start(ap, fmt);
  Buf b = {0};
  buf_vprintf(&b, fmt, ap);
  va_end(ap);
  err_at(P, t->line, t->col, "%s", b.data);
  buf_free(&b);
}

static void lex_skip_blank(Parser *P) {
  for (;;) {
    char c = *P->cur;
    if (c == ' ' || c == '\t' || c == '\r')
      P->cur++;
    else if (c == '#')
      while (*P->cur && *P->cur != '\n')
        P->cur++;
    else
      return;
  }
}

/* Does a number start here? Digits, or a sign or '.' followed by one. "-inf" counts too,
 * so negative infinities in const data can be written. */
static bool number_starts(const char *s) {
  bool sign = *s == '-' || *s == '+';
  if (sign) s++;
  if (is_digit(*s) || (*s == '.' && is_digit(s[1]))) return true;
  return sign && !strncmp(s, "inf", 3) && !is_ident_char(s[3]);
}

static void lex_number(Parser *P, Token *t) {
  const char *s = P->cur, *q = s;
  bool is_int = true;
  if (*q == '-' || *q == '+') q++;
  if (!strncmp(q, "inf", 3)) {
    P->cur = q + 3;
    t->kind = T_NUM;
    t->num = *s == '-' ? -HUGE_VAL : HUGE_VAL;
    return;
  }
  while (is_digit(*q))
    q++;
  if (*q == '.') {
    is_int = false;
    for (q++; is_digit(*q); q++) {
    }
  }
  if ((*q == 'e' || *q == 'E') && (is_digit(q[1]) || ((q[1] == '-' || q[1] == '+') && is_digit(q[2])))) {
    is_int = false;
    for (q += 2; is_digit(*q); q++) {
    }
  }
  P->cur = q;
  if (is_ident_char(*q) || *q == '.') {
    while (is_ident_char(*P->cur) || *P->cur == '.')
      P->cur++;
    int n = (int)(P->cur - s);
    lex_error(P, t, "invalid number '%.*s'", n > 40 ? 40 : n, s);
    return;
  }
  char *text = arena_strndup(P->a, s, (size_t)(q - s));
  t->kind = T_NUM;
  t->is_int = is_int;
  errno = 0;
  if (is_int) {
    t->inum = strtoll(text, NULL, 10);
    t->num = *text == '-' && t->inum == 0 ? -0.0 : (double)t->inum; /* keep -0 for float data */
  } else {
    t->num = strtod(text, NULL);
  }
  /* ERANGE with a finite result is a harmless underflow to zero or a denormal. */
  if (errno == ERANGE && (is_int || isinf(t->num))) lex_error(P, t, "number out of range");
}

static void lex_string(Parser *P, Token *t) {
  Buf b = {0};
  buf_puts(&b, "");
  const char *q = P->cur + 1;
  for (; *q && *q != '"' && *q != '\n'; q++) {
    char c = *q;
    if (c == '\\' && q[1] && q[1] != '\n') {
      q++;
      c = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q;
    }
    buf_printf(&b, "%c", c);
  }
  if (*q != '"') {
    P->cur = q;
    lex_error(P, t, "unterminated string");
  } else {
    P->cur = q + 1;
    t->kind = T_STRING;
    t->str = arena_strndup(P->a, b.data, b.len);
  }
  buf_free(&b);
}

static Token lex_one(Parser *P) {
  lex_skip_blank(P);
  Token t = {0};
  t.p = P->cur;
  t.line = P->line;
  t.col = (int)(P->cur - P->line_start) + 1;
  char c = *P->cur;
  if (!c) {
    t.kind = T_EOF;
  } else if (c == '\n') {
    t.kind = T_NEWLINE;
    P->cur++;
    P->line++;
    P->line_start = P->cur;
  } else if (is_ident_start(c)) {
    while (is_ident_char(*P->cur))
      P->cur++;
    t.kind = T_IDENT;
    t.str = arena_strndup(P->a, t.p, (size_t)(P->cur - t.p));
  } else if (number_starts(P->cur)) {
    lex_number(P, &t);
  } else if (c == '"') {
    lex_string(P, &t);
  } else if (c == '<' && P->cur[1] == '-') {
    t.kind = T_ARROW;
    P->cur += 2;
  } else if (strchr("=,()[]{}:", c)) {
    t.kind = T_PUNCT;
    t.ch = c;
    P->cur++;
  } else {
    P->cur++;
    if (c > 32 && c < 127)
      lex_error(P, &t, "unexpected character '%c'", c);
    else
      lex_error(P, &t, "unexpected byte 0x%02x", (unsigned char)c);
  }
  t.len = (int)(P->cur - t.p);
  return t;
}

/* ---- token access ---- */

/* Tokens live in the arena so pointers to them stay valid while more are lexed. */
static Token *peek_at(Parser *P, int k) {
  while (P->ntoks <= P->pos + k) {
    if (P->ntoks && P->toks[P->ntoks - 1]->kind == T_EOF) return P->toks[P->ntoks - 1];
    if (P->ntoks == P->captoks) {
      P->captoks = P->captoks ? P->captoks * 2 : 256;
      P->toks = xrealloc(P->toks, sizeof(Token *) * (size_t)P->captoks);
    }
    Token *t = arena_alloc(P->a, sizeof(Token));
    *t = lex_one(P);
    P->toks[P->ntoks++] = t;
  }
  return P->toks[P->pos + k];
}

static Token *peek(Parser *P) { return peek_at(P, 0); }

static Token *next(Parser *P) {
  Token *t = peek(P);
  if (t->kind != T_EOF) P->pos++;
  return t;
}

static bool is_punct(const Token *t, char c) { return t->kind == T_PUNCT && t->ch == c; }
static bool is_eol(const Token *t) { return t->kind == T_NEWLINE || t->kind == T_EOF; }
static bool is_word(const Token *t, const char *w) { return t->kind == T_IDENT && !strcmp(t->str, w); }

/* A short description of a token for messages. */
static const char *tok_desc(Parser *P, const Token *t) {
  switch (t->kind) {
  case T_EOF:
    return "end of file";
  case T_NEWLINE:
    return "end of line";
  case T_STRING:
    return "a string";
  default:
    return arena_printf(P->a, "'%.*s'", t->len > 40 ? 40 : t->len, t->p);
  }
}

static void skip_newlines(Parser *P) {
  while (peek(P)->kind == T_NEWLINE)
    next(P);
}

/* Error recovery: drop the rest of the statement's line. */
static void skip_line(Parser *P) {
  while (!is_eol(peek(P)))
    next(P);
}

static bool expect_punct(Parser *P, char c, const char *where) {
  Token *t = peek(P);
  if (is_punct(t, c)) {
    next(P);
    return true;
  }
  err_tok(P, t, "expected '%c' %s, found %s", c, where, tok_desc(P, t));
  return false;
}

static bool expect_ident(Parser *P, const char *what, Token **out) {
  Token *t = peek(P);
  if (t->kind != T_IDENT) {
    err_tok(P, t, "expected %s, found %s", what, tok_desc(P, t));
    return false;
  }
  *out = next(P);
  return true;
}

static bool expect_eol(Parser *P) {
  Token *t = peek(P);
  if (is_eol(t)) return true;
  err_tok(P, t, "expected end of line, found %s", tok_desc(P, t));
  return false;
}

/* ---- expressions ---- */

static Expr *parse_expr(Parser *P, int depth);

static Expr *expr_new(Parser *P, ExprKind k, const Token *t) {
  Expr *e = arena_alloc(P->a, sizeof(Expr));
  e->kind = k;
  e->line = t->line;
  e->col = t->col;
  return e;
}

static void *vec_to_arena(Arena *a, Vec *v) {
  void **p = arena_alloc(a, sizeof(void *) * (size_t)(v->len ? v->len : 1));
  if (v->len) memcpy(p, v->items, sizeof(void *) * (size_t)v->len);
  vec_free(v);
  return p;
}

/* After an item of a bracketed list: consumes ',' (true, *done false) or the closing
 * bracket (*done true). On a line break where the list cannot go on, reports it at
 * that line's end and rewinds there, so recovery resumes with the next line. */
static bool list_sep(Parser *P, char close, bool *done) {
  int nl = peek(P)->kind == T_NEWLINE ? P->pos : -1;
  skip_newlines(P);
  Token *t = peek(P);
  *done = is_punct(t, close);
  if (*done) {
    next(P);
    return true;
  }
  if (is_punct(t, ',')) {
    next(P);
    skip_newlines(P);
    if (is_punct(peek(P), close)) { /* trailing comma */
      next(P);
      *done = true;
    }
    return true;
  }
  if (nl >= 0) {
    P->pos = nl;
    t = peek(P);
    err_tok(P, t, "expected '%c' before end of line", close);
  } else if (t->kind == T_EOF) {
    err_tok(P, t, "expected '%c' before end of file", close);
  } else {
    err_tok(P, t, "expected ',' or '%c', found %s", close, tok_desc(P, t));
  }
  return false;
}

/* Items of `[a, b]` or `f(a, b)`; the opening bracket is the current token. */
static bool parse_items(Parser *P, Expr *e, char close, int depth) {
  next(P);
  skip_newlines(P);
  Vec items = {0};
  bool done = is_punct(peek(P), close), ok = true;
  if (done) next(P);
  while (!done) {
    Expr *it = parse_expr(P, depth);
    if (!it || !list_sep(P, close, &done)) {
      ok = false;
      break;
    }
    vec_push(&items, it);
  }
  e->nitems = items.len;
  e->items = vec_to_arena(P->a, &items);
  return ok;
}

static Expr *parse_expr(Parser *P, int depth) {
  Token *t = peek(P);
  if (depth >= MAX_DEPTH) {
    err_tok(P, t, "lists nested too deeply (more than %d levels)", MAX_DEPTH);
    return NULL;
  }
  Expr *e;
  if (t->kind == T_NUM) {
    e = expr_new(P, EX_NUM, t);
    e->num = t->num;
    e->inum = t->inum;
    e->is_int = t->is_int;
  } else if (t->kind == T_STRING || t->kind == T_IDENT) {
    e = expr_new(P, t->kind == T_STRING ? EX_STRING : EX_IDENT, t);
    e->ident = t->str;
    if (t->kind == T_IDENT && is_punct(peek_at(P, 1), '(')) {
      e->kind = EX_CALL;
      next(P);
      return parse_items(P, e, ')', depth + 1) ? e : NULL;
    }
  } else if (is_punct(t, '[')) {
    e = expr_new(P, EX_LIST, t);
    return parse_items(P, e, ']', depth + 1) ? e : NULL;
  } else {
    err_tok(P, t, "expected a value (number, name, string, list or call), found %s", tok_desc(P, t));
    return NULL;
  }
  next(P);
  return e;
}

/* ---- layer and train lines ---- */

static bool kw_is_dup(Parser *P, Vec *kws, const Token *key) {
  for (int i = 0; i < kws->len; i++) {
    KwArg *k = kws->items[i];
    if (!strcmp(k->key, key->str)) {
      err_tok(P, key, "duplicate argument '%s' (first at %d:%d)", key->str, k->line, k->col);
      return true;
    }
  }
  return false;
}

/* `kind arg... key=value...` up to the end of the line. */
static bool parse_line(Parser *P, Line *l) {
  Token *t;
  if (!expect_ident(P, "a name", &t)) return false;
  l->kind = t->str;
  l->line = t->line;
  l->col = t->col;
  Vec args = {0}, kws = {0};
  bool ok = true;
  while (ok && !is_eol(peek(P))) {
    t = peek(P);
    if (t->kind == T_IDENT && is_punct(peek_at(P, 1), '=')) {
      next(P);
      next(P);
      KwArg *k = arena_alloc(P->a, sizeof(KwArg));
      k->key = t->str;
      k->line = t->line;
      k->col = t->col;
      ok = !kw_is_dup(P, &kws, t) && (k->val = parse_expr(P, 0)) != NULL;
      vec_push(&kws, k);
    } else if (kws.len) {
      err_tok(P, t, "positional argument %s after keyword arguments", tok_desc(P, t));
      ok = false;
    } else {
      Expr *e = parse_expr(P, 0);
      ok = e != NULL;
      vec_push(&args, e);
    }
  }
  l->nargs = args.len;
  l->args = (Expr **)vec_to_arena(P->a, &args);
  l->nkw = kws.len;
  l->kw = arena_alloc(P->a, sizeof(KwArg) * (size_t)(kws.len ? kws.len : 1));
  l->asked = arena_alloc(P->a, sizeof(KwAsked));
  for (int i = 0; i < kws.len; i++)
    l->kw[i] = *(KwArg *)kws.items[i];
  vec_free(&kws);
  return ok;
}

/* Appends to a (ptr, len, cap) array of lines in the arena, doubling its capacity so
 * that a file of n lines costs O(n) time and memory (the old copies stay in the arena). */
static Line *line_append(Parser *P, Line **arr, int *n, int *cap) {
  if (*n == *cap) {
    *cap = *cap ? 2 * *cap : 16;
    Line *a = arena_alloc(P->a, sizeof(Line) * (size_t)*cap);
    if (*n) memcpy(a, *arr, sizeof(Line) * (size_t)*n);
    *arr = a;
  }
  return &(*arr)[(*n)++];
}

static bool parse_layer(Parser *P) {
  Line l = {0};
  if (!parse_line(P, &l)) return false;
  *line_append(P, &P->mf->layers, &P->mf->nlayers, &P->mf->caplayers) = l;
  return true;
}

static bool parse_train_line(Parser *P) {
  Line l = {0};
  if (!parse_line(P, &l)) return false;
  *line_append(P, &P->mf->train, &P->mf->ntrain, &P->mf->captrain) = l;
  return true;
}

/* `NAME = expr` in the data section. */
static bool parse_data_line(Parser *P) {
  ModelFile *mf = P->mf;
  Token *t;
  if (!expect_ident(P, "a data name", &t)) return false;
  for (int i = 0; i < mf->ndata; i++)
    if (!strcmp(mf->data[i].key, t->str)) {
      err_tok(P, t, "duplicate data entry '%s' (first at %d:%d)", t->str, mf->data[i].line, mf->data[i].col);
      return false;
    }
  if (!expect_punct(P, '=', "after the data name")) return false;
  Expr *e = parse_expr(P, 0);
  if (!e || !expect_eol(P)) return false;
  KwArg *a = arena_alloc(P->a, sizeof(KwArg) * (size_t)(mf->ndata + 1));
  if (mf->ndata) memcpy(a, mf->data, sizeof(KwArg) * (size_t)mf->ndata);
  a[mf->ndata] = (KwArg){t->str, e, t->line, t->col, false};
  mf->data = a;
  mf->ndata++;
  return true;
}

/* ---- graph section: types, values, inits, consts ---- */

static bool parse_dim(Parser *P, int64_t *d) {
  Token *t = peek(P);
  if (is_word(t, "N")) {
    *d = DIM_BATCH;
  } else if (t->kind == T_NUM && t->is_int && t->inum >= 0) {
    if (t->inum > MAX_DIM) {
      err_tok(P, t, "number out of range (a dimension is at most 2^40)");
      return false;
    }
    *d = t->inum;
  } else {
    err_tok(P, t, "expected a dimension (an integer or N), found %s", tok_desc(P, t));
    return false;
  }
  next(P);
  return true;
}

/* Later passes multiply extents in int64; keep every product far from overflow. */
static bool check_numel(Parser *P, const Token *t, Shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++) {
    int64_t d = s.d[i] == DIM_BATCH ? 1 : s.d[i];
    if (d && n > MAX_DIM / d) {
      err_tok(P, t, "number out of range (a tensor has at most 2^40 elements per sample)");
      return false;
    }
    n *= d;
  }
  return true;
}

/* `f32[N,784]`; `f32[]` is a scalar. A type stays on one line. */
static bool parse_type(Parser *P, DType *dt, Shape *s) {
  Token *t;
  if (!expect_ident(P, "a dtype (f32, i64, ...)", &t)) return false;
  if (!dtype_from_name(t->str, dt)) {
    err_tok(P, t, "unknown dtype '%s'", t->str);
    return false;
  }
  if (!expect_punct(P, '[', "after the dtype (write f32[] for a scalar)")) return false;
  *s = shape_scalar();
  if (is_punct(peek(P), ']')) {
    next(P);
    return true;
  }
  for (;;) {
    if (s->rank == MAX_RANK) {
      err_tok(P, peek(P), "too many dimensions (at most %d)", MAX_RANK);
      return false;
    }
    if (!parse_dim(P, &s->d[s->rank++])) return false;
    t = next(P);
    if (is_punct(t, ']')) return check_numel(P, t, *s);
    if (is_punct(t, ',')) continue;
    if (is_eol(t))
      err_tok(P, t, "expected ']' before end of line");
    else
      err_tok(P, t, "expected ',' or ']' in the shape, found %s", tok_desc(P, t));
    return false;
  }
}

static Value *lookup(Parser *P, const Token *t) {
  Value *v = graph_find(P->g, t->str);
  if (!v) err_tok(P, t, "undefined value '%s'", t->str);
  return v;
}

static bool check_new_name(Parser *P, const Token *t) {
  Value *v = graph_find(P->g, t->str);
  if (!v) return true;
  err_tok(P, t, "value '%s' already defined at %d:%d", t->str, v->line, v->col);
  return false;
}

static Value *define(Parser *P, const Token *name, ValueKind k, DType dt, Shape s) {
  Value *v = value_new(P->g, name->str, k, dt, s);
  v->line = name->line;
  v->col = name->col;
  return v;
}

static bool expr_number(Parser *P, const Expr *e, double *out) {
  if (e->kind != EX_NUM || !isfinite(e->num)) {
    err_at(P, e->line, e->col, "expected a finite number");
    return false;
  }
  *out = e->num;
  return true;
}

/* `= glorot_uniform`, `= uniform(0, 1)`, `= normal(0, 0.05)`, `= constant(0.1)`. */
static bool parse_init(Parser *P, Init *init) {
  Expr *e = parse_expr(P, 0);
  if (!e) return false;
  if (e->kind != EX_IDENT && e->kind != EX_CALL) {
    err_at(P, e->line, e->col, "expected an initializer such as zeros or uniform(0, 1)");
    return false;
  }
  if (!init_from_name(e->ident, &init->kind)) {
    err_at(P, e->line, e->col, "unknown initializer '%s'", e->ident);
    return false;
  }
  int want = init->kind == INIT_UNIFORM || init->kind == INIT_NORMAL ? 2 : init->kind == INIT_CONSTANT;
  static const char *const how[] = {"no arguments", "1 argument (value)", "2 arguments"};
  if (e->nitems != want || (want && e->kind != EX_CALL)) {
    err_at(P, e->line, e->col, "initializer '%s' takes %s", e->ident, how[want]);
    return false;
  }
  init->a = init->b = 0;
  if (want >= 1 && !expr_number(P, e->items[0], &init->a)) return false;
  if (want >= 2 && !expr_number(P, e->items[1], &init->b)) return false;
  return true;
}

/* Flattens nested lists of numbers into `out` (NULL: just count). */
static bool flatten(Parser *P, const Expr *e, const Expr **out, int64_t *n) {
  if (e->kind == EX_LIST) {
    for (int i = 0; i < e->nitems; i++)
      if (!flatten(P, e->items[i], out, n)) return false;
    return true;
  }
  bool special = e->kind == EX_IDENT && (!strcmp(e->ident, "inf") || !strcmp(e->ident, "nan"));
  if (e->kind != EX_NUM && !special) {
    err_at(P, e->line, e->col, "expected a number in the const data");
    return false;
  }
  if (out) out[*n] = e;
  (*n)++;
  return true;
}

static bool int_in_range(Parser *P, const Expr *e, int64_t lo, int64_t hi, DType dt) {
  if (e->kind != EX_NUM || !e->is_int) {
    err_at(P, e->line, e->col, "expected an integer for %s data", dtype_name(dt));
    return false;
  }
  if (e->inum < lo || e->inum > hi) {
    err_at(P, e->line, e->col, "value %lld out of range for %s", (long long)e->inum, dtype_name(dt));
    return false;
  }
  return true;
}

/* Stores one element as the dtype's C type. */
static bool store_elem(Parser *P, const Expr *e, DType dt, void *data, int64_t i) {
  double f = e->kind == EX_NUM ? e->num : !strcmp(e->ident, "inf") ? HUGE_VAL : NAN;
  switch (dt) {
  case DT_F32:
    ((float *)data)[i] = (float)f;
    return true;
  case DT_F64:
    ((double *)data)[i] = f;
    return true;
  case DT_I8:
    if (!int_in_range(P, e, INT8_MIN, INT8_MAX, dt)) return false;
    ((int8_t *)data)[i] = (int8_t)e->inum;
    return true;
  case DT_I16:
    if (!int_in_range(P, e, INT16_MIN, INT16_MAX, dt)) return false;
    ((int16_t *)data)[i] = (int16_t)e->inum;
    return true;
  case DT_I32:
    if (!int_in_range(P, e, INT32_MIN, INT32_MAX, dt)) return false;
    ((int32_t *)data)[i] = (int32_t)e->inum;
    return true;
  case DT_I64:
    if (!int_in_range(P, e, INT64_MIN, INT64_MAX, dt)) return false;
    ((int64_t *)data)[i] = e->inum;
    return true;
  case DT_U8:
    if (!int_in_range(P, e, 0, UINT8_MAX, dt)) return false;
    ((uint8_t *)data)[i] = (uint8_t)e->inum;
    return true;
  case DT_U16:
    if (!int_in_range(P, e, 0, UINT16_MAX, dt)) return false;
    ((uint16_t *)data)[i] = (uint16_t)e->inum;
    return true;
  case DT_U32:
    if (!int_in_range(P, e, 0, UINT32_MAX, dt)) return false;
    ((uint32_t *)data)[i] = (uint32_t)e->inum;
    return true;
  case DT_U64:
    if (!int_in_range(P, e, 0, INT64_MAX, dt)) return false; /* exact via int64 only */
    ((uint64_t *)data)[i] = (uint64_t)e->inum;
    return true;
  case DT_BOOL:
    if (!int_in_range(P, e, 0, 1, dt)) return false;
    ((uint8_t *)data)[i] = (uint8_t)e->inum;
    return true;
  default:
    err_at(P, e->line, e->col, "const data of dtype %s is not supported", dtype_name(dt));
    return false;
  }
}

static bool parse_const_data(Parser *P, Value *v, const Token *name) {
  Expr *e = parse_expr(P, 0);
  int64_t n = 0;
  if (!e || !flatten(P, e, NULL, &n)) return false;
  int64_t want = shape_numel_static(v->shape); /* bounded by check_numel */
  if (n != want) {
    err_at(P, e->line, e->col, "const '%s' has %lld element%s but %lld value%s given", name->str, (long long)want,
           want == 1 ? "" : "s", (long long)n, n == 1 ? " is" : "s are");
    return false;
  }
  const Expr **elems = arena_alloc(P->a, sizeof(Expr *) * (size_t)(n ? n : 1));
  n = 0;
  flatten(P, e, elems, &n);
  v->data = arena_alloc(&P->g->arena, (size_t)(dtype_size(v->dtype) * (n ? n : 1)));
  for (int64_t i = 0; i < n; i++)
    if (!store_elem(P, elems[i], v->dtype, v->data, i)) return false;
  return true;
}

/* `input|param|state|const NAME: TYPE [= init or data]`, a param perhaps followed by `frozen`. */
static bool parse_decl(Parser *P, ValueKind k) {
  Token *kw = next(P), *name;
  if (!expect_ident(P, "a value name", &name) || !check_new_name(P, name)) return false;
  DType dt;
  Shape s;
  if (!expect_punct(P, ':', "and a type after the name (x: f32[N,784])") || !parse_type(P, &dt, &s)) return false;
  if (k != VK_INPUT && shape_has_batch(s)) {
    err_tok(P, name, "a %s cannot have the batch dimension N", kw->str);
    return false;
  }
  Value tmp = {.kind = k};
  tmp.init.kind = s.rank >= 2 ? INIT_GLOROT_UNIFORM : INIT_ZEROS;
  bool has_eq = is_punct(peek(P), '=');
  if (has_eq && k == VK_INPUT) {
    err_tok(P, peek(P), "an input has no initial value");
    return false;
  }
  if (!has_eq && k == VK_CONST) {
    err_tok(P, peek(P), "expected '=' and the data of const '%s', found %s", name->str, tok_desc(P, peek(P)));
    return false;
  }
  if (has_eq) next(P);
  if (has_eq && k != VK_CONST && !parse_init(P, &tmp.init)) return false;
  Value *v = define(P, name, k, dt, s);
  v->init = tmp.init;
  if (k == VK_CONST && !parse_const_data(P, v, name)) return false;
  if (k == VK_PARAM && is_word(peek(P), "frozen")) next(P), v->frozen = true; /* trains no further */
  return expect_eol(P);
}

/* `output v`, `loss v`. */
static bool parse_use(Parser *P) {
  Token *kw = next(P), *name = next(P);
  Value *v = lookup(P, name);
  if (!v) return false;
  if (kw->str[0] == 'o') {
    graph_add_output(P->g, v);
  } else if (P->g->loss) {
    err_tok(P, kw, "duplicate 'loss' statement (the loss is already '%s')", P->g->loss->name);
    return false;
  } else {
    P->g->loss = v;
  }
  return expect_eol(P);
}

/* `grad PARAM = G`, `assign DST <- SRC`. */
static bool parse_link(Parser *P) {
  Token *kw = next(P), *dst_t = next(P), *src_t;
  bool grad = kw->str[0] == 'g';
  Value *dst = lookup(P, dst_t);
  if (!dst) return false;
  if (dst->kind != VK_PARAM && (grad || dst->kind != VK_STATE)) {
    err_tok(P, dst_t, "'%s' target '%s' must be a param%s", kw->str, dst_t->str, grad ? "" : " or state");
    return false;
  }
  if (grad && !expect_punct(P, '=', "after the param")) return false;
  if (!grad && peek(P)->kind != T_ARROW) {
    err_tok(P, peek(P), "expected '<-' after the target, found %s", tok_desc(P, peek(P)));
    return false;
  }
  if (!grad) next(P);
  Value *src;
  if (!expect_ident(P, "a value name", &src_t) || !(src = lookup(P, src_t))) return false;
  if (grad)
    graph_add_grad(P->g, dst, src);
  else
    graph_add_assign(P->g, dst, src);
  return expect_eol(P);
}

/* ---- graph section: node statements ---- */

typedef struct {
  Token *name;
  bool typed;
  DType dt;
  Shape shape;
} OutDecl;

/* `a: f32[N,2], b = ` : output names with optional types, up to and including '='. */
static bool parse_outs(Parser *P, OutDecl *outs, int *nouts, int max) {
  for (;;) {
    OutDecl o = {0};
    if (!expect_ident(P, "a value name", &o.name) || !check_new_name(P, o.name)) return false;
    for (int i = 0; i < *nouts; i++)
      if (!strcmp(outs[i].name->str, o.name->str)) {
        err_tok(P, o.name, "value '%s' already defined at %d:%d", o.name->str, outs[i].name->line, outs[i].name->col);
        return false;
      }
    if (is_punct(peek(P), ':')) {
      next(P);
      if (!parse_type(P, &o.dt, &o.shape)) return false;
      o.typed = true;
    }
    if (*nouts == max) {
      err_tok(P, o.name, "too many outputs (at most %d)", max);
      return false;
    }
    outs[(*nouts)++] = o;
    Token *t = next(P);
    if (is_punct(t, '=')) return true;
    if (!is_punct(t, ',')) {
      err_tok(P, t, "expected ',', ':' or '=' after output '%s', found %s", o.name->str, tok_desc(P, t));
      return false;
    }
  }
}

/* Checks an attribute's Expr can be stored: number, name, string or flat number list. */
static bool attr_ok(Parser *P, const KwArg *k) {
  const Expr *e = k->val;
  bool ok = e->kind != EX_CALL;
  for (int i = 0; ok && e->kind == EX_LIST && i < e->nitems; i++)
    ok = e->items[i]->kind == EX_NUM;
  for (int i = 0; ok && e->kind == EX_LIST && i < e->nitems; i++)
    ok = isfinite(e->items[i]->num);
  if (ok && e->kind == EX_NUM) ok = isfinite(e->num);
  if (!ok)
    err_at(P, e->line, e->col, "attribute '%s' must be a finite number, a name, a string or a flat list of numbers",
           k->key);
  return ok;
}

static void attr_set(Parser *P, Node *n, const KwArg *k) {
  const Expr *e = k->val;
  if (e->kind == EX_NUM && e->is_int) {
    node_set_int(P->g, n, k->key, e->inum);
  } else if (e->kind == EX_NUM) {
    node_set_float(P->g, n, k->key, e->num);
  } else if (e->kind == EX_IDENT || e->kind == EX_STRING) {
    node_set_string(P->g, n, k->key, e->ident);
  } else {
    bool all_int = true;
    for (int i = 0; i < e->nitems; i++)
      all_int = all_int && e->items[i]->is_int;
    int64_t *iv = arena_alloc(P->a, sizeof(int64_t) * (size_t)(e->nitems + 1));
    double *fv = arena_alloc(P->a, sizeof(double) * (size_t)(e->nitems + 1));
    for (int i = 0; i < e->nitems; i++) {
      iv[i] = e->items[i]->inum;
      fv[i] = e->items[i]->num;
    }
    if (all_int)
      node_set_ints(P->g, n, k->key, iv, e->nitems);
    else
      node_set_floats(P->g, n, k->key, fv, e->nitems);
  }
}

/* The argument list `(x, w, transb=1)`; the '(' is the current token. */
static bool parse_args(Parser *P, Vec *ins, Vec *kws) {
  next(P);
  skip_newlines(P);
  bool done = is_punct(peek(P), ')');
  if (done) next(P);
  while (!done) {
    Token *t = peek(P);
    if (t->kind == T_IDENT && is_punct(peek_at(P, 1), '=')) {
      next(P);
      next(P);
      KwArg *k = arena_alloc(P->a, sizeof(KwArg));
      *k = (KwArg){t->str, NULL, t->line, t->col, false};
      if (kw_is_dup(P, kws, t) || !(k->val = parse_expr(P, 0)) || !attr_ok(P, k)) return false;
      vec_push(kws, k);
    } else if (kws->len) {
      err_tok(P, t, "input %s after attributes (inputs come first)", tok_desc(P, t));
      return false;
    } else {
      Token *name;
      Value *v;
      if (!expect_ident(P, "an input value name", &name) || !(v = lookup(P, name))) return false;
      vec_push(ins, v);
    }
    if (!list_sep(P, ')', &done)) return false;
  }
  return true;
}

static bool check_arity(Parser *P, const Token *op_t, OpKind op, int nin, int nout) {
  const OpDef *d = &op_table[op];
  if (nin < d->min_in || nin > d->max_in) {
    if (d->min_in == d->max_in)
      err_tok(P, op_t, "'%s' takes %d input%s, got %d", d->name, d->min_in, d->min_in == 1 ? "" : "s", nin);
    else
      err_tok(P, op_t, "'%s' takes %d to %d inputs, got %d", d->name, d->min_in, d->max_in, nin);
    return false;
  }
  if (!op_nout_ok(d, nout)) {
    err_tok(P, op_t, "'%s' has %d output%s, but %d name%s written", d->name, d->nout, d->nout == 1 ? "" : "s", nout,
            nout == 1 ? " is" : "s are");
    return false;
  }
  return true;
}

#define MAX_NODE_OUTS 4096 /* unstack of a long sequence */

/* `outs = op(inputs, key=value...)`. */
static bool parse_node_into(Parser *P, OutDecl *outs) {
  Token *start = peek(P), *op_t;
  int nouts = 0;
  OpKind op;
  if (!parse_outs(P, outs, &nouts, MAX_NODE_OUTS) || !expect_ident(P, "an op name", &op_t)) return false;
  if (!op_from_name(op_t->str, &op)) {
    err_tok(P, op_t, "unknown op '%s'", op_t->str);
    return false;
  }
  if (!is_punct(peek(P), '(')) return expect_punct(P, '(', "after the op name");
  Vec ins = {0}, kws = {0};
  bool ok = parse_args(P, &ins, &kws) && check_arity(P, op_t, op, ins.len, nouts) && expect_eol(P);
  if (ok) {
    Node *n = node_new(P->g, op, ins.len, (Value **)ins.items, nouts);
    n->line = start->line;
    n->col = start->col;
    for (int i = 0; i < nouts; i++) {
      Value *v = n->out[i];
      value_rename(P->g, v, outs[i].name->str); /* unique: checked above */
      v->line = outs[i].name->line;
      v->col = outs[i].name->col;
      v->annotated = outs[i].typed;
      if (outs[i].typed) {
        v->dtype = outs[i].dt;
        v->shape = outs[i].shape;
      }
    }
    for (int i = 0; i < kws.len; i++)
      attr_set(P, n, kws.items[i]);
  }
  vec_free(&ins);
  vec_free(&kws);
  return ok;
}

static bool parse_node(Parser *P) {
  OutDecl *outs = xmalloc(sizeof(OutDecl) * MAX_NODE_OUTS);
  bool ok = parse_node_into(P, outs);
  free(outs);
  return ok;
}

static bool parse_stmt(Parser *P) {
  Token *t = peek(P);
  if (t->kind != T_IDENT) {
    err_tok(P, t, "expected a graph statement, found %s", tok_desc(P, t));
    return false;
  }
  if (peek_at(P, 1)->kind == T_IDENT) {
    const char *w = t->str;
    if (!strcmp(w, "input")) return parse_decl(P, VK_INPUT);
    if (!strcmp(w, "param")) return parse_decl(P, VK_PARAM);
    if (!strcmp(w, "state")) return parse_decl(P, VK_STATE);
    if (!strcmp(w, "const")) return parse_decl(P, VK_CONST);
    if (!strcmp(w, "output") || !strcmp(w, "loss")) return parse_use(P);
    if (!strcmp(w, "grad") || !strcmp(w, "assign")) return parse_link(P);
    err_tok(P, t,
            "unknown statement '%s' (expected input, param, state, const, output, loss, grad, assign "
            "or 'name = op(...)')",
            w);
    return false;
  }
  return parse_node(P);
}

/* ---- sections ---- */

static bool is_section_word(const Token *t) {
  return is_word(t, "model") || is_word(t, "graph") || is_word(t, "train") || is_word(t, "data");
}

/* Inside a section, a line starting a new section means the '}' was forgotten. Graph
 * statements such as `data = relu(x)` are not section starts. */
static bool section_starts(Parser *P) {
  Token *t1 = peek_at(P, 1);
  return is_section_word(peek(P)) && (t1->kind == T_IDENT || is_punct(t1, '{'));
}

typedef bool (*LineFn)(Parser *P);

/* Lines until the closing '}' (the '{' and its end of line are consumed already). */
static void parse_body(Parser *P, const char *what, const Token *open, LineFn fn) {
  int line = open->line, col = open->col;
  for (;;) {
    skip_newlines(P);
    Token *t = peek(P);
    if (is_punct(t, '}')) {
      next(P);
      if (!expect_eol(P)) skip_line(P);
      return;
    }
    if (t->kind == T_EOF || section_starts(P)) {
      err_tok(P, t, "expected '}' to close '%s' section opened at %d:%d", what, line, col);
      return;
    }
    if (!fn(P)) skip_line(P);
  }
}

/* `{` and the end of its line. */
static bool open_brace(Parser *P, const char *what) {
  Token *t = peek(P);
  if (!is_punct(t, '{')) {
    err_tok(P, t, "expected '{' after '%s', found %s", what, tok_desc(P, t));
    return false;
  }
  next(P);
  return expect_eol(P);
}

static bool parse_model_line(Parser *P) {
  ModelFile *mf = P->mf;
  Token *kw = next(P), *name;
  if (P->model_line) {
    err_tok(P, kw, "duplicate 'model' line (first at %d:%d)", P->model_line, P->model_col);
    return false;
  }
  P->model_line = kw->line;
  P->model_col = kw->col;
  if (!expect_ident(P, "the model name", &name) || !expect_eol(P)) return false;
  mf->name = name->str;
  mf->name_line = name->line;
  mf->name_col = name->col;
  return true;
}

static bool parse_graph_section(Parser *P) {
  ModelFile *mf = P->mf;
  Token *kw = next(P), *name;
  if (!expect_ident(P, "the graph name", &name) || !open_brace(P, "graph NAME")) return false;
  if (mf->graph) err_tok(P, kw, "duplicate 'graph' section");
  P->g = graph_new(name->str);
  P->g->src = &mf->src;
  parse_body(P, "graph", kw, parse_stmt);
  if (mf->graph) {
    graph_free(P->g); /* parsed only to report its errors */
  } else {
    mf->graph = P->g;
    if (!P->model_line) mf->name = name->str, mf->name_line = name->line, mf->name_col = name->col;
  }
  P->g = NULL;
  return true;
}

static bool parse_simple_section(Parser *P, bool *seen, int *at, LineFn fn) {
  Token *kw = next(P);
  if (!open_brace(P, kw->str)) return false;
  if (*seen) err_tok(P, kw, "duplicate '%s' section (first at %d:%d)", kw->str, at[0], at[1]);
  *seen = true;
  at[0] = kw->line;
  at[1] = kw->col;
  parse_body(P, kw->str, kw, fn);
  return true;
}

static void parse_file(Parser *P) {
  bool seen_data = false;
  int train_at[2] = {0, 0}, data_at[2] = {0, 0};
  for (;;) {
    skip_newlines(P);
    Token *t = peek(P);
    if (t->kind == T_EOF) return;
    bool ok;
    if (is_word(t, "model"))
      ok = parse_model_line(P);
    else if (is_word(t, "graph"))
      ok = parse_graph_section(P);
    else if (is_word(t, "train"))
      ok = parse_simple_section(P, &P->mf->has_train, train_at, parse_train_line);
    else if (is_word(t, "data"))
      ok = parse_simple_section(P, &seen_data, data_at, parse_data_line);
    else if (t->kind == T_IDENT)
      ok = parse_layer(P);
    else {
      err_tok(P, t, "expected a layer line or a section (model, graph, train, data), found %s", tok_desc(P, t));
      ok = false;
    }
    if (!ok) skip_line(P);
  }
}

/* ---- entry points ---- */

ModelFile *model_file_parse_text(const char *path, const char *text, Arena *a) {
  ModelFile *mf = arena_alloc(a, sizeof(ModelFile));
  mf->src.path = arena_strdup(a, path);
  mf->src.text = arena_strdup(a, text);
  Parser P = {.mf = mf, .a = a, .cur = mf->src.text, .line_start = mf->src.text, .line = 1};
  parse_file(&P);
  free(P.toks);
  if (mf->src.nerrors) {
    error_summary(&mf->src); /* meaning is not looked at after syntax errors: lines may be missing */
    graph_free(mf->graph);
    mf->graph = NULL;
    return NULL;
  }
  return mf;
}

ModelFile *model_file_parse(const char *path, Arena *a) {
  size_t len;
  errno = 0;
  char *text = read_whole_file(path, &len);
  if (!text) {
    error_plain("cannot open '%s': %s", path,
                errno == EINVAL ? "not a regular file (a FIFO, socket or device)" : strerror(errno ? errno : EIO));
    return NULL;
  }
  size_t n = strlen(text);
  if (n != len) {
    /* The lexer sees text up to a NUL byte only; say where it is rather than ignore the rest. */
    Source src = {path, text, 0};
    int line = 1, col = 1;
    for (size_t i = 0; i < n; i++, col++)
      if (text[i] == '\n') line++, col = 0;
    error_at(&src, line, col, "unexpected byte 0x00");
    error_summary(&src);
    free(text);
    return NULL;
  }
  ModelFile *mf = model_file_parse_text(path, text, a);
  free(text);
  return mf;
}

const KwArg *line_kw(const Line *l, const char *key) {
  KwAsked *a = l->asked;
  bool seen = false;
  for (int i = 0; a && i < a->n; i++)
    seen = seen || !strcmp(a->keys[i], key);
  if (a && !seen && a->n < 32) a->keys[a->n++] = key;
  for (int i = 0; i < l->nkw; i++)
    if (!strcmp(l->kw[i].key, key)) {
      l->kw[i].used = true;
      return &l->kw[i];
    }
  return NULL;
}
