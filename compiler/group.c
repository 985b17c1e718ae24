/* group.c: the subgroups of D4 a model may be declared on (SPEC §2, §3). The element
 * algebra itself is the runtime's d4.c, so compiler and generated code cannot disagree. */
#include <stdio.h>
#include <string.h>

#include "geqc.h"

const char *const d4_name[GQ_D4_ORDER] = {"e", "r", "r2", "r3", "m", "mr", "mr2", "mr3"};

const char *const d4_spelling[GQ_D4_ORDER] = {
        "identity", "rot90", "rot180", "rot270", "flip", "antitranspose", "flip_ud", "transpose"};

const char *const d4_describe[GQ_D4_ORDER] = {"identity", "rotation by 90 degrees",
        "rotation by 180 degrees", "rotation by 270 degrees", "left-right mirror",
        "antitranspose: mirror in the anti-diagonal", "up-down mirror",
        "transpose: mirror in the main diagonal"};

/* "identity" is a spelling for messages, not a generator the language accepts. */
int d4_generator(const char *name)
{
	for (int g = 1; g < GQ_D4_ORDER; g++)
		if (strcmp(name, d4_spelling[g]) == 0)
			return g;
	return -1;
}

/* Multiplying by generators until nothing new appears yields every word in them; in a
 * finite group that is the generated subgroup (inverses are positive powers). */
static unsigned close_mask(const int *gens, int ngens)
{
	unsigned mask = 1, next = 1;
	do {
		mask = next;
		for (int a = 0; a < GQ_D4_ORDER; a++)
			for (int i = 0; (mask >> a & 1) && i < ngens; i++)
				next |= 1u << gq_d4_mul(a, gens[i]);
	} while (next != mask);
	return mask;
}

Group group_close(const char *name, const int *gens, int ngens)
{
	Group G = {.name = name, .mask = close_mask(gens, ngens)};
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (G.mask >> g & 1)
			G.elem[G.n++] = g;
	return G;
}

const char *const group_predeclared_names[] = {
        "p1", "p2", "pm", "pmm", "cm", "cmm", "p4", "p4m", NULL};

/* Generators of each predeclared group, as element indices (SPEC §2). */
static const struct {
	int n, gens[2];
} predeclared_gens[] = {
        {0, {0}}, {1, {2}}, {1, {4}}, {2, {4, 6}}, {1, {7}}, {2, {7, 5}}, {1, {1}}, {2, {1, 4}}};

bool group_predeclared(const char *name, Group *out)
{
	for (int i = 0; group_predeclared_names[i]; i++) {
		if (strcmp(name, group_predeclared_names[i]) == 0) {
			const char *canon = group_predeclared_names[i];
			*out = group_close(canon, predeclared_gens[i].gens, predeclared_gens[i].n);
			return true;
		}
	}
	return false;
}

int group_axis(const Group *G, int g)
{
	for (int a = 0; a < G->n; a++)
		if (G->elem[a] == g)
			return a;
	return -1;
}

/* "{e, mr3}" */
static int put_set(char *buf, size_t n, unsigned mask)
{
	int k = snprintf(buf, n, "{");
	const char *sep = "";
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask >> g & 1) {
			k += snprintf(buf + k, n > (size_t)k ? n - (size_t)k : 0, "%s%s", sep,
			        d4_name[g]);
			sep = ", ";
		}
	return k + snprintf(buf + k, n > (size_t)k ? n - (size_t)k : 0, "}");
}

/* The predeclared group with exactly these members, or NULL. Conjugates (the up-down
 * mirror {e, mr2} beside pm = {e, m}) are other sets and stay unnamed. */
static const char *predeclared_with(unsigned mask)
{
	Group H;
	for (int i = 0; group_predeclared_names[i]; i++)
		if (group_predeclared(group_predeclared_names[i], &H) && H.mask == mask)
			return H.name;
	return NULL;
}

static bool is_subgroup(unsigned mask)
{
	int elems[GQ_D4_ORDER], n = 0;
	for (int g = 0; g < GQ_D4_ORDER; g++)
		if (mask >> g & 1)
			elems[n++] = g;
	return close_mask(elems, n) == mask;
}

const char *group_describe(char *buf, size_t n, const Group *G, unsigned mask)
{
	mask = (mask & G->mask) | 1u;
	char set[64];
	put_set(set, sizeof set, mask);
	const char *name = predeclared_with(mask);
	if (mask == G->mask)
		snprintf(buf, n, "all of %s", G->name);
	else if (mask == 1u)
		snprintf(buf, n, "only e");
	else if (!is_subgroup(mask))
		snprintf(buf, n, "%.*s", (int)strlen(set) - 2, set + 1);
	else if (name)
		snprintf(buf, n, "the subgroup %s = %s", name, set);
	else
		snprintf(buf, n, "the subgroup %s", set);
	return buf;
}
