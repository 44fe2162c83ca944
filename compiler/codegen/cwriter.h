/* cwriter.h - the C writer shared by the ops' emit hooks and the emitter
 * (cwriter.c says why it sits below ops/ although it lives in codegen/). */
#ifndef NN2C_CWRITER_H
#define NN2C_CWRITER_H

#include "../ir.h"

/* C emission context for one function body. */
typedef struct {
  Buf *b; /* where the body is written */
  Graph *g;
  int indent;            /* current indentation level */
  unsigned char *used;   /* per value id: referenced through emit_ref (may be NULL) */
  Buf *helpers;          /* static functions shared by nodes, written before the step functions (may be NULL) */
  int *marked, *nmarked; /* the ids newly set in used, in order (may be NULL): what to declare and clear */
} Emit;

const char *emit_ref(Emit *e, Value *v);                     /* the value's C pointer name */
char *emit_dim(Emit *e, Value *v, int axis);                 /* "B" or a number */
char *emit_numel(Emit *e, Value *v);                         /* C expression, size_t */
char *emit_numel_range(Emit *e, Value *v, int from, int to); /* product of dims [from,to) */
void emit_line(Emit *e, const char *fmt, ...);
void emit_open(Emit *e, const char *fmt, ...); /* line ending in '{', indents */
void emit_scope_open(Emit *e);                 /* a bare '{' line (a scope for locals), indents */
void emit_close(Emit *e);                      /* '}' and dedent */
char *emit_float(Emit *e, double v);           /* a C float literal */
const char *emit_ctype(DType t);               /* "float", "int32_t", ... */
/* A view lays an output over its input: output element (i0, i1, ...), row-major
 * over dim[], is in[offset + sum i_k * stride[k]]. Strides and the offset are
 * c + cb * B, since a stride past the batch dimension scales with it. */
typedef struct {
  int64_t c, cb;
} Lin;
typedef struct {
  int rank;
  int64_t dim[MAX_RANK]; /* DIM_BATCH allowed */
  Lin stride[MAX_RANK];
  Lin offset;
} View;
/* Row-major strides of a shape (with N symbolic). */
void view_strides(Shape s, Lin *st);
/* Copies through the view: out[q] = in[view(q)], or with `scatter` the
 * reverse, in[view(q)] = out[q] (in is then the destination). */
void emit_view_copy(Emit *e, Value *out, Value *in, const View *v, bool scatter);

#endif
