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

/* A microcontroller a model is built for (nn2c compile --target; codegen/emit_mcu.c):
 * the compiler flags and the emulated board of the test firmware. */
typedef struct {
  const char *name;                 /* "cortex-m4" */
  const char *cpu_flags;            /* arm-none-eabi-gcc -mcpu, -mfpu, -mfloat-abi */
  const char *machine;              /* qemu-system-arm -M: the board the firmware runs on */
  unsigned long flash_at, flash_kb; /* that board's code memory, for the linker script */
  unsigned long ram_at, ram_kb;     /* and its data memory */
} McuTarget;

/* The target of that name, or NULL after an error listing the valid ones. */
const McuTarget *codegen_mcu_target(const char *name);

typedef struct {
  const char *name; /* C prefix of every public symbol */
  bool train;       /* also emit train_step/evaluate and the trainer */
  CompiledGraph infer, eval, train_graph;
  bool weights_file;          /* imported weights go to NAME.weights, read by NAME_load_weights */
  bool mpi;                   /* also the split train step (NAME_train_grads/_apply) and NAME_mpi.c */
  CompiledGraph grads, apply; /* its halves: PIPELINE_GRADS and PIPELINE_APPLY */
  const McuTarget *mcu;       /* NULL: the host; else bare-metal inference at a fixed batch, the
                                 params made constants (flash) by the caller, one static arena */
  int batch;                  /* with mcu: the batch the graphs were compiled for */
} CodegenInput;

/* Floats of imported weights (an ONNX model's f32 initializers and what was
 * folded from them) that weights_file would move into NAME.weights; 0 when
 * the model has none or has parameters of another kind. */
int64_t codegen_weights_floats(CodegenInput *in);

/* With in->mcu: the flash and RAM the model needs, per node and in total, as
 * text (the codegen_write_dir folder's Makefile and firmware are sized by it). */
void codegen_mcu_report(CodegenInput *in, Buf *out);
/* Writes the model header and source text. */
void codegen_model(Model *m, CodegenInput *in, Buf *h, Buf *c);
/* Writes DIR/NAME.h, NAME.c, NAME.weights (if weights_file), the runtime,
 * NAME_train.c (if training) and a Makefile; false after reporting an error. */
bool codegen_write_dir(Model *m, CodegenInput *in, const char *dir);

#endif
