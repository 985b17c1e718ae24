/* pool_fast.c: max pooling without padding, the common case of a G-CNN (a 2x2 pool after a
 * conv), as a tight loop: every window lies inside the plane, so there are no bounds to
 * test per tap. NaN propagates as in torch: a window holding one has NaN as its max. */
#include <math.h>
#include <stddef.h>

#include "geqrt.h"

/* torch's max, NaN winning: b if a > b fails (b larger, or either NaN), unless a is the
 * NaN. Written as two selects, which compile to maxss and a blend, not to branches that
 * random data mispredicts. */
static inline float nan_max(float a, float b)
{
	float m = a > b ? a : b;
	return a != a ? a : m;
}

static void pool2x2(float *o, const float *plane, int w, int oh, int ow)
{
	for (int oy = 0; oy < oh; oy++) {
		const float *r0 = plane + (size_t)2 * oy * w, *r1 = r0 + w;
		for (int ox = 0; ox < ow; ox++) {
			float a = nan_max(r0[2 * ox], r0[2 * ox + 1]);
			float b = nan_max(r1[2 * ox], r1[2 * ox + 1]);
			o[(size_t)oy * ow + ox] = nan_max(a, b);
		}
	}
}

static void pool_any(float *o, const float *plane, int w, int oh, int ow, int k, int s)
{
	for (int oy = 0; oy < oh; oy++)
		for (int ox = 0; ox < ow; ox++) {
			const float *x = plane + (size_t)oy * s * w + (size_t)ox * s;
			float m = -INFINITY;
			for (int ky = 0; ky < k; ky++)
				for (int kx = 0; kx < k; kx++)
					m = nan_max(x[(size_t)ky * w + kx], m);
			o[(size_t)oy * ow + ox] = m;
		}
}

bool gq_maxpool2d_fast(float *out, const float *in, int n, int h, int w, int k, int s, int p)
{
	if (p != 0 || k < 1 || s < 1 || k > h || k > w)
		return false;
	int oh = (h - k) / s + 1, ow = (w - k) / s + 1;
	for (int i = 0; i < n; i++) {
		const float *plane = in + (size_t)i * h * w;
		float *o = out + (size_t)i * oh * ow;
		if (k == 2 && s == 2)
			pool2x2(o, plane, w, oh, ow);
		else
			pool_any(o, plane, w, oh, ow, k, s);
	}
	return true;
}
