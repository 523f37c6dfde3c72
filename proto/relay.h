/*
 * A relay joins an outside socket ("ext": the client on the host, the
 * target server in the guest) with a data stream to the other agent.
 * Both must be non-blocking; SIGPIPE must be ignored.
 *
 * Bytes move both ways with bounded memory: a direction holds at most
 * RELAY_PIPE_SIZE bytes (in a pipe, or less in a buffer), and stops
 * reading its source until they have gone out.  EOF on
 * one side becomes shutdown(SHUT_WR) on the other once the data in flight
 * is written.  The stream cannot carry a TCP reset, so a reset of ext is
 * reported to the owner (who tells the other agent on the control
 * channel) and a reset the other agent reports is applied with
 * relay_reset().
 *
 * With a protocol 4 peer (relay_set_reuse()) an EOF does not shut the
 * stream down either: the owner tells the other agent how many bytes
 * the stream carried before it (SHUT), and applies the other agent's
 * count with relay_peer_shut().  When both directions end so, the stream
 * is whole (every byte of this connection read, none beyond it), and the
 * owner may keep it for another connection (relay_keep_stream(), in
 * done()); anything after the count is the next owner's to find.
 */
#ifndef PH_RELAY_H
#define PH_RELAY_H

#include <stdint.h>

#include <event2/event.h>

/*
 * The events a relay watches its sources' reads with.  An owner that
 * watches an idle stream with exactly these (EV_PERSIST as it likes)
 * shares one epoll registration with the relay on it when their events
 * overlap in time: see relay_keep_stream().
 */
#define RELAY_STREAM_WATCH	(EV_READ | EV_CLOSED | EV_ET)

/* The most a direction holds while its sink is full. */
#define RELAY_PIPE_SIZE		(1024 * 1024)

struct event;
struct event_base;
struct relay;

enum relay_side {
	RELAY_EXT = 0,
	RELAY_STREAM = 1
};

enum relay_idle {
	RELAY_IDLE_QUIET,	/* nothing waits */
	RELAY_IDLE_BYTES,	/* the peer wrote */
	RELAY_IDLE_GONE		/* the peer closed, or the socket failed */
};

enum relay_end {
	RELAY_END_CLOSED,	/* both directions ended with EOF */
	RELAY_END_EXT_RESET,	/* ext reset or failed; peer was told */
	RELAY_END_PEER_RESET,	/* the other agent said its side reset */
	RELAY_END_STREAM_LOST,	/* the data stream failed: ext was reset */
	RELAY_END_ABORTED	/* the owner ended it */
};

struct relay_cbs {
	/*
	 * ext was reset; return 0 once the other agent has been told (the
	 * relay then waits for it to close the stream) or -1 if it cannot
	 * be told (the stream is closed at once); NULL: it never can be
	 * (a reverse stream, whose close is how a reset is told).
	 */
	int	(*ext_reset)(struct relay *, void *);
	/*
	 * Reuse only: ext sent EOF after bytes bytes; return 0 once the
	 * other agent has been told (SHUT), -1 if it cannot be (the stream
	 * is then shut down, as without reuse, and not kept).
	 */
	int	(*shut)(struct relay *, uint64_t, void *);
	/* The relay is over; it is freed when this returns. */
	void	(*done)(struct relay *, enum relay_end, void *);
};

struct relay_stats {
	uint64_t	bytes_out;	/* read from ext, sent on the stream */
	uint64_t	bytes_in;	/* read from the stream, sent to ext */
	uint64_t	spliced;	/* of both, moved by splice(2) */
};

struct relay	*relay_new(struct event_base *, int, int,
		    const struct relay_cbs *, void *);
void		 relay_set_reuse(struct relay *);
void		 relay_look_stream(struct relay *);
struct event	*relay_watch_stream(struct event_base *, int,
		    event_callback_fn, void *, const struct timeval *,
		    struct event *);
enum relay_idle	 relay_stream_idle(int);
void		 relay_peer_shut(struct relay *, uint64_t);
void		 relay_unshare(struct relay *);
int		 relay_keep_stream(struct relay *, struct event **);
void		 relay_reset(struct relay *);
void		 relay_abort(struct relay *);
const struct relay_stats *relay_stats(const struct relay *);
const char	*relay_end_name(enum relay_end);
void		 relay_pipes(int *, int *);

#endif
