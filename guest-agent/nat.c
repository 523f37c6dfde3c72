/*
 * Ports published by DNAT rules with no socket behind them (Docker with
 * its userland proxy off, CNI portmap's hostPort, kube-proxy's
 * NodePorts, a hand-written nft rule).  Each is a bind of the bind
 * table (watch.c) on the wildcard address of its port, named after what
 * made it, so it goes through the same EXPOSE, policy and verdicts as a
 * socket; a client's data stream is dialled to the rule's destination.
 * A socket listening on the same protocol and port wins over a rule.
 *
 * The set of published ports comes from natdump.c: through the
 * privileged helper once the agent is split (privsep.c), since the dump
 * needs CAP_NET_ADMIN.  It is read again when a commit changes the rule
 * set (the subscription socket the helper opened), and by the slow poll
 * every NAT_POLL_MS as a safety net; when it changed, the binds are
 * scanned at once.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"
#include "xmalloc.h"

#define NAT_POLL_MS	30000	/* the safety net's period */

static struct {
	nat_dump_fn	 dump;
	nat_subscribe_fn subscribe;
	struct natbind	*cur, *next;	/* NAT_MAX each */
	size_t		 ncur;
	int		 fd;		/* the subscription; -1: none */
	struct event	*ev;
	struct timespec	 last;		/* the last read */
	int		 last_err;	/* its errno, 0: it worked */
	int		 started;
} nat = { .dump = natdump, .subscribe = natdump_subscribe, .fd = -1 };

/* Split, the helper's (privsep.c); else natdump.c's, here. */
void
nat_set_source(nat_dump_fn dump, nat_subscribe_fn subscribe)
{
	nat.dump = dump;
	nat.subscribe = subscribe;
}

static int
natbind_cmp(const void *a, const void *b)
{
	const struct natbind	*x = a, *y = b;
	int			 c;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->to.family != y->to.family)
		return x->to.family < y->to.family ? -1 : 1;
	if (x->to_port != y->to_port)
		return x->to_port < y->to_port ? -1 : 1;
	if ((c = addr_cmp(&x->to, &y->to)) != 0)
		return c;
	return strcmp(x->name, y->name);
}

/* A failure is said once, until reading works again. */
static void
nat_failed(int err)
{
	if (err == nat.last_err)
		return;
	nat.last_err = err;
	errno = err;
	log_warn("nat: cannot read the nf_tables rule set (%s); ports "
	    "published by DNAT rules are not seen",
	    err == EPERM ? "no CAP_NET_ADMIN" : "netlink");
}

/* Reads the rule set again: 1 if the published ports changed. */
static int
nat_refresh(void)
{
	struct natbind	*t;
	size_t		 n, i;

	clock_gettime(CLOCK_MONOTONIC, &nat.last);
	if (nat.dump(nat.next, NAT_MAX, &n) == -1) {
		nat_failed(errno);
		return 0;
	}
	if (nat.last_err != 0)
		log_info("nat: the nf_tables rule set is read again");
	nat.last_err = 0;
	for (i = 0; i < n; i++)
		if (nat_check(&nat.next[i]) != NULL)
			fatalx("nat: a bad published port from the dump");
	qsort(nat.next, n, sizeof *nat.next, natbind_cmp);
	if (n == nat.ncur && (n == 0 ||
	    memcmp(nat.next, nat.cur, n * sizeof *nat.cur) == 0))
		return 0;
	t = nat.cur;
	nat.cur = nat.next;
	nat.next = t;
	nat.ncur = n;
	log_debug("nat: %zu published ports", n);
	return 1;
}

static void
nat_commit_cb(int fd, short ev, void *arg)
{
	size_t	nmsg;
	int	rc;

	(void)ev;
	(void)arg;
	if ((rc = natdump_changed(fd, &nmsg)) == -1) {
		log_warn("nat: rule set changes: reading; DNAT rules are read "
		    "at each slow scan from now on");
		event_free(nat.ev);
		nat.ev = NULL;
		close(nat.fd);
		nat.fd = -1;
		return;
	}
	/* t_dnat counts these: the filter's proof */
	log_debug("nat: %zu rule set messages heard%s", nmsg,
	    rc == 1 ? ", a commit" : "");
	if (rc == 1 && nat_refresh())
		watch_scan();
}

static long
ms_since(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 +
	    (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* The slow poll (scan.c): the rule set too, now and then. */
void
nat_poll(void)
{
	if (nat.started && (nat.fd == -1 || ms_since(&nat.last) >= NAT_POLL_MS))
		nat_refresh();
}

/* A scan (watch.c): every published port is seen again. */
void
nat_feed(void)
{
	size_t	i;

	for (i = 0; i < nat.ncur; i++)
		watch_seen_nat(&nat.cur[i]);
}

void
nat_start(void)
{
	if (nat.cur == NULL) {
		nat.cur = xcalloc(NAT_MAX, sizeof *nat.cur);
		nat.next = xcalloc(NAT_MAX, sizeof *nat.next);
	}
	nat.started = 1;
	if ((nat.fd = nat.subscribe()) == -1)
		log_warn("nat: cannot follow nf_tables commits; DNAT rules "
		    "are read at each slow scan");
	else {
		nat.ev = event_new(guest->base, nat.fd, EV_READ | EV_PERSIST,
		    nat_commit_cb, NULL);
		if (nat.ev == NULL)
			fatalx("event_new");
		event_add(nat.ev, NULL);
	}
	nat_refresh();
}

void
nat_stop(void)
{
	if (nat.ev != NULL)
		event_free(nat.ev);
	nat.ev = NULL;
	if (nat.fd != -1)
		close(nat.fd);
	nat.fd = -1;
	free(nat.cur);
	free(nat.next);
	nat.cur = nat.next = NULL;
	nat.ncur = 0;
	nat.started = 0;
}
