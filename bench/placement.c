/* placement.c: where the VM put the process's first two CPUs, for `make bench` and for
 * logging beside two-thread timings: prints `vCPUs near|far, round trip N ns`, the median
 * time a cache line takes from one to the other and back (gq_round_trip_ns; 0.1 s at most).
 * With a count, that many probes a second apart. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "geqrt.h"

int main(int argc, char **argv)
{
	int probes = argc > 1 ? atoi(argv[1]) : 1;
	for (int i = 0; i < probes; i++) {
		double ns = gq_round_trip_ns();
		if (ns < 0)
			puts("vCPUs not measured (fewer than two CPUs, or other processes held "
			     "them)");
		else
			printf("vCPUs %s, round trip %.0f ns\n", ns > GQ_FAR_NS ? "far" : "near",
			        ns);
		fflush(stdout);
		if (i + 1 < probes)
			sleep(1);
	}
	return 0;
}
