/* bench/pair.c: a residual block's two 3x3 convolutions as two calls (gq_conv_run, then
 * gq_conv_run_sum) against one gq_conv_run_pair (the first conv writing the second's padded
 * rows where it applies), alternated in one process (s24-band, s25-rows). L distinct blocks
 * of C planes HW x HW run as a chain, each block's output written over its input, as a
 * model's emitted code does: `build/bench/pair THREADS ROUNDS L C HW [ALGO]` (ALGO 4: F(4x4),
 * the default; 2, 6, 3; 0: the rules' plan).
 * Prints the placement, then per round the ms a block of each and their ratio, and the
 * medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: pair THREADS ROUNDS L C HW [ALGO]\n");
		return 2;
	}
	int threads = atoi(argv[1]), rounds = atoi(argv[2]), L = atoi(argv[3]);
	int C = atoi(argv[4]), hw = atoi(argv[5]), f = argc > 6 ? atoi(argv[6]) : 4;
	int algo = f == 2   ? GQ_CONV_WINO2
	           : f == 6 ? GQ_CONV_WINO6
	           : f == 3 ? GQ_CONV_WINO3
	           : f == 0 ? GQ_CONV_AUTO
	                    : GQ_CONV_WINO4;
	gq_set_threads(threads);
	size_t n = (size_t)C * hw * hw, wn = (size_t)C * C * 9;
	float *w = malloc(wn * sizeof *w), *bias = calloc(C, sizeof *bias);
	gq_conv **a = malloc(L * sizeof *a), **b = malloc(L * sizeof *b);
	srand(1);
	size_t scratch = 0;
	for (int l = 0; l < L; l++) {
		for (size_t i = 0; i < wn; i++)
			w[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.15f;
		a[l] = gq_conv_new_algo(C, hw, hw, C, 3, 1, 1, 1, true, algo);
		b[l] = gq_conv_new_algo(C, hw, hw, C, 3, 1, 1, 1, true, algo);
		if (!a[l] || !b[l]) {
			fprintf(stderr, "no such plan\n");
			return 1;
		}
		gq_conv_set(a[l], w, bias);
		gq_conv_set(b[l], w, bias);
		size_t s = gq_conv_pair_scratch(a[l], b[l]);
		scratch = s > scratch ? s : scratch;
	}
	float *scr = malloc(scratch * sizeof *scr), *x = malloc(n * sizeof *x);
	float *mid = malloc(n * sizeof *mid);
	for (size_t i = 0; i < n; i++)
		x[i] = (float)rand() / RAND_MAX;
	double *t = malloc(sizeof *t * 2 * rounds), *q = malloc(sizeof *q * rounds);
	placement("before");
	for (int r = -2; r < rounds; r++) {
		double ms[2];
		for (int k = 0; k < 2; k++) {
			int pair = (r & 1) ? 1 - k : k; /* which runs first alternates */
			double t0 = now_ms();
			for (int l = 0; l < L; l++)
				if (pair)
					gq_conv_run_pair(a[l], b[l], x, x, mid, x, scr);
				else {
					gq_conv_run(a[l], mid, x, scr);
					gq_conv_run_sum(b[l], x, mid, x, scr);
				}
			ms[pair] = (now_ms() - t0) / L;
		}
		if (r < 0)
			continue;
		t[r] = ms[0];
		t[rounds + r] = ms[1];
		q[r] = ms[1] / ms[0];
		printf("round %d: two calls %.4f ms a block, pair %.4f, ratio %.3f\n", r, ms[0],
		        ms[1], q[r]);
	}
	placement("after");
	qsort(t, rounds, sizeof *t, cmp);
	qsort(t + rounds, rounds, sizeof *t, cmp);
	qsort(q, rounds, sizeof *q, cmp);
	printf("%d threads, %s, %d x %dx%d F(%dx%d): two calls %.4f ms a block, pair %.4f, "
	       "median ratio %.3f (%.3f-%.3f)\n",
	        threads, gq_conv_kernel(), C, hw, hw, f, f, t[rounds / 2], t[rounds + rounds / 2],
	        q[rounds / 2], q[0], q[rounds - 1]);
	return 0;
}
