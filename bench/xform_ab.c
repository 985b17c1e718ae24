/* xform_ab.c: two builds of conv_fast.c's Winograd input transform in one process, timed
 * in turn (A B, then B A, per block of the layer), rdtsc per call of one block of tiles by
 * all input channels, hot (each block 5 times running); their V compared float for float.
 * Prints per block the sums over the layer's blocks of each block's min, first quartile
 * and median, A's and B's, and B/A. Not part of any build (docs/batch1.md, s19-xin):
 *
 *   F="-std=c11 -D_GNU_SOURCE -O2 -Iruntime -Ibuild -fvisibility=hidden -Wno-unused-function"
 *   gcc $F -DIMPL='"/tmp/main/conv_fast.c"' -DENTRY=in_A -c bench/xform_ab.c -o /tmp/a.o
 *   gcc $F -DIMPL='"'$PWD'/runtime/conv_fast.c"' -DENTRY=in_B -c bench/xform_ab.c -o /tmp/b.o
 *   objcopy --localize-hidden /tmp/a.o && objcopy --localize-hidden /tmp/b.o
 *   gcc -O2 -Iruntime bench/xform_ab.c /tmp/a.o /tmp/b.o build/libgeqrt.a \
 *       $(pkg-config --libs openblas jansson libpng) -lm -lpthread -o /tmp/xform_ab
 *   chrt -f 1 /tmp/xform_ab CHANNELS PIXELS [ALGO [FOLD [CALLS]]]   # e.g. 32 97 4 0 10000
 *
 * ALGO: GQ_CONV_* (4: F(4x4)); FOLD 1: the layer's input read in place (two threads' path)
 * instead of the padded copy. GEQRT_KERNEL=avx2 times AVX2's. The copies share the plan
 * (gq_conv_new_algo of the library linked), so struct gq_conv must be the same in both.
 * An A/A build (the same file twice) differs by up to 3-4% at a load of 2-5 (code layout). */
#ifdef IMPL
#include IMPL
#define CAT_(a, b) a##b
#define CAT(a, b)  CAT_(a, b)
__attribute__((visibility("default"))) void ENTRY(
        const gq_conv *c, float *V, const float *xp, int t0, int t1, int fold, const float *x)
{
	Input in = fold ? (Input){x, (size_t)c->h * c->w, c->w, c->h, c->w, c->p, false}
	                : padded_input(c, xp);
	current_kernel()->wino_in(c, V, wino_vstride(c), &in, 0, c->cin, t0, t1);
}
__attribute__((visibility("default"))) void CAT(ENTRY, _info)(
        const gq_conv *c, size_t *vstride, int *nt, int *live, int *hp, int *wq, int *alpha)
{
	*vstride = wino_vstride(c);
	*nt = c->tcp * 2 * current_kernel()->v;
	*live = wino_live(c);
	*hp = c->hp;
	*wq = c->wq;
	*alpha = c->alpha;
}
#else
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "geqrt.h"

typedef void in_fn(const gq_conv *, float *, const float *, int, int, int, const float *);
in_fn in_A, in_B;
void in_A_info(const gq_conv *, size_t *, int *, int *, int *, int *, int *);

static int cmpu(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CHANNELS PIXELS [ALGO [FOLD [CALLS]]]\n", argv[0]);
		return 2;
	}
	int ch = atoi(argv[1]), n = atoi(argv[2]), algo = argc > 3 ? atoi(argv[3]) : GQ_CONV_WINO4;
	int fold = argc > 4 ? atoi(argv[4]) : 0, calls = argc > 5 ? atoi(argv[5]) : 10000;
	gq_conv *c = gq_conv_new_algo(ch, n, n, ch, 3, 1, 1, 1, true, algo);
	size_t vs;
	int nt, live, hp, wq, alpha;
	in_A_info(c, &vs, &nt, &live, &hp, &wq, &alpha);
	size_t vfl = vs * alpha * alpha + 64, xpn = (size_t)ch * hp * wq + 64;
	size_t xn = (size_t)ch * n * n + 64;
	float *VA = aligned_alloc(64, vfl * 4), *VB = aligned_alloc(64, vfl * 4);
	float *xp = aligned_alloc(64, xpn * 4), *x = aligned_alloc(64, xn * 4);
	srand(1);
	for (size_t i = 0; i < xpn; i++)
		xp[i] = rand() / (float)RAND_MAX - 0.5f;
	for (size_t i = 0; i < xn; i++)
		x[i] = rand() / (float)RAND_MAX - 0.5f;
	int nb = (live + nt - 1) / nt;
	long differ = 0;
	for (int b = 0; b < nb; b++) {
		int t0 = b * nt, t1 = t0 + nt < live ? t0 + nt : live;
		memset(VA, 0, vfl * 4);
		memset(VB, 0, vfl * 4);
		in_A(c, VA, xp, t0, t1, fold, x);
		in_B(c, VB, xp, t0, t1, fold, x);
		for (size_t i = 0; i < vfl; i++)
			differ += memcmp(&VA[i], &VB[i], 4) != 0;
	}
	int reps = 5, rounds = calls / (reps * nb) > 0 ? calls / (reps * nb) : 1,
	    per = rounds * reps;
	uint64_t *tt = malloc(sizeof(uint64_t) * 2 * nb * per); /* [side][block][call] */
	for (int r = 0; r < rounds; r++)
		for (int b = 0; b < nb; b++)
			for (int s0 = 0; s0 < 2; s0++) {
				int side = s0 ^ (r & 1), t0 = b * nt,
				    t1 = t0 + nt < live ? t0 + nt : live;
				for (int k = 0; k < reps; k++) {
					uint64_t s = __rdtsc();
					(side ? in_B : in_A)(
					        c, side ? VB : VA, xp, t0, t1, fold, x);
					tt[((size_t)side * nb + b) * per + r * reps + k] =
					        __rdtsc() - s;
				}
			}
	double sum[2][3] = {{0}};
	for (int side = 0; side < 2; side++)
		for (int b = 0; b < nb; b++) {
			uint64_t *v = tt + ((size_t)side * nb + b) * per;
			qsort(v, per, 8, cmpu);
			sum[side][0] += v[0];
			sum[side][1] += v[per / 4];
			sum[side][2] += v[per / 2];
		}
	printf("%d ch %dx%d algo %d fold %d: %d blocks of %d tiles, %ld floats of V differ | TSC "
	       "a block min/q25/median A %.0f %.0f %.0f B %.0f %.0f %.0f | B/A %.3f %.3f %.3f\n",
	        ch, n, n, algo, fold, nb, nt, differ, sum[0][0] / nb, sum[0][1] / nb,
	        sum[0][2] / nb, sum[1][0] / nb, sum[1][1] / nb, sum[1][2] / nb,
	        sum[1][0] / sum[0][0], sum[1][1] / sum[0][1], sum[1][2] / sum[0][2]);
	gq_conv_free(c);
	return 0;
}
#endif
