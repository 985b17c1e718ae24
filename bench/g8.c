/* bench/g8.c: a group layer's plans alternated in one process (s20-g8): L distinct layers
 * of one shape per plan, run in turn (L = 1: its bank stays in the L3 between calls; 16:
 * the banks stream from memory, as in a model at batch 1), ms a layer, medians of the
 * rounds. `build/bench/g8 THREADS ROUNDS L CIN HW COUT NG PLAN...`, PLAN one of e
 * (expanded), 2 (the group at F(2x2)), 3, 4 and 5 (F(3x3), F(4x4) and F(5x5) on reciprocal
 * points), 6 (F(6x6)), each
 * with n (GEQRT_WGNARROW=1) or w (=0) after it to force the narrow or wide products, x for
 * GEQRT_WGMIXED=0, t or T for GEQRT_WGTILES=0 or 1, s or S for GEQRT_WGSTEAL=0 or 1.
 * G8_CHAIN set: the layers run as a
 * chain of residual blocks (x -> h = conv(x), x = conv(h) + x), each reading what the one
 * before wrote, as in a model, where unset each reads the same input. G8_STRIDE=2: stride 2
 * (HW the input's; each group plan is then the group's stride-2 F(2x2) form, whatever its
 * digit, as the wide model's gconv4; not with G8_CHAIN). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_orbit.h"
#include "harness.h"

static const int P4M[] = {0, 1, 2, 3, 4, 5, 6, 7}, P4[] = {0, 1, 2, 3};

static gq_conv *make(const gq_conv_shape *s, const char *plan)
{
	unsetenv("GEQRT_WGNARROW");
	unsetenv("GEQRT_WGMIXED");
	unsetenv("GEQRT_WGTILES");
	unsetenv("GEQRT_WGSTEAL");
	for (const char *f = plan + 1; *f; f++)
		if (*f == 'n' || *f == 'w')
			setenv("GEQRT_WGNARROW", *f == 'n' ? "1" : "0", 1);
		else if (*f == 's' || *f == 'S')
			setenv("GEQRT_WGSTEAL", *f == 'S' ? "1" : "0", 1);
		else if (*f == 'x')
			setenv("GEQRT_WGMIXED", "0", 1);
		else if (*f == 't' || *f == 'T')
			setenv("GEQRT_WGTILES", *f == 'T' ? "1" : "0", 1);
	int algo = s->s == 2        ? GQ_CONV_WINO2S2
	           : plan[0] == '2' ? GQ_CONV_WINO2
	           : plan[0] == '4' ? GQ_CONV_WINO4R
	           : plan[0] == '3' ? GQ_CONV_WINO3R
	           : plan[0] == '5' ? GQ_CONV_WINO5R
	                            : GQ_CONV_WINO6;
	gq_conv *c = plan[0] == 'e' ? gq_conv_new(s->cin, s->h, s->w, s->cout, 3, s->s, 1, 1, true)
	                            : gq_conv_new_wgroup(s, algo, false);
	unsetenv("GEQRT_WGNARROW");
	unsetenv("GEQRT_WGMIXED");
	unsetenv("GEQRT_WGTILES");
	unsetenv("GEQRT_WGSTEAL");
	return c;
}

int main(int argc, char **argv)
{
	LayerArgs a;
	if (!layer_args(argc, argv, "g8", &a))
		return 2;
	int threads = a.threads, rounds = a.rounds, L = a.L, cin = a.cin, hw = a.hw, cout = a.cout,
	    ng = a.ng, np = a.np;
	int stride = getenv("G8_STRIDE") ? atoi(getenv("G8_STRIDE")) : 1,
	    ohw = (hw - 1) / stride + 1;
	if (stride != 1 && stride != 2) {
		fprintf(stderr, "G8_STRIDE: 1 or 2\n");
		return 2;
	}
	gq_conv_shape s = {cin, hw, hw, cout, 3, stride, 1, 1, true, ng, ng == 8 ? P4M : P4, false};
	gq_set_threads(threads);
	size_t nin = (size_t)cin * hw * hw, nout = (size_t)cout * ohw * ohw,
	       wn = (size_t)cout * cin * 9;
	float *w = malloc(wn * sizeof *w), *bias = calloc(cout, sizeof *bias);
	float *in = malloc(nin * sizeof *in), *out = malloc(nout * sizeof *out);
	srand(1);
	bool chain = getenv("G8_CHAIN") != NULL && stride == 1;
	for (size_t i = 0; i < wn; i++)
		w[i] = ((float)rand() / RAND_MAX - 0.5f) * (chain ? 0.15f : 1.0f);
	for (size_t i = 0; i < nin; i++)
		in[i] = (float)rand() / RAND_MAX;
	gq_conv *c[MAX_PLANS][MAX_LAYERS];
	size_t scratch = 0;
	for (int p = 0; p < np; p++)
		for (int l = 0; l < L; l++) {
			if (!(c[p][l] = make(&s, argv[8 + p]))) {
				fprintf(stderr, "plan %s does not apply\n", argv[8 + p]);
				return 1;
			}
			gq_conv_set(c[p][l], w, bias);
			if (gq_conv_scratch(c[p][l]) > scratch)
				scratch = gq_conv_scratch(c[p][l]);
		}
	float *scr = malloc(scratch * sizeof *scr);
	float *xb = malloc(nout * sizeof *xb), *hb = malloc(nout * sizeof *hb);
	double *t = malloc(sizeof *t * np * rounds);
	placement("before");
	for (int r = -2; r < rounds; r++)
		for (int k = 0; k < np; k++) {
			int p = (r & 1) ? np - 1 - k : k;
			if (chain)
				memcpy(xb, in, nout * sizeof *xb);
			double t0 = now_ms();
			for (int l = 0; l < L; l++)
				if (!chain)
					gq_conv_run(c[p][l], out, in, scr);
				else if (l % 2 == 0)
					gq_conv_run(c[p][l], hb, xb, scr);
				else
					gq_conv_run_sum(c[p][l], xb, hb, xb, scr);
			if (r >= 0)
				t[p * rounds + r] = (now_ms() - t0) / L;
		}
	placement("after");
	for (int p = 0; p < np; p++) {
		qsort(t + p * rounds, rounds, sizeof *t, cmp);
		printf("%-4s %s %s narrow=%d bank %.2f MB: median %.3f ms, quartiles %.3f %.3f\n",
		        argv[8 + p], gq_conv_algo(c[p][0]), gq_conv_wgroup(c[p][0]) ? "group" : "",
		        gq_conv_narrow(c[p][0]), gq_conv_bytes(c[p][0]) / 1048576.0,
		        t[p * rounds + rounds / 2], t[p * rounds + rounds / 4],
		        t[p * rounds + 3 * rounds / 4]);
	}
	return 0;
}
