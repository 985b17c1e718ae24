/* par.c: the runtime's team of threads. Workers start once, at the first parallel call
 * that needs them, and then wait for work: a job costs a wake-up, not a thread. A worker
 * spins briefly before it sleeps, since layer after layer the next job comes within
 * microseconds. One job runs at a time; a worker joins it if it comes to it before the
 * caller has finished its own share, else the caller runs the worker's share itself. A caller
 * that finds the team busy (another net on another application thread) or that is itself a
 * worker runs the job alone. */
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "geqrt.h"

/* Polls of the job counter (about 1 ms) before a thread sleeps: long enough to stay awake
 * through a forward pass at batch 1, whose parallel layers come a fraction of a millisecond
 * apart, since waking a sleeping thread costs tens of microseconds (more on a virtual
 * machine) and made two threads slower than one on a small model; short enough not to
 * hold a core long once the work stops (OpenMP runtimes spin in the same way). */
enum { SPIN = 50000 };

static struct {
	pthread_mutex_t busy; /* held by the caller while its job runs */
	pthread_mutex_t m;    /* guards the sleeps below */
	pthread_cond_t go, done;
	int started; /* workers 1..started exist */
	void (*fn)(void *ctx, int t, int n);
	void *ctx;
	int n;
	atomic_ulong gen; /* bumped once per job */
	/* the current job's gen (low 32 bits) << 32, CLOSED once the caller has finished its
	 * share, and bit t set once worker t has joined (or if it is not wanted) */
	_Atomic uint64_t join;
	atomic_int finished; /* workers that joined the current job and are done with it */
	unsigned long spawn; /* gen when the newest workers were started: the job they wait for
	                      * is the next one */
} team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
        PTHREAD_COND_INITIALIZER, 0, NULL, NULL, 0, 0, 0, 0, 0};

enum { CLOSED = 1u << 31 };
_Static_assert(GQ_MAX_THREADS < 31, "a job's join word holds a bit per thread");

static _Thread_local int team_id = -1; /* >= 0 while running a job of the team */
static _Thread_local bool solo;        /* a gq_batch's solo step runs on this thread */

/* Whether a job called now runs on the calling thread alone. */
static bool alone(void)
{
	return team_id >= 0 || solo;
}

/* Per-thread buffers of the workers (BSS: only the pages a worker touches are backed). */
static float worker_scratch[GQ_MAX_THREADS][GQ_TEAM_SCRATCH + GQ_TEAM_PADDED]
        __attribute__((aligned(64)));

/* Poll i of a wait: a pause, and past the first PAUSE_ONLY polls (some 35 us) a
 * sched_yield every YIELD_EVERY of them. A wait that long means the thread it waits for
 * is not running, most likely because another process holds its core; spinning on
 * pauses alone then kept the core from it for a whole time slice, at every one of a
 * forward pass's hundred hand-offs: with one other busy process on the machine, ResNet-44
 * p4 at batch 1 ran 4x slower on two threads than on one (AVX-512, 5 against 19 images/s;
 * 19-21 with the yield). A yield costs about a microsecond when there is nothing else to
 * run, so the short waits of an idle machine stay pauses. */
enum { PAUSE_ONLY = 2048, YIELD_EVERY = 64 };

static inline void cpu_relax(int i)
{
	if (i >= PAUSE_ONLY && i % YIELD_EVERY == 0) {
		sched_yield();
		return;
	}
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static unsigned long wait_job(unsigned long seen)
{
	unsigned long g;
	for (int i = 0; i < SPIN; i++) {
		if ((g = atomic_load_explicit(&team.gen, memory_order_acquire)) != seen)
			return g;
		cpu_relax(i);
	}
	pthread_mutex_lock(&team.m);
	while ((g = atomic_load_explicit(&team.gen, memory_order_acquire)) == seen)
		pthread_cond_wait(&team.go, &team.m);
	pthread_mutex_unlock(&team.m);
	return g;
}

/* Worker t joins job g, unless the caller has closed it (finished its own share first: it
 * then runs t's share itself, rather than wait for a worker that the system has not let run,
 * most likely because another process holds its core), or it is another job's, or t is not
 * wanted. A worker that has joined reads the job's fields; one that has not, never. */
static bool join_job(int t, unsigned long g)
{
	uint64_t s = atomic_load_explicit(&team.join, memory_order_acquire);
	do {
		if ((uint32_t)(s >> 32) != (uint32_t)g || (s & (CLOSED | 1ull << t)))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
	        &team.join, &s, s | 1ull << t, memory_order_acq_rel, memory_order_acquire));
	return true;
}

static void *worker(void *arg)
{
	int t = (int)(intptr_t)arg;
	unsigned long seen = team.spawn; /* stable: the next job waits for this worker */
	for (;;) {
		seen = wait_job(seen);
		if (!join_job(t, seen))
			continue;
		team_id = t;
		team.fn(team.ctx, t, team.n);
		team_id = -1;
		atomic_fetch_add_explicit(&team.finished, 1, memory_order_release);
		pthread_mutex_lock(&team.m);
		pthread_cond_broadcast(&team.done);
		pthread_mutex_unlock(&team.m);
	}
	return NULL;
}

/* Starts workers up to n - 1 of them; returns how many threads a job may use. */
static int start_workers(int n)
{
	team.spawn = atomic_load_explicit(&team.gen, memory_order_relaxed);
	while (team.started < n - 1) {
		pthread_t tid;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		int rc = pthread_create(&tid, &attr, worker, (void *)(intptr_t)(team.started + 1));
		pthread_attr_destroy(&attr);
		if (rc)
			break;
		team.started++;
	}
	return team.started + 1 < n ? team.started + 1 : n;
}

/* Until the joined workers of the job are done with it. */
static void wait_done(int joined)
{
	for (int i = 0; i < SPIN; i++) {
		if (atomic_load_explicit(&team.finished, memory_order_acquire) == joined)
			return;
		cpu_relax(i);
	}
	pthread_mutex_lock(&team.m);
	while (atomic_load_explicit(&team.finished, memory_order_acquire) < joined)
		pthread_cond_wait(&team.done, &team.m);
	pthread_mutex_unlock(&team.m);
}

/* Offers the job to workers 1..n-1 (the others' bits set: not wanted). */
static void open_job(void (*fn)(void *ctx, int t, int n), void *ctx, int n)
{
	pthread_mutex_lock(&team.m);
	team.fn = fn;
	team.ctx = ctx;
	team.n = n;
	atomic_store_explicit(&team.finished, 0, memory_order_relaxed);
	unsigned long g = atomic_load_explicit(&team.gen, memory_order_relaxed) + 1;
	uint64_t unwanted = (CLOSED - 1) & ~(((1ull << n) - 1) & ~1ull);
	atomic_store_explicit(
	        &team.join, (uint64_t)(uint32_t)g << 32 | unwanted, memory_order_release);
	atomic_store_explicit(&team.gen, g, memory_order_release);
	pthread_cond_broadcast(&team.go);
	pthread_mutex_unlock(&team.m);
}

/* Closes the job to workers that have not joined it, runs their shares, and returns how
 * many joined. */
static int close_job(void (*fn)(void *ctx, int t, int n), void *ctx, int n)
{
	uint64_t s = atomic_fetch_or_explicit(&team.join, CLOSED, memory_order_acq_rel);
	uint64_t wanted = ((1ull << n) - 1) & ~1ull, joined = s & wanted;
	for (int t = 1; t < n; t++)
		if (!(joined >> t & 1))
			fn(ctx, t, n);
	return __builtin_popcountll(joined);
}

int gq_threads(void)
{
	int n = openblas_get_num_threads(); /* what gq_set_threads (or the environment) set */
	return n < 1 ? 1 : n > GQ_MAX_THREADS ? GQ_MAX_THREADS : n;
}

int gq_cores(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* The largest job since gq_threads_used(true). */
static atomic_int most_used = 1;

int gq_threads_used(bool reset)
{
	if (reset)
		return atomic_exchange_explicit(&most_used, 1, memory_order_relaxed);
	return atomic_load_explicit(&most_used, memory_order_relaxed);
}

static void note_used(int n)
{
	int m = atomic_load_explicit(&most_used, memory_order_relaxed);
	while (n > m && !atomic_compare_exchange_weak_explicit(
	                        &most_used, &m, n, memory_order_relaxed, memory_order_relaxed))
		;
}

int gq_max_threads(void)
{
	long n = gq_cores();
	int t = gq_threads();
	if (n > t)
		t = n > GQ_MAX_THREADS ? GQ_MAX_THREADS : (int)n;
	return t;
}

float *gq_team_scratch(int t)
{
	return t >= 1 && t < GQ_MAX_THREADS ? worker_scratch[t] : NULL;
}

/* gq_profile's totals: seconds per step, and the images they add up over; of a step's
 * time on thread 0, how much went to jobs the team shared (job) and, at their ends, to
 * waiting for the other threads (wait). */
static struct {
	bool on;
	const gq_batch *b;
	long images;
	int step; /* the step thread 0 runs */
	double t[GQ_PROFILE_STEPS], job[GQ_PROFILE_STEPS], wait[GQ_PROFILE_STEPS];
} prof;

static double prof_now(void)
{
	return prof.on ? gq_now() : 0;
}

/* A job the team shared within a profiled step, timed on thread 0: started at t0, thread
 * 0's part done at t1, every thread's at t2. (A job inside another, as a batch's steps are
 * inside the batch's, runs alone: not one.) */
static void note_job(double t0, double t1, double t2)
{
	if (!prof.on || prof.step < 0)
		return;
	prof.job[prof.step] += t2 - t0;
	prof.wait[prof.step] += t2 - t1;
}

int gq_parallel(int want, void (*fn)(void *ctx, int t, int n), void *ctx)
{
	int n = want < gq_threads() ? want : gq_threads();
	if (n <= 1 || alone() || pthread_mutex_trylock(&team.busy) != 0) {
		fn(ctx, 0, 1);
		return 1;
	}
	n = start_workers(n);
	note_used(n);
	double t0 = prof_now();
	if (n > 1)
		open_job(fn, ctx, n);
	team_id = 0;
	fn(ctx, 0, n);
	int joined = n > 1 ? close_job(fn, ctx, n) : 0;
	team_id = -1;
	double t1 = prof_now();
	if (n > 1)
		wait_done(joined);
	pthread_mutex_unlock(&team.busy);
	if (n > 1)
		note_job(t0, t1, prof_now());
	return n;
}

/* ---- gq_parallel_for: units claimed as the threads come to them ---- */

/* Grains a thread's share is cut into: enough that the thread done first takes over a
 * few of the other's last ones, few enough that a grain is still worth a call. */
enum { GRAINS = 8 };

/* One thread's share, grains [lo, hi) of it unclaimed, on a line of its own: its owner
 * claims them from lo up, a thread done with its own share from hi down, each a
 * compare-and-swap on the pair. */
typedef struct Share {
	_Alignas(64) _Atomic uint64_t lohi;
} Share;

typedef struct ForJob {
	void (*fn)(void *ctx, int u0, int u1, int t);
	void *ctx;
	int units, grains, n;
	Share share[GQ_MAX_THREADS];
} ForJob;

static int grains_of(int units, int grain, int n)
{
	int g = units / (grain > 1 ? grain : 1);
	return g < n ? n : g > GRAINS * n ? GRAINS * n : g;
}

int gq_share_first(int units, int grain, int t, int n)
{
	int g = grains_of(units, grain, n);
	return (int)((long)units * (g * t / n) / g);
}

/* The next grain of share s, from its front or its back; -1 when none is left. */
static int claim(Share *s, bool front)
{
	uint64_t v = atomic_load_explicit(&s->lohi, memory_order_relaxed);
	for (;;) {
		uint32_t lo = (uint32_t)(v >> 32), hi = (uint32_t)v;
		if (lo >= hi)
			return -1;
		uint64_t w = front ? v + (1ull << 32) : v - 1;
		if (atomic_compare_exchange_weak_explicit(
		            &s->lohi, &v, w, memory_order_relaxed, memory_order_relaxed))
			return front ? (int)lo : (int)hi - 1;
	}
}

static void run_grain(const ForJob *f, int g, int t)
{
	f->fn(f->ctx, (int)((long)f->units * g / f->grains),
	        (int)((long)f->units * (g + 1) / f->grains), t);
}

/* Thread t's own grains in order, then the others' from their ends: a thread that had
 * less work, or that one the system let run sooner, takes over what is left. */
static void for_share(void *ctx, int t, int n)
{
	ForJob *f = ctx;
	(void)n;
	for (int g; (g = claim(&f->share[t], true)) >= 0;)
		run_grain(f, g, t);
	for (int k = 1; k < f->n; k++)
		for (int g; (g = claim(&f->share[(t + k) % f->n], false)) >= 0;)
			run_grain(f, g, t);
}

int gq_parallel_for(int units, int grain, void (*fn)(void *ctx, int u0, int u1, int t), void *ctx)
{
	int n = units < gq_threads() ? units : gq_threads();
	if (n <= 1 || alone()) {
		fn(ctx, 0, units, 0);
		return 1;
	}
	ForJob f = {fn, ctx, units, grains_of(units, grain, n), n, {{0}}};
	for (int t = 0; t < n; t++)
		atomic_init(&f.share[t].lohi,
		        (uint64_t)(f.grains * t / n) << 32 | (uint64_t)(f.grains * (t + 1) / n));
	return gq_parallel(n, for_share, &f);
}

/* ---- the placement probe ---- */

/* One cache line passed back and forth between two threads pinned to two CPUs: the
 * pinger writes an odd value and waits for the ponger's even one. */
typedef struct Pong {
	_Alignas(64) atomic_long ball;
	_Alignas(64) int cpu[2];
	double ns; /* the pinger's median round trip */
} Pong;

/* Round trips per timed batch, and the probe's time: enough batches for a median that one
 * preempted batch does not move, within a tenth of a second. */
enum { PONG_ROUNDS = 256, PONG_BATCHES = 64 };
#define PONG_SECONDS 0.1

static int by_time(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static bool pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

/* Until the ball holds v; false if the other side gave up (-1). */
static bool await_ball(Pong *p, long v)
{
	long b;
	for (int i = 0; (b = atomic_load_explicit(&p->ball, memory_order_acquire)) != v; i++) {
		if (b < 0)
			return false;
		cpu_relax(i);
	}
	return true;
}

static void *ponger(void *arg)
{
	Pong *p = arg;
	if (!pin(p->cpu[1])) {
		atomic_store_explicit(&p->ball, -1, memory_order_release);
		return NULL;
	}
	for (long v = 1; await_ball(p, v); v += 2)
		atomic_store_explicit(&p->ball, v + 1, memory_order_release);
	return NULL;
}

static void *pinger(void *arg)
{
	Pong *p = arg;
	double t[PONG_BATCHES], start = gq_now();
	int n = 0;
	long v = 0;
	if (!pin(p->cpu[0]))
		goto out;
	/* the first batch wakes the ponger and warms the line: not timed */
	for (int b = -1; b < PONG_BATCHES && gq_now() - start < PONG_SECONDS; b++) {
		double t0 = gq_now();
		for (int r = 0; r < PONG_ROUNDS; r++, v += 2) {
			atomic_store_explicit(&p->ball, v + 1, memory_order_release);
			if (!await_ball(p, v + 2))
				goto out;
		}
		if (b >= 0)
			t[n++] = (gq_now() - t0) / PONG_ROUNDS;
	}
out:
	atomic_store_explicit(&p->ball, -1, memory_order_release);
	if (n > 0) {
		qsort(t, (size_t)n, sizeof *t, by_time);
		p->ns = 1e9 * t[n / 2];
	}
	return NULL;
}

double gq_round_trip_ns(void)
{
	cpu_set_t set;
	Pong p = {.ns = -1};
	int k = 0;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return -1;
	for (int c = 0; c < CPU_SETSIZE && k < 2; c++)
		if (CPU_ISSET(c, &set))
			p.cpu[k++] = c;
	pthread_t a, b;
	if (k < 2 || pthread_create(&b, NULL, ponger, &p) != 0)
		return -1;
	if (pthread_create(&a, NULL, pinger, &p) != 0) {
		atomic_store_explicit(&p.ball, -1, memory_order_release);
		pthread_join(b, NULL);
		return -1;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return p.ns;
}

double gq_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void gq_profile(bool on)
{
	prof.on = on;
	prof.b = NULL;
	prof.images = 0;
	prof.step = -1;
	memset(prof.t, 0, sizeof prof.t);
	memset(prof.job, 0, sizeof prof.job);
	memset(prof.wait, 0, sizeof prof.wait);
}

/* The report's line for one step (total: all steps' time) or, with total 0, for all: the
 * time per image and its share, and where the team shared jobs (shared), how much of it
 * thread 0 ran alone and waited. */
static void report_line(
        FILE *f, double t, double job, double wait, double total, bool shared, const char *name)
{
	double per = 1e3 / (double)prof.images;
	fprintf(f, "  %8.3f ms ", per * t);
	fprintf(f, total > 0 ? "%5.1f%%  " : "        ", total > 0 ? 100 * t / total : 0.0);
	if (shared)
		fprintf(f, "%8.3f %8.3f  ", per * (t - job), per * wait);
	fprintf(f, "%s\n", name);
}

void gq_profile_report(FILE *f)
{
	const gq_batch *b = prof.b;
	if (!b || prof.images == 0)
		return;
	int n = b->nsteps < GQ_PROFILE_STEPS ? b->nsteps : GQ_PROFILE_STEPS;
	double total = 0, job = 0, wait = 0;
	for (int s = 0; s < n; s++) {
		total += prof.t[s];
		job += prof.job[s];
		wait += prof.wait[s];
	}
	bool shared = job > 0;
	fprintf(f, "per image, on thread 0 (%ld images)%s:\n", prof.images,
	        shared ? "; of each step, ms thread 0 ran alone (the others idle), ms it "
	                 "waited for the others at the ends of the jobs they shared"
	               : "");
	for (int s = 0; s < n; s++)
		report_line(f, prof.t[s], prof.job[s], prof.wait[s], total, shared,
		        b->step_names ? b->step_names[s] : "");
	report_line(f, total, job, wait, 0, shared, "all steps");
}

/* One step of one image; timed when profiling, on thread 0 (whose totals nothing else
 * writes). */
static void run_step(
        const gq_batch *b, int t, int s, float *ws, float *scratch, const float *in, float *out)
{
	if (!prof.on || t != 0 || s >= GQ_PROFILE_STEPS) {
		b->step(b->net, s, ws, scratch, in, out);
		return;
	}
	double t0 = gq_now();
	prof.step = s;
	b->step(b->net, s, ws, scratch, in, out);
	prof.step = -1;
	prof.t[s] += gq_now() - t0;
}

typedef struct BatchJob {
	const gq_batch *b;
	const float *x;
	float *y;
	int batch;
} BatchJob;

static void batch_share(void *ctx, int t, int nt)
{
	const BatchJob *j = ctx;
	const gq_batch *b = j->b;
	float *ws = b->ws + (size_t)t * b->group * b->vstride;
	float *scratch = b->scratch + (size_t)t * b->sstride;
	int end = (int)((long)j->batch * (t + 1) / nt);
	for (int b0 = (int)((long)j->batch * t / nt); b0 < end; b0 += b->group) {
		int nb = end - b0 < b->group ? end - b0 : b->group;
		for (int s = 0; s < b->nsteps; s++)
			for (int i = 0; i < nb; i++)
				run_step(b, t, s, ws + (size_t)i * b->vstride, scratch,
				        j->x + (size_t)(b0 + i) * b->in_size,
				        j->y + (size_t)(b0 + i) * b->out_size);
		if (t == 0 && prof.on)
			prof.images += nb;
	}
}

int gq_run_batch(gq_batch *b, const float *x, int batch, float *y)
{
	/* the net's workspace is one call's: a second caller meanwhile is refused, not let
	 * to overwrite it (acquire/release: the next call sees all this one wrote) */
	if (__atomic_exchange_n(&b->busy, 1, __ATOMIC_ACQUIRE))
		return GQ_EBUSY;
	int nt = gq_threads() < b->nthreads ? gq_threads() : b->nthreads;
	BatchJob j = {b, x, y, batch};
	if (prof.on)
		prof.b = b;
	if (nt > batch)
		nt = batch;
	if (nt > 1) {
		gq_parallel(nt, batch_share, &j);
	} else {
		solo = b->solo;
		batch_share(&j, 0, 1);
		solo = false;
	}
	__atomic_store_n(&b->busy, 0, __ATOMIC_RELEASE);
	return 0;
}
