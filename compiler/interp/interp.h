/* interp.h - the reference interpreter: runs any IR graph (forward, backward,
 * optimizer updates) with each op's naive eval hook. It shares no kernels
 * with emitted code and is what emitted code is checked against. */
#ifndef NN2C_INTERP_H
#define NN2C_INTERP_H

#include "../model.h"

typedef struct {
  const char *name; /* graph input to feed */
  const void *data; /* row-major, of the input's dtype */
} Feed;

/* Values of one run, indexed by value id; persistent values point into the
 * caller's blocks. */
typedef struct {
  Graph *g;
  Tensor *vals;
} InterpRun;

/* Runs g once. params/state are the persistent blocks laid out by
 * graph_block_layout; assignments write into them at the end. */
bool interp_run(Graph *g, float *params, float *state, const Feed *feeds, int nfeeds, int64_t batch, uint64_t step,
                InterpRun *run);
void interp_run_free(InterpRun *run);

/* Fills the params block with each param's initializer (docs/initializers.md). */
void interp_init_params(Graph *g, float *params, uint64_t seed);

/* Fills the state block with each state value's initializer (zeros or ones). */
void interp_init_state(Graph *g, float *state);

/* A checkpoint of m's trainer (NAME_train or `nn2c run` --save) into the blocks
 * of g, a graph of m in any mode: the params (laid out alike in every mode) and
 * the state values g has, found by name in the training graph's state block
 * (running statistics; the optimizer's moments stay behind). false after
 * reporting the error, which names the file. */
bool interp_load_checkpoint(Model *m, Graph *g, const char *ckpt, float *params, float *state);
/* g's params and state blocks, allocated: the seeded initial values, or the
 * checkpoint's when ckpt is not NULL. false after reporting the error. */
bool interp_weights(Model *m, Graph *g, const char *ckpt, float **params, float **state);

/* `nn2c run`: trains/evaluates a model with the interpreter behind the same
 * trainer front end as generated code (flags, data, checkpoints). */
int interp_train_main(Model *m, int argc, char **argv);

#endif
