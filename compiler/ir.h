/* ir.h - the graph IR: typed tensors (Values) produced by Nodes (op applications).
 *
 * Shapes are static except for one symbolic batch dimension, written N in the
 * text form and stored as DIM_BATCH. A training graph is an ordinary graph
 * plus: a loss value, a gradient link per parameter (after autodiff) and
 * assignments that write new values into parameters and optimizer state at
 * the end of a step (after optimizer lowering). */
#ifndef NN2C_IR_H
#define NN2C_IR_H

#include "util.h"

#define MAX_RANK 8
#define DIM_BATCH (-1) /* the symbolic batch dimension N */

/* Every numeric dtype ONNX has; compute is f32, labels and indices integer. */
typedef enum {
  DT_F32,
  DT_F64,
  DT_F16,
  DT_BF16,
  DT_I8,
  DT_I16,
  DT_I32,
  DT_I64,
  DT_U8,
  DT_U16,
  DT_U32,
  DT_U64,
  DT_BOOL,
  DT_COUNT
} DType;

typedef enum {
#define OP(ID, name, onnx, min_in, max_in, nout, flags) OP_##ID,
#include "ops/ops.def"
#undef OP
  OP_COUNT
} OpKind;

typedef struct {
  int rank;            /* 0 for scalars */
  int64_t d[MAX_RANK]; /* extents; DIM_BATCH marks the batch dimension */
} Shape;

typedef enum {
  VK_TEMP,  /* produced by a node */
  VK_INPUT, /* fed by the caller each call (data, labels, hyperparameters) */
  VK_PARAM, /* trainable weight, persistent */
  VK_STATE, /* persistent non-trainable state (optimizer moments) */
  VK_CONST  /* compile-time constant with inline data */
} ValueKind;

typedef enum {
  INIT_ZEROS,
  INIT_ONES,
  INIT_CONSTANT,
  INIT_UNIFORM,
  INIT_NORMAL,
  INIT_GLOROT_UNIFORM,
  INIT_GLOROT_NORMAL,
  INIT_HE_UNIFORM,
  INIT_HE_NORMAL,
  INIT_LECUN_UNIFORM,
  INIT_LECUN_NORMAL,
  INIT_ORTHOGONAL,       /* whole-matrix: Gram-Schmidt of normal draws (docs/initializers.md) */
  INIT_UNIT_FORGET_BIAS, /* ones on the second quarter (an LSTM's forget gate), else zeros */
  INIT_DATA,             /* the f32 values in Value.data (an imported model's weights) */
  INIT_COUNT
} InitKind;

typedef struct {
  InitKind kind;
  double a, b; /* constant: a; uniform: [a,b); normal: mean a, stddev b */
} Init;

typedef struct Node Node;

/* Where the memory planner put a value: arena offset = fixed + per_sample * batch. */
typedef struct {
  bool planned;             /* set by pass_memplan */
  int64_t fixed;            /* byte offset part independent of the batch */
  int64_t per_sample;       /* byte offset part multiplied by the batch size */
  const struct Value *slot; /* set by pass_memplan: an assignment's source computed in place, in the
                               storage of this VK_PARAM or VK_STATE value; no arena bytes */
} MemLoc;

typedef struct Value {
  int id;           /* index in Graph.values */
  const char *name; /* unique in the graph; a C identifier */
  DType dtype;
  Shape shape;
  bool annotated; /* type written in the source; shape inference must agree */
  ValueKind kind;
  Node *def;     /* producing node for VK_TEMP, else NULL */
  Init init;     /* VK_PARAM and VK_STATE initial contents */
  bool frozen;   /* VK_PARAM kept as it is in training: no gradient, no optimizer state */
  void *data;    /* VK_CONST elements, row-major, of dtype */
  int nuses;     /* how many node inputs read it (kept by graph_recount) */
  MemLoc mem;    /* VK_TEMP placement */
  int line, col; /* where it was declared in a source file, or 0 */
} Value;

typedef enum { AT_INT, AT_FLOAT, AT_INTS, AT_FLOATS, AT_STRING } AttrType;

typedef struct {
  const char *key;
  AttrType type;
  int64_t i;
  double f;
  int64_t *ints;  /* AT_INTS */
  double *floats; /* AT_FLOATS */
  int n;          /* length of ints/floats */
  const char *s;  /* AT_STRING */
} Attr;

struct Node {
  int id; /* index in Graph.nodes (schedule order) */
  OpKind op;
  Value **in;
  int nin;
  Value **out;
  int nout;
  Attr *attrs;
  int nattrs;
  int line, col; /* source location for diagnostics, or 0 */
  bool dead;     /* marked by passes, removed by graph_compact */
};

typedef struct {
  Value *dst; /* a VK_PARAM or VK_STATE value */
  Value *src; /* its new contents after the step */
} Assign;

typedef struct {
  Value *param;
  Value *grad;
} GradLink;

/* One entry of a graph's name index: a name given out and the value last seen holding it
 * (NULL or stale after a rename or compaction; graph_find then resolves it by a scan). */
typedef struct NameSlot {
  const char *name;
  Value *value;
  uint32_t hash;  /* of name: most probes then skip a strcmp (a cache miss on a long chain) */
  int next;       /* graph_unique_name(name): name_1 .. name_(next-1) are all taken ... */
  unsigned epoch; /* ... if no name has been dropped since (Graph.name_epoch) */
} NameSlot;

typedef struct Graph {
  Arena arena; /* owns everything in the graph */
  const char *name;
  Value **values;
  int nvalues, capvalues;
  NameSlot *names; /* open-addressing index of every name handed out, for graph_find */
  int nnames, capnames;
  unsigned name_epoch; /* counts compactions and renames, which may free names */
  Node **nodes;        /* in schedule (topological) order */
  int nnodes, capnodes;
  Value **outputs;
  int noutputs, capoutputs;
  Assign *assigns;
  int nassigns, capassigns;
  GradLink *grads; /* set by autodiff, read by optimizer lowering */
  int ngrads, capgrads;
  Value *loss; /* scalar to minimize, or NULL for inference graphs */
  Source *src; /* source file for diagnostics, or NULL */
} Graph;

/* dtypes */
const char *dtype_name(DType t); /* "f32" */
int dtype_size(DType t);         /* bytes per element */
bool dtype_from_name(const char *s, DType *t);
bool dtype_is_float(DType t);

/* shapes */
Shape shape_make(int rank, const int64_t *d);
Shape shape_scalar(void);
bool shape_eq(Shape a, Shape b);
bool shape_has_batch(Shape s);
int64_t shape_numel(Shape s, int64_t batch); /* batch substituted for N */
int64_t shape_numel_static(Shape s);         /* product without N */
char *shape_str(Arena *a, Shape s);          /* "[N,784]" */

/* graphs */
Graph *graph_new(const char *name);
void graph_free(Graph *g);
Value *value_new(Graph *g, const char *name, ValueKind kind, DType t, Shape s);
Value *graph_find(Graph *g, const char *name);
Node *node_new(Graph *g, OpKind op, int nin, Value **in, int nout);
void graph_add_output(Graph *g, Value *v);
void graph_add_assign(Graph *g, Value *dst, Value *src);
void graph_add_grad(Graph *g, Value *param, Value *grad);
void graph_recount(Graph *g); /* recompute Value.nuses */
void graph_compact(Graph *g); /* drop dead nodes and values nothing refers to */
/* Whether the step hands v back (an output, an assignment source, a gradient or the loss). */
bool graph_is_root(const Graph *g, const Value *v);
/* root[id] = graph_is_root for every value at once (root has g->nvalues entries). */
void graph_mark_roots(const Graph *g, bool *root);
char *graph_unique_name(Graph *g, const char *base);              /* base, or base_1, base_2, ... */
void value_rename(Graph *g, Value *v, const char *name);          /* the caller checked it is free */
void value_set_unique_name(Graph *g, Value *v, const char *base); /* v->name = graph_unique_name(base) */
void value_replace_uses(Graph *g, Value *old, Value *with);
int graph_count_kind(Graph *g, ValueKind k);

/* attributes */
void node_set_int(Graph *g, Node *n, const char *key, int64_t v);
void node_set_float(Graph *g, Node *n, const char *key, double v);
void node_set_ints(Graph *g, Node *n, const char *key, const int64_t *v, int len);
void node_set_floats(Graph *g, Node *n, const char *key, const double *v, int len);
void node_set_string(Graph *g, Node *n, const char *key, const char *s);
const Attr *node_attr(const Node *n, const char *key);
int64_t node_int(const Node *n, const char *key, int64_t dflt);
double node_float(const Node *n, const char *key, double dflt);
const char *node_string(const Node *n, const char *key, const char *dflt);
void node_copy_attrs(Graph *g, Node *dst, const Node *src);

/* initializers */
const char *init_name(InitKind k);
/* Keras fans of a weight: [in,out] for rank 2; [k...,in,out] (HWIO) for rank >= 3. */
void shape_fans(Shape s, double *fan_in, double *fan_out);
bool init_from_name(const char *s, InitKind *k);

/* Text form (ir_print.c, parse.c). */
void ir_print(Buf *b, Graph *g);
/* Checks invariants between passes; prints problems and returns false. */
bool ir_verify(Graph *g, const char *after_pass);

/* Layout of a persistent block (params or state): values of kind k in graph
 * order, each starting at a multiple of 16 four-byte words (one float each).
 * Fills offsets[value id] (if not NULL) and returns the block's length in words. Emitted code and
 * the interpreter both use it, so checkpoints line up. */
int64_t graph_block_layout(Graph *g, ValueKind k, int64_t *offsets);
#endif
