/* geqrt.h: the runtime that geqc's generated C links against (libgeqrt.a), a section
 * per file. All tensors are float32, one image at a time, laid out [c, g, h, w]
 * row-major (an image has g = 1, a G-map g = |G|): a G-map is an ordinary stack of
 * c*g planes, so lift and gconv are ordinary convolutions once their filters are
 * expanded over the group. Functions never allocate unless their comment says so. */
#ifndef GEQRT_H
#define GEQRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- d4.c: the point group D4 of the pixel grid (SPEC §3) ---- */
/* Element m^j r^i has canonical index 4j+i: e r r2 r3 m mr mr2 mr3. r is
 * numpy.rot90(a, 1, axes=(-2,-1)) (counter-clockwise), m is numpy.flip(a, -1), and
 * m^j r^i applies r i times, then m j times. */
enum { GQ_D4_ORDER = 8 };
int gq_d4_mul(int a, int b); /* a*b: the map "apply b, then a" */
int gq_d4_inv(int a);
bool gq_d4_swaps_axes(int g); /* r, r3, mr, mr3 */
/* Where element g sits on a group axis elem[0..ng), or -1. */
int gq_d4_axis(const int *elem, int ng, int g);
/* Where T_g sends pixel (y, x) of an h x w plane; (h, w) must be square if g swaps axes.
 * Output plane dims are (w, h) for axis swappers, else (h, w). */
void gq_d4_point(int g, int h, int w, int y, int x, int *oy, int *ox);
/* out = T_g in for one h x w plane (out must not alias in). */
void gq_d4_plane(int g, float *out, const float *in, int h, int w);

/* ---- shapes and the group's action on values ---- */
enum { GQ_IMAGE = 1, GQ_GMAP = 2, GQ_VECTOR = 4 };
enum { GQ_VA_NONE, GQ_VA_TRIVIAL, GQ_VA_GROUP, GQ_VA_MAP, GQ_VA_MIXED };
typedef struct gq_shape {
	int kind, act; /* GQ_IMAGE..., GQ_VA_... (act for vectors only) */
	int c, g, h, w;
} gq_shape;
size_t gq_numel(gq_shape s);
/* out = T_g x for a value of shape s (SPEC §3): spatial action on every plane, and for a
 * G-map (or a vector made from one) the permutation (T_g F)[c, h] = T_g F[c, g^-1 h] of
 * the group axis, whose members are elem[0..s.g). Trivial vectors are copied. */
void gq_act(int g, float *out, const float *x, gq_shape s, const int *elem);

/* ---- filters.c: filter banks expanded over the group, once, at load ---- */
/* w [cout, cin, k, k] -> out [cout*ng, cin, k, k], out[c*ng + a] = T_{elem[a]} w[c]. */
void gq_expand_lift(float *out, const float *w, int cout, int cin, int k, const int *elem, int ng);
/* w [cout, cin, ng, k, k] -> out [cout*ng, cin*ng, k, k],
 * out[c*ng + a, c'*ng + b] = T_g w[c, c', axis(g^-1 h)] with g = elem[a], h = elem[b]. */
void gq_expand_gconv(float *out, const float *w, int cout, int cin, int k, const int *elem, int ng);
/* Folds inference batch norm into a per-channel affine map y = x*scale + shift. */
void gq_bn_fold(float *scale, float *shift, const float *weight, const float *bias,
        const float *mean, const float *var, int c, float eps);
/* -1, with "tensor 'NAME.running_var' has V at [i]: ..." in err, if a variance would make
 * the folded bn NaN (var + eps not > 0); else 0. */
int gq_bn_check_var(const float *var, int c, float eps, const char *name, char *err, size_t errlen);
/* Folds a bn (bn[0..3]: weight, bias, running_mean, running_var of c channels) into the
 * expanded conv before it, w [c*ng rows of rowlen], b [c*ng]: row c*ng + a is scaled by
 * channel c's scale, and its bias becomes b*scale + shift. -1 (err as above) on a bad
 * variance. */
int gq_bn_fold_into_conv(float *w, float *b, size_t rowlen, int c, int ng, const float *const *bn,
        float eps, const char *name, char *err, size_t errlen);
/* A lift or gconv bias b [c] (or none: NULL) repeated over the group axis:
 * out[c*ng + a] = b[c]. */
void gq_expand_bias(float *out, const float *b, int c, int ng);

/* ---- ops.c: the layers, one image each ---- */
/* Floats of scratch gq_conv2d needs (im2col), given the output size. */
size_t gq_conv2d_scratch(int cin, int k, int oh, int ow);
/* Cross-correlation as torch.nn.functional.conv2d with zero padding:
 * in [cin, h, w], w [cout, cin, k, k], bias [cout] or NULL -> out [cout, oh, ow],
 * oh = (h + 2p - d(k-1) - 1)/s + 1. scratch holds gq_conv2d_scratch() floats. */
void gq_conv2d(float *out, const float *in, const float *w, const float *bias, int cin, int h,
        int wd, int cout, int k, int s, int p, int d, float *scratch);
/* Pools on n planes of h x w, as torch's max_pool2d / avg_pool2d (padding -inf for max;
 * avg counts padded zeros: count_include_pad=True; ceil_mode=False). */
void gq_maxpool2d(float *out, const float *in, int n, int h, int w, int k, int s, int p);
void gq_avgpool2d(float *out, const float *in, int n, int h, int w, int k, int s, int p);
/* x[c, g, :] = x*scale[c] + shift[c] for every g: a folded bn shared over the group axis. */
void gq_affine(float *x, int c, int g, int hw, const float *scale, const float *shift);
void gq_relu(float *x, size_t n);
void gq_sigmoid(float *x, size_t n);
void gq_tanh(float *x, size_t n);
/* [c, g, hw] -> [c, hw]: max or mean over the group axis. */
void gq_gpool(float *out, const float *in, int c, int g, int hw, bool mean);
/* [n, hw] -> [n]: max or mean over each plane. */
void gq_global_pool(float *out, const float *in, int n, int hw, bool mean);
/* out[nout] = w[nout, nin] in + b (b may be NULL); large layers split rows over the team. */
void gq_linear(float *out, const float *in, const float *w, const float *b, int nout, int nin);
void gq_softmax(float *x, int n);
void gq_add(float *out, const float *a, const float *b, size_t n);
/* n planes h x w -> n planes sh x sw, as torch.nn.Upsample(scale_factor=s): nearest, or
 * bilinear with align_corners=False (SPEC §2.2's upsample). */
void gq_upsample(float *out, const float *in, int n, int h, int w, int s, bool bilinear);
/* Threads the runtime (and OpenBLAS) may use. */
void gq_set_threads(int n);

/* ---- load_*.c: files from others, validated before use ---- */
/* Errors are written to err as "FILE: what is wrong" (cut to errlen, always terminated) and
 * the call returns -1, with every output pointer NULL and nothing left allocated. Only
 * regular files are read. Non-finite values (inf, nan) are kept as the file has them. */
typedef struct gq_param {
	const char *name; /* "gconv1.weight" */
	int ndim;
	int dim[5];
} gq_param;
/* Reads a safetensors file strictly against params[0..n): every name present with its
 * shape, no other names, dtype F32, F16 or BF16 (converted). dst[i] receives params[i]
 * (on error, dst may be partly written). If labels is not NULL, *labels is set to a
 * malloc'd copy of __metadata__["labels"] or NULL. */
int gq_load_safetensors(const char *path, const gq_param *params, int n, float *const *dst,
        char **labels, char *err, size_t errlen);
/* Writes F32 tensors (and an optional labels metadata entry, may be NULL): keys sorted,
 * offsets contiguous in that order, header padded with spaces to a multiple of 8. A failed
 * save removes the file. */
int gq_save_safetensors(const char *path, const gq_param *params, int n, const float *const *src,
        const char *labels, char *err, size_t errlen);
/* Reads a .npy (versions 1-3, '<f4', C order) of 1-4 dims; *data is malloc'd. Saves 1-5 dims as
 * version 1.0, as numpy.save does. */
int gq_load_npy(const char *path, float **data, int *ndim, int dim[4], char *err, size_t errlen);
int gq_save_npy(
        const char *path, const float *data, int ndim, const int *dim, char *err, size_t errlen);
/* Reads a PNG (libpng) or PGM (P2/P5) as floats in [0, 1], [c, h, w] with c = 1 (gray)
 * or 3 (RGB, alpha dropped); *data is malloc'd. At most GQ_MAX_IMAGE_SIDE per side and
 * GQ_MAX_IMAGE_PIXELS in all. The format comes from the magic bytes, not the name. */
enum { GQ_MAX_IMAGE_SIDE = 16384 };
enum { GQ_MAX_IMAGE_PIXELS = 1 << 25 };
int gq_load_image(const char *path, float **data, int *c, int *h, int *w, char *err, size_t errlen);

/* ---- driver.c: the generated executable's command line (SPEC §4) ---- */
/* What the generated code tells the driver about its model. */
typedef struct gq_model {
	const char *name;
	const char *lint_verdict; /* e.g. "exact for e, m; broken for r, r2, r3" */
	gq_shape input, output;
	int ngroup;
	int elem[GQ_D4_ORDER]; /* the group axis */
	unsigned lint_exact;   /* bit g: the lint proved element g exact */
	int nparams;
	const gq_param *params;
	void *(*create)(void);
	/* Takes the tensors in params order, copies what it keeps; returns 0 or -1 (err). */
	int (*load_raw)(void *net, const float *const *tensors, char *err, size_t errlen);
	int (*forward)(void *net, const float *x, int batch, float *y);
	void (*destroy)(void *net);
	bool ends_softmax; /* the output is a softmax: the image mode prints it as is */
} gq_model;
/* The whole command line of a generated executable; returns the exit status. */
int gq_main(const gq_model *m, int argc, char **argv);

/* ---- par.c: the runtime's team of threads, started once, at the first parallel call ---- */
enum { GQ_MAX_THREADS = 16 };
/* Floats of each worker's own buffer (gq_team_scratch): what gq_conv_run needs at most (a
 * fused Winograd block: a panel of tiles' transformed input and its products, in L2), and
 * after them room for a fused layer's padded copy of its own (GQ_TEAM_PADDED more), up to
 * a 32-channel 97x97 map's (336 K floats; a worker touches only its rows' pages). */
enum { GQ_TEAM_SCRATCH = 160 * 1024, GQ_TEAM_PADDED = 384 * 1024 };
/* The threads the runtime uses: what gq_set_threads (or OPENBLAS_NUM_THREADS) asked for,
 * 1..GQ_MAX_THREADS. */
int gq_threads(void);
/* The cores this process may run on (sched_getaffinity: taskset, cgroups' cpusets). */
int gq_cores(void);
/* The most threads one parallel job has used since gq_threads_used(true) (1 if none ran in
 * parallel); with reset, returns that and starts counting again. What --bench reports. */
int gq_threads_used(bool reset);
/* At least gq_threads(), and as many as the process may use cores (at most GQ_MAX_THREADS): how
 * many per-thread workspaces a net allocates when it is created, before threads are set. */
int gq_max_threads(void);
/* Runs fn(ctx, t, n) for t = 0..n-1 at once, n = min(want, gq_threads()), the caller as
 * t = 0; returns n when all have returned. A caller inside a job, or one that finds the team
 * busy with another caller's job, runs fn(ctx, 0, 1) itself. Workers start on first need. */
int gq_parallel(int want, void (*fn)(void *ctx, int t, int n), void *ctx);
/* fn(ctx, u0, u1, t) over units [0, units) in ranges, on up to gq_threads() threads (t:
 * the thread, for gq_team_scratch): each thread starts on a share of its own, in order,
 * cut in grains of at least grain units (a few per thread), and a thread done with its own
 * takes the others' last grains, so that the threads end together however unequal the
 * units or the threads' speeds. Returns the threads used. */
int gq_parallel_for(int units, int grain, void (*fn)(void *ctx, int u0, int u1, int t), void *ctx);
/* The first unit of thread t's own share in gq_parallel_for(units, grain, ...) on n
 * threads (units for t = n). */
int gq_share_first(int units, int grain, int t, int n);
/* The median time (ns) a cache line takes from the process's first CPU to its second and
 * back, measured in at most 0.1 s by two threads pinned there; -1 with fewer than two CPUs,
 * or where other processes held them so that the two threads did not run at once.
 * On a virtual machine it says where the hypervisor put the two vCPUs, which decides how
 * well two threads share a layer (GQ_FAR_NS). */
double gq_round_trip_ns(void);
/* Round trips above this are two vCPUs "far" apart (393-680 ns measured on this project's
 * EPYC VM against 54-165 ns "near"). */
#define GQ_FAR_NS 280.0
/* Worker t's own GQ_TEAM_SCRATCH floats (t >= 1; NULL for t = 0, the caller brings its own). */
float *gq_team_scratch(int t);

/* A generated model's forward pass as the batch runner sees it: nsteps steps per image,
 * step(net, s, ws, scratch, in, out) running step s of one image whose value buffers are
 * at ws. Each of nthreads threads owns group image workspaces of vstride floats at
 * ws + t*group*vstride, and sstride floats of scratch at scratch + t*sstride. */
typedef struct gq_batch {
	void *net;
	void (*step)(void *net, int s, float *ws, float *scratch, const float *in, float *out);
	const char *const *step_names; /* what each step runs, for gq_profile_report */
	int nsteps, group, nthreads;
	float *ws, *scratch;
	size_t vstride, sstride;
	size_t in_size, out_size; /* floats per image of x and y */
	bool solo;                /* a batch of one runs its steps on the caller alone */
	int busy;                 /* the runtime's: nonzero while gq_run_batch runs it */
} gq_batch;
/* y[b] = the model on x[b] for b < batch. The batch is split over the team in contiguous
 * shares, one per thread, with no synchronisation until the end; each thread runs its share
 * in groups of b->group images, step by step, so that a layer's filters are read once per
 * group. A batch of one runs on the caller, and its large convolutions split over the team
 * (unless b->solo: then none, for a model too small for the hand-offs to pay). */
/* Threads: several nets (of one model or several) may run on several application threads
 * at once; their calls share the team, which runs one job at a time (a call that finds it
 * busy does its own work alone). A net runs one call at a time, since the workspace is
 * its own: a call on a batch (a net's forward) that another thread is running returns
 * GQ_EBUSY at once, having done nothing. Loading or freeing a net while another thread
 * uses it is not detected: don't. Returns 0 or GQ_EBUSY. */
enum { GQ_EBUSY = -2 };
int gq_run_batch(gq_batch *b, const float *x, int batch, float *y);
/* Profiling (the executable's --profile): while on, gq_run_batch adds up the wall time of
 * each step that thread 0 runs (at batch 1, every step); gq_profile_report prints the
 * totals per image, step by step, with their names and shares. Up to GQ_PROFILE_STEPS
 * steps are timed (a model has at most one per layer, and one more). Where steps shared
 * jobs with the team (batch 1 on several threads), two more columns: the time thread 0
 * ran the step alone, the others idle, and the time it waited at the ends of the shared
 * jobs for the others to finish theirs. */
enum { GQ_PROFILE_STEPS = 4097 };
/* Seconds on a monotonic clock: what --bench and --profile time with. */
double gq_now(void);
void gq_profile(bool on);
void gq_profile_report(FILE *f);

/* ---- conv_fast.c: convolution as a packed, cache-blocked matrix product ---- */
/* A convolution of fixed shape (parameters as gq_conv2d's) with its filters packed for the
 * micro-kernel the CPU runs best (AVX-512, AVX2+FMA or portable C, chosen at run time) and
 * a fused epilogue: out = conv(in) + bias, then max(out, 0) if relu. */
typedef struct gq_conv gq_conv;
/* Allocates the plan (NULL if out of memory or the shape is empty), with the algorithm that
 * needs the fewest multiply-adds for the shape: */
gq_conv *gq_conv_new(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu);
/* or a given one (NULL if it does not apply): direct or packed (any), Winograd
 * F(2x2, 3x3) or F(4x4, 3x3) (k = 3, stride 1, no dilation), or their stride-2 forms (k = 3,
 * stride 2, no dilation: per axis, the even taps as F(2, 2) or F(4, 2) and the odd one as it
 * is; 25 products for a 2x2 tile instead of 36, 81 for a 4x4 tile instead of 144). */
enum {
	GQ_CONV_AUTO,
	GQ_CONV_DIRECT,
	GQ_CONV_PACKED,
	GQ_CONV_WINO2,
	GQ_CONV_WINO4,
	GQ_CONV_WINO2S2,
	GQ_CONV_WINO4S2,
	/* F(4x4, 3x3) on the points 0, +-1, 2, 1/2, infinity (closed under p -> 1/p, for the
	 * group plans; about twice F(4x4)'s float32 error, never picked by gq_conv_new) */
	GQ_CONV_WINO4R,
	/* F(6x6, 3x3) on the points 0, +-1, +-2, +-1/2, infinity (closed under p -> 1/p:
	 * group plans too; about twice F(4x4)'s float32 error, never picked by gq_conv_new:
	 * no faster than F(4x4) on most shapes; gq_net_tune measures it where it may pay,
	 * conv_orbit.c's wino6_candidate) */
	GQ_CONV_WINO6,
	/* a stride-2 KxK convolution (K 5..8, no dilation, at most 16 input channels) as a
	 * stride-1 4x4 one of the input's four phases, in Winograd F(3x3, 4x4): 36 products
	 * for 9 outputs (a 7x7 lift's 147 multiply-adds a pixel become 48) */
	GQ_CONV_PHASE,
	/* F(3x3, 3x3) on the points 0, +-1, 2, infinity: 25 products for 9 outputs, its tiles
	 * cover maps of 3k pixels exactly (9x9: 9 tiles); never picked by gq_conv_new,
	 * gq_net_tune measures it where it may pay (conv_orbit.c's wino3 candidates) */
	GQ_CONV_WINO3,
	/* F(3x3, 3x3) on the points 0, 1, -2, -1/2, infinity (closed under p -> 1/p: the
	 * group plans' F(3x3); float32 error level with GQ_CONV_WINO3's, never picked by
	 * gq_conv_new; conv_orbit.c's group3 candidate) */
	GQ_CONV_WINO3R,
	/* a stride-2 3x3 convolution, per axis the even taps as F(3, 2) (points 0, 1, -1,
	 * infinity) and the odd one as it is: 49 products a 3x3 tile, 0.87x F(2x2)'s stride-2
	 * form's 25 a 2x2 tile (0.77x where the output's side is 3k: 15x15); gq_conv_new
	 * picks it where that saves a fifth of the products on 25 tiles or more, gq_net_tune
	 * measures it where it saves a fifth (conv_orbit.c's wino3s2_candidate) */
	GQ_CONV_WINO3S2,
	/* F(7x7, 3x3) on the points +-1, +-2, +-1/2, +-1/4, infinity: 81 products for 49
	 * outputs (33x33: 25 tiles where F(4x4) takes 81); in float32 3.6x F(6x6)'s mean
	 * error, 13x its largest; never picked by gq_conv_new: gq_net_tune measures it where
	 * it may pay (conv_orbit.c's wino7_candidate; docs/batch1.md, s26-f7) */
	GQ_CONV_WINO7,
	/* F(5x5, 3x3) on the points 0, 1, 2, 1/2, -2, -1/2, infinity (closed under p -> 1/p:
	 * the group plans' F(5x5), 49 products for 25 outputs; its tiles cover maps of 5k
	 * pixels exactly (25x25: 25 tiles, 15x15: 9); never picked by gq_conv_new,
	 * conv_orbit.c's group5 candidate) */
	GQ_CONV_WINO5R
};
gq_conv *gq_conv_new_algo(
        int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu, int algo);
/* A ceiling on the packed filter banks of the plans alive at once, in bytes (0: none, the
 * default; the environment variable GEQRT_MEMORY_LIMIT_MB sets one in megabytes where
 * gq_set_memory_limit has not). gq_conv_new then picks the cheapest algorithm whose bank
 * fits beside those alive (Winograd's bank is 16/9 (F(2x2)) or 4 (F(4x4)) times the
 * filters' size, direct's and packed's 1), or the smallest bank if none fits. Set it
 * before a model is created: plans keep their algorithm. */
void gq_set_memory_limit(size_t bytes);
size_t gq_memory_limit(void);
/* Bytes of c's packed filter bank, and of the banks of all plans alive. */
size_t gq_conv_bytes(const gq_conv *c);
size_t gq_conv_banks_alive(void);
/* "direct", "packed", "winograd2", "winograd4", "winograd2s2", "winograd4s2", "winograd4r",
 * "winograd6", "phase", "winograd3", "winograd3r", "winograd3s2", "winograd7" or "winograd5r". */
const char *gq_conv_algo(const gq_conv *c);
/* Whether c's Winograd products run on the narrow kernel (output channels in the vectors,
 * tiles broadcast), which the plan picks for maps of few tiles where it pays. */
bool gq_conv_narrow(const gq_conv *c);
/* Output channels a panel of c's packed filters: 6, or 8 on AVX-512 where they come in eights
 * (a group plan: its base channels); the narrow kernels' 2V. */
int gq_conv_panel(const gq_conv *c);
void gq_conv_free(gq_conv *c);
/* Packs filters w [cout, cin, k, k] and bias [cout] (NULL: zeros), e.g. once at load. */
void gq_conv_set(gq_conv *c, const float *w, const float *bias);
/* Gives the whole pages inside [p, p + bytes) back to the system: a buffer dead until it
 * is written again (the expanded filters once gq_conv_set has packed them) then holds no
 * memory; what it held reads as zeros. The partial pages at either end are kept. */
void gq_release(void *p, size_t bytes);
/* Floats of scratch gq_conv_run needs from its caller (helper threads bring their own). */
size_t gq_conv_scratch(const gq_conv *c);
/* in [cin, h, w] -> out [cout, oh, ow], as gq_conv2d then (if relu) gq_relu, to float
 * rounding (Winograd's is larger, about 1e-6 of the terms' magnitude, and it spreads a NaN or
 * infinity of the input over the m x m output tile it falls in). Splits the work over the
 * team (gq_parallel) when the layer is large enough; never allocates. */
void gq_conv_run(const gq_conv *c, float *out, const float *in, float *scratch);
/* As gq_conv_run with a residual added before the relu (oneDNN's "sum" post-op):
 * out = conv(in) + bias + add, then max(out, 0) if relu; add [cout, oh, ow], NULL for none.
 * add may be out itself (each float is read before it is written), never in. */
void gq_conv_run_sum(
        const gq_conv *c, float *out, const float *in, const float *add, float *scratch);
/* A residual block's two convolutions: gq_conv_run(a, mid, in), then
 * gq_conv_run_sum(b, out, mid, add), to the same floats. out may be add and may be in (the
 * emitter writes a block's output over its input); mid must overlap none of them, and what it
 * holds afterwards is unspecified (where a's output goes straight into b's padded copy in
 * scratch, mid is not written). scratch holds
 * gq_conv_pair_scratch(a, b) floats (at least gq_conv_scratch of each). */
void gq_conv_run_pair(const gq_conv *a, const gq_conv *b, float *out, const float *in, float *mid,
        const float *add, float *scratch);
/* Floats of scratch gq_conv_run_pair(a, b, ...) needs: where it runs a into b's padded copy,
 * that copy and a's scratch; else the larger of gq_conv_scratch(a) and (b). */
size_t gq_conv_pair_scratch(const gq_conv *a, const gq_conv *b);
/* As gq_conv_run_sum, then gq_maxpool2d(pooled, out, n, h, w, k, s, p) (n, h, w: the
 * conv's output): the max pool that reads only this conv's output (after its bn and relu),
 * run on the rows of out as the conv writes them, while they are in cache, rather than as
 * a pass of its own over the whole map. The same floats as the two calls. out still
 * receives the whole output; pooled must not overlap in, out or add. */
void gq_conv_run_pool(const gq_conv *c, float *out, const float *in, const float *add,
        float *pooled, int n, int h, int w, int k, int s, int p, float *scratch);
/* As gq_conv_run_pool where nothing reads the conv's output after the pool (the compiler
 * fuses a pool only then): out is then the plan's to use as it likes and holds no defined
 * result. ResNet's stem pools each band of its lift's rows from the thread's cache and never
 * writes the 3.3 MB map out. */
void gq_conv_run_pool_only(const gq_conv *c, float *out, const float *in, const float *add,
        float *pooled, int n, int h, int w, int k, int s, int p, float *scratch);
/* The kernel new plans use ("avx512", "avx2" or "c"); gq_conv_use_kernel(name) picks another
 * the CPU runs (NULL: back to the best), returning -1 if it cannot; plans keep theirs. The
 * environment variable GEQRT_KERNEL=name picks the default (if the CPU runs it). */
const char *gq_conv_kernel(void);
int gq_conv_use_kernel(const char *name);

/* ---- conv_orbit.c: a lift or gconv on the identity element's filters alone ---- */
/* A lift (in: an image of cin channels) or gconv (in: a G-map, cin = channels * ng) whose
 * expanded bank (gq_expand_lift / gq_expand_gconv over elem[0..ng)) has cout = channels *
 * ng rows, run as one convolution of those rows of the identity over the ng rotated,
 * permuted copies of the input stacked in one image, then each copy's output turned back
 * (T_g) into place: the bank is ng times smaller and streams once for all the copies. The
 * plan takes the expanded bank and bias as gq_conv_set does (it keeps the identity's rows)
 * and runs as any other (gq_conv_run_sum; scratch: gq_conv_scratch). Exact (to float
 * rounding) where the layer's output grid is symmetric, (h + 2p - d(k-1) - 1) % s == 0 on
 * each axis, and h == w if an element swaps the axes; NULL elsewhere, or if out of memory. */
gq_conv *gq_conv_new_orbit(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift);
/* A plan for a lift or gconv: the orbit where it is exact and, its bank streaming from
 * memory (the layer's expanded bank alone past 16 MB; a model counts all of its banks),
 * saves more bytes of bank than it adds multiply-adds (the expanded plan then kept beside
 * it, for runs on one thread); or the orbit alone where the memory ceiling or a bank past
 * 128 MB asks for it; else gq_conv_new's. The environment variable GEQRT_ORBIT=0 never
 * runs the orbit, GEQRT_ORBIT=1 wherever exact (alone). A stride-1 3x3 gconv whose
 * expanded plan runs F(2x2) on a streaming bank of 4 MB or more runs instead as one
 * F(2x2) bank for all the group's elements (the group in the Winograd domain; README,
 * Performance); GEQRT_WGROUP=0 never, GEQRT_WGROUP=1 wherever it applies;
 * GEQRT_WGNARROW=0 never runs its products on the narrow kernels, =1 always. */
gq_conv *gq_conv_new_group(int cin, int h, int w, int cout, int k, int s, int p, int d, bool relu,
        int ng, const int *elem, bool lift);
/* ng if c runs as an orbit, else 0. */
int gq_conv_orbit(const gq_conv *c);

/* ---- pool_fast.c: pooling fast paths, dispatched to by ops.c ---- */
/* gq_maxpool2d for windows and strides up to 8 with p <= k/2 (torch's bound), as vectors,
 * splitting large pools' planes over the team; returns false, having done nothing, for the
 * shapes it does not handle. */
bool gq_maxpool2d_fast(float *out, const float *in, int n, int h, int w, int k, int s, int p);
/* As gq_maxpool2d_fast, on one thread, output rows [oy0, oy1) of every plane only (none:
 * whether it handles the shape). */
bool gq_maxpool2d_rows(
        float *out, const float *in, int n, int h, int w, int k, int s, int p, int oy0, int oy1);
/* One output row of such a pool in each of n planes, from the nrows (1..k) rows of its window
 * that lie inside the plane (the rows above and below are padding, or rows another call
 * takes the max of): plane c's output at o + c*os, its rows at rows[i] + c*rs (column 0);
 * with merge, the max of what o holds and the row. */
bool gq_maxpool2d_row(float *o, size_t os, const float *const *rows, size_t rs, int nrows, int n,
        int w, int k, int s, int p, bool merge);

/* ---- model.c: what every generated model shares; the generated code describes its own
 * layers and sizes in a gq_net_desc and keeps only what differs ---- */
typedef struct gq_net gq_net;
/* One image as a layer sees it: its operands and result are at fixed offsets of ws (the
 * image's value buffers), or are x (the image) or y (its output). */
typedef struct gq_image {
	const gq_net *net;
	float *ws;
	float *scratch; /* for the convolutions */
	const float *x;
	float *y;
} gq_image;
typedef void gq_layer_fn(const gq_image *im);
typedef struct gq_layer {
	gq_layer_fn *run;
	const char *name; /* "gconv1, line 8, bn2 folded in, relu2 fused", for --profile */
	const struct gq_conv_shape *conv; /* a lift's or gconv's, in convs: --profile adds
	                                   * ", orbit of N" if it runs as one; else NULL */
	/* A residual block's two convolutions run in one call (gq_conv_run_pair): its two
	 * convs as layers of their own, run one after the other to the same floats, so that
	 * the tuner times each conv's plans apart (conv is then NULL); else NULL. */
	const struct gq_layer *parts;
} gq_layer;
/* A convolution's shape, as gq_conv_new takes it; a lift or gconv also its group
 * (gq_conv_new_group's ng, elem, lift; ng = 0 for other convolutions). */
typedef struct gq_conv_shape {
	int cin, h, w, cout, k, s, p, d;
	bool relu;
	int ng;
	const int *elem;
	bool lift;
} gq_conv_shape;
typedef struct gq_net_desc {
	const gq_layer *layers; /* the forward pass of one image, in order */
	int nlayers;
	const gq_conv_shape *convs; /* n->conv[i] is convs[i]'s plan */
	int nconvs;
	size_t ws_floats;         /* the value buffers of one image's workspace */
	size_t param_floats;      /* the parameter block: filters expanded, bn folded */
	size_t in_size, out_size; /* floats per image of x and y */
	const gq_param *params;   /* the weights file's tensors */
	int nparams;
	/* Keeps the file's tensors t (params order) in n->mem as the layers use them. */
	int (*load)(gq_net *n, const float *const *t, char *err, size_t errlen);
} gq_net_desc;
struct gq_net {
	const gq_net_desc *desc;
	float *mem;     /* the parameter block */
	gq_conv **conv; /* the convolutions' plans (at batch 1, where they were tuned) */
	bool loaded;
	gq_batch run;         /* the batch runner's view: a step per layer */
	const char **names;   /* the layers' names, for the batch runner */
	gq_net *serve;        /* or NULL: the net with the plans tuned for batches (model.c) */
	struct gq_tune *tune; /* or NULL: the candidate plans until gq_net_tune (model.c) */
};
/* Allocates the net, its convolution plans and workspaces; NULL if out of memory. */
gq_net *gq_net_new(const gq_net_desc *d);
void gq_net_free(void *n);
/* As gq_model's load_raw: desc->load, and the net counts as loaded. */
int gq_net_load_raw(void *n, const float *const *t, char *err, size_t errlen);
/* Loads a safetensors file strictly against desc->params; 0, or -1 with the reason in err. */
int gq_net_load(gq_net *n, const char *path, char *err, size_t errlen);
/* y[b] = the model on x[b]; -1 before weights were loaded or for bad arguments, GQ_EBUSY
 * if another thread is running this net (gq_run_batch). Never allocates, but for the first
 * call on a net with tuning on: it tunes first (gq_net_tune). */
int gq_net_forward(void *n, const float *x, int batch, float *y);
/* Tuning, as FFTW's FFTW_MEASURE: a net created while gq_set_tune(true) is on (unset: the
 * environment variable GEQRT_TUNE=1) builds, for each lift and gconv, every plan that may
 * run it (expanded, orbit, the group's F(4x4) and F(2x2) forms, where each applies and the
 * plan is not forced by memory, a ceiling or GEQRT_ORBIT=1 or GEQRT_WGROUP=1), and loading
 * packs them all (the others' banks are ng times smaller than the expanded one's).
 * gq_net_tune then runs forward passes on inputs of its own on the threads set now
 * (gq_set_threads), each candidate in turn in each layer, all layers at once, until each
 * layer's fastest time stands apart from the others' (or some 0.25 s of passes), in two
 * modes: batch 1 (each layer shared by the team) and batches (one image a thread, two at a
 * time). It keeps each layer's fastest plan of each mode (the rules' where none beats
 * them by 2%) and frees the others; the net then runs the one or the other by the batch of
 * each call. Tuning changes rounding only: every plan computes the layer to float
 * rounding. Returns the convolutions that had a choice (0 for a net created without
 * tuning, tuned already, or with no choice); -1 for a NULL or unloaded net or out of
 * memory; GQ_EBUSY if another thread ran the net meanwhile (call it, as gq_net_forward,
 * from one thread at a time). An executable's --tune sets tuning on and tunes before its
 * first pass. */
void gq_set_tune(bool on);
int gq_net_tune(void *n);

#ifdef __cplusplus
}
#endif
#endif
