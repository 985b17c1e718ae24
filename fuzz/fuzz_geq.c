/* fuzz_geq.c: the front end on hostile source: the bytes of a .geq file through the
 * parser, checker, lint, the lint's JSON and both emitters, all in memory (output to
 * /dev/null), as main.c's pipeline runs them. It asserts what main.c relies on: a pass that
 * fails has reported an error, and a checked model respects geqc's limits. */
#include "geqc.h"

#include "fuzz.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	devnull = fopen("/dev/null", "w");
	if (!devnull) {
		perror("/dev/null");
		exit(2);
	}
	return 0;
}

/* check.c's promise: every value and parameter fits the limits of geqc.h. */
static void assert_within_limits(const Model *m)
{
	FUZZ_ASSERT(m->nlayers >= 0 && m->nlayers <= GEQC_MAX_LAYERS);
	FUZZ_ASSERT(m->nvalues == m->nlayers + 1);
	FUZZ_ASSERT(m->output >= 0 && m->output < m->nvalues);
	for (int i = 0; i < m->nvalues; i++) {
		long long n = shape_numel(m->value[i]);
		FUZZ_ASSERT(n >= 1 && n <= GEQC_MAX_NUMEL);
	}
	for (int i = 0; i < m->nlayers; i++) {
		const Layer *L = &m->layer[i];
		for (int t = 0; t < L->nparams; t++) {
			long long n = 1;
			for (int k = 0; k < L->param[t].ndim; k++)
				n *= L->param[t].dim[k];
			FUZZ_ASSERT(n >= 1 && n <= GEQC_MAX_NUMEL);
		}
	}
}

static void emit_all(Arena *arena, Diag *d, const Model *m, const Lint *l)
{
	lint_json(devnull, m, l);
	if (d->nerrors > 0)
		return;
	Plan *plan = plan_model(m, arena);
	plan_dump(devnull, plan);
	Emit e = {.m = m, .lint = l, .plan = plan, .src = d, .cmdline = "geqc fuzz.geq"};
	emit_torch(devnull, &e);
	emit_c(devnull, devnull, "fuzz.h", &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Arena *arena = arena_new();
	Diag d = {.file = "fuzz.geq", .src = (const char *)data, .srclen = size, .out = devnull};
	Program *prog = parse_program(d.src, d.srclen, arena, &d);
	FUZZ_ASSERT(prog || d.nerrors > 0);
	if (prog) {
		ast_dump(devnull, prog);
		prog = expand_program(prog, arena, &d);
		FUZZ_ASSERT(prog || d.nerrors > 0);
	}
	if (prog) {
		Model *m = check_program(prog, arena, &d);
		FUZZ_ASSERT(m || d.nerrors > 0);
		FUZZ_ASSERT(!m || d.nerrors == 0);
		if (m) {
			assert_within_limits(m);
			model_dump(devnull, m);
			Lint *l = lint_model(m, arena, &d);
			FUZZ_ASSERT(l || d.nerrors > 0);
			if (l)
				emit_all(arena, &d, m, l);
		}
	}
	arena_free(arena);
	return 0;
}
