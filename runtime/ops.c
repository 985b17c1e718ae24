/* ops.c: the layers, one image at a time, with torch.nn.functional semantics. Convolution
 * is im2col + one OpenBLAS sgemm; nothing here allocates. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "geqrt.h"

size_t gq_conv2d_scratch(int cin, int k, int oh, int ow)
{
	return (size_t)cin * k * k * oh * ow;
}

/* First and one-past-last o in [0, n) with 0 <= o*s + off < lim: the outputs whose tap
 * lands inside the input, so the copy loops need no per-pixel bounds test. */
static void valid_range(int off, int s, int lim, int n, int *lo, int *hi)
{
	int a = off >= 0 ? 0 : (-off + s - 1) / s;
	int b = lim - off <= 0 ? 0 : (lim - off + s - 1) / s;
	*lo = a < n ? a : n;
	*hi = b < n ? b : n;
	if (*hi < *lo)
		*hi = *lo;
}

/* One im2col row: tap (ky, kx) of one input plane, for every output pixel. */
static void im2col_row(
        float *col, const float *plane, int h, int w, int oh, int ow, int s, int offy, int offx)
{
	int x0, x1;
	valid_range(offx, s, w, ow, &x0, &x1);
	for (int oy = 0; oy < oh; oy++) {
		float *o = col + (size_t)oy * ow;
		int iy = oy * s + offy;
		if (iy < 0 || iy >= h || x0 == x1) {
			memset(o, 0, (size_t)ow * sizeof *o);
			continue;
		}
		const float *src = plane + (size_t)iy * w;
		memset(o, 0, (size_t)x0 * sizeof *o);
		if (s == 1) {
			memcpy(o + x0, src + x0 + offx, (size_t)(x1 - x0) * sizeof *o);
		} else {
			for (int ox = x0; ox < x1; ox++)
				o[ox] = src[ox * s + offx];
		}
		memset(o + x1, 0, (size_t)(ow - x1) * sizeof *o);
	}
}

/* col [cin*k*k, oh*ow]: row (ci, ky, kx) holds in[ci, oy*s - p + ky*d, ox*s - p + kx*d]. */
static void im2col(float *col, const float *in, int cin, int h, int w, int k, int s, int p, int d,
        int oh, int ow)
{
	size_t ohw = (size_t)oh * ow;
	for (int ci = 0; ci < cin; ci++)
		for (int ky = 0; ky < k; ky++)
			for (int kx = 0; kx < k; kx++) {
				size_t row = ((size_t)ci * k + ky) * k + kx;
				im2col_row(col + row * ohw, in + (size_t)ci * h * w, h, w, oh, ow,
				        s, ky * d - p, kx * d - p);
			}
}

void gq_conv2d(float *out, const float *in, const float *w, const float *bias, int cin, int h,
        int wd, int cout, int k, int s, int p, int d, float *scratch)
{
	int oh = (h + 2 * p - d * (k - 1) - 1) / s + 1;
	int ow = (wd + 2 * p - d * (k - 1) - 1) / s + 1;
	if (oh <= 0 || ow <= 0 || cout <= 0)
		return;
	int n = oh * ow, kdim = cin * k * k;
	/* out starts as the bias (or zeros) and sgemm accumulates into it */
	for (int c = 0; c < cout; c++)
		for (int i = 0; i < n; i++)
			out[(size_t)c * n + i] = bias ? bias[c] : 0.0f;
	const float *b = in; /* a 1x1 unit-stride unpadded conv is a matmul on the input */
	if (!(k == 1 && s == 1 && p == 0)) {
		im2col(scratch, in, cin, h, wd, k, s, p, d, oh, ow);
		b = scratch;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout, n, kdim, 1.0f, w, kdim, b, n,
	        1.0f, out, n);
}

/* Pooling output size as torch (ceil_mode=False). */
static int pool_out(int n, int k, int s, int p)
{
	return (n + 2 * p - k) / s + 1;
}

/* Max over the window of output (oy, ox), skipping padded taps (they are -inf). */
static float max_window(const float *plane, int h, int w, int y0, int x0, int k)
{
	float m = -INFINITY;
	int y1 = y0 + k < h ? y0 + k : h, x1 = x0 + k < w ? x0 + k : w;
	for (int y = y0 < 0 ? 0 : y0; y < y1; y++)
		for (int x = x0 < 0 ? 0 : x0; x < x1; x++) {
			float v = plane[(size_t)y * w + x];
			if (v > m || isnan(v))
				m = v; /* torch propagates NaN */
		}
	return m;
}

/* Sum over the window; padded taps contribute zeros. */
static float sum_window(const float *plane, int h, int w, int y0, int x0, int k)
{
	float acc = 0.0f;
	int y1 = y0 + k < h ? y0 + k : h, x1 = x0 + k < w ? x0 + k : w;
	for (int y = y0 < 0 ? 0 : y0; y < y1; y++)
		for (int x = x0 < 0 ? 0 : x0; x < x1; x++)
			acc += plane[(size_t)y * w + x];
	return acc;
}

void gq_maxpool2d(float *out, const float *in, int n, int h, int w, int k, int s, int p)
{
	if (gq_maxpool2d_fast(out, in, n, h, w, k, s, p))
		return;
	int oh = pool_out(h, k, s, p), ow = pool_out(w, k, s, p);
	if (oh <= 0 || ow <= 0)
		return;
	for (int i = 0; i < n; i++) {
		const float *plane = in + (size_t)i * h * w;
		float *o = out + (size_t)i * oh * ow;
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++)
				o[oy * ow + ox] =
				        max_window(plane, h, w, oy * s - p, ox * s - p, k);
	}
}

void gq_avgpool2d(float *out, const float *in, int n, int h, int w, int k, int s, int p)
{
	/* With ceil_mode=False no window reaches past the padding, so torch's divisor under
	 * count_include_pad=True is always k*k. */
	int oh = pool_out(h, k, s, p), ow = pool_out(w, k, s, p);
	float inv = 1.0f / (float)(k * k);
	if (oh <= 0 || ow <= 0)
		return;
	for (int i = 0; i < n; i++) {
		const float *plane = in + (size_t)i * h * w;
		float *o = out + (size_t)i * oh * ow;
		for (int oy = 0; oy < oh; oy++)
			for (int ox = 0; ox < ow; ox++)
				o[oy * ow + ox] =
				        sum_window(plane, h, w, oy * s - p, ox * s - p, k) * inv;
	}
}

void gq_affine(float *x, int c, int g, int hw, const float *scale, const float *shift)
{
	size_t plane = (size_t)g * hw;
	for (int ci = 0; ci < c; ci++) {
		float a = scale[ci], b = shift[ci];
		float *p = x + ci * plane;
		for (size_t i = 0; i < plane; i++)
			p[i] = p[i] * a + b;
	}
}

/* Four floats at a time (SSE2, which every x86-64 has), as a mask and not a branch: the written
 * loop compiled to a compare and jump per float, and a residual sum's signs are random, so half of
 * those jumps were mispredicted (a relu over a 32x97x97 map took as long as a convolution on it).
 * NaN becomes 0, as in the convolutions' fused relu. */
typedef float Vec4 __attribute__((vector_size(16)));
typedef int Mask4 __attribute__((vector_size(16)));

static inline Vec4 load4(const float *p)
{
	Vec4 v;
	memcpy(&v, p, sizeof v);
	return v;
}

void gq_relu(float *x, size_t n)
{
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		Vec4 v;
		memcpy(&v, x + i, sizeof v);
		v = (Vec4)((Mask4)v & (v > 0.0f));
		memcpy(x + i, &v, sizeof v);
	}
	for (; i < n; i++)
		x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void gq_sigmoid(float *x, size_t n)
{
	/* expf of a non-positive argument only: no overflow for large |x| */
	for (size_t i = 0; i < n; i++) {
		if (x[i] >= 0.0f) {
			x[i] = 1.0f / (1.0f + expf(-x[i]));
		} else {
			float e = expf(x[i]);
			x[i] = e / (1.0f + e);
		}
	}
}

void gq_tanh(float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		x[i] = tanhf(x[i]);
}

/* Four floats of every plane at a time, each output written once: float by float, with
 * the NaN test a branch, ResNet-44 p4's gpool (32 channels, 25x25) took 0.18 ms, run alone
 * on thread 0 at batch 1 (AVX-512 machine, --profile). */
static Vec4 gpool4(const float *src, int g, int hw, bool mean)
{
	Vec4 o = load4(src);
	for (int a = 1; a < g; a++) {
		Vec4 v = load4(src + (size_t)a * hw);
		if (mean)
			o += v;
		else { /* v where v > o or v is NaN: a NaN anywhere is kept, as fmax would not */
			Mask4 take = (v > o) | (v != v);
			o = (Vec4)(((Mask4)v & take) | ((Mask4)o & ~take));
		}
	}
	return mean ? o / (float)g : o;
}

void gq_gpool(float *out, const float *in, int c, int g, int hw, bool mean)
{
	for (int ci = 0; ci < c; ci++) {
		const float *src = in + (size_t)ci * g * hw;
		float *o = out + (size_t)ci * hw;
		int i = 0;
		for (; i + 4 <= hw; i += 4) {
			Vec4 v = gpool4(src + i, g, hw, mean);
			memcpy(o + i, &v, sizeof v);
		}
		for (; i < hw; i++) {
			float m = src[i];
			for (int a = 1; a < g; a++) {
				float v = src[(size_t)a * hw + i];
				m = mean ? m + v : (v > m || isnan(v) ? v : m);
			}
			o[i] = mean ? m / (float)g : m;
		}
	}
}

void gq_global_pool(float *out, const float *in, int n, int hw, bool mean)
{
	for (int i = 0; i < n; i++) {
		const float *p = in + (size_t)i * hw;
		float acc = mean ? 0.0f : -INFINITY;
		for (int j = 0; j < hw; j++)
			acc = mean ? acc + p[j] : (p[j] > acc || isnan(p[j]) ? p[j] : acc);
		out[i] = mean ? acc / (float)hw : acc;
	}
}

static inline float sum4(Vec4 v)
{
	return (v[0] + v[1]) + (v[2] + v[3]);
}

/* Rows [o0, o1) of gq_linear: four rows at a time share each load of in, each row summed in
 * four-float partial sums held in registers (Vec4 is declared above, at gq_relu). */
static void linear_rows(
        float *out, const float *in, const float *w, const float *b, int nin, int o0, int o1)
{
	int o = o0;
	for (; o + 4 <= o1; o += 4) {
		const float *r0 = w + (size_t)o * nin, *r1 = r0 + nin, *r2 = r1 + nin,
		            *r3 = r2 + nin;
		/* two sums a row, so that each add waits for the one before it half as often */
		Vec4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
		int i = 0;
		for (; i + 8 <= nin; i += 8) {
			Vec4 x = load4(in + i), y = load4(in + i + 4);
			a0 += load4(r0 + i) * x;
			a1 += load4(r1 + i) * x;
			a2 += load4(r2 + i) * x;
			a3 += load4(r3 + i) * x;
			b0 += load4(r0 + i + 4) * y;
			b1 += load4(r1 + i + 4) * y;
			b2 += load4(r2 + i + 4) * y;
			b3 += load4(r3 + i + 4) * y;
		}
		float s[4] = {sum4(a0 + b0), sum4(a1 + b1), sum4(a2 + b2), sum4(a3 + b3)};
		for (int j = 0; j < 4; j++) {
			for (int k = i; k < nin; k++)
				s[j] += r0[(size_t)j * nin + k] * in[k];
			out[o + j] = (b ? b[o + j] : 0.0f) + s[j];
		}
	}
	for (; o < o1; o++) {
		float sum = b ? b[o] : 0.0f;
		for (int i = 0; i < nin; i++)
			sum += w[(size_t)o * nin + i] * in[i];
		out[o] = sum;
	}
}

typedef struct Linear {
	float *out;
	const float *in, *w, *b;
	int nout, nin;
} Linear;

static void linear_share(void *ctx, int t, int nt)
{
	const Linear *j = ctx;
	/* whole groups of four rows to each thread */
	int groups = (j->nout + 3) / 4, o0 = (int)((long)groups * t / nt) * 4;
	int o1 = (int)((long)groups * (t + 1) / nt) * 4;
	linear_rows(j->out, j->in, j->w, j->b, j->nin, o0, o1 < j->nout ? o1 : j->nout);
}

/* Weights (floats) below which a linear layer stays on one thread (about 10 us of memory). */
enum { LINEAR_PAR = 128 * 1024 };

/* Not OpenBLAS's sgemv: a model's last layer is a few hundred kilobytes of weights read once,
 * which OpenBLAS split over its own threads, and those then spun for some 0.1 s waiting
 * for more, on the cores the runtime's team works on: ResNet-18's 128 -> 1000 layer took
 * 0.45 ms of a 32 ms image, and the spinning thread a fifth of the process's CPU time. */
void gq_linear(float *out, const float *in, const float *w, const float *b, int nout, int nin)
{
	if (nout <= 0)
		return;
	Linear j = {out, in, w, b, nout, nin};
	if ((double)nout * nin >= LINEAR_PAR)
		gq_parallel((nout + 3) / 4, linear_share, &j);
	else
		linear_share(&j, 0, 1);
}

void gq_softmax(float *x, int n)
{
	if (n <= 0)
		return;
	float m = x[0];
	for (int i = 1; i < n; i++)
		m = x[i] > m ? x[i] : m;
	float sum = 0.0f;
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - m);
		sum += x[i];
	}
	for (int i = 0; i < n; i++)
		x[i] /= sum;
}

void gq_add(float *out, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/* One axis of a bilinear upsampling by s, as torch's (align_corners=False): output pixel
 * o reads source (o + 0.5)/s - 0.5, clamped at 0, between pixels i0 and i1 = i0 + 1 (the
 * last pixel repeats), with weight t on i1. */
static void bilinear_tap(int o, int s, int n, int *i0, int *i1, float *t)
{
	float src = ((float)o + 0.5f) / (float)s - 0.5f;
	if (src < 0)
		src = 0;
	*i0 = (int)src;
	*i1 = *i0 + 1 < n ? *i0 + 1 : n - 1;
	*t = src - (float)*i0;
}

static void upsample_bilinear_plane(float *out, const float *in, int h, int w, int s)
{
	int ow = w * s;
	for (int y = 0; y < h * s; y++) {
		int y0, y1;
		float ty;
		bilinear_tap(y, s, h, &y0, &y1, &ty);
		for (int x = 0; x < ow; x++) {
			int x0, x1;
			float tx;
			bilinear_tap(x, s, w, &x0, &x1, &tx);
			float top = (1 - tx) * in[y0 * w + x0] + tx * in[y0 * w + x1];
			float bot = (1 - tx) * in[y1 * w + x0] + tx * in[y1 * w + x1];
			out[(size_t)y * ow + x] = (1 - ty) * top + ty * bot;
		}
	}
}

static void upsample_nearest_plane(float *out, const float *in, int h, int w, int s)
{
	int ow = w * s;
	for (int y = 0; y < h * s; y++)
		for (int x = 0; x < ow; x++)
			out[(size_t)y * ow + x] = in[(y / s) * w + x / s];
}

void gq_upsample(float *out, const float *in, int n, int h, int w, int s, bool bilinear)
{
	size_t plane = (size_t)h * w, oplane = plane * s * s;
	for (int i = 0; i < n; i++) {
		if (bilinear)
			upsample_bilinear_plane(out + i * oplane, in + i * plane, h, w, s);
		else
			upsample_nearest_plane(out + i * oplane, in + i * plane, h, w, s);
	}
}

void gq_set_threads(int n)
{
	openblas_set_num_threads(n > 0 ? n : 1);
}
