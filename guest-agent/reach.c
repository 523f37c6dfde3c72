/*
 * Reverse entries (protocol 6): the host lists, in REACH, the host
 * destinations this VM may reach, each by an id and where the guest
 * listens for it; the destination itself stays on the host.  A client
 * that connects here gets a new data stream to the host that presents
 * REVERSE with the entry's id (gstream.c), and the two are relayed.
 *
 * The guest trusts its host, but a lying or broken host must not make
 * it listen anywhere odd: a TCP entry is taken only on a loopback
 * address and a port of 1024 or more (the worker holds no privilege to
 * bind below, and needs none), a socket entry only as a checked name
 * (sockname.c) under the reach directory; twice the same place, or an
 * id twice, is skipped.  Each skipped entry is logged and the rest
 * apply.  REACH is the whole list each time: an entry no longer in it
 * has its listener closed (connections already relayed go on); one
 * whose place is unchanged keeps its listener and takes the new id.
 * Nothing listens without a session: a dropped channel closes all.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

#define REACH_PAUSE_MS	250	/* accepting stops this long on EMFILE */

struct rlisten {
	TAILQ_ENTRY(rlisten)	 entry;
	struct ph_reach_entry	 e;		/* id, kind, place */
	int			 fd;
	struct event		*ev;
	struct event		*resume;	/* after EMFILE */
	int			 seen;		/* in the latest REACH */
};

struct rconn {
	TAILQ_ENTRY(rconn)	 entry;
	uint32_t		 id;
	int			 client;	/* until the relay has it */
	struct gstream		*gs;		/* the stream under way */
	struct relay		*relay;
};

static TAILQ_HEAD(, rlisten)	rlistens = TAILQ_HEAD_INITIALIZER(rlistens);
static TAILQ_HEAD(, rconn)	rconns = TAILQ_HEAD_INITIALIZER(rconns);
static int			nrconns;
static uint64_t			nrefused;	/* clients refused */
static uint64_t			nstreamfail;	/* streams not made */

/*
 * Any process in the VM can make clients refused and streams fail as
 * often as it likes: the 1st, 2nd, 4th, 8th... of each is logged, with
 * the count, as the host does for a dead destination.
 */
static int
reach_log_now(uint64_t *count)
{
	(*count)++;
	return (*count & (*count - 1)) == 0;
}

static int
reach_loopback(const struct ph_addr *a)
{
	if (a->family == AF_INET)
		return (ntohl(a->u.v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->u.v6);
}

/* Whether the guest may listen where e says: NULL, or why not. */
static const char *
reach_check(const struct ph_reach_entry *e)
{
	const char	*why;

	if (e->kind == PH_KIND_UNIX)
		return ph_sockname_check(e->name, &why) == 0 ? NULL :
		    "a socket name unfit for a path";
	if (!reach_loopback(&e->addr))
		return "not a loopback address";
	if (e->port < 1024)
		return "a port below 1024";
	return NULL;
}

static int
reach_same_place(const struct ph_reach_entry *a, const struct ph_reach_entry *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == PH_KIND_UNIX)
		return strcmp(a->name, b->name) == 0;
	return a->port == b->port && addr_equal(&a->addr, &b->addr);
}

static void
rconn_free(struct rconn *rc)
{
	if (rc->gs != NULL)
		gstream_cancel(rc->gs);
	if (rc->client != -1)
		close(rc->client);
	TAILQ_REMOVE(&rconns, rc, entry);
	nrconns--;
	free(rc);
}

static void
rconn_done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct rconn	*rc = arg;

	log_debug("reverse connection to entry %u: %s", rc->id,
	    relay_end_name(end));
	(void)r;
	rc->relay = NULL;
	rconn_free(rc);
}

static const struct relay_cbs rconn_relay_cbs = {
	/* no ext_reset: the stream's close is how a reset is told */
	.done = rconn_done_cb,
};

static void
rconn_stream_cb(int fd, const char *why, void *arg)
{
	struct rconn	*rc = arg;

	rc->gs = NULL;		/* freed by gstream.c */
	if (fd == -1) {
		if (reach_log_now(&nstreamfail))
			log_warnx("reverse entry %u: no stream to the host: "
			    "%s (%llu failures)", rc->id, why,
			    (unsigned long long)nstreamfail);
		rconn_free(rc);
		return;
	}
	rc->relay = relay_new(guest->base, rc->client, fd, &rconn_relay_cbs,
	    rc);
	rc->client = -1;
}

static void
rlisten_resume_cb(int fd, short ev, void *arg)
{
	struct rlisten	*l = arg;

	(void)fd;
	(void)ev;
	event_add(l->ev, NULL);
}

/* Out of descriptors: stop accepting for a moment rather than spin. */
static void
rlisten_pause(struct rlisten *l)
{
	struct timeval	tv = { 0, REACH_PAUSE_MS * 1000 };

	event_del(l->ev);
	if (l->resume == NULL &&
	    (l->resume = evtimer_new(guest->base, rlisten_resume_cb, l)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(l->resume, &tv);
}

/*
 * Why a new client is refused, or NULL.  Each costs a data stream, and
 * on vsock a reserved source port, which the control channel and every
 * forward need too: reverse clients, which any VM user may open, get a
 * share well below the ports there are.
 */
static const char *
reach_refuse(void)
{
	if (!gsession_established())
		return "no session with the host";
	if (nrconns >= GUEST_REACH_CONNS_MAX)
		return "too many reverse connections";
	return NULL;
}

static void
rlisten_accept_cb(int lfd, short ev, void *arg)
{
	struct rlisten	*l = arg;
	struct rconn	*rc;
	const char	*why;
	int		 fd;

	(void)ev;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE)
			rlisten_pause(l);
		else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("reverse entry %u: accept", l->e.id);
		return;
	}
	if ((why = reach_refuse()) != NULL) {
		if (reach_log_now(&nrefused))
			log_warnx("reverse entry %u: client refused: %s (%llu "
			    "refused)", l->e.id, why,
			    (unsigned long long)nrefused);
		close(fd);
		return;
	}
	rc = xcalloc(1, sizeof *rc);
	rc->id = l->e.id;
	rc->client = fd;
	TAILQ_INSERT_TAIL(&rconns, rc, entry);
	nrconns++;
	log_debug("reverse entry %u: a client", l->e.id);
	rc->gs = gstream_reverse(l->e.id, rconn_stream_cb, rc);
}

/* A listening socket for e, or -1 with errno set. */
static int
reach_listen_fd(const struct ph_reach_entry *e)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;
	int			fd, one = 1;

	if (e->kind == PH_KIND_UNIX)
		return privsep_listen_unix(e->name);
	sl = addr_to_sockaddr(&e->addr, e->port, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		one = errno;
		close(fd);
		errno = one;
		return -1;
	}
	return fd;
}

static void
reach_place(const struct ph_reach_entry *e, char *buf, size_t len)
{
	if (e->kind == PH_KIND_UNIX)
		snprintf(buf, len, "%s/%s.sock", guest->reach_dir, e->name);
	else
		addr_fmt(&e->addr, e->port, buf, len);
}

static void
rlisten_open(const struct ph_reach_entry *e)
{
	struct rlisten	*l;
	char		 place[PH_SOCKPATH_MAX + PH_SOCKNAME_MAX + 8];
	int		 fd;

	reach_place(e, place, sizeof place);
	if ((fd = reach_listen_fd(e)) == -1) {
		log_warn("reverse entry %u: cannot listen on %s", e->id, place);
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->e = *e;
	l->fd = fd;
	l->seen = 1;
	l->ev = event_new(guest->base, fd, EV_READ | EV_PERSIST,
	    rlisten_accept_cb, l);
	if (l->ev == NULL)
		fatalx("event_new");
	event_add(l->ev, NULL);
	TAILQ_INSERT_TAIL(&rlistens, l, entry);
	log_info("reverse entry %u: listening on %s for the host", e->id,
	    place);
}

static void
rlisten_close(struct rlisten *l)
{
	char	place[PH_SOCKPATH_MAX + PH_SOCKNAME_MAX + 8];

	reach_place(&l->e, place, sizeof place);
	log_info("reverse entry %u: %s closed", l->e.id, place);
	event_free(l->ev);
	if (l->resume != NULL)
		event_free(l->resume);
	close(l->fd);
	if (l->e.kind == PH_KIND_UNIX)
		privsep_unlink_unix(l->e.name);
	TAILQ_REMOVE(&rlistens, l, entry);
	free(l);
}

/* Whether entry i of m may be taken: checked, and not a twin. */
static int
reach_acceptable(const struct ph_reach *m, int i)
{
	const struct ph_reach_entry	*e = &m->e[i];
	const char			*why;
	int				 j;

	why = reach_check(e);
	for (j = 0; j < i && why == NULL; j++) {
		if (m->e[j].id == e->id)
			why = "an id listed twice";
		else if (reach_same_place(&m->e[j], e))
			why = "a place listed twice";
	}
	if (why == NULL)
		return 1;
	log_warnx("host lists reverse entry %u: skipped: %s", e->id, why);
	return 0;
}

/* REACH: listen where the list says, and nowhere else. */
void
reach_update(const struct ph_reach *m)
{
	struct rlisten	*l, *next;
	int		 i;

	TAILQ_FOREACH(l, &rlistens, entry)
		l->seen = 0;
	for (i = 0; i < m->n; i++) {
		if (!reach_acceptable(m, i))
			continue;
		TAILQ_FOREACH(l, &rlistens, entry)
			if (reach_same_place(&l->e, &m->e[i]))
				break;
		if (l == NULL) {
			rlisten_open(&m->e[i]);
			continue;
		}
		l->e.id = m->e[i].id;
		l->seen = 1;
	}
	TAILQ_FOREACH_SAFE(l, &rlistens, entry, next)
		if (!l->seen)
			rlisten_close(l);
}

/*
 * No session: no listener (a client would find no stream to the host).
 * Connections already relayed go on, on their own streams; those still
 * waiting for one end.
 */
void
reach_clear(void)
{
	struct rlisten	*l;
	struct rconn	*rc, *next;

	while ((l = TAILQ_FIRST(&rlistens)) != NULL)
		rlisten_close(l);
	TAILQ_FOREACH_SAFE(rc, &rconns, entry, next)
		if (rc->relay == NULL)
			rconn_free(rc);
}

/* At exit: every listener, and every connection, ends. */
void
reach_stop(void)
{
	struct rconn	*rc;

	reach_clear();
	while ((rc = TAILQ_FIRST(&rconns)) != NULL)
		relay_abort(rc->relay);		/* done: freed */
}
