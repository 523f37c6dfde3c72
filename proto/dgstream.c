/*
 * Datagram streams (dgstream.h) over a bufferevent.  The input buffer is
 * capped by a read watermark of two whole frames, and every whole frame
 * is taken as soon as it is in; the output buffer is capped by the queue
 * bound checked in dgstream_send().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "dgram.h"
#include "dgstream.h"
#include "log.h"
#include "xmalloc.h"

#define DGSTREAM_IO_MAX	(128 * 1024)	/* bytes per read or write */

struct dgstream {
	struct event_base	*base;
	struct bufferevent	*bev;		/* once attached */
	struct evbuffer		*out;		/* the queue */
	size_t			 qmax;
	int			 want_drained;
	struct dgstream_cbs	 cbs;
	void			*arg;
	struct dgstream_stats	 stats;
	size_t			*total;		/* dgstream_account() */
	size_t			 charged;	/* our part of *total */
	struct evbuffer_cb_entry *cbe;
};

static void	dgstream_read_cb(struct bufferevent *, void *);
static void	dgstream_write_cb(struct bufferevent *, void *);
static void	dgstream_event_cb(struct bufferevent *, short, void *);

/* qmax must hold at least one frame of the largest datagram. */
struct dgstream *
dgstream_new(struct event_base *base, size_t qmax,
    const struct dgstream_cbs *cbs, void *arg)
{
	struct dgstream	*ds;

	ds = xcalloc(1, sizeof *ds);
	ds->base = base;
	ds->qmax = qmax < PH_DGRAM_FRAME_MAX ? PH_DGRAM_FRAME_MAX : qmax;
	ds->cbs = *cbs;
	ds->arg = arg;
	if ((ds->out = evbuffer_new()) == NULL)
		fatalx("evbuffer_new");
	return ds;
}

/* The queue grew or shrank: so does the total it counts in. */
static void
dgstream_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct dgstream	*ds = arg;

	(void)b;
	*ds->total += info->n_added;
	*ds->total -= info->n_deleted;
	ds->charged += info->n_added;
	ds->charged -= info->n_deleted;
}

static void
dgstream_watch(struct dgstream *ds)
{
	if ((ds->cbe = evbuffer_add_cb(ds->out, dgstream_out_cb, ds)) == NULL)
		fatalx("evbuffer_add_cb");
}

/*
 * From now on *total holds this stream's queued bytes too, as it does
 * every other stream's given the same total: a budget several streams
 * share (a guest's UDP flows).
 */
void
dgstream_account(struct dgstream *ds, size_t *total)
{
	ds->total = total;
	ds->charged = evbuffer_get_length(ds->out);
	*total += ds->charged;
	dgstream_watch(ds);
}

/* The stream's socket is here: what was queued goes first. */
void
dgstream_attach(struct dgstream *ds, int fd)
{
	ds->bev = bufferevent_socket_new(ds->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (ds->bev == NULL)
		fatalx("bufferevent_socket_new");
	/* The bytes move from one queue to the other: the total stays. */
	if (ds->cbe != NULL)
		evbuffer_remove_cb_entry(ds->out, ds->cbe);
	if (bufferevent_write_buffer(ds->bev, ds->out) == -1)
		fatalx("bufferevent_write_buffer");
	evbuffer_free(ds->out);
	ds->out = bufferevent_get_output(ds->bev);
	if (ds->cbe != NULL)
		dgstream_watch(ds);
	bufferevent_setwatermark(ds->bev, EV_READ, 0, 2 * PH_DGRAM_FRAME_MAX);
	/* libevent moves 16 KiB per call by default: a few datagrams. */
	if (bufferevent_set_max_single_read(ds->bev, DGSTREAM_IO_MAX) == -1 ||
	    bufferevent_set_max_single_write(ds->bev, DGSTREAM_IO_MAX) == -1)
		fatalx("bufferevent_set_max_single_read");
	bufferevent_setwatermark(ds->bev, EV_WRITE, ds->qmax / 2, 0);
	bufferevent_setcb(ds->bev, dgstream_read_cb, dgstream_write_cb,
	    dgstream_event_cb, ds);
	bufferevent_enable(ds->bev, EV_READ | EV_WRITE);
}

void
dgstream_free(struct dgstream *ds)
{
	if (ds->cbe != NULL) {
		evbuffer_remove_cb_entry(ds->out, ds->cbe);
		*ds->total -= ds->charged;
	}
	if (ds->bev != NULL)
		bufferevent_free(ds->bev);
	else
		evbuffer_free(ds->out);
	free(ds);
}

struct dgstream_stats *
dgstream_stats(struct dgstream *ds)
{
	return &ds->stats;
}

/* Would a datagram of len bytes fit in the queue now? */
int
dgstream_room(struct dgstream *ds, size_t len)
{
	if (evbuffer_get_length(ds->out) + PH_DGRAM_HDR_LEN + len <= ds->qmax)
		return 1;
	ds->want_drained = 1;
	return 0;
}

/* Queues a datagram: 0, or -1 if it was dropped (no room, too long). */
int
dgstream_send(struct dgstream *ds, const void *p, size_t len)
{
	uint8_t	hdr[PH_DGRAM_HDR_LEN];

	if (dgram_hdr_encode(hdr, len) == -1 || !dgstream_room(ds, len)) {
		ds->stats.dropped++;
		return -1;
	}
	if (evbuffer_add(ds->out, hdr, sizeof hdr) == -1 ||
	    evbuffer_add(ds->out, p, len) == -1)
		fatalx("evbuffer_add");
	ds->stats.dgrams_out++;
	ds->stats.bytes_out += len;
	return 0;
}

/* Returns 1 if a whole frame was taken, 0 if none is in, -1 if ds is gone. */
static int
dgstream_take(struct dgstream *ds, struct evbuffer *in)
{
	uint8_t		 hdr[PH_DGRAM_HDR_LEN], *p;
	const uint8_t	*dg;
	const char	*err = NULL;
	size_t		 have = evbuffer_get_length(in), dglen, used;

	if (evbuffer_copyout(in, hdr, sizeof hdr) < (ev_ssize_t)sizeof hdr)
		return 0;
	if (dgram_decode(hdr, sizeof hdr, &dg, &dglen, &used, &err) ==
	    PH_DGRAM_BAD) {
		ds->cbs.end(ds, err, ds->arg);
		return -1;
	}
	used = PH_DGRAM_HDR_LEN + (size_t)(hdr[0] << 8 | hdr[1]);
	if (have < used)
		return 0;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)used)) == NULL)
		fatalx("evbuffer_pullup");
	if (dgram_decode(p, used, &dg, &dglen, &used, &err) != PH_DGRAM_OK)
		fatalx("dgstream: a whole frame did not decode");
	ds->stats.dgrams_in++;
	ds->stats.bytes_in += dglen;
	if (ds->cbs.recv(ds, dg, dglen, ds->arg) == -1)
		return -1;
	evbuffer_drain(in, used);
	return 1;
}

static void
dgstream_read_cb(struct bufferevent *bev, void *arg)
{
	struct dgstream	*ds = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);

	while (dgstream_take(ds, in) == 1)
		;
}

static void
dgstream_write_cb(struct bufferevent *bev, void *arg)
{
	struct dgstream	*ds = arg;

	(void)bev;
	if (!ds->want_drained)
		return;
	ds->want_drained = 0;
	if (ds->cbs.drained != NULL)
		ds->cbs.drained(ds, ds->arg);
}

static void
dgstream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct dgstream	*ds = arg;

	(void)bev;
	if (what & BEV_EVENT_EOF)
		ds->cbs.end(ds, evbuffer_get_length(bufferevent_get_input(
		    ds->bev)) > 0 ? "stream closed inside a datagram" :
		    "stream closed", ds->arg);
	else if (what & BEV_EVENT_ERROR)
		ds->cbs.end(ds, strerror(EVUTIL_SOCKET_ERROR()), ds->arg);
}
