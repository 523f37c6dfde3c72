/*
 * Forwards: a guest bind, the policy's decision on it, and the host
 * listeners that carry it out.  Every EXPOSE is answered with an EXPOSED
 * verdict and one log line.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "compat.h"
#include "host.h"
#include "log.h"
#include "xmalloc.h"

static int
forward_id_cmp(const struct forward *a, const struct forward *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

PH_RB_PROTOTYPE(forward_ids, forward, by_id, forward_id_cmp);
PH_RB_GENERATE(forward_ids, forward, by_id, forward_id_cmp)

/* A guest's forward by the id it gave the bind: a tree, for guests with
 * thousands of them. */
struct forward *
forward_find(struct session *s, uint32_t id)
{
	struct forward	key = { .id = id };

	return RB_FIND(forward_ids, &s->forward_ids, &key);
}

static void
forward_accept_cb(struct evconnlistener *l, int fd, struct sockaddr *sa,
    int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	conn_accept(arg, fd);
}

static void
forward_resume_cb(int fd, short ev, void *arg)
{
	struct forward	*f = arg;
	int		 i;

	(void)fd;
	(void)ev;
	for (i = 0; i < PH_HOSTADDR_MAX; i++)
		if (f->lis[i] != NULL)
			evconnlistener_enable(f->lis[i]);
}

/* Stops accepting for a moment (out of descriptors) rather than spin. */
void
forward_pause(struct forward *f, const char *why)
{
	struct timeval	 tv = { 0, HOST_ACCEPT_PAUSE_MS * 1000 };
	int		 i;

	log_warnx("guest %s: accept on forward %u: pausing for %d ms: %s",
	    f->s->id, f->id, HOST_ACCEPT_PAUSE_MS, why);
	for (i = 0; i < PH_HOSTADDR_MAX; i++)
		if (f->lis[i] != NULL)
			evconnlistener_disable(f->lis[i]);
	if (f->resume == NULL &&
	    (f->resume = evtimer_new(host->base, forward_resume_cb, f)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(f->resume, &tv);
}

static void
forward_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct forward	*f = arg;

	(void)l;
	if (errno != EMFILE && errno != ENFILE) {
		log_warn("guest %s: accept on forward %u", f->s->id, f->id);
		return;
	}
	forward_pause(f, strerror(errno));
}

/*
 * Opens one host listener, the nth of f, or a UDP forward's socket
 * (udp.c): 0, or -1 with errno set.  admit.c decides what to open.
 */
int
forward_open(struct forward *f, int n, struct ph_hostaddr *h)
{
	int	fd;

	if (f->req.proto == IPPROTO_UDP)
		return udp_listen(f, h);
	if (f->req.proto == PH_KIND_UNIX)
		fd = usock_listen(f);
	else
		fd = hostsock_open(f, h, SOCK_STREAM);
	if (fd == -1)
		return -1;
	f->lis[n] = evconnlistener_new(host->base, forward_accept_cb, f,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (f->lis[n] == NULL)
		fatalx("evconnlistener_new");
	evconnlistener_set_error_cb(f->lis[n], forward_accept_error_cb);
	return 0;
}

/* What the guest exposed, for the log: an address, or a socket. */
static const char *
forward_what(const struct forward *f, char *buf, size_t len)
{
	if (f->req.proto != PH_KIND_UNIX)
		return addr_fmt(&f->req.addr, f->req.port, buf, len);
	snprintf(buf, len, "%s (%s)", f->req.sock_name, f->guest_path[0] !=
	    '\0' ? f->guest_path : "-");
	return buf;
}

static void
forward_log(const struct forward *f)
{
	char	ga[PH_SOCKPATH_MAX + PH_SOCKNAME_MAX + 8];
	char	ha[PH_SOCKPATH_MAX + PH_ADDRSTRLEN * 2 + 8] = "";
	char	one[PH_ADDRSTRLEN];
	int	i;

	forward_what(f, ga, sizeof ga);
	strlcpy(ha, f->host_path, sizeof ha);
	for (i = 0; i < f->dec.naddr; i++) {
		if (i > 0)
			strlcat(ha, " ", sizeof ha);
		strlcat(ha, addr_fmt(&f->dec.host[i].addr, f->dec.host[i].port,
		    one, sizeof one), sizeof ha);
	}
	log_info("guest %s: %s %s%s%s -> %s%s%s (%s%s%s)", f->s->id,
	    proto_name(f->req.proto), ga,
	    f->process[0] != '\0' ? " " : "", f->process,
	    ph_verdict_name(f->dec.verdict), ha[0] != '\0' ? " " : "", ha,
	    f->dec.reason, f->dec.held_by[0] != '\0' ? "; held by guest " :
	    "", f->dec.held_by);
}

static void
forward_reply(struct session *s, uint32_t id, const struct bind_decision *d)
{
	struct ph_msg	m = { .type = PH_EXPOSED };
	int		i;

	m.u.exposed.id = id;
	m.u.exposed.verdict = d->verdict;
	m.u.exposed.naddr = (uint8_t)d->naddr;
	for (i = 0; i < d->naddr; i++)
		m.u.exposed.host[i] = d->host[i];
	strlcpy(m.u.exposed.reason, d->reason, sizeof m.u.exposed.reason);
	session_send(s, &m);
}

static void
forward_reply_failed(struct session *s, uint32_t id, const char *why)
{
	struct bind_decision	d = { .verdict = PH_FAILED };

	strlcpy(d.reason, why, sizeof d.reason);
	forward_reply(s, id, &d);
}

static void
forward_reject(struct session *s, const struct ph_expose *e, const char *why)
{
	limit_warn(s->gep, s->cid, WARN_EXPOSE, "guest %s: EXPOSE %u failed: "
	    "%s", s->id, e->id, why);
	forward_reply_failed(s, e->id, why);
}

/* Carries out f->dec: admit.c for ports, usock.c for a socket. */
static enum refusal
forward_admit(struct forward *f, int listening)
{
	if (f->req.proto == PH_KIND_UNIX)
		return usock_admit(f, listening);
	return admit_forward(f, listening);
}

/*
 * A new forward f of s, its bind filled in: listed (s->forwards, its
 * tree by id), decided by policy and admitted.  Returns why it does not
 * listen, or REFUSAL_NONE.
 */
enum refusal
forward_start(struct session *s, struct forward *f)
{
	enum refusal	r;

	f->s = s;
	f->seq = ++s->forward_seq;
	TAILQ_INSERT_TAIL(&s->forwards, f, entry);
	RB_INSERT(forward_ids, &s->forward_ids, f);
	s->nforwards++;
	policy_decide(&host->policy, &f->req, &f->want);
	f->dec = f->want;
	r = forward_admit(f, 0);
	hostports_add(f);
	return r;
}

void
forward_expose(struct session *s, const struct ph_expose *e)
{
	struct forward	*f;

	if (forward_find(s, e->id) != NULL) {
		forward_reject(s, e, "duplicate forward id");
		return;
	}
	if ((uint32_t)s->nforwards >= host->limits[LIMIT_BINDS]) {
		limit_hit(LIMIT_BINDS, "guest %s: EXPOSE %u failed: too many "
		    "binds", s->id, e->id);
		forward_reply_failed(s, e->id, "too many binds for this guest");
		return;
	}
	if (e->proto != IPPROTO_TCP && e->proto != IPPROTO_UDP &&
	    (e->proto != PH_KIND_UNIX || s->proto < PH_PROTO_VERSION_UNIX)) {
		forward_reject(s, e, "only tcp and udp are forwarded (and unix "
		    "sockets from protocol version 5)");
		return;
	}
	f = xcalloc(1, sizeof *f);
	f->s = s;
	f->id = e->id;
	f->refs = 1;
	f->req.proto = e->proto;
	f->req.addr = e->addr;
	f->req.port = e->port;
	f->req.v6only = (e->flags & PH_EXPOSE_V6ONLY) != 0;
	strlcpy(f->process, e->process, sizeof f->process);
	strlcpy(f->req.sock_name, e->name, sizeof f->req.sock_name);
	strlcpy(f->guest_path, e->path, sizeof f->guest_path);
	f->req.guest_name = s->name;
	f->req.guest_ep = s->gep->ep.str;
	f->req.guest_cid = s->cid;
	forward_start(s, f);
	forward_log(f);
	events_forward(HEV_FORWARD, f, NULL);
	forward_reply(s, e->id, &f->dec);
}

/*
 * Closes the listeners; connections already made go on to their end.
 * Forwards waiting for the port or the slot are told.
 * UDP flows end with their forward's sockets: they send from them.
 */
static void
forward_unlisten(struct forward *f)
{
	int	i, freed = 0;

	hostports_remove(f);
	for (i = 0; i < PH_HOSTADDR_MAX; i++) {
		if (f->lis[i] != NULL) {
			evconnlistener_free(f->lis[i]);
			freed = 1;
		}
		f->lis[i] = NULL;
	}
	if (f->resume != NULL)
		event_free(f->resume);
	f->resume = NULL;
	if (udp_close(f) > 0)
		freed = 1;
	usock_unlisten(f);
	if (freed)
		admit_freed();
}

static int
decision_equal(const struct bind_decision *a, const struct bind_decision *b)
{
	return strcmp(a->reason, b->reason) == 0 && admit_same_hosts(a, b);
}

/*
 * Decides f again under the policy now in force.  The same decision
 * keeps its listeners (and the port "to auto" chose); so do the same
 * listeners for another reason (a rule moved), and the guest is told
 * the new reason.  A new decision closes them (first, so that a
 * narrower address can take the port), carries out what it asks for,
 * and is sent to the guest: EXPOSED again, for the same bind id.
 * Connections already made go on to their end, as when the guest
 * closes the port.  A forward that waits (admit.c) is tried again.
 */
static int
forward_redecide(struct forward *f)
{
	struct bind_decision	d, old = f->dec;
	int			listening = admit_listening(&f->dec);

	policy_decide(&host->policy, &f->req, &d);
	if (admit_keeps(f, &d)) {
		if (strcmp(d.reason, f->want.reason) == 0)
			return 0;
		f->want = d;
		strlcpy(f->dec.reason, d.reason, sizeof f->dec.reason);
		if (listening)
			strlcat(f->dec.reason, f->note, sizeof f->dec.reason);
	} else {
		forward_unlisten(f);
		admit_unwait(f);
		f->want = f->dec = d;
		forward_admit(f, listening);
		hostports_add(f);
	}
	if (decision_equal(&old, &f->dec))
		return 0;
	forward_log(f);
	events_forward(HEV_FORWARD_REDECIDED, f, NULL);
	forward_reply(f->s, f->id, &f->dec);
	return 1;
}

/* A waiting forward's port or slot may be free: admit.c asks. */
int
forward_retry(struct forward *f)
{
	return forward_redecide(f);
}

/*
 * The policy changed (the API, a reload): every forward of every guest
 * is decided again.  Returns how many changed.
 */
int
forward_redecide_all(const char *why)
{
	struct session	*s;
	struct forward	*f;
	int		 n = 0;

	log_info("re-deciding every forward: %s", why);
	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry)
			n += forward_redecide(f);
	log_info("%d forward%s changed", n, n == 1 ? "" : "s");
	return n;
}

void
forward_close(struct forward *f, const char *why)
{
	struct session	*s = f->s;
	char		 ga[PH_SOCKPATH_MAX + PH_SOCKNAME_MAX + 8];

	forward_unlisten(f);
	admit_unwait(f);
	if (admit_listening(&f->dec))
		log_info("guest %s: %s %s closed: %s", s->id,
		    proto_name(f->req.proto), forward_what(f, ga, sizeof ga),
		    why);
	events_forward(HEV_FORWARD_CLOSED, f, why);
	TAILQ_REMOVE(&s->forwards, f, entry);
	RB_REMOVE(forward_ids, &s->forward_ids, f);
	s->nforwards--;
	f->s = NULL;
	forward_unref(f);
}

void
forward_unref(struct forward *f)
{
	if (--f->refs == 0)
		free(f);
}
