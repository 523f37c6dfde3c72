/*
 * The relay between an outside socket and a data stream.
 *
 * Each direction starts by copying: recv() into one shared scratch buffer
 * and send() at once, two system calls for a small message.  A read that
 * fills the scratch buffer means bulk data: the direction then moves
 * bytes with splice(2), socket to pipe to socket, without copying them
 * through the process, and goes back to copying when a splice brings
 * less than the scratch buffer would hold.
 *
 * Pipes are large (F_SETPIPE_SZ), come from a small pool and are held
 * only while bytes are in them: an idle connection holds none.  When the
 * sink takes less than all, reading stops until the rest has gone out
 * (back-pressure): a direction holds at most one pipe, or, when copying,
 * the rest of one read in a buffer of its own that is freed once sent.
 *
 * Reuse (protocol 4): the stream direction from the other agent ends
 * where its SHUT says, not at an EOF, so reads from the stream are
 * capped at that count once it is known; until then every byte on the
 * stream is this connection's, since the other agent sends the next
 * connection's only after the stream is released and paired again.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "relay.h"
#include "xmalloc.h"

#define RELAY_COPY_MAX		(8 * 1024)	/* a read this full: bulk */
#define RELAY_SMALL		1024		/* a splice this short: copy */
#define RELAY_ROUNDS		8		/* reads a turn, then others' */
#define RELAY_PIPES_IDLE	16		/* pipes kept for later */
#define RELAY_PIPES_TRIM_SEC	2		/* closed when unused so long */
#define RELAY_LINGER_SEC	10		/* wait for the peer after a reset */

enum { DIR_OUT = 0, DIR_IN = 1 };	/* ext->stream, stream->ext */

/* What a read did. */
enum {
	PUMP_GONE = -1,		/* the relay (or this direction) ended */
	PUMP_DRY,		/* the source is empty */
	PUMP_MOVED,		/* all went out; the source may have more */
	PUMP_HELD		/* the sink is full, some is held */
};

struct relay_dir {
	struct relay	*r;
	int		 src, dst;
	struct event	*rev;		/* src readable */
	struct event	*wev;		/* dst writable */
	int		 pipe[2];	/* -1 unless bytes are in it */
	size_t		 inpipe;
	uint8_t		*pend;		/* copying: what the sink did not take */
	size_t		 pend_off, pend_len;
	uint64_t	*count;
	int		 bulk;		/* splice rather than copy */
	int		 held;		/* the sink is full: wev is on */
	int		 src_ready;	/* bytes may wait at the source */
	int		 closing;	/* the source said EOF or hung up */
	int		 nosplice;	/* a socket that cannot splice */
	int		 done;		/* EOF passed on */
	int		 limited;	/* reuse: the source ends at limit */
	uint64_t	 limit;		/* bytes, the other agent's SHUT */
	int		 by_limit;	/* done at the limit, not at an EOF */
};

struct relay {
	struct event_base	*base;
	int			 fd[2];		/* RELAY_EXT, RELAY_STREAM */
	struct relay_dir	 dir[2];
	struct event		*linger;	/* after an ext reset */
	struct relay_cbs	 cbs;
	void			*arg;
	struct relay_stats	 stats;
	int			 reuse;		/* EOF as SHUT; stream keepable */
	int			 shut_sent;	/* our EOF went as SHUT */
	int			 keep;		/* in done(): may be kept */
	struct event		*watch;		/* in done(): the kept stream's */
};

static uint8_t	scratch[RELAY_COPY_MAX];

/* Idle pipes, empty, ready for the next direction with bulk data. */
static int	pipes[RELAY_PIPES_IDLE][2];
static int	npipes;
static int	npipes_held;	/* by directions, with bytes in them */
static struct event *trim_ev;	/* closes idle pipes after a quiet time */
static int	pipes_used;	/* since the last trim */

static void	relay_read_cb(int, short, void *);
static void	relay_write_cb(int, short, void *);

const char *
relay_end_name(enum relay_end end)
{
	switch (end) {
	case RELAY_END_CLOSED:
		return "closed";
	case RELAY_END_EXT_RESET:
		return "reset by the outside peer";
	case RELAY_END_PEER_RESET:
		return "reset reported by the other agent";
	case RELAY_END_STREAM_LOST:
		return "data stream lost";
	case RELAY_END_ABORTED:
		return "aborted";
	}
	return "?";
}

/* Pipes held by relays (bytes in flight), and idle in the pool. */
void
relay_pipes(int *held, int *idle)
{
	*held = npipes_held;
	*idle = npipes;
}

/*
 * Idle pipes are closed once no bulk data has moved for a while, so that
 * a quiet agent holds no descriptors it does not need.
 */
static void
pipes_trim_cb(int fd, short ev, void *arg)
{
	struct timeval	tv = { RELAY_PIPES_TRIM_SEC, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	if (pipes_used) {
		pipes_used = 0;
		evtimer_add(trim_ev, &tv);
		return;
	}
	while (npipes > 0) {
		npipes--;
		close(pipes[npipes][0]);
		close(pipes[npipes][1]);
	}
}

static void
pipes_trim_later(struct event_base *base)
{
	struct timeval	tv = { RELAY_PIPES_TRIM_SEC, 0 };

	pipes_used = 1;
	if (trim_ev == NULL &&
	    (trim_ev = evtimer_new(base, pipes_trim_cb, NULL)) == NULL)
		fatalx("relay: evtimer_new failed");
	if (!evtimer_pending(trim_ev, NULL))
		evtimer_add(trim_ev, &tv);
}

/* An empty pipe, from the pool or new; -1 when none can be had. */
static int
pipe_get(int p[2])
{
	if (npipes > 0) {
		npipes--;
		p[0] = pipes[npipes][0];
		p[1] = pipes[npipes][1];
	} else {
		if (pipe2(p, O_NONBLOCK | O_CLOEXEC) == -1)
			return -1;
		/* Fewer, larger splices; a refusal (a user limit) is fine. */
		(void)fcntl(p[1], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
	}
	npipes_held++;
	return 0;
}

/* Gives back an empty pipe; a pipe with bytes in it is closed. */
static void
pipe_put(int p[2], int empty)
{
	if (p[0] == -1)
		return;
	npipes_held--;
	if (empty && npipes < RELAY_PIPES_IDLE) {
		pipes[npipes][0] = p[0];
		pipes[npipes][1] = p[1];
		npipes++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

static void
dir_init(struct relay *r, int d, int src, int dst, uint64_t *count)
{
	struct relay_dir	*dir = &r->dir[d];

	dir->r = r;
	dir->src = src;
	dir->dst = dst;
	dir->count = count;
	dir->pipe[0] = dir->pipe[1] = -1;
	/*
	 * Edge-triggered: the read event stays on for the relay's life (no
	 * epoll_ctl when the sink fills or drains), so each turn reads until
	 * the source is dry.  libevent wants a descriptor's events all edge-
	 * or all level-triggered, and each socket is one direction's source
	 * and the other's sink.  EV_CLOSED (EPOLLRDHUP) says an EOF waits
	 * behind the bytes, which a short read would otherwise leave unseen.
	 */
	dir->rev = event_new(r->base, src, RELAY_STREAM_WATCH | EV_PERSIST,
	    relay_read_cb, dir);
	dir->wev = event_new(r->base, dst, EV_WRITE | EV_PERSIST | EV_ET,
	    relay_write_cb, dir);
	if (dir->rev == NULL || dir->wev == NULL)
		fatalx("relay: event_new failed");
	event_add(dir->rev, NULL);
}

struct relay *
relay_new(struct event_base *base, int ext, int stream,
    const struct relay_cbs *cbs, void *arg)
{
	struct relay	*r;
	int		 one = 1;

	r = xcalloc(1, sizeof *r);
	r->base = base;
	r->fd[RELAY_EXT] = ext;
	r->fd[RELAY_STREAM] = stream;
	r->cbs = *cbs;
	r->arg = arg;
	/* We pass on segments as the application wrote them: no Nagle. */
	(void)setsockopt(ext, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	dir_init(r, DIR_OUT, ext, stream, &r->stats.bytes_out);
	dir_init(r, DIR_IN, stream, ext, &r->stats.bytes_in);
	return r;
}

const struct relay_stats *
relay_stats(const struct relay *r)
{
	return &r->stats;
}

static void
close_fd(struct relay *r, int side, int rst)
{
	struct linger	l = { 1, 0 };

	if (r->fd[side] == -1)
		return;
	/* A zero linger time makes close() send a TCP reset. */
	if (rst)
		(void)setsockopt(r->fd[side], SOL_SOCKET, SO_LINGER, &l,
		    sizeof l);
	close(r->fd[side]);
	r->fd[side] = -1;
}

static void
dir_clear(struct relay_dir *dir)
{
	if (dir->rev != NULL)
		event_free(dir->rev);
	if (dir->wev != NULL)
		event_free(dir->wev);
	dir->rev = dir->wev = NULL;
	pipe_put(dir->pipe, dir->inpipe == 0);
	dir->inpipe = 0;
	free(dir->pend);
	dir->pend = NULL;
}

/*
 * Ends the relay: after this the relay is gone, callers return at once.
 * A stream that may be kept keeps its read event, still registered,
 * through done(), so that its next owner can take the registration over
 * (relay_keep_stream()).
 */
static void
relay_finish(struct relay *r, enum relay_end end, int rst_ext)
{
	r->keep = end == RELAY_END_CLOSED && r->reuse && r->shut_sent &&
	    r->dir[DIR_IN].by_limit;
	if (r->keep) {
		r->watch = r->dir[DIR_IN].rev;
		r->dir[DIR_IN].rev = NULL;
	}
	dir_clear(&r->dir[DIR_OUT]);
	dir_clear(&r->dir[DIR_IN]);
	if (r->linger != NULL)
		event_free(r->linger);
	close_fd(r, RELAY_EXT, rst_ext);
	if (!r->keep)
		close_fd(r, RELAY_STREAM, 0);
	r->cbs.done(r, end, r->arg);
	if (r->watch != NULL)		/* the owner did not keep it */
		event_free(r->watch);
	close_fd(r, RELAY_STREAM, 0);
	free(r);
}

/*
 * In done(): a stream that carried this connection to a clean end in
 * both directions, by SHUT: the caller owns it now, and *watch, the
 * relay's read event on it, still registered with epoll.  The caller
 * frees *watch before done() returns, and before it closes the stream;
 * one that watches the stream again with RELAY_STREAM_WATCH adds its
 * own event first, and the stream's registration carries over: no
 * epoll_ctl(2) between one connection and the next.  Nothing was read
 * past the count, and an edge that came since woke only this relay, so
 * the next owner looks at the stream once (a peer's stray bytes or EOF
 * would wake nobody).  -1 (*watch NULL) for any other end.
 */
int
relay_keep_stream(struct relay *r, struct event **watch)
{
	int	fd = r->fd[RELAY_STREAM];

	*watch = NULL;
	if (!r->keep)
		return -1;
	r->keep = 0;
	r->fd[RELAY_STREAM] = -1;
	*watch = r->watch;
	r->watch = NULL;
	return fd;
}

static void
relay_linger_cb(int fd, short ev, void *arg)
{
	struct relay	*r = arg;
	ssize_t		 n;

	if (ev & EV_READ) {
		n = recv(fd, scratch, sizeof scratch, 0);
		if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
			return;		/* discard until the peer closes */
	}
	relay_finish(r, RELAY_END_EXT_RESET, 0);
}

/*
 * ext was reset or failed.  Tell the owner, who tells the other agent;
 * then keep the stream open (discarding what arrives) until the other
 * agent closes it, so that it never mistakes our close for an EOF.
 */
static void
relay_ext_failed(struct relay *r)
{
	struct timeval	tv = { RELAY_LINGER_SEC, 0 };

	dir_clear(&r->dir[DIR_OUT]);
	dir_clear(&r->dir[DIR_IN]);
	close_fd(r, RELAY_EXT, 1);
	if (r->cbs.ext_reset == NULL || r->cbs.ext_reset(r, r->arg) == -1) {
		relay_finish(r, RELAY_END_EXT_RESET, 0);
		return;
	}
	r->linger = event_new(r->base, r->fd[RELAY_STREAM],
	    EV_READ | EV_PERSIST | EV_TIMEOUT, relay_linger_cb, r);
	if (r->linger == NULL)
		fatalx("relay: event_new failed");
	event_add(r->linger, &tv);
}

/* The socket on side failed: the relay is gone when this returns. */
static void
relay_side_failed(struct relay *r, int side, const char *what)
{
	log_debug("relay: %s: %s", what, strerror(errno));
	if (side == RELAY_EXT)
		relay_ext_failed(r);
	else
		relay_finish(r, RELAY_END_STREAM_LOST, 1);
}

static int
dir_src_side(const struct relay_dir *dir)
{
	return dir == &dir->r->dir[DIR_OUT] ? RELAY_EXT : RELAY_STREAM;
}

/* Both directions saw EOF and passed it on: a clean end. */
static int
relay_check_done(struct relay *r)
{
	if (!r->dir[DIR_OUT].done || !r->dir[DIR_IN].done)
		return 0;
	relay_finish(r, RELAY_END_CLOSED, 0);
	return 1;
}

/*
 * EOF from the source, everything before it delivered: pass it on.  With
 * reuse, ext's EOF travels as SHUT and the stream stays open.
 */
static void
dir_shutdown(struct relay_dir *dir)
{
	struct relay	*r = dir->r;

	/*
	 * At a SHUT's count the stream stays registered (the read event
	 * is ignored from now on): it may carry the next connection.
	 */
	if (!dir->by_limit)
		event_del(dir->rev);
	event_del(dir->wev);
	dir->done = 1;
	if (dir == &r->dir[DIR_OUT] && r->reuse &&
	    r->cbs.shut(r, *dir->count, r->arg) == 0)
		r->shut_sent = 1;
	else {
		if (dir == &r->dir[DIR_OUT])
			r->reuse = 0;
		(void)shutdown(dir->dst, SHUT_WR);
	}
	relay_check_done(r);
}

/* A real EOF on the source: short of a SHUT's count, the stream failed. */
static void
dir_eof(struct relay_dir *dir)
{
	struct relay	*r = dir->r;

	if (dir == &r->dir[DIR_IN]) {
		r->reuse = 0;		/* the other agent shut it down */
		if (dir->limited && *dir->count < dir->limit) {
			errno = EPIPE;
			relay_side_failed(r, RELAY_STREAM,
			    "stream ended before its SHUT count");
			return;
		}
	}
	dir_shutdown(dir);
}

/*
 * How much the source may give now: want, or less when a SHUT's count is
 * near; 0 at the count, where the source ends (passed on here).
 */
static size_t
dir_room(struct relay_dir *dir, size_t want)
{
	uint64_t	left;

	if (!dir->limited)
		return want;
	left = dir->limit - *dir->count;
	if (left == 0) {
		dir->by_limit = 1;
		dir_shutdown(dir);
	}
	return left < want ? (size_t)left : want;
}

/* After a read: at the count, the next turn ends the direction. */
static int
dir_at_limit(const struct relay_dir *dir)
{
	return dir->limited && *dir->count == dir->limit;
}

/* The sink is full: no reading until what is held has gone out. */
static void
dir_hold(struct relay_dir *dir)
{
	dir->held = 1;
	dir->src_ready = 1;
	event_add(dir->wev, NULL);
}

static void	dir_pump(struct relay_dir *);

/* Everything held has gone out: read what waits meanwhile. */
static void
dir_release(struct relay_dir *dir)
{
	dir->held = 0;
	event_del(dir->wev);
	if (dir->src_ready) {
		dir->src_ready = 0;
		dir_pump(dir);
	}
}

/*
 * Moves the pipe's bytes to the sink.  Returns 1 when the pipe is empty
 * (and back in the pool), 0 when the sink is full, -1 when the relay is
 * gone.
 */
static int
dir_drain_pipe(struct relay_dir *dir)
{
	ssize_t	n;

	while (dir->inpipe > 0) {
		n = splice(dir->pipe[0], NULL, dir->dst, NULL, dir->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			relay_side_failed(dir->r, !dir_src_side(dir),
			    "splice to socket");
			return -1;
		}
		dir->inpipe -= (size_t)n;
	}
	pipe_put(dir->pipe, 1);
	return 1;
}

/*
 * Writes p[0..len) to the sink.  Returns the number of bytes written, or
 * -1 if the sink failed (the relay is then gone).
 */
static ssize_t
dir_send(struct relay_dir *dir, const uint8_t *p, size_t len)
{
	ssize_t	n;

	do
		n = send(dir->dst, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	relay_side_failed(dir->r, !dir_src_side(dir), "send");
	return -1;
}

/* A read error on the source: dry (EAGAIN), or the relay is gone. */
static int
dir_read_failed(struct relay_dir *dir, const char *what)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		dir->closing = 0;	/* dry, and no EOF waits */
		return PUMP_DRY;
	}
	if (errno == EINTR)
		return PUMP_DRY;
	relay_side_failed(dir->r, dir_src_side(dir), what);
	return PUMP_GONE;
}

/*
 * Copying: one recv(), one send(); what the sink leaves is kept.  A
 * short read emptied the socket (stream sockets give all they have),
 * unless an EOF or a hang-up waits behind it.
 */
static int
dir_copy(struct relay_dir *dir)
{
	ssize_t	n, sent;
	size_t	room;

	if ((room = dir_room(dir, sizeof scratch)) == 0)
		return PUMP_GONE;
	n = recv(dir->src, scratch, room, MSG_DONTWAIT);
	if (n == -1)
		return dir_read_failed(dir, "recv");
	if (n == 0) {
		dir_eof(dir);
		return PUMP_GONE;
	}
	*dir->count += (uint64_t)n;
	if ((size_t)n == sizeof scratch && !dir->nosplice)
		dir->bulk = 1;
	if ((sent = dir_send(dir, scratch, (size_t)n)) == -1)
		return PUMP_GONE;
	if (sent == n)
		return (size_t)n < sizeof scratch && !dir->closing &&
		    !dir_at_limit(dir) ? PUMP_DRY : PUMP_MOVED;
	dir->pend_len = (size_t)(n - sent);
	dir->pend_off = 0;
	dir->pend = xmalloc(dir->pend_len);
	memcpy(dir->pend, scratch + sent, dir->pend_len);
	dir_hold(dir);
	return PUMP_HELD;
}

/*
 * Bulk: splice from the source into a pipe, and on to the sink.  The
 * first read of a turn is what was there when the source woke us: when
 * it is small, the bulk transfer is over.
 */
static int
dir_splice(struct relay_dir *dir, int first)
{
	ssize_t	n;
	size_t	room;

	if ((room = dir_room(dir, RELAY_PIPE_SIZE)) == 0)
		return PUMP_GONE;
	if (dir->pipe[0] == -1 && pipe_get(dir->pipe) == -1)
		return dir_copy(dir);	/* out of descriptors: copy for now */
	pipes_trim_later(dir->r->base);
	n = splice(dir->src, NULL, dir->pipe[1], NULL, room,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n == -1 && errno == EINVAL) {
		/* A socket type without splice: copy from now on. */
		pipe_put(dir->pipe, 1);
		dir->bulk = 0;
		dir->nosplice = 1;
		return dir_copy(dir);
	}
	if (n <= 0)
		pipe_put(dir->pipe, 1);
	if (n == -1)
		return dir_read_failed(dir, "splice from socket");
	if (n == 0) {
		dir_eof(dir);
		return PUMP_GONE;
	}
	*dir->count += (uint64_t)n;
	dir->r->stats.spliced += (uint64_t)n;
	if (first && (size_t)n < RELAY_SMALL)
		dir->bulk = 0;		/* small messages again */
	dir->inpipe = (size_t)n;
	switch (dir_drain_pipe(dir)) {
	case -1:
		return PUMP_GONE;
	case 0:
		dir_hold(dir);
		return PUMP_HELD;
	}
	return PUMP_MOVED;
}

/*
 * Reads until the source is dry (the edge-triggered event will not come
 * again before it is) or the sink is full; after RELAY_ROUNDS reads the
 * other connections get a turn first.
 */
static void
dir_pump(struct relay_dir *dir)
{
	int	i;

	for (i = 0; i < RELAY_ROUNDS; i++)
		if ((dir->bulk ? dir_splice(dir, i == 0) : dir_copy(dir)) !=
		    PUMP_MOVED)
			return;
	event_active(dir->rev, EV_READ, 1);
}

static void
relay_read_cb(int fd, short ev, void *arg)
{
	struct relay_dir	*dir = arg;

	(void)fd;
	if (dir->done)
		return;			/* ended at a SHUT's count */
	if (ev & (EV_CLOSED | EV_WRITE))	/* EPOLLRDHUP, EPOLLHUP, EPOLLERR */
		dir->closing = 1;
	if (dir->held)
		dir->src_ready = 1;	/* read once the sink has taken it */
	else
		dir_pump(dir);
}

/* The sink can take more of what is held. */
static void
relay_write_cb(int fd, short ev, void *arg)
{
	struct relay_dir	*dir = arg;
	ssize_t			 n;

	(void)fd;
	(void)ev;
	if (!dir->held)
		return;		/* an edge for the other direction's read */
	if (dir->inpipe > 0) {
		if (dir_drain_pipe(dir) == 1)
			dir_release(dir);
		return;
	}
	n = dir_send(dir, dir->pend + dir->pend_off,
	    dir->pend_len - dir->pend_off);
	if (n == -1)
		return;
	dir->pend_off += (size_t)n;
	if (dir->pend_off < dir->pend_len)
		return;
	free(dir->pend);
	dir->pend = NULL;
	dir->pend_off = dir->pend_len = 0;
	dir_release(dir);
}

/*
 * An idle stream's next owner watches it as a relay does (persistent,
 * cb(arg), tv a timeout or NULL); the watch it had (old, if any) goes
 * after, so the stream's epoll registration carries over.
 */
struct event *
relay_watch_stream(struct event_base *base, int fd, event_callback_fn cb,
    void *arg, const struct timeval *tv, struct event *old)
{
	struct event	*ev;

	ev = event_new(base, fd, RELAY_STREAM_WATCH | EV_PERSIST, cb, arg);
	if (ev == NULL)
		fatalx("relay: event_new failed");
	event_add(ev, tv);
	if (old != NULL)
		event_free(old);
	return ev;
}

/*
 * What waits on a stream that should be idle, looked at without reading
 * it: RELAY_IDLE_QUIET (nothing), RELAY_IDLE_BYTES (the peer wrote), or
 * RELAY_IDLE_GONE (it closed, or the socket failed).
 */
enum relay_idle
relay_stream_idle(int fd)
{
	char	c;
	ssize_t	n;

	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return RELAY_IDLE_BYTES;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return RELAY_IDLE_QUIET;
	return RELAY_IDLE_GONE;
}

/*
 * The stream came watched by its last owner (a pool), whose watch this
 * relay's took the epoll registration of: an edge before (bytes, EOF)
 * went to that watch, so look at the stream once, reading until it is
 * dry or ends (EV_CLOSED: a short read is not taken for dry, since an
 * EOF behind the bytes would wake nobody again).
 */
void
relay_look_stream(struct relay *r)
{
	event_active(r->dir[DIR_IN].rev, EV_READ | EV_CLOSED, 1);
}

/* The other agent speaks protocol 4: EOFs travel as SHUT. */
void
relay_set_reuse(struct relay *r)
{
	r->reuse = 1;
}

/*
 * The other agent's SHUT: its bytes on the stream end after bytes.  A
 * count below what already came, or a second, different one, is a broken
 * stream: the relay ends, resetting ext.  The relay may be gone when
 * this returns.
 */
void
relay_peer_shut(struct relay *r, uint64_t bytes)
{
	struct relay_dir	*dir = &r->dir[DIR_IN];

	if (r->linger != NULL)
		return;		/* ext failed: waiting for the stream's end */
	if (dir->done && !dir->limited)
		return;		/* a real EOF came first (no reuse) */
	if ((dir->limited && dir->limit != bytes) || *dir->count > bytes) {
		errno = EPROTO;
		relay_side_failed(r, RELAY_STREAM, "SHUT count");
		return;
	}
	if (dir->limited)
		return;
	dir->limited = 1;
	dir->limit = bytes;
	if (dir->held)
		dir->src_ready = 1;
	else if (*dir->count == bytes)
		dir_pump(dir);		/* ends the direction now */
}

/*
 * The control channel is gone: a SHUT we sent may never have arrived,
 * and none can be sent any more, so EOFs shut the stream down again.
 */
void
relay_unshare(struct relay *r)
{
	if (r->shut_sent)
		(void)shutdown(r->fd[RELAY_STREAM], SHUT_WR);
	r->shut_sent = 0;
	r->reuse = 0;
}

/* The other agent says its side was reset: reset ours. */
void
relay_reset(struct relay *r)
{
	relay_finish(r, RELAY_END_PEER_RESET, 1);
}

/* The owner ends the relay (shutdown, session policy): reset ext. */
void
relay_abort(struct relay *r)
{
	relay_finish(r, RELAY_END_ABORTED, 1);
}
