/*
 * The proxy socket: where a userland proxy (porthole-docker-proxy, run
 * by dockerd for `docker run -p`) asks for the host's verdict on a port
 * before it binds, so that a refusal reaches the docker command.  A Unix
 * socket inside the VM (default /run/porthole-guest-proxy.sock), mode
 * 0600, opened by root before the agent splits and served by the
 * unprivileged worker, like the status socket; only root is answered
 * (SO_PEERCRED), since only root (dockerd) publishes ports this way.
 *
 * A proxy sends one request line (pxmsg.h).  The bind it names is held
 * (watch_hold): exposed to the host at once, attributed to the proxy,
 * and kept while the proxy's connection stays open, so that its socket,
 * once it listens, is the same bind.  The answer is the host's verdict
 * (bound, rewritten, refused, failed), sent as soon as it comes, or
 * "pending" after GUEST_PROXY_WAIT seconds without one (the host is not
 * connected: the bind is exposed when it is).  The proxy keeps the
 * connection open for as long as it runs; when it closes, the hold ends
 * and a scan decides whether the bind stays.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"
#include "pxmsg.h"
#include "xmalloc.h"

enum px_state {
	PX_READING,		/* the request, not yet whole */
	PX_WAITING,		/* for the host's verdict */
	PX_HOLDING		/* answered: until the proxy closes */
};

struct pxclient {
	TAILQ_ENTRY(pxclient)	 entry;
	int			 fd;
	struct event		*ev;
	enum px_state		 state;
	pid_t			 pid;
	uint32_t		 bind;		/* held; 0: none */
	size_t			 len;
	char			 buf[PXMSG_REQ_MAX];
};

static struct {
	struct localsock	 ls;
	int			 nclients;
	TAILQ_HEAD(, pxclient)	 clients;
} px = { .ls = { .what = "proxy socket", .fd = -1 },
    .clients = TAILQ_HEAD_INITIALIZER(px.clients) };

static void
pxsock_close(struct pxclient *c)
{
	if (c->bind != 0)
		watch_release(c->bind);
	TAILQ_REMOVE(&px.clients, c, entry);
	event_free(c->ev);
	close(c->fd);
	free(c);
	px.nclients--;
}

/* Sends the answer; 0, or -1 when the proxy cannot take it (closed). */
static int
pxsock_send(struct pxclient *c, int verdict, const char *hosts,
    const char *reason)
{
	struct pxmsg_ans	a = { .verdict = verdict };
	char			line[PXMSG_ANS_MAX + 1];
	int			n;

	strlcpy(a.hosts, hosts, sizeof a.hosts);
	pxmsg_printable(a.reason, sizeof a.reason, reason);
	/* The reason is the host's: it may be empty, and must not end us. */
	if (a.reason[0] == '\0')
		strlcpy(a.reason, "no reason given", sizeof a.reason);
	if ((n = pxmsg_ans_format(&a, line, sizeof line)) == -1) {
		log_warnx("proxy socket: pid %d: cannot make the answer "
		    "\"%s\"", (int)c->pid, a.reason);
		return -1;
	}
	/* A few hundred bytes into a fresh socket: one write, or gone. */
	if (write(c->fd, line, (size_t)n) != n) {
		log_warnx("proxy socket: pid %d did not take its answer",
		    (int)c->pid);
		return -1;
	}
	log_debug("proxy socket: pid %d answered %s", (int)c->pid,
	    pxmsg_verdict_name(verdict));
	return 0;
}

/* An answer that ends the conversation, with no bind held. */
static void
pxsock_refuse(struct pxclient *c, int verdict, const char *reason)
{
	pxsock_send(c, verdict, "", reason);
	pxsock_close(c);
}

/* The host's verdict on b, as the proxy's answer; then hold. */
static void
pxsock_answer(struct pxclient *c, const struct gbind *b)
{
	static const int	 map[] = { 0, PX_BOUND, PX_REWRITTEN,
				    PX_REFUSED, PX_FAILED };
	char			 hosts[PXMSG_HOSTS_MAX] = "", one[PH_ADDRSTRLEN];
	int			 i;

	for (i = 0; i < b->reply.naddr; i++) {
		if (i > 0)
			strlcat(hosts, ",", sizeof hosts);
		strlcat(hosts, addr_fmt(&b->reply.host[i].addr,
		    b->reply.host[i].port, one, sizeof one), sizeof hosts);
	}
	c->state = PX_HOLDING;
	event_del(c->ev);
	if (b->verdict >= sizeof map / sizeof map[0] ||
	    pxsock_send(c, map[b->verdict], hosts, b->reply.reason) == -1 ||
	    event_add(c->ev, NULL) == -1)
		pxsock_close(c);
}

static void
pxsock_request(struct pxclient *c, const struct pxmsg_req *r)
{
	struct gbind	 key, *b;
	struct timeval	 tv = { GUEST_PROXY_WAIT, 0 };
	char		 ga[PH_ADDRSTRLEN], why[64];

	addr_fmt(&r->addr, r->port, ga, sizeof ga);
	log_info("proxy socket: %s (pid %d) asks for %s %s", r->name,
	    (int)c->pid, proto_name(r->proto), ga);
	if (watch_ignored(guest->ignore, guest->nignore, r->proto, r->port)) {
		snprintf(why, sizeof why, "port %u is not forwarded (-i)",
		    r->port);
		pxsock_refuse(c, PX_IGNORED, why);
		return;
	}
	memset(&key, 0, sizeof key);
	key.proto = r->proto;
	key.addr = r->addr;
	key.port = r->port;
	/* docker-proxy on "::" takes IPv6 only, beside its 0.0.0.0 twin */
	key.v6only = r->addr.family == AF_INET6;
	b = watch_hold(&key, r->name);
	c->bind = b->id;
	if (b->verdict != 0) {
		pxsock_answer(c, b);
		return;
	}
	c->state = PX_WAITING;
	event_add(c->ev, &tv);
}

/* The request, as its bytes come: whole, too long, or cut short. */
static void
pxsock_read_request(struct pxclient *c)
{
	struct pxmsg_req	 r;
	char			 err[128], why[200];
	ssize_t			 n;

	n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		pxsock_close(c);
		return;
	}
	c->len += (size_t)n;
	if (memchr(c->buf, '\n', c->len) == NULL && c->len < sizeof c->buf)
		return;
	if (memchr(c->buf, '\n', c->len) != c->buf + c->len - 1)
		strlcpy(err, c->len < sizeof c->buf ? "bytes after the line" :
		    "longer than 128 bytes", sizeof err);
	else if (pxmsg_req_parse(c->buf, c->len, &r, err, sizeof err) == 0) {
		pxsock_request(c, &r);
		return;
	}
	log_warnx("proxy socket: bad request from pid %d: %s", (int)c->pid,
	    err);
	snprintf(why, sizeof why, "the guest agent cannot read the request: "
	    "%s", err);
	pxsock_refuse(c, PX_INVALID, why);
}

/* No verdict in time: the proxy binds; the host decides when it can. */
static void
pxsock_answer_pending(struct pxclient *c)
{
	c->state = PX_HOLDING;
	event_del(c->ev);
	if (pxsock_send(c, PX_PENDING, "", gsession_established() ?
	    "no verdict from the host in time" : "the host is not "
	    "connected: its verdict comes when it is") == -1 ||
	    event_add(c->ev, NULL) == -1)
		pxsock_close(c);
}

static void
pxsock_client_cb(int fd, short ev, void *arg)
{
	struct pxclient	*c = arg;
	char		 byte;

	if (ev & EV_TIMEOUT) {
		if (c->state == PX_READING) {
			log_warnx("proxy socket: pid %d sent no request in "
			    "time", (int)c->pid);
			pxsock_close(c);
		} else if (c->state == PX_WAITING)
			pxsock_answer_pending(c);
		return;
	}
	if (c->state == PX_READING) {
		pxsock_read_request(c);
		return;
	}
	/* After the request, only its end: EOF, or bytes that break it. */
	if (read(fd, &byte, 1) == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	pxsock_close(c);
}

static void
pxsock_accept_cb(int lfd, short ev, void *arg)
{
	struct pxclient	*c;
	struct timeval	 tv = { GUEST_PROXY_READ, 0 };
	uid_t		 uid;
	int		 fd;

	(void)ev;
	(void)arg;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("proxy socket: accept");
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->ev = event_new(guest->base, fd, EV_READ | EV_PERSIST,
	    pxsock_client_cb, c);
	if (c->ev == NULL)
		fatalx("event_new");
	TAILQ_INSERT_TAIL(&px.clients, c, entry);
	px.nclients++;
	if (localsock_peer(fd, &uid, &c->pid) == -1 || uid != 0) {
		log_warnx("proxy socket: uid %d (pid %d) refused: root only",
		    (int)uid, (int)c->pid);
		pxsock_refuse(c, PX_DENIED, "only root may ask the guest "
		    "agent for a port");
	} else if (px.nclients > GUEST_PROXY_CLIENTS) {
		log_warnx("proxy socket: pid %d: %d proxies already asked",
		    (int)c->pid, GUEST_PROXY_CLIENTS);
		pxsock_refuse(c, PX_BUSY, "too many proxies ask at once");
	} else
		event_add(c->ev, &tv);
}

/* A verdict came for b: every proxy waiting for it is answered. */
void
pxsock_verdict(const struct gbind *b)
{
	struct pxclient	*c, *next;
	uint32_t	 id = b->id;

	/* An answer that fails closes its client: the next is kept. */
	TAILQ_FOREACH_SAFE(c, &px.clients, entry, next)
		if (c->state == PX_WAITING && c->bind == id)
			pxsock_answer(c, b);
}

/*
 * Opens the socket, as root before the agent detaches and splits, as
 * status_open() does: -r's path, or NULL for the default.
 */
void
pxsock_open(const char *path)
{
	localsock_open(&px.ls, path, GUEST_PROXY_PATH);
}

void
pxsock_start(void)
{
	localsock_start(&px.ls, pxsock_accept_cb);
}

/* At exit: every proxy's connection closed, its hold with the watcher. */
void
pxsock_stop(void)
{
	struct pxclient	*c;

	while ((c = TAILQ_FIRST(&px.clients)) != NULL) {
		c->bind = 0;
		pxsock_close(c);
	}
	localsock_stop(&px.ls);
}

/* The worker, once split: the path is the helper's to remove. */
void
pxsock_forget(void)
{
	localsock_forget(&px.ls);
}

void
pxsock_unlink(void)
{
	localsock_unlink(&px.ls);
}
