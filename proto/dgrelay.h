/*
 * A datagram relay: one UDP flow in the guest, between a UDP socket
 * connected to the target and the flow's datagram stream to the host.
 * Datagrams go both ways whole; an ICMP error from the target (the
 * socket reports ECONNREFUSED) ends the flow.  Reading the target stops
 * while the stream's queue is full, so that the kernel's socket buffer
 * absorbs a burst before anything is dropped.
 */
#ifndef PH_DGRELAY_H
#define PH_DGRELAY_H

#include <stdint.h>

struct event_base;
struct dgrelay;
struct dgstream_stats;

struct dgrelay_cbs {
	/*
	 * The flow is over: why, and whether the target refused it (an
	 * ICMP error).  The sockets are closed and the relay freed when
	 * this returns.
	 */
	void	(*done)(struct dgrelay *, const char *, int, void *);
};

struct dgrelay_stats {
	uint64_t	dgrams_out, bytes_out;	/* target to stream */
	uint64_t	dgrams_in, bytes_in;	/* stream to target */
	uint64_t	dropped;	/* either way: no room, or refused */
};

struct dgrelay	*dgrelay_new(struct event_base *, int, int,
		    const struct dgrelay_cbs *, void *);
void		 dgrelay_free(struct dgrelay *);
void		 dgrelay_get_stats(struct dgrelay *, struct dgrelay_stats *);

#endif
