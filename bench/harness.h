/* bench/harness.h: what the one-layer harnesses (g8.c, lift.c, s2.c) share: where the VM
 * put the two vCPUs, a wall clock, and the comparison their medians sort by. Static, so
 * each harness stays one file linked against libgeqrt.a alone. */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <stdio.h>
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

#endif
