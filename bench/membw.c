/* membw.c: what the VM's two vCPUs share, in GB/s per thread, for issue 14's question why
 * the large-map Winograd layers scale only 1.2x on two threads. Each thread, pinned to one
 * of the process's first two CPUs, streams over buffers of its own, first alone (thread 0,
 * the other idle), then both at once:
 *   read   sums its buffer                       (bytes: the buffer)
 *   write  stores over its buffer                (the buffer)
 *   layer  copies its input into a second buffer and reads that back, as a Winograd layer
 *          reads its input rows, writes the padded copy and transforms it (three times)
 *   own    reads the buffer it has just written  (the buffer)
 *   other  reads the buffer the other thread has just written: a halo, a residual written
 *          by the other thread; alone, thread 1 writes and thread 0 reads while thread 1
 *          idles, together each reads the other's
 *   shared writes over its buffer after the other thread has read it (a halo row that the
 *          other read, written again by its owner in the next layer): alone, thread 1
 *          reads and idles while thread 0 writes
 * at 256 KB (in L2), 768 KB (L2 and the layer's transformed input), 4 MB, 24 MB (in the
 * 32 MB L3) and 256 MB (memory) a thread. A figure is the median of the repetitions of a
 * pass (each at least 1 ms, of repeated passes where the data stay where they are); the
 * placement probe (gq_round_trip_ns) runs before and after each table.
 * Usage: membw [ROUNDS [KB...]] (default 1 round, the five sizes); GEQRT_KERNEL=avx2 uses
 * 256-bit vectors on an AVX-512 machine. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"
#include "geqrt.h"

enum { MAX_SIZES = 16, MAX_REPS = 101, MIN_REPS = 5 };
enum { READ, WRITE, LAYER, OWN, OTHER, SHARED, OPS };
static const char *const op_name[OPS] = {"read", "write", "layer", "own", "other", "shared"};
static const int op_bytes[OPS] = {1, 1, 3, 1, 1, 1}; /* passes over the buffer's bytes */

static const double REP_SECONDS = 1e-3; /* a repetition's least time */
static const double OP_SECONDS = 0.15;  /* an op's repetitions at one size, about */

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));

static volatile float sink;

/* The loops on four vectors at once (n floats, a multiple of 64), written for each vector
 * width: the copy adds a constant, so that it is not turned into a call of memcpy (whose
 * large copies may store past the caches). */
#define KERNELS(V, TARGET, SUF)                                                                    \
	__attribute__((target(TARGET))) static float read_##SUF(const float *p, size_t n)          \
	{                                                                                          \
		enum { W = sizeof(V) / sizeof(float) };                                            \
		V a = {0}, b = {0}, c = {0}, d = {0};                                              \
		for (size_t i = 0; i < n; i += 4 * W) {                                            \
			a += *(const V *)(p + i);                                                  \
			b += *(const V *)(p + i + W);                                              \
			c += *(const V *)(p + i + 2 * W);                                          \
			d += *(const V *)(p + i + 3 * W);                                          \
		}                                                                                  \
		V s = a + b + c + d;                                                               \
		return s[0] + s[W - 1];                                                            \
	}                                                                                          \
	__attribute__((target(TARGET))) static void write_##SUF(float *p, size_t n, float x)       \
	{                                                                                          \
		enum { W = sizeof(V) / sizeof(float) };                                            \
		V v = (V){0} + x;                                                                  \
		for (size_t i = 0; i < n; i += 4 * W) {                                            \
			*(V *)(p + i) = v;                                                         \
			*(V *)(p + i + W) = v;                                                     \
			*(V *)(p + i + 2 * W) = v;                                                 \
			*(V *)(p + i + 3 * W) = v;                                                 \
		}                                                                                  \
	}                                                                                          \
	__attribute__((target(TARGET))) static void copy_##SUF(                                    \
	        float *restrict o, const float *restrict p, size_t n)                              \
	{                                                                                          \
		enum { W = sizeof(V) / sizeof(float) };                                            \
		V one = (V){0} + 1.0f;                                                             \
		for (size_t i = 0; i < n; i += 4 * W) {                                            \
			*(V *)(o + i) = *(const V *)(p + i) + one;                                 \
			*(V *)(o + i + W) = *(const V *)(p + i + W) + one;                         \
			*(V *)(o + i + 2 * W) = *(const V *)(p + i + 2 * W) + one;                 \
			*(V *)(o + i + 3 * W) = *(const V *)(p + i + 3 * W) + one;                 \
		}                                                                                  \
	}

KERNELS(V16, "avx512f", 512)
KERNELS(V8, "avx2", 256)

static bool wide;

static float read_buf(const float *p, size_t n)
{
	return wide ? read_512(p, n) : read_256(p, n);
}

static void write_buf(float *p, size_t n, float x)
{
	if (wide)
		write_512(p, n, x);
	else
		write_256(p, n, x);
}

static void copy_buf(float *o, const float *p, size_t n)
{
	if (wide)
		copy_512(o, p, n);
	else
		copy_256(o, p, n);
}

/* One op at one size on n threads (thread t pinned to CPU cpu[t]), each on its buffers
 * src[t], dst[t] of `floats` floats; other alone starts both threads (threads), thread 1 to
 * write what thread 0 reads. */
typedef struct Run {
	int op, n, threads, reps, cpu[2];
	size_t floats;
	float *src[2], *dst[2];
	Barrier bar;
	double secs[2][MAX_REPS];
} Run;

typedef struct Arg {
	Run *r;
	int t;
} Arg;

/* Passes of op over thread t's buffers that make a repetition of at least REP_SECONDS at
 * `gbs` GB/s; own and other read what was just written, so they take one pass each. */
static int passes(const Run *r, double gbs)
{
	if (r->op == OWN || r->op == OTHER || r->op == SHARED)
		return 1;
	double pass = (double)r->floats * sizeof(float) * op_bytes[r->op] / (gbs * 1e9);
	int k = (int)(REP_SECONDS / pass) + 1;
	return k;
}

static void one_pass(const Run *r, int t)
{
	size_t n = r->floats;
	switch (r->op) {
	case READ:
		sink = read_buf(r->src[t], n);
		break;
	case WRITE:
		write_buf(r->dst[t], n, (float)t);
		break;
	case LAYER:
		copy_buf(r->dst[t], r->src[t], n);
		sink = read_buf(r->dst[t], n);
		break;
	case OWN:
		sink = read_buf(r->dst[t], n);
		break;
	case OTHER:
		sink = read_buf(r->dst[r->n == 1 ? 1 : 1 - t], n);
		break;
	case SHARED:
		write_buf(r->dst[t], n, 2.0f);
		break;
	}
}

static void *thread_main(void *p)
{
	Arg *a = p;
	Run *r = a->r;
	int t = a->t;
	pin_to(r->cpu[t]);
	/* the first repetition sets the passes for the rest from its speed */
	int k = passes(r, 100);
	for (int i = -1; i < r->reps; i++) {
		/* own, other and shared: each buffer written first by its owner (other alone:
		 * thread 1 writes, thread 0 reads); shared: then read by the other thread */
		if (r->op == OWN || r->op == OTHER || r->op == SHARED)
			write_buf(r->dst[t], r->floats, (float)i);
		barrier_wait(&r->bar);
		if (r->op == SHARED) {
			if (r->n == 2 || t == 1)
				sink = read_buf(r->dst[1 - t], r->floats);
			barrier_wait(&r->bar);
		}
		if (t >= r->n) { /* other alone: thread 1 idles while thread 0 reads */
			barrier_wait(&r->bar);
			continue;
		}
		double t0 = gq_now();
		for (int j = 0; j < k; j++)
			one_pass(r, t);
		double s = (gq_now() - t0) / k;
		if (i < 0)
			k = passes(
			        r, (double)r->floats * sizeof(float) * op_bytes[r->op] / s / 1e9);
		else
			r->secs[t][i] = s;
		barrier_wait(&r->bar);
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* GB/s of thread t: the median repetition's. */
static double gbs(Run *r, int t)
{
	qsort(r->secs[t], (size_t)r->reps, sizeof(double), by_value);
	return (double)r->floats * sizeof(float) * op_bytes[r->op] / r->secs[t][r->reps / 2] / 1e9;
}

/* Runs op on n threads (n = 1: thread 0; for other, thread 1's buffer read by thread 0)
 * and sets each running thread's GB/s. */
static void run(Run *r, int op, int n, double out[2])
{
	double pass = (double)r->floats * sizeof(float) * op_bytes[op] / 20e9;
	r->op = op;
	r->n = n;
	r->reps = (int)(OP_SECONDS / (pass > REP_SECONDS ? pass : REP_SECONDS));
	r->reps = r->reps < MIN_REPS ? MIN_REPS : r->reps > MAX_REPS ? MAX_REPS : r->reps;
	r->threads = op == OTHER || op == SHARED ? 2 : n;
	r->bar = (Barrier){.n = r->threads};
	pthread_t th[2];
	Arg arg[2] = {{r, 0}, {r, 1}};
	for (int t = 0; t < r->threads; t++)
		pthread_create(&th[t], NULL, thread_main, &arg[t]);
	for (int t = 0; t < r->threads; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < n; t++)
		out[t] = gbs(r, t);
}

int main(int argc, char **argv)
{
	static const int kb_default[] = {256, 768, 4096, 24576, 262144};
	int rounds = argc > 1 ? atoi(argv[1]) : 1, nsizes = 0, kb[MAX_SIZES];
	for (int i = 2; i < argc && nsizes < MAX_SIZES; i++)
		kb[nsizes++] = atoi(argv[i]);
	if (nsizes == 0)
		for (; nsizes < 5; nsizes++)
			kb[nsizes] = kb_default[nsizes];
	const char *isa = getenv("GEQRT_KERNEL");
	wide = __builtin_cpu_supports("avx512f") && !(isa && strcmp(isa, "avx2") == 0);
	if (!wide && !__builtin_cpu_supports("avx2")) {
		fputs("membw: needs AVX2\n", stderr);
		return 1;
	}
	static Run r;
	if (first_cpus(r.cpu) < 2) {
		fputs("membw: needs two CPUs\n", stderr);
		return 1;
	}
	for (int round = 0; round < rounds; round++) {
		printf("# round %d, %s, CPUs %d and %d\n", round + 1, wide ? "AVX-512" : "AVX2",
		        r.cpu[0], r.cpu[1]);
		placement("before");
		printf("%-9s %-6s %8s %8s %8s %6s\n", "size", "op", "alone", "thread0", "thread1",
		        "ratio");
		for (int s = 0; s < nsizes; s++) {
			r.floats = ((size_t)kb[s] * 1024 / sizeof(float) + 63) / 64 * 64;
			for (int t = 0; t < 2; t++) {
				r.src[t] = aligned_alloc(4096, r.floats * sizeof(float));
				r.dst[t] = aligned_alloc(4096, r.floats * sizeof(float));
				if (!r.src[t] || !r.dst[t]) {
					fputs("membw: out of memory\n", stderr);
					return 1;
				}
				write_buf(r.src[t], r.floats, 1.0f);
				write_buf(r.dst[t], r.floats, 1.0f);
			}
			for (int op = 0; op < OPS; op++) {
				double alone[2], both[2];
				run(&r, op, 1, alone);
				run(&r, op, 2, both);
				printf("%6d KB %-6s %8.1f %8.1f %8.1f %6.2f\n", kb[s], op_name[op],
				        alone[0], both[0], both[1],
				        (both[0] + both[1]) / 2 / alone[0]);
				fflush(stdout);
			}
			for (int t = 0; t < 2; t++) {
				free(r.src[t]);
				free(r.dst[t]);
			}
		}
		placement("after");
	}
	return 0;
}
