/*
 * Host ports and guests.  No two forwards, of one guest or of two, ever
 * share a host port silently: the second is refused, naming the guest
 * that holds the port, or moved to another port when its rule says
 * "to auto".  A guest's max-forwards is counted here too.  A forward
 * refused for want of a port or a slot, or that failed because another
 * program holds its port, waits: it is tried again as soon as a forward
 * closes, and every HOST_RETRY_MS while it waits, and the guest is told
 * the new verdict with another EXPOSED.
 */
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "host.h"
#include "log.h"

static int
hostaddr_overlap(const struct ph_hostaddr *a, const struct ph_hostaddr *b)
{
	if (a->port != b->port || a->addr.family != b->addr.family)
		return 0;
	return addr_is_any(&a->addr) || addr_is_any(&b->addr) ||
	    addr_equal(&a->addr, &b->addr);
}

/* The forward other than f, of any guest, listening where h would. */
static struct forward *
hostport_holder(const struct forward *f, const struct ph_hostaddr *h)
{
	struct session	*s;
	struct forward	*g;
	int		 i;

	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(g, &s->forwards, entry) {
			if (g == f || g->req.proto != f->req.proto ||
			    (g->dec.verdict != PH_BOUND &&
			    g->dec.verdict != PH_REWRITTEN))
				continue;
			for (i = 0; i < g->dec.naddr; i++)
				if (hostaddr_overlap(&g->dec.host[i], h))
					return g;
		}
	return NULL;
}

/*
 * Whether a forward other than f, of any guest, listens on port at any
 * address.  The kernel's choice for "to auto" may be such a port (it
 * only avoids the same address), and then localhost:port would reach
 * either forward by the address family a client tries first.
 */
int
hostport_used(const struct forward *f, uint16_t port)
{
	struct session	*s;
	struct forward	*g;
	int		 i;

	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(g, &s->forwards, entry) {
			if (g == f || g->req.proto != f->req.proto ||
			    (g->dec.verdict != PH_BOUND &&
			    g->dec.verdict != PH_REWRITTEN))
				continue;
			for (i = 0; i < g->dec.naddr; i++)
				if (g->dec.host[i].port == port)
					return 1;
		}
	return 0;
}

/*
 * Checks f's decided host ports against every other forward.  A port
 * that is taken refuses f, or under "to auto" lets the kernel choose
 * (port 0).  Returns -1 if f was refused.
 */
int
hostport_claim(struct forward *f)
{
	struct bind_decision	*d = &f->dec;
	struct forward		*g;
	char			 ha[PH_ADDRSTRLEN];
	int			 i, j;

	for (i = 0; i < d->naddr; i++) {
		if (d->host[i].port == 0 ||
		    (g = hostport_holder(f, &d->host[i])) == NULL)
			continue;
		if (d->port_auto) {
			snprintf(f->note, sizeof f->note, "; port %u in use by "
			    "guest %s", d->host[i].port, g->s->name);
			for (j = 0; j < d->naddr; j++)
				d->host[j].port = 0;
			return 0;
		}
		d->verdict = PH_REFUSED;
		d->code = "port_in_use";
		snprintf(d->reason, sizeof d->reason, "port in use by guest "
		    "%s (%s)", g->s->name, addr_fmt(&d->host[i].addr,
		    d->host[i].port, ha, sizeof ha));
		d->naddr = 0;
		return -1;
	}
	return 0;
}

/*
 * Whether f may not listen for want of a slot under its guest's
 * max-forwards, and why.  A forward that listens already keeps its slot
 * if the forwards before it leave it one (a lower limit closes the
 * newest); a new one needs a slot free among all.
 */
int
hostport_over_limit(const struct forward *f, int listening, char *why,
    size_t len)
{
	const struct policy_limits	*l = &f->s->limits;
	const struct forward		*g;
	unsigned int			 n = 0;

	if (l->max_forwards == 0)
		return 0;
	TAILQ_FOREACH(g, &f->s->forwards, entry) {
		if (g == f) {
			if (listening)
				break;
			continue;
		}
		if (g->dec.verdict == PH_BOUND ||
		    g->dec.verdict == PH_REWRITTEN)
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

static void
hostport_retry_cb(int fd, short ev, void *arg)
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
hostport_schedule(int now)
{
	struct timeval	tv = { HOST_RETRY_MS / 1000,
			    (HOST_RETRY_MS % 1000) * 1000 };

	if (host->retry_ev == NULL && (host->retry_ev = evtimer_new(host->base,
	    hostport_retry_cb, NULL)) == NULL)
		fatalx("evtimer_new");
	if (now) {
		tv.tv_sec = tv.tv_usec = 0;
		evtimer_add(host->retry_ev, &tv);
	} else if (!evtimer_pending(host->retry_ev, NULL))
		evtimer_add(host->retry_ev, &tv);
}

void
hostport_wait(struct forward *f)
{
	if (f->waiting)
		return;
	f->waiting = 1;
	host->nwaiting++;
	hostport_schedule(0);
}

void
hostport_unwait(struct forward *f)
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
hostport_freed(void)
{
	if (host->nwaiting > 0)
		hostport_schedule(1);
}
