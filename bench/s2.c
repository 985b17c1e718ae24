/* bench/s2.c: a stride-2 3x3 layer's plans alternated in one process (s23-s2): L distinct
 * layers of one shape per plan, run in turn (L = 16: the banks stream from memory, as in a
 * model at batch 1), ms a layer, medians of the rounds, and useful GFLOP/s (the direct
 * convolution's multiply-adds, 2 flops each). `build/bench/s2 THREADS ROUNDS L CIN H COUT
 * NG PLAN...`, PLAN one of a (the rules' choice, gq_conv_new), 2 (F(2x2)'s stride-2 form,
 * expanded), 3 (F(3x3)'s), 4 (F(4x4)'s), d (direct), k (packed), g (the group's F(2x2) stride-2
 * form), and s (a stride-1 3x3 layer of the same channels on the output's size, the rules' plan:
 * what the stride-1 machinery does with as many useful multiply-adds); and on that stride-1
 * layer r and f (the group's F(3x3) and F(4x4) on reciprocal points), t and e (F(3x3) and
 * F(4x4) expanded): proxies for a stride-2 form's products on as many tiles (s25-s2f4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"
#include "harness.h"

static const int P4M[] = {0, 1, 2, 3, 4, 5, 6, 7}, P4[] = {0, 1, 2, 3};

static gq_conv *make(const gq_conv_shape *s, int oh, char plan)
{
	switch (plan) {
	case 'a':
		return gq_conv_new(s->cin, s->h, s->w, s->cout, 3, 2, 1, 1, true);
	case '2':
		return gq_conv_new_algo(
		        s->cin, s->h, s->w, s->cout, 3, 2, 1, 1, true, GQ_CONV_WINO2S2);
	case '3':
		return gq_conv_new_algo(
		        s->cin, s->h, s->w, s->cout, 3, 2, 1, 1, true, GQ_CONV_WINO3S2);
	case '4':
		return gq_conv_new_algo(
		        s->cin, s->h, s->w, s->cout, 3, 2, 1, 1, true, GQ_CONV_WINO4S2);
	case 'd':
		return gq_conv_new_algo(
		        s->cin, s->h, s->w, s->cout, 3, 2, 1, 1, true, GQ_CONV_DIRECT);
	case 'k':
		return gq_conv_new_algo(
		        s->cin, s->h, s->w, s->cout, 3, 2, 1, 1, true, GQ_CONV_PACKED);
	case 'g':
		return gq_conv_new_wgroup(s, GQ_CONV_WINO2S2, false);
	case 's':
		return gq_conv_new(s->cin, oh, oh, s->cout, 3, 1, 1, 1, true);
	}
	/* stride-1 3x3 layers of the same channels on the output's size in a given form: proxies
	 * for a stride-2 form's products at as many tiles (s25-s2f4) */
	gq_conv_shape s1 = *s;
	s1.h = s1.w = oh, s1.s = 1;
	switch (plan) {
	case 'r':
		return gq_conv_new_wgroup(&s1, GQ_CONV_WINO3R, false);
	case 't':
		return gq_conv_new_algo(s->cin, oh, oh, s->cout, 3, 1, 1, 1, true, GQ_CONV_WINO3);
	case 'f':
		return gq_conv_new_wgroup(&s1, GQ_CONV_WINO4R, false);
	case 'e':
		return gq_conv_new_algo(s->cin, oh, oh, s->cout, 3, 1, 1, 1, true, GQ_CONV_WINO4);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	LayerArgs a;
	if (!layer_args(argc, argv, "s2", &a))
		return 2;
	int threads = a.threads, rounds = a.rounds, L = a.L, cin = a.cin, h = a.hw, cout = a.cout,
	    ng = a.ng, np = a.np, oh = (h - 1) / 2 + 1;
	gq_conv_shape s = {cin, h, h, cout, 3, 2, 1, 1, true, ng, ng == 8 ? P4M : P4, false};
	gq_set_threads(threads);
	size_t nin = (size_t)cin * h * h, nout = (size_t)cout * h * h, wn = (size_t)cout * cin * 9;
	float *w = malloc(wn * sizeof *w), *bias = calloc(cout, sizeof *bias);
	float *in = malloc(nin * sizeof *in), *out = malloc(nout * sizeof *out);
	srand(1);
	for (size_t i = 0; i < wn; i++)
		w[i] = (float)rand() / RAND_MAX - 0.5f;
	for (size_t i = 0; i < nin; i++)
		in[i] = (float)rand() / RAND_MAX;
	gq_conv *c[MAX_PLANS][MAX_LAYERS];
	size_t scratch = 0;
	for (int p = 0; p < np; p++)
		for (int l = 0; l < L; l++) {
			if (!(c[p][l] = make(&s, oh, argv[8 + p][0]))) {
				fprintf(stderr, "plan %s does not apply\n", argv[8 + p]);
				for (int m = p + 1; m < np; m++)
					argv[8 + m - 1] = argv[8 + m];
				np--, p--;
				break;
			}
			gq_conv_set(c[p][l], w, bias);
			if (gq_conv_scratch(c[p][l]) > scratch)
				scratch = gq_conv_scratch(c[p][l]);
		}
	float *scr = malloc(scratch * sizeof *scr);
	double *t = malloc(sizeof *t * np * rounds);
	double flop = 2.0 * cout * cin * 9 * oh * oh;
	/* each plan's outputs against the first's (the largest difference, relative) */
	float *ref = malloc(nout * sizeof *ref);
	size_t no = (size_t)cout * oh * oh;
	gq_conv_run(c[0][0], ref, in, scr);
	for (int p = 1; p < np; p++) {
		if (strchr("srtfe", argv[8 + p][0]))
			continue;
		gq_conv_run(c[p][0], out, in, scr);
		double d = 0, m = 0;
		for (size_t i = 0; i < no; i++) {
			double e = out[i] - ref[i];
			d = e * e > d * d ? (e < 0 ? -e : e) : d;
			m = ref[i] > m ? ref[i] : ref[i] < -m ? -ref[i] : m;
		}
		printf("# %s against %s: largest difference %.2g of the largest output\n",
		        argv[8 + p], argv[8], d / m);
	}
	placement("before");
	for (int r = -2; r < rounds; r++)
		for (int k = 0; k < np; k++) {
			int p = (r & 1) ? np - 1 - k : k;
			double t0 = now_ms();
			for (int l = 0; l < L; l++)
				gq_conv_run(c[p][l], out, in, scr);
			if (r >= 0)
				t[p * rounds + r] = (now_ms() - t0) / L;
		}
	placement("after");
	for (int p = 0; p < np; p++) {
		qsort(t + p * rounds, rounds, sizeof *t, cmp);
		double med = t[p * rounds + rounds / 2];
		printf("%d %d->%d %dx%d->%d %s %-7s %s narrow=%d bank %.2f MB: median %.3f ms "
		       "(%.3f %.3f) %.0f GFLOP/s\n",
		        threads, cin, cout, h, h, oh, argv[8 + p], gq_conv_algo(c[p][0]),
		        gq_conv_wgroup(c[p][0]) ? "group" : "", gq_conv_narrow(c[p][0]),
		        gq_conv_bytes(c[p][0]) / 1048576.0, med, t[p * rounds + rounds / 4],
		        t[p * rounds + 3 * rounds / 4], flop / med * 1e-6);
	}
	return 0;
}
