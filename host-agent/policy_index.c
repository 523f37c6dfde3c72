/*
 * The policy file's rules by port, so that a decision under thousands of
 * rules tries a handful of them, not all.  A rule over few ports (at
 * most POLICY_INDEX_SPAN, all its ranges together) is listed under each
 * of its ports; a rule over more is "wide" and kept in one list of its
 * own.  Both lists hold rule numbers in the file's order, and
 * policy.c walks the port's list and the wide list merged by rule
 * number: the first rule that matches is the first in the file that
 * matches, exactly as a scan of every rule would find it.
 */
#include <stdlib.h>

#include "compat.h"
#include "host.h"
#include "xmalloc.h"

struct port_rules {
	RB_ENTRY(port_rules)	 node;
	uint16_t		 port;
	int			 n, cap;
	int			*rules;		/* ascending */
};

static int
port_rules_cmp(const struct port_rules *a, const struct port_rules *b)
{
	return (int)a->port - (int)b->port;
}

RB_HEAD(port_tree, port_rules);
PH_RB_PROTOTYPE(port_tree, port_rules, node, port_rules_cmp);
PH_RB_GENERATE(port_tree, port_rules, node, port_rules_cmp)

struct policy_index {
	struct port_tree	 ports;
	int			 nwide;
	int			*wide;		/* ascending */
};

/* How many ports rule r covers, its ranges added (overlaps counted twice). */
static unsigned long
rule_span(const struct policy_rule *r)
{
	unsigned long	n = 0;
	int		k;

	for (k = 0; k < r->nports; k++)
		n += (unsigned long)r->ports[k].hi - r->ports[k].lo + 1;
	return n;
}

static void
append(int **v, int *n, int *cap, int rule)
{
	/* Ranges of one rule may overlap: list the rule once. */
	if (*n > 0 && (*v)[*n - 1] == rule)
		return;
	if (*n == *cap) {
		*cap = *cap == 0 ? 2 : *cap * 2;
		*v = xreallocarray(*v, (size_t)*cap, sizeof **v);
	}
	(*v)[(*n)++] = rule;
}

static void
index_port(struct policy_index *ix, uint16_t port, int rule)
{
	struct port_rules	 key = { .port = port }, *pr;

	if ((pr = RB_FIND(port_tree, &ix->ports, &key)) == NULL) {
		pr = xcalloc(1, sizeof *pr);
		pr->port = port;
		RB_INSERT(port_tree, &ix->ports, pr);
	}
	append(&pr->rules, &pr->n, &pr->cap, rule);
}

/* Builds pf's index (after parsing); the rules must not change after. */
void
policy_index_build(struct policy_file *pf)
{
	struct policy_index	*ix = xcalloc(1, sizeof *ix);
	const struct policy_rule *r;
	int			 i, k, wcap = 0;
	unsigned int		 p;

	RB_INIT(&ix->ports);
	for (i = 0; i < pf->nrules; i++) {
		r = &pf->rules[i];
		if (rule_span(r) > POLICY_INDEX_SPAN) {
			append(&ix->wide, &ix->nwide, &wcap, i);
			continue;
		}
		for (k = 0; k < r->nports; k++)
			for (p = r->ports[k].lo; p <= r->ports[k].hi; p++)
				index_port(ix, (uint16_t)p, i);
	}
	policy_index_free(pf);
	pf->index = ix;
}

void
policy_index_free(struct policy_file *pf)
{
	struct policy_index	*ix = pf->index;
	struct port_rules	*pr;

	if (ix == NULL)
		return;
	while ((pr = RB_MIN(port_tree, &ix->ports)) != NULL) {
		RB_REMOVE(port_tree, &ix->ports, pr);
		free(pr->rules);
		free(pr);
	}
	free(ix->wide);
	free(ix);
	pf->index = NULL;
}

/*
 * The rules that may match a bind on port: those listed under it, and
 * the wide ones, each list in the file's order.  -1 if pf has no index
 * (every rule must then be tried).
 */
int
policy_index_lookup(const struct policy_file *pf, uint16_t port,
    struct policy_candidates *c)
{
	struct port_rules	 key = { .port = port }, *pr;

	if (pf->index == NULL)
		return -1;
	pr = RB_FIND(port_tree, &pf->index->ports, &key);
	c->port = pr != NULL ? pr->rules : NULL;
	c->nport = pr != NULL ? pr->n : 0;
	c->wide = pf->index->wide;
	c->nwide = pf->index->nwide;
	return 0;
}
