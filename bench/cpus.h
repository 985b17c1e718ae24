/* bench/cpus.h: what bench/membw.c and bench/cut.c share: the two CPUs to pin their
 * threads to, and where the VM put them (printed beside every figure, since it moves). */
#ifndef BENCH_CPUS_H
#define BENCH_CPUS_H

#include <sched.h>
#include <stdio.h>

#include "geqrt.h"

static void placement(const char *when)
{
	double ns = gq_round_trip_ns();
	if (ns < 0)
		printf("# %s: vCPUs not measured\n", when);
	else
		printf("# %s: vCPUs %s, round trip %.0f ns\n", when,
		        ns > GQ_FAR_NS ? "far" : "near", ns);
	fflush(stdout);
}

/* The first two CPUs this process may run on, in cpu; how many there are (at most 2). */
static int first_cpus(int cpu[2])
{
	cpu_set_t set;
	int k = 0;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			cpu[k++] = c;
	return k;
}

#endif
