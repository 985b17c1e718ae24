/* cut.c: what two threads sharing one image's maps lose at the cut between their rows
 * (issue 14, s19-plane). Two threads pinned to the process's first two CPUs run "layers"
 * over two maps A and B of C channel planes of H x W floats: each thread reads its rows of
 * A (and one halo row each side, the other thread's at the cut), writes its rows of B as
 * the sum of the three rows, and the maps swap for the next layer; thread 0 owns rows
 * [0, cut), thread 1 [cut, H), cut = H / 2. Layouts and orders:
 *   shared  one [C, H, W] pair of maps, both threads walk their rows upward (main's maps)
 *   private each thread its own pair of maps of the same shape (nothing crosses: the bound)
 *   page    [C, H, W] with each plane starting on a 4 KB page and a gap before row cut that
 *           starts thread 1's rows of every plane on a page (CUT_ALIGN=bytes: on a boundary
 *           of that many bytes instead): no 4 KB page, or 2 KB region, holds both threads'
 *           rows, and the hardware prefetchers work within those
 *   down    [C, H, W], thread 0 walks its rows of each plane downward (away from the cut)
 *   hcw     [H, C, W]: a row of all the planes together, one cut a map
 *   alone   shared, thread 1 idle: thread 0's share alone
 *   nohalo  shared, but neither thread reads a row of the other's (the halo clipped at the
 *           cut: wrong sums, the traffic without the halo); hcw-nh the same in [H, C, W],
 *           page-nh in page
 *   line    [C, H, W] with each plane and each thread's rows starting on a 64-byte line
 *           (line-nh without the halo): the same as page at line, not page, granularity
 *   tail    [C, H, W], each thread's last CUT_TAIL rows (default 4) of each plane walked
 *           downward, toward its own rows (tail-nh without the halo): the streams end going
 *           away from the other's rows
 *   sep     [C, H, W], the rows within a page of either end of a thread's rows in a plane
 *           through a second copy of the row code (sep-nh without the halo): whether the
 *           L1 region prefetcher, which learns a pattern per instruction, then leaves the
 *           other's lines of a shared page alone
 *   pfw     shared, each thread first prefetches for writing (prefetchw) the lines of its
 *           row next to the cut in every plane of the output and (prefetcht0) the halo row
 *           of the input, so that the per-plane transfers overlap instead of each stalling
 *           the plane's stores in turn; pfw-ahd the same one plane at a time, 2 ahead
 * and with `res`, B's rows are read and written (the residual added in place) instead of
 * written only. Per layer: rdtsc from the layer's start (both threads leave a barrier) to
 * each thread's end of its share; the figure is the median over the layers of a run (us),
 * per thread and the slower of the two (the layer's time but the barrier).
 * Usage: cut [ROUNDS [C H [SPIN]]]; default 1 round of 32x97x97, 64x49x49 and 64x57x57.
 * SPIN adds that many dependent multiply-adds per row (the layer's arithmetic, so that a
 * share's streams run at the model's pace rather than flat out). CUT_PHASED=1 runs a share
 * in the fused Winograd layer's phases instead of row by row: its rows and halo copied into
 * a buffer of its own (pad_own), then all its arithmetic (SPIN a row), then its rows of B
 * written from the copy (the output transform, the residual read and written in place with
 * `res`); the walk-order modes (down, tail, sep, pfw) then walk as shared. GEQRT_KERNEL=avx2
 * uses 256-bit vectors. */
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "cpus.h"
#include "geqrt.h"

enum {
	SHARED,
	PRIVATE,
	PAGE,
	DOWN,
	HCW,
	ALONE,
	NOHALO,
	HCWNOHALO,
	PAGENOHALO,
	PFW,
	PFWAHEAD,
	LINE,
	LINENOHALO,
	TAIL,
	TAILNOHALO,
	SEP,
	SEPNOHALO,
	MODES
};
static const char *const mode_name[MODES] = {"shared", "private", "page", "down", "hcw", "alone",
        "nohalo", "hcw-nh", "page-nh", "pfw", "pfw-ahd", "line", "line-nh", "tail", "tail-nh",
        "sep", "sep-nh"};
enum { LAYERS = 400, WARM = 20 };

static bool wide;
static int tail_rows = 4;
static size_t page_align = 4096; /* CUT_ALIGN: page and page-nh align at these bytes */
static volatile float sink;

/* out = a + b + c over w floats (rows need not be aligned); res: out += too */
__attribute__((target("avx512f"), always_inline)) static inline void sum3_512(
        float *o, const float *a, const float *b, const float *c, int w, bool res)
{
	int x = 0;
	for (; x + 16 <= w; x += 16) {
		__m512 s =
		        _mm512_add_ps(_mm512_add_ps(_mm512_loadu_ps(a + x), _mm512_loadu_ps(b + x)),
		                _mm512_loadu_ps(c + x));
		if (res)
			s = _mm512_add_ps(s, _mm512_loadu_ps(o + x));
		_mm512_storeu_ps(o + x, s);
	}
	if (x < w) {
		__mmask16 m = (__mmask16)((1u << (w - x)) - 1);
		__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_maskz_loadu_ps(m, a + x),
		                                 _mm512_maskz_loadu_ps(m, b + x)),
		        _mm512_maskz_loadu_ps(m, c + x));
		if (res)
			s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, o + x));
		_mm512_mask_storeu_ps(o + x, m, s);
	}
}

__attribute__((target("avx2"), always_inline)) static inline void sum3_256(
        float *o, const float *a, const float *b, const float *c, int w, bool res)
{
	int x = 0;
	for (; x + 8 <= w; x += 8) {
		__m256 s =
		        _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(b + x)),
		                _mm256_loadu_ps(c + x));
		if (res)
			s = _mm256_add_ps(s, _mm256_loadu_ps(o + x));
		_mm256_storeu_ps(o + x, s);
	}
	for (; x < w; x++)
		o[x] = a[x] + b[x] + c[x] + (res ? o[x] : 0.0f);
}

__attribute__((target("avx512f"))) static void row_512(
        float *o, const float *a, const float *b, const float *c, int w, bool res)
{
	sum3_512(o, a, b, c, w, res);
}

__attribute__((target("avx2"))) static void row_256(
        float *o, const float *a, const float *b, const float *c, int w, bool res)
{
	sum3_256(o, a, b, c, w, res);
}

/* the same, a second copy of the code (sep) */
__attribute__((target("avx512f"))) __attribute__((noinline)) static void edge_512(
        float *o, const float *a, const float *b, const float *c, int w, bool res)
{
	sum3_512(o, a, b, c, w, res);
}

__attribute__((target("avx2"))) __attribute__((noinline)) static void edge_256(
        float *o, const float *a, const float *b, const float *c, int w, bool res)
{
	sum3_256(o, a, b, c, w, res);
}

typedef struct Run {
	int mode, C, H, W, cut, spin, cpu[2];
	bool res;
	size_t plane, row, gap, floats; /* strides in floats; gap before row cut */
	float *map[2][2];               /* [thread][A or B] (both the same but private) */
	Barrier bar;
	unsigned long long cyc[2][LAYERS];
} Run;

typedef struct Arg {
	Run *r;
	int t;
} Arg;

static size_t at(const Run *r, int c, int y)
{
	return (size_t)c * r->plane + (size_t)y * r->row + (y >= r->cut ? r->gap : 0);
}

/* (asm: gcc 12 drops a function of nothing but __builtin_prefetch) */
static void edge_prefetch(const Run *r, int t, float *out, const float *in, int c)
{
	int own = t ? r->cut : r->cut - 1, halo = t ? r->cut - 1 : r->cut;
	const char *o = (const char *)(out + at(r, c, own)),
	           *h = (const char *)(in + at(r, c, halo));
	size_t bytes = (size_t)r->W * sizeof(float);
	for (size_t b = 0; b < bytes + 63; b += 64) {
		__asm__ volatile("prefetchw %0" ::"m"(o[b]));
		__asm__ volatile("prefetcht0 %0" ::"m"(h[b]));
	}
}

static float spin(int n, float x)
{
	for (int i = 0; i < n; i++)
		x = x * 0.999f + 0.001f;
	return x;
}

static void one_row(const Run *r, float *out, const float *in, int c, int y)
{
	int lo = 0, hi = r->H;
	if (r->mode == NOHALO || r->mode == HCWNOHALO || r->mode == PAGENOHALO ||
	        r->mode == LINENOHALO || r->mode == TAILNOHALO || r->mode == SEPNOHALO) {
		lo = y < r->cut ? 0 : r->cut;
		hi = y < r->cut ? r->cut : r->H;
	}
	const float *a = in + at(r, c, y > lo ? y - 1 : y), *b = in + at(r, c, y),
	            *d = in + at(r, c, y + 1 < hi ? y + 1 : y);
	bool edge = false;
	if (r->mode == SEP || r->mode == SEPNOHALO) {
		int p = (int)(4096 / (r->W * sizeof(float))) + 2;
		int e0 = y < r->cut ? 0 : r->cut, e1 = y < r->cut ? r->cut : r->H;
		edge = y < e0 + p || y >= e1 - p;
	}
	if (edge && wide)
		edge_512(out + at(r, c, y), a, b, d, r->W, r->res);
	else if (edge)
		edge_256(out + at(r, c, y), a, b, d, r->W, r->res);
	else if (wide)
		row_512(out + at(r, c, y), a, b, d, r->W, r->res);
	else
		row_256(out + at(r, c, y), a, b, d, r->W, r->res);
}

static bool phased; /* CUT_PHASED=1 */
static float *own_copy[2];

static bool no_halo(int mode)
{
	return mode == NOHALO || mode == HCWNOHALO || mode == PAGENOHALO || mode == LINENOHALO ||
	       mode == TAILNOHALO || mode == SEPNOHALO;
}

/* Thread t's share of one layer as the fused Winograd layer's phases: its rows and halo of
 * in copied into its own buffer (pad_own), then the arithmetic (SPIN x its rows), then its
 * rows of out written from the copy (the output transform), plane by plane ([H, C, W]:
 * row by row). */
static void share_phased(const Run *r, int t, float *out, const float *in)
{
	int y0 = t ? r->cut : 0, y1 = t ? r->H : r->cut, rows = y1 - y0 + 2;
	bool hcw = r->mode == HCW || r->mode == HCWNOHALO;
	int lo = y0 > 0 && !no_halo(r->mode) ? y0 - 1 : y0;
	int hi = y1 < r->H && !no_halo(r->mode) ? y1 + 1 : y1;
	float *p = own_copy[t];
	size_t W = (size_t)r->W;
	for (int i = 0; i < (hcw ? hi - lo : r->C); i++)
		for (int j = 0; j < (hcw ? r->C : hi - lo); j++) {
			int c = hcw ? j : i, y = hcw ? lo + i : lo + j;
			memcpy(p + ((size_t)c * rows + (size_t)(y - y0 + 1)) * W, in + at(r, c, y),
			        W * sizeof(float));
		}
	sink = spin(r->spin * (y1 - y0) * r->C, 0);
	for (int i = 0; i < (hcw ? y1 - y0 : r->C); i++)
		for (int j = 0; j < (hcw ? r->C : y1 - y0); j++) {
			int c = hcw ? j : i, y = hcw ? y0 + i : y0 + j;
			const float *b = p + ((size_t)c * rows + (size_t)(y - y0 + 1)) * W;
			if (wide)
				row_512(out + at(r, c, y), b - W, b, b + W, r->W, r->res);
			else
				row_256(out + at(r, c, y), b - W, b, b + W, r->W, r->res);
		}
}

/* Thread t's share of one layer: from in to out. */
static void share(const Run *r, int t, float *out, const float *in)
{
	int y0 = t ? r->cut : 0, y1 = t ? r->H : r->cut;
	float s = 0;
	if (phased) {
		share_phased(r, t, out, in);
		return;
	}
	if (r->mode == HCW || r->mode == HCWNOHALO) {
		for (int y = y0; y < y1; y++)
			for (int c = 0; c < r->C; c++) {
				one_row(r, out, in, c, y);
				s = spin(r->spin, s);
			}
	} else if (r->mode == DOWN && t == 0) {
		for (int c = 0; c < r->C; c++)
			for (int y = y1 - 1; y >= y0; y--) {
				one_row(r, out, in, c, y);
				s = spin(r->spin, s);
			}
	} else if (r->mode == TAIL || r->mode == TAILNOHALO) {
		int k = tail_rows < y1 - y0 ? tail_rows : y1 - y0;
		for (int c = 0; c < r->C; c++) {
			for (int y = y0; y < y1 - k; y++) {
				one_row(r, out, in, c, y);
				s = spin(r->spin, s);
			}
			for (int y = y1 - 1; y >= y1 - k; y--) {
				one_row(r, out, in, c, y);
				s = spin(r->spin, s);
			}
		}
	} else if (r->mode == PFW || r->mode == PFWAHEAD) {
		if (r->mode == PFW)
			for (int c = 0; c < r->C; c++)
				edge_prefetch(r, t, out, in, c);
		else
			for (int c = 0; c < 2 && c < r->C; c++)
				edge_prefetch(r, t, out, in, c);
		for (int c = 0; c < r->C; c++) {
			if (r->mode == PFWAHEAD && c + 2 < r->C)
				edge_prefetch(r, t, out, in, c + 2);
			for (int y = y0; y < y1; y++) {
				one_row(r, out, in, c, y);
				s = spin(r->spin, s);
			}
		}
	} else {
		for (int c = 0; c < r->C; c++)
			for (int y = y0; y < y1; y++) {
				one_row(r, out, in, c, y);
				s = spin(r->spin, s);
			}
	}
	sink = s;
}

static void *thread_main(void *p)
{
	Arg *a = p;
	Run *r = a->r;
	int t = a->t;
	pin_to(r->cpu[t]);
	int m = r->mode == PRIVATE ? t : 0;
	for (int i = -WARM; i < LAYERS; i++) {
		barrier_wait(&r->bar);
		unsigned long long c0 = __rdtsc();
		float *in = r->map[m][(i & 1)], *out = r->map[m][!(i & 1)];
		if (!(r->mode == ALONE && t == 1))
			share(r, t, out, in);
		unsigned long long c1 = __rdtsc();
		if (i >= 0)
			r->cyc[t][i] = c1 - c0;
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;
	return (x > y) - (x < y);
}

static double ghz;

/* us: median of thread 0's, thread 1's, and of the slower of the two per layer */
static void run(Run *r, int mode, double out[3])
{
	r->mode = mode;
	int C = r->C, H = r->H, W = r->W;
	r->row = (size_t)W;
	r->plane = (size_t)H * W;
	r->gap = 0;
	if (mode == PAGE || mode == PAGENOHALO || mode == LINE || mode == LINENOHALO) {
		size_t g = mode == PAGE || mode == PAGENOHALO ? page_align / sizeof(float) : 16;
		size_t first = ((size_t)r->cut * W + g - 1) / g * g;
		r->gap = first - (size_t)r->cut * W;
		r->plane = (first + (size_t)(H - r->cut) * W + g - 1) / g * g;
	} else if (mode == HCW || mode == HCWNOHALO) {
		r->row = (size_t)C * W;
		r->plane = (size_t)W;
	}
	r->floats = mode == HCW || mode == HCWNOHALO ? (size_t)H * C * W : (size_t)C * r->plane;
	size_t bytes = (r->floats * sizeof(float) + 4095) / 4096 * 4096;
	int maps = mode == PRIVATE ? 2 : 1;
	for (int m = 0; m < maps; m++)
		for (int k = 0; k < 2; k++) {
			r->map[m][k] = aligned_alloc(4096, bytes);
			for (size_t i = 0; i < r->floats; i++)
				r->map[m][k][i] = 1e-3f * (float)(i % 7);
		}
	for (int t = 0; t < 2; t++) {
		own_copy[t] = aligned_alloc(
		        4096, ((size_t)C * (H + 2) * W * sizeof(float) + 4095) / 4096 * 4096);
		memset(own_copy[t], 0, (size_t)C * (H + 2) * W * sizeof(float));
	}
	r->bar = (Barrier){.n = 2};
	pthread_t th[2];
	Arg arg[2] = {{r, 0}, {r, 1}};
	for (int t = 0; t < 2; t++)
		pthread_create(&th[t], NULL, thread_main, &arg[t]);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	static unsigned long long mx[LAYERS];
	for (int i = 0; i < LAYERS; i++)
		mx[i] = r->cyc[0][i] > r->cyc[1][i] ? r->cyc[0][i] : r->cyc[1][i];
	qsort(r->cyc[0], LAYERS, sizeof r->cyc[0][0], by_value);
	qsort(r->cyc[1], LAYERS, sizeof r->cyc[1][0], by_value);
	qsort(mx, LAYERS, sizeof mx[0], by_value);
	out[0] = (double)r->cyc[0][LAYERS / 2] / ghz / 1e3;
	out[1] = (double)r->cyc[1][LAYERS / 2] / ghz / 1e3;
	out[2] = (double)mx[LAYERS / 2] / ghz / 1e3;
	for (int m = 0; m < maps; m++)
		for (int k = 0; k < 2; k++)
			free(r->map[m][k]);
	for (int t = 0; t < 2; t++)
		free(own_copy[t]);
}

int main(int argc, char **argv)
{
	static const int shape_default[][3] = {{32, 97, 97}, {64, 49, 49}, {64, 57, 57}};
	int rounds = argc > 1 ? atoi(argv[1]) : 1, nshapes = 3, shapes[3][3];
	memcpy(shapes, shape_default, sizeof shapes);
	if (argc > 3) {
		shapes[0][0] = atoi(argv[2]);
		shapes[0][1] = shapes[0][2] = atoi(argv[3]);
		nshapes = 1;
	}
	int spins = argc > 4 ? atoi(argv[4]) : 0;
	const char *isa = getenv("GEQRT_KERNEL");
	wide = __builtin_cpu_supports("avx512f") && !(isa && strcmp(isa, "avx2") == 0);
	if (!wide && !__builtin_cpu_supports("avx2")) {
		fputs("cut: needs AVX2\n", stderr);
		return 1;
	}
	phased = getenv("CUT_PHASED") && atoi(getenv("CUT_PHASED"));
	if (getenv("CUT_ALIGN"))
		page_align = (size_t)atoi(getenv("CUT_ALIGN"));
	if (getenv("CUT_TAIL"))
		tail_rows = atoi(getenv("CUT_TAIL"));
	static Run r;
	if (first_cpus(r.cpu) < 2) {
		fputs("cut: needs two CPUs\n", stderr);
		return 1;
	}
	double w0 = gq_now();
	unsigned long long c0 = __rdtsc();
	while (gq_now() - w0 < 0.05)
		;
	ghz = (double)(__rdtsc() - c0) / (gq_now() - w0) / 1e9;
	for (int round = 0; round < rounds; round++) {
		printf("# round %d, %s, CPUs %d and %d, spin %d, tsc %.2f GHz\n", round + 1,
		        wide ? "AVX-512" : "AVX2", r.cpu[0], r.cpu[1], spins, ghz);
		placement("before");
		printf("%-10s %-3s %-8s %8s %8s %8s %6s\n", "shape", "res", "mode", "t0 us",
		        "t1 us", "layer", "/priv");
		for (int s = 0; s < nshapes; s++)
			for (int res = 0; res < 2; res++) {
				r.C = shapes[s][0];
				r.H = shapes[s][1];
				r.W = shapes[s][2];
				r.cut = r.H / 2;
				r.spin = spins;
				r.res = res;
				double us[MODES][3];
				for (int m = 0; m < MODES; m++)
					run(&r, m, us[m]);
				char shape[32];
				snprintf(shape, sizeof shape, "%dx%dx%d", r.C, r.H, r.W);
				for (int m = 0; m < MODES; m++)
					printf("%-10s %-3s %-8s %8.2f %8.2f %8.2f %6.2f\n", shape,
					        res ? "yes" : "no", mode_name[m], us[m][0],
					        us[m][1], us[m][2], us[m][2] / us[PRIVATE][2]);
				fflush(stdout);
			}
		placement("after");
	}
	return 0;
}
