/*
 * Unit tests for proto/relay.c.  Each test gets a fresh event base and
 * a fresh pair of sockets per side: the relay holds one end ("ext" and
 * "stream"), the test drives the far ends ("peers") from the same event
 * loop with pumps that write pseudo-random bytes and sinks that read and
 * keep them, then compares what arrived.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "relay.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

#define MiB		(1024 * 1024)
#define RELAY_BUFSZ	RELAY_PIPE_SIZE	/* the most a direction holds */
#define RUN_TIMEOUT_MS	20000

/* Writes data to a peer socket; shuts it down for writing when done. */
struct pump {
	uint8_t		*data;
	size_t		 len, off;
	int		 shut;
	int		 err;		/* errno of a failed send */
	struct event	*ev;
};

/* Reads a peer socket until EOF; may close it abruptly after a while. */
struct sink {
	uint8_t		*buf;
	size_t		 cap, len;
	size_t		 close_after;	/* 0: never */
	int		 eof;
	int		 err;		/* errno of a failed recv */
	struct event	*ev;
};

static struct {
	struct event_base	*base;
	struct event		*tick;		/* wakes the loop */
	int			 fd[2];		/* the relay's ends */
	int			 peer[2];	/* the far ends, by side */
	struct pump		 pump[2];	/* writes into peer[side] */
	struct sink		 sink[2];	/* reads from peer[side] */
	struct relay		*r;
	int			 done;
	enum relay_end		 end;
	struct relay_stats	 stats;		/* as done saw them */
	int			 ext_resets;
	int			 ext_reset_ret;
	int			 shuts;		/* reuse: SHUTs asked for */
	uint64_t		 shut_bytes;
	int			 shut_ret;
	int			 kept;		/* the stream, kept in done */
	struct event		*keeper;	/* its next owner's watch */
	int			 keeper_woke;
} f;

static void
tick_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
}

static void
set_nonblock(int fd)
{
	ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    -1);
}

static void
setup(void)
{
	struct timeval	tv = { 0, 5000 };
	int		side;

	signal(SIGPIPE, SIG_IGN);
	memset(&f, 0, sizeof f);
	for (side = 0; side < 2; side++)
		f.fd[side] = f.peer[side] = -1;
	f.kept = -1;
	f.base = event_base_new();
	ck_assert_ptr_nonnull(f.base);
	f.tick = event_new(f.base, -1, EV_PERSIST, tick_cb, NULL);
	ck_assert_ptr_nonnull(f.tick);
	event_add(f.tick, &tv);
}

static void
teardown(void)
{
	int	side;

	if (f.r != NULL)
		relay_abort(f.r);
	for (side = 0; side < 2; side++) {
		if (f.pump[side].ev != NULL)
			event_free(f.pump[side].ev);
		if (f.sink[side].ev != NULL)
			event_free(f.sink[side].ev);
		free(f.pump[side].data);
		free(f.sink[side].buf);
		if (f.peer[side] != -1)
			close(f.peer[side]);
	}
	if (f.keeper != NULL)
		event_free(f.keeper);
	if (f.kept != -1)
		close(f.kept);
	event_free(f.tick);
	event_base_free(f.base);
}

/*
 * A Unix socketpair for one side, with send buffers of a known size
 * (whatever the host's default), so that a few MiB cannot all be in
 * flight at once.
 */
static void
make_unix(int side)
{
	int	sv[2], i, size = 128 * 1024;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (i = 0; i < 2; i++) {
		set_nonblock(sv[i]);
		ck_assert_int_eq(setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF,
		    &size, sizeof size), 0);
	}
	f.fd[side] = sv[0];
	f.peer[side] = sv[1];
}

/*
 * A real TCP connection over 127.0.0.1 for one side: the relay gets the
 * accepted end, the peer (the client) the connecting one.
 */
static void
make_tcp(int side)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof sin;
	int			lfd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(lfd, -1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	f.peer[side] = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(f.peer[side], -1);
	ck_assert_int_eq(connect(f.peer[side], (struct sockaddr *)&sin,
	    sizeof sin), 0);
	f.fd[side] = accept(lfd, NULL, NULL);
	ck_assert_int_ne(f.fd[side], -1);
	close(lfd);
	set_nonblock(f.fd[side]);
	set_nonblock(f.peer[side]);
}

static void
make_tcp_ext(void)
{
	make_tcp(RELAY_EXT);
}

static int
ext_reset_cb(struct relay *r, void *arg)
{
	(void)r;
	(void)arg;
	f.ext_resets++;
	return f.ext_reset_ret;
}

static void
keeper_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	f.keeper_woke++;
}

/*
 * A kept stream is watched as its next owner would (a pool): its watch
 * on before the relay's goes, which it so takes the registration of.
 */
static void
done_cb(struct relay *r, enum relay_end end, void *arg)
{
	struct event	*watch;

	(void)arg;
	ck_assert_msg(!f.done, "done called twice");
	f.done = 1;
	f.end = end;
	f.stats = *relay_stats(r);
	f.kept = relay_keep_stream(r, &watch);
	if (f.kept != -1) {
		ck_assert_ptr_nonnull(watch);
		f.keeper = event_new(f.base, f.kept, RELAY_STREAM_WATCH |
		    EV_PERSIST, keeper_cb, NULL);
		ck_assert_ptr_nonnull(f.keeper);
		ck_assert_int_eq(event_add(f.keeper, NULL), 0);
		event_free(watch);
	} else
		ck_assert_ptr_null(watch);
	f.r = NULL;
}

static int
shut_cb(struct relay *r, uint64_t bytes, void *arg)
{
	(void)r;
	(void)arg;
	f.shuts++;
	f.shut_bytes = bytes;
	return f.shut_ret;
}

static const struct relay_cbs cbs = {
	.ext_reset = ext_reset_cb,
	.shut = shut_cb,
	.done = done_cb,
};

/* Starts the relay, over Unix socketpairs where no socket is set up yet. */
static void
start_relay(void)
{
	if (f.fd[RELAY_EXT] == -1)
		make_unix(RELAY_EXT);
	if (f.fd[RELAY_STREAM] == -1)
		make_unix(RELAY_STREAM);
	f.r = relay_new(f.base, f.fd[RELAY_EXT], f.fd[RELAY_STREAM], &cbs,
	    NULL);
	ck_assert_ptr_nonnull(f.r);
}

static void
assert_end(enum relay_end want)
{
	ck_assert_msg(f.done, "relay not done");
	ck_assert_msg(f.end == want, "relay ended \"%s\", want \"%s\"",
	    relay_end_name(f.end), relay_end_name(want));
}

static long
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
run_for(long ms)
{
	long	end = now_ms() + ms;

	while (now_ms() < end)
		event_base_loop(f.base, EVLOOP_ONCE);
}

/* Runs the loop until cond(arg) holds; fails the test after a while. */
static void
run_until(int (*cond)(int), int arg, const char *what)
{
	long	end = now_ms() + RUN_TIMEOUT_MS;

	while (!cond(arg)) {
		ck_assert_msg(now_ms() < end, "timed out waiting for %s",
		    what);
		event_base_loop(f.base, EVLOOP_ONCE);
	}
}

/* Conditions for run_until(). */
static int
relay_done(int unused)
{
	(void)unused;
	return f.done;
}

static int
sink_eof(int side)
{
	return f.sink[side].eof;
}

/* Every started sink saw EOF. */
static int
sinks_eof(int unused)
{
	(void)unused;
	return (f.sink[RELAY_EXT].ev == NULL || f.sink[RELAY_EXT].eof) &&
	    (f.sink[RELAY_STREAM].ev == NULL || f.sink[RELAY_STREAM].eof);
}

static int
stream_got(int n)
{
	return f.sink[RELAY_STREAM].len >= (size_t)n;
}

static int
keeper_woke(int unused)
{
	(void)unused;
	return f.keeper_woke > 0;
}

static int
ext_got(int n)
{
	return f.sink[RELAY_EXT].len >= (size_t)n;
}

static int
pump_done(int side)
{
	return f.pump[side].off == f.pump[side].len;
}

static int
ext_reset_called(int unused)
{
	(void)unused;
	return f.ext_resets > 0;
}

/* xorshift64: the same pseudo-random bytes for a seed, every run. */
static uint8_t *
random_bytes(size_t len, uint64_t seed)
{
	uint8_t		*p = malloc(len > 0 ? len : 1);
	uint64_t	 x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t		 i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
	return p;
}

static void
pump_cb(int fd, short ev, void *arg)
{
	struct pump	*p = arg;
	size_t		 n = p->len - p->off;
	ssize_t		 w;

	(void)ev;
	if (n > 256 * 1024)
		n = 256 * 1024;
	if (n > 0) {
		w = send(fd, p->data + p->off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w == -1) {
			p->err = errno;
			event_del(p->ev);
			return;
		}
		p->off += (size_t)w;
		if (p->off < p->len)
			return;
	}
	if (p->shut)
		ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	event_del(p->ev);
}

/* Writes len pseudo-random bytes into peer[side], then maybe EOF. */
static void
pump_start(int side, size_t len, int shut)
{
	struct pump	*p = &f.pump[side];

	p->data = random_bytes(len, side + 1);
	p->len = len;
	p->shut = shut;
	p->ev = event_new(f.base, f.peer[side], EV_WRITE | EV_PERSIST,
	    pump_cb, p);
	ck_assert_ptr_nonnull(p->ev);
	event_add(p->ev, NULL);
}

static void
sink_cb(int fd, short ev, void *arg)
{
	struct sink	*s = arg;
	int		 side = s == &f.sink[RELAY_EXT] ? RELAY_EXT :
			    RELAY_STREAM;
	ssize_t		 n;

	(void)ev;
	ck_assert_msg(s->len < s->cap, "more bytes than were sent");
	n = recv(fd, s->buf + s->len, s->cap - s->len, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0)
			s->eof = 1;
		else
			s->err = errno;
		event_del(s->ev);
		return;
	}
	s->len += (size_t)n;
	if (s->close_after > 0 && s->len >= s->close_after) {
		/* Gone, with unread data: the relay sees a reset. */
		event_del(s->ev);
		close(f.peer[side]);
		f.peer[side] = -1;
	}
}

/* Reads peer[side] into a buffer with room for cap bytes (and 1 more). */
static void
sink_start(int side, size_t cap)
{
	struct sink	*s = &f.sink[side];

	s->cap = cap + 1;
	s->buf = malloc(s->cap);
	ck_assert_ptr_nonnull(s->buf);
	s->ev = event_new(f.base, f.peer[side], EV_READ | EV_PERSIST,
	    sink_cb, s);
	ck_assert_ptr_nonnull(s->ev);
	event_add(s->ev, NULL);
}

/* What the sink on one side got is exactly what the other side sent. */
static void
assert_delivered(int side)
{
	const struct sink	*s = &f.sink[side];
	const struct pump	*p = &f.pump[!side];
	size_t			 i;

	ck_assert_msg(s->len == p->len, "%s peer got %zu of %zu bytes",
	    side == RELAY_EXT ? "ext" : "stream", s->len, p->len);
	if (memcmp(s->buf, p->data, p->len) == 0)
		return;
	for (i = 0; s->buf[i] == p->data[i]; i++)
		;
	ck_abort_msg("%s peer: byte %zu differs", side == RELAY_EXT ? "ext" :
	    "stream", i);
}

/* Bytes waiting in a socket's receive queue. */
static int
inq(int fd)
{
	int	n;

	ck_assert_int_eq(ioctl(fd, SIOCINQ, &n), 0);
	return n;
}

/* Condition: n bytes wait, unread, at the stream peer. */
static int
stream_unread(int n)
{
	return inq(f.peer[RELAY_STREAM]) >= n;
}

/* The TCP client on ext saw a reset, on its pump or on a read. */
static void
assert_ext_reset(void)
{
	struct pollfd	pfd = { f.peer[RELAY_EXT], POLLIN, 0 };
	char		c;

	if (f.pump[RELAY_EXT].err == ECONNRESET)
		return;
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	errno = 0;
	ck_assert_int_eq(recv(f.peer[RELAY_EXT], &c, 1, MSG_DONTWAIT), -1);
	ck_assert_msg(errno == ECONNRESET, "ext peer: %s, not a reset",
	    strerror(errno));
}

/*
 * A send buffer of a few KiB on the relay's own sockets, while the peers
 * keep their large ones: the relay reads big chunks, its sends are
 * partial, and what it holds back goes out in pieces.
 */
static void
shrink_buffers(void)
{
	int	side, size = 4096;

	for (side = 0; side < 2; side++)
		ck_assert_int_eq(setsockopt(f.fd[side], SOL_SOCKET, SO_SNDBUF,
		    &size, sizeof size), 0);
}

/*
 * Several MiB both ways at once, then EOF both ways: all arrives.  The
 * second run has small socket buffers.
 */
START_TEST(test_both_ways)
{
	size_t	out = 4 * MiB + 17, in = 3 * MiB + 123;

	start_relay();
	if (_i == 1)
		shrink_buffers();
	pump_start(RELAY_EXT, out, 1);
	pump_start(RELAY_STREAM, in, 1);
	sink_start(RELAY_EXT, in);
	sink_start(RELAY_STREAM, out);
	run_until(relay_done, 0, "the relay to end");
	run_until(sinks_eof, 0, "EOF on both peers");
	assert_end(RELAY_END_CLOSED);
	assert_delivered(RELAY_STREAM);
	assert_delivered(RELAY_EXT);
	ck_assert_uint_eq(f.stats.bytes_out, out);
	ck_assert_uint_eq(f.stats.bytes_in, in);
}
END_TEST

/*
 * EOF on ext reaches the stream as shutdown(SHUT_WR) only after the data
 * in flight, held up by a stream peer that has not read yet; the other
 * direction still flows after it, and the relay waits for its EOF.
 */
START_TEST(test_half_close)
{
	/* More than the relay's pipe and both sockets' buffers hold. */
	size_t	out = RELAY_PIPE_SIZE + 2 * MiB + 5, in = 512 * 1024 + 3;

	start_relay();
	pump_start(RELAY_EXT, out, 1);
	run_until(stream_unread, 1, "bytes at the stream peer");
	run_for(50);
	ck_assert_msg(f.pump[RELAY_EXT].off < out, "nothing held up");

	sink_start(RELAY_STREAM, out);
	run_until(sink_eof, RELAY_STREAM, "EOF on the stream peer");
	assert_delivered(RELAY_STREAM);
	ck_assert(!f.done);

	pump_start(RELAY_STREAM, in, 0);
	sink_start(RELAY_EXT, in);
	run_until(ext_got, in, "the ext peer to get its bytes");
	run_for(50);
	ck_assert(!f.done);
	ck_assert(!f.sink[RELAY_EXT].eof);

	ck_assert_int_eq(shutdown(f.peer[RELAY_STREAM], SHUT_WR), 0);
	run_until(relay_done, 0, "the relay to end");
	run_until(sinks_eof, 0, "EOF on the ext peer");
	assert_end(RELAY_END_CLOSED);
	assert_delivered(RELAY_EXT);
}
END_TEST

/* EOF from both peers, no data, either one first: a clean end. */
START_TEST(test_eof_both)
{
	int	first = _i, second = !_i;

	start_relay();
	sink_start(RELAY_EXT, 0);
	sink_start(RELAY_STREAM, 0);
	ck_assert_int_eq(shutdown(f.peer[first], SHUT_WR), 0);
	run_until(sink_eof, second, "the first EOF to pass");
	run_for(20);
	ck_assert(!f.done);
	ck_assert(!f.sink[first].eof);
	ck_assert_int_eq(shutdown(f.peer[second], SHUT_WR), 0);
	run_until(relay_done, 0, "the relay to end");
	run_until(sinks_eof, 0, "EOF on both peers");
	assert_end(RELAY_END_CLOSED);
	ck_assert_uint_eq(f.stats.bytes_out, 0);
	ck_assert_uint_eq(f.stats.bytes_in, 0);
}
END_TEST

/* The other agent reports a reset: ext is reset, the stream closed. */
START_TEST(test_peer_reset)
{
	make_tcp_ext();
	start_relay();
	sink_start(RELAY_STREAM, 16);
	ck_assert_int_eq(send(f.peer[RELAY_EXT], "abc", 3, 0), 3);
	run_until(stream_got, 3, "the bytes at the stream peer");
	relay_reset(f.r);
	assert_end(RELAY_END_PEER_RESET);
	ck_assert_uint_eq(f.stats.bytes_out, 3);
	assert_ext_reset();
	run_until(sinks_eof, 0, "EOF on the stream peer");
}
END_TEST

START_TEST(test_abort)
{
	make_tcp_ext();
	start_relay();
	run_for(20);
	relay_abort(f.r);
	assert_end(RELAY_END_ABORTED);
	assert_ext_reset();
}
END_TEST

/* What the relay has read from a side so far. */
static uint64_t
relay_read_from(int side)
{
	const struct relay_stats	*st = relay_stats(f.r);

	return side == RELAY_EXT ? st->bytes_out : st->bytes_in;
}

/*
 * Nobody reads one side (the stream, then ext): the relay stops reading
 * the other with at most one buffer of its own, and the writer there is
 * stopped by its full socket.  Then the reader reads, and every byte
 * arrives.
 */
START_TEST(test_slow_reader)
{
	int		src = _i == 0 ? RELAY_EXT : RELAY_STREAM, dst = !src;
	size_t		out = 8 * MiB, last_off = 0;
	uint64_t	last_read = 0, nread;
	int		quiet = 0, round, held;

	start_relay();
	pump_start(src, out, 1);
	pump_start(dst, 0, 1);
	for (round = 0; round < 200 && quiet < 3; round++) {
		run_for(20);
		ck_assert_msg(!f.done, "relay ended: %s",
		    relay_end_name(f.end));
		nread = relay_read_from(src);
		if (f.pump[src].off == last_off && nread == last_read)
			quiet++;
		else
			quiet = 0;
		last_off = f.pump[src].off;
		last_read = nread;
	}
	ck_assert_msg(quiet == 3, "the relay kept reading");
	ck_assert_msg(last_off < out, "the writer was never stopped");
	ck_assert_int_eq(f.pump[src].err, 0);

	/* Data waits, unread, at the source; the relay holds a buffer. */
	ck_assert_int_gt(inq(f.fd[src]), 0);
	ck_assert_uint_eq(last_off, last_read + inq(f.fd[src]));
	held = (int)(last_read - inq(f.peer[dst]));
	ck_assert_msg(held >= 0 && held <= RELAY_BUFSZ, "relay holds %d "
	    "bytes", held);

	sink_start(dst, out);
	sink_start(src, 0);
	run_until(relay_done, 0, "the relay to end");
	run_until(sinks_eof, 0, "EOF on both peers");
	assert_end(RELAY_END_CLOSED);
	assert_delivered(dst);
}
END_TEST

/* TCP_NODELAY on a TCP ext: segments pass as the application wrote them. */
START_TEST(test_nodelay)
{
	socklen_t	sl = sizeof(int);
	int		on = 0;

	make_tcp_ext();
	start_relay();
	ck_assert_int_eq(getsockopt(f.fd[RELAY_EXT], IPPROTO_TCP, TCP_NODELAY,
	    &on, &sl), 0);
	ck_assert_int_eq(on, 1);
}
END_TEST

/* The stream peer vanishes while data flows to it: ext is reset. */
START_TEST(test_stream_lost)
{
	make_tcp_ext();
	start_relay();
	pump_start(RELAY_EXT, 16 * MiB, 0);
	sink_start(RELAY_STREAM, 16 * MiB);
	f.sink[RELAY_STREAM].close_after = 256 * 1024;
	run_until(relay_done, 0, "the relay to end");
	assert_end(RELAY_END_STREAM_LOST);
	ck_assert_int_eq(f.ext_resets, 0);
	assert_ext_reset();
}
END_TEST

/*
 * The stream peer vanishes, unread data in its socket, while nothing is
 * in flight from ext: ext is still reset, not closed with an EOF.
 */
START_TEST(test_stream_lost_idle)
{
	make_tcp_ext();
	start_relay();
	ck_assert_int_eq(send(f.peer[RELAY_EXT], "unread", 6, 0), 6);
	run_until(stream_unread, 6, "the bytes at the stream peer");
	close(f.peer[RELAY_STREAM]);
	f.peer[RELAY_STREAM] = -1;
	run_until(relay_done, 0, "the relay to end");
	assert_end(RELAY_END_STREAM_LOST);
	assert_ext_reset();
}
END_TEST

/* The ext client resets; the owner cannot tell the other agent. */
START_TEST(test_ext_reset)
{
	struct linger	l = { 1, 0 };

	make_tcp_ext();
	start_relay();
	sink_start(RELAY_STREAM, 16);
	f.ext_reset_ret = -1;
	ck_assert_int_eq(send(f.peer[RELAY_EXT], "hello", 5, 0), 5);
	run_until(stream_got, 5, "the bytes at the stream peer");
	ck_assert_int_eq(setsockopt(f.peer[RELAY_EXT], SOL_SOCKET, SO_LINGER,
	    &l, sizeof l), 0);
	close(f.peer[RELAY_EXT]);
	f.peer[RELAY_EXT] = -1;
	run_until(relay_done, 0, "the relay to end");
	ck_assert_int_eq(f.ext_resets, 1);
	assert_end(RELAY_END_EXT_RESET);
	run_until(sinks_eof, 0, "EOF on the stream peer");
	ck_assert_uint_eq(f.sink[RELAY_STREAM].len, 5);
}
END_TEST

/*
 * The ext client resets and the owner told the other agent: the relay
 * keeps the stream open, discarding what arrives, until the other agent
 * closes it.
 */
START_TEST(test_ext_reset_linger)
{
	struct linger	l = { 1, 0 };
	char		c;

	make_tcp_ext();
	start_relay();
	f.ext_reset_ret = 0;
	ck_assert_int_eq(setsockopt(f.peer[RELAY_EXT], SOL_SOCKET, SO_LINGER,
	    &l, sizeof l), 0);
	close(f.peer[RELAY_EXT]);
	f.peer[RELAY_EXT] = -1;
	pump_start(RELAY_STREAM, 1 * MiB, 0);
	run_until(ext_reset_called, 0, "the ext_reset callback");
	run_until(pump_done, RELAY_STREAM, "the stream peer to write 1 MiB");
	run_for(50);
	ck_assert_int_eq(f.ext_resets, 1);
	ck_assert(!f.done);
	errno = 0;
	ck_assert_int_eq(recv(f.peer[RELAY_STREAM], &c, 1, MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);

	close(f.peer[RELAY_STREAM]);
	f.peer[RELAY_STREAM] = -1;
	event_free(f.pump[RELAY_STREAM].ev);
	f.pump[RELAY_STREAM].ev = NULL;
	run_until(relay_done, 0, "the relay to end");
	assert_end(RELAY_END_EXT_RESET);
	ck_assert_int_eq(f.ext_resets, 1);
}
END_TEST

START_TEST(test_end_names)
{
	enum relay_end	e;

	for (e = RELAY_END_CLOSED; e <= RELAY_END_ABORTED; e++)
		ck_assert_str_ne(relay_end_name(e), "?");
}
END_TEST

static const char *
kind_name(int side)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = sizeof ss;

	ck_assert_int_eq(getsockname(f.fd[side], (struct sockaddr *)&ss, &sl),
	    0);
	return ss.ss_family == AF_UNIX ? "unix" : "tcp";
}

static void
assert_no_pipe_held(const char *when)
{
	int	held, idle;

	relay_pipes(&held, &idle);
	ck_assert_msg(held == 0, "%s: %d pipes held", when, held);
}

/*
 * Bulk both ways over every pair of socket kinds (Unix, TCP; vsock is a
 * third kind in production): every byte arrives, almost all of it went
 * through pipes, and no pipe is held once done.
 */
START_TEST(test_splice_kinds)
{
	size_t	out = 4 * MiB + 17, in = 3 * MiB + 123;

	if (_i & 1)
		make_tcp(RELAY_EXT);
	if (_i & 2)
		make_tcp(RELAY_STREAM);
	start_relay();
	pump_start(RELAY_EXT, out, 1);
	pump_start(RELAY_STREAM, in, 1);
	sink_start(RELAY_EXT, in);
	sink_start(RELAY_STREAM, out);
	run_until(relay_done, 0, "the relay to end");
	run_until(sinks_eof, 0, "EOF on both peers");
	assert_end(RELAY_END_CLOSED);
	assert_delivered(RELAY_STREAM);
	assert_delivered(RELAY_EXT);
	ck_assert_msg(f.stats.spliced > (out + in) * 9 / 10, "ext %s, stream "
	    "%s: %llu of %zu bytes spliced", _i & 1 ? "tcp" : "unix",
	    _i & 2 ? "tcp" : "unix", (unsigned long long)f.stats.spliced,
	    out + in);
	assert_no_pipe_held("after the relay");
}
END_TEST

/* Sends n bytes on a peer socket, all at once (they are few). */
static void
peer_send(int side, size_t n)
{
	static uint8_t	buf[4096];

	memset(buf, 'x', n);
	ck_assert_int_eq(send(f.peer[side], buf, n, 0), (ssize_t)n);
}

/*
 * A few bytes and the EOF behind them arrive together (the relay sees
 * one readiness for both): both get through, over TCP and Unix sockets,
 * whether they wait before the relay starts or come while it runs.
 */
START_TEST(test_data_then_eof)
{
	int	side = _i & 1 ? RELAY_STREAM : RELAY_EXT;

	if (_i & 2)
		make_tcp(side);
	if (_i & 4) {
		start_relay();
		run_for(20);
	}
	if (f.fd[side] == -1)
		make_unix(side);
	peer_send(side, 7);
	ck_assert_int_eq(shutdown(f.peer[side], SHUT_WR), 0);
	if (f.r == NULL)
		start_relay();
	sink_start(!side, 7);
	run_until(sink_eof, !side, "the EOF behind the bytes");
	ck_assert_uint_eq(f.sink[!side].len, 7);
	ck_assert(!f.done);
}
END_TEST

/* One request of req bytes and its answer of n bytes, through the relay. */
static void
round_trip(size_t req, size_t ans, size_t *got_out, size_t *got_in)
{
	peer_send(RELAY_EXT, req);
	*got_out += req;
	run_until(stream_got, (int)*got_out, "the request");
	peer_send(RELAY_STREAM, ans);
	*got_in += ans;
	run_until(ext_got, (int)*got_in, "the answer");
}

/*
 * Small requests and answers are copied (recv and send), not spliced;
 * after a bulk transfer the relay holds no pipe, and small messages are
 * copied again.
 */
START_TEST(test_small_copied)
{
	size_t		 out = 0, in = 0, bulk = 2 * MiB, i;
	uint64_t	 spliced;

	make_tcp(RELAY_EXT);
	if (_i)
		make_tcp(RELAY_STREAM);
	start_relay();
	sink_start(RELAY_STREAM, 64 * 1024 + bulk);
	sink_start(RELAY_EXT, 64 * 1024);
	for (i = 1; i <= 100; i++)
		round_trip(i, 1, &out, &in);
	ck_assert_uint_eq(relay_stats(f.r)->spliced, 0);
	assert_no_pipe_held("after small messages");

	pump_start(RELAY_EXT, bulk, 0);
	out += bulk;
	run_until(stream_got, (int)out, "the bulk data");
	spliced = relay_stats(f.r)->spliced;
	ck_assert_msg(spliced > bulk / 2, "%s to %s: %llu of %zu bytes "
	    "spliced", kind_name(RELAY_EXT), kind_name(RELAY_STREAM),
	    (unsigned long long)spliced, bulk);
	assert_no_pipe_held("with the relay idle after bulk data");

	/* The first small read may still splice; the rest are copied. */
	round_trip(10, 10, &out, &in);
	spliced = relay_stats(f.r)->spliced;
	for (i = 0; i < 20; i++)
		round_trip(100, 100, &out, &in);
	ck_assert_uint_eq(relay_stats(f.r)->spliced, spliced);
	assert_no_pipe_held("after small messages again");
}
END_TEST

static int
ext_eof(int unused)
{
	(void)unused;
	return f.sink[RELAY_EXT].eof;
}

static int
shut_asked(int unused)
{
	(void)unused;
	return f.shuts > 0;
}

/*
 * Reuse: both ways end by count, not by EOF on the stream.  The other
 * agent's count comes before its bytes (0), after them (1) or while
 * they flow (2), and with bulk (3); the stream is kept, quiet: its peer
 * got exactly the bytes and no EOF, and nothing more waits in it.
 */
START_TEST(test_reuse_clean)
{
	size_t	out = _i == 3 ? 3 * MiB + 7 : 1000, in = _i == 3 ?
		    2 * MiB + 11 : 2345;

	start_relay();
	relay_set_reuse(f.r);
	if (_i == 0)
		relay_peer_shut(f.r, in);
	pump_start(RELAY_EXT, out, 1);
	pump_start(RELAY_STREAM, in, 0);
	sink_start(RELAY_EXT, in);
	sink_start(RELAY_STREAM, out);
	if (_i == 2)
		run_until(ext_got, 1, "the first bytes at ext");
	if (_i == 1 || _i == 3)
		run_until(ext_got, (int)in, "the bytes at ext");
	if (_i != 0)
		relay_peer_shut(f.r, in);
	run_until(relay_done, 0, "the relay to end");
	run_until(ext_eof, 0, "EOF on the ext peer");
	assert_end(RELAY_END_CLOSED);
	ck_assert_int_eq(f.shuts, 1);
	ck_assert_uint_eq(f.shut_bytes, out);
	ck_assert_int_ne(f.kept, -1);
	run_until(stream_got, (int)out, "the bytes at the stream peer");
	run_for(20);
	ck_assert(!f.sink[RELAY_STREAM].eof);
	assert_delivered(RELAY_STREAM);
	assert_delivered(RELAY_EXT);
	ck_assert_int_eq(inq(f.kept), 0);
	/* What the peer sends next wakes the kept stream's next owner. */
	ck_assert_int_eq(f.keeper_woke, 0);
	ck_assert_int_eq(write(f.peer[RELAY_STREAM], "x", 1), 1);
	run_until(keeper_woke, 0, "the kept stream's next watch to wake");
}
END_TEST

/*
 * A stream handed over watched (a pool's watch, the relay's own events):
 * bytes and an EOF that came while the last owner watched it, its one
 * edge gone there, still reach ext once the relay looks (the EOF too,
 * behind a short read).
 */
START_TEST(test_look_after_handover)
{
	struct event	*watch;

	make_unix(RELAY_EXT);
	make_unix(RELAY_STREAM);
	watch = event_new(f.base, f.fd[RELAY_STREAM], RELAY_STREAM_WATCH |
	    EV_PERSIST, keeper_cb, NULL);
	ck_assert_ptr_nonnull(watch);
	event_add(watch, NULL);
	ck_assert_int_eq(write(f.peer[RELAY_STREAM], "abc", 3), 3);
	ck_assert_int_eq(shutdown(f.peer[RELAY_STREAM], SHUT_WR), 0);
	run_until(keeper_woke, 0, "the last owner's watch to take the edge");
	start_relay();
	event_free(watch);
	relay_look_stream(f.r);
	sink_start(RELAY_EXT, 3);
	run_until(ext_eof, 0, "the EOF at ext");
	ck_assert_uint_eq(f.sink[RELAY_EXT].len, 3);
	ck_assert(memcmp(f.sink[RELAY_EXT].buf, "abc", 3) == 0);
}
END_TEST

/* Reuse: a count below what came already breaks the stream: ext reset. */
START_TEST(test_reuse_bad_count)
{
	make_tcp_ext();
	start_relay();
	relay_set_reuse(f.r);
	pump_start(RELAY_STREAM, 100, 0);
	sink_start(RELAY_EXT, 100);
	run_until(ext_got, 100, "the bytes at ext");
	relay_peer_shut(f.r, 99);
	assert_end(RELAY_END_STREAM_LOST);
	ck_assert_int_eq(f.kept, -1);
	assert_ext_reset();
}
END_TEST

/*
 * Reuse without a control channel (the SHUT cannot be sent): the stream
 * is shut down as before, and an EOF from the stream's peer ends the
 * other way; the stream is not kept.
 */
START_TEST(test_reuse_fallback)
{
	start_relay();
	relay_set_reuse(f.r);
	f.shut_ret = -1;
	pump_start(RELAY_EXT, 500, 1);
	sink_start(RELAY_STREAM, 500);
	run_until(sink_eof, RELAY_STREAM, "EOF on the stream peer");
	ck_assert_int_eq(f.shuts, 1);
	sink_start(RELAY_EXT, 0);
	ck_assert_int_eq(shutdown(f.peer[RELAY_STREAM], SHUT_WR), 0);
	run_until(relay_done, 0, "the relay to end");
	run_until(ext_eof, 0, "EOF on the ext peer");
	assert_end(RELAY_END_CLOSED);
	ck_assert_int_eq(f.kept, -1);
	assert_delivered(RELAY_STREAM);
}
END_TEST

/*
 * Reuse, then the control channel goes (relay_unshare) after our SHUT:
 * the stream is shut down at once, so the other agent still sees EOF.
 */
START_TEST(test_reuse_unshare)
{
	start_relay();
	relay_set_reuse(f.r);
	pump_start(RELAY_EXT, 300, 1);
	sink_start(RELAY_STREAM, 300);
	run_until(shut_asked, 0, "the SHUT");
	ck_assert(!f.sink[RELAY_STREAM].eof);
	relay_unshare(f.r);
	run_until(sink_eof, RELAY_STREAM, "EOF on the stream peer");
	assert_delivered(RELAY_STREAM);
	sink_start(RELAY_EXT, 0);
	relay_peer_shut(f.r, 0);
	run_until(relay_done, 0, "the relay to end");
	assert_end(RELAY_END_CLOSED);
	ck_assert_int_eq(f.kept, -1);
}
END_TEST

/*
 * Reuse: a SHUT for a relay whose ext was reset (it waits for the other
 * agent to close the stream) changes nothing; the stream's end ends it.
 */
START_TEST(test_reuse_shut_after_reset)
{
	struct linger	l = { 1, 0 };

	make_tcp_ext();
	start_relay();
	relay_set_reuse(f.r);
	ck_assert_int_eq(send(f.peer[RELAY_STREAM], "0123456789", 10, 0), 10);
	sink_start(RELAY_EXT, 10);
	run_until(ext_got, 10, "the bytes at ext");
	event_del(f.sink[RELAY_EXT].ev);
	ck_assert_int_eq(setsockopt(f.peer[RELAY_EXT], SOL_SOCKET, SO_LINGER,
	    &l, sizeof l), 0);
	close(f.peer[RELAY_EXT]);
	f.peer[RELAY_EXT] = -1;
	run_until(ext_reset_called, 0, "the ext reset");
	ck_assert(!f.done);
	relay_peer_shut(f.r, 10);
	run_for(20);
	ck_assert(!f.done);
	close(f.peer[RELAY_STREAM]);
	f.peer[RELAY_STREAM] = -1;
	run_until(relay_done, 0, "the relay to end");
	assert_end(RELAY_END_EXT_RESET);
	ck_assert_int_eq(f.kept, -1);
}
END_TEST

static Suite *
relay_suite(void)
{
	Suite	*s = suite_create("relay");
	TCase	*tc;

	tc = tcase_create("relay");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_both_ways, 0, 2);
	tcase_add_test(tc, test_half_close);
	tcase_add_loop_test(tc, test_eof_both, 0, 2);
	tcase_add_test(tc, test_peer_reset);
	tcase_add_test(tc, test_abort);
	tcase_add_loop_test(tc, test_slow_reader, 0, 2);
	tcase_add_test(tc, test_nodelay);
	tcase_add_test(tc, test_stream_lost);
	tcase_add_test(tc, test_stream_lost_idle);
	tcase_add_test(tc, test_ext_reset);
	tcase_add_test(tc, test_ext_reset_linger);
	tcase_add_test(tc, test_end_names);
	tcase_add_loop_test(tc, test_splice_kinds, 0, 4);
	tcase_add_loop_test(tc, test_small_copied, 0, 2);
	tcase_add_loop_test(tc, test_data_then_eof, 0, 8);
	tcase_add_loop_test(tc, test_reuse_clean, 0, 4);
	tcase_add_test(tc, test_reuse_bad_count);
	tcase_add_test(tc, test_look_after_handover);
	tcase_add_test(tc, test_reuse_fallback);
	tcase_add_test(tc, test_reuse_unshare);
	tcase_add_test(tc, test_reuse_shut_after_reset);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(relay_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
