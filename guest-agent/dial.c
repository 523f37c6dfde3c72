/*
 * Connections the host asks for.  On OPEN the guest dials the target
 * (loopback for a wildcard bind, else the bound address), then opens a
 * data stream to the host, presents DATA and relays.  If the target
 * cannot be reached the host is told at once (CLOSE), so that its client
 * is closed rather than left waiting.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "compat.h"
#include "guest.h"
#include "log.h"
#include "relay.h"
#include "xmalloc.h"

enum gconn_state {
	GC_TARGET,		/* connecting to the target */
	GC_STREAM,		/* connecting to the host */
	GC_RELAY
};

struct gconn {
	RB_ENTRY(gconn)		 node;
	uint64_t		 id;
	enum gconn_state	 state;
	int			 target;
	int			 stream;
	struct event		*ev;		/* connect under way */
	struct relay		*relay;
};

static int
gconn_cmp(struct gconn *a, struct gconn *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_HEAD(gconn_tree, gconn);
PH_RB_PROTOTYPE(gconn_tree, gconn, node, gconn_cmp);
PH_RB_GENERATE(gconn_tree, gconn, node, gconn_cmp)

static struct gconn_tree	gconns = RB_INITIALIZER(&gconns);

static void	dial_stream(struct gconn *);

static struct gconn *
gconn_find(uint64_t id)
{
	struct gconn	key = { .id = id };

	return RB_FIND(gconn_tree, &gconns, &key);
}

static void
gconn_free(struct gconn *c)
{
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->target != -1)
		close(c->target);
	if (c->stream != -1)
		close(c->stream);
	RB_REMOVE(gconn_tree, &gconns, c);
	free(c);
}

static void
dial_tell_host(uint64_t id, uint8_t how, const char *why)
{
	struct ph_msg	m = { .type = PH_CLOSE };

	m.u.close.conn = id;
	m.u.close.how = how;
	strlcpy(m.u.close.reason, why, sizeof m.u.close.reason);
	gsession_send(&m);
}

static void
dial_fail(struct gconn *c, uint8_t how, const char *why)
{
	log_debug("connection %016llx: %s", (unsigned long long)c->id, why);
	dial_tell_host(c->id, how, why);
	gconn_free(c);
}

static int
relay_ext_reset_cb(struct relay *r, void *arg)
{
	struct gconn	*c = arg;

	(void)r;
	if (!gsession_established())
		return -1;
	dial_tell_host(c->id, PH_CLOSE_RESET, "target reset the connection");
	return 0;
}

static void
relay_done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct gconn	*c = arg;

	(void)r;
	log_debug("connection %016llx: %s", (unsigned long long)c->id,
	    relay_end_name(end));
	c->relay = NULL;
	c->target = c->stream = -1;	/* the relay closed them */
	gconn_free(c);
}

static const struct relay_cbs gconn_relay_cbs = {
	.ext_reset = relay_ext_reset_cb,
	.done = relay_done_cb,
};

/* The stream is connected: present DATA, then hand both to a relay. */
static void
dial_present(struct gconn *c)
{
	struct ph_msg	m = { .type = PH_DATA };
	uint8_t		buf[PH_FRAME_MAX];
	size_t		len;
	ssize_t		n;

	m.u.data.session = gsession_token();
	m.u.data.conn = c->id;
	len = ph_msg_encode(&m, buf, sizeof buf);
	/* A fresh socket's buffer is empty: a short write is a failure. */
	n = send(c->stream, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n != (ssize_t)len) {
		dial_fail(c, PH_CLOSE_ABORT, "cannot write DATA on a new stream");
		return;
	}
	c->state = GC_RELAY;
	c->relay = relay_new(guest->base, c->target, c->stream,
	    &gconn_relay_cbs, c);
}

static int
connect_result(int fd, short ev)
{
	int		err = 0;
	socklen_t	len = sizeof err;

	if (ev & EV_TIMEOUT)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

static void
dial_connected_cb(int fd, short ev, void *arg)
{
	struct gconn	*c = arg;
	int		 err = connect_result(fd, ev);

	event_free(c->ev);
	c->ev = NULL;
	if (err != 0 && c->state == GC_TARGET) {
		dial_fail(c, PH_CLOSE_REFUSED, strerror(err));
		return;
	}
	if (err != 0) {
		dial_fail(c, PH_CLOSE_ABORT, strerror(err));
		return;
	}
	if (c->state == GC_TARGET)
		dial_stream(c);
	else
		dial_present(c);
}

static void
dial_wait(struct gconn *c, int fd)
{
	struct timeval	tv = { GUEST_CONNECT_TIMEOUT, 0 };

	c->ev = event_new(guest->base, fd, EV_WRITE, dial_connected_cb, c);
	if (c->ev == NULL)
		fatalx("event_new");
	event_add(c->ev, &tv);
}

static void
dial_stream(struct gconn *c)
{
	int	pending;
	char	why[128];

	c->state = GC_STREAM;
	if ((c->stream = endpoint_connect(&guest->ep, &pending)) == -1) {
		snprintf(why, sizeof why, "cannot open a data stream: %s",
		    strerror(errno));
		dial_fail(c, PH_CLOSE_ABORT, why);
		return;
	}
	if (pending)
		dial_wait(c, c->stream);
	else
		dial_present(c);
}

static int
dial_target(struct gconn *c, const struct gbind *b)
{
	struct sockaddr_storage	ss;
	struct ph_addr		a;
	socklen_t		sl;

	watch_target(b, &a);
	sl = addr_to_sockaddr(&a, b->port, &ss);
	c->target = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->target == -1)
		return -1;
	if (connect(c->target, (struct sockaddr *)&ss, sl) == 0) {
		dial_stream(c);
		return 0;
	}
	if (errno != EINPROGRESS)
		return -1;
	dial_wait(c, c->target);
	return 0;
}

void
dial_open(const struct ph_open *o)
{
	struct gbind	*b = watch_find(o->forward);
	struct gconn	*c;

	if (b == NULL) {
		dial_tell_host(o->conn, PH_CLOSE_REFUSED, "no such bind");
		return;
	}
	if (gconn_find(o->conn) != NULL) {
		log_warnx("host reused connection id %016llx",
		    (unsigned long long)o->conn);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->id = o->conn;
	c->target = c->stream = -1;
	c->state = GC_TARGET;
	RB_INSERT(gconn_tree, &gconns, c);
	if (dial_target(c, b) == -1)
		dial_fail(c, PH_CLOSE_REFUSED, strerror(errno));
}

/* The host says its client went away or reset: do the same here. */
void
dial_close(const struct ph_close *m)
{
	struct gconn	*c = gconn_find(m->conn);

	if (c == NULL)
		return;
	if (c->relay != NULL)
		relay_reset(c->relay);
	else
		gconn_free(c);
}
