/* peak.c: the machine's single-precision FMA peak, for `make bench`'s fraction-of-peak column.
 * Each thread runs a loop of independent vector FMAs (enough accumulators to cover the FMA
 * latency on every port), AVX-512 where the CPU has it, else AVX2+FMA, else scalar C.
 * Usage: peak [THREADS...] (default 1 2); prints one line per thread count:
 *   peak THREADS GFLOPS ISA
 * Build: cc -O2 -pthread bench/peak.c -o peak */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ITERS = 2 * 1000 * 1000 }; /* per thread, per timed repetition: about 5 ms */
enum { REPS = 60 };               /* the best of REPS short repetitions: the quietest moment */

typedef double (*kernel_fn)(long iters); /* returns flops done (and a result to keep) */

static volatile float sink;

/* The accumulators are named variables, not an array, so that they live in registers. */
#define ACC12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define ACC16(X) ACC12(X) X(12) X(13) X(14) X(15)

/* 16 independent zmm chains: 2 FMA ports x 4-cycle latency needs >= 8. */
__attribute__((target("avx512f"))) static double fma_avx512(long iters)
{
	__m512 a = _mm512_set1_ps(1.0f), b = _mm512_set1_ps(0.999999f);
#define INIT(i) __m512 c##i = _mm512_set1_ps((float)i);
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, b, a);
#define SUM(i)  s = _mm512_add_ps(s, c##i);
	ACC16(INIT)
	for (long n = 0; n < iters; n++) {
		ACC16(STEP)
	}
	__m512 s = _mm512_setzero_ps();
	ACC16(SUM)
	sink = _mm512_reduce_add_ps(s);
	return 2.0 * 16 * 16 * (double)iters;
#undef INIT
#undef STEP
#undef SUM
}

/* 12 independent ymm chains (of the 16 registers, leaving room for a and b). */
__attribute__((target("avx2,fma"))) static double fma_avx2(long iters)
{
	__m256 a = _mm256_set1_ps(1.0f), b = _mm256_set1_ps(0.999999f);
#define INIT(i) __m256 c##i = _mm256_set1_ps((float)i);
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, b, a);
#define SUM(i)  s = _mm256_add_ps(s, c##i);
	ACC12(INIT)
	for (long n = 0; n < iters; n++) {
		ACC12(STEP)
	}
	__m256 s = _mm256_setzero_ps();
	ACC12(SUM)
	float v[8];
	_mm256_storeu_ps(v, s);
	sink = v[0];
	return 2.0 * 12 * 8 * (double)iters;
#undef INIT
#undef STEP
#undef SUM
}

static double fma_scalar(long iters)
{
	float c[8] = {0};
	for (long n = 0; n < iters; n++)
		for (int i = 0; i < 8; i++)
			c[i] = c[i] * 0.999999f + 1.0f;
	sink = c[0] + c[7];
	return 2.0 * 8 * (double)iters;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct Job {
	kernel_fn f;
	double flops;
} Job;

static void *run_job(void *arg)
{
	Job *j = arg;
	j->flops = j->f(ITERS);
	return NULL;
}

/* GFLOP/s of n threads running f at once, best of REPS. */
static double measure(kernel_fn f, int n)
{
	double best = 0;
	pthread_t tid[64];
	Job job[64];
	for (int r = 0; r < REPS; r++) {
		double t0 = now(), flops = 0;
		for (int i = 0; i < n; i++) {
			job[i].f = f;
			pthread_create(&tid[i], NULL, run_job, &job[i]);
		}
		for (int i = 0; i < n; i++) {
			pthread_join(tid[i], NULL);
			flops += job[i].flops;
		}
		double g = flops / (now() - t0) * 1e-9;
		best = g > best ? g : best;
	}
	return best;
}

int main(int argc, char **argv)
{
	kernel_fn f = fma_scalar;
	const char *isa = "scalar";
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f")) {
		f = fma_avx512;
		isa = "avx512";
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		f = fma_avx2;
		isa = "avx2";
	}
	static char *dflt[] = {"peak", "1", "2"};
	if (argc < 2) {
		argc = 3;
		argv = dflt;
	}
	for (int i = 1; i < argc; i++) {
		int n = atoi(argv[i]);
		if (n < 1 || n > 64) {
			fprintf(stderr, "peak: thread count %s is not in 1..64\n", argv[i]);
			return 2;
		}
		printf("peak %d %.1f %s\n", n, measure(f, n), isa);
	}
	return 0;
}
