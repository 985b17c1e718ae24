/* bench/lift.c: ResNet-18 p4's stem (a 7x7 stride-2 lift, 3 -> 64 planes at 225x225, relu,
 * its 3x3 stride-2 pool fused) run as gq_conv_run_pool (the 113x113 map written whole, the
 * pool reading it back) and gq_conv_run_pool_only (each band pooled from a buffer of its
 * thread's), alternated in one process, ms a call, medians of the rounds (s22-big). Between
 * calls FLUSH MB are read (0: none), as a model's deeper banks empty the caches between
 * images. `build/bench/lift THREADS ROUNDS [FLUSH [CIN H COUT]]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: lift THREADS ROUNDS [FLUSH_MB [CIN H COUT]]\n");
		return 2;
	}
	int threads = atoi(argv[1]), rounds = atoi(argv[2]);
	size_t flush = argc > 3 ? (size_t)atoi(argv[3]) << 20 : 48u << 20;
	int cin = argc > 6 ? atoi(argv[4]) : 3, h = argc > 6 ? atoi(argv[5]) : 225;
	int cout = argc > 6 ? atoi(argv[6]) : 64;
	int oh = (h + 6 - 7) / 2 + 1, ph = (oh + 2 - 3) / 2 + 1;
	gq_set_threads(threads);
	gq_conv *c = gq_conv_new(cin, h, h, cout, 7, 2, 3, 1, true);
	size_t nin = (size_t)cin * h * h, nout = (size_t)cout * oh * oh,
	       npool = (size_t)cout * ph * ph, wn = (size_t)cout * cin * 49;
	float *w = malloc(wn * sizeof *w), *bias = calloc(cout, sizeof *bias);
	float *in = malloc(nin * sizeof *in), *out = malloc(nout * sizeof *out);
	float *pool = malloc(npool * sizeof *pool), *pool2 = malloc(npool * sizeof *pool2);
	float *scratch = malloc(gq_conv_scratch(c) * sizeof(float) + 64);
	float *junk = malloc(flush + 64);
	srand(1);
	for (size_t i = 0; i < wn; i++)
		w[i] = (float)rand() / RAND_MAX - 0.5f;
	for (size_t i = 0; i < nin; i++)
		in[i] = (float)rand() / RAND_MAX;
	memset(junk, 1, flush + 64);
	gq_conv_set(c, w, bias);
	printf("# lift %d -> %d at %dx%d, plan %s, %d threads, flush %zu MB\n", cin, cout, h, h,
	        gq_conv_algo(c), threads, flush >> 20);
	placement("before");
	double *t[2];
	for (int v = 0; v < 2; v++)
		t[v] = malloc(rounds * sizeof *t[v]);
	volatile float sink = 0;
	for (int r = 0; r < rounds; r++)
		for (int v = 0; v < 2; v++) {
			float s = 0;
			for (size_t i = 0; i < flush / sizeof(float); i += 16)
				s += junk[i];
			sink += s;
			double t0 = now_ms();
			if (v)
				gq_conv_run_pool_only(
				        c, out, in, NULL, pool2, cout, oh, oh, 3, 2, 1, scratch);
			else
				gq_conv_run_pool(
				        c, out, in, NULL, pool, cout, oh, oh, 3, 2, 1, scratch);
			t[v][r] = now_ms() - t0;
		}
	placement("after");
	const char *name[] = {"run_pool", "run_pool_only"};
	for (int v = 0; v < 2; v++) {
		qsort(t[v], rounds, sizeof *t[v], cmp);
		printf("%-14s median %.3f ms  min %.3f  q1 %.3f  q3 %.3f\n", name[v],
		        t[v][rounds / 2], t[v][0], t[v][rounds / 4], t[v][3 * rounds / 4]);
	}
	printf("pools %s\n", memcmp(pool, pool2, npool * sizeof *pool) ? "DIFFER" : "agree");
	gq_conv_free(c);
	return 0;
}
