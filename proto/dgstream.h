/*
 * A datagram stream: a UDP flow's data stream to the other agent, each
 * datagram framed by dgram.c.  Datagrams to send wait in one bounded
 * queue; a datagram that does not fit is dropped and counted (UDP may
 * drop; the daemon never grows without bound).  Datagrams that arrive
 * are handed to the owner one at a time.  A stream may be made before
 * its socket exists (a host flow waiting for the guest to open it):
 * datagrams sent meanwhile wait in the queue, within the same bound.
 */
#ifndef PH_DGSTREAM_H
#define PH_DGSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct dgstream;

struct dgstream_cbs {
	/* A datagram arrived; return -1 if the owner freed the stream. */
	int	(*recv)(struct dgstream *, const uint8_t *, size_t, void *);
	/* EOF, an error or a malformed frame: the owner must free it. */
	void	(*end)(struct dgstream *, const char *, void *);
	/* Optional: the queue, once found full, drained to half its bound. */
	void	(*drained)(struct dgstream *, void *);
};

struct dgstream_stats {
	uint64_t	dgrams_out, bytes_out;	/* queued for the other agent */
	uint64_t	dgrams_in, bytes_in;	/* from the other agent */
	uint64_t	dropped;		/* not queued: no room */
};

struct dgstream	*dgstream_new(struct event_base *, size_t,
		    const struct dgstream_cbs *, void *);
void		 dgstream_account(struct dgstream *, size_t *);
void		 dgstream_attach(struct dgstream *, int);
int		 dgstream_send(struct dgstream *, const void *, size_t);
int		 dgstream_room(struct dgstream *, size_t);
void		 dgstream_free(struct dgstream *);
struct dgstream_stats *dgstream_stats(struct dgstream *);

#endif
