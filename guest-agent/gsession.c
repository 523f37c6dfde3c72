/*
 * The control channel to the host agent.  The guest always dials: it
 * connects, says HELLO, waits for WELCOME, then sends EXPOSE for every
 * bind it knows, so that a restarted host (or guest) is back in sync at
 * once.  When the channel fails it reconnects with capped exponential
 * backoff.  Frames from the host are parsed as strictly as the host
 * parses ours; a bad one ends the channel, which is then re-dialled.
 * What the host makes us send (PONGs, CLOSEs) is bounded as the host
 * bounds us: a host that sends without reading our answers, so that
 * more than GUEST_CTL_QUEUE_MAX bytes wait for it, is dropped.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "frameio.h"
#include "guest.h"
#include "log.h"
#include "version.h"

enum gs_state {
	GS_IDLE,		/* waiting for the backoff timer */
	GS_CONNECTING,		/* connect() under way */
	GS_HELLO,		/* HELLO sent, waiting for WELCOME */
	GS_AUTH,		/* AUTH sent, waiting for the host's */
	GS_UP			/* established */
};

static struct {
	enum gs_state		 state;
	int			 fd;
	struct event		*connect_ev;	/* writable or timeout */
	struct event		*timer;		/* backoff, WELCOME timeout */
	struct event		*keepalive;	/* PING, and watch the host */
	time_t			 last_rx;	/* last frame from the host */
	struct bufferevent	*bev;
	uint64_t		 token;
	uint16_t		 version;	/* the protocol spoken, once up */
	struct ph_welcome	 welcome;	/* kept over GS_AUTH */
	int			 said_unix;	/* too old for sockets: said */
	int			 backoff_ms;
	int			 failures;	/* in a row, for logging */
} gs = { .fd = -1 };

static void	gsession_connect(void);
static void	gsession_read_cb(struct bufferevent *, void *);
static void	gsession_event_cb(struct bufferevent *, short, void *);

int
gsession_established(void)
{
	return gs.state == GS_UP;
}

/* Whether EOFs travel as SHUT and streams are reused (protocol 4). */
int
gsession_reuses(void)
{
	return gs.state == GS_UP && gs.version >= PH_PROTO_VERSION_REUSE;
}

uint64_t
gsession_token(void)
{
	return gs.token;
}

/* Sends m now or not at all: a lost frame is resent on the next sync. */
int
gsession_send(const struct ph_msg *m)
{
	if (gs.bev == NULL)
		return -1;
	ph_bufferevent_send(gs.bev, m);
	return 0;
}

/*
 * A Unix socket needs a host of protocol 5: an older one would end the
 * session on its EXPOSE.  Said once a session.
 */
static int
gsession_unix_ok(const struct gbind *b)
{
	if (gs.version >= PH_PROTO_VERSION_UNIX)
		return 1;
	if (!gs.said_unix)
		log_warnx("host speaks protocol %u: Unix sockets (%s) are not "
		    "forwarded (protocol %u and up)", gs.version, b->path,
		    PH_PROTO_VERSION_UNIX);
	gs.said_unix = 1;
	return 0;
}

void
gsession_expose(const struct gbind *b)
{
	struct ph_msg	m = { .type = PH_EXPOSE };

	if (gs.state != GS_UP)
		return;
	if (b->proto == PH_KIND_UNIX && !gsession_unix_ok(b))
		return;
	m.u.expose.id = b->id;
	m.u.expose.proto = b->proto;
	m.u.expose.flags = b->v6only ? PH_EXPOSE_V6ONLY : 0;
	m.u.expose.addr = b->addr;
	m.u.expose.port = b->port;
	strlcpy(m.u.expose.name, b->name, sizeof m.u.expose.name);
	strlcpy(m.u.expose.path, b->path, sizeof m.u.expose.path);
	strlcpy(m.u.expose.process, b->process, sizeof m.u.expose.process);
	gsession_send(&m);
}

void
gsession_unexpose(const struct gbind *b)
{
	struct ph_msg	m = { .type = PH_UNEXPOSE };

	if (gs.state != GS_UP || (b->proto == PH_KIND_UNIX &&
	    gs.version < PH_PROTO_VERSION_UNIX))
		return;
	m.u.unexpose.id = b->id;
	gsession_send(&m);
}

static void
gsession_schedule(void)
{
	struct timeval	tv;
	int		ms;

	/* A little jitter, so that many guests do not dial in step. */
	ms = gs.backoff_ms + (int)arc4random_uniform(gs.backoff_ms / 4 + 1);
	if (ms > GUEST_BACKOFF_MAX_MS)
		ms = GUEST_BACKOFF_MAX_MS;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	gs.backoff_ms *= 2;
	if (gs.backoff_ms > GUEST_BACKOFF_MAX_MS)
		gs.backoff_ms = GUEST_BACKOFF_MAX_MS;
	gs.state = GS_IDLE;
	evtimer_add(gs.timer, &tv);
}

static void
forget_verdict(struct gbind *b, void *arg)
{
	(void)arg;
	b->verdict = 0;
}

/* Drops the channel and schedules the next attempt. */
static void
gsession_drop(const char *why)
{
	if (gs.state == GS_UP || gs.failures == 0)
		log_warnx("host %s: %s; reconnecting", guest->ep.str, why);
	else
		log_debug("host %s: %s", guest->ep.str, why);
	gs.failures++;
	notify_ready("host %s: %s; retrying", guest->ep.str, why);
	if (gs.connect_ev != NULL)
		event_free(gs.connect_ev);
	gs.connect_ev = NULL;
	if (gs.bev != NULL)
		bufferevent_free(gs.bev);
	else if (gs.fd != -1)
		close(gs.fd);
	gs.bev = NULL;
	gs.fd = -1;
	gs.token = 0;
	gs.version = 0;
	evtimer_del(gs.timer);
	event_del(gs.keepalive);
	dial_unshare();		/* relays shut their streams down again */
	reach_clear();		/* nothing to reach without a session */
	gstream_pool_stop();
	watch_foreach(forget_verdict, NULL);	/* that session's answers */
	gsession_schedule();
}

static void
gsession_hello(void)
{
	struct ph_msg	m = { .type = PH_HELLO };
	struct timeval	tv = { GUEST_WELCOME_TIMEOUT, 0 };

	m.u.hello.vmin = PH_PROTO_VERSION_MIN;
	m.u.hello.vmax = PH_PROTO_VERSION;
	memcpy(m.u.hello.boot_id, guest->boot_id, PH_BOOTID_LEN);
	strlcpy(m.u.hello.version, PORTHOLE_VERSION, sizeof m.u.hello.version);
	strlcpy(m.u.hello.name, guest->name, sizeof m.u.hello.name);
	gs.bev = bufferevent_socket_new(guest->base, gs.fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (gs.bev == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_setcb(gs.bev, gsession_read_cb, NULL, gsession_event_cb,
	    NULL);
	bufferevent_enable(gs.bev, EV_READ);
	gs.state = GS_HELLO;
	gsession_send(&m);
	evtimer_add(gs.timer, &tv);
}

static void
gsession_connected_cb(int fd, short ev, void *arg)
{
	int		err = 0;
	socklen_t	len = sizeof err;

	(void)arg;
	event_free(gs.connect_ev);
	gs.connect_ev = NULL;
	if (ev & EV_TIMEOUT) {
		gsession_drop("connect timed out");
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		errno = err;
		gsession_drop(strerror(err));
		return;
	}
	gsession_hello();
}

static void
gsession_connect(void)
{
	struct timeval	tv = { GUEST_CONNECT_TIMEOUT, 0 };
	int		pending;

	gs.state = GS_CONNECTING;
	if ((gs.fd = privsep_connect(&pending)) == -1) {
		gsession_drop(strerror(errno));
		return;
	}
	if (!pending) {
		gsession_hello();
		return;
	}
	gs.connect_ev = event_new(guest->base, gs.fd, EV_WRITE,
	    gsession_connected_cb, NULL);
	if (gs.connect_ev == NULL)
		fatalx("event_new");
	event_add(gs.connect_ev, &tv);
}

static void
gsession_timer_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	if (gs.state == GS_HELLO)
		gsession_drop("no WELCOME from the host in time");
	else if (gs.state == GS_AUTH)
		gsession_drop("the host did not answer the key's proof in "
		    "time");
	else if (gs.state == GS_IDLE)
		gsession_connect();
}

static void
sync_one(struct gbind *b, void *arg)
{
	(void)arg;
	gsession_expose(b);
}

/* A host that stopped answering is dropped, and dialled again. */
static void
gsession_keepalive_cb(int fd, short ev, void *arg)
{
	struct ph_msg	m = { .type = PH_PING };
	char		why[128];

	(void)fd;
	(void)ev;
	(void)arg;
	if (time(NULL) - gs.last_rx >= guest->keepalive) {
		snprintf(why, sizeof why, "no frame from the host in %d s",
		    guest->keepalive);
		gsession_drop(why);
		return;
	}
	arc4random_buf(&m.u.ping.nonce, sizeof m.u.ping.nonce);
	gsession_send(&m);
}

static void	gsession_up(const struct ph_welcome *);

/*
 * WELCOME.  One that asks for the key is answered with AUTH, and the
 * session is up only once the host's own AUTH proves it holds the key
 * too (gsession_host_proof): nothing else goes out before, so that no
 * data stream reaches the host ahead of the proof.
 */
static void
gsession_welcome(const struct ph_welcome *w)
{
	struct ph_msg	m = { .type = PH_AUTH };

	if (w->version < PH_PROTO_VERSION_AUTH || w->auth == PH_AUTH_NONE) {
		gsession_up(w);
		return;
	}
	if (!guest->has_key) {
		gsession_drop("the host asks for a key: start porthole-guest "
		    "with -K and the host's key file");
		return;
	}
	auth_prove(AUTH_GUEST, guest->key, w->nonce, w->session,
	    m.u.auth.proof);
	gsession_send(&m);
	auth_wipe(&m, sizeof m);
	gs.welcome = *w;
	gs.state = GS_AUTH;
}

static void
gsession_host_proof(const struct ph_auth *a)
{
	if (auth_verify(AUTH_HOST, guest->key, gs.welcome.nonce,
	    gs.welcome.session, a->proof) == -1) {
		gsession_drop("the host's AUTH does not prove the key: not "
		    "our host");
		return;
	}
	gsession_up(&gs.welcome);
}

static void
gsession_up(const struct ph_welcome *w)
{
	char		safe[PH_NAME_MAX * 4];
	struct timeval	tv;
	int		ms = guest->keepalive * 1000 / 3;

	if (guest->keepalive > 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		event_add(gs.keepalive, &tv);
	}
	evtimer_del(gs.timer);
	gs.token = w->session;
	gs.version = w->version;
	gs.said_unix = 0;
	gs.state = GS_UP;
	gs.backoff_ms = GUEST_BACKOFF_MIN_MS;
	gs.failures = 0;
	log_info("connected to host %s (porthole-host %s, protocol %u%s)",
	    guest->ep.str, log_safe(w->version_str, safe, sizeof safe),
	    w->version, w->auth == PH_AUTH_HMAC ? ", key proven both ways" :
	    "");
	notify_ready("connected to host %s", guest->ep.str);
	watch_foreach(sync_one, NULL);
	if (gs.state == GS_UP && w->version >= PH_PROTO_VERSION_POOL)
		gstream_pool_start(guest->pool,
		    w->version >= PH_PROTO_VERSION_REUSE);
}

static void
gsession_exposed(const struct ph_exposed *x)
{
	struct gbind	*b = watch_find(x->id);
	char		 ga[PH_ADDRSTRLEN], ha[PH_ADDRSTRLEN * 2 + 2] = "";
	char		 one[PH_ADDRSTRLEN], safe[PH_REASON_MAX * 4];
	int		 i;

	if (b == NULL)
		return;		/* the bind went away meanwhile */
	b->verdict = x->verdict;
	b->reply = *x;
	for (i = 0; i < x->naddr; i++) {
		strlcat(ha, i > 0 ? " " : "on host ", sizeof ha);
		strlcat(ha, addr_fmt(&x->host[i].addr, x->host[i].port, one,
		    sizeof one), sizeof ha);
	}
	if (b->proto == PH_KIND_UNIX)
		strlcpy(ga, b->name, sizeof ga);
	else
		addr_fmt(&b->addr, b->port, ga, sizeof ga);
	log_safe(x->reason, safe, sizeof safe);
	if (x->verdict == PH_REFUSED || x->verdict == PH_FAILED)
		log_warnx("%s %s: %s by host: %s", proto_name(b->proto), ga,
		    ph_verdict_name(x->verdict), safe);
	else
		log_info("%s %s: %s %s: %s", proto_name(b->proto), ga,
		    ph_verdict_name(x->verdict), ha, safe);
	pxsock_verdict(b);	/* a proxy may be waiting for it */
}

static void
gsession_dispatch(const struct ph_msg *m)
{
	struct ph_msg	pong = { .type = PH_PONG };
	char		safe[PH_REASON_MAX * 4];

	if (gs.state == GS_HELLO && m->type != PH_WELCOME &&
	    m->type != PH_ERROR) {
		gsession_drop("host did not answer HELLO with WELCOME");
		return;
	}
	if (gs.state == GS_AUTH && m->type != PH_AUTH &&
	    m->type != PH_ERROR) {
		gsession_drop("host did not answer AUTH with its own");
		return;
	}
	switch (m->type) {
	case PH_WELCOME:
		if (gs.state != GS_HELLO) {
			gsession_drop("unexpected WELCOME");
			return;
		}
		gsession_welcome(&m->u.welcome);
		break;
	case PH_AUTH:
		if (gs.state != GS_AUTH) {
			gsession_drop("unexpected AUTH");
			return;
		}
		gsession_host_proof(&m->u.auth);
		break;
	case PH_EXPOSED:
		gsession_exposed(&m->u.exposed);
		break;
	case PH_OPEN:
		dial_open(&m->u.open);
		break;
	case PH_PAIR:
		dial_pair(&m->u.pair);
		break;
	case PH_CLOSE:
		dial_close(&m->u.close);
		break;
	case PH_SHUT:
		if (!gsession_reuses()) {
			gsession_drop("SHUT from a host before protocol 4");
			return;
		}
		dial_shut(&m->u.shut);
		break;
	case PH_REACH:
		if (gs.state != GS_UP || gs.version < PH_PROTO_VERSION_REACH) {
			gsession_drop("REACH from a host before protocol 6");
			return;
		}
		reach_update(&m->u.reach);
		break;
	case PH_PING:
		pong.u.ping.nonce = m->u.ping.nonce;
		gsession_send(&pong);
		break;
	case PH_PONG:
		break;
	case PH_ERROR:
		log_warnx("host %s reports error %u: %s", guest->ep.str,
		    m->u.error.code, log_safe(m->u.error.message, safe,
		    sizeof safe));
		if (m->u.error.code != PH_ERR_UNKNOWN_TYPE)
			gsession_drop("host reported an error");
		break;
	default:
		gsession_drop("unexpected frame from host");
		break;
	}
}

/* Returns -1 when no whole frame is left or the channel was dropped. */
static int
gsession_read_frame(struct evbuffer *in)
{
	struct ph_msg	 m;
	const char	*err;
	char		 why[PH_REASON_MAX];
	size_t		 queued;

	switch (ph_evbuffer_read(in, PH_PAYLOAD_MAX, &m, &err)) {
	case PH_FRAME_MORE:
		return -1;
	case PH_FRAME_UNKNOWN:
		gs.last_rx = time(NULL);
		log_debug("host sent unknown frame type %u: skipped", m.type);
		return 0;
	case PH_FRAME_BAD:
		snprintf(why, sizeof why, "protocol error from host: %s", err);
		gsession_drop(why);
		return -1;
	}
	gs.last_rx = time(NULL);
	gsession_dispatch(&m);
	/* A drop frees the buffer we were reading. */
	if (gs.bev == NULL)
		return -1;
	if ((queued = evbuffer_get_length(bufferevent_get_output(gs.bev))) >
	    GUEST_CTL_QUEUE_MAX) {
		snprintf(why, sizeof why, "host does not read its control "
		    "channel: %zu bytes wait for it", queued);
		gsession_drop(why);
		return -1;
	}
	return 0;
}

static void
gsession_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	(void)arg;
	while (gsession_read_frame(in) == 0)
		;
}

static void
gsession_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)arg;
	/* A closed channel may be seen first by a write: see session.c. */
	if (what & BEV_EVENT_ERROR && (EVUTIL_SOCKET_ERROR() == EPIPE ||
	    EVUTIL_SOCKET_ERROR() == ECONNRESET))
		what |= BEV_EVENT_EOF;
	if (what & BEV_EVENT_EOF)
		gsession_drop("host closed the control channel");
	else if (what & BEV_EVENT_ERROR)
		gsession_drop(strerror(EVUTIL_SOCKET_ERROR()));
}

/* At exit: the channel closed and every event freed. */
void
gsession_stop(void)
{
	if (gs.connect_ev != NULL)
		event_free(gs.connect_ev);
	if (gs.bev != NULL)
		bufferevent_free(gs.bev);
	else if (gs.fd != -1)
		close(gs.fd);
	if (gs.timer != NULL)
		event_free(gs.timer);
	if (gs.keepalive != NULL)
		event_free(gs.keepalive);
	memset(&gs, 0, sizeof gs);
	gs.fd = -1;
}

void
gsession_start(void)
{
	gs.backoff_ms = GUEST_BACKOFF_MIN_MS;
	gs.timer = evtimer_new(guest->base, gsession_timer_cb, NULL);
	gs.keepalive = event_new(guest->base, -1, EV_PERSIST,
	    gsession_keepalive_cb, NULL);
	if (gs.timer == NULL || gs.keepalive == NULL)
		fatalx("evtimer_new");
	gsession_connect();
}
