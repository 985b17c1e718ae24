/* geqc.h: the compiler's one header, a section per file (as chibicc.h).
 * The pipeline (main.c's compile()): text -> tokens (lexer.l) -> AST (parser.y, ast.c) ->
 * checked model (check.c, group.c) -> lint (lint.c) -> plan (plan.c) -> emitted C or
 * PyTorch (emit_c.c, emit_torch.c). ops.h describes every op for all of them. Every pass
 * reports through diag.c and allocates through ast.c. */
#ifndef GEQC_H
#define GEQC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GEQC_VERSION "0.1.0"

/* Limits that keep hostile sources cheap; each has an error that names it. */
enum {
	GEQC_MAX_SOURCE = 1 << 20, /* bytes of one .geq file */
	GEQC_MAX_IDENT = 64,       /* characters of an identifier */
	GEQC_MAX_DEPTH = 64,       /* nesting of calls and parentheses */
	GEQC_MAX_DIM = 1 << 16,    /* any channel count, height, width, kernel, stride */
	GEQC_MAX_LAYERS = 4096,    /* op applications in one model, after expansion */
	GEQC_MAX_SIZES = 4096,     /* input sizes one --sizes sweeps */
	GEQC_MAX_STEPS = 1 << 18,  /* statements and loop turns run by the expansion */
	GEQC_MAX_OPERANDS = 16,    /* operands of one concat */
};
#define GEQC_MAX_NUMEL (1LL << 28) /* floats in one value or one parameter tensor */

/* ---- ast.c: the arena that owns every AST node and string of one compilation, and the
 * one allocator ---- */
typedef struct Arena Arena;
Arena *arena_new(void);
void *arena_alloc(Arena *a, size_t n); /* zeroed; aborts cleanly (exit 2) on OOM */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...);
void arena_free(Arena *a);
/* Memory a pass frees itself (tables that grow, per-pass scratch): the only other way the
 * compiler allocates. Both ways end geqc on failure with out_of_memory(). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size); /* zeroed */
void *xrealloc(void *p, size_t n);
/* "geqc: error: out of memory" and exit status 2, the one message for it. */
_Noreturn void out_of_memory(void);

/* ---- diag.c: the one reporting function ---- */

/* Bison's YYLTYPE: lines and columns are 1-based, last_column inclusive. A location
 * inside a block body also says which call of the block it belongs to (as gcc's
 * locations of inlined code do): site is NULL for code directly in the model. */
typedef struct Site Site;
typedef struct Loc {
	int first_line, first_column, last_line, last_column;
	const Site *site;
} Loc;
#define YYLTYPE             Loc
#define YYLTYPE_IS_DECLARED 1
#define YYLTYPE_IS_TRIVIAL  0 /* bison's {1, 1, 1, 1} would leave site uninitialised */

/* One call of a block, made by expand.c: every diagnostic at a location of that
 * instance ends with `note: in block 'basic' called at FILE:LINE:COL`, one per level. */
struct Site {
	const char *block; /* the block's name */
	Loc decl;          /* its name in the declaration */
	Loc call;          /* the call; call.site is the caller's instance (NULL: the model) */
	const char *path;  /* the instance's name prefix: "basic17." or "stage2.basic3." */
};

typedef enum { D_ERROR, D_WARNING, D_NOTE } DiagKind;

/* How diagnostics reach the user (-fdiagnostics-format): gcc's text as each is reported,
 * or collected and written at the end as SARIF 2.1.0 or gcc's JSON (diag_sarif.c). */
typedef enum { DF_TEXT, DF_SARIF_STDERR, DF_SARIF_FILE, DF_JSON_STDERR } DiagFormat;

/* A fix-it: replace the text at loc (inclusive columns) by text; an empty loc range
 * (last_column = first_column - 1) inserts before first_column. */
typedef struct DiagFixit {
	Loc loc;
	char *text;
} DiagFixit;

/* One reported diagnostic, kept when Diag.log is set (for SARIF, JSON and --fix). */
typedef struct DiagRecord {
	DiagKind kind; /* D_ERROR also for a warning promoted by -Werror */
	bool promoted;
	Loc loc;
	const char *flag; /* "-Wequivariance", or NULL */
	char *msg;
	int parent; /* a note: index of the error or warning it belongs to, or -1 */
	int nfix;
	DiagFixit *fix;
} DiagRecord;

typedef struct DiagLog {
	DiagRecord *rec;
	int n, cap;
} DiagLog;

typedef struct Diag {
	const char *file; /* as given on the command line */
	const char *src;  /* the whole source, for quoting lines */
	size_t srclen;
	FILE *out; /* stderr, or a memstream in tests; NULL: count, print nothing */
	int nerrors, nwarnings;
	bool werror;      /* -Werror: warnings count as errors for the exit status */
	bool no_equiv;    /* -Wno-equivariance: drop warnings of that flag and their notes */
	bool no_align;    /* -Wno-grid-alignment: the same for that flag */
	bool suppressing; /* the last warning was dropped, so drop its notes too */
	DiagFormat format;
	bool color;            /* -fdiagnostics-color: SGR sequences from GCC_COLORS */
	bool parseable_fixits; /* -fdiagnostics-parseable-fixits: fix-it lines as gcc's */
	DiagLog *log;          /* if set, every shown diagnostic is also recorded here */
} Diag;

/* Prints `file:line:col: kind: msg [flag]`, then for errors and warnings the source
 * line with a gutter and a caret with `~` under the rest of loc. Notes print no source
 * line; a msg's embedded '\n' continues on an indented line. flag may be NULL. */
void diag_report(Diag *d, DiagKind kind, Loc loc, const char *flag, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
#define error_at(d, loc, ...)   diag_report(d, D_ERROR, loc, NULL, __VA_ARGS__)
#define note_at(d, loc, ...)    diag_report(d, D_NOTE, loc, NULL, __VA_ARGS__)
#define warn_equiv(d, loc, ...) diag_report(d, D_WARNING, loc, "-Wequivariance", __VA_ARGS__)
/* Attaches a fix-it to the error or warning reported last, or the one its notes that
 * came since belong to (nothing if it was not shown). */
void diag_fixit(Diag *d, Loc loc, const char *text);
/* Line `line` (1-based) of the source without its newline; false if there is none. */
bool diag_line(const Diag *d, int line, const char **start, size_t *len);
/* Byte offset of column col (1-based) of line `line` in the source (srclen if none). */
size_t diag_offset(const Diag *d, int line, int col);
/* Colour from -fdiagnostics-color=auto|always|never (auto: stderr is a terminal);
 * GCC_COLORS set but empty turns it off, as in gcc. False for an unknown word. */
bool diag_set_color(Diag *d, const char *when);
void diag_log_free(DiagLog *log);

/* ---- diag_sarif.c: the collected diagnostics as SARIF 2.1.0 or gcc's JSON ---- */
/* Writes d->log in d->format to out; tool_ok is the run's success. */
void diag_write_sarif(FILE *out, const Diag *d, bool tool_ok);
void diag_write_json(FILE *out, const Diag *d);
/* s as a JSON string: line breaks (diag.c wraps messages for terminals) become spaces,
 * other control bytes and bytes past ASCII are escaped, so the output is always JSON. */
void json_put_string(FILE *out, const char *s);

/* ---- ast.c / parser.y / lexer.l: the syntax tree ---- */
/* N_UNARY, N_BINARY and N_COND are compile-time arithmetic (SPEC §2.1): expand.c
 * folds them, so the checker never sees them. `+` is N_ADD whatever it adds. */
typedef enum { N_INT, N_FLOAT, N_BOOL, N_NAME, N_CALL, N_ADD, N_UNARY, N_BINARY, N_COND } NodeKind;

/* The operators of N_UNARY ('-' '!') and N_BINARY: the character, or one of these. */
enum { OP2_EQ = 256, OP2_NE, OP2_LE, OP2_GE, OP2_AND, OP2_OR };

typedef struct Node Node;
typedef struct Arg {
	const char *kw; /* keyword, or NULL for a positional argument */
	Loc loc;        /* the whole argument, `k=3` or `3` */
	Node *val;
	struct Arg *next;
} Arg;

struct Node {
	NodeKind kind;
	Loc loc;          /* a call: from the op name to the closing parenthesis */
	long long i;      /* N_INT (checked against INT_MAX by the lexer), N_BOOL */
	double f;         /* N_FLOAT */
	const char *name; /* N_NAME, N_CALL (the op or function name) */
	const char *key;  /* N_NAME after expansion: the value it names in the flat model
	                     ("basic3.h" inside a block); NULL: name itself */
	Loc name_loc;     /* N_CALL: the op name alone; N_ADD N_UNARY N_BINARY: the operator */
	Arg *args;        /* N_CALL */
	int op;           /* N_UNARY, N_BINARY: '-', '*', OP2_EQ, ... */
	Node *cond;       /* N_COND: cond ? lhs : rhs */
	Node *lhs, *rhs;  /* N_ADD, N_BINARY, N_COND; N_UNARY: lhs */
};

/* After expansion a model's body holds only S_ASSIGN and S_RETURN. */
typedef enum { S_ASSIGN, S_RETURN, S_FOR, S_IF } StmtKind;

typedef struct Stmt {
	StmtKind kind;
	Loc loc;
	const char *target; /* assigned name (S_FOR: the loop variable), NULL for `return` */
	Loc target_loc;
	Node *expr;              /* S_FOR: the first bound; S_IF: the condition */
	Node *hi;                /* S_FOR: the bound past the last turn */
	struct Stmt *body, *alt; /* S_FOR, S_IF: the body; S_IF: the else branch or NULL */
	struct Stmt *next;
} Stmt;

typedef struct Ident {
	const char *name;
	Loc loc;
	struct Ident *next;
} Ident;

typedef struct GroupDecl {
	const char *name;
	Loc loc;     /* the name */
	Ident *gens; /* generator names, unchecked */
	struct GroupDecl *next;
} GroupDecl;

typedef struct ModelDecl {
	const char *name;
	Loc loc; /* the model's name */
	const char *input;
	Loc input_loc; /* `x: [1, 28, 28]` */
	Node *dims[3]; /* C, H, W as N_INT nodes */
	const char *group;
	Loc group_loc; /* the group's name after `on` */
	Stmt *body;
} ModelDecl;

/* block NAME(x, C, s=1) { ... return ...; } */
typedef struct BlockParam {
	const char *name;
	Loc loc;
	Node *def; /* the default, or NULL */
	struct BlockParam *next;
} BlockParam;

typedef struct BlockDecl {
	const char *name;
	Loc loc; /* the name */
	BlockParam *params;
	Stmt *body;
	int order; /* declarations before it in the file (blocks and the model) */
	struct BlockDecl *next;
} BlockDecl;

typedef struct Program {
	GroupDecl *groups; /* in source order */
	BlockDecl *blocks; /* in source order */
	ModelDecl *model;  /* NULL if the file declares none (check reports it) */
	int model_order;   /* declarations before the model */
} Program;

/* Parses src (srclen bytes, may contain NULs) into an AST owned by arena; reports syntax
 * errors through d and returns NULL after the first one. */
Program *parse_program(const char *src, size_t srclen, Arena *arena, Diag *d);
/* A zeroed node of that kind and location, owned by the arena. */
Node *ast_node(Arena *a, NodeKind kind, Loc loc);
/* An N_UNARY or N_BINARY operator as written: "-", "==", "&&". */
const char *ast_op_spelling(int op);
/* The AST as text, one declaration or statement a line (geqc --dump=ast). */
void ast_dump(FILE *out, const Program *p);

/* ---- expand.c: blocks, loops and conditions run at compile time (SPEC §2.1) ---- */

/* A copy of p whose model body is a flat list of assignments and a return: every block
 * call inlined (its nodes' locations carry the call's Site), every loop unrolled, every
 * condition decided and every compile-time expression folded to a literal. Values
 * inside a block get keys of their own ("basic3.h"), so no instance sees another's
 * names. Reports errors through d and returns NULL after any. */
Program *expand_program(const Program *p, Arena *arena, Diag *d);

/* ---- group.c: the point group D4 and its subgroups (SPEC §3) ---- */

/* The element algebra (canonical index 4j+i of m^j r^i, composition, inverse, the action
 * on pixels) lives in the runtime's d4.c, shared with the generated code: gq_d4_*. */
#include "../runtime/geqrt.h"
extern const char *const d4_name[GQ_D4_ORDER]; /* e r r2 r3 m mr mr2 mr3 */
/* Generator spelling (`rot90`, `flip`, ...) to element, or -1 if not a grid symmetry. */
int d4_generator(const char *name);
/* Element to its generator spelling ("identity" for e): rot90 ... transpose. */
extern const char *const d4_spelling[GQ_D4_ORDER];
/* Element in words, for messages: "rotation by 90 degrees", "left-right mirror", ... */
extern const char *const d4_describe[GQ_D4_ORDER];

typedef struct Group {
	const char *name;
	unsigned mask;         /* bit g set for each member */
	int n;                 /* order |G| */
	int elem[GQ_D4_ORDER]; /* members in increasing canonical index: the group axis */
} Group;
/* Closure of the generators in gens[0..ngens) (an empty list gives {e}). */
Group group_close(const char *name, const int *gens, int ngens);
/* One of the predeclared wallpaper groups p1 p2 pm pmm cm cmm p4 p4m, or false. */
bool group_predeclared(const char *name, Group *out);
/* The predeclared names in SPEC order (p1 p2 pm pmm cm cmm p4 p4m), NULL-terminated. */
extern const char *const group_predeclared_names[];
int group_axis(const Group *G, int g); /* position of element g on the group axis, or -1 */
/* The elements of mask (e is always among them) as the lint names them, into buf:
 * "all of p4m", "the subgroup cm = {e, mr3}", "the subgroup {e, mr2}" (unnamed), "e, r"
 * (not a subgroup) or "only e". Returns buf. */
enum { GROUP_DESCRIBE_MAX = 64 };
const char *group_describe(char *buf, size_t n, const Group *G, unsigned mask);

/* ---- check.c: names, kinds, shapes; the checked model ---- */
typedef enum {
#define X(id, spelling, layer, nin, kinds, out, props, schema, c, torch) OP_##id,
#include "ops.h"
#undef X
	OP_COUNT
} Op;
/* A row of ops.h; its header says what each column means. */
typedef struct OpInfo {
	const char *name;  /* the spelling: "relu", "+" */
	const char *layer; /* the base of layer names: "relu", "add" */
	int nin;
	unsigned kinds; /* Kind bits accepted as the first operand */
	unsigned out;   /* the result's Kind, or OUT_SAME */
	unsigned props; /* P_* bits */
	const char *schema;
	const char *c, *torch; /* templates of the emitted C call and torch expression */
} OpInfo;
extern const OpInfo op_info[OP_COUNT];
static inline bool op_has(Op op, unsigned props)
{
	return (op_info[op].props & props) != 0;
}
/* Writes template t (ops.h's C or torch column) to out; var prints each $word and
 * returns false for a word it does not know, a bug in ops.h that aborts. */
typedef bool (*OpVar)(FILE *out, const char *word, const void *ctx);
void op_template(FILE *out, const char *t, OpVar var, const void *ctx);
_Noreturn void op_template_bug(const char *t, const char *at);

typedef enum { K_IMAGE = 1, K_GMAP = 2, K_VECTOR = 4 } Kind;
/* How the group acts on a vector (SPEC §3). */
typedef enum {
	VA_NONE,    /* not a vector */
	VA_TRIVIAL, /* global pool of an image, linear, flatten of a 1x1 image */
	VA_GROUP,   /* global pool of a G-map: permutes the group axis */
	VA_MAP,     /* flatten of a map: acts on the map it flattened */
	VA_MIXED,   /* a + b of vectors the group moves differently: no action */
} VecAction;

/* Every value is laid out as [c, g, h, w] row-major: an image has g = 1; a G-map
 * g = |G|; a vector keeps the structure it came from (a global pool of a G-map is
 * [C, |G|, 1, 1], a flatten the map's dims, a linear output [N, 1, 1, 1]). */
typedef struct Shape {
	Kind kind;
	VecAction act;
	int c, g, h, w;
} Shape;

typedef struct Tensor {
	const char *name; /* "lift1.weight" */
	int ndim;
	int dim[5];
} Tensor;

/* The index of an op's enum argument (its order in ops.h's schema). */
typedef enum { GPOOL_MAX, GPOOL_MEAN } GpoolMode;
typedef enum { UPSAMPLE_NEAREST, UPSAMPLE_BILINEAR } UpsampleMode;

typedef struct Layer {
	Op op;
	const char *path; /* the parameter-name path (SPEC §2.1): op name + occurrence number
	                     in source order, after the block calls it sits in: "lift1",
	                     "basic17.gconv2" */
	const char *name; /* path as a C and Python identifier: "lift1", "basic17_gconv2" */
	Loc loc;          /* the call (or the `+`) */
	const Node *node; /* the same in the AST (NULL for layers built by hand in tests) */
	int nin;
	int in[GEQC_MAX_OPERANDS]; /* value ids of the operands (more than two: a concat) */
	int out;                   /* value id of the result (= index of this layer + 1) */
	Shape in_shape;            /* shape of in[0] */
	Shape out_shape;
	int C;          /* output channels (lift gconv conv) or features (linear) */
	int k, s, p, d; /* kernel, stride, padding, dilation (convs and pools; else 1 1 0 1);
	                   s is also upsample's factor */
	bool bias;
	double eps;  /* bn */
	double rate; /* dropout's p: the probability of dropping a channel in training */
	int mode;    /* the enum argument: GpoolMode (gpool) or UpsampleMode (upsample) */
	int nparams;
	Tensor param[4]; /* safetensors names and shapes, in the order of SPEC §2 */
} Layer;

typedef struct Model {
	const char *name;
	Loc loc;
	Group group;
	Loc group_loc; /* the `on NAME` */
	Shape input;   /* an image [C, 1, H, W] */
	Loc input_loc;
	int nlayers;
	Layer *layer; /* in evaluation order; layer i produces value i + 1 */
	int nvalues;  /* nlayers + 1; value 0 is the input */
	Shape *value;
	int output; /* the returned value */
} Model;

/* Resolves groups and names, infers kinds and shapes, assigns parameter names; reports
 * every error it finds through d. Returns NULL if there was any. */
Model *check_program(const Program *p, Arena *arena, Diag *d);
/* The checked model as text, a line per layer with its tensors (geqc --dump=model). */
void model_dump(FILE *out, const Model *m);

/* ---- shape.c: the shape rules of SPEC §2, the only shape inference ---- */
/* The result's shape of layer L (its op and hyperparameters) on the operand shapes
 * in[0 .. L->nin) for a group of order group_n; false if there is none: a window that
 * does not fit, operands of + or concat that do not agree, an upsampled or concatenated
 * size past GEQC_MAX_DIM. L->in_shape is not read, so the lint can ask at other input
 * sizes. */
bool shape_infer(const Layer *L, const Shape *in, int group_n, Shape *out);
/* The shapes of L's operands among the values val[], into in[0 .. L->nin). */
void shape_operands(const Layer *L, const Shape *val, Shape *in);
/* Sets L's parameter tensors from its op, hyperparameters and in_shape (SPEC §2; names
 * without the layer's prefix). */
void shape_tensors(Layer *L, int group_n);
/* For "did you mean": whether cand is close to typed and closer than *best (updated). */
bool suggest_close(const char *typed, const char *cand, int *best);
/* Output size of a sliding window, or <= 0 if the window does not fit. */
int conv_out_size(int n, int k, int s, int p, int d);
long long shape_numel(Shape s);          /* saturating at LLONG_MAX */
long long tensor_numel(const Tensor *t); /* the same */
/* "image", "G-map" or "vector", for messages and comments. */
const char *kind_name(Kind k);
/* A value's dims as the user sees them, into buf: "1, 28, 28" (C, H, W), "10, 4, 26, 26"
 * (C, |G|, H, W) or "10" (N). */
enum { SHAPE_DIMS_MAX = 64 };
const char *shape_dims(Shape s, char buf[SHAPE_DIMS_MAX]);

/* ---- lint.c: per-element, per-layer exactness (SPEC §1) ---- */
typedef struct LayerLint {
	int res[2];       /* (N + 2p - d(k-1) - 1) mod s for the y and x axes; 0 if not strided */
	double shift[2];  /* centre of this layer's output grid minus the image centre, in input
	                     pixels, y then x (negative: up/left); cumulative */
	double stride[2]; /* input pixels between neighbouring output pixels, cumulative (a
	                     fraction after an upsample); NaN, as shift, after operands on
	                     different grids (`+`, concat) */
	unsigned breaks;  /* elements this layer itself breaks (grid or SPEC §1 (a)) */
	bool self_break;  /* breaks by (a): the layer does not commute with the group */
} LayerLint;

typedef struct Lint {
	unsigned exact;   /* elements (bit g) for which the whole model is exact */
	LayerLint *layer; /* one per model layer */
	int nnearest;     /* the sizes suggested (probed: each lints exact), H then W */
	int nearest[2][2];
} Lint;

/* Computes the lint and reports its warnings and notes through d. */
Lint *lint_model(const Model *m, Arena *arena, Diag *d);
/* Whether the model, checked and linted afresh with an h x w input, is exact for its
 * whole group (sizes.c answers it from the syntax tree). */
typedef struct LintProbe {
	bool (*exact_at)(void *arg, int h, int w);
	/* The same with the source text at loc replaced by text (a suggested layer change). */
	bool (*exact_with)(void *arg, Loc loc, const char *text);
	void *arg;
} LintProbe;
/* The same, with every input size it suggests verified by the probe: a size is named
 * only if the model lints exact there, and when none near does, the note says so; a
 * layer change is said to make every layer exact only if the changed model lints so. */
Lint *lint_model_probed(const Model *m, Arena *arena, Diag *d, const LintProbe *probe);
/* The lint as one JSON object (SPEC §4); "nearest_exact_sizes" is the model's own size
 * if it is exact, else the sizes the lint suggested. */
void lint_json(FILE *out, const Model *m, const Lint *l);
/* The same without the closing brace, for more members after it (--sizes). */
void lint_json_members(FILE *out, const Model *m, const Lint *l);

/* ---- sizes.c: --sizes, the verdict at every square input size (SPEC §4.1) ---- */
typedef struct SizeVerdict {
	int n;             /* the input is n x n */
	bool ok;           /* the model checks at this size */
	unsigned exact;    /* if ok: the elements for which it is exact */
	unsigned all;      /* if ok: the model's group */
	const char *error; /* if not: its first error */
} SizeVerdict;

/* Where the elements elems are all exact: at every N >= from that checks and has
 * res[N mod period]. complete: the sweep saw every residue and covered the product of
 * the strides, so the rule is not only an observation. */
typedef struct SizeRule {
	unsigned elems;
	int period, from;
	bool *res;
	bool complete;
} SizeRule;

typedef struct SizeSweep {
	int lo, hi;
	int first_ok;   /* the first size that checks (hi if none does) */
	long long P;    /* the product of the strides (the period the theory gives) */
	SizeVerdict *v; /* v[N - lo] */
	int nrules;     /* rule[0]: the whole group; then one per class of elements */
	SizeRule rule[GQ_D4_ORDER + 1];
} SizeSweep;

/* A probe for lint_model_probed: prog checked and linted silently at each size asked. */
typedef struct SizeProbe {
	Program *prog;
	const Diag *d;
	int h, w; /* the size to restore afterwards */
} SizeProbe;
bool sizes_exact_at(void *probe, int h, int w);
bool sizes_exact_with(void *probe, Loc loc, const char *text);
/* text (a whole .geq source) parsed, expanded, checked and linted silently: whether it has
 * no error and no warning (*clean) and is exact for its whole group (*exact). */
void sizes_relint(const Diag *d, const char *text, size_t len, bool *clean, bool *exact);
/* Replaces the declared input's height and width in the syntax tree (--input-size, the
 * sweep); false if the model declares no input written as numbers. */
bool sizes_set_input(Program *prog, int h, int w);
/* Checks and lints prog at every N x N, lo <= N <= hi (m: the model as declared). */
SizeSweep *sizes_sweep(Program *prog, const Model *m, const Diag *d, int lo, int hi, Arena *a);
void sizes_text(FILE *out, const SizeSweep *s, const Model *m);
/* The members `"sizes": [...], "pattern": [...]` of the lint JSON, each after a comma. */
void sizes_json(FILE *out, const SizeSweep *s, const Model *m);

/* ---- explain.c: --explain=FILE.svg, every breaking layer's grid as a picture ---- */
void explain_svg(FILE *out, const Model *m, const Lint *l);

/* ---- plan.c: what the emitted C computes where; the pass between lint and emitters ---- */
enum { SLOT_IN = -1, SLOT_OUT = -2 }; /* the caller's x and y, outside the workspace */
#define PLAN_NONE SIZE_MAX            /* no such offset */

/* A buffer of the workspace: holds one value, or a chain of values that elementwise
 * ops wrote over each other. Live from the layer that first writes it (or, for a concat's,
 * a slice of it: from) to its last read. */
typedef struct Slot {
	int start, end, from;
	size_t size, off;
	bool out;   /* holds the model's output: lives in the caller's y instead */
	int parent; /* the concat's buffer this one is a slice of (plan_concat), or -1 */
	size_t rel; /* then: where in that buffer, in floats */
} Slot;

typedef struct Plan {
	const Model *m;
	const char *pfx; /* the model's name: every external symbol starts with it */
	char *up;        /* the same in upper case, for macros */
	bool *live;      /* per layer: the output depends on it */
	int *nread;      /* per value: reads by live layers */
	int *last;       /* per value: the last live layer reading it, or -1 */
	int *slot;       /* per value: its Slot, SLOT_IN or SLOT_OUT */
	int *fold;       /* per layer: a conv's folded bn, a folded bn's conv, or -1 */
	int *fuse;       /* per layer: a conv's fused relu, a fused relu's conv, or -1 */
	int *sum;        /* per layer: a conv's fused `+`, a fused `+`'s conv, or -1 */
	int *pool;       /* per layer: a conv's fused pool, a fused pool's conv, or -1 */
	int *pair;       /* per conv: the other conv of its residual pair (plan_pair), or -1 */
	int *over;       /* per layer: the operand an elementwise op overwrites, or -1 */
	unsigned *slice; /* per concat: bit j set if operand j was written in its slice */
	int *param0;     /* per layer: its first tensor in the parameter table */
	size_t *woff;    /* per layer: its weights (bn: scale) in the parameter block */
	size_t *boff;    /* per layer: its bias (bn: shift), or PLAN_NONE */
	Slot *slots;
	int nslots;
	size_t values;  /* floats of the value buffers */
	size_t ws;      /* floats of the workspace before the conv scratch */
	size_t params;  /* floats of the parameter block */
	size_t raw;     /* floats of every tensor as the file holds them */
	int nparams;    /* tensors in the file */
	bool need_elem; /* a lift or gconv expands its filters over the group */
	int nconv;      /* live convolutions: each needs scratch */
} Plan;

/* Plans the model's emitted C; everything it allocates is the arena's. */
Plan *plan_model(const Model *m, Arena *arena);
/* The plan as text, a line per layer and per buffer (geqc --dump=plan). */
void plan_dump(FILE *out, const Plan *P);
/* Whether layer i runs code of its own: not when unused, folded, fused, or a flatten
 * that only renames its operand's floats. */
bool plan_has_code(const Plan *P, int i);
/* The layer that produces value v (> 0), or -1. */
int model_producer(const Model *m, int v);
/* Whether concat layer i's operand j was written into its slice by its producer (no
 * copy). */
bool plan_concat_in_place(const Plan *P, int i, int j);
/* The operand that conv layer c adds in its epilogue (P->sum[c] >= 0): the other side of
 * its `+`. */
int plan_sum_operand(const Plan *P, int c);
size_t plan_align(size_t n); /* rounded up to whole 64-byte lines of floats */
/* A conv's channel counts as the runtime sees them: a G-map is c*g planes. */
int conv_cin(const Layer *L);
int conv_cout(const Layer *L);
size_t tensor_size(const Tensor *t); /* floats */

/* ---- emit_torch.c, emit_c.c ---- */
/* What both emitters read. */
typedef struct Emit {
	const Model *m;
	const Lint *lint;
	const Plan *plan;    /* emit_c only */
	const Diag *src;     /* the .geq file: its name as given and its text (diag_line) */
	const char *cmdline; /* the geqc command line, quoted into the header comment */
} Emit;
void emit_torch(FILE *out, const Emit *e);
/* Writes model.c to c and model.h to h; hname is the header's file name for #include.
 * Each layer's function is headed by its call as the source writes it. */
void emit_c(FILE *c, FILE *h, const char *hname, const Emit *e);

#endif
