/*
 * Admission: the one step that may change the policy's verdict on a
 * forward, after policy_decide() and before the guest is told.  Its
 * checks, in order, each with the code it refuses with:
 *
 *	1. a slot under the guest's max-forwards   refused  limit
 *	2. the host port, against every other      refused  port_in_use
 *	   forward, of this guest or another
 *	3. the host's sockets (bind, listen)        failed   address_in_use
 *	                                                     listen_error
 *
 * No two forwards ever share a host port silently.  Under "to auto" a
 * port taken at step 2 or 3 is not a refusal: the kernel chooses another
 * (admit_any_port, as policy.c does for a privileged port).  A forward
 * refused at step 1 or 2, or failed at step 3 because another program
 * holds its port, waits: it is tried again as soon as a forward closes,
 * and every HOST_RETRY_MS while it waits, and the guest is told the new
 * verdict with another EXPOSED.  A dual-stack bind keeps whichever of its
 * two addresses could be opened; it fails only when none could.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "host.h"
#include "log.h"

/* f's host address h, which hostaddr_overlap() tests others against. */
struct admit_where {
	const struct forward		*f;
	const struct ph_hostaddr	*h;
};

/*
 * Whether g's a is in the way of f's h: the same port, and in the same
 * family a wildcard on either side or the same address.  Another
 * guest's forward is in the way in the other family too: a host client
 * of localhost:P tries ::1 and 127.0.0.1, and must not reach another
 * guest on either.  One guest's IPv4 and IPv6 sockets on one port (a
 * server's two, docker-proxy's pair) are its own, as its kernel let it.
 */
static int
hostaddr_overlap(const struct forward *g, const struct ph_hostaddr *a,
    const void *arg)
{
	const struct admit_where	*w = arg;
	const struct ph_hostaddr	*b = w->h;

	if (a->port != b->port)
		return 0;
	if (a->addr.family != b->addr.family)
		return g->s != w->f->s;
	return addr_is_any(&a->addr) || addr_is_any(&b->addr) ||
	    addr_equal(&a->addr, &b->addr);
}

/* Whether a has port *arg, at any address. */
static int
hostaddr_port(const struct forward *g, const struct ph_hostaddr *a,
    const void *arg)
{
	(void)g;
	return a->port == *(const uint16_t *)arg;
}

/* Whether d opens host sockets: the verdicts that listen. */
int
admit_listening(const struct bind_decision *d)
{
	return d->verdict == PH_BOUND || d->verdict == PH_REWRITTEN;
}

/* The same verdict on the same host addresses and ports. */
int
admit_same_hosts(const struct bind_decision *a, const struct bind_decision *b)
{
	int	i;

	if (a->verdict != b->verdict || a->naddr != b->naddr)
		return 0;
	for (i = 0; i < a->naddr; i++)
		if (!addr_equal(&a->host[i].addr, &b->host[i].addr) ||
		    a->host[i].port != b->host[i].port)
			return 0;
	return 1;
}

/* The forward other than f, of any guest, listening where h would. */
static struct forward *
admit_holder(const struct forward *f, const struct ph_hostaddr *h)
{
	struct admit_where	w = { f, h };

	return hostports_find(f, h->port, hostaddr_overlap, &w);
}

/*
 * Whether a forward other than f, of any guest, listens on port at any
 * address: a port the kernel offers for "to auto" must not be one
 * (hostsock_open).
 */
int
admit_port_taken(const struct forward *f, uint16_t port)
{
	return hostports_find(f, port, hostaddr_port, &port) != NULL;
}

static void
admit_refuse(struct forward *f, uint8_t verdict, enum refusal code)
{
	f->dec.verdict = verdict;
	f->dec.code = code;
	f->dec.naddr = 0;
}

/*
 * "to auto": the host port the policy gave is taken, so the kernel
 * chooses another (port 0), and note says why.  -1 if the rule does not
 * say "to auto", or the kernel chooses already.
 */
static int
admit_any_port(struct forward *f, const char *note)
{
	if (!f->dec.port_auto || f->dec.host[0].port == 0)
		return -1;
	strlcpy(f->note, note, sizeof f->note);
	policy_any_port(&f->dec);
	return 0;
}

/*
 * Whether f may not listen for want of a slot under its guest's
 * max-forwards, and why.  A forward that listens already keeps its slot
 * if the forwards before it leave it one (a lower limit closes the
 * newest); a new one needs a slot free among all.
 */
int
admit_over_limit(const struct forward *f, int listening, char *why,
    size_t len)
{
	const struct policy_limits	*l = &f->s->limits;
	const struct forward		*g;
	unsigned int			 n = 0;

	if (l->max_forwards == 0)
		return 0;
	/*
	 * The guest's other listening forwards (hostports.c counts them)
	 * leave a slot: so do those before f.  Only a guest at its limit
	 * is walked, to count those before f.
	 */
	if ((unsigned int)(f->s->nlistening - f->indexed) < l->max_forwards)
		return 0;
	TAILQ_FOREACH(g, &f->s->forwards, entry) {
		if (g == f) {
			if (listening)
				break;
			continue;
		}
		if (admit_listening(&g->dec))
			n++;
	}
	if (n < l->max_forwards)
		return 0;
	if (why != NULL && l->forwards_line != 0)
		snprintf(why, len, "max-forwards %u reached for this guest "
		    "(line %d)", l->max_forwards, l->forwards_line);
	else if (why != NULL)
		snprintf(why, len, "max-forwards %u reached for this guest",
		    l->max_forwards);
	return 1;
}

/*
 * Whether f, decided again as d (forward.c), keeps what it has, its
 * listeners or its verdict: d asks for the same host addresses as f's
 * last decision did, f does not wait, and a listening f still has its
 * slot under max-forwards.  Otherwise f goes through admit_forward
 * again.
 */
int
admit_keeps(const struct forward *f, const struct bind_decision *d)
{
	int	listening = admit_listening(&f->dec);

	/* The reason may change (a rule moved); the addresses may not. */
	if (f->waiting || !admit_same_hosts(d, &f->want))
		return 0;
	if (!listening)
		return f->dec.verdict == f->want.verdict;
	return !admit_over_limit(f, 1, NULL, 0);
}

/*
 * Step 2: f's host ports against every other forward.  A port that is
 * taken refuses f, unless "to auto" lets the kernel choose.
 */
static enum refusal
admit_ports(struct forward *f)
{
	struct bind_decision	*d = &f->dec;
	struct forward		*g;
	char			 ha[PH_ADDRSTRLEN], note[PH_REASON_MAX];
	const char		*who;
	int			 i;

	for (i = 0; i < d->naddr; i++) {
		if (d->host[i].port == 0 ||
		    (g = admit_holder(f, &d->host[i])) == NULL)
			continue;
		/* A guest is not told another's name (the host's log is). */
		who = g->s == f->s ? "this guest" : "another guest";
		if (g->s != f->s)
			strlcpy(d->held_by, g->s->name, sizeof d->held_by);
		snprintf(note, sizeof note, "; port %u in use by %s",
		    d->host[i].port, who);
		if (admit_any_port(f, note) == 0)
			return REFUSAL_NONE;
		snprintf(d->reason, sizeof d->reason, "port in use by %s (%s)",
		    who, addr_fmt(&d->host[i].addr, d->host[i].port, ha,
		    sizeof ha));
		admit_refuse(f, PH_REFUSED, REFUSAL_PORT_IN_USE);
		return REFUSAL_PORT_IN_USE;
	}
	return REFUSAL_NONE;
}

/*
 * Why a host socket could not be opened, said for the guest and the log:
 * running out of descriptors names the limit to raise.
 */
static void
admit_socket_error(char *why, size_t len, const struct ph_hostaddr *h,
    int err)
{
	char	ha[PH_ADDRSTRLEN];

	addr_fmt(&h->addr, h->port, ha, sizeof ha);
	if (err == EADDRINUSE)
		snprintf(why, len, "%s: address in use", ha);
	else if (err == EMFILE)
		snprintf(why, len, "%s: the host agent is out of descriptors "
		    "(RLIMIT_NOFILE %llu): raise its limit", ha,
		    (unsigned long long)host->nofile);
	else if (err == ENFILE)
		snprintf(why, len, "%s: the host is out of descriptors "
		    "(fs.file-max)", ha);
	else
		snprintf(why, len, "%s: %s", ha, strerror(err));
}

/*
 * Step 3: opens the listeners (forward_open).  Returns the code of the
 * last failure when none could be opened, else REFUSAL_NONE (a failure
 * of one of two addresses goes in the note).
 */
static enum refusal
admit_listen(struct forward *f)
{
	struct bind_decision	*d = &f->dec;
	struct ph_hostaddr	 ok[PH_HOSTADDR_MAX];
	char			 why[PH_REASON_MAX] = "";
	int			 i, j, n = 0, err = 0;

	for (i = 0; i < d->naddr; i++) {
		if (forward_open(f, n, &d->host[i]) == -1) {
			err = errno;
			admit_socket_error(why, sizeof why, &d->host[i], err);
			continue;
		}
		/* The port the kernel chose is the port for all. */
		for (j = i + 1; j < d->naddr; j++)
			if (d->host[j].port == 0)
				d->host[j].port = d->host[i].port;
		ok[n++] = d->host[i];
	}
	memcpy(d->host, ok, sizeof ok);
	d->naddr = n;
	if (why[0] == '\0')
		return REFUSAL_NONE;
	if (n > 0) {
		strlcat(f->note, "; not opened: ", sizeof f->note);
		strlcat(f->note, why, sizeof f->note);
		return REFUSAL_NONE;
	}
	strlcpy(d->reason, why, sizeof d->reason);
	admit_refuse(f, PH_FAILED, err == EADDRINUSE ?
	    REFUSAL_ADDRESS_IN_USE : REFUSAL_LISTEN_ERROR);
	return d->code;
}

/* Step 3, and "to auto" on a port another program holds. */
static enum refusal
admit_sockets(struct forward *f)
{
	struct bind_decision	*d = &f->dec;
	char			 ha[PH_ADDRSTRLEN], note[PH_REASON_MAX];
	struct bind_decision	 failed;
	enum refusal		 r;

	if ((r = admit_listen(f)) != REFUSAL_ADDRESS_IN_USE)
		return r;
	failed = *d;
	*d = f->want;
	snprintf(note, sizeof note, "; %s in use", addr_fmt(&d->host[0].addr,
	    d->host[0].port, ha, sizeof ha));
	if (admit_any_port(f, note) == -1) {
		*d = failed;
		return r;
	}
	return admit_listen(f);
}

/*
 * The one entry point: carries out f->dec, just decided by policy
 * (f->want), through the checks above, in order.  listening: f had
 * listeners a moment ago (it keeps its slot).  Returns why f does not
 * listen (the policy's code, or a check's), or REFUSAL_NONE when it
 * does; f->dec is then what the guest is told, and f waits if it may
 * be admitted later.
 */
enum refusal
admit_forward(struct forward *f, int listening)
{
	struct bind_decision	*d = &f->dec;
	char			 port[32];
	enum refusal		 r;

	f->note[0] = '\0';
	d->held_by[0] = '\0';
	if (!admit_listening(d))
		return d->code;
	if (admit_over_limit(f, listening, d->reason, sizeof d->reason)) {
		admit_refuse(f, PH_REFUSED, REFUSAL_LIMIT);
		admit_wait(f);
		return REFUSAL_LIMIT;
	}
	if ((r = admit_ports(f)) == REFUSAL_NONE)
		r = admit_sockets(f);
	if (r == REFUSAL_PORT_IN_USE || r == REFUSAL_ADDRESS_IN_USE)
		admit_wait(f);
	if (r != REFUSAL_NONE)
		return r;
	if (d->naddr > 0 && d->host[0].port != f->want.host[0].port) {
		d->verdict = PH_REWRITTEN;
		snprintf(port, sizeof port, ": host port %u", d->host[0].port);
		strlcat(f->note, port, sizeof f->note);
	}
	strlcat(d->reason, f->note, sizeof d->reason);
	return REFUSAL_NONE;
}

static void
admit_retry_cb(int fd, short ev, void *arg)
{
	struct timeval	 tv = { HOST_RETRY_MS / 1000,
			    (HOST_RETRY_MS % 1000) * 1000 };
	struct session	*s;
	struct forward	*f;
	int		 n = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry)
			if (f->waiting)
				n += forward_retry(f);
	if (n > 0)
		log_debug("%d waiting forward%s changed", n, n == 1 ? "" : "s");
	if (host->nwaiting > 0 && host->retry_ev != NULL)
		evtimer_add(host->retry_ev, &tv);
}

static void
admit_schedule(int now)
{
	struct timeval	tv = { HOST_RETRY_MS / 1000,
			    (HOST_RETRY_MS % 1000) * 1000 };

	if (host->retry_ev == NULL && (host->retry_ev = evtimer_new(host->base,
	    admit_retry_cb, NULL)) == NULL)
		fatalx("evtimer_new");
	if (now) {
		tv.tv_sec = tv.tv_usec = 0;
		evtimer_add(host->retry_ev, &tv);
	} else if (!evtimer_pending(host->retry_ev, NULL))
		evtimer_add(host->retry_ev, &tv);
}

void
admit_wait(struct forward *f)
{
	if (f->waiting)
		return;
	f->waiting = 1;
	host->nwaiting++;
	admit_schedule(0);
}

/* f closes, or is decided again: it no longer waits. */
void
admit_unwait(struct forward *f)
{
	if (!f->waiting)
		return;
	f->waiting = 0;
	if (--host->nwaiting == 0 && host->retry_ev != NULL) {
		event_free(host->retry_ev);
		host->retry_ev = NULL;
	}
}

/* A port or a slot was freed: waiting forwards try again, soon. */
void
admit_freed(void)
{
	if (host->nwaiting > 0)
		admit_schedule(1);
}
