/* mcu.h - inside codegen: the bare-metal parts of NAME.h and NAME.c (emit_c.c
 * calls them with CodegenInput.mcu set) and the firmware files of the folder. */
#ifndef NN2C_MCU_H
#define NN2C_MCU_H

#include "codegen.h"

/* The scratch bytes a graph's nodes need after the planned tensors (emit_c.c). */
int64_t codegen_scratch_bytes(Graph *g);
/* NAME_forward exists (one float input, a float first output), and NAME_run's
 * inputs and outputs documented one per line (emit_c.c). */
bool codegen_has_forward(Graph *g);
void codegen_header_io(Buf *h, Graph *g);
/* The static arena: planned tensors and scratch, at the fixed batch. */
int64_t mcu_arena_bytes(CodegenInput *in);
/* NAME.h of a bare-metal build. */
void mcu_header(Model *m, CodegenInput *in, Buf *h);
/* NAME.c up to the kernels: the attributes, the empty parallel-loop macros, the arena. */
void mcu_prologue(CodegenInput *in, Buf *c);
/* Drops the kernels' host-only branches (OpenMP, OpenBLAS) from C text. */
void mcu_strip_host(Buf *c);
/* False after an error naming the first node whose C would compute in double. */
bool mcu_float_only(Model *m, CodegenInput *in);
/* The firmware around the model: startup, linker script, main, Makefile. */
bool mcu_write_files(CodegenInput *in, const char *dir,
                     bool (*write)(const char *, const char *, const char *, size_t));

#endif
