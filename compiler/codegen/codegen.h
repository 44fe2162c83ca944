/* codegen.h - emits a model as dependency-free C: NAME.h and NAME.c (the
 * model), and a folder with the runtime, a trainer main and a Makefile. */
#ifndef NN2C_CODEGEN_H
#define NN2C_CODEGEN_H

#include "../model.h"

/* One compiled graph and its memory plan. */
typedef struct {
  Graph *g;
  PassCtx plan; /* arena sizes from pass_memplan */
} CompiledGraph;

typedef struct {
  const char *name; /* C prefix of every public symbol */
  bool train;       /* also emit train_step/evaluate and the trainer */
  CompiledGraph infer, eval, train_graph;
  bool weights_file;          /* imported weights go to NAME.weights, read by NAME_load_weights */
  bool mpi;                   /* also the split train step (NAME_train_grads/_apply) and NAME_mpi.c */
  CompiledGraph grads, apply; /* its halves: PIPELINE_GRADS and PIPELINE_APPLY */
} CodegenInput;

/* Floats of imported weights (an ONNX model's f32 initializers and what was
 * folded from them) that weights_file would move into NAME.weights; 0 when
 * the model has none or has parameters of another kind. */
int64_t codegen_weights_floats(CodegenInput *in);

/* Writes the model header and source text. */
void codegen_model(Model *m, CodegenInput *in, Buf *h, Buf *c);
/* Writes DIR/NAME.h, NAME.c, NAME.weights (if weights_file), the runtime,
 * NAME_train.c (if training) and a Makefile; false after reporting an error. */
bool codegen_write_dir(Model *m, CodegenInput *in, const char *dir);

#endif
