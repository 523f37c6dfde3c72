/*
 * Datagram relays (dgrelay.h): a connected UDP socket and a datagram
 * stream.  Each readable event reads a bounded number of datagrams, so
 * that one busy flow does not starve the others.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dgram.h"
#include "dgrelay.h"
#include "dgstream.h"
#include "log.h"
#include "xmalloc.h"

#define DGRELAY_QUEUE_MAX	(256 * 1024)	/* bytes towards the host */
#define DGRELAY_BURST		64		/* datagrams per event */

struct dgrelay {
	int			 sock;
	struct event		*rev;
	struct dgstream		*ds;
	uint64_t		 dropped;	/* towards the target */
	struct dgrelay_cbs	 cbs;
	void			*arg;
};

/* Room for the largest datagram and one byte more, to see truncation. */
static uint8_t	scratch[PH_DGRAM_MAX + 1];

static int	dgrelay_recv_cb(struct dgstream *, const uint8_t *, size_t,
		    void *);
static void	dgrelay_end_cb(struct dgstream *, const char *, void *);
static void	dgrelay_drained_cb(struct dgstream *, void *);
static void	dgrelay_read_cb(int, short, void *);

static const struct dgstream_cbs dgrelay_stream_cbs = {
	.recv = dgrelay_recv_cb,
	.end = dgrelay_end_cb,
	.drained = dgrelay_drained_cb,
};

struct dgrelay *
dgrelay_new(struct event_base *base, int sock, int stream,
    const struct dgrelay_cbs *cbs, void *arg)
{
	struct dgrelay	*r;

	r = xcalloc(1, sizeof *r);
	r->sock = sock;
	r->cbs = *cbs;
	r->arg = arg;
	r->ds = dgstream_new(base, DGRELAY_QUEUE_MAX, &dgrelay_stream_cbs, r);
	dgstream_attach(r->ds, stream);
	r->rev = event_new(base, sock, EV_READ | EV_PERSIST, dgrelay_read_cb,
	    r);
	if (r->rev == NULL)
		fatalx("event_new");
	event_add(r->rev, NULL);
	return r;
}

/* Ends the relay without a callback: the owner is ending it. */
void
dgrelay_free(struct dgrelay *r)
{
	event_free(r->rev);
	dgstream_free(r->ds);
	close(r->sock);
	free(r);
}

void
dgrelay_get_stats(struct dgrelay *r, struct dgrelay_stats *st)
{
	const struct dgstream_stats	*ds = dgstream_stats(r->ds);

	st->dgrams_out = ds->dgrams_out;
	st->bytes_out = ds->bytes_out;
	st->dgrams_in = ds->dgrams_in;
	st->bytes_in = ds->bytes_in;
	st->dropped = ds->dropped + r->dropped;
}

static void
dgrelay_finish(struct dgrelay *r, const char *why, int refused)
{
	r->cbs.done(r, why, refused, r->arg);
	dgrelay_free(r);
}

/* A datagram from the host: to the target, whole or not at all. */
static int
dgrelay_recv_cb(struct dgstream *ds, const uint8_t *p, size_t len,
    void *arg)
{
	struct dgrelay	*r = arg;

	(void)ds;
	if (send(r->sock, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) != -1)
		return 0;
	switch (errno) {
	case ECONNREFUSED:
		dgrelay_finish(r, "target refused a datagram", 1);
		return -1;
	case EAGAIN:
	case ENOBUFS:
	case EMSGSIZE:
	case EINTR:
		log_debug("datagram of %zu bytes to the target dropped: %s",
		    len, strerror(errno));
		r->dropped++;
		return 0;
	default:
		dgrelay_finish(r, strerror(errno), 0);
		return -1;
	}
}

static void
dgrelay_end_cb(struct dgstream *ds, const char *why, void *arg)
{
	(void)ds;
	dgrelay_finish(arg, why, 0);
}

static void
dgrelay_drained_cb(struct dgstream *ds, void *arg)
{
	struct dgrelay	*r = arg;

	(void)ds;
	event_add(r->rev, NULL);
}

static void
dgrelay_read_cb(int fd, short ev, void *arg)
{
	struct dgrelay	*r = arg;
	ssize_t		 n;
	int		 i;

	(void)ev;
	for (i = 0; i < DGRELAY_BURST; i++) {
		if (!dgstream_room(r->ds, PH_DGRAM_MAX)) {
			event_del(r->rev);	/* until the queue drains */
			return;
		}
		n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == -1 && errno == ECONNREFUSED) {
			dgrelay_finish(r, "target refused a datagram", 1);
			return;
		}
		if (n == -1) {
			dgrelay_finish(r, strerror(errno), 0);
			return;
		}
		if ((size_t)n > PH_DGRAM_MAX) {
			log_debug("datagram of %zd bytes from the target "
			    "dropped: too long", n);
			r->dropped++;
			continue;
		}
		dgstream_send(r->ds, scratch, (size_t)n);
	}
}
