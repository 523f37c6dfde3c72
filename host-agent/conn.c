/*
 * Forwarded client connections.  An accepted client gets a data stream
 * from pair.c: a pooled one at once, or a new one the guest opens on
 * OPEN, while the client waits, unread.  Then the relay runs until both
 * sides are done.  A connection outlives its session's control channel:
 * its bytes travel on its own stream.  With protocol 4 its EOFs travel
 * as SHUT and a clean end hands the stream back to pair.c for reuse.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
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
	TAILQ_ENTRY(conn)	 all;		/* for the API's byte counts */
	struct pair		 pair;		/* id, session, waiting */
	struct forward		*f;
	int			 client;	/* until the relay has it */
	struct relay		*relay;
	int			 shut_early;	/* SHUT before the stream */
	uint64_t		 shut_bytes;
};

static TAILQ_HEAD(, conn)	conns = TAILQ_HEAD_INITIALIZER(conns);

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
	pair_end(&c->pair);
	TAILQ_REMOVE(&conns, c, all);
	c->f->conns_active--;
	events_conn(HEV_CONN_CLOSED, c->f);
	forward_unref(c->f);
	free(c);
}

static int
conn_ext_reset_cb(struct relay *r, void *arg)
{
	struct conn	*c = arg;

	(void)r;
	if (c->pair.released)	/* the guest is done: none to tell */
		return -1;
	return pair_send_close(&c->pair, PH_CLOSE_RESET,
	    "client reset the connection");
}

static int
conn_shut_cb(struct relay *r, uint64_t bytes, void *arg)
{
	struct conn	*c = arg;

	(void)r;
	return pair_send_shut(&c->pair, bytes);
}

static void
conn_done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct conn			*c = arg;
	const struct relay_stats	*st = relay_stats(r);
	struct event			*watch;
	int				 stream;

	c->f->bytes_out += st->bytes_out;
	c->f->bytes_in += st->bytes_in;
	events_conn_bytes(c->f, st->bytes_out, st->bytes_in);
	log_debug("connection %016llx: %s, %llu bytes from client, %llu to it",
	    (unsigned long long)c->pair.id, relay_end_name(end),
	    (unsigned long long)st->bytes_out,
	    (unsigned long long)st->bytes_in);
	stream = relay_keep_stream(r, &watch);
	pair_return(&c->pair, stream, watch);
	c->relay = NULL;
	conn_free(c, 0);
}

static const struct relay_cbs conn_relay_cbs = {
	.ext_reset = conn_ext_reset_cb,
	.shut = conn_shut_cb,
	.done = conn_done_cb,
};

static void
conn_relay(struct conn *c, int stream)
{
	c->relay = relay_new(host->base, c->client, stream, &conn_relay_cbs,
	    c);
	c->client = -1;
	if (pair_reuses(&c->pair))
		relay_set_reuse(c->relay);
	if (c->shut_early)
		relay_peer_shut(c->relay, c->shut_bytes);
}

static void
conn_ready_cb(struct pair *p, int stream)
{
	conn_relay(p->arg, stream);
}

/* The guest reports the connection failed (dial) or was reset (relay). */
static void
conn_closed_cb(struct pair *p, const struct ph_close *m)
{
	struct conn	*c = p->arg;

	(void)m;
	if (c->relay != NULL)
		relay_reset(c->relay);
	else
		conn_free(c, 1);
}

static void
conn_failed_cb(struct pair *p, const char *why)
{
	struct conn	*c = p->arg;

	log_debug("connection %016llx: %s", (unsigned long long)p->id, why);
	if (c->relay != NULL)
		relay_abort(c->relay);
	else
		conn_free(c, 1);
}

/* The guest's SHUT; it may come before the stream that DATA brings. */
static void
conn_shut_msg_cb(struct pair *p, uint64_t bytes)
{
	struct conn	*c = p->arg;

	if (c->relay != NULL) {
		relay_peer_shut(c->relay, bytes);
		return;
	}
	c->shut_early = 1;
	c->shut_bytes = bytes;
}

static void
conn_unshared_cb(struct pair *p)
{
	struct conn	*c = p->arg;

	if (c->relay != NULL)
		relay_unshare(c->relay);
}

static const struct pair_ops conn_pair_ops = {
	.ready = conn_ready_cb,
	.closed = conn_closed_cb,
	.failed = conn_failed_cb,
	.shut = conn_shut_msg_cb,
	.unshared = conn_unshared_cb,
};

/*
 * Whether a new client of f, TCP or UDP (what names it in the log), is
 * over a limit: the guest's (the flag's, or the policy file's for this
 * guest if lower; its reverse connections count too), the forward's, or the number of OPENs the guest has
 * left unanswered.  Logs the limit it hits.
 */
int
conn_limit_reached(struct forward *f, const char *what)
{
	struct session	*s = f->s;
	enum limit_kind	 k;
	char		 line[32] = "";

	if (s->nconns + s->nreverse >= s->limits.max_conns)
		k = LIMIT_CONNS;
	else if (f->conns_active >= host->limits[LIMIT_FORWARD_CONNS])
		k = LIMIT_FORWARD_CONNS;
	else if (s->npending >= host->limits[LIMIT_PENDING_OPENS])
		k = LIMIT_PENDING_OPENS;
	else
		return 0;
	if (k == LIMIT_CONNS && s->limits.conns_line != 0)
		snprintf(line, sizeof line, " (policy line %d)",
		    s->limits.conns_line);
	limit_hit_value(k, k == LIMIT_CONNS ? s->limits.max_conns :
	    host->limits[k], "guest %s: forward %u: %s refused: too many "
	    "%s%s", s->id, f->id, what, limit_what(k), line);
	return 1;
}

/* Resets a TCP client over a limit. */
static int
conn_over_limit(struct forward *f, int fd)
{
	struct linger	 l = { 1, 0 };

	if (!conn_limit_reached(f, "client"))
		return 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	close(fd);
	return 1;
}

/*
 * Descriptors are handed out lowest first, so a client on descriptor fd
 * leaves at most nofile - 1 - fd free.  Every client still waiting for a
 * stream needs one of those, and the guests' control channels and pools
 * a few more.  When they run short the forward stops accepting for a
 * moment, as on EMFILE, rather than take clients whose streams then
 * could not be accepted (each would wait, holding a descriptor, until it
 * timed out).
 */
static int
conn_fds_short(int fd)
{
	if (host->nofile == 0)
		return 0;
	return (uint64_t)fd + 1 + HOST_FD_RESERVE + host->npending >=
	    host->nofile;
}

void
conn_accept(struct forward *f, int fd)
{
	struct conn	*c;
	int		 stream;

	if (conn_over_limit(f, fd))
		return;
	c = xcalloc(1, sizeof *c);
	c->f = f;
	c->client = fd;
	TAILQ_INSERT_TAIL(&conns, c, all);
	f->refs++;
	f->conns_active++;
	f->conns_total++;
	events_conn(HEV_CONN_OPENED, f);
	if ((stream = pair_open(&c->pair, f->s, f->id, &conn_pair_ops,
	    c)) != -1) {
		/*
		 * The pool's watch goes once the relay watches the stream:
		 * its registration carries over, and what came before the
		 * relay is read.
		 */
		conn_relay(c, stream);
		pair_handed(&c->pair);
		relay_look_stream(c->relay);
	}
	if (conn_fds_short(fd))
		forward_pause(f, "few descriptors left for the guest's streams");
}

/* Calls cb for every relay still running: its forward, its bytes. */
void
conn_foreach_relay(void (*cb)(const struct forward *,
    const struct relay_stats *, void *), void *arg)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &conns, all)
		if (c->relay != NULL)
			cb(c->f, relay_stats(c->relay), arg);
}
