/*
 * Reading and writing frames on a bufferevent.  The input buffer never
 * holds more than one partial frame: the reader takes every whole frame
 * as it arrives, and checks a header's length before waiting for it.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "frameio.h"
#include "log.h"
#include "proto.h"

/*
 * Takes the next frame from in.  Returns a PH_FRAME_* code; the frame is
 * consumed for PH_FRAME_OK and PH_FRAME_UNKNOWN only.
 */
int
ph_evbuffer_read(struct evbuffer *in, uint32_t max_payload, struct ph_msg *m,
    const char **err)
{
	struct ph_frame_hdr	 h;
	uint8_t			 hdr[PH_HDR_LEN], *p;
	size_t			 used, len;
	int			 r;

	if (evbuffer_copyout(in, hdr, sizeof hdr) < (ev_ssize_t)sizeof hdr)
		return PH_FRAME_MORE;
	ph_hdr_decode(hdr, sizeof hdr, &h);
	if (ph_hdr_check(&h, max_payload, err) == -1)
		return PH_FRAME_BAD;
	len = PH_HDR_LEN + (size_t)h.length;
	if (evbuffer_get_length(in) < len)
		return PH_FRAME_MORE;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL)
		fatalx("evbuffer_pullup");
	r = ph_frame_decode(p, len, max_payload, m, &used, err);
	if (r == PH_FRAME_OK || r == PH_FRAME_UNKNOWN)
		evbuffer_drain(in, used);
	return r;
}

/* Queues a frame; failing to encode our own message is a bug. */
void
ph_bufferevent_send(struct bufferevent *bev, const struct ph_msg *m)
{
	uint8_t	buf[PH_FRAME_MAX];
	size_t	len;

	if ((len = ph_msg_encode(m, buf, sizeof buf)) == 0)
		fatalx("cannot encode a %s frame", ph_type_name(m->type));
	if (bufferevent_write(bev, buf, len) == -1)
		fatalx("bufferevent_write");
}
