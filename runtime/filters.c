/* filters.c: the group's action on values (SPEC §3) and the filter banks expanded over
 * the group, so that lift and gconv run as ordinary convolutions. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "geqrt.h"

size_t gq_numel(gq_shape s)
{
	return (size_t)s.c * (size_t)s.g * (size_t)s.h * (size_t)s.w;
}

/* perm[a] = axis(g^-1 * elem[a]): where output slot a of T_g F reads from. */
static void group_perm(int *perm, int g, const int *elem, int ng)
{
	int gi = gq_d4_inv(g);
	for (int a = 0; a < ng; a++)
		perm[a] = gq_d4_axis(elem, ng, gq_d4_mul(gi, elem[a]));
}

/* out[c, a] = T_g x[c, perm[a]] on planes of h x w; g = 0 is the identity, so a pure
 * permutation of the group axis (a vector from a global pool) passes g = 0 here. A slot
 * whose source is not on the axis (g not in the group: a caller error) is zeroed rather
 * than read out of bounds. */
static void act_planes(
        int g, float *out, const float *x, int c, int ng, int h, int w, const int *perm)
{
	size_t hw = (size_t)h * w;
	for (int ci = 0; ci < c; ci++)
		for (int a = 0; a < ng; a++) {
			float *o = out + ((size_t)ci * ng + a) * hw;
			if (perm[a] < 0) {
				memset(o, 0, hw * sizeof *o);
				continue;
			}
			const float *src = x + ((size_t)ci * ng + perm[a]) * hw;
			if (g == 0)
				memcpy(o, src, hw * sizeof *o);
			else
				gq_d4_plane(g, o, src, h, w);
		}
}

void gq_act(int g, float *out, const float *x, gq_shape s, const int *elem)
{
	int perm[GQ_D4_ORDER];
	bool spatial = s.kind != GQ_VECTOR || s.act == GQ_VA_MAP;
	bool moves_axis = s.kind == GQ_GMAP || (s.kind == GQ_VECTOR && s.act == GQ_VA_GROUP) ||
	                  (s.kind == GQ_VECTOR && s.act == GQ_VA_MAP && s.g > 1);
	if (s.kind == GQ_VECTOR && !spatial && !moves_axis) {
		memcpy(out, x, gq_numel(s) * sizeof *out);
		return;
	}
	if (s.g > GQ_D4_ORDER)
		s.g = GQ_D4_ORDER; /* no group axis is longer; keeps perm[] in bounds */
	for (int a = 0; a < s.g; a++)
		perm[a] = a;
	if (moves_axis)
		group_perm(perm, g, elem, s.g);
	act_planes(spatial ? g : 0, out, x, s.c, s.g, s.h, s.w, perm);
}

void gq_expand_lift(float *out, const float *w, int cout, int cin, int k, const int *elem, int ng)
{
	size_t kk = (size_t)k * k;
	for (int c = 0; c < cout; c++)
		for (int a = 0; a < ng; a++)
			for (int ci = 0; ci < cin; ci++) {
				float *o = out + (((size_t)c * ng + a) * cin + ci) * kk;
				gq_d4_plane(elem[a], o, w + ((size_t)c * cin + ci) * kk, k, k);
			}
}

/* One output row (c, a) of the expanded gconv bank: cin*ng filters of k x k. */
static void expand_gconv_row(
        float *o, const float *wc, int cin, int k, int g, const int *elem, int ng)
{
	size_t kk = (size_t)k * k;
	int gi = gq_d4_inv(g);
	for (int b = 0; b < ng; b++) {
		int src = gq_d4_axis(elem, ng, gq_d4_mul(gi, elem[b]));
		for (int ci = 0; ci < cin; ci++) {
			float *dst = o + ((size_t)ci * ng + b) * kk;
			if (src < 0)
				memset(dst, 0, kk * sizeof *dst); /* elem is not a group */
			else
				gq_d4_plane(g, dst, wc + ((size_t)ci * ng + src) * kk, k, k);
		}
	}
}

void gq_expand_gconv(float *out, const float *w, int cout, int cin, int k, const int *elem, int ng)
{
	size_t row = (size_t)cin * ng * k * k;
	for (int c = 0; c < cout; c++)
		for (int a = 0; a < ng; a++)
			expand_gconv_row(out + ((size_t)c * ng + a) * row, w + (size_t)c * row, cin,
			        k, elem[a], elem, ng);
}

void gq_bn_fold(float *scale, float *shift, const float *weight, const float *bias,
        const float *mean, const float *var, int c, float eps)
{
	/* double so the folded form rounds once, like the unfolded reference */
	for (int i = 0; i < c; i++) {
		double sc = (double)weight[i] / sqrt((double)var[i] + (double)eps);
		scale[i] = (float)sc;
		shift[i] = (float)((double)bias[i] - (double)mean[i] * sc);
	}
}

int gq_bn_check_var(const float *var, int c, float eps, const char *name, char *err, size_t errlen)
{
	for (int i = 0; i < c; i++)
		if (!(var[i] + eps > 0)) {
			snprintf(err, errlen,
			        "tensor '%s.running_var' has %g at [%d]: a variance must be >= 0",
			        name, (double)var[i], i);
			return -1;
		}
	return 0;
}

int gq_bn_fold_into_conv(float *w, float *b, size_t rowlen, int c, int ng, const float *const *bn,
        float eps, const char *name, char *err, size_t errlen)
{
	if (gq_bn_check_var(bn[3], c, eps, name, err, errlen))
		return -1;
	for (int ch = 0; ch < c; ch++) {
		float scale, shift;
		gq_bn_fold(&scale, &shift, bn[0] + ch, bn[1] + ch, bn[2] + ch, bn[3] + ch, 1, eps);
		for (int i = ch * ng; i < (ch + 1) * ng; i++) {
			for (size_t j = 0; j < rowlen; j++)
				w[(size_t)i * rowlen + j] *= scale;
			b[i] = b[i] * scale + shift;
		}
	}
	return 0;
}

void gq_expand_bias(float *out, const float *b, int c, int ng)
{
	for (int i = 0; i < c * ng; i++)
		out[i] = b ? b[i / ng] : 0.0f;
}
