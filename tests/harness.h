/* tests/harness.h: what several Check suites share, so that each writes it once: a
 * reproducible random source, buffers of exactly the size asked for (ASan flags a step
 * past them), and, for the compiler's suites, a Diag that writes into memory. */
#ifndef GEQC_TESTS_HARNESS_H
#define GEQC_TESTS_HARNESS_H

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers: xorshift64*, deterministic, so a failure reproduces ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline void seed(uint64_t s)
{
	rng_state = s * 0x9e3779b97f4a7c15ull + 1;
}

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static inline int irand(int lo, int hi) /* uniform in [lo, hi] */
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static inline float frand(void) /* uniform in [-1, 1) */
{
	return (float)((rnd() >> 40) * (2.0 / (double)(1ull << 24)) - 1.0);
}

/* ---- buffers ---- */

/* Exactly n elements of size bytes (ASan flags any access past them); never NULL. */
static inline void *xbuf(size_t n, size_t size)
{
	void *p = malloc((n ? n : 1) * size);
	ck_assert_ptr_nonnull(p);
	return p;
}

static inline float *randbuf(size_t n) /* filled at random in [-1, 1) */
{
	float *p = xbuf(n, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = frand();
	return p;
}

/* Filled with NaN: an op that fails to write an output shows up. */
static inline float *nanbuf(size_t n)
{
	float *p = xbuf(n, sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = NAN;
	return p;
}

static inline double *dbuf(size_t n) /* zeroed, for references accumulated in double */
{
	double *p = calloc(n ? n : 1, sizeof *p);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* ---- diagnostics into memory (suites that include geqc.h first) ---- */
#ifdef GEQC_H
typedef struct Sink {
	Diag d;
	char *text; /* what was reported, once sink_close has run */
	size_t len;
} Sink;

/* A Diag over src (srclen bytes, may be NULL) named file, printing into memory. */
static inline void sink_open(Sink *s, const char *file, const char *src, size_t srclen)
{
	memset(s, 0, sizeof *s);
	s->d = (Diag){.file = file, .src = src, .srclen = srclen};
	s->d.out = open_memstream(&s->text, &s->len);
	ck_assert_ptr_nonnull(s->d.out);
}

/* Everything reported; the caller frees it. */
static inline char *sink_close(Sink *s)
{
	fclose(s->d.out);
	s->d.out = NULL;
	return s->text;
}
#endif

#endif
