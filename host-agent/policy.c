/*
 * The bind policy: the one place that decides where a guest bind is
 * opened on the host.  Nothing else chooses a host address.
 */
#include <sys/socket.h>
#include <netinet/in.h>
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
 * under --loopback-only, which pins the policy where it is or tighter.
 */
int
policy_may_set_mode(const struct policy *p, enum policy_mode m, char *why,
    size_t len)
{
	enum policy_mode	cur = policy_effective(p);

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

/*
 * How a guest bind (proto, address, port) becomes host listeners:
 *
 *	guest binds          allow             loopback (default)     refuse
 *	0.0.0.0              0.0.0.0           127.0.0.1, rewritten   refused
 *	:: (v6only)          ::                ::1, rewritten         refused
 *	:: (dual-stack)      :: and 0.0.0.0    ::1 and 127.0.0.1,     refused
 *	                                       rewritten
 *	127.0.0.1 / ::1      same, bound       same, bound            same, bound
 *	another address      host loopback of the same family, rewritten
 *	multicast/broadcast  refused: not a unicast address
 *
 * --loopback-only caps the mode at loopback (policy_effective()).  The
 * host port is the guest port.  TCP and UDP are decided alike.
 */
void
policy_decide(const struct policy *p, const struct bind_req *req,
    struct bind_decision *d)
{
	enum policy_mode	 mode = policy_effective(p);
	const char		*mname = policy_mode_name(mode);
	char			 ga[PH_ADDRSTRLEN];

	memset(d, 0, sizeof *d);
	addr_ntop(&req->addr, ga, sizeof ga);
	if (!addr_is_unicast(&req->addr)) {
		d->verdict = PH_REFUSED;
		snprintf(d->reason, sizeof d->reason,
		    "%s is not a unicast address", ga);
		return;
	}
	if (addr_is_loopback1(&req->addr)) {
		d->verdict = PH_BOUND;
		decide_add(d, req->addr.family, 0, req->port);
		snprintf(d->reason, sizeof d->reason, "loopback bind");
		return;
	}
	if (!addr_is_any(&req->addr)) {
		d->verdict = PH_REWRITTEN;
		decide_add(d, req->addr.family, 0, req->port);
		snprintf(d->reason, sizeof d->reason, "guest address %s is "
		    "not a host address: forwarded on host loopback", ga);
		return;
	}
	if (mode == POLICY_REFUSE) {
		d->verdict = PH_REFUSED;
		snprintf(d->reason, sizeof d->reason, "wildcard bind %s "
		    "refused by policy %s", ga, mname);
		return;
	}
	d->verdict = mode == POLICY_ALLOW ? PH_BOUND : PH_REWRITTEN;
	decide_add(d, req->addr.family, mode == POLICY_ALLOW, req->port);
	if (req->addr.family == AF_INET6 && !req->v6only)
		decide_add(d, AF_INET, mode == POLICY_ALLOW, req->port);
	if (mode == POLICY_ALLOW)
		snprintf(d->reason, sizeof d->reason, "wildcard bind allowed "
		    "by policy allow");
	else
		snprintf(d->reason, sizeof d->reason, "wildcard bind %s "
		    "rewritten to loopback by policy loopback%s", ga,
		    p->mode > POLICY_LOOPBACK ? " (--loopback-only)" : "");
}
