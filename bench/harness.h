/* bench/harness.h: what the one-layer harnesses (g8.c, lift.c, s2.c) share: where the VM
 * put the two vCPUs, a wall clock, and the comparison their medians sort by. Static, so
 * each harness stays one file linked against libgeqrt.a alone. */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "geqrt.h"

static void placement(const char *when)
{
	double ns = gq_round_trip_ns();
	printf("# %s: vCPUs %s, round trip %.0f ns\n", when,
	        ns < 0           ? "not measured"
	        : ns > GQ_FAR_NS ? "far"
	                         : "near",
	        ns);
}

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The layer harnesses' (g8.c, s2.c) arguments: THREADS ROUNDS L CIN HW COUT NG PLAN...,
 * each plan's L layers in gq_conv *c[MAX_PLANS][MAX_LAYERS]. */
enum { MAX_PLANS = 8, MAX_LAYERS = 64 };
typedef struct {
	int threads, rounds, L, cin, hw, cout, ng, np;
} LayerArgs;

static inline bool layer_args(int argc, char **argv, const char *name, LayerArgs *a)
{
	if (argc < 9) {
		fprintf(stderr, "usage: %s THREADS ROUNDS L CIN HW COUT NG PLAN...\n", name);
		return false;
	}
	*a = (LayerArgs){atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
	        atoi(argv[6]), atoi(argv[7]), argc - 8};
	if (a->np > MAX_PLANS || a->L < 1 || a->L > MAX_LAYERS || a->rounds < 1 || a->threads < 1 ||
	        a->cin < 1 || a->hw < 1 || a->cout < 1 || (a->ng != 4 && a->ng != 8)) {
		fprintf(stderr,
		        "%s: at most %d plans, L 1-%d, ROUNDS, THREADS, CIN, HW, COUT >= 1, NG 4 "
		        "or 8\n",
		        name, MAX_PLANS, MAX_LAYERS);
		return false;
	}
	return true;
}

#endif
