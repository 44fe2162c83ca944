/* gradinputs.c - the second half of a split train step (nn2c compile --mpi).
 *
 * A data-parallel trainer computes each process's gradients, sums them over
 * the processes, then lets every process apply the same optimizer update. The
 * emitter builds the first half from a train graph stopped after autodiff
 * (the gradients are its results) and the second half from the graph this
 * pass leaves: the optimizer alone, reading the summed gradients as inputs.
 *
 * Requires: g->grads from autodiff. Runs before optimizer.
 * Guarantees:
 *   1. each gradient link points at a new input `<param>_grad` (f32, the
 *      param's shape), which the emitter reads from the caller's gradient block;
 *   2. the outputs, the loss and the assignments made before the optimizer
 *      (running statistics, which belong to the first half) are dropped, so
 *      dce removes the forward and backward nodes. */
#include "pass.h"

bool pass_gradinputs(Graph *g, PassCtx *cx) {
  (void)cx;
  for (int i = 0; i < g->ngrads; i++) {
    GradLink *l = &g->grads[i];
    /* value_new makes the name unique (a name made unique first, then given to value_new,
     * looked stale there: a rebuild of the name index per gradient, quadratic) */
    l->grad = value_new(g, arena_printf(&g->arena, "%s_grad", l->param->name), VK_INPUT, DT_F32, l->param->shape);
  }
  g->noutputs = 0;
  g->nassigns = 0;
  g->loss = NULL;
  return true;
}
