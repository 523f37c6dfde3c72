/*
 * Pairing: every forwarded connection (or flow) needs a data stream from
 * the guest, and this file is the one place that finds it one.
 *
 * A version 2 guest keeps a few streams open in advance (POOL): when one
 * is idle, the connection takes it at once and the guest is told which
 * (PAIR), so the client's bytes flow while the guest dials the target.
 * Otherwise the guest is asked for a new stream (OPEN), which comes back
 * presenting DATA.  Either way the owner gets the stream's descriptor.
 *
 * pair.c also owns the connection ids: a CLOSE from the guest reaches the
 * connection's owner through its pair, and the owner tells the guest
 * about a reset with pair_send_close().
 *
 * With protocol 4 a stream outlives its connection: EOFs travel as SHUT
 * both ways, and a connection that ended cleanly hands its stream back
 * (pair_return()).  It goes back to the pool once the guest, done too,
 * sends RELEASE with the id it pools it under; until then its pair waits
 * on the session's returning list, keeping its connection id.
 *
 * Wherever a stream waits (pooled, relaying, returning) it is watched
 * with the relay's own events (RELAY_STREAM_WATCH), and each hand-over
 * adds the next watch before it frees the last, so the stream stays
 * registered with epoll from one connection to the next: no
 * epoll_ctl(2) for it per connection.  An inherited registration wakes
 * for what comes after it only, so a stream entering the pool is looked
 * at once (pooled_look()).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "host.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

/* An idle stream of a session's pool (or being handed to a relay). */
struct pooled {
	TAILQ_ENTRY(pooled)	 entry;
	struct session		*s;
	uint64_t		 id;		/* the guest's */
	int			 fd;
	struct event		*ev;		/* readable: EOF, or a bad guest */
};

static int
pair_cmp(struct pair *a, struct pair *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_HEAD(pair_tree, pair);
PH_RB_PROTOTYPE(pair_tree, pair, node, pair_cmp);
PH_RB_GENERATE(pair_tree, pair, node, pair_cmp)

static struct pair_tree	pairs = RB_INITIALIZER(&pairs);

/*
 * Random connection ids, from a buffer filled 32 at a time: arc4random
 * asks for the process id on every call (to notice a fork).
 */
static uint64_t
pair_random_id(void)
{
	static uint64_t	ids[32];
	static size_t	left;

	if (left == 0) {
		arc4random_buf(ids, sizeof ids);
		left = sizeof ids / sizeof ids[0];
	}
	return ids[--left];
}

static void	returning_end(struct pair *, int);
static void	pool_insert(struct session *, uint64_t, int, struct event *);

static struct pair *
pair_find(uint64_t id)
{
	struct pair	key = { .id = id };

	return RB_FIND(pair_tree, &pairs, &key);
}

static void
pooled_free(struct pooled *ps)
{
	TAILQ_REMOVE(&ps->s->pool, ps, entry);
	ps->s->npool--;
	host->streams_pooled--;
	event_free(ps->ev);
	free(ps);
}

/*
 * The oldest idle stream of the session's pool, taken out of it; its
 * watch stays until the owner's relay watches it (pair_handed()).
 */
static int
pool_take(struct pair *p, uint64_t *id)
{
	struct pooled	*ps = TAILQ_FIRST(&p->s->pool);

	if (ps == NULL)
		return -1;
	TAILQ_REMOVE(&p->s->pool, ps, entry);
	p->s->npool--;
	host->streams_pooled--;
	p->handing = ps;
	*id = ps->id;
	return ps->fd;
}

/*
 * The owner of p, given a pooled stream by pair_open(), watches it now
 * (a relay) or is about to with events of its own (a datagram stream):
 * the pool's watch goes.  The owner calls this before the loop turns.
 */
void
pair_handed(struct pair *p)
{
	if (p->handing == NULL)
		return;
	event_free(p->handing->ev);
	free(p->handing);
	p->handing = NULL;
}

static void
pair_timeout_cb(int fd, short ev, void *arg)
{
	struct pair	*p = arg;

	(void)fd;
	(void)ev;
	limit_warn(p->s->gep, p->s->cid, WARN_NO_STREAM, "guest %s: no data "
	    "stream for connection %016llx in %d s", p->s->id,
	    (unsigned long long)p->id, HOST_DATA_TIMEOUT);
	p->ops->failed(p, "no data stream in time");
}

/*
 * Connections of s waiting for their stream, counted per session (its
 * cap) and in all (conn.c's descriptor reserve, read at every accept).
 */
static void
pair_pending(struct session *s, int delta)
{
	s->npending += delta;
	host->npending += delta;
}

/* p waits for a stream: it fails if none comes in time. */
static void
pair_wait(struct pair *p)
{
	struct timeval	tv = { HOST_DATA_TIMEOUT, 0 };

	pair_pending(p->s, 1);
	p->timeout = evtimer_new(host->base, pair_timeout_cb, p);
	if (p->timeout == NULL)
		fatalx("evtimer_new");
	evtimer_add(p->timeout, &tv);
}

/* Asks the guest for a new stream; the pair waits for its DATA. */
static void
pair_ask(struct pair *p, uint32_t forward)
{
	struct ph_msg	m = { .type = PH_OPEN };

	pair_wait(p);
	m.u.open.conn = p->id;
	m.u.open.forward = forward;
	log_debug("connection %016llx: client for forward %u, OPEN sent",
	    (unsigned long long)p->id, forward);
	session_send(p->s, &m);
}

/*
 * Starts pairing p, a connection to forward of session s.  Returns the
 * descriptor of a pooled stream, which the owner relays on at once, or
 * -1: then ops->ready() or ops->failed() is called later.
 */
int
pair_open(struct pair *p, struct session *s, uint32_t forward,
    const struct pair_ops *ops, void *arg)
{
	struct ph_msg	m = { .type = PH_PAIR };
	int		fd;

	memset(p, 0, sizeof *p);
	do
		p->id = pair_random_id();
	while (p->id == 0 || pair_find(p->id) != NULL);
	p->s = s;
	p->ops = ops;
	p->arg = arg;
	RB_INSERT(pair_tree, &pairs, p);
	TAILQ_INSERT_TAIL(&s->pairs, p, entry);
	s->nconns++;
	if ((fd = pool_take(p, &m.u.pair.stream)) == -1) {
		pair_ask(p, forward);
		return -1;
	}
	m.u.pair.conn = p->id;
	m.u.pair.forward = forward;
	if (session_send(s, &m) == -1) {
		/*
		 * The session is ending (from the loop, after our caller
		 * returns): p waits for a stream that cannot come, so that
		 * the session's end fails it, closing its client.
		 */
		pair_handed(p);
		close(fd);
		pair_wait(p);
		return -1;
	}
	log_debug("connection %016llx: client for forward %u, PAIR sent for "
	    "pooled stream %llu", (unsigned long long)p->id, forward,
	    (unsigned long long)m.u.pair.stream);
	return fd;
}

/* Takes p off its session's list (and counts). */
static void
pair_detach(struct pair *p)
{
	if (p->s == NULL)
		return;
	TAILQ_REMOVE(&p->s->pairs, p, entry);
	p->s->nconns--;
	if (p->timeout != NULL)		/* still waiting for DATA */
		pair_pending(p->s, -1);
	p->s = NULL;
}

/* The owner is done with p: its id is forgotten (once; ids are not 0). */
void
pair_end(struct pair *p)
{
	if (p->id == 0)
		return;
	pair_handed(p);
	pair_detach(p);
	if (p->timeout != NULL)
		event_free(p->timeout);
	p->timeout = NULL;
	RB_REMOVE(pair_tree, &pairs, p);
	p->id = 0;
}

/* Tells the guest about p (a reset, say); -1 if its session is gone. */
int
pair_send_close(struct pair *p, uint8_t how, const char *why)
{
	struct ph_msg	m = { .type = PH_CLOSE };

	if (p->s == NULL)
		return -1;
	m.u.close.conn = p->id;
	m.u.close.how = how;
	strlcpy(m.u.close.reason, why, sizeof m.u.close.reason);
	return session_send(p->s, &m);
}

/*
 * A new stream presented DATA.  It joins only a pair that is waiting, of
 * a session whose token it knows, that came in on the same endpoint from
 * the same vsock CID; anything else is dropped.
 */
void
pair_data(int fd, const struct guest_ep *gep, uint32_t cid,
    const struct ph_data *d)
{
	struct pair	*p = pair_find(d->conn);

	if (p == NULL || p->s == NULL || p->timeout == NULL ||
	    !session_matches(p->s, gep, cid, d->session)) {
		limit_warn(gep, cid, WARN_STRAY_STREAM, "%s: data stream for "
		    "%s connection %016llx dropped", gep->ep.str,
		    p == NULL ? "unknown" : "another session's",
		    (unsigned long long)d->conn);
		close(fd);
		return;
	}
	event_free(p->timeout);
	p->timeout = NULL;
	pair_pending(p->s, -1);
	p->ops->ready(p, fd);
}

/* The guest sent CLOSE: a dial failed, or its side was reset. */
void
pair_close_msg(struct session *s, const struct ph_close *m)
{
	struct pair	*p = pair_find(m->conn);
	char		 safe[PH_REASON_MAX * 4];

	/* Crossing CLOSEs are normal: the connection may be gone already. */
	if (p == NULL || p->s != s)
		return;
	log_debug("guest %s: connection %016llx %s: %s", s->id,
	    (unsigned long long)p->id, ph_close_name(m->how),
	    log_safe(m->reason, safe, sizeof safe));
	/*
	 * Done here and returning its stream (no owner): the guest's side
	 * failed after all, so no RELEASE will come and the stream is not
	 * reused.
	 */
	if (p->ops == NULL) {
		returning_end(p, 0);
		return;
	}
	p->ops->closed(p, m);
}

/*
 * An idle pooled stream is readable: the guest closed it, or sent bytes
 * before any PAIR named it, which is a protocol error.  Either way it
 * leaves the pool (and 1 is returned).
 */
static int
pooled_look(struct pooled *ps)
{
	enum relay_idle	 idle = relay_stream_idle(ps->fd);
	int		 fd;

	if (idle == RELAY_IDLE_QUIET)
		return 0;
	if (idle == RELAY_IDLE_BYTES)
		limit_warn(ps->s->gep, ps->s->cid, WARN_STRAY_STREAM,
		    "guest %s: bytes on idle pooled stream %llu: closed",
		    ps->s->id, (unsigned long long)ps->id);
	else
		log_debug("guest %s: pooled stream %llu closed by the guest",
		    ps->s->id, (unsigned long long)ps->id);
	fd = ps->fd;
	pooled_free(ps);
	close(fd);
	return 1;
}

static void
pooled_read_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)pooled_look(arg);
}

static struct session *
pair_session_of(const struct guest_ep *gep, uint32_t cid, uint64_t token)
{
	struct session	*s = session_find(gep, cid);

	return s != NULL && session_matches(s, gep, cid, token) ? s : NULL;
}

static int
pool_has(const struct session *s, uint64_t id)
{
	const struct pooled	*ps;

	TAILQ_FOREACH(ps, &s->pool, entry)
		if (ps->id == id)
			return 1;
	return 0;
}

/*
 * fd joins s's pool, watched; the watch it had (a relay's, a returning
 * pair's), if any, goes after the pool's is on, so that the stream's
 * registration carries over, and the stream is looked at once.
 */
static void
pool_insert(struct session *s, uint64_t id, int fd, struct event *watch)
{
	struct pooled	*ps;

	ps = xcalloc(1, sizeof *ps);
	ps->s = s;
	ps->id = id;
	ps->fd = fd;
	ps->ev = relay_watch_stream(host->base, fd, pooled_read_cb, ps, NULL,
	    watch);
	TAILQ_INSERT_TAIL(&s->pool, ps, entry);
	s->npool++;
	host->streams_pooled++;
	(void)pooled_look(ps);
}

/* A stream presented POOL: it waits, idle, for a client (bounded). */
void
pair_pool_add(int fd, const struct guest_ep *gep, uint32_t cid,
    const struct ph_pool *m)
{
	struct session	*s = pair_session_of(gep, cid, m->session);
	const char	*why = NULL;

	if (s == NULL)
		why = "of an unknown session";
	else if (s->proto < PH_PROTO_VERSION_POOL)
		why = "in a protocol 1 session";
	else if (s->npool >= PH_POOL_MAX)
		why = "beyond the pool's limit";
	else if (pool_has(s, m->stream))
		why = "with an id already pooled";
	if (why != NULL) {
		limit_warn(gep, cid, WARN_STRAY_STREAM, "%s: pooled stream "
		    "%s dropped", gep->ep.str, why);
		close(fd);
		return;
	}
	pool_insert(s, m->stream, fd, NULL);
}

/*
 * The session ended: its idle streams are closed, pairs still waiting
 * for a stream fail.  Pairs already relaying go on (their bytes have
 * their own streams) but can no longer tell the guest anything; when the
 * guest stopped answering altogether (abort) they fail too, since nothing
 * will come.
 */
void
pair_session_gone(struct session *s, int abort)
{
	struct pooled	*ps;
	struct pair	*p;
	int		 waiting, fd;

	while ((ps = TAILQ_FIRST(&s->pool)) != NULL) {
		fd = ps->fd;
		pooled_free(ps);	/* its watch before the descriptor */
		close(fd);
	}
	while ((p = TAILQ_FIRST(&s->returning)) != NULL)
		returning_end(p, 0);
	while ((p = TAILQ_FIRST(&s->pairs)) != NULL) {
		waiting = p->timeout != NULL;
		pair_detach(p);
		if (waiting)
			p->ops->failed(p, "session ended");
		else if (abort)
			p->ops->failed(p, "the guest stopped answering");
		else if (p->ops->unshared != NULL)
			p->ops->unshared(p);
	}
}

/* reuse (protocol 4) */

/* Whether p's EOFs travel as SHUT and its stream may be kept. */
int
pair_reuses(const struct pair *p)
{
	return p->s != NULL && p->s->proto >= PH_PROTO_VERSION_REUSE;
}

/* Tells the guest the client's bytes end after bytes; -1 if it cannot. */
int
pair_send_shut(struct pair *p, uint64_t bytes)
{
	struct ph_msg	m = { .type = PH_SHUT };

	if (!pair_reuses(p))
		return -1;
	m.u.shut.conn = p->id;
	m.u.shut.bytes = bytes;
	return session_send(p->s, &m);
}

/* The guest's SHUT: its target's bytes end after so many. */
void
pair_shut_msg(struct session *s, const struct ph_shut *m)
{
	struct pair	*p = pair_find(m->conn);

	/* A returning pair has no owner: its SHUT came long ago. */
	if (p == NULL || p->s != s || p->ops == NULL || p->ops->shut == NULL)
		return;
	p->ops->shut(p, m->bytes);
}

/* Closes a stream no one keeps, its watch (if any) first. */
static void
stream_drop(int fd, struct event *watch)
{
	if (watch != NULL)
		event_free(watch);
	close(fd);
}

/*
 * A released stream joins the pool, within its bounds, for the next
 * client; stream id 0 means the guest closed it instead.  watch is the
 * stream's current watch, if any, freed here.
 */
static void
pool_put(struct session *s, uint64_t id, int fd, struct event *watch)
{
	if (id == 0) {
		stream_drop(fd, watch);
		return;
	}
	if (s->npool >= PH_POOL_MAX || pool_has(s, id)) {
		limit_warn(s->gep, s->cid, WARN_STRAY_STREAM, "guest %s: "
		    "released stream %llu %s: closed", s->id,
		    (unsigned long long)id, s->npool >= PH_POOL_MAX ?
		    "beyond the pool's limit" : "with an id already pooled");
		stream_drop(fd, watch);
		return;
	}
	host->streams_returned++;
	pool_insert(s, id, fd, watch);
}

/* A returning stream is pooled (pool) or closed, and its pair freed. */
static void
returning_end(struct pair *p, int pool)
{
	TAILQ_REMOVE(&p->s->returning, p, entry);
	RB_REMOVE(pair_tree, &pairs, p);
	if (pool)
		pool_put(p->s, p->release_id, p->fd, p->ev);
	else
		stream_drop(p->fd, p->ev);
	free(p);
}

/*
 * A returning stream is readable before its RELEASE: the guest closed
 * it, or wrote on it, which it may not; or no RELEASE came in time.  It
 * is not reused.  (What came before its watch, which took the relay's
 * registration over, wakes nobody: pool_insert() looks at it, at the
 * RELEASE, or the timeout ends it.)
 */
static void
returning_cb(int fd, short ev, void *arg)
{
	struct pair	*p = arg;

	if (!(ev & EV_TIMEOUT)) {
		if (relay_stream_idle(fd) == RELAY_IDLE_QUIET)
			return;
		log_debug("guest %s: stream of connection %016llx closed or "
		    "written to before its RELEASE: closed", p->s->id,
		    (unsigned long long)p->id);
	} else
		log_debug("guest %s: stream of connection %016llx not "
		    "released in time: closed", p->s->id,
		    (unsigned long long)p->id);
	returning_end(p, 0);
}

/*
 * The guest's RELEASE: conn ended cleanly there, and the guest pools its
 * stream as id (or, id 0, closed it).  A connection still relaying here
 * returns it when done;
 * one already done returns it now.  An unknown connection is one that
 * ended otherwise (a reset crossed the RELEASE): its stream is closed.
 */
void
pair_release_msg(struct session *s, const struct ph_release *m)
{
	struct pair	*p = pair_find(m->conn);

	if (p == NULL || p->s != s) {
		log_debug("guest %s: RELEASE of unknown connection %016llx",
		    s->id, (unsigned long long)m->conn);
		return;
	}
	p->released = 1;
	p->release_id = m->stream;
	if (p->ops == NULL)
		returning_end(p, 1);
}

/*
 * The owner is done with p.  fd is its stream when the connection ended
 * cleanly both ways (relay_keep_stream()), else -1, and watch the
 * relay's event on it, which this frees.  The stream goes back to the
 * pool once the guest released it too.
 */
void
pair_return(struct pair *p, int fd, struct event *watch)
{
	struct timeval	 tv = { HOST_DATA_TIMEOUT, 0 };
	struct session	*s = p->s;
	struct pair	*r;
	uint64_t	 id = p->id, release_id = p->release_id;
	int		 released = p->released;

	pair_end(p);
	if (fd == -1)
		return;
	if (s == NULL) {
		stream_drop(fd, watch);
		return;
	}
	if (released) {
		pool_put(s, release_id, fd, watch);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->id = id;
	r->s = s;
	r->fd = fd;
	r->ev = relay_watch_stream(host->base, fd, returning_cb, r, &tv, watch);
	RB_INSERT(pair_tree, &pairs, r);
	TAILQ_INSERT_TAIL(&s->returning, r, entry);
}
