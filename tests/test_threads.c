/* test_threads.c: the runtime's concurrency contract (geqrt.h, "Threads"), built with
 * ThreadSanitizer (`make check` builds it with -fsanitize=thread; a report fails the run).
 *   1. Several nets on several application threads at once: every output equals what one
 *      net alone on one thread computes (batches 1 to 8, the team shared by all).
 *   2. One net from two threads at once: the second call is refused with GQ_EBUSY, having
 *      done nothing; no call returns 0 with a wrong output.
 *   3. The refusal itself, made certain: a batch whose step waits until another thread has
 *      tried the same batch.
 * The model is the generated C of GQ_TEST_MODEL (a gq_model), with random weights.
 * Prints one line per check and "N passed, N failed". */
#include "geqrt.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const gq_model GQ_TEST_MODEL;
static const gq_model *M = &GQ_TEST_MODEL;

enum { APPS = 4, CALLS = 24, MAXB = 8 };

static int passed, failed;

static void check(bool ok, const char *what)
{
	ok ? passed++ : failed++;
	printf("%s %s\n", ok ? "ok  " : "FAIL", what);
}

static size_t numel(const gq_param *p)
{
	size_t n = 1;
	for (int i = 0; i < p->ndim; i++)
		n *= (size_t)p->dim[i];
	return n;
}

static float uniform(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (float)(*s >> 8 & 0xffff) / 32768.0f - 1.0f;
}

/* A net with the same random weights every time (variances positive). */
static void *new_net(void)
{
	void *net = M->create();
	float **t = calloc((size_t)M->nparams, sizeof *t);
	unsigned s = 7;
	for (int i = 0; i < M->nparams; i++) {
		size_t n = numel(&M->params[i]);
		t[i] = malloc((n ? n : 1) * sizeof **t);
		bool var = strstr(M->params[i].name, "running_var") != NULL;
		for (size_t k = 0; k < n; k++)
			t[i][k] = var ? 1.0f + 0.5f * fabsf(uniform(&s)) : 0.3f * uniform(&s);
	}
	char err[256];
	if (!net || M->load_raw(net, (const float *const *)t, err, sizeof err)) {
		fprintf(stderr, "cannot make a net: %s\n", net ? err : "out of memory");
		exit(2);
	}
	for (int i = 0; i < M->nparams; i++)
		free(t[i]);
	free(t);
	return net;
}

static size_t in_size, out_size;
static float *X, *Yref[MAXB + 1]; /* X: MAXB images; Yref[b]: one net alone, batch b */

static float max_diff(const float *a, const float *b, size_t n)
{
	float d = 0;
	for (size_t i = 0; i < n; i++)
		d = fmaxf(d, fabsf(a[i] - b[i]));
	return d;
}

/* Equal to the reference up to the float rounding of another split over threads. */
static bool matches(const float *y, int batch)
{
	return max_diff(y, Yref[batch], (size_t)batch * out_size) <= 1e-4f;
}

typedef struct App {
	void *net;
	int id, wrong, busy, ok;
	atomic_int *go;
} App;

static void *app(void *arg)
{
	App *a = arg;
	float *y = malloc(MAXB * out_size * sizeof *y);
	while (!atomic_load(a->go))
		;
	for (int i = 0; i < CALLS; i++) {
		int batch = 1 + (i + a->id) % MAXB;
		int rc = M->forward(a->net, X, batch, y);
		if (rc == GQ_EBUSY)
			a->busy++;
		else if (rc == 0 && matches(y, batch))
			a->ok++;
		else
			a->wrong++;
	}
	free(y);
	return NULL;
}

/* nets[i] for app i (the same net more than once: shared). */
static void run_apps(void **nets, int n, App *apps)
{
	pthread_t tid[APPS];
	atomic_int go = 0;
	for (int i = 0; i < n; i++) {
		apps[i] = (App){.net = nets[i], .id = i, .go = &go};
		pthread_create(&tid[i], NULL, app, &apps[i]);
	}
	atomic_store(&go, 1);
	for (int i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
}

static void several_nets(void)
{
	void *nets[APPS];
	App apps[APPS];
	for (int i = 0; i < APPS; i++)
		nets[i] = new_net();
	run_apps(nets, APPS, apps);
	int ok = 0, bad = 0;
	for (int i = 0; i < APPS; i++)
		ok += apps[i].ok, bad += apps[i].wrong + apps[i].busy;
	printf("     %d threads, a net each: %d calls right, %d not\n", APPS, ok, bad);
	check(ok == APPS * CALLS && bad == 0,
	        "several nets on several threads: every output right");
	for (int i = 0; i < APPS; i++)
		M->destroy(nets[i]);
}

static void one_net_shared(void)
{
	void *net = new_net(), *nets[2] = {net, net};
	App apps[2];
	run_apps(nets, 2, apps);
	int ok = apps[0].ok + apps[1].ok, busy = apps[0].busy + apps[1].busy;
	printf("     2 threads, one net: %d calls right, %d refused (GQ_EBUSY), %d wrong\n", ok,
	        busy, apps[0].wrong + apps[1].wrong);
	check(apps[0].wrong + apps[1].wrong == 0 && ok + busy == 2 * CALLS,
	        "one net on two threads: each call right or refused, none wrong");
	M->destroy(net);
}

/* ---- 3: a batch that holds its step until the other thread has tried ---- */

static atomic_int inside, tried;

static void held_step(void *net, int s, float *ws, float *scratch, const float *in, float *out)
{
	atomic_store(&inside, 1);
	while (!atomic_load(&tried))
		;
	out[0] = in[0] + 1;
}

static void *second(void *arg)
{
	while (!atomic_load(&inside))
		;
	float x = 1, y = 0;
	intptr_t rc = gq_run_batch(arg, &x, 1, &y);
	atomic_store(&tried, 1);
	return (void *)rc;
}

static void refusal(void)
{
	float ws[4], scratch[4], x = 41, y = 0;
	gq_batch b = {.step = held_step,
	        .nsteps = 1,
	        .group = 1,
	        .nthreads = 1,
	        .ws = ws,
	        .scratch = scratch,
	        .vstride = 4,
	        .sstride = 4,
	        .in_size = 1,
	        .out_size = 1};
	pthread_t tid;
	void *rc2;
	pthread_create(&tid, NULL, second, &b);
	int rc1 = gq_run_batch(&b, &x, 1, &y);
	pthread_join(tid, &rc2);
	check(rc1 == 0 && y == 42, "the first call on a batch runs");
	check((intptr_t)rc2 == GQ_EBUSY, "a second call on it meanwhile returns GQ_EBUSY");
	atomic_store(&inside, 0);
	y = 0;
	check(gq_run_batch(&b, &x, 1, &y) == 0 && y == 42, "and once it is done, the batch runs");
}

/* ---- 4: the placement probe ---- */

static void placement_probe(void)
{
	cpu_set_t all, one;
	sched_getaffinity(0, sizeof all, &all);
	/* under load (make check runs suites side by side) a probe may find the CPUs taken */
	double ns = gq_round_trip_ns();
	for (int i = 0; i < 20 && CPU_COUNT(&all) > 1 && ns < 0; i++)
		ns = gq_round_trip_ns();
	printf("     cache-line round trip between the first two CPUs: %.0f ns\n", ns);
	check(CPU_COUNT(&all) < 2 ? ns == -1 : ns > 0 && ns < 1e8,
	        "the probe measures a round trip where the process has two CPUs");
	CPU_ZERO(&one);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &all)) {
			CPU_SET(c, &one);
			break;
		}
	sched_setaffinity(0, sizeof one, &one);
	check(gq_round_trip_ns() == -1, "and says -1 on one CPU");
	sched_setaffinity(0, sizeof all, &all);
}

int main(void)
{
	gq_set_threads(2); /* the team exists and is shared, even on one core */
	in_size = gq_numel(M->input);
	out_size = gq_numel(M->output);
	X = malloc(MAXB * in_size * sizeof *X);
	unsigned s = 3;
	for (size_t i = 0; i < MAXB * in_size; i++)
		X[i] = uniform(&s);
	void *net = new_net();
	for (int b = 1; b <= MAXB; b++) {
		Yref[b] = malloc((size_t)b * out_size * sizeof *Yref[b]);
		gq_set_threads(1);
		if (M->forward(net, X, b, Yref[b]))
			return 2;
	}
	gq_set_threads(2);
	M->destroy(net);
	several_nets();
	one_net_shared();
	refusal();
	placement_probe();
	for (int b = 1; b <= MAXB; b++)
		free(Yref[b]);
	free(X);
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
