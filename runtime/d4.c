/* d4.c: the point group D4 of the square pixel grid (SPEC §3), shared by the compiler
 * and the generated code. Element m^j r^i has canonical index 4j+i; r is numpy.rot90
 * (counter-clockwise) and m numpy.flip(a, -1), and m^j r^i applies r i times, then m. */
#include "geqrt.h"

/* T_a T_b = M^ja R^ia M^jb R^ib. Since R M = M R^-1, moving R^ia to the right of M^jb
 * reverses its sense when jb = 1, so a*b = M^(ja+jb) R^(+-ia + ib). */
int gq_d4_mul(int a, int b)
{
	int ia = a & 3, ja = a >> 2, ib = b & 3, jb = b >> 2;
	int i = (jb ? 4 - ia : ia) + ib;
	return 4 * (ja ^ jb) + i % 4;
}

/* A mirror m r^i is its own inverse; a rotation r^i is undone by r^(4-i). */
int gq_d4_inv(int a)
{
	return (a >> 2) ? a : (4 - a) % 4;
}

bool gq_d4_swaps_axes(int g)
{
	return (g & 1) != 0;
}

int gq_d4_axis(const int *elem, int ng, int g)
{
	for (int a = 0; a < ng; a++)
		if (elem[a] == g)
			return a;
	return -1;
}

/* One r sends (y, x) of an h x w plane to (w-1-x, y) of a w x h plane, as rot90's
 * out[i][j] = in[j][w-1-i]; m then sends (y, x) to (y, w-1-x). */
void gq_d4_point(int g, int h, int w, int y, int x, int *oy, int *ox)
{
	for (int t = 0; t < (g & 3); t++) {
		int ny = w - 1 - x;
		x = y;
		y = ny;
		int th = h;
		h = w;
		w = th;
	}
	if (g >> 2)
		x = w - 1 - x;
	*oy = y;
	*ox = x;
}

void gq_d4_plane(int g, float *out, const float *in, int h, int w)
{
	size_t ow = gq_d4_swaps_axes(g) ? (size_t)h : (size_t)w;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			int oy, ox;
			gq_d4_point(g, h, w, y, x, &oy, &ox);
			out[(size_t)oy * ow + (size_t)ox] = in[(size_t)y * (size_t)w + (size_t)x];
		}
	}
}
