/* bench/formab.c: two Winograd forms of the same residual blocks, alternated in one
 * process (s26-f7): L distinct blocks of C planes HW x HW (two 3x3 convolutions, the
 * second with the block's + fused, run as gq_conv_run_pair, as the models do), each
 * block's output over its input, the chain in form A then in form B (which runs first
 * alternates): `build/bench/formab THREADS ROUNDS L C HW A B` (GQ_CONV_* numbers: 4
 * F(4x4), 8 F(6x6), 13 F(7x7), 0 the rules' plan). Prints the placement, per round the ms
 * a block of each and B/A, then the medians. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: formab THREADS ROUNDS L C HW A B\n");
		return 2;
	}
	int threads = atoi(argv[1]), rounds = atoi(argv[2]), L = atoi(argv[3]);
	int C = atoi(argv[4]), hw = atoi(argv[5]), form[2] = {atoi(argv[6]), atoi(argv[7])};
	gq_set_threads(threads);
	size_t n = (size_t)C * hw * hw, wn = (size_t)C * C * 9;
	float *w = malloc(wn * sizeof *w), *bias = calloc(C, sizeof *bias);
	gq_conv **c[2][2];
	for (int f = 0; f < 2; f++)
		for (int j = 0; j < 2; j++)
			c[f][j] = malloc(L * sizeof **c);
	srand(1);
	size_t scratch = 0;
	for (int l = 0; l < L; l++)
		for (int j = 0; j < 2; j++) {
			for (size_t i = 0; i < wn; i++)
				w[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.15f;
			for (int f = 0; f < 2; f++) {
				c[f][j][l] =
				        gq_conv_new_algo(C, hw, hw, C, 3, 1, 1, 1, true, form[f]);
				if (!c[f][j][l]) {
					fprintf(stderr, "no such plan\n");
					return 1;
				}
				gq_conv_set(c[f][j][l], w, bias);
			}
		}
	for (int f = 0; f < 2; f++)
		for (int l = 0; l < L; l++) {
			size_t s = gq_conv_pair_scratch(c[f][0][l], c[f][1][l]);
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
			int f = (r & 1) ? 1 - k : k; /* which runs first alternates */
			double t0 = now_ms();
			for (int l = 0; l < L; l++)
				gq_conv_run_pair(c[f][0][l], c[f][1][l], x, x, mid, x, scr);
			ms[f] = (now_ms() - t0) / L;
			for (size_t i = 0; i < n; i += 97) /* keep the chain's values bounded */
				x[i] = x[i] > 100.0f ? 1.0f : x[i];
		}
		if (r < 0)
			continue;
		t[r] = ms[0];
		t[rounds + r] = ms[1];
		q[r] = ms[1] / ms[0];
		printf("round %d: %s %.4f ms a block, %s %.4f, B/A %.3f\n", r,
		        gq_conv_algo(c[0][0][0]), ms[0], gq_conv_algo(c[1][0][0]), ms[1], q[r]);
	}
	placement("after");
	qsort(t, rounds, sizeof *t, cmp);
	qsort(t + rounds, rounds, sizeof *t, cmp);
	qsort(q, rounds, sizeof *q, cmp);
	printf("%d threads, %s, %d x %dx%d: %s %.4f ms a block, %s %.4f, median B/A %.3f "
	       "(%.3f-%.3f)\n",
	        threads, gq_conv_kernel(), C, hw, hw, gq_conv_algo(c[0][0][0]), t[rounds / 2],
	        gq_conv_algo(c[1][0][0]), t[rounds + rounds / 2], q[rounds / 2], q[0],
	        q[rounds - 1]);
	return 0;
}
