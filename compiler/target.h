/* target.h - nn2c compile --target: an inference graph made ready for a
 * microcontroller build (codegen/emit_mcu.c writes it). */
#ifndef NN2C_TARGET_H
#define NN2C_TARGET_H

#include "codegen/codegen.h"

/* The fixed batch of --batch (default 1), or 0 after an error. */
int target_batch(const char *flag);

/* Checks that in->infer.g computes in f32 and integers only, and turns every
 * param into a constant holding its initial value at the model's seed (the
 * interpreter's initializers, as NAME_init would set it), so the emitter writes
 * it as a static const array. False after reporting an error. */
bool target_prepare(Model *m, CodegenInput *in);

#endif
