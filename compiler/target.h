/* target.h - nn2c compile --target: an inference graph made ready for a
 * microcontroller build (codegen/emit_mcu.c writes it). */
#ifndef NN2C_TARGET_H
#define NN2C_TARGET_H

#include "codegen/codegen.h"

/* The fixed batch of --batch (default 1), or 0 after an error. */
int target_batch(const char *flag);

/* Checks that in->infer.g computes in f32 and integers only, and turns every
 * param into a constant: the "params" section of the checkpoint `weights`
 * (NAME_train --save, nn2c run --save) when given, else its initial value at
 * the model's seed (what NAME_init sets). State (running statistics) keeps its
 * initial value. The emitter then writes them as static const arrays. False
 * after reporting an error. */
bool target_prepare(Model *m, CodegenInput *in, const char *weights);

/* The n floats of a checkpoint's "params" section; false after an error. */
bool target_read_params(const char *path, float *params, int64_t n);

#endif
