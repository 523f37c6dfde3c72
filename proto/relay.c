/*
 * The relay between an outside socket and a data stream.
 *
 * Each direction reads its source into one shared scratch buffer and
 * writes it to its sink at once.  Only when the sink takes less than all
 * of it is the rest copied into a buffer of the direction's own; reading
 * then stops until that buffer has drained, and the buffer is freed.  So
 * an idle connection holds no buffer, a busy one at most one per
 * direction, and a slow reader stops the source (back-pressure).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "relay.h"
#include "xmalloc.h"

#define RELAY_BUFSZ		(64 * 1024)
#define RELAY_LINGER_SEC	10	/* wait for the peer after a reset */

enum { DIR_OUT = 0, DIR_IN = 1 };	/* ext->stream, stream->ext */

struct relay_dir {
	struct relay	*r;
	int		 src, dst;
	struct event	*rev;		/* src readable */
	struct event	*wev;		/* dst writable */
	uint8_t		*pend;		/* bytes the sink did not take yet */
	size_t		 pend_off, pend_len;
	uint64_t	*count;
	int		 eof;		/* src said EOF */
	int		 done;		/* and dst was shut down for writing */
};

struct relay {
	struct event_base	*base;
	int			 fd[2];		/* RELAY_EXT, RELAY_STREAM */
	struct relay_dir	 dir[2];
	struct event		*linger;	/* after an ext reset */
	struct relay_cbs	 cbs;
	void			*arg;
	struct relay_stats	 stats;
};

static uint8_t	scratch[RELAY_BUFSZ];

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

static void
dir_init(struct relay *r, int d, int src, int dst, uint64_t *count)
{
	struct relay_dir	*dir = &r->dir[d];

	dir->r = r;
	dir->src = src;
	dir->dst = dst;
	dir->count = count;
	dir->rev = event_new(r->base, src, EV_READ | EV_PERSIST,
	    relay_read_cb, dir);
	dir->wev = event_new(r->base, dst, EV_WRITE | EV_PERSIST,
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
	free(dir->pend);
	dir->pend = NULL;
}

/* Ends the relay: after this the relay is gone, callers return at once. */
static void
relay_finish(struct relay *r, enum relay_end end, int rst_ext)
{
	dir_clear(&r->dir[DIR_OUT]);
	dir_clear(&r->dir[DIR_IN]);
	if (r->linger != NULL)
		event_free(r->linger);
	close_fd(r, RELAY_EXT, rst_ext);
	close_fd(r, RELAY_STREAM, 0);
	r->cbs.done(r, end, r->arg);
	free(r);
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
	if (r->cbs.ext_reset(r, r->arg) == -1) {
		relay_finish(r, RELAY_END_EXT_RESET, 0);
		return;
	}
	r->linger = event_new(r->base, r->fd[RELAY_STREAM],
	    EV_READ | EV_PERSIST | EV_TIMEOUT, relay_linger_cb, r);
	if (r->linger == NULL)
		fatalx("relay: event_new failed");
	event_add(r->linger, &tv);
}

static void
relay_side_failed(struct relay *r, int side)
{
	if (side == RELAY_EXT)
		relay_ext_failed(r);
	else
		relay_finish(r, RELAY_END_STREAM_LOST, 1);
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

static void
dir_shutdown(struct relay_dir *dir)
{
	event_del(dir->rev);
	event_del(dir->wev);
	(void)shutdown(dir->dst, SHUT_WR);
	dir->done = 1;
	relay_check_done(dir->r);
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
	log_debug("relay: send: %s", strerror(errno));
	relay_side_failed(dir->r, dir == &dir->r->dir[DIR_OUT] ?
	    RELAY_STREAM : RELAY_EXT);
	return -1;
}

static void
relay_read_cb(int fd, short ev, void *arg)
{
	struct relay_dir	*dir = arg;
	ssize_t			 n, sent;

	(void)ev;
	n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		log_debug("relay: recv: %s", strerror(errno));
		relay_side_failed(dir->r, dir == &dir->r->dir[DIR_OUT] ?
		    RELAY_EXT : RELAY_STREAM);
		return;
	}
	if (n == 0) {
		dir->eof = 1;
		dir_shutdown(dir);
		return;
	}
	*dir->count += (uint64_t)n;
	if ((sent = dir_send(dir, scratch, (size_t)n)) == -1)
		return;
	if (sent == n)
		return;
	/* The sink is full: keep the rest and stop reading until it drains. */
	dir->pend_len = (size_t)(n - sent);
	dir->pend_off = 0;
	dir->pend = xmalloc(dir->pend_len);
	memcpy(dir->pend, scratch + sent, dir->pend_len);
	event_del(dir->rev);
	event_add(dir->wev, NULL);
}

static void
relay_write_cb(int fd, short ev, void *arg)
{
	struct relay_dir	*dir = arg;
	ssize_t			 n;

	(void)fd;
	(void)ev;
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
	event_del(dir->wev);
	event_add(dir->rev, NULL);
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
