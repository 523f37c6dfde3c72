/*
 * Reverse streams (protocol 6).  A client in the guest came to one of
 * its entries, and the guest opened a stream whose first frame,
 * REVERSE, names the entry's id: never a destination.  The host takes
 * it only from the guest's own session (endpoint, CID and token, as
 * DATA), for an id on that guest's list as it is now (reach.c), within
 * the guest's connection budget; anything else is closed at once,
 * counted and logged (rate-limited).  Then the host dials the entry's
 * destination itself, without blocking, and relays with the relay the
 * forwards use.  Half-close is kept (EOF becomes shutdown on the other
 * side); a reset closes the stream, which the guest passes on as one.
 * Each connection is counted, and logged at most LIMIT_WARN_BURST times
 * a second per guest (limits.c).  A reverse connection ends with its
 * session (reach_session_gone).
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "host.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

struct rconn {
	TAILQ_ENTRY(rconn)	 entry;
	struct session		*s;		/* NULL once it ended */
	uint32_t		 id;		/* the entry's */
	int			 stream;	/* until the relay has it */
	int			 dest;		/* likewise */
	struct event		*ev;		/* the dial under way */
	struct relay		*relay;
};

static TAILQ_HEAD(, rconn)	rconns = TAILQ_HEAD_INITIALIZER(rconns);

static void
rconn_free(struct rconn *rc)
{
	struct reach_entry	*e;

	if (rc->ev != NULL)
		event_free(rc->ev);
	if (rc->stream != -1)
		close(rc->stream);
	if (rc->dest != -1)
		close(rc->dest);
	if ((e = reach_find_id(rc->id)) != NULL && e->conns_active > 0)
		e->conns_active--;
	if (rc->s != NULL)
		rc->s->nreverse--;
	TAILQ_REMOVE(&rconns, rc, entry);
	free(rc);
}

static void
rconn_done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct rconn			*rc = arg;
	const struct relay_stats	*st = relay_stats(r);
	struct reach_entry		*e;

	if ((e = reach_find_id(rc->id)) != NULL) {
		e->bytes_out += st->bytes_out;
		e->bytes_in += st->bytes_in;
	}
	log_debug("reverse connection to entry %u: %s, %llu bytes from the "
	    "destination, %llu to it", rc->id, relay_end_name(end),
	    (unsigned long long)st->bytes_out,
	    (unsigned long long)st->bytes_in);
	rc->relay = NULL;
	rconn_free(rc);
}

static const struct relay_cbs rconn_relay_cbs = {
	/* no ext_reset: the stream's close is how a reset is told */
	.done = rconn_done_cb,
};

static void
rconn_relay(struct rconn *rc)
{
	rc->relay = relay_new(host->base, rc->dest, rc->stream,
	    &rconn_relay_cbs, rc);
	rc->dest = rc->stream = -1;
}

static void
rconn_dial_failed(struct rconn *rc, const char *why)
{
	struct reach_entry	*e;

	/*
	 * A guest can make a dead destination fail as often as it likes:
	 * the 1st, 2nd, 4th, 8th... failure of an entry is logged, with
	 * the count (the API has every one).
	 */
	if ((e = reach_find_id(rc->id)) != NULL)
		e->dial_failed++;
	if (e != NULL && (e->dial_failed & (e->dial_failed - 1)) == 0)
		log_warnx("guest %s: reverse entry %u: cannot reach %s: %s "
		    "(%llu failures)", rc->s != NULL ? rc->s->id : "(gone)",
		    rc->id, e->dest_text, why,
		    (unsigned long long)e->dial_failed);
	rconn_free(rc);
}

static void
rconn_dialled_cb(int fd, short ev, void *arg)
{
	struct rconn	*rc = arg;
	int		 err = 0;
	socklen_t	 len = sizeof err;

	if (ev & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	event_free(rc->ev);
	rc->ev = NULL;
	if (err != 0)
		rconn_dial_failed(rc, strerror(err));
	else
		rconn_relay(rc);
}

static socklen_t
rconn_dest_addr(const struct reach_entry *e, struct sockaddr_storage *ss)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)ss;

	if (e->dest_kind != PH_KIND_UNIX)
		return addr_to_sockaddr(&e->dest_addr, e->dest_port, ss);
	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	strlcpy(sun->sun_path, e->dest_path, sizeof sun->sun_path);
	return sizeof *sun;
}

/* Dials e's destination; the relay starts once it answers. */
static void
rconn_dial(struct rconn *rc, const struct reach_entry *e)
{
	struct sockaddr_storage	 ss;
	struct timeval		 tv = { HOST_REACH_DIAL_TIMEOUT, 0 };
	socklen_t		 sl = rconn_dest_addr(e, &ss);

	rc->dest = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (rc->dest == -1) {
		rconn_dial_failed(rc, strerror(errno));
		return;
	}
	if (connect(rc->dest, (struct sockaddr *)&ss, sl) == 0) {
		rconn_relay(rc);
		return;
	}
	/* A Unix socket's EAGAIN is a full backlog, not a dial under way. */
	if (errno != EINPROGRESS) {
		rconn_dial_failed(rc, strerror(errno));
		return;
	}
	rc->ev = event_new(host->base, rc->dest, EV_WRITE, rconn_dialled_cb,
	    rc);
	if (rc->ev == NULL)
		fatalx("event_new");
	event_add(rc->ev, &tv);
}

/* Closes a reverse stream at once: counted, and logged (rate-limited). */
static void
reach_refuse(int fd, const struct guest_ep *gep, uint32_t cid,
    enum reach_refusal why, uint32_t id, const char *what)
{
	host->reach_refused[why]++;
	limit_warn(gep, cid, WARN_REACH, "%s: reverse stream to entry %u %s",
	    gep->ep.str, id, what);
	close(fd);
}

/* Whether s may open one more connection, forwarded or reverse. */
static int
reach_over_budget(struct session *s, uint32_t id)
{
	char	line[32] = "";

	if (s->nconns + s->nreverse < s->limits.max_conns)
		return 0;
	if (s->limits.conns_line != 0)
		snprintf(line, sizeof line, " (policy line %d)",
		    s->limits.conns_line);
	limit_hit_value(LIMIT_CONNS, s->limits.max_conns, "guest %s: reverse "
	    "connection to entry %u refused: too many %s%s", s->id, id,
	    limit_what(LIMIT_CONNS), line);
	return 1;
}

/* A stream whose first frame was REVERSE (listener.c). */
void
reach_stream(int fd, const struct guest_ep *gep, uint32_t cid,
    const struct ph_reverse *r)
{
	struct session		*s = session_find(gep, cid);
	struct reach_entry	*e;
	struct rconn		*rc;

	if (s == NULL || !session_matches(s, gep, cid, r->session)) {
		reach_refuse(fd, gep, cid, REACH_REFUSE_SESSION, r->entry,
		    "of no session dropped");
		return;
	}
	if (s->proto < PH_PROTO_VERSION_REACH) {
		reach_refuse(fd, gep, cid, REACH_REFUSE_VERSION, r->entry,
		    "in a session older than protocol 6 dropped");
		return;
	}
	if ((e = reach_lookup(s, r->entry)) == NULL) {
		reach_refuse(fd, gep, cid, REACH_REFUSE_ENTRY, r->entry,
		    "not on the guest's list, refused");
		return;
	}
	if (reach_over_budget(s, r->entry)) {
		host->reach_refused[REACH_REFUSE_LIMIT]++;
		close(fd);
		return;
	}
	limit_warn(gep, cid, WARN_REACH_CONN, "guest %s: reverse connection "
	    "to entry %u: %s", s->id, e->id, e->text);
	rc = xcalloc(1, sizeof *rc);
	rc->s = s;
	rc->id = e->id;
	rc->stream = fd;
	rc->dest = -1;
	TAILQ_INSERT_TAIL(&rconns, rc, entry);
	s->nreverse++;
	e->conns_total++;
	e->conns_active++;
	rconn_dial(rc, e);
}

/*
 * The session ended: so do its reverse connections.  The guest opens
 * them at will: kept, they would count against no session's budget,
 * and a guest reconnecting in a loop could hold any number of them.
 */
void
reach_session_gone(struct session *s)
{
	struct rconn	*rc, *next;

	TAILQ_FOREACH_SAFE(rc, &rconns, entry, next) {
		if (rc->s != s)
			continue;
		if (rc->relay != NULL)
			relay_abort(rc->relay);	/* done: freed */
		else
			rconn_free(rc);
	}
}

/* Calls cb for every reverse relay still running: its entry, its bytes. */
void
reach_foreach_relay(void (*cb)(const struct reach_entry *,
    const struct relay_stats *, void *), void *arg)
{
	struct rconn		*rc;
	struct reach_entry	*e;

	TAILQ_FOREACH(rc, &rconns, entry)
		if (rc->relay != NULL && (e = reach_find_id(rc->id)) != NULL)
			cb(e, relay_stats(rc->relay), arg);
}

/* At exit: the dials under way and the relays still running end. */
void
reach_stop(void)
{
	struct rconn	*rc;

	while ((rc = TAILQ_FIRST(&rconns)) != NULL) {
		if (rc->relay != NULL)
			relay_abort(rc->relay);	/* done: freed */
		else
			rconn_free(rc);
	}
}
