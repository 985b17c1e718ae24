/* bench/cpus.h: what bench/membw.c and bench/cut.c share: the two CPUs to pin their
 * threads to, where the VM put them (printed beside every figure, since it moves), and a
 * barrier between the two threads. */
#ifndef BENCH_CPUS_H
#define BENCH_CPUS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
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

/* Pins the calling thread to CPU cpu. */
static void pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* A barrier of two threads that spins: the threads start each repetition within a round
 * trip of each other. */
typedef struct Barrier {
	_Atomic int count, phase;
	int n;
} Barrier;

static void barrier_wait(Barrier *b)
{
	int phase = atomic_load_explicit(&b->phase, memory_order_acquire);
	if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) + 1 == b->n) {
		atomic_store_explicit(&b->count, 0, memory_order_relaxed);
		atomic_store_explicit(&b->phase, phase + 1, memory_order_release);
		return;
	}
	/* past some 35 us the other thread is not running (another process on its CPU):
	 * yield, so that the spin does not hold up what it waits for */
	for (int i = 0; atomic_load_explicit(&b->phase, memory_order_acquire) == phase; i++)
		if (i >= 2048 && i % 64 == 0)
			sched_yield();
}

#endif
