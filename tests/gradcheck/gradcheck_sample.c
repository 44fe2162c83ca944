/* gradcheck_sample.c - grid_sample (ops/sample.c) with respect to the image
 * and the grid, in every mode and padding mode. Grid values are random in
 * [-1.5, 1.5], so points fall outside the image too (padding) and a tap
 * boundary or a clamp lies within h of a point with negligible odds.
 * roi_align with respect to the image (avg is linear in it; max picks the
 * largest weighted tap, ties have negligible odds), boxes partly outside. */
#include "gradcheck.h"

#include <string.h>

static void image_and_grid(Case *c) {
  Value *in[2] = {param(c, S(2, 2, 4, 5), R_ANY), param(c, S(2, 3, 3, 2), R_ANY)};
  c->y = opn(c, OP_GRID_SAMPLE, 2, in, c->def->attrs);
}

/* x an input at batch N; the grid an input scaled per coordinate by a param. */
static void batch(Case *c) {
  Value *g = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 2, 3, 2), R_UNIT), param(c, S(2), R_POS));
  Value *in[2] = {input(c, S(DIM_BATCH, 2, 3, 4), R_ANY), g};
  c->y = opn(c, OP_GRID_SAMPLE, 2, in, "mode:bicubic padding_mode:border");
}

static void roi(Case *c) {
  static const double boxes[] = {0.5, 1.0, 4.5, 3.2, -1.5, 2.0, 3.0, 6.5, 2.2, 0.3, 2.9, 1.1};
  Value *b = value_new(c->g, "rois", VK_CONST, DT_F64, S(3, 4));
  b->data = arena_alloc(&c->g->arena, sizeof boxes);
  memcpy(b->data, boxes, sizeof boxes);
  Value *in[3] = {param(c, S(2, 2, 5, 6), R_ANY), b, IDX(S(3), 1, 0, 1)};
  c->y = opn(c, OP_ROI_ALIGN, 3, in, c->def->attrs);
}

static const CaseDef cases[] = {
    {.name = "grid_sample_bilinear", .build = image_and_grid, .attrs = ""},
    {.name = "grid_sample_bilinear_align", .build = image_and_grid, .attrs = "align_corners=1"},
    {.name = "grid_sample_bilinear_border", .build = image_and_grid, .attrs = "padding_mode:border"},
    {.name = "grid_sample_bilinear_reflection", .build = image_and_grid, .attrs = "padding_mode:reflection"},
    {.name = "grid_sample_bilinear_reflection_align",
     .build = image_and_grid,
     .attrs = "padding_mode:reflection align_corners=1"},
    {.name = "grid_sample_nearest", .build = image_and_grid, .attrs = "mode:nearest padding_mode:border"},
    {.name = "grid_sample_bicubic", .build = image_and_grid, .attrs = "mode:bicubic"},
    {.name = "grid_sample_bicubic_reflection_align",
     .build = image_and_grid,
     .attrs = "mode:bicubic padding_mode:reflection align_corners=1"},
    {.name = "grid_sample_batch", .build = batch},
    {.name = "roi_align_avg", .build = roi, .attrs = "output_height=2 output_width=3 sampling_ratio=2"},
    {.name = "roi_align_avg_adaptive",
     .build = roi,
     .attrs = "output_height=2 output_width=2 spatial_scale=0.5 coordinate_transformation_mode:output_half_pixel"},
    {.name = "roi_align_max", .build = roi, .attrs = "mode:max output_height=2 output_width=2 sampling_ratio=2"},
};
FAMILY(sample, cases);
