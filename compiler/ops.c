/* ops.c: ops.h as data (op_info[]), and the expansion of its C and torch templates. */
#include <stdlib.h>
#include <string.h>

#include "geqc.h"

const OpInfo op_info[OP_COUNT] = {
#define X(id, spelling, layer, nin, kinds, out, props, schema, c, torch)                           \
	[OP_##id] = {spelling, layer, nin, kinds, out, props, schema, c, torch},
#include "ops.h"
#undef X
};

enum { MAX_VAR = 16 };

void op_template(FILE *out, const char *t, OpVar var, const void *ctx)
{
	for (const char *s = t; *s; s++) {
		if (*s != '$') {
			fputc(*s, out);
			continue;
		}
		char word[MAX_VAR];
		size_t n = strspn(s + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
		if (n == 0 || n >= MAX_VAR)
			op_template_bug(t, s);
		memcpy(word, s + 1, n);
		word[n] = '\0';
		if (!var(out, word, ctx))
			op_template_bug(t, s);
		s += n;
	}
}

_Noreturn void op_template_bug(const char *t, const char *at)
{
	fprintf(stderr, "geqc: internal error: ops.h template '%s': unknown word at '%s'\n", t, at);
	abort();
}
