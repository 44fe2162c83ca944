/* parse.h - the .nn model format and the IR text form (one parser for both).
 *
 * A file is a sequence of sections:
 *   model NAME                       optional; names the model
 *   <layer lines>                    sequential form: `kind args... key=value...`
 *   graph NAME { <IR statements> }   general graph form (also what --emit=ir prints)
 *   train { <lines> }                training configuration, same line syntax as layers
 *   data { NAME = <expr> ... }       small inline data set
 * The parser only checks syntax; model.c gives layer and train lines meaning. */
#ifndef NN2C_PARSE_H
#define NN2C_PARSE_H

#include "ir.h"

typedef enum { EX_NUM, EX_IDENT, EX_STRING, EX_LIST, EX_CALL } ExprKind;

/* A value in a layer/train/data line or an attribute: 3, 1e-3, relu, "x",
 * [1, 2], uniform(0, 1). */
typedef struct Expr {
  ExprKind kind;
  double num;          /* EX_NUM */
  bool is_int;         /* EX_NUM written without '.', 'e' */
  int64_t inum;        /* EX_NUM with is_int: the exact value (num may round) */
  const char *ident;   /* EX_IDENT, EX_STRING, and the callee of EX_CALL */
  struct Expr **items; /* EX_LIST elements, EX_CALL arguments */
  int nitems;
  int line, col;
} Expr;

typedef struct {
  const char *key;
  Expr *val;
  int line, col;
  bool used; /* looked up by the lowering (line_kw); a key nobody read is a misspelling */
} KwArg;

/* The keys a layer's lowering looked up, so a key it never read can be named with
 * the closest known one ("did you mean"). */
typedef struct {
  const char *keys[32];
  int n;
} KwAsked;

/* One line `kind arg arg key=val ...` of the layer list or the train section. */
typedef struct {
  const char *kind;
  Expr **args;
  int nargs;
  KwArg *kw;
  int nkw;
  KwAsked *asked;
  int line, col;
} Line;

typedef struct {
  Source src;       /* the file, for diagnostics */
  const char *name; /* from `model NAME` or the graph's name; NULL if neither */
  int name_line, name_col;
  Line *layers; /* sequential form */
  int nlayers, caplayers;
  Graph *graph; /* graph form, or NULL */
  bool has_train;
  Line *train;
  int ntrain, captrain;
  KwArg *data; /* data section entries (key = name) */
  int ndata;
} ModelFile;

/* Parses a file. On syntax errors reports all it can (file:line:col) and returns NULL. */
ModelFile *model_file_parse(const char *path, Arena *a);
/* Same, from text in memory (path used in messages). */
ModelFile *model_file_parse_text(const char *path, const char *text, Arena *a);

/* Looks up a keyword argument; NULL if absent. Marks it used and records the key as known. */
const KwArg *line_kw(const Line *l, const char *key);

#endif
