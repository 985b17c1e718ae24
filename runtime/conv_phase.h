/* conv_phase.h: what conv_fast.c asks of conv_phase.c (private to the runtime, not
 * installed). */
#ifndef GEQRT_CONV_PHASE_H
#define GEQRT_CONV_PHASE_H

#include "geqrt.h"

/* A stride-2 KxK convolution (K 5..8, no dilation) of few input channels as the sum over
 * the padded input's four phases (rows 2y+a, columns 2x+b) of stride-1 convolutions with
 * the phase kernels w[2i+a][2j+b] (up to 4x4 taps, zeros where a phase has fewer): one
 * stride-1 4x4 convolution of 4*cin channels, run as Winograd F(3x3, 4x4) on 6x6 points
 * (0, +-1, +-2, infinity: F(4x4, 3x3)'s input transform), 36 products for 9 outputs
 * instead of 16 a pixel. */
typedef struct gq_phase gq_phase;
/* Whether the shape takes it, on the current kernel (gq_conv_kernel). */
bool gq_phase_applies(int cin, int h, int w, int cout, int k, int s, int p, int d);
/* Its multiply-adds and the transforms' equivalent, as conv_fast.c's cost() counts. */
double gq_phase_cost(int cin, int h, int w, int cout, int k, int p);
/* NULL if it does not apply or out of memory. */
gq_phase *gq_phase_new(int cin, int h, int w, int cout, int k, int p, bool relu);
void gq_phase_free(gq_phase *f);
/* Filters w (row co, cin*k*k floats, at w + co*ld) and bias (co's at bias[co*bstride]; NULL:
 * zeros), as gq_conv_set_rows. */
void gq_phase_set(gq_phase *f, const float *w, size_t ld, const float *bias, size_t bstride);
/* Its bank of transformed filters, and its bytes. */
const float *gq_phase_bank(const gq_phase *f);
size_t gq_phase_bytes(const gq_phase *f);
size_t gq_phase_scratch(const gq_phase *f);
/* As gq_conv_run_sum; with pooled not NULL, then the max pool of gq_conv_run_pool (k, s, p)
 * on each band's rows as they are done; with only (gq_conv_run_pool_only) as well, out
 * need not hold the output after. */
void gq_phase_run(const gq_phase *f, float *out, const float *in, const float *add, float *pooled,
        int k, int s, int p, bool only, float *scratch);

#endif
