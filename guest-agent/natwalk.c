/*
 * Which ports the VM's NAT rules publish: every nat chain on the
 * prerouting or output hook is walked, rule by rule, through its jumps
 * and gotos (within its table), carrying the protocol and port matched
 * on the way.  A DNAT reached with both known publishes that port, to
 * the rule's destination.  The first DNAT of a protocol, port and family
 * wins, as the first rule a packet meets does (kube-proxy's endpoints
 * after the first are alternatives of it).
 *
 * The walk is bounded: NAT_DEPTH jumps deep, NAT_VISITS rules in all
 * (a rule set that jumps to the same chain from many rules would
 * otherwise cost exponential time), NAT_MAX ports.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "log.h"
#include "xmalloc.h"

#define NAT_VISITS	(1 << 20)

struct walk {
	struct natchain	*chains;
	size_t		 nchains;
	struct natbind	*out;
	size_t		 n, max;
	size_t		 visits;
	uint8_t		 seen[2][2][65536 / 8];	/* v6, udp, port */
};

struct ctx {
	uint8_t		 proto;
	uint16_t	 dport;
	const char	*name;		/* what made the chain, or NULL */
};

static int
chain_cmp(const void *a, const void *b)
{
	const struct natchain	*x = a, *y = b;
	int			 c;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if ((c = strcmp(x->table, y->table)) != 0)
		return c;
	return strcmp(x->name, y->name);
}

void
natwalk_sort(struct natchain *chains, size_t n)
{
	if (n > 1)	/* no chains at all is a NULL array: not qsort's */
		qsort(chains, n, sizeof *chains, chain_cmp);
}

/* A chain of sorted chains, or NULL. */
struct natchain *
natwalk_find(struct natchain *chains, size_t n, uint8_t family,
    const char *table, const char *name)
{
	struct natchain	key = { .family = family, .table = (char *)table,
	    .name = (char *)name };

	if (n == 0)
		return NULL;
	return bsearch(&key, chains, n, sizeof *chains, chain_cmp);
}

/* The engine a chain is Docker's, CNI portmap's or kube-proxy's, by name. */
const char *
natwalk_engine(const char *chain)
{
	if (strcmp(chain, "DOCKER") == 0)
		return "docker";
	if (strcmp(chain, "CNI-HOSTPORT-DNAT") == 0 ||
	    strncmp(chain, "CNI-DN-", 7) == 0)
		return "cni-portmap";
	if (strncmp(chain, "KUBE-", 5) == 0)
		return "kube-proxy";
	return NULL;
}

static void
walk_emit(struct walk *w, const struct natchain *c, const struct ctx *x,
    const struct natrule *r)
{
	struct natbind	*b;
	int		 v6 = r->to.family == AF_INET6;
	int		 udp = x->proto == IPPROTO_UDP;
	uint8_t		*seen = w->seen[v6][udp];

	if (seen[x->dport / 8] & (1 << (x->dport % 8)))
		return;
	if (w->n == w->max) {
		log_debug("nat: more than %zu published ports, the rest "
		    "are not seen", w->max);
		return;
	}
	seen[x->dport / 8] |= (uint8_t)(1 << (x->dport % 8));
	b = &w->out[w->n++];
	memset(b, 0, sizeof *b);
	b->proto = x->proto;
	b->port = x->dport;
	b->to = r->to;
	b->to_port = r->to_port != 0 ? r->to_port : x->dport;
	if (x->name != NULL)
		strlcpy(b->name, x->name, sizeof b->name);
	else
		snprintf(b->name, sizeof b->name, "nft:%s/%s", c->table,
		    c->name);
}

static void	walk_chain(struct walk *, const struct natchain *,
		    const struct ctx *, int);

static void
walk_jump(struct walk *w, const struct natchain *c, const struct ctx *x,
    const char *target, int depth)
{
	struct natchain	*t;

	if (depth >= NAT_DEPTH)
		return;
	t = natwalk_find(w->chains, w->nchains, c->family, c->table, target);
	if (t != NULL)
		walk_chain(w, t, x, depth + 1);
}

static void
walk_chain(struct walk *w, const struct natchain *c, const struct ctx *in,
    int depth)
{
	const struct natrule	*r;
	struct ctx		 x;
	size_t			 i;

	for (i = 0; i < c->nrules && w->visits < NAT_VISITS; i++) {
		w->visits++;
		r = &c->rules[i];
		if (r->verdict == NATRULE_NONE ||
		    (r->proto && in->proto && r->proto != in->proto) ||
		    (r->dport && in->dport && r->dport != in->dport))
			continue;
		x.proto = r->proto ? r->proto : in->proto;
		x.dport = r->dport ? r->dport : in->dport;
		x.name = in->name != NULL ? in->name : natwalk_engine(c->name);
		if (r->verdict == NATRULE_DNAT) {
			if (x.proto != 0 && x.dport != 0)
				walk_emit(w, c, &x, r);
		} else {
			if (x.name == NULL)
				x.name = natwalk_engine(r->chain);
			walk_jump(w, c, &x, r->chain, depth);
		}
	}
}

/*
 * The ports chains publish, at most max of them in out:
 * how many.
 */
size_t
natwalk(struct natchain *chains, size_t nchains, struct natbind *out,
    size_t max)
{
	struct walk	*w;
	struct ctx	 x0 = { 0, 0, NULL };
	size_t		 i, n;

	natwalk_sort(chains, nchains);
	w = xcalloc(1, sizeof *w);
	w->chains = chains;
	w->nchains = nchains;
	w->out = out;
	w->max = max;
	for (i = 0; i < nchains; i++)
		if (chains[i].base)
			walk_chain(w, &chains[i], &x0, 0);
	if (w->visits >= NAT_VISITS)
		log_warnx("nat: more than %d rules to walk, the rest are not "
		    "seen", NAT_VISITS);
	n = w->n;
	free(w);
	return n;
}

/*
 * Whether b is a published port the agent may take: NULL, else what is
 * wrong with it.  nat.c asks of every dump, privsep.c of what the helper sends.
 */
const char *
nat_check(const struct natbind *b)
{
	if (b->proto != IPPROTO_TCP && b->proto != IPPROTO_UDP)
		return "not TCP or UDP";
	if (b->port == 0 || b->to_port == 0)
		return "port 0";
	if (b->to.family != AF_INET && b->to.family != AF_INET6)
		return "a destination not IPv4 or IPv6";
	if (memchr(b->name, '\0', sizeof b->name) == NULL ||
	    b->name[0] == '\0')
		return "no name, or one not NUL-terminated";
	return NULL;
}

void
natwalk_free(struct natchain *chains, size_t nchains)
{
	size_t	i, j;

	for (i = 0; i < nchains; i++) {
		for (j = 0; j < chains[i].nrules; j++)
			natrule_clear(&chains[i].rules[j]);
		free(chains[i].rules);
		free(chains[i].table);
		free(chains[i].name);
	}
	free(chains);
}
