/*
 * Connections the host asks for.  On OPEN the guest dials the target
 * (loopback for a wildcard bind, else the bound address), then gets a
 * new data stream to the host (gstream.c) and relays.  On PAIR the
 * stream is a pooled one, named in the PAIR, whose client bytes already
 * flow: only the target is dialled.  If the target cannot be reached the
 * host is told at once (CLOSE), so that its client is reset rather than
 * left waiting.  A UDP flow is dialled the same way, with a UDP socket
 * connected to the target, and its datagrams are relayed by dgrelay.c.
 * The host cannot make the guest dial or hold without bound: beyond
 * GUEST_DIALS_MAX targets being dialled, or GUEST_CONNS_MAX connections
 * open, an OPEN is answered as a failed dial is (CLOSE refused).
 * With a protocol 4 host the relay's EOFs travel as SHUT, and a TCP
 * connection that ended cleanly both ways gives its stream back to the
 * pool (gstream_release()) and tells the host so (RELEASE).
 */
#include <sys/socket.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "dgrelay.h"
#include "guest.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

#define DIAL_NOFD_MS	250	/* out of descriptors: try again after */
#define DIAL_NOFD_LOG	10	/* seconds between warnings about it */

struct gconn {
	RB_ENTRY(gconn)		 node;
	uint64_t		 id;
	uint32_t		 forward;
	int			 nofd;		/* tries without a descriptor */
	uint8_t			 proto;
	int			 target;
	int			 stream;	/* pooled, or once connected */
	struct event		*ev;		/* target connect under way */
	struct gstream		*gs;		/* stream connect under way */
	struct relay		*relay;
	struct dgrelay		*dg;		/* a UDP flow's instead */
	int			 relaying;	/* no longer dialling */
	int			 pooled;	/* its stream from gstream_take() */
	int			 shut_early;	/* the host's SHUT, before the relay */
	uint64_t		 shut_bytes;
};

static int
gconn_cmp(struct gconn *a, struct gconn *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_HEAD(gconn_tree, gconn);
PH_RB_PROTOTYPE(gconn_tree, gconn, node, gconn_cmp);
PH_RB_GENERATE(gconn_tree, gconn, node, gconn_cmp)

static struct gconn_tree	gconns = RB_INITIALIZER(&gconns);
static int		ndialling, nconns;

static struct gconn *
gconn_find(uint64_t id)
{
	struct gconn	key = { .id = id };

	return RB_FIND(gconn_tree, &gconns, &key);
}

static void
gconn_free(struct gconn *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->gs != NULL)
		gstream_cancel(c->gs);
	if (c->dg != NULL) {
		dgrelay_free(c->dg);	/* closes both sockets */
		c->target = c->stream = -1;
	}
	if (c->target != -1)
		close(c->target);
	if (c->stream != -1) {
		gstream_handed();	/* a pooled stream's watch first */
		close(c->stream);
	}
	RB_REMOVE(gconn_tree, &gconns, c);
	if (!c->relaying)
		ndialling--;
	nconns--;
	if (c->pooled)
		gstream_back();
	free(c);
}

static void
dial_tell_host(uint64_t id, uint8_t how, const char *why)
{
	struct ph_msg	m = { .type = PH_CLOSE };

	m.u.close.conn = id;
	m.u.close.how = how;
	strlcpy(m.u.close.reason, why, sizeof m.u.close.reason);
	gsession_send(&m);
}

/*
 * The host is told; a pooled stream it already relays on is kept open
 * until the host closes it, so that it never reads our close as an EOF.
 */
static void
dial_fail(struct gconn *c, uint8_t how, const char *why)
{
	log_debug("connection %016llx: %s", (unsigned long long)c->id, why);
	dial_tell_host(c->id, how, why);
	gstream_handed();	/* a pooled stream's watch, before the linger's */
	if (c->stream != -1)
		gstream_linger(c->stream);
	c->stream = -1;
	gconn_free(c);
}

static int
relay_ext_reset_cb(struct relay *r, void *arg)
{
	struct gconn	*c = arg;

	(void)r;
	if (!gsession_established())
		return -1;
	dial_tell_host(c->id, PH_CLOSE_RESET, "target reset the connection");
	return 0;
}

static int
relay_shut_cb(struct relay *r, uint64_t bytes, void *arg)
{
	struct gconn	*c = arg;
	struct ph_msg	 m = { .type = PH_SHUT };

	(void)r;
	if (!gsession_reuses())
		return -1;
	m.u.shut.conn = c->id;
	m.u.shut.bytes = bytes;
	return gsession_send(&m);
}

/* A clean end, both ways: the stream back to the pool, the host told. */
static void
dial_release(struct gconn *c, int stream, struct event *watch)
{
	struct ph_msg	m = { .type = PH_RELEASE };

	if (!gsession_reuses()) {
		event_free(watch);
		close(stream);
		return;
	}
	/* Stream 0: closed, the pool is full; the host closes its end. */
	m.u.release.stream = gstream_release(stream, watch);
	m.u.release.conn = c->id;
	gsession_send(&m);
}

static void
relay_done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct gconn	*c = arg;
	struct event	*watch;
	int		 stream;

	log_debug("connection %016llx: %s", (unsigned long long)c->id,
	    relay_end_name(end));
	if ((stream = relay_keep_stream(r, &watch)) != -1)
		dial_release(c, stream, watch);
	c->relay = NULL;
	c->target = c->stream = -1;	/* the relay closed them */
	gconn_free(c);
}

static const struct relay_cbs gconn_relay_cbs = {
	.ext_reset = relay_ext_reset_cb,
	.shut = relay_shut_cb,
	.done = relay_done_cb,
};

/* A UDP flow ended: the host learns it from the stream's end. */
static void
dgrelay_done_cb(struct dgrelay *r, const char *why, int refused, void *arg)
{
	struct gconn		*c = arg;
	struct dgrelay_stats	 st;

	dgrelay_get_stats(r, &st);
	log_debug("udp flow %016llx: %s; %llu datagrams to the host, %llu "
	    "from it, %llu dropped", (unsigned long long)c->id, why,
	    (unsigned long long)st.dgrams_out,
	    (unsigned long long)st.dgrams_in,
	    (unsigned long long)st.dropped);
	if (refused)	/* so that the host logs why */
		dial_tell_host(c->id, PH_CLOSE_REFUSED, why);
	c->dg = NULL;
	c->target = c->stream = -1;	/* the relay closes them */
	gconn_free(c);
}

static const struct dgrelay_cbs gconn_dgrelay_cbs = {
	.done = dgrelay_done_cb,
};

static void
dial_relay(struct gconn *c)
{
	c->relaying = 1;
	ndialling--;
	if (c->proto == IPPROTO_UDP) {
		gstream_handed();	/* its watch, edge-triggered, first */
		c->dg = dgrelay_new(guest->base, c->target, c->stream,
		    &gconn_dgrelay_cbs, c);
	} else {
		c->relay = relay_new(guest->base, c->target, c->stream,
		    &gconn_relay_cbs, c);
		/*
		 * A pooled stream's watch (still on when the target answered
		 * at once) is freed now, the relay having its registration,
		 * and what came before the relay is read.
		 */
		gstream_handed();
		if (c->pooled)
			relay_look_stream(c->relay);
		if (gsession_reuses())
			relay_set_reuse(c->relay);
		if (c->shut_early)
			relay_peer_shut(c->relay, c->shut_bytes);
	}
}

static void
dial_stream_cb(int fd, const char *why, void *arg)
{
	struct gconn	*c = arg;
	char		 msg[PH_REASON_MAX];

	c->gs = NULL;
	if (fd == -1) {
		snprintf(msg, sizeof msg, "cannot open a data stream: %s",
		    why);
		dial_fail(c, PH_CLOSE_ABORT, msg);
		return;
	}
	c->stream = fd;
	dial_relay(c);
}

/* The target is connected: relay on the pooled stream, or get one. */
static void
dial_target_up(struct gconn *c)
{
	if (c->stream != -1)
		dial_relay(c);
	else
		c->gs = gstream_connect(c->id, dial_stream_cb, c);
}

static int
connect_result(int fd, short ev)
{
	int		err = 0;
	socklen_t	len = sizeof err;

	if (ev & EV_TIMEOUT)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

/*
 * A target in the VM has usually answered (or refused) before connect()
 * returns: ask, rather than wait a turn of the loop for it.  Returns 0
 * when connected, -1 with errno set (EINPROGRESS: not yet).
 */
static int
connect_now(int fd)
{
	struct pollfd	pfd = { fd, POLLOUT, 0 };
	int		err;

	if (poll(&pfd, 1, 0) != 1) {
		errno = EINPROGRESS;
		return -1;
	}
	if (pfd.revents == POLLOUT)
		return 0;
	if ((err = connect_result(fd, EV_WRITE)) == 0)
		return 0;
	errno = err;
	return -1;
}

static void
dial_connected_cb(int fd, short ev, void *arg)
{
	struct gconn	*c = arg;
	int		 err = connect_result(fd, ev);

	event_free(c->ev);
	c->ev = NULL;
	if (err != 0)
		dial_fail(c, PH_CLOSE_REFUSED, strerror(err));
	else
		dial_target_up(c);
}

static void
dial_wait(struct gconn *c, int fd)
{
	struct timeval	tv = { GUEST_CONNECT_TIMEOUT, 0 };

	c->ev = event_new(guest->base, fd, EV_WRITE, dial_connected_cb, c);
	if (c->ev == NULL)
		fatalx("event_new");
	event_add(c->ev, &tv);
}

/*
 * A guest Unix socket (protocol 5), dialled by the privileged helper
 * (the worker's root is empty, and the socket may be root's), which
 * checks the path is one the guest forwards.  A Unix connect does not
 * wait: it is made, or refused (a full backlog too).
 */
static int
dial_unix(struct gconn *c, const struct gbind *b)
{
	if ((c->target = privsep_connect_unix(b->path)) == -1)
		return -1;
	dial_target_up(c);
	return 0;
}

static int
dial_target(struct gconn *c, const struct gbind *b)
{
	struct sockaddr_storage	ss;
	struct ph_addr		a;
	socklen_t		sl;
	uint16_t		port;

	if (b->proto == PH_KIND_UNIX)
		return dial_unix(c, b);
	watch_target(b, &a, &port);
	sl = addr_to_sockaddr(&a, port, &ss);
	/* A UDP socket connects at once: the target's ICMP errors reach it. */
	c->target = socket(a.family, (b->proto == IPPROTO_UDP ? SOCK_DGRAM :
	    SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->target == -1)
		return -1;
	if (connect(c->target, (struct sockaddr *)&ss, sl) == 0 ||
	    (errno == EINPROGRESS && connect_now(c->target) == 0)) {
		dial_target_up(c);
		return 0;
	}
	if (errno != EINPROGRESS)
		return -1;
	dial_wait(c, c->target);
	return 0;
}

static void	dial_try(struct gconn *, const struct gbind *);

static void
dial_retry_cb(int fd, short ev, void *arg)
{
	struct gconn	*c = arg;
	struct gbind	*b = watch_find(c->forward);

	(void)fd;
	(void)ev;
	event_free(c->ev);
	c->ev = NULL;
	if (b == NULL)
		dial_fail(c, PH_CLOSE_REFUSED, "no such bind");
	else
		dial_try(c, b);
}

/*
 * Dials the target.  Out of descriptors, it tries again every
 * DIAL_NOFD_MS for as long as a connect may take, as the host pauses
 * accepting, rather than refuse a client that a moment later could be
 * served.
 */
static void
dial_try(struct gconn *c, const struct gbind *b)
{
	static time_t	warned;
	struct timeval	tv = { 0, DIAL_NOFD_MS * 1000 };

	if (dial_target(c, b) == 0)
		return;
	if ((errno != EMFILE && errno != ENFILE) ||
	    ++c->nofd > GUEST_CONNECT_TIMEOUT * 1000 / DIAL_NOFD_MS) {
		dial_fail(c, PH_CLOSE_REFUSED, strerror(errno));
		return;
	}
	if (time(NULL) - warned >= DIAL_NOFD_LOG) {
		log_warn("out of descriptors: new connections wait (up to %d s)",
		    GUEST_CONNECT_TIMEOUT);
		warned = time(NULL);
	}
	if ((c->ev = evtimer_new(guest->base, dial_retry_cb, c)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(c->ev, &tv);
}

static struct gconn *
gconn_new(uint64_t id, int stream)
{
	struct gconn	*c;

	if (gconn_find(id) != NULL) {
		log_warnx("host reused connection id %016llx",
		    (unsigned long long)id);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->id = id;
	c->target = -1;
	c->stream = stream;
	RB_INSERT(gconn_tree, &gconns, c);
	ndialling++;
	nconns++;
	return c;
}

/* Over a limit, the new connection counted?  Why, logged at times. */
static const char *
dial_over_limit(void)
{
	static time_t	 warned;
	const char	*why = NULL;

	if (nconns > GUEST_CONNS_MAX)
		why = "too many connections open in the guest";
	else if (ndialling > GUEST_DIALS_MAX)
		why = "too many connections being dialled in the guest";
	if (why != NULL && time(NULL) - warned >= DIAL_NOFD_LOG) {
		log_warnx("%s (%d open, %d dialling): refusing new ones", why,
		    nconns, ndialling);
		warned = time(NULL);
	}
	return why;
}

static void
dial_start(uint64_t id, uint32_t forward, int stream)
{
	struct gbind	*b = watch_find(forward);
	struct gconn	*c;
	const char	*why;

	if ((c = gconn_new(id, stream)) == NULL) {
		if (stream != -1) {
			gstream_handed();
			close(stream);
			gstream_back();
		}
		return;
	}
	c->pooled = stream != -1;
	c->forward = forward;
	if (b != NULL)
		c->proto = b->proto;
	if (b == NULL)
		dial_fail(c, PH_CLOSE_REFUSED, "no such bind");
	else if ((why = dial_over_limit()) != NULL)
		dial_fail(c, PH_CLOSE_REFUSED, why);
	else
		dial_try(c, b);
}

/* A client came: dial its target, then open a stream for it. */
void
dial_open(const struct ph_open *o)
{
	dial_start(o->conn, o->forward, -1);
}

/* A client came on a pooled stream: dial its target and relay. */
void
dial_pair(const struct ph_pair *p)
{
	int	stream;

	if ((stream = gstream_take(p->stream)) == -1) {
		log_warnx("host paired connection %016llx with unknown "
		    "pooled stream %llu", (unsigned long long)p->conn,
		    (unsigned long long)p->stream);
		dial_tell_host(p->conn, PH_CLOSE_ABORT, "no such pooled stream");
		return;
	}
	dial_start(p->conn, p->forward, stream);
	gstream_handed();	/* unless the relay came at once, and did */
}

/* The host says its client went away or reset: do the same here. */
void
dial_close(const struct ph_close *m)
{
	struct gconn	*c = gconn_find(m->conn);

	if (c == NULL)
		return;
	if (c->relay != NULL)
		relay_reset(c->relay);
	else
		gconn_free(c);
}

/* The host's SHUT: its client's bytes end after so many. */
void
dial_shut(const struct ph_shut *m)
{
	struct gconn	*c = gconn_find(m->conn);

	if (c == NULL || c->dg != NULL)
		return;
	if (c->relay != NULL)
		relay_peer_shut(c->relay, m->bytes);
	else if (!c->relaying) {
		c->shut_early = 1;	/* the target is still being dialled */
		c->shut_bytes = m->bytes;
	}
}

/* The control channel is gone: relays shut their streams down again. */
void
dial_unshare(void)
{
	struct gconn	*c;

	RB_FOREACH(c, gconn_tree, &gconns)
		if (c->relay != NULL)
			relay_unshare(c->relay);
}
