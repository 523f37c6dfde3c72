/* Frames over libevent buffers: the control channels of both agents. */
#ifndef PH_FRAMEIO_H
#define PH_FRAMEIO_H

#include <stdint.h>

struct bufferevent;
struct evbuffer;
struct ph_msg;

int	ph_evbuffer_read(struct evbuffer *, uint32_t, struct ph_msg *,
	    const char **);
void	ph_bufferevent_send(struct bufferevent *, const struct ph_msg *);

#endif
