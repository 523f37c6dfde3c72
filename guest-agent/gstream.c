/*
 * Data streams to the host, for connections (and flows) the host asks
 * for: the one place that finds each its stream.
 *
 * With a protocol 2 host the guest keeps a few streams open in advance
 * (the pool): each presents POOL and waits, idle.  A PAIR names the one
 * a new client's bytes already travel on, and another is opened in its
 * place.  Idle streams are not watched (a wakeup and two epoll_ctl per
 * connection saved): the host closes them only with the session, and
 * bytes that come before their PAIR wait, unread.  Without a pooled
 * stream (an OPEN), a new stream is opened and presents DATA; its result
 * always comes from the event loop, never inside the caller's call.  A
 * full backlog on the host or a lack of descriptors here is retried for
 * a while rather than failed.
 *
 * With a protocol 4 host a stream whose connection ended cleanly comes
 * back (gstream_release()) as a new idle stream of the pool, under a new
 * id the guest sends in RELEASE, while the pool holds fewer than four
 * times the streams it keeps ready (pool_cap()); a taken stream is replaced
 * only when it does not come back.  A released stream is watched,
 * since the host closes it rather than pool it when its side did not end
 * cleanly.
 *
 * With a protocol 6 host a client of a reverse entry (reach.c) gets a
 * new stream that presents REVERSE, naming the entry's id only.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

#define GSTREAM_RETRY_MS	20	/* the host's backlog was full */
#define GSTREAM_NOFD_MS		250	/* out of descriptors */
#define GSTREAM_REFILL_MS	1000	/* after a pool stream failed */
#define GSTREAM_LINGER_SEC	10	/* a stream we cannot use */

struct gstream {
	TAILQ_ENTRY(gstream)	 entry;		/* pool: idle or connecting */
	int			 fd;		/* -1 until connect() */
	int			 connected;	/* at once: report from the loop */
	int			 err;		/* to report from the loop */
	uint64_t		 conn;		/* DATA for it, or 0: POOL */
	uint32_t		 reach;		/* REVERSE for this entry (not POOL) */
	uint64_t		 id;		/* in the pool */
	struct event		*ev;
	struct timespec		 deadline;	/* for retries */
	gstream_cb		 cb;
	void			*arg;
};

TAILQ_HEAD(gstream_list, gstream);

static struct {
	int			 want;		/* streams to keep; 0: none */
	int			 reuse;		/* a protocol 4 host */
	struct gstream_list	 idle;
	struct gstream_list	 connecting;
	int			 nidle, nconnecting;
	int			 nbusy;		/* taken, to come back (reuse) */
	uint64_t		 next_id;
	struct event		*refill;	/* after a failure */
	struct gstream		*handing;	/* taken, still watched */
} pool = {
	.idle = TAILQ_HEAD_INITIALIZER(pool.idle),
	.connecting = TAILQ_HEAD_INITIALIZER(pool.connecting),
};

static void	gstream_try(struct gstream *);
static void	pool_connected(struct gstream *, const char *);
static void	pool_fill(void);

static void
gstream_free(struct gstream *g)
{
	if (g->ev != NULL)
		event_free(g->ev);
	if (g->fd != -1)
		close(g->fd);
	free(g);
}

static int
expired(const struct timespec *t)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	    (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* Sends the stream's first frame; a new socket takes it whole. */
static int
gstream_present(struct gstream *g)
{
	struct ph_msg	m;
	uint8_t		buf[PH_FRAME_MAX];
	size_t		len;

	memset(&m, 0, sizeof m);
	if (g->reach != 0) {
		m.type = PH_REVERSE;
		m.u.reverse.session = gsession_token();
		m.u.reverse.entry = g->reach;
	} else if (g->conn != 0) {
		m.type = PH_DATA;
		m.u.data.session = gsession_token();
		m.u.data.conn = g->conn;
	} else {
		m.type = PH_POOL;
		m.u.pool.session = gsession_token();
		m.u.pool.stream = g->id;
	}
	len = ph_msg_encode(&m, buf, sizeof buf);
	return send(g->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)len ? 0 : -1;
}

/* The attempt is over: connected (why NULL), or failed. */
static void
gstream_finish(struct gstream *g, const char *why)
{
	int	fd;

	if (g->ev != NULL)
		event_free(g->ev);
	g->ev = NULL;
	if (why == NULL && gstream_present(g) == -1)
		why = "cannot write the first frame on a new stream";
	if (why != NULL && g->fd != -1) {
		close(g->fd);
		g->fd = -1;
	}
	if (g->conn == 0 && g->reach == 0) {
		pool_connected(g, why);
		return;
	}
	fd = g->fd;
	g->fd = -1;
	g->cb(fd, why, g->arg);
	gstream_free(g);
}

static void
gstream_event_cb(int fd, short ev, void *arg)
{
	struct gstream	*g = arg;
	int		 err = 0;
	socklen_t	 len = sizeof err;

	if (g->err != 0) {
		gstream_finish(g, strerror(g->err));
		return;
	}
	if (g->fd == -1) {		/* time to try again, with a new event */
		event_free(g->ev);
		g->ev = NULL;
		gstream_try(g);
		return;
	}
	(void)fd;
	if (ev & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (!g->connected &&
	    getsockopt(g->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	gstream_finish(g, err != 0 ? strerror(err) : NULL);
}

/* Waits for g->fd to connect, or (fd -1) ms before the next step. */
static void
gstream_wait(struct gstream *g, int ms)
{
	struct timeval	tv = { GUEST_CONNECT_TIMEOUT, 0 };

	if (g->ev != NULL)
		event_free(g->ev);
	g->ev = event_new(guest->base, g->fd, g->fd == -1 ? 0 : EV_WRITE,
	    gstream_event_cb, g);
	if (g->ev == NULL)
		fatalx("event_new");
	if (g->fd == -1) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
	}
	event_add(g->ev, &tv);
}

static void
gstream_try(struct gstream *g)
{
	int	pending, e;

	if ((g->fd = privsep_connect(&pending)) != -1) {
		if (pending) {
			gstream_wait(g, 0);
			return;
		}
		/* Connected already (a Unix socket). */
		if (g->conn == 0 && g->reach == 0) {
			gstream_finish(g, NULL);	/* the pool's: now */
			return;
		}
		g->connected = 1;		/* the caller's: from the loop */
		if ((g->ev = event_new(guest->base, -1, 0, gstream_event_cb,
		    g)) == NULL)
			fatalx("event_new");
		event_active(g->ev, EV_WRITE, 0);
		return;
	}
	e = errno;
	if ((e == EAGAIN || e == EMFILE || e == ENFILE) &&
	    !expired(&g->deadline)) {
		gstream_wait(g, e == EAGAIN ? GSTREAM_RETRY_MS :
		    GSTREAM_NOFD_MS);
		return;
	}
	g->err = e;
	gstream_wait(g, 0);
	event_active(g->ev, EV_TIMEOUT, 0);
}

static struct gstream *
gstream_new(uint64_t conn, gstream_cb cb, void *arg)
{
	struct gstream	*g = xcalloc(1, sizeof *g);

	g->fd = -1;
	g->conn = conn;
	g->cb = cb;
	g->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &g->deadline);
	g->deadline.tv_sec += GUEST_CONNECT_TIMEOUT;
	return g;
}

/*
 * Opens a new stream for connection conn and presents DATA; cb gets the
 * stream, or -1 and why not.  gstream_cancel() stops it before that.
 */
struct gstream *
gstream_connect(uint64_t conn, gstream_cb cb, void *arg)
{
	struct gstream	*g = gstream_new(conn, cb, arg);

	gstream_try(g);
	return g;
}

/* The same for a client of reverse entry id: the stream presents REVERSE. */
struct gstream *
gstream_reverse(uint32_t entry, gstream_cb cb, void *arg)
{
	struct gstream	*g = gstream_new(0, cb, arg);

	g->reach = entry;
	gstream_try(g);
	return g;
}

void
gstream_cancel(struct gstream *g)
{
	gstream_free(g);
}

/*
 * A stream we were given but cannot use (the target refused): the host
 * was told with CLOSE and closes it; until then what arrives is dropped,
 * so that the host never mistakes our close for the target's EOF.
 */
struct lingerer {
	TAILQ_ENTRY(lingerer)	 entry;
	int			 fd;
	struct event		*ev;
};

static TAILQ_HEAD(, lingerer) lingers = TAILQ_HEAD_INITIALIZER(lingers);

static void
linger_free(struct lingerer *l)
{
	TAILQ_REMOVE(&lingers, l, entry);
	event_free(l->ev);
	close(l->fd);
	free(l);
}

static void
linger_cb(int fd, short ev, void *arg)
{
	static uint8_t	 sink[16384];
	ssize_t		 n;

	if (ev & EV_READ) {
		n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
		if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
			return;
	}
	linger_free(arg);
}

void
gstream_linger(int fd)
{
	struct timeval	 tv = { GSTREAM_LINGER_SEC, 0 };
	struct lingerer	*l;

	l = xcalloc(1, sizeof *l);
	l->fd = fd;
	l->ev = event_new(guest->base, fd, EV_READ | EV_PERSIST, linger_cb, l);
	if (l->ev == NULL)
		fatalx("event_new");
	TAILQ_INSERT_TAIL(&lingers, l, entry);
	event_add(l->ev, &tv);
}

/* At exit: lingering streams closed, the pool's timer freed. */
void
gstream_stop(void)
{
	struct lingerer	*l;

	gstream_pool_stop();
	while ((l = TAILQ_FIRST(&lingers)) != NULL)
		linger_free(l);
	if (pool.refill != NULL)
		event_free(pool.refill);
	pool.refill = NULL;
}

/* pool */

static void
pool_connected(struct gstream *g, const char *why)
{
	struct timeval	tv = { GSTREAM_REFILL_MS / 1000,
			    (GSTREAM_REFILL_MS % 1000) * 1000 };

	TAILQ_REMOVE(&pool.connecting, g, entry);
	pool.nconnecting--;
	if (why != NULL) {
		log_debug("pooled stream: %s", why);
		gstream_free(g);
		evtimer_add(pool.refill, &tv);
		return;
	}
	TAILQ_INSERT_TAIL(&pool.idle, g, entry);
	pool.nidle++;
}

/* Opens streams until the pool has what it wants (not after a failure). */
static void
pool_fill(void)
{
	struct gstream	*g;

	if (evtimer_pending(pool.refill, NULL))
		return;
	while (pool.nidle + pool.nconnecting + pool.nbusy < pool.want &&
	    !evtimer_pending(pool.refill, NULL)) {
		g = gstream_new(0, NULL, NULL);
		g->id = ++pool.next_id;
		TAILQ_INSERT_TAIL(&pool.connecting, g, entry);
		pool.nconnecting++;
		gstream_try(g);		/* a Unix socket is idle at once */
	}
}

static void
pool_refill_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	pool_fill();
}

/*
 * The session is up, with a host that pools: keep n streams ready; reuse
 * them with a protocol 4 host.
 */
void
gstream_pool_start(int n, int reuse)
{
	if (pool.refill == NULL &&
	    (pool.refill = evtimer_new(guest->base, pool_refill_cb,
	    NULL)) == NULL)
		fatalx("evtimer_new");
	pool.want = n;
	pool.reuse = reuse;
	pool_fill();
}

/* The session is gone: so are the streams it knew. */
void
gstream_pool_stop(void)
{
	struct gstream	*g;

	gstream_handed();
	pool.want = 0;
	pool.reuse = 0;
	pool.nbusy = 0;		/* (the old session's relays may still end) */
	if (pool.refill != NULL)
		evtimer_del(pool.refill);
	while ((g = TAILQ_FIRST(&pool.idle)) != NULL) {
		TAILQ_REMOVE(&pool.idle, g, entry);
		gstream_free(g);
	}
	while ((g = TAILQ_FIRST(&pool.connecting)) != NULL) {
		TAILQ_REMOVE(&pool.connecting, g, entry);
		gstream_free(g);
	}
	pool.nidle = pool.nconnecting = 0;
}

/*
 * The pooled stream a PAIR names, out of the pool (another is opened in
 * its place); -1 if there is no such stream.  Its watch stays on until
 * gstream_handed(), which the caller calls before the loop turns, after
 * a relay on the stream is made if it is made at once: the relay takes
 * its epoll registration over.
 */
int
gstream_take(uint64_t id)
{
	struct gstream	*g;
	int		 fd;

	TAILQ_FOREACH(g, &pool.idle, entry)
		if (g->id == id)
			break;
	if (g == NULL)
		return -1;
	TAILQ_REMOVE(&pool.idle, g, entry);
	pool.nidle--;
	fd = g->fd;
	g->fd = -1;		/* the caller's now */
	gstream_handed();
	pool.handing = g;
	if (pool.reuse)
		pool.nbusy++;	/* it comes back: no need to replace it */
	pool_fill();
	return fd;
}

/*
 * A released stream is readable while idle: the host closed it (it did
 * not pool it), or a PAIR's bytes came before the PAIR, which then takes
 * it.  1 when it was closed.
 */
static int
released_look(struct gstream *g)
{
	/* Bytes: its PAIR is on the way. */
	if (relay_stream_idle(g->fd) != RELAY_IDLE_GONE)
		return 0;
	log_debug("pooled stream %llu: closed by the host",
	    (unsigned long long)g->id);
	TAILQ_REMOVE(&pool.idle, g, entry);
	pool.nidle--;
	gstream_free(g);
	return 1;
}

static void
released_read_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	if (released_look(arg))
		pool_fill();
}

/* The stream gstream_take() gave is watched by its relay, or by none. */
void
gstream_handed(void)
{
	if (pool.handing != NULL)
		gstream_free(pool.handing);
	pool.handing = NULL;
}

/*
 * Idle streams the pool may hold with reuse: four times what it keeps
 * ready, within the host's bound.  A taken stream still counts as the
 * pool's until it is back (gstream_back()), so it is not replaced while
 * it carries a connection; a burst beyond the pool gets new streams
 * (OPEN), which come back into it too.  At a steady load the pool so
 * grows to the number of connections in flight, up to this, and no
 * stream is opened or closed.  In flight is more than the clients at
 * once: a client that has its answer may close and connect again before
 * its last connection's end has come back from the target, and with 16
 * clients at once bench/conncpu saw up to 40 connections in flight.  At
 * twice, a stream in six was closed beyond the bound and its place
 * taken by a new one; at four times, none (docs/performance.md).
 */
static int
pool_cap(void)
{
	return pool.want * 4 < PH_POOL_MAX ? pool.want * 4 : PH_POOL_MAX;
}

/*
 * A stream gstream_take() gave is done with: back in the pool (released)
 * or closed, in which case another is opened in its place.
 */
void
gstream_back(void)
{
	if (pool.nbusy == 0)
		return;
	pool.nbusy--;
	pool_fill();
}

/*
 * The stream of a connection that ended cleanly, both ways (protocol 4):
 * it joins the idle pool under a new id, returned for the RELEASE, while
 * the pool has room; else it is closed and 0 returned.  watch is the
 * relay's event on it (relay_keep_stream()), freed once the pool's own,
 * alike, is on: the stream's epoll registration carries over, and what
 * came before is looked at once.
 */
uint64_t
gstream_release(int fd, struct event *watch)
{
	struct gstream	*g;

	if (!pool.reuse || pool.nidle + pool.nconnecting >= pool_cap()) {
		if (watch != NULL)
			event_free(watch);
		close(fd);
		return 0;
	}
	g = gstream_new(0, NULL, NULL);
	g->fd = fd;
	g->id = ++pool.next_id;
	g->ev = relay_watch_stream(guest->base, fd, released_read_cb, g, NULL,
	    watch);
	TAILQ_INSERT_TAIL(&pool.idle, g, entry);
	pool.nidle++;
	if (released_look(g))
		return 0;	/* the host closed it: the RELEASE says so */
	return g->id;
}
