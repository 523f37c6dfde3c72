/*
 * Control sessions: one per guest.  A session starts with the HELLO that
 * listener.c read, is answered with WELCOME, and then carries EXPOSE,
 * UNEXPOSE, CLOSE and PING from the guest.  A frame that is malformed or
 * out of place ends that session, with one log line saying why; nothing
 * a guest sends ends the daemon.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "compat.h"
#include "frameio.h"
#include "host.h"
#include "log.h"

#include "version.h"
#include "xmalloc.h"

static void	session_end(struct session *, enum end_reason, const char *);
static void	session_fail(struct session *, enum end_reason,
		    const char *);
static void	session_read_cb(struct bufferevent *, void *);
static void	session_write_cb(struct bufferevent *, void *);
static void	session_event_cb(struct bufferevent *, short, void *);

int
session_matches(const struct session *s, const struct guest_ep *gep,
    uint32_t cid, uint64_t token)
{
	return s->gep == gep && s->cid == cid && s->token == token;
}

int
session_send(struct session *s, const struct ph_msg *m)
{
	size_t	queued;

	ph_bufferevent_send(s->bev, m);
	queued = evbuffer_get_length(bufferevent_get_output(s->bev));
	if (queued > HOST_OUTPUT_MAX) {
		session_fail(s, END_SLOW_GUEST, "guest does not read its "
		    "control channel");
		return -1;
	}
	/*
	 * A guest that asks faster than it reads the answers is slowed
	 * down: we stop reading it until it has taken most of them.
	 */
	if (queued > HOST_OUTPUT_HIGH && !evtimer_pending(s->end_ev, NULL)) {
		bufferevent_disable(s->bev, EV_READ);
		bufferevent_setwatermark(s->bev, EV_WRITE, HOST_OUTPUT_LOW, 0);
	}
	return 0;
}

/* The guest has read its answers: read its requests again. */
static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;

	if (evtimer_pending(s->end_ev, NULL))
		return;
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_enable(bev, EV_READ);
	/* Frames read before we stopped are still waiting. */
	session_read_cb(bev, s);
}

static void
session_send_error(struct session *s, uint32_t code, const char *why)
{
	struct ph_msg	m = { .type = PH_ERROR };

	m.u.error.code = code;
	strlcpy(m.u.error.message, why, sizeof m.u.error.message);
	session_send(s, &m);
}

/*
 * A guest's identity: the endpoint it came through, and its vsock CID.
 * One session each, found in a tree: every data stream looks its
 * session up, and a host may serve a thousand guests.
 */
static int
session_guest_cmp(const struct session *a, const struct session *b)
{
	if (a->gep != b->gep)
		return a->gep < b->gep ? -1 : 1;
	return a->cid < b->cid ? -1 : a->cid > b->cid;
}

RB_HEAD(session_guests, session);
PH_RB_PROTOTYPE(session_guests, session, node, session_guest_cmp);
PH_RB_GENERATE(session_guests, session, node, session_guest_cmp)

static struct session_guests	session_guests =
				    RB_INITIALIZER(&session_guests);
static uint64_t			session_seq;	/* the last session's */

struct session *
session_find(const struct guest_ep *gep, uint32_t cid)
{
	struct session	key;

	key.gep = (struct guest_ep *)gep;
	key.cid = cid;
	return RB_FIND(session_guests, &session_guests, &key);
}

static void
session_end_cb(int fd, short ev, void *arg)
{
	struct session	*s = arg;

	(void)fd;
	(void)ev;
	session_end(s, s->end, s->end_why);
}

/* Ends s from the event loop: for callers that still hold pointers. */
static void
session_fail(struct session *s, enum end_reason end, const char *why)
{
	struct timeval	tv = { 0, 0 };

	if (evtimer_pending(s->end_ev, NULL))
		return;
	s->end = end;
	strlcpy(s->end_why, why, sizeof s->end_why);
	bufferevent_disable(s->bev, EV_READ);
	evtimer_add(s->end_ev, &tv);
}

static void
session_set_id(struct session *s, const struct ph_hello *h)
{
	strlcpy(s->name, h->name[0] != '\0' ? h->name : "guest",
	    sizeof s->name);
	strlcpy(s->version, h->version, sizeof s->version);
	memcpy(s->boot_id, h->boot_id, sizeof s->boot_id);
	if (s->gep->ep.type == EP_VSOCK)
		snprintf(s->id, sizeof s->id, "%s (cid %u)", s->name, s->cid);
	else
		snprintf(s->id, sizeof s->id, "%s (%s)", s->name,
		    s->gep->ep.str);
}

/*
 * The guest's limits: the command line's (limits.c), lowered for this
 * guest by the policy file's where it sets lower ones.  Neither can
 * raise what the other set.  At HELLO, and again on reload.
 */
void
session_set_limits(struct session *s)
{
	struct policy_limits	fl;

	policy_guest_limits(host->policy.file, s->name, s->gep->ep.str,
	    s->cid, &fl);
	s->limits.max_forwards = host->limits[LIMIT_FORWARDS];
	s->limits.max_conns = host->limits[LIMIT_CONNS];
	s->limits.max_udp_buffer = host->limits[LIMIT_UDP_BUFFER];
	s->limits.forwards_line = s->limits.conns_line = 0;
	s->limits.udp_buffer_line = 0;
	if (fl.forwards_line != 0 && fl.max_forwards < s->limits.max_forwards) {
		s->limits.max_forwards = fl.max_forwards;
		s->limits.forwards_line = fl.forwards_line;
	}
	if (fl.conns_line != 0 && fl.max_conns < s->limits.max_conns) {
		s->limits.max_conns = fl.max_conns;
		s->limits.conns_line = fl.conns_line;
	}
	if (fl.udp_buffer_line != 0 &&
	    fl.max_udp_buffer < s->limits.max_udp_buffer) {
		s->limits.max_udp_buffer = fl.max_udp_buffer;
		s->limits.udp_buffer_line = fl.udp_buffer_line;
	}
}

static int
session_refuse_version(int fd, const struct guest_ep *gep, uint32_t cid,
    const struct ph_hello *h)
{
	struct ph_msg	m = { .type = PH_ERROR };
	uint8_t		buf[PH_FRAME_MAX];
	size_t		len;

	if (h->vmin <= PH_PROTO_VERSION && h->vmax >= PH_PROTO_VERSION_MIN)
		return 0;
	limit_warn(gep, cid, WARN_VERSION, "%s: guest speaks protocol %u-%u, "
	    "we speak %u-%u: refused", gep->ep.str, h->vmin, h->vmax,
	    PH_PROTO_VERSION_MIN, PH_PROTO_VERSION);
	m.u.error.code = PH_ERR_VERSION;
	snprintf(m.u.error.message, sizeof m.u.error.message,
	    "host speaks protocol versions %u-%u", PH_PROTO_VERSION_MIN,
	    PH_PROTO_VERSION);
	len = ph_msg_encode(&m, buf, sizeof buf);
	(void)send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	return -1;
}

/* Refuses a session over the per-endpoint limit, with an ERROR first. */
static int
session_refuse_limit(int fd, struct guest_ep *gep)
{
	struct ph_msg	m = { .type = PH_ERROR };
	uint8_t		buf[PH_FRAME_MAX];
	size_t		len;

	if ((uint32_t)gep->nsessions < host->limits[LIMIT_SESSIONS])
		return 0;
	limit_hit(LIMIT_SESSIONS, "%s: too many sessions: a new one refused",
	    gep->ep.str);
	m.u.error.code = PH_ERR_LIMIT;
	strlcpy(m.u.error.message, "too many sessions on this endpoint",
	    sizeof m.u.error.message);
	len = ph_msg_encode(&m, buf, sizeof buf);
	(void)send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	return -1;
}

/*
 * The guest must show signs of life: every frame counts, and we PING a
 * few times per period so that a live guest always has one to answer.
 */
static void
session_keepalive_cb(int fd, short ev, void *arg)
{
	struct session	*s = arg;
	struct ph_msg	 m = { .type = PH_PING };
	char		 why[128];

	(void)fd;
	(void)ev;
	if (time(NULL) - s->last_rx >= host->keepalive) {
		snprintf(why, sizeof why, "no frame from the guest in %d s: "
		    "it is frozen or gone", host->keepalive);
		session_end(s, END_KEEPALIVE, why);
		return;
	}
	arc4random_buf(&m.u.ping.nonce, sizeof m.u.ping.nonce);
	session_send(s, &m);
}

/*
 * Every session's keepalive has the same period: one of libevent's
 * common timeouts, a queue instead of the heap, so that a thousand
 * guests' timers cost a constant, not a logarithm, each time.
 */
static void
session_start_keepalive(struct session *s)
{
	struct timeval		 tv;
	const struct timeval	*common;
	int			 ms = host->keepalive * 1000 / 3;

	s->last_rx = time(NULL);
	if (host->keepalive == 0)
		return;
	s->keepalive = event_new(host->base, -1, EV_PERSIST,
	    session_keepalive_cb, s);
	if (s->keepalive == NULL)
		fatalx("event_new");
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((common = event_base_init_common_timeout(host->base, &tv)) == NULL)
		common = &tv;
	event_add(s->keepalive, common);
}

/* WELCOME's fields but the key proof's (gate.c adds them). */
void
session_welcome(struct ph_msg *m, uint16_t version, uint64_t token)
{
	memset(m, 0, sizeof *m);
	m->type = PH_WELCOME;
	m->u.welcome.version = version;
	m->u.welcome.session = token;
	m->u.welcome.max_payload = host->limits[LIMIT_FRAME];
	m->u.welcome.max_forwards = host->limits[LIMIT_FORWARDS];
	strlcpy(m->u.welcome.version_str, PORTHOLE_VERSION,
	    sizeof m->u.welcome.version_str);
}

/*
 * Whether a new session may take the guest's place: one that proved no
 * key never replaces one that did (else any process that reaches the
 * endpoint could end the guest's session by saying HELLO).
 */
static int
session_may_replace(int fd, const struct session *old, int proven)
{
	if (old == NULL || proven || !old->proven)
		return 1;
	gate_say_error(fd, PH_ERR_AUTH, "a guest that proved its key holds "
	    "this endpoint");
	gate_refused(old->gep, old->cid, GATE_HELD, "HELLO without a key "
	    "while the guest's proven session is up");
	close(fd);
	return 0;
}

/*
 * A control session, from the HELLO listener.c read.  a: the challenge
 * the guest answered with a valid AUTH (gate.c), its WELCOME already
 * sent; NULL for a guest with no key to prove.
 */
void
session_new(int fd, struct guest_ep *gep, uint32_t cid,
    const struct ph_hello *h, const struct gate_auth *a)
{
	struct session	*s, *old;
	struct ph_msg	 m;

	if (a == NULL && session_refuse_version(fd, gep, cid, h) == -1)
		return;
	old = session_find(gep, cid);
	if (!session_may_replace(fd, old, a != NULL))
		return;
	if (old != NULL)
		session_end(old, END_REPLACED, "replaced by a new session from "
		    "the guest");
	else if (session_refuse_limit(fd, gep) == -1)
		return;
	s = xcalloc(1, sizeof *s);
	s->gep = gep;
	s->cid = cid;
	s->started = time(NULL);
	s->proven = a != NULL;
	if (a != NULL)
		s->token = a->token;
	while (s->token == 0)
		arc4random_buf(&s->token, sizeof s->token);
	session_set_id(s, h);
	session_set_limits(s);
	TAILQ_INIT(&s->forwards);
	RB_INIT(&s->forward_ids);
	TAILQ_INIT(&s->pairs);
	TAILQ_INIT(&s->pool);
	TAILQ_INIT(&s->returning);
	/* The highest version both speak (the ranges overlap). */
	s->proto = h->vmax < PH_PROTO_VERSION ? h->vmax : PH_PROTO_VERSION;
	if (a != NULL)
		s->proto = a->version;
	s->bev = bufferevent_socket_new(host->base, fd, BEV_OPT_CLOSE_ON_FREE);
	s->end_ev = evtimer_new(host->base, session_end_cb, s);
	if (s->bev == NULL || s->end_ev == NULL)
		fatalx("cannot set up a session");
	bufferevent_setcb(s->bev, session_read_cb, session_write_cb,
	    session_event_cb, s);
	bufferevent_enable(s->bev, EV_READ);
	s->seq = ++session_seq;
	TAILQ_INSERT_TAIL(&host->sessions, s, entry);
	if (RB_INSERT(session_guests, &session_guests, s) != NULL)
		fatalx("%s: two sessions of guest %s", __func__, s->id);
	gep->nsessions++;
	session_start_keepalive(s);

	log_info("guest %s connected%s, agent %s, boot id "
	    "%02x%02x%02x%02x...", s->id, s->proven ? " (key proven)" : "",
	    s->version[0] != '\0' ? s->version : "of unknown version",
	    s->boot_id[0], s->boot_id[1], s->boot_id[2], s->boot_id[3]);
	events_guest(HEV_GUEST_CONNECTED, s, END_ERROR, NULL);
	if (a == NULL) {	/* else its WELCOME went with the challenge */
		session_welcome(&m, s->proto, s->token);
		session_send(s, &m);
	}
	reach_send(s);
}

static void
session_end(struct session *s, enum end_reason end, const char *why)
{
	struct forward	*f;

	log_info("guest %s: session ended: %s", s->id, why);
	limits_flush();
	while ((f = TAILQ_FIRST(&s->forwards)) != NULL)
		forward_close(f, why);
	/* A guest that stopped answering takes its connections with it. */
	pair_session_gone(s, s->keepalive != NULL &&
	    time(NULL) - s->last_rx >= host->keepalive);
	reach_session_gone(s);
	events_guest(HEV_GUEST_GONE, s, end, why);
	TAILQ_REMOVE(&host->sessions, s, entry);
	RB_REMOVE(session_guests, &session_guests, s);
	s->gep->nsessions--;
	if (s->keepalive != NULL)
		event_free(s->keepalive);
	/* Best effort: let a last ERROR reach the guest. */
	(void)evbuffer_write(bufferevent_get_output(s->bev),
	    bufferevent_getfd(s->bev));
	bufferevent_free(s->bev);
	event_free(s->end_ev);
	free(s);
}

void
session_end_all(const char *why)
{
	struct session	*s;

	while ((s = TAILQ_FIRST(&host->sessions)) != NULL)
		session_end(s, END_SHUTDOWN, why);
}

static void
session_unexpected(struct session *s, const struct ph_msg *m)
{
	char	why[PH_REASON_MAX];

	snprintf(why, sizeof why, "protocol error: unexpected %s from guest",
	    ph_type_name(m->type));
	session_send_error(s, PH_ERR_PROTOCOL, why);
	session_fail(s, END_PROTOCOL, why);
}

static void
session_dispatch(struct session *s, const struct ph_msg *m)
{
	struct ph_msg	 pong = { .type = PH_PONG };
	struct forward	*f;
	char		 safe[PH_REASON_MAX * 4];

	switch (m->type) {
	case PH_EXPOSE:
		forward_expose(s, &m->u.expose);
		break;
	case PH_UNEXPOSE:
		if ((f = forward_find(s, m->u.unexpose.id)) != NULL)
			forward_close(f, "guest closed the port");
		else
			log_debug("guest %s: UNEXPOSE of unknown forward %u",
			    s->id, m->u.unexpose.id);
		break;
	case PH_CLOSE:
		pair_close_msg(s, &m->u.close);
		break;
	case PH_SHUT:
		if (s->proto < PH_PROTO_VERSION_REUSE)
			session_unexpected(s, m);
		else
			pair_shut_msg(s, &m->u.shut);
		break;
	case PH_RELEASE:
		if (s->proto < PH_PROTO_VERSION_REUSE)
			session_unexpected(s, m);
		else
			pair_release_msg(s, &m->u.release);
		break;
	case PH_PING:
		pong.u.ping.nonce = m->u.ping.nonce;
		session_send(s, &pong);
		break;
	case PH_PONG:
		break;
	case PH_ERROR:
		limit_warn(s->gep, s->cid, WARN_GUEST_ERROR, "guest %s "
		    "reports error %u: %s", s->id, m->u.error.code,
		    log_safe(m->u.error.message, safe, sizeof safe));
		break;
	default:
		session_unexpected(s, m);
		break;
	}
}

/* Returns -1 when there is no whole frame left or the session is ending. */
static int
session_read_frame(struct session *s, struct evbuffer *in)
{
	struct ph_msg	 m;
	const char	*err;
	char		 why[PH_REASON_MAX];

	switch (ph_evbuffer_read(in, host->limits[LIMIT_FRAME], &m, &err)) {
	case PH_FRAME_MORE:
		return -1;
	case PH_FRAME_BAD:
		snprintf(why, sizeof why, "protocol error: %s", err);
		session_send_error(s, PH_ERR_PROTOCOL, why);
		session_fail(s, END_PROTOCOL, why);
		return -1;
	case PH_FRAME_UNKNOWN:
		s->last_rx = time(NULL);
		snprintf(why, sizeof why, "unknown frame type %u skipped",
		    m.type);
		log_debug("guest %s: %s", s->id, why);
		session_send_error(s, PH_ERR_UNKNOWN_TYPE, why);
		return 0;
	}
	s->last_rx = time(NULL);
	session_dispatch(s, &m);
	return 0;
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct session	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	/* Stop at once when the answers pile up (session_send). */
	while (!evtimer_pending(s->end_ev, NULL) &&
	    (bufferevent_get_enabled(bev) & EV_READ) &&
	    session_read_frame(s, in) == 0)
		;
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session	*s = arg;

	(void)bev;
	/*
	 * A guest that closed the channel may be seen first by a write (a
	 * PING, say) that fails with EPIPE, or by a reset if it left bytes
	 * unread: that is still the guest closing it, not an error here.
	 */
	if (what & BEV_EVENT_ERROR && (EVUTIL_SOCKET_ERROR() == EPIPE ||
	    EVUTIL_SOCKET_ERROR() == ECONNRESET))
		what |= BEV_EVENT_EOF;
	if (what & BEV_EVENT_EOF)
		session_end(s, END_GUEST_CLOSED, "guest closed the control "
		    "channel");
	else if (what & BEV_EVENT_ERROR)
		session_end(s, END_ERROR, strerror(EVUTIL_SOCKET_ERROR()));
}
