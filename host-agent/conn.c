/*
 * Forwarded client connections.  An accepted client waits, unread, while
 * the guest is asked (OPEN) to dial its target and open a data stream;
 * the stream's DATA frame names the connection by a random 64-bit id and
 * presents its session's token.  Then the relay runs until both sides are
 * done.  A connection outlives its session's control channel: its bytes
 * travel on its own stream.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "host.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

struct conn {
	RB_ENTRY(conn)		 node;
	TAILQ_ENTRY(conn)	 entry;		/* in its session's list */
	uint64_t		 id;
	struct session		*s;		/* NULL once it ended */
	struct forward		*f;
	int			 client;	/* until the relay has it */
	struct event		*timeout;	/* waiting for DATA */
	struct relay		*relay;
};

static int
conn_cmp(struct conn *a, struct conn *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_HEAD(conn_tree, conn);
PH_RB_PROTOTYPE(conn_tree, conn, node, conn_cmp);
PH_RB_GENERATE(conn_tree, conn, node, conn_cmp)

static struct conn_tree	conns = RB_INITIALIZER(&conns);

static struct conn *
conn_find(uint64_t id)
{
	struct conn	key = { .id = id };

	return RB_FIND(conn_tree, &conns, &key);
}

static void
conn_detach(struct conn *c)
{
	if (c->s != NULL) {
		TAILQ_REMOVE(&c->s->conns, c, entry);
		c->s->nconns--;
		if (c->timeout != NULL)		/* still waiting for DATA */
			c->s->npending--;
	}
	c->s = NULL;
}

/* Frees a connection that has no relay; rst resets the client. */
static void
conn_free(struct conn *c, int rst)
{
	struct linger	l = { 1, 0 };

	if (c->client != -1) {
		if (rst)
			(void)setsockopt(c->client, SOL_SOCKET, SO_LINGER, &l,
			    sizeof l);
		close(c->client);
	}
	conn_detach(c);
	if (c->timeout != NULL)
		event_free(c->timeout);
	RB_REMOVE(conn_tree, &conns, c);
	c->f->conns_active--;
	forward_unref(c->f);
	free(c);
}

static void
conn_timeout_cb(int fd, short ev, void *arg)
{
	struct conn	*c = arg;

	(void)fd;
	(void)ev;
	log_warnx("guest %s: no data stream for connection %016llx in %d s",
	    c->s != NULL ? c->s->id : "?", (unsigned long long)c->id,
	    HOST_DATA_TIMEOUT);
	conn_free(c, 1);
}

/*
 * Refuses (resets) a client over a limit: the guest's, the forward's, or
 * the number of OPENs the guest has left unanswered.
 */
static int
conn_over_limit(struct forward *f, int fd)
{
	struct session	*s = f->s;
	struct linger	 l = { 1, 0 };
	enum limit_kind	 k;

	if (s->nconns >= host->limits[LIMIT_CONNS])
		k = LIMIT_CONNS;
	else if (f->conns_active >= host->limits[LIMIT_FORWARD_CONNS])
		k = LIMIT_FORWARD_CONNS;
	else if (s->npending >= host->limits[LIMIT_PENDING_OPENS])
		k = LIMIT_PENDING_OPENS;
	else
		return 0;
	limit_hit(k, "guest %s: forward %u: client refused: too many %s",
	    s->id, f->id, limit_what(k));
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
	return 1;
}

void
conn_accept(struct forward *f, int fd)
{
	struct ph_msg	 m = { .type = PH_OPEN };
	struct timeval	 tv = { HOST_DATA_TIMEOUT, 0 };
	struct conn	*c;

	if (conn_over_limit(f, fd))
		return;
	c = xcalloc(1, sizeof *c);
	do
		arc4random_buf(&c->id, sizeof c->id);
	while (c->id == 0 || conn_find(c->id) != NULL);
	c->s = f->s;
	c->f = f;
	c->client = fd;
	f->refs++;
	f->conns_active++;
	f->conns_total++;
	c->timeout = evtimer_new(host->base, conn_timeout_cb, c);
	if (c->timeout == NULL)
		fatalx("evtimer_new");
	evtimer_add(c->timeout, &tv);
	RB_INSERT(conn_tree, &conns, c);
	TAILQ_INSERT_TAIL(&c->s->conns, c, entry);
	c->s->nconns++;
	c->s->npending++;
	m.u.open.conn = c->id;
	m.u.open.forward = f->id;
	log_debug("connection %016llx: client for forward %u, OPEN sent",
	    (unsigned long long)c->id, f->id);
	session_send(c->s, &m);
}

static int
conn_ext_reset_cb(struct relay *r, void *arg)
{
	struct conn	*c = arg;
	struct ph_msg	 m = { .type = PH_CLOSE };

	(void)r;
	if (c->s == NULL)
		return -1;
	m.u.close.conn = c->id;
	m.u.close.how = PH_CLOSE_RESET;
	strlcpy(m.u.close.reason, "client reset the connection",
	    sizeof m.u.close.reason);
	return session_send(c->s, &m);
}

static void
conn_done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct conn			*c = arg;
	const struct relay_stats	*st = relay_stats(r);

	c->f->bytes_out += st->bytes_out;
	c->f->bytes_in += st->bytes_in;
	log_debug("connection %016llx: %s, %llu bytes from client, %llu to it",
	    (unsigned long long)c->id, relay_end_name(end),
	    (unsigned long long)st->bytes_out,
	    (unsigned long long)st->bytes_in);
	c->relay = NULL;
	conn_free(c, 0);
}

static const struct relay_cbs conn_relay_cbs = {
	.ext_reset = conn_ext_reset_cb,
	.done = conn_done_cb,
};

/*
 * A data stream presented DATA.  It joins only a connection that is
 * waiting, of a session whose token it knows, that came in on the same
 * endpoint from the same vsock CID; anything else is dropped.
 */
void
conn_join(int fd, const struct guest_ep *gep, uint32_t cid,
    const struct ph_data *d)
{
	struct conn	*c = conn_find(d->conn);

	if (c == NULL || c->s == NULL || c->relay != NULL ||
	    !session_matches(c->s, gep, cid, d->session)) {
		log_warnx("%s: data stream for %s connection %016llx dropped",
		    gep->ep.str, c == NULL ? "unknown" : "another session's",
		    (unsigned long long)d->conn);
		close(fd);
		return;
	}
	event_free(c->timeout);
	c->timeout = NULL;
	c->s->npending--;
	c->relay = relay_new(host->base, c->client, fd, &conn_relay_cbs, c);
	c->client = -1;
}

/* The guest reports a connection failed (dial) or was reset (relay). */
void
conn_close_msg(struct session *s, const struct ph_close *m)
{
	struct conn	*c = conn_find(m->conn);
	char		 safe[PH_REASON_MAX * 4];

	/* Crossing CLOSEs are normal: the connection may be gone already. */
	if (c == NULL || c->s != s)
		return;
	log_debug("guest %s: connection %016llx %s: %s", s->id,
	    (unsigned long long)c->id, ph_close_name(m->how),
	    log_safe(m->reason, safe, sizeof safe));
	if (c->relay != NULL)
		relay_reset(c->relay);
	else
		conn_free(c, 1);
}

/*
 * The session ended: clients still waiting for a stream are reset.
 * Relays go on (their bytes have their own streams) but can no longer
 * report a reset to the guest; when the guest stopped answering
 * altogether (abort), they are reset too, since nothing will come.
 */
void
conn_session_gone(struct session *s, int abort)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&s->conns)) != NULL) {
		if (c->relay == NULL)
			conn_free(c, 1);
		else if (abort)
			relay_abort(c->relay);
		else
			conn_detach(c);
	}
}
