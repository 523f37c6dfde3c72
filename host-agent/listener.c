/*
 * Guest endpoints.  Every connection a guest makes starts with one frame:
 * HELLO for a control session, DATA for a data stream or POOL for a data
 * stream opened in advance.  That frame is
 * read exactly (header, then the length it gives), so that not one byte
 * of what follows it is taken from the socket before its owner has it.
 * A guest that must prove a key (gate.c) is sent WELCOME with a nonce
 * and stays here, read the same way, until its AUTH.
 */
#include <sys/socket.h>
#include <linux/vm_sockets.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "auth.h"
#include "compat.h"
#include "host.h"
#include "log.h"
#include "xmalloc.h"

/*
 * The first read takes as much as the shortest valid first frame (DATA,
 * POOL and REVERSE, 24 bytes; HELLO is longer): no byte past the frame, and one
 * read instead of two for a data stream.
 */
#define PH_FIRST_READ	(PH_HDR_LEN + 16)

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	int			 fd;
	struct guest_ep		*gep;
	uint32_t		 cid;
	struct event		*ev;
	struct event		*deadline;	/* not renewed by reads */
	size_t			 have;
	int			 checked;	/* the header */
	uint8_t			 buf[PH_FIRST_FRAME_MAX];
	/* After a HELLO that must prove a key: AUTH is due. */
	int			 challenged;
	struct ph_hello		 hello;
	struct gate_auth	 auth;
	uint8_t			 key[PH_KEY_LEN];
};

/* Every connection yet to send its first frame: freed at exit too. */
static TAILQ_HEAD(, pending)	pendings = TAILQ_HEAD_INITIALIZER(pendings);

/*
 * A peer: one guest as accept() tells it, before it says anything.  On
 * a vsock endpoint each CID is a peer; a Unix endpoint serves one guest
 * (Firecracker, Cloud Hypervisor: a socket per VM) and is one peer, CID
 * 0.  --max-unidentified counts per peer, so that a guest that opens
 * silent connections up to its cap shuts out no other guest; the total
 * over every peer has its own ceiling.
 */
struct peer {
	RB_ENTRY(peer)		 node;
	const struct guest_ep	*gep;
	uint32_t		 cid;
	uint32_t		 nunidentified;
};

static int
peer_cmp(const struct peer *a, const struct peer *b)
{
	if (a->gep != b->gep)
		return a->gep < b->gep ? -1 : 1;
	if (a->cid != b->cid)
		return a->cid < b->cid ? -1 : 1;
	return 0;
}

RB_HEAD(peer_tree, peer);
PH_RB_PROTOTYPE(peer_tree, peer, node, peer_cmp);
PH_RB_GENERATE(peer_tree, peer, node, peer_cmp)

static struct peer_tree	peers = RB_INITIALIZER(&peers);
static uint32_t		nunidentified;	/* over every peer */

static struct peer *
peer_get(const struct guest_ep *gep, uint32_t cid)
{
	struct peer	 key = { .gep = gep, .cid = cid }, *pr;

	if ((pr = RB_FIND(peer_tree, &peers, &key)) != NULL)
		return pr;
	pr = xcalloc(1, sizeof *pr);
	pr->gep = gep;
	pr->cid = cid;
	RB_INSERT(peer_tree, &peers, pr);
	return pr;
}

/*
 * One more unidentified connection from this peer: 0, counted, or -1 if
 * it is over the peer's cap or the total (logged).  Public for the unit
 * tests, which hold one CID at its cap beside another.
 */
int
listener_peer_admit(const struct guest_ep *gep, uint32_t cid)
{
	struct peer	 key = { .gep = gep, .cid = cid }, *pr;

	if (nunidentified >= host->limits[LIMIT_UNIDENTIFIED_ALL]) {
		limit_hit(LIMIT_UNIDENTIFIED_ALL, "%s: too many connections "
		    "without a first frame, over every guest: a new one "
		    "dropped", gep->ep.str);
		return -1;
	}
	pr = RB_FIND(peer_tree, &peers, &key);
	if (pr != NULL &&
	    pr->nunidentified >= host->limits[LIMIT_UNIDENTIFIED]) {
		if (cid != 0)
			limit_hit(LIMIT_UNIDENTIFIED, "%s: too many "
			    "connections without a first frame from cid %u: "
			    "a new one dropped", gep->ep.str, cid);
		else
			limit_hit(LIMIT_UNIDENTIFIED, "%s: too many "
			    "connections without a first frame: a new one "
			    "dropped", gep->ep.str);
		return -1;
	}
	peer_get(gep, cid)->nunidentified++;
	nunidentified++;
	return 0;
}

/* One fewer unidentified connection of this peer; forgotten at none. */
void
listener_peer_release(const struct guest_ep *gep, uint32_t cid)
{
	struct peer	 key = { .gep = gep, .cid = cid }, *pr;

	if ((pr = RB_FIND(peer_tree, &peers, &key)) == NULL)
		fatalx("%s: no peer for cid %u", __func__, cid);
	nunidentified--;
	if (--pr->nunidentified > 0)
		return;
	RB_REMOVE(peer_tree, &peers, pr);
	free(pr);
}

static void
pending_free(struct pending *p, int close_fd)
{
	TAILQ_REMOVE(&pendings, p, entry);
	event_free(p->ev);
	event_free(p->deadline);
	if (close_fd)
		close(p->fd);
	listener_peer_release(p->gep, p->cid);
	auth_wipe(p, sizeof *p);
	free(p);
}

static void
pending_drop(struct pending *p, const char *why)
{
	if (p->cid != 0)
		limit_warn(p->gep, p->cid, WARN_FIRST_FRAME, "%s: connection "
		    "from cid %u dropped: %s", p->gep->ep.str, p->cid, why);
	else
		limit_warn(p->gep, 0, WARN_FIRST_FRAME, "%s: connection "
		    "dropped: %s", p->gep->ep.str, why);
	pending_free(p, 1);
}

/*
 * HELLO from a guest with a key to prove: WELCOME with a nonce, then
 * wait for AUTH, reading as before (0); -1 if p was dropped.
 */
static int
pending_challenge(struct pending *p, const struct ph_hello *h,
    const uint8_t *key)
{
	if (gate_challenge(p->fd, p->gep, p->cid, h, &p->auth) == -1) {
		pending_free(p, 1);
		return -1;
	}
	p->challenged = 1;
	p->hello = *h;
	memcpy(p->key, key, sizeof p->key);
	p->have = 0;
	p->checked = 0;
	return 0;
}

/* AUTH: a session if it proves the key, else the connection is closed. */
static void
pending_auth(struct pending *p, const struct ph_auth *a)
{
	if (gate_verify(p->gep, p->cid, p->key, &p->auth, a, p->fd) == -1) {
		pending_free(p, 1);
		return;
	}
	session_new(p->fd, p->gep, p->cid, &p->hello, &p->auth);
	pending_free(p, 0);
}

/* The whole first frame is in: hand the socket to its owner. */
static void
pending_dispatch(struct pending *p, const struct ph_frame_hdr *h)
{
	struct ph_msg	 m;
	const uint8_t	*key;
	const char	*err;
	int		 fd = p->fd;

	if (ph_msg_decode(h->type, p->buf + PH_HDR_LEN, h->length, &m,
	    &err) == -1) {
		pending_drop(p, err);
		return;
	}
	if (h->type == PH_AUTH) {
		pending_auth(p, &m.u.auth);
		return;
	}
	if (h->type == PH_HELLO &&
	    (key = gate_key(p->gep, p->cid, &m.u.hello)) != NULL) {
		pending_challenge(p, &m.u.hello, key);
		return;
	}
	/* Its next owner watches it its own way (edge-triggered, some). */
	event_del(p->ev);
	if (h->type == PH_HELLO)
		session_new(fd, p->gep, p->cid, &m.u.hello, NULL);
	else if (h->type == PH_DATA)
		pair_data(fd, p->gep, p->cid, &m.u.data);
	else if (h->type == PH_REVERSE)
		reach_stream(fd, p->gep, p->cid, &m.u.reverse);
	else
		pair_pool_add(fd, p->gep, p->cid, &m.u.pool);
	pending_free(p, 0);
}

static void
pending_read_cb(int fd, short ev, void *arg)
{
	struct pending		*p = arg;
	struct ph_frame_hdr	 h;
	const char		*err;
	size_t			 need = PH_FIRST_READ;
	ssize_t			 n;

	(void)ev;
	if (p->have >= PH_HDR_LEN) {
		ph_hdr_decode(p->buf, p->have, &h);
		need = PH_HDR_LEN + h.length;
	}
	n = recv(fd, p->buf + p->have, need - p->have, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == 0 && p->have == 0) {
		/* A probe (another agent checking the socket is live). */
		log_debug("%s: connection closed without a frame",
		    p->gep->ep.str);
		pending_free(p, 1);
		return;
	}
	if (n <= 0) {
		pending_drop(p, n == 0 ? "closed before its first frame" :
		    strerror(errno));
		return;
	}
	p->have += (size_t)n;
	if (p->have < PH_HDR_LEN)
		return;
	ph_hdr_decode(p->buf, p->have, &h);
	if (!p->checked) {
		p->checked = 1;
		if (p->challenged && h.type != PH_AUTH) {
			gate_say_error(fd, PH_ERR_AUTH, "AUTH expected");
			gate_refused(p->gep, p->cid, GATE_NO_PROOF, "a frame "
			    "other than AUTH after the key challenge");
			pending_free(p, 1);
			return;
		}
		if (!p->challenged && h.type != PH_HELLO &&
		    h.type != PH_DATA && h.type != PH_POOL &&
		    h.type != PH_REVERSE) {
			pending_drop(p, "first frame is not HELLO, DATA, POOL "
			    "or REVERSE");
			return;
		}
		if (ph_hdr_check(&h, PH_FIRST_FRAME_MAX - PH_HDR_LEN,
		    &err) == -1) {
			pending_drop(p, err);
			return;
		}
	}
	if (p->have > PH_HDR_LEN + h.length)
		pending_drop(p, "first frame shorter than any valid one");
	else if (p->have == PH_HDR_LEN + h.length)
		pending_dispatch(p, &h);
}

static void
pending_deadline_cb(int fd, short ev, void *arg)
{
	struct pending	*p = arg;

	(void)fd;
	(void)ev;
	if (!p->challenged) {
		pending_drop(p, "no HELLO or DATA in time");
		return;
	}
	gate_refused(p->gep, p->cid, GATE_NO_PROOF, "no AUTH in time after "
	    "the key challenge");
	pending_free(p, 1);
}

static void
listener_resume_cb(int fd, short ev, void *arg)
{
	struct guest_ep	*gep = arg;

	(void)fd;
	(void)ev;
	event_add(gep->ev, NULL);
}

/*
 * Out of descriptors: the pending connection stays in the backlog and
 * the socket stays readable, so accepting again at once would spin.
 * Stop for a moment instead (as relayd does).
 */
static void
listener_pause(struct guest_ep *gep)
{
	struct timeval	tv = { 0, HOST_ACCEPT_PAUSE_MS * 1000 };

	log_warn("%s: accept: pausing for %d ms", gep->ep.str,
	    HOST_ACCEPT_PAUSE_MS);
	event_del(gep->ev);
	evtimer_add(gep->resume, &tv);
}

static void
listener_accept_cb(int lfd, short ev, void *arg)
{
	struct guest_ep		*gep = arg;
	struct sockaddr_storage	 ss;
	struct sockaddr_vm	*svm = (struct sockaddr_vm *)&ss;
	socklen_t		 sl = sizeof ss;
	struct timeval		 tv = { HOST_HELLO_TIMEOUT, 0 };
	struct pending		*p;
	uint32_t		 cid = 0;
	int			 fd;

	(void)ev;
	fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE)
			listener_pause(gep);
		else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("%s: accept", gep->ep.str);
		return;
	}
	if (ss.ss_family == AF_VSOCK) {
		cid = svm->svm_cid;
		if (gate_vsock_peer(gep, svm) == -1) {
			close(fd);
			return;
		}
	}
	if (listener_peer_admit(gep, cid) == -1) {
		close(fd);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->fd = fd;
	p->gep = gep;
	p->cid = cid;
	p->ev = event_new(host->base, fd, EV_READ | EV_PERSIST,
	    pending_read_cb, p);
	p->deadline = evtimer_new(host->base, pending_deadline_cb, p);
	if (p->ev == NULL || p->deadline == NULL)
		fatalx("event_new");
	event_add(p->ev, NULL);
	evtimer_add(p->deadline, &tv);
	TAILQ_INSERT_TAIL(&pendings, p, entry);
}

/* Opens the socket: before daemonising, so that errors reach the user. */
int
listener_open(struct guest_ep *gep, char *err, size_t errlen)
{
	if ((gep->fd = endpoint_listen(&gep->ep, err, errlen)) == -1)
		return -1;
	return 0;
}

/* Starts accepting, once the event loop exists. */
void
listener_start(struct guest_ep *gep)
{
	gep->ev = event_new(host->base, gep->fd, EV_READ | EV_PERSIST,
	    listener_accept_cb, gep);
	gep->resume = evtimer_new(host->base, listener_resume_cb, gep);
	if (gep->ev == NULL || gep->resume == NULL)
		fatalx("event_new");
	event_add(gep->ev, NULL);
	log_info("listening for guests on %s", gep->ep.str);
}

void
listener_close(struct guest_ep *gep)
{
	struct pending	*p, *next;

	TAILQ_FOREACH_SAFE(p, &pendings, entry, next)
		if (p->gep == gep)
			pending_free(p, 1);
	if (gep->ev != NULL)
		event_free(gep->ev);
	if (gep->resume != NULL)
		event_free(gep->resume);
	gep->resume = NULL;
	if (gep->fd != -1) {
		close(gep->fd);
		endpoint_unlink(&gep->ep);
	}
	gep->ev = NULL;
	gep->fd = -1;
}
