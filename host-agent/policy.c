/*
 * The bind policy: the one place that decides where a guest bind is
 * opened on the host.  Nothing else chooses a host address.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "host.h"

static const char *policy_mode_names[] = {
	[POLICY_REFUSE] = "refuse",
	[POLICY_LOOPBACK] = "loopback",
	[POLICY_ALLOW] = "allow",
};

int
policy_mode_parse(const char *s, enum policy_mode *mode)
{
	int	i;

	for (i = POLICY_REFUSE; i <= POLICY_ALLOW; i++) {
		if (strcmp(s, policy_mode_names[i]) == 0) {
			*mode = i;
			return 0;
		}
	}
	return -1;
}

const char *
policy_mode_name(enum policy_mode mode)
{
	return policy_mode_names[mode];
}

/* --loopback-only caps the mode at loopback; refuse stays refuse. */
enum policy_mode
policy_effective(const struct policy *p)
{
	if (p->loopback_only && p->mode > POLICY_LOOPBACK)
		return POLICY_LOOPBACK;
	return p->mode;
}

/*
 * Whether the policy may change to mode m (the API, a reload).  Keeping
 * or tightening the effective mode always may; loosening it may not
 * under --loopback-only, which pins the policy where it is or tighter,
 * nor beyond the mode of a locked policy file (policy_file.c honours
 * its lock only when the file is root's and not writable by others).
 */
int
policy_may_set_mode(const struct policy *p, enum policy_mode m, char *why,
    size_t len)
{
	enum policy_mode	cur = policy_effective(p);

	if (p->file != NULL && p->file->locked && m > p->file->mode) {
		snprintf(why, len, "%s is locked: policy %s may only be "
		    "tightened, not loosened to %s", p->file->path,
		    policy_mode_name(p->file->mode), policy_mode_name(m));
		return -1;
	}
	if (m <= cur)
		return 0;
	if (p->loopback_only) {
		snprintf(why, len, "--loopback-only: policy %s may only be "
		    "tightened, not loosened to %s", policy_mode_name(cur),
		    policy_mode_name(m));
		return -1;
	}
	return 0;
}

/* Sets the mode if it may be set; the caller re-decides the forwards. */
int
policy_set_mode(struct policy *p, enum policy_mode m, char *why, size_t len)
{
	if (policy_may_set_mode(p, m, why, len) == -1)
		return -1;
	p->mode = m;
	return 0;
}

static int
addr_is_unicast(const struct ph_addr *a)
{
	uint32_t	v4;

	if (a->family == AF_INET6)
		return !IN6_IS_ADDR_MULTICAST(&a->u.v6);
	v4 = ntohl(a->u.v4.s_addr);
	return !IN_MULTICAST(v4) && v4 != INADDR_BROADCAST;
}

static void
decide_add(struct bind_decision *d, int family, int any, uint16_t port)
{
	struct ph_hostaddr	*h = &d->host[d->naddr++];

	if (any)
		addr_any(family, &h->addr);
	else
		addr_loopback(family, &h->addr);
	h->port = port;
}

/* Whether guest block g names this guest. */
int
policy_guest_match(const struct policy_guest *g, const char *name,
    const char *ep, uint32_t cid)
{
	switch (g->kind) {
	case GUEST_NAME:
		return name != NULL && fnmatch(g->pattern, name, 0) == 0;
	case GUEST_CID:
		return cid != 0 && cid == g->cid;
	case GUEST_ENDPOINT:
		return ep != NULL && strcmp(g->pattern, ep) == 0;
	}
	return 0;
}

static int
addr_in_net(const struct ph_addr *a, const struct ph_addr *net, int bits)
{
	const uint8_t	*x = (const uint8_t *)&a->u;
	const uint8_t	*y = (const uint8_t *)&net->u;
	uint8_t		 mask;

	if (a->family != net->family)
		return 0;
	if (memcmp(x, y, bits / 8) != 0)
		return 0;
	if (bits % 8 == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - bits % 8));
	return (x[bits / 8] & mask) == (y[bits / 8] & mask);
}

static int
rule_matches_from(const struct policy_rule *r, const struct ph_addr *a)
{
	switch (r->from) {
	case FROM_ANY:
		return 1;
	case FROM_WILDCARD:
		return addr_is_wildcard(a);
	case FROM_LOOPBACK:
		if (a->family == AF_INET)
			return (ntohl(a->u.v4.s_addr) >> 24) == IN_LOOPBACKNET;
		return IN6_IS_ADDR_LOOPBACK(&a->u.v6);
	case FROM_NET:
		return addr_in_net(a, &r->net, r->prefix);
	}
	return 0;
}

/*
 * Whether rule r matches the bind: its protocol, ports, address and
 * guest, or for a guest socket its name pattern and guest.  "any" is
 * tcp and udp: a guest socket matches its own "unix" rules only.
 */
static int
rule_matches(const struct policy_file *pf, const struct policy_rule *r,
    const struct bind_req *req)
{
	int	k;

	if ((r->proto == PH_KIND_UNIX) != (req->proto == PH_KIND_UNIX))
		return 0;
	if (r->proto == PH_KIND_UNIX) {
		if (fnmatch(r->sock_pattern, req->sock_name, 0) != 0)
			return 0;
	} else {
		if (r->proto != 0 && r->proto != req->proto)
			return 0;
		for (k = 0; k < r->nports; k++)
			if (req->port >= r->ports[k].lo &&
			    req->port <= r->ports[k].hi)
				break;
		if (k == r->nports || !rule_matches_from(r, &req->addr))
			return 0;
	}
	return r->guest == -1 || policy_guest_match(&pf->guests[r->guest],
	    req->guest_name, req->guest_ep, req->guest_cid);
}

/*
 * The first rule, in the file's order, that matches the bind: among the
 * rules the index lists for its port and the wide ones (policy_index.c),
 * taken in the order of the file, or among all without an index or for
 * a guest socket (the index knows ports only; unix rules are few).
 */
static const struct policy_rule *
policy_match(const struct policy_file *pf, const struct bind_req *req)
{
	struct policy_candidates c;
	int			 i = 0, j = 0, n;

	if (pf == NULL)
		return NULL;
	if (req->proto == PH_KIND_UNIX ||
	    policy_index_lookup(pf, req->port, &c) == -1) {
		for (n = 0; n < pf->nrules; n++)
			if (rule_matches(pf, &pf->rules[n], req))
				return &pf->rules[n];
		return NULL;
	}
	while (i < c.nport || j < c.nwide) {
		if (j == c.nwide || (i < c.nport && c.port[i] < c.wide[j]))
			n = c.port[i++];
		else
			n = c.wide[j++];
		if (rule_matches(pf, &pf->rules[n], req))
			return &pf->rules[n];
	}
	return NULL;
}

/* "line 8: remap tcp port 8080 to 18080", naming a guest block. */
static void
rule_name(const struct policy_file *pf, const struct policy_rule *r,
    char *buf, size_t len)
{
	snprintf(buf, len, "line %d", r->line);
	if (r->guest != -1) {
		strlcat(buf, " (guest ", len);
		strlcat(buf, pf->guests[r->guest].pattern, len);
		strlcat(buf, ")", len);
	}
	strlcat(buf, ": ", len);
	strlcat(buf, r->text, len);	/* a long rule is cut short */
}

/*
 * The mode that decides a wildcard bind: an allow or loopback rule's
 * (allow capped by --loopback-only), or else the policy's.  *capped says
 * that --loopback-only narrowed it.
 */
static enum policy_mode
wildcard_mode(const struct policy *p, const struct policy_rule *r,
    int *by_rule, int *capped)
{
	*by_rule = r != NULL && (r->action == ACTION_ALLOW ||
	    r->action == ACTION_LOOPBACK);
	if (!*by_rule) {
		*capped = p->loopback_only && p->mode > POLICY_LOOPBACK;
		return policy_effective(p);
	}
	*capped = p->loopback_only && r->action == ACTION_ALLOW;
	return r->action == ACTION_ALLOW && !p->loopback_only ?
	    POLICY_ALLOW : POLICY_LOOPBACK;
}

/* The host port: the guest's, or where the rule's "to" maps it. */
static uint16_t
rule_host_port(const struct policy_rule *r, uint16_t port)
{
	if (r == NULL || r->to != TO_PORT)
		return port;
	return r->to_port + (port - r->ports[0].lo);
}

/*
 * Whether host port port may not be bound: below
 * net.ipv4.ip_unprivileged_port_start without CAP_NET_BIND_SERVICE (both
 * read by privport.c).  Port 0 (the kernel chooses) never is.
 */
static int
privileged_refused(const struct policy *p, uint16_t port)
{
	return !p->bind_cap && port != 0 && port < p->unpriv_port_start;
}

/*
 * A host port below net.ipv4.ip_unprivileged_port_start, and the agent
 * lacks CAP_NET_BIND_SERVICE: refused here, before any socket is opened,
 * rather than failed by bind().
 */
static void
decide_privileged(const struct policy *p, const struct bind_req *req,
    uint16_t hport, const struct policy_rule *r, const char *rule,
    struct bind_decision *d)
{
	char	by[64];

	d->verdict = PH_REFUSED;
	d->code = REFUSAL_PRIVILEGED_PORT;
	d->naddr = 0;
	snprintf(d->reason, sizeof d->reason, "host port %u is privileged "
	    "(below net.ipv4.ip_unprivileged_port_start %d) and porthole-host "
	    "lacks CAP_NET_BIND_SERVICE", hport, p->unpriv_port_start);
	if (r == NULL)
		return;
	if (hport != req->port)
		snprintf(by, sizeof by, " (port %u remapped to %u by ",
		    req->port, hport);
	else
		strlcpy(by, " (", sizeof by);
	strlcat(d->reason, by, sizeof d->reason);
	strlcat(d->reason, rule, sizeof d->reason);	/* cut short if long */
	strlcat(d->reason, ")", sizeof d->reason);
}

/*
 * "to auto" on a host port that may not be had: the kernel chooses
 * (port 0).  Here for a privileged port; admit.c for a port taken.
 */
void
policy_any_port(struct bind_decision *d)
{
	int	i;

	d->verdict = PH_REWRITTEN;
	for (i = 0; i < d->naddr; i++)
		d->host[i].port = 0;
}

/*
 * How a guest bind (proto, address, port) becomes host listeners.  The
 * first rule of the policy file that matches the bind (its protocol,
 * port, guest address and guest) gives an action; with no rule, or a
 * remap rule, the mode decides the address:
 *
 *	guest binds          allow             loopback (default)     refuse
 *	0.0.0.0              0.0.0.0           127.0.0.1, rewritten   refused
 *	:: (v6only)          ::                ::1, rewritten         refused
 *	:: (dual-stack)      :: and 0.0.0.0    ::1 and 127.0.0.1,     refused
 *	                                       rewritten
 *	127.0.0.1 / ::1      same, bound       same, bound            same, bound
 *	another address      host loopback of the same family, rewritten
 *	multicast/broadcast  refused: not a unicast address (no rule applies)
 *
 *	rule action          the bind is
 *	refuse               refused, whatever its address
 *	allow                decided as by mode allow
 *	loopback             decided as by mode loopback
 *	remap                decided by the mode, on another host port
 *
 * A rule's "to" gives the host port (a host port other than the guest's
 * makes the verdict rewritten); "to auto" keeps the guest's port unless
 * it is taken, and admission (admit.c) then picks another.
 * --loopback-only caps allow at loopback, for the mode and for allow
 * rules alike.  TCP and UDP are decided alike; a guest Unix socket by
 * its own rules (decide_unix).  The reason names the mode or the rule (its
 * line and text) that decided.  Last, a host port the agent may not
 * bind (below net.ipv4.ip_unprivileged_port_start, without
 * CAP_NET_BIND_SERVICE) refuses the bind, or under "to auto" takes
 * another port.
 */
/*
 * A guest Unix socket (protocol 5): the first "allow unix" or "refuse
 * unix" rule whose pattern matches its name, else allowed.  Neither the
 * mode nor --loopback-only refuses it: its host socket, in a directory
 * only the host user can enter (sockdir.c), is local by nature, and
 * reaches nothing a port on loopback would not.
 */
static void
decide_unix(const struct policy *p, const struct bind_req *req,
    struct bind_decision *d)
{
	const struct policy_rule *r = policy_match(p->file, req);
	char			 rule[PH_REASON_MAX];

	if (r == NULL) {
		d->verdict = PH_BOUND;
		strlcpy(d->reason, "guest socket allowed (no unix rule "
		    "refuses it)", sizeof d->reason);
		return;
	}
	d->rule_line = r->line;
	rule_name(p->file, r, rule, sizeof rule);
	if (r->action == ACTION_REFUSE) {
		d->verdict = PH_REFUSED;
		d->code = REFUSAL_RULE;
		strlcpy(d->reason, "refused by ", sizeof d->reason);
	} else {
		d->verdict = PH_BOUND;
		strlcpy(d->reason, "guest socket allowed by ",
		    sizeof d->reason);
	}
	strlcat(d->reason, rule, sizeof d->reason);
}

void
policy_decide(const struct policy *p, const struct bind_req *req,
    struct bind_decision *d)
{
	const struct policy_rule *r = policy_match(p->file, req);
	enum policy_mode	 w;
	char			 ga[PH_ADDRSTRLEN], rule[PH_REASON_MAX] = "";
	char			 what[PH_REASON_MAX], port[64] = "";
	uint16_t		 hport = rule_host_port(r, req->port);
	int			 by_rule, capped, any;

	memset(d, 0, sizeof *d);
	if (req->proto == PH_KIND_UNIX) {
		decide_unix(p, req, d);
		return;
	}
	addr_ntop(&req->addr, ga, sizeof ga);
	if (!addr_is_unicast(&req->addr)) {
		d->verdict = PH_REFUSED;
		d->code = REFUSAL_NOT_UNICAST;
		snprintf(d->reason, sizeof d->reason,
		    "%s is not a unicast address", ga);
		return;
	}
	if (r != NULL) {
		d->rule_line = r->line;
		rule_name(p->file, r, rule, sizeof rule);
	}
	if (r != NULL && r->action == ACTION_REFUSE) {
		d->verdict = PH_REFUSED;
		d->code = REFUSAL_RULE;
		strlcpy(d->reason, "refused by ", sizeof d->reason);
		strlcat(d->reason, rule, sizeof d->reason);
		return;
	}
	w = wildcard_mode(p, r, &by_rule, &capped);
	any = w == POLICY_ALLOW;
	if (addr_is_loopback1(&req->addr)) {
		d->verdict = PH_BOUND;
		decide_add(d, req->addr.family, 0, hport);
		snprintf(what, sizeof what, "loopback bind");
	} else if (!addr_is_wildcard(&req->addr)) {
		d->verdict = PH_REWRITTEN;
		decide_add(d, req->addr.family, 0, hport);
		snprintf(what, sizeof what, "guest address %s is not a host "
		    "address: forwarded on host loopback", ga);
	} else if (w == POLICY_REFUSE) {
		d->verdict = PH_REFUSED;
		d->code = REFUSAL_POLICY;
		snprintf(d->reason, sizeof d->reason, "wildcard bind %s "
		    "refused by policy refuse", ga);
		if (r != NULL) {
			strlcat(d->reason, " (", sizeof d->reason);
			strlcat(d->reason, rule, sizeof d->reason);
			strlcat(d->reason, ")", sizeof d->reason);
		}
		return;
	} else {
		d->verdict = any ? PH_BOUND : PH_REWRITTEN;
		if (!addr_is_any(&req->addr))	/* ::ffff:0.0.0.0: IPv4 */
			decide_add(d, AF_INET, any, hport);
		else {
			decide_add(d, req->addr.family, any, hport);
			if (req->addr.family == AF_INET6 && !req->v6only)
				decide_add(d, AF_INET, any, hport);
		}
		if (any)
			snprintf(what, sizeof what, "wildcard bind allowed%s",
			    by_rule ? "" : " by policy allow");
		else
			snprintf(what, sizeof what, "wildcard bind %s "
			    "rewritten to loopback%s%s", ga,
			    by_rule ? "" : " by policy loopback",
			    capped ? " (--loopback-only)" : "");
	}
	d->port_auto = r != NULL && r->to == TO_AUTO;
	if (privileged_refused(p, hport)) {
		if (!d->port_auto) {
			decide_privileged(p, req, hport, r, rule, d);
			return;
		}
		policy_any_port(d);
		snprintf(port, sizeof port, ", port %u is privileged: another port",
		    req->port);
	} else if (hport != req->port) {
		d->verdict = PH_REWRITTEN;
		snprintf(port, sizeof port, ", port %u remapped to %u",
		    req->port, hport);
	} else if (d->port_auto)
		snprintf(port, sizeof port, ", port %u (another if taken)",
		    req->port);
	strlcpy(d->reason, what, sizeof d->reason);
	strlcat(d->reason, port, sizeof d->reason);
	if (r != NULL) {
		strlcat(d->reason, " by ", sizeof d->reason);
		strlcat(d->reason, rule, sizeof d->reason);
	}
}
