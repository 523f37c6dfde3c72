/*
 * Unit tests for the datagram framing of UDP flows: proto/dgram.c (the
 * codec), proto/dgstream.c (framed datagrams over a stream socket) and
 * proto/dgrelay.c (a connected UDP socket and a stream, as in the guest).
 *
 * The golden frames below are written out by hand: the encoder must make
 * them byte for byte, the decoder must give back the datagram, and every
 * truncation of each must ask for more, never decode.  The stream tests
 * run a fresh event base over a socketpair; the relay tests add real UDP
 * sockets on 127.0.0.1, including one whose target is not there, so that
 * the kernel's ICMP error (ECONNREFUSED) ends the flow.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dgram.h"
#include "dgrelay.h"
#include "dgstream.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

#define RUN_TIMEOUT_MS	10000

/* Golden frames: u16 length, big-endian, then the datagram. */
static const uint8_t empty_frame[] = {
	0x00, 0x00,			/* length: 0, an empty datagram */
};

static const uint8_t one_frame[] = {
	0x00, 0x01,			/* length: 1 */
	'x',
};

static const uint8_t hello_frame[] = {
	0x00, 0x05,			/* length: 5 */
	'h', 'e', 'l', 'l', 'o',
};

static const uint8_t dns_frame[] = {
	0x00, 0x1d,			/* length: 29, a DNS query */
	0x12, 0x34,			/* id */
	0x01, 0x00,			/* flags: recursion desired */
	0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					/* 1 question, no other records */
	0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'o', 'r', 'g', 0x00,
					/* example.org */
	0x00, 0x01, 0x00, 0x01,		/* type A, class IN */
};

struct golden {
	const char	*name;
	const uint8_t	*frame;
	size_t		 len;
};

static const struct golden goldens[] = {
	{ "empty", empty_frame, sizeof empty_frame },
	{ "one", one_frame, sizeof one_frame },
	{ "hello", hello_frame, sizeof hello_frame },
	{ "dns", dns_frame, sizeof dns_frame },
};
#define NGOLDENS	(int)(sizeof goldens / sizeof goldens[0])

static uint8_t	big[PH_DGRAM_FRAME_MAX + 16];
static uint8_t	sink[4 * PH_DGRAM_FRAME_MAX];

static void
pattern(uint8_t *p, size_t n, unsigned seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131 + seed * 7 + (i >> 8));
}

START_TEST(test_golden_encode)
{
	const struct golden	*g = &goldens[_i];
	uint8_t			 buf[64];
	size_t			 n;

	memset(buf, 0xaa, sizeof buf);
	n = dgram_encode(g->frame + 2, g->len - 2, buf, sizeof buf);
	ck_assert_msg(n == g->len, "%s: encoded %zu bytes, want %zu", g->name,
	    n, g->len);
	ck_assert_mem_eq(buf, g->frame, g->len);
	ck_assert_uint_eq(buf[g->len], 0xaa);
	/* One byte short of room: nothing. */
	ck_assert_uint_eq(dgram_encode(g->frame + 2, g->len - 2, buf,
	    g->len - 1), 0);
}
END_TEST

START_TEST(test_golden_decode)
{
	const struct golden	*g = &goldens[_i];
	const uint8_t		*dg = NULL;
	const char		*err = NULL;
	size_t			 dglen = 99, used = 0;

	ck_assert_int_eq(dgram_decode(g->frame, g->len, &dg, &dglen, &used,
	    &err), PH_DGRAM_OK);
	ck_assert_uint_eq(used, g->len);
	ck_assert_uint_eq(dglen, g->len - 2);
	ck_assert_ptr_eq(dg, g->frame + 2);
}
END_TEST

/* Every proper prefix of a frame asks for more, and says nothing else. */
START_TEST(test_golden_truncated)
{
	const struct golden	*g = &goldens[_i];
	const uint8_t		*dg = NULL;
	const char		*err = NULL;
	size_t			 n, dglen = 0, used = 0;

	for (n = 0; n < g->len; n++) {
		ck_assert_msg(dgram_decode(g->frame, n, &dg, &dglen, &used,
		    &err) == PH_DGRAM_MORE, "%s: %zu bytes decoded", g->name,
		    n);
		ck_assert_ptr_null(dg);
		ck_assert_ptr_null(err);
	}
}
END_TEST

/* The goldens back to back, as a stream carries them. */
START_TEST(test_golden_stream)
{
	uint8_t		 buf[256];
	const uint8_t	*dg;
	const char	*err = NULL;
	size_t		 len = 0, off = 0, dglen, used;
	int		 i;

	for (i = 0; i < NGOLDENS; i++) {
		memcpy(buf + len, goldens[i].frame, goldens[i].len);
		len += goldens[i].len;
	}
	for (i = 0; i < NGOLDENS; i++) {
		ck_assert_int_eq(dgram_decode(buf + off, len - off, &dg, &dglen,
		    &used, &err), PH_DGRAM_OK);
		ck_assert_uint_eq(used, goldens[i].len);
		off += used;
	}
	ck_assert_uint_eq(off, len);
	ck_assert_int_eq(dgram_decode(buf + off, 0, &dg, &dglen, &used, &err),
	    PH_DGRAM_MORE);
}
END_TEST

/* The largest datagram there is: 65527 bytes, 0xfff7. */
START_TEST(test_max)
{
	uint8_t		 hdr[2];
	const uint8_t	*dg;
	const char	*err = NULL;
	size_t		 n, dglen, used;

	pattern(big + 2, PH_DGRAM_MAX, 1);
	n = dgram_encode(big + 2, PH_DGRAM_MAX, big, sizeof big);
	ck_assert_uint_eq(n, PH_DGRAM_FRAME_MAX);
	ck_assert_uint_eq(big[0], 0xff);
	ck_assert_uint_eq(big[1], 0xf7);
	ck_assert_int_eq(dgram_decode(big, n, &dg, &dglen, &used, &err),
	    PH_DGRAM_OK);
	ck_assert_uint_eq(dglen, 65527);
	ck_assert_int_eq(dgram_decode(big, n - 1, &dg, &dglen, &used, &err),
	    PH_DGRAM_MORE);
	ck_assert_int_eq(dgram_hdr_encode(hdr, PH_DGRAM_MAX), 0);
	ck_assert_uint_eq(hdr[0], 0xff);
	ck_assert_uint_eq(hdr[1], 0xf7);
	ck_assert_int_eq(dgram_hdr_encode(hdr, PH_DGRAM_MAX4), 0);
	ck_assert_uint_eq(hdr[0], 0xff);
	ck_assert_uint_eq(hdr[1], 0xe3);
}
END_TEST

/*
 * A length over 65527 is malformed as soon as the header is in: the
 * decoder does not wait for bytes that no UDP datagram can hold.
 */
START_TEST(test_oversize)
{
	static const uint8_t	 over[][2] = { { 0xff, 0xf8 }, { 0xff, 0xff } };
	uint8_t			 hdr[2] = { 0x12, 0x34 };
	const uint8_t		*dg = NULL;
	const char		*err;
	size_t			 dglen, used;
	unsigned		 i;

	for (i = 0; i < 2; i++) {
		err = NULL;
		ck_assert_int_eq(dgram_decode(over[i], 2, &dg, &dglen, &used,
		    &err), PH_DGRAM_BAD);
		ck_assert_ptr_nonnull(err);
		ck_assert_ptr_null(dg);
		/* One byte of the header is not enough to tell. */
		ck_assert_int_eq(dgram_decode(over[i], 1, &dg, &dglen, &used,
		    &err), PH_DGRAM_MORE);
	}
	ck_assert_uint_eq(dgram_encode(big, PH_DGRAM_MAX + 1, big,
	    sizeof big), 0);
	ck_assert_int_eq(dgram_hdr_encode(hdr, PH_DGRAM_MAX + 1), -1);
	ck_assert_int_eq(dgram_hdr_encode(hdr, 1 << 20), -1);
	ck_assert_uint_eq(hdr[0], 0x12);	/* untouched */
}
END_TEST

/* Every length 0..65527 encodes to its own header and decodes back. */
START_TEST(test_every_length)
{
	uint8_t		 hdr[2];
	const uint8_t	*dg;
	const char	*err = NULL;
	size_t		 len, dglen, used;

	for (len = 0; len <= PH_DGRAM_MAX; len++) {
		ck_assert_int_eq(dgram_hdr_encode(hdr, len), 0);
		ck_assert_uint_eq((size_t)(hdr[0] << 8 | hdr[1]), len);
		memcpy(big, hdr, 2);
		if (dgram_decode(big, len + 2, &dg, &dglen, &used, &err) !=
		    PH_DGRAM_OK || dglen != len || used != len + 2)
			ck_abort_msg("length %zu does not round-trip", len);
	}
}
END_TEST

/* ---- dgstream over a socketpair ---- */

struct got {
	uint8_t		 buf[4 * PH_DGRAM_FRAME_MAX];
	size_t		 len;		/* datagrams, concatenated */
	int		 ndg;
	size_t		 sizes[64];
	int		 ended;
	char		 why[128];
	int		 free_on_recv;	/* the owner frees from recv */
	int		 drained;
};

static struct {
	struct event_base	*base;
	int			 sv[2];		/* [0] the stream's, [1] peer */
	struct dgstream		*ds;
	struct got		 got;
} t;

static int
got_recv_cb(struct dgstream *ds, const uint8_t *p, size_t len, void *arg)
{
	struct got	*g = arg;

	ck_assert_uint_le(g->len + len, sizeof g->buf);
	memcpy(g->buf + g->len, p, len);
	g->len += len;
	if (g->ndg < 64)
		g->sizes[g->ndg] = len;
	g->ndg++;
	if (g->free_on_recv) {
		dgstream_free(ds);
		t.ds = NULL;
		event_base_loopbreak(t.base);
		return -1;
	}
	return 0;
}

static void
got_end_cb(struct dgstream *ds, const char *why, void *arg)
{
	struct got	*g = arg;

	g->ended = 1;
	snprintf(g->why, sizeof g->why, "%s", why);
	dgstream_free(ds);
	t.ds = NULL;
	event_base_loopbreak(t.base);
}

static void
got_drained_cb(struct dgstream *ds, void *arg)
{
	(void)ds;
	((struct got *)arg)->drained++;
}

static const struct dgstream_cbs got_cbs = {
	.recv = got_recv_cb,
	.end = got_end_cb,
	.drained = got_drained_cb,
};

static void
stream_setup(void)
{
	memset(&t, 0, sizeof t);
	t.base = event_base_new();
	ck_assert_ptr_nonnull(t.base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    t.sv), 0);
}

static void
stream_teardown(void)
{
	if (t.ds != NULL)
		dgstream_free(t.ds);
	else
		close(t.sv[0]);
	close(t.sv[1]);
	event_base_free(t.base);
}

/* Runs the loop until something breaks it, or a deadline. */
static void
run(void)
{
	struct timeval	tv = { RUN_TIMEOUT_MS / 1000, 0 };

	event_base_loopexit(t.base, &tv);
	event_base_dispatch(t.base);
}

/* Runs the loop once without blocking, a few times over. */
static void
spin(void)
{
	int	i;

	for (i = 0; i < 8; i++)
		event_base_loop(t.base, EVLOOP_NONBLOCK);
}

static size_t
peer_read_all(uint8_t *buf, size_t cap)
{
	struct pollfd	pfd = { t.sv[1], POLLIN, 0 };
	size_t		len = 0;
	ssize_t		n;

	while (len < cap) {
		spin();
		if (poll(&pfd, 1, 50) == 0)
			break;
		if ((n = read(t.sv[1], buf + len, cap - len)) <= 0)
			break;
		len += (size_t)n;
	}
	return len;
}

/* Datagrams queued before the socket exists go out first, framed. */
START_TEST(test_stream_queue_then_attach)
{
	uint8_t		 out[64];
	int		 i;

	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	for (i = 0; i < NGOLDENS; i++)
		ck_assert_int_eq(dgstream_send(t.ds, goldens[i].frame + 2,
		    goldens[i].len - 2), 0);
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_int_eq(dgstream_send(t.ds, "x", 1), 0);
	ck_assert_uint_eq(peer_read_all(out, sizeof out), 2 + 3 + 7 + 31 + 3);
	ck_assert_mem_eq(out, empty_frame, 2);
	ck_assert_mem_eq(out + 2, one_frame, 3);
	ck_assert_mem_eq(out + 5, hello_frame, 7);
	ck_assert_mem_eq(out + 12, dns_frame, 31);
	ck_assert_mem_eq(out + 43, one_frame, 3);
	ck_assert_uint_eq(dgstream_stats(t.ds)->dgrams_out, 5);
	ck_assert_uint_eq(dgstream_stats(t.ds)->bytes_out, 0 + 1 + 5 + 29 + 1);
	ck_assert_uint_eq(dgstream_stats(t.ds)->dropped, 0);
}
END_TEST

/* The queue is bounded: what does not fit is dropped and counted. */
START_TEST(test_stream_queue_bound)
{
	size_t	qmax = 3 * PH_DGRAM_FRAME_MAX;
	int	i, sent = 0;

	t.ds = dgstream_new(t.base, qmax, &got_cbs, &t.got);
	pattern(big, 30000, 2);
	for (i = 0; i < 100; i++)
		if (dgstream_send(t.ds, big, 30000) == 0)
			sent++;
	ck_assert_int_eq(sent, (int)(qmax / 30002));
	ck_assert_uint_eq(dgstream_stats(t.ds)->dropped, 100 - sent);
	ck_assert_int_eq(dgstream_send(t.ds, big, PH_DGRAM_MAX + 1), -1);
	ck_assert_uint_eq(dgstream_stats(t.ds)->dropped, 101 - sent);
	/* A tiny one still fits in what is left. */
	ck_assert_int_eq(dgstream_send(t.ds, big, 10), 0);
	/* Attached, the queue drains, and the owner hears of it. */
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_uint_eq(peer_read_all(sink, sizeof sink),
	    (size_t)sent * 30002 + 12);
	ck_assert_int_ge(t.got.drained, 1);
	ck_assert_int_eq(dgstream_send(t.ds, big, 30000), 0);
}
END_TEST

/*
 * Streams that share a total (a guest's UDP flows): it holds what every
 * one of them queues, through attaching and draining, and loses a
 * stream's part when it is freed.
 */
START_TEST(test_stream_account)
{
	struct dgstream	*other;
	size_t		 total = 0;

	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	ck_assert_int_eq(dgstream_send(t.ds, "abc", 3), 0);
	dgstream_account(t.ds, &total);
	ck_assert_uint_eq(total, 5);		/* queued before: counted */
	other = dgstream_new(t.base, 0, &got_cbs, &t.got);
	dgstream_account(other, &total);
	pattern(big, 1000, 4);
	ck_assert_int_eq(dgstream_send(other, big, 1000), 0);
	ck_assert_int_eq(dgstream_send(t.ds, big, 100), 0);
	ck_assert_uint_eq(total, 5 + 1002 + 102);
	/* Attached, t.ds's queue moves to its socket and drains. */
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_uint_eq(total, 5 + 1002 + 102);
	ck_assert_uint_eq(peer_read_all(sink, sizeof sink), 5 + 102);
	ck_assert_uint_eq(total, 1002);
	dgstream_free(other);
	ck_assert_uint_eq(total, 0);
	ck_assert_int_eq(dgstream_send(t.ds, "x", 1), 0);
	ck_assert_uint_le(total, 3);
	dgstream_free(t.ds);		/* closes sv[0] */
	t.ds = NULL;
	t.sv[0] = -1;
	ck_assert_uint_eq(total, 0);
}
END_TEST

/* Frames arrive split anywhere, even a byte at a time. */
START_TEST(test_stream_recv_split)
{
	uint8_t	 in[3 * 40000];
	size_t	 len = 0, off;
	int	 i;

	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	dgstream_attach(t.ds, t.sv[0]);
	for (i = 0; i < NGOLDENS; i++) {
		memcpy(in + len, goldens[i].frame, goldens[i].len);
		len += goldens[i].len;
	}
	pattern(big, 40000, 3);
	len += dgram_encode(big, 40000, in + len, sizeof in - len);
	for (off = 0; off < len; off += off < 64 ? 1 : 4096) {
		ck_assert_int_eq(write(t.sv[1], in + off, off < 64 ? 1 :
		    (len - off < 4096 ? len - off : 4096)) > 0, 1);
		spin();
	}
	spin();
	ck_assert_int_eq(t.got.ndg, NGOLDENS + 1);
	ck_assert_uint_eq(t.got.sizes[0], 0);
	ck_assert_uint_eq(t.got.sizes[1], 1);
	ck_assert_uint_eq(t.got.sizes[3], 29);
	ck_assert_uint_eq(t.got.sizes[4], 40000);
	ck_assert_mem_eq(t.got.buf, "x" "hello", 6);
	ck_assert_mem_eq(t.got.buf + 6 + 29, big, 40000);
	ck_assert_uint_eq(dgstream_stats(t.ds)->dgrams_in, NGOLDENS + 1);
	ck_assert_int_eq(t.got.ended, 0);
}
END_TEST

/* A length no datagram can have ends the stream with a reason. */
START_TEST(test_stream_recv_oversize)
{
	uint8_t	bad[] = { 0x00, 0x01, 'a', 0xff, 0xf8, 'b' };

	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_int_eq(write(t.sv[1], bad, sizeof bad), sizeof bad);
	run();
	ck_assert_int_eq(t.got.ndg, 1);
	ck_assert_int_eq(t.got.ended, 1);
	ck_assert_str_eq(t.got.why, "datagram longer than 65527 bytes");
}
END_TEST

START_TEST(test_stream_eof)
{
	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_int_eq(write(t.sv[1], hello_frame, sizeof hello_frame),
	    sizeof hello_frame);
	shutdown(t.sv[1], SHUT_WR);
	run();
	ck_assert_int_eq(t.got.ndg, 1);
	ck_assert_int_eq(t.got.ended, 1);
	ck_assert_str_eq(t.got.why, "stream closed");
}
END_TEST

START_TEST(test_stream_eof_inside)
{
	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_int_eq(write(t.sv[1], hello_frame, 4), 4);
	shutdown(t.sv[1], SHUT_WR);
	run();
	ck_assert_int_eq(t.got.ndg, 0);
	ck_assert_int_eq(t.got.ended, 1);
	ck_assert_str_eq(t.got.why, "stream closed inside a datagram");
}
END_TEST

/* The owner may free the stream from its recv callback. */
START_TEST(test_stream_free_in_recv)
{
	uint8_t	two[sizeof one_frame * 2];

	memcpy(two, one_frame, sizeof one_frame);
	memcpy(two + sizeof one_frame, one_frame, sizeof one_frame);
	t.got.free_on_recv = 1;
	t.ds = dgstream_new(t.base, 0, &got_cbs, &t.got);
	dgstream_attach(t.ds, t.sv[0]);
	ck_assert_int_eq(write(t.sv[1], two, sizeof two), sizeof two);
	run();
	ck_assert_int_eq(t.got.ndg, 1);
	ck_assert_ptr_null(t.ds);
	t.sv[0] = -1;	/* closed by the free */
}
END_TEST

/* ---- dgrelay: a connected UDP socket and a stream ---- */

static struct {
	int			 server;	/* the target, or -1 */
	struct dgrelay		*r;
	int			 done;
	int			 refused;
	char			 why[128];
	struct dgrelay_stats	 st;
} u;

static void
relay_done_cb(struct dgrelay *r, const char *why, int refused, void *arg)
{
	(void)arg;
	u.done = 1;
	u.refused = refused;
	snprintf(u.why, sizeof u.why, "%s", why);
	dgrelay_get_stats(r, &u.st);
	u.r = NULL;
	event_base_loopbreak(t.base);
}

static const struct dgrelay_cbs relay_cbs = { .done = relay_done_cb };

/* A UDP socket on 127.0.0.1 and its port. */
static int
udp_bound(uint16_t *port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		sl = sizeof sin;
	int			fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
udp_connected(uint16_t port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	return fd;
}

static void
relay_setup(void)
{
	stream_setup();
	memset(&u, 0, sizeof u);
	u.server = -1;
}

static void
relay_teardown(void)
{
	if (u.r != NULL)
		dgrelay_free(u.r);
	if (u.server != -1)
		close(u.server);
	close(t.sv[1]);
	event_base_free(t.base);
}

/* Datagrams both ways, whole, through a target that echoes them. */
START_TEST(test_relay_both_ways)
{
	struct sockaddr_storage	from;
	socklen_t		fl;
	uint8_t			frame[PH_DGRAM_FRAME_MAX], dg[65536];
	uint16_t		port;
	size_t			n, sizes[] = { 0, 1, 1400, 30000,
				    PH_DGRAM_MAX4 };
	ssize_t			r;
	unsigned		i;

	u.server = udp_bound(&port);
	u.r = dgrelay_new(t.base, udp_connected(port), t.sv[0], &relay_cbs,
	    NULL);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		pattern(big, sizes[i], i);
		n = dgram_encode(big, sizes[i], frame, sizeof frame);
		ck_assert_int_eq(write(t.sv[1], frame, n), (ssize_t)n);
		spin();
		fl = sizeof from;
		r = recvfrom(u.server, dg, sizeof dg, 0,
		    (struct sockaddr *)&from, &fl);
		ck_assert_int_eq(r, (ssize_t)sizes[i]);
		ck_assert_mem_eq(dg, big, sizes[i]);
		/* and back */
		ck_assert_int_eq(sendto(u.server, dg, (size_t)r, 0,
		    (struct sockaddr *)&from, fl), r);
		ck_assert_uint_eq(peer_read_all(frame, n), n);
		ck_assert_uint_eq((size_t)(frame[0] << 8 | frame[1]), sizes[i]);
		ck_assert_mem_eq(frame + 2, big, sizes[i]);
	}
	ck_assert_int_eq(u.done, 0);
}
END_TEST

/* The target is not there: the ICMP error ends the flow as refused. */
START_TEST(test_relay_refused)
{
	uint16_t	port;
	int		gone = udp_bound(&port);

	close(gone);
	u.r = dgrelay_new(t.base, udp_connected(port), t.sv[0], &relay_cbs,
	    NULL);
	ck_assert_int_eq(write(t.sv[1], hello_frame, sizeof hello_frame),
	    sizeof hello_frame);
	run();
	ck_assert_int_eq(u.done, 1);
	ck_assert_int_eq(u.refused, 1);
	ck_assert_str_eq(u.why, "target refused a datagram");
	ck_assert_uint_eq(u.st.dgrams_in, 1);
}
END_TEST

/* The host closing the stream ends the flow, not as refused. */
START_TEST(test_relay_stream_closed)
{
	uint16_t	port;

	u.server = udp_bound(&port);
	u.r = dgrelay_new(t.base, udp_connected(port), t.sv[0], &relay_cbs,
	    NULL);
	shutdown(t.sv[1], SHUT_WR);
	run();
	ck_assert_int_eq(u.done, 1);
	ck_assert_int_eq(u.refused, 0);
	ck_assert_str_eq(u.why, "stream closed");
}
END_TEST

static Suite *
dgram_suite(void)
{
	Suite	*s = suite_create("dgram");
	TCase	*tc;

	tc = tcase_create("codec");
	tcase_add_loop_test(tc, test_golden_encode, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_decode, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_truncated, 0, NGOLDENS);
	tcase_add_test(tc, test_golden_stream);
	tcase_add_test(tc, test_max);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_every_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_checked_fixture(tc, stream_setup, stream_teardown);
	tcase_add_test(tc, test_stream_queue_then_attach);
	tcase_add_test(tc, test_stream_queue_bound);
	tcase_add_test(tc, test_stream_recv_split);
	tcase_add_test(tc, test_stream_recv_oversize);
	tcase_add_test(tc, test_stream_eof);
	tcase_add_test(tc, test_stream_eof_inside);
	tcase_add_test(tc, test_stream_free_in_recv);
	tcase_add_test(tc, test_stream_account);
	suite_add_tcase(s, tc);

	tc = tcase_create("relay");
	tcase_add_checked_fixture(tc, relay_setup, relay_teardown);
	tcase_add_test(tc, test_relay_both_ways);
	tcase_add_test(tc, test_relay_refused);
	tcase_add_test(tc, test_relay_stream_closed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(dgram_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
