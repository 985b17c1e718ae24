/* shape.c: the shape rules of SPEC §2, the only shape inference. The checker asks it for
 * each layer it builds (and reports what it refuses), the lint's size search asks it
 * again at other input sizes, and the tests build models through it. A rule reads the
 * layer's op and hyperparameters and the operands' shapes, never the layer's own
 * in_shape, so that it can be asked about inputs the model was not declared with. */
#include <limits.h>
#include <string.h>

#include "geqc.h"

static long long mul_sat(long long a, long long b)
{
	long long r;
	return __builtin_mul_overflow(a, b, &r) ? LLONG_MAX : r;
}

long long shape_numel(Shape s)
{
	return mul_sat(mul_sat(s.c, s.g), mul_sat(s.h, s.w));
}

long long tensor_numel(const Tensor *t)
{
	long long n = 1;
	for (int i = 0; i < t->ndim; i++)
		n = mul_sat(n, t->dim[i]);
	return n;
}

const char *kind_name(Kind k)
{
	return k == K_IMAGE ? "image" : k == K_GMAP ? "G-map" : "vector";
}

const char *shape_dims(Shape s, char buf[SHAPE_DIMS_MAX])
{
	if (s.kind == K_VECTOR)
		snprintf(buf, SHAPE_DIMS_MAX, "%lld", shape_numel(s));
	else if (s.kind == K_GMAP)
		snprintf(buf, SHAPE_DIMS_MAX, "%d, %d, %d, %d", s.c, s.g, s.h, s.w);
	else
		snprintf(buf, SHAPE_DIMS_MAX, "%d, %d, %d", s.c, s.h, s.w);
	return buf;
}

int conv_out_size(int n, int k, int s, int p, int d)
{
	if (s < 1)
		return 0;
	long long room = (long long)n + 2LL * p - ((long long)d * ((long long)k - 1) + 1);
	if (room < 0)
		return 0;
	long long out = room / s + 1;
	return out > INT_MAX ? INT_MAX : (int)out;
}

/* h and w of a sliding window's output; false if the window does not fit. */
static bool window(const Layer *L, Shape in, Shape *out)
{
	out->h = conv_out_size(in.h, L->k, L->s, L->p, L->d);
	out->w = conv_out_size(in.w, L->k, L->s, L->p, L->d);
	return out->h > 0 && out->w > 0;
}

/* A global pool of a G-map keeps its group axis, which the group permutes. */
static Shape global_pool(Shape in)
{
	bool gmap = in.kind == K_GMAP;
	return (Shape){.kind = K_VECTOR,
	        .act = gmap ? VA_GROUP : VA_TRIVIAL,
	        .c = in.c,
	        .g = in.g,
	        .h = 1,
	        .w = 1};
}

static Shape flatten(Shape in)
{
	Shape out = in;
	out.kind = K_VECTOR;
	out.act = in.kind == K_IMAGE && in.h == 1 && in.w == 1 ? VA_TRIVIAL : VA_MAP;
	return out;
}

static bool same_dims(Shape a, Shape b)
{
	return a.c == b.c && a.g == b.g && a.h == b.h && a.w == b.w;
}

/* Vectors of equal length add whatever they came from; the group then acts on the sum
 * only if it acts on both operands the same way (trivial vectors are all [N, 1, 1, 1]). */
static bool add_shape(Shape a, Shape b, Shape *out)
{
	if (a.kind != b.kind)
		return false;
	if (a.kind != K_VECTOR) {
		*out = a;
		return same_dims(a, b);
	}
	long long n = shape_numel(a);
	if (n != shape_numel(b))
		return false;
	*out = a;
	if (a.act == b.act && same_dims(a, b))
		return true;
	*out = (Shape){.kind = K_VECTOR, .act = VA_MIXED, .c = (int)n, .g = 1, .h = 1, .w = 1};
	return true;
}

/* Along the channel axis: every operand a map of one kind with the same H and W (and so
 * the same group axis); the channels add up, within GEQC_MAX_DIM. */
static bool concat_shape(const Shape *in, int n, Shape *out)
{
	long long c = 0;
	for (int j = 0; j < n; j++) {
		if (in[j].kind != in[0].kind || in[j].h != in[0].h || in[j].w != in[0].w)
			return false;
		c += in[j].c;
	}
	out->c = (int)(c > GEQC_MAX_DIM ? 0 : c);
	return c <= GEQC_MAX_DIM;
}

/* Each pixel becomes s x s, within GEQC_MAX_DIM. */
static bool upsample_shape(Shape in, int s, Shape *out)
{
	long long h = (long long)in.h * s, w = (long long)in.w * s;
	if (s < 1 || h > GEQC_MAX_DIM || w > GEQC_MAX_DIM)
		return false;
	out->h = (int)h;
	out->w = (int)w;
	return true;
}

void shape_operands(const Layer *L, const Shape *val, Shape *in)
{
	for (int j = 0; j < L->nin; j++)
		in[j] = val[L->in[j]];
}

bool shape_infer(const Layer *L, const Shape *in, int group_n, Shape *out)
{
	*out = in[0];
	switch (L->op) {
	case OP_LIFT:
	case OP_GCONV:
	case OP_CONV: {
		Kind kind = (Kind)op_info[L->op].out;
		*out = (Shape){.kind = kind, .c = L->C, .g = kind == K_GMAP ? group_n : 1};
		return window(L, in[0], out);
	}
	case OP_MAXPOOL:
	case OP_AVGPOOL:
		return window(L, in[0], out);
	case OP_BN:
	case OP_RELU:
	case OP_SIGMOID:
	case OP_TANH:
	case OP_SOFTMAX:
		return true;
	case OP_GPOOL:
		out->kind = K_IMAGE;
		out->g = 1;
		return true;
	case OP_GLOBAL_AVGPOOL:
	case OP_GLOBAL_MAXPOOL:
		*out = global_pool(in[0]);
		return true;
	case OP_FLATTEN:
		*out = flatten(in[0]);
		return true;
	case OP_LINEAR:
		*out = (Shape){
		        .kind = K_VECTOR, .act = VA_TRIVIAL, .c = L->C, .g = 1, .h = 1, .w = 1};
		return true;
	case OP_ADD:
		return add_shape(in[0], in[1], out);
	case OP_CONCAT:
		return concat_shape(in, L->nin, out);
	case OP_UPSAMPLE:
		return upsample_shape(in[0], L->s, out);
	case OP_DROPOUT:
		return true;
	case OP_COUNT:
		break;
	}
	return false;
}

static void add_tensor(Layer *L, const char *suffix, int ndim, const int *dim)
{
	Tensor *t = &L->param[L->nparams++];
	t->name = suffix; /* prefixed with the layer's name once names are known */
	t->ndim = ndim;
	memcpy(t->dim, dim, sizeof(int) * (size_t)ndim);
}

void shape_tensors(Layer *L, int group_n)
{
	static const char *const bn[4] = {"weight", "bias", "running_mean", "running_var"};
	int cin = L->in_shape.c;
	L->nparams = 0;
	switch (L->op) {
	case OP_LIFT:
	case OP_CONV:
		add_tensor(L, "weight", 4, (int[]){L->C, cin, L->k, L->k});
		break;
	case OP_GCONV: /* the filters have a group axis */
		add_tensor(L, "weight", 5, (int[]){L->C, cin, group_n, L->k, L->k});
		break;
	case OP_LINEAR: /* the input passed the numel limit, so it fits an int */
		add_tensor(L, "weight", 2, (int[]){L->C, (int)shape_numel(L->in_shape)});
		break;
	case OP_BN:
		for (int i = 0; i < 4; i++)
			add_tensor(L, bn[i], 1, (int[]){cin});
		return;
	case OP_MAXPOOL:
	case OP_AVGPOOL:
	case OP_RELU:
	case OP_SIGMOID:
	case OP_TANH:
	case OP_GPOOL:
	case OP_GLOBAL_AVGPOOL:
	case OP_GLOBAL_MAXPOOL:
	case OP_FLATTEN:
	case OP_SOFTMAX:
	case OP_ADD:
	case OP_CONCAT:
	case OP_UPSAMPLE:
	case OP_DROPOUT:
	case OP_COUNT:
		return; /* no parameters */
	}
	if (L->bias)
		add_tensor(L, "bias", 1, (int[]){L->C});
}
