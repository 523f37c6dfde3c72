/*
 * Unit tests for proto/proto.c, the frame codec.
 *
 * Every message type has a golden frame below, written out by hand with
 * what each byte means: the encoder must produce it byte for byte, and
 * the decoder must give back the message it came from.  Then each golden
 * frame is truncated at every length, has every bit flipped in turn and
 * gets trailing bytes appended; none of that may crash, read out of
 * bounds (run under ASan with make check SANITIZE=1) or decode to a
 * wrong message.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

/*
 * The golden frames.  Header: u16 type, u16 flags, u32 payload length,
 * all big-endian; then the payload.
 */
static const uint8_t hello_frame[] = {
	0x00, 0x01,			/* type: HELLO */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x1e,		/* length: 30 */
	0x00, 0x01,			/* vmin: 1 */
	0x00, 0x02,			/* vmax: 2 */
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
					/* boot id: 16 bytes */
	0x00, 0x03, '0', '.', '1',	/* version: "0.1" */
	0x00, 0x03, 'v', 'm', '1',	/* name: "vm1" */
};

static const uint8_t welcome_frame[] = {
	0x00, 0x02,			/* type: WELCOME */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x17,		/* length: 23 */
	0x00, 0x01,			/* version: 1 */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					/* session: 0x0123456789abcdef */
	0x00, 0x00, 0x10, 0x00,		/* max payload: 4096 */
	0x00, 0x00, 0x04, 0x00,		/* max forwards: 1024 */
	0x00, 0x03, '0', '.', '1',	/* version: "0.1" */
};

static const uint8_t expose4_frame[] = {
	0x00, 0x03,			/* type: EXPOSE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x14,		/* length: 20 */
	0x00, 0x00, 0x00, 0x07,		/* id: 7 */
	0x06,				/* proto: tcp */
	0x00,				/* flags: none */
	0x04, 0x00, 0x00, 0x00, 0x00,	/* address: v4 0.0.0.0 */
	0x1f, 0x90,			/* port: 8080 */
	0x00, 0x05, 'n', 'g', 'i', 'n', 'x',	/* process: "nginx" */
};

static const uint8_t expose6_frame[] = {
	0x00, 0x03,			/* type: EXPOSE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x22,		/* length: 34 */
	0x01, 0x02, 0x03, 0x04,		/* id: 0x01020304 */
	0x11,				/* proto: udp */
	0x01,				/* flags: v6only */
	0x06,				/* address: v6 */
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,
					/* fd00::5 */
	0x00, 0x35,			/* port: 53 */
	0x00, 0x07, 'd', 'n', 's', 'm', 'a', 's', 'q',
					/* process: "dnsmasq" */
};

/* Protocol 5: a guest Unix socket, its name and path for address and port. */
static const uint8_t exposeunix_frame[] = {
	0x00, 0x03,			/* type: EXPOSE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x2d,		/* length: 45 */
	0x00, 0x00, 0x00, 0x0b,		/* id: 11 */
	0xfd,				/* kind: unix (253) */
	0x00,				/* flags: none */
	0x00, 0x06, 'd', 'o', 'c', 'k', 'e', 'r',
					/* name: "docker" */
	0x00, 0x14, '/', 'v', 'a', 'r', '/', 'r', 'u', 'n', '/',
	'd', 'o', 'c', 'k', 'e', 'r', '.', 's', 'o', 'c', 'k',
					/* path: "/var/run/docker.sock" */
	0x00, 0x07, 'd', 'o', 'c', 'k', 'e', 'r', 'd',
					/* process: "dockerd" */
};

static const uint8_t unexpose_frame[] = {
	0x00, 0x04,			/* type: UNEXPOSE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x04,		/* length: 4 */
	0x00, 0x00, 0x00, 0x07,		/* id: 7 */
};

static const uint8_t exposed0_frame[] = {
	0x00, 0x05,			/* type: EXPOSED */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x0f,		/* length: 15 */
	0x00, 0x00, 0x00, 0x07,		/* id: 7 */
	0x03,				/* verdict: refused */
	0x00,				/* host addresses: 0 */
	0x00, 0x07, 'r', 'e', 'f', 'u', 's', 'e', 'd',
					/* reason: "refused" */
};

static const uint8_t exposed1_frame[] = {
	0x00, 0x05,			/* type: EXPOSED */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x17,		/* length: 23 */
	0x00, 0x00, 0x00, 0x08,		/* id: 8 */
	0x02,				/* verdict: rewritten */
	0x01,				/* host addresses: 1 */
	0x04, 0x7f, 0x00, 0x00, 0x01,	/* [0] address: v4 127.0.0.1 */
	0x1f, 0x90,			/* [0] port: 8080 */
	0x00, 0x08, 'l', 'o', 'o', 'p', 'b', 'a', 'c', 'k',
					/* reason: "loopback" */
};

static const uint8_t exposed2_frame[] = {
	0x00, 0x05,			/* type: EXPOSED */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x22,		/* length: 34 */
	0x00, 0x00, 0x00, 0x09,		/* id: 9 */
	0x01,				/* verdict: bound */
	0x02,				/* host addresses: 2 */
	0x06,				/* [0] address: v6 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					/* :: */
	0x01, 0xbb,			/* [0] port: 443 */
	0x04, 0x00, 0x00, 0x00, 0x00,	/* [1] address: v4 0.0.0.0 */
	0x01, 0xbb,			/* [1] port: 443 */
	0x00, 0x00,			/* reason: "" */
};

static const uint8_t open_frame[] = {
	0x00, 0x06,			/* type: OPEN */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x0c,		/* length: 12 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
					/* conn: 0x100000002 */
	0x00, 0x00, 0x00, 0x09,		/* forward: 9 */
};

static const uint8_t close_frame[] = {
	0x00, 0x07,			/* type: CLOSE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x15,		/* length: 21 */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
					/* conn: 0x0102030405060708 */
	0x02,				/* how: reset */
	0x00, 0x0a, 'p', 'e', 'e', 'r', ' ', 'r', 'e', 's', 'e', 't',
					/* reason: "peer reset" */
};

static const uint8_t data_frame[] = {
	0x00, 0x08,			/* type: DATA */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x10,		/* length: 16 */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					/* session: 0x0123456789abcdef */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
					/* conn: 0x100000002 */
};

static const uint8_t ping_frame[] = {
	0x00, 0x09,			/* type: PING */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x08,		/* length: 8 */
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
					/* nonce: 0xfedcba9876543210 */
};

static const uint8_t pong_frame[] = {
	0x00, 0x0a,			/* type: PONG */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x08,		/* length: 8 */
	0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
					/* nonce: 0xfedcba9876543210 */
};

static const uint8_t error_frame[] = {
	0x00, 0x0b,			/* type: ERROR */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x0d,		/* length: 13 */
	0x00, 0x00, 0x00, 0x03,		/* code: unknown type */
	0x00, 0x07, 't', 'y', 'p', 'e', ' ', '4', '2',
					/* message: "type 42" */
};

static const uint8_t pool_frame[] = {
	0x00, 0x0c,			/* type: POOL */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x10,		/* length: 16 */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					/* session: 0x0123456789abcdef */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
					/* stream: 42 */
};

static const uint8_t pair_frame[] = {
	0x00, 0x0d,			/* type: PAIR */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x14,		/* length: 20 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
					/* conn: 0x100000002 */
	0x00, 0x00, 0x00, 0x09,		/* forward: 9 */
	0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
					/* stream: 0x800000000000002a */
};

static const uint8_t shut_frame[] = {
	0x00, 0x0f,			/* type: SHUT */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x10,		/* length: 16 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
					/* conn: 0x100000002 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07,
					/* bytes: 4294967303 (4 GiB + 7) */
};

static const uint8_t release_frame[] = {
	0x00, 0x10,			/* type: RELEASE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x10,		/* length: 16 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
					/* conn: 0x100000002 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2b,
					/* stream: 43 */
};

/* Protocol 6: what the guest may reach, a TCP entry and a socket. */
static const uint8_t reach_frame[] = {
	0x00, 0x11,			/* type: REACH */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x1d,		/* length: 29 */
	0x02,				/* entries: 2 */
	0x00, 0x00, 0x00, 0x01,		/* id: 1 */
	0x06,				/* kind: tcp */
	0x04, 0x7f, 0x00, 0x00, 0x01,	/* guest address: v4 127.0.0.1 */
	0x15, 0x38,			/* guest port: 5432 */
	0x00, 0x00, 0x00, 0x02,		/* id: 2 */
	0xfd,				/* kind: unix (253) */
	0x00, 0x09, 's', 's', 'h', '-', 'a', 'g', 'e', 'n', 't',
					/* name: "ssh-agent" */
};

static const uint8_t reverse_frame[] = {
	0x00, 0x12,			/* type: REVERSE */
	0x00, 0x00,			/* flags */
	0x00, 0x00, 0x00, 0x10,		/* length: 16 */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
					/* session token */
	0x00, 0x00, 0x00, 0x01,		/* entry: 1 */
	0x00, 0x00, 0x00, 0x00,		/* flags: none */
};

static void
set_addr(struct ph_addr *a, const char *s)
{
	ck_assert_msg(addr_parse(s, a) == 0, "bad address %s", s);
}

/* The messages the golden frames encode; m is zeroed. */
static void
build_hello(struct ph_msg *m)
{
	int	i;

	m->type = PH_HELLO;
	m->u.hello.vmin = 1;
	m->u.hello.vmax = 2;
	for (i = 0; i < PH_BOOTID_LEN; i++)
		m->u.hello.boot_id[i] = i;
	strlcpy(m->u.hello.version, "0.1", sizeof m->u.hello.version);
	strlcpy(m->u.hello.name, "vm1", sizeof m->u.hello.name);
}

static void
build_welcome(struct ph_msg *m)
{
	m->type = PH_WELCOME;
	m->u.welcome.version = 1;
	m->u.welcome.session = 0x0123456789abcdefULL;
	m->u.welcome.max_payload = 4096;
	m->u.welcome.max_forwards = 1024;
	strlcpy(m->u.welcome.version_str, "0.1",
	    sizeof m->u.welcome.version_str);
}

static void
build_expose4(struct ph_msg *m)
{
	m->type = PH_EXPOSE;
	m->u.expose.id = 7;
	m->u.expose.proto = IPPROTO_TCP;
	set_addr(&m->u.expose.addr, "0.0.0.0");
	m->u.expose.port = 8080;
	strlcpy(m->u.expose.process, "nginx", sizeof m->u.expose.process);
}

static void
build_exposeunix(struct ph_msg *m)
{
	m->type = PH_EXPOSE;
	m->u.expose.id = 11;
	m->u.expose.proto = PH_KIND_UNIX;
	strlcpy(m->u.expose.name, "docker", sizeof m->u.expose.name);
	strlcpy(m->u.expose.path, "/var/run/docker.sock",
	    sizeof m->u.expose.path);
	strlcpy(m->u.expose.process, "dockerd", sizeof m->u.expose.process);
}

static void
build_expose6(struct ph_msg *m)
{
	m->type = PH_EXPOSE;
	m->u.expose.id = 0x01020304;
	m->u.expose.proto = IPPROTO_UDP;
	m->u.expose.flags = PH_EXPOSE_V6ONLY;
	set_addr(&m->u.expose.addr, "fd00::5");
	m->u.expose.port = 53;
	strlcpy(m->u.expose.process, "dnsmasq", sizeof m->u.expose.process);
}

static void
build_unexpose(struct ph_msg *m)
{
	m->type = PH_UNEXPOSE;
	m->u.unexpose.id = 7;
}

static void
build_exposed0(struct ph_msg *m)
{
	m->type = PH_EXPOSED;
	m->u.exposed.id = 7;
	m->u.exposed.verdict = PH_REFUSED;
	strlcpy(m->u.exposed.reason, "refused", sizeof m->u.exposed.reason);
}

static void
build_exposed1(struct ph_msg *m)
{
	m->type = PH_EXPOSED;
	m->u.exposed.id = 8;
	m->u.exposed.verdict = PH_REWRITTEN;
	m->u.exposed.naddr = 1;
	set_addr(&m->u.exposed.host[0].addr, "127.0.0.1");
	m->u.exposed.host[0].port = 8080;
	strlcpy(m->u.exposed.reason, "loopback", sizeof m->u.exposed.reason);
}

static void
build_exposed2(struct ph_msg *m)
{
	m->type = PH_EXPOSED;
	m->u.exposed.id = 9;
	m->u.exposed.verdict = PH_BOUND;
	m->u.exposed.naddr = 2;
	set_addr(&m->u.exposed.host[0].addr, "::");
	m->u.exposed.host[0].port = 443;
	set_addr(&m->u.exposed.host[1].addr, "0.0.0.0");
	m->u.exposed.host[1].port = 443;
}

static void
build_open(struct ph_msg *m)
{
	m->type = PH_OPEN;
	m->u.open.conn = 0x100000002ULL;
	m->u.open.forward = 9;
}

static void
build_close(struct ph_msg *m)
{
	m->type = PH_CLOSE;
	m->u.close.conn = 0x0102030405060708ULL;
	m->u.close.how = PH_CLOSE_RESET;
	strlcpy(m->u.close.reason, "peer reset", sizeof m->u.close.reason);
}

static void
build_data(struct ph_msg *m)
{
	m->type = PH_DATA;
	m->u.data.session = 0x0123456789abcdefULL;
	m->u.data.conn = 0x100000002ULL;
}

static void
build_ping(struct ph_msg *m)
{
	m->type = PH_PING;
	m->u.ping.nonce = 0xfedcba9876543210ULL;
}

static void
build_pong(struct ph_msg *m)
{
	build_ping(m);
	m->type = PH_PONG;
}

static void
build_error(struct ph_msg *m)
{
	m->type = PH_ERROR;
	m->u.error.code = PH_ERR_UNKNOWN_TYPE;
	strlcpy(m->u.error.message, "type 42", sizeof m->u.error.message);
}

static void
build_pool(struct ph_msg *m)
{
	m->type = PH_POOL;
	m->u.pool.session = 0x0123456789abcdefULL;
	m->u.pool.stream = 42;
}

static void
build_pair(struct ph_msg *m)
{
	m->type = PH_PAIR;
	m->u.pair.conn = 0x100000002ULL;
	m->u.pair.forward = 9;
	m->u.pair.stream = 0x800000000000002aULL;
}

static void
build_shut(struct ph_msg *m)
{
	m->type = PH_SHUT;
	m->u.shut.conn = 0x100000002ULL;
	m->u.shut.bytes = 0x100000007ULL;
}

static void
build_release(struct ph_msg *m)
{
	m->type = PH_RELEASE;
	m->u.release.conn = 0x100000002ULL;
	m->u.release.stream = 43;
}

static void
build_reach(struct ph_msg *m)
{
	m->type = PH_REACH;
	m->u.reach.n = 2;
	m->u.reach.e[0].id = 1;
	m->u.reach.e[0].kind = IPPROTO_TCP;
	set_addr(&m->u.reach.e[0].addr, "127.0.0.1");
	m->u.reach.e[0].port = 5432;
	m->u.reach.e[1].id = 2;
	m->u.reach.e[1].kind = PH_KIND_UNIX;
	strlcpy(m->u.reach.e[1].name, "ssh-agent",
	    sizeof m->u.reach.e[1].name);
}

static void
build_reverse(struct ph_msg *m)
{
	m->type = PH_REVERSE;
	m->u.reverse.session = 0x0123456789abcdefULL;
	m->u.reverse.entry = 1;
}

#define GOLDEN(name, frame)	{ #name, build_##name, frame, sizeof frame }
static const struct golden {
	const char	*name;
	void		(*build)(struct ph_msg *);
	const uint8_t	*frame;
	size_t		 len;
} goldens[] = {
	GOLDEN(hello, hello_frame),
	GOLDEN(welcome, welcome_frame),
	GOLDEN(expose4, expose4_frame),
	GOLDEN(expose6, expose6_frame),
	GOLDEN(exposeunix, exposeunix_frame),
	GOLDEN(unexpose, unexpose_frame),
	GOLDEN(exposed0, exposed0_frame),
	GOLDEN(exposed1, exposed1_frame),
	GOLDEN(exposed2, exposed2_frame),
	GOLDEN(open, open_frame),
	GOLDEN(close, close_frame),
	GOLDEN(data, data_frame),
	GOLDEN(ping, ping_frame),
	GOLDEN(pong, pong_frame),
	GOLDEN(error, error_frame),
	GOLDEN(pool, pool_frame),
	GOLDEN(pair, pair_frame),
	GOLDEN(shut, shut_frame),
	GOLDEN(release, release_frame),
	GOLDEN(reach, reach_frame),
	GOLDEN(reverse, reverse_frame),
};
#define NGOLDENS	(sizeof goldens / sizeof goldens[0])

/*
 * The fixture: the message of the golden frame under test, and a heap
 * buffer the codec reads from or writes to, of exactly the size under
 * test so that ASan sees any access past it.
 */
static struct ph_msg	 want;
static uint8_t		*heap;

static void
setup(void)
{
	memset(&want, 0, sizeof want);
	heap = NULL;
}

static void
teardown(void)
{
	free(heap);
	heap = NULL;
}

static const struct golden *
golden_load(int i)
{
	const struct golden	*g = &goldens[i];

	memset(&want, 0, sizeof want);
	g->build(&want);
	return g;
}

/* A heap copy of the first len bytes of p (p may be shorter: zeroed). */
static uint8_t *
heap_copy(const void *p, size_t plen, size_t len)
{
	free(heap);
	heap = calloc(1, len > 0 ? len : 1);
	ck_assert_ptr_nonnull(heap);
	memcpy(heap, p, plen < len ? plen : len);
	return heap;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
assert_msg_eq(const struct ph_msg *got, const struct ph_msg *exp,
    const char *what)
{
	const uint8_t	*a = (const void *)got, *b = (const void *)exp;
	size_t		 i;

	if (memcmp(got, exp, sizeof *got) == 0)
		return;
	for (i = 0; a[i] == b[i]; i++)
		;
	ck_abort_msg("%s: decoded %s differs from the expected %s at struct "
	    "offset %zu", what, ph_type_name(got->type),
	    ph_type_name(exp->type), i);
}

/* A decoded message must encode, and decode again to itself. */
static void
assert_round_trip(const struct ph_msg *m, const char *what)
{
	uint8_t		 buf[PH_FRAME_MAX];
	struct ph_msg	 again;
	const char	*err = NULL;
	size_t		 n, used = 0;

	n = ph_msg_encode(m, buf, sizeof buf);
	ck_assert_msg(n >= PH_HDR_LEN, "%s: decoded %s does not encode",
	    what, ph_type_name(m->type));
	ck_assert_msg(ph_frame_decode(buf, n, PH_PAYLOAD_MAX, &again, &used,
	    &err) == 1, "%s: re-encoded %s does not decode: %s", what,
	    ph_type_name(m->type), err);
	ck_assert_uint_eq(used, n);
	assert_msg_eq(&again, m, what);
}

/* err is read after r was computed: pass its address. */
static void
assert_err_set(int r, const char **err, const char *what)
{
	ck_assert_msg(r == -1, "%s: accepted (%d)", what, r);
	ck_assert_msg(*err != NULL && **err != '\0', "%s: no error message",
	    what);
}

START_TEST(test_golden_encode)
{
	const struct golden	*g = golden_load(_i);
	uint8_t			 buf[PH_FRAME_MAX];
	size_t			 n;

	memset(buf, 0xaa, sizeof buf);
	n = ph_msg_encode(&want, buf, sizeof buf);
	ck_assert_msg(n == g->len, "%s: encoded %zu bytes, want %zu",
	    g->name, n, g->len);
	ck_assert_mem_eq(buf, g->frame, g->len);
	ck_assert_uint_eq(buf[g->len], 0xaa);
}
END_TEST

START_TEST(test_golden_decode)
{
	const struct golden	*g = golden_load(_i);
	struct ph_msg		 m;
	const char		*err = NULL;
	size_t			 used = 0;
	uint8_t			*p = heap_copy(g->frame, g->len, g->len);

	ck_assert_msg(ph_frame_decode(p, g->len, PH_PAYLOAD_MAX, &m, &used,
	    &err) == 1, "%s: %s", g->name, err);
	ck_assert_uint_eq(used, g->len);
	assert_msg_eq(&m, &want, g->name);

	/* The payload alone, through ph_msg_decode. */
	err = NULL;
	ck_assert_msg(ph_msg_decode(want.type, p + PH_HDR_LEN,
	    g->len - PH_HDR_LEN, &m, &err) == 0, "%s: %s", g->name, err);
	assert_msg_eq(&m, &want, g->name);
}
END_TEST

/* Every buffer too small for the frame: 0, and no write past it. */
START_TEST(test_golden_encode_short)
{
	const struct golden	*g = golden_load(_i);
	size_t			 cap, n;
	uint8_t			*p;

	for (cap = 0; cap < g->len; cap++) {
		p = heap_copy("", 0, cap);
		n = ph_msg_encode(&want, p, cap);
		ck_assert_msg(n == 0, "%s: encoded %zu bytes into %zu",
		    g->name, n, cap);
	}
}
END_TEST

/* Every prefix of a frame is "need more", never a message or an error. */
START_TEST(test_golden_truncated)
{
	const struct golden	*g = golden_load(_i);
	struct ph_msg		 m;
	const char		*err;
	size_t			 len, used;
	uint8_t			*p;
	int			 r;

	for (len = 0; len < g->len; len++) {
		p = heap_copy(g->frame, g->len, len);
		err = NULL;
		used = 12345;
		r = ph_frame_decode(p, len, PH_PAYLOAD_MAX, &m, &used, &err);
		ck_assert_msg(r == 0, "%s: %zu of %zu bytes gave %d (%s)",
		    g->name, len, g->len, r, err ? err : "no error");
		ck_assert_uint_eq(used, 12345);
	}
}
END_TEST

/*
 * Every payload cut short, with the header saying so: every field is
 * required, so each is an error, from both decoders.
 */
START_TEST(test_golden_short_payload)
{
	const struct golden	*g = golden_load(_i);
	struct ph_msg		 m;
	const char		*err;
	size_t			 plen, used;
	uint8_t			*p;
	char			 what[64];

	for (plen = 0; plen < g->len - PH_HDR_LEN; plen++) {
		snprintf(what, sizeof what, "%s with %zu payload bytes",
		    g->name, plen);
		p = heap_copy(g->frame, g->len, PH_HDR_LEN + plen);
		put_be32(p + 4, plen);
		err = NULL;
		assert_err_set(ph_frame_decode(p, PH_HDR_LEN + plen,
		    PH_PAYLOAD_MAX, &m, &used, &err), &err, what);
		err = NULL;
		assert_err_set(ph_msg_decode(want.type, p + PH_HDR_LEN, plen,
		    &m, &err), &err, what);
	}
}
END_TEST

/*
 * Flip each bit of each byte in turn.  The result is an error, "need
 * more" (only a longer length can do that), or a message that is valid:
 * it encodes and decodes to itself.  A flag bit changes nothing.
 */
START_TEST(test_golden_bitflip)
{
	const struct golden	*g = golden_load(_i);
	struct ph_msg		 m;
	const char		*err;
	size_t			 off, used;
	uint8_t			*p;
	char			 what[64];
	int			 bit, r;

	for (off = 0; off < g->len; off++) {
		for (bit = 0; bit < 8; bit++) {
			snprintf(what, sizeof what, "%s, byte %zu bit %d",
			    g->name, off, bit);
			p = heap_copy(g->frame, g->len, g->len);
			p[off] ^= 1 << bit;
			err = NULL;
			used = 0;
			r = ph_frame_decode(p, g->len, PH_PAYLOAD_MAX, &m,
			    &used, &err);
			if (r == -1) {
				assert_err_set(r, &err, what);
				continue;
			}
			if (r == 0) {
				ck_assert_msg(off >= 4 && off < PH_HDR_LEN &&
				    (p[off] & (1 << bit)) != 0, "%s: need "
				    "more", what);
				continue;
			}
			if (r == PH_FRAME_UNKNOWN) {
				ck_assert_msg(off < 2 && used == g->len,
				    "%s: unknown type, used %zu", what, used);
				continue;
			}
			ck_assert_msg(r == 1, "%s: returned %d", what, r);
			ck_assert_msg(used >= PH_HDR_LEN && used <= g->len,
			    "%s: used %zu of %zu", what, used, g->len);
			ck_assert_msg(m.type >= 1 && m.type <= PH_TYPE_MAX,
			    "%s: type %u", what, m.type);
			if (off == 2 || off == 3)
				assert_msg_eq(&m, &want, what);
			assert_round_trip(&m, what);
		}
	}
}
END_TEST

/* Bytes after the known fields are ignored: room for later versions. */
START_TEST(test_golden_trailing)
{
	static const uint8_t	 junk[] = { 0x00, 0xff, 0x01, 0x80, 0x7f,
	    0x00, 0x42 };
	const struct golden	*g = golden_load(_i);
	struct ph_msg		 m;
	const char		*err = NULL;
	size_t			 len = g->len + sizeof junk, used = 0;
	uint8_t			*p;

	p = heap_copy(g->frame, g->len, len);
	memcpy(p + g->len, junk, sizeof junk);
	put_be32(p + 4, len - PH_HDR_LEN);
	ck_assert_msg(ph_frame_decode(p, len, PH_PAYLOAD_MAX, &m, &used,
	    &err) == 1, "%s with trailing bytes: %s", g->name, err);
	ck_assert_uint_eq(used, len);
	assert_msg_eq(&m, &want, g->name);
}
END_TEST

/* Two frames back to back, as they come off a stream. */
START_TEST(test_golden_stream)
{
	const struct golden	*g = golden_load(_i);
	const struct golden	*g2 = &goldens[(_i + 1) % NGOLDENS];
	struct ph_msg		 m, want2;
	const char		*err = NULL;
	size_t			 len = g->len + g2->len, used = 0;
	uint8_t			*p;

	memset(&want2, 0, sizeof want2);
	g2->build(&want2);
	p = heap_copy(g->frame, g->len, len);
	memcpy(p + g->len, g2->frame, g2->len);
	ck_assert_int_eq(ph_frame_decode(p, len, PH_PAYLOAD_MAX, &m, &used,
	    &err), 1);
	ck_assert_uint_eq(used, g->len);
	assert_msg_eq(&m, &want, g->name);
	ck_assert_int_eq(ph_frame_decode(p + used, len - used,
	    PH_PAYLOAD_MAX, &m, &used, &err), 1);
	ck_assert_uint_eq(used, g2->len);
	assert_msg_eq(&m, &want2, g2->name);
}
END_TEST

START_TEST(test_hdr_check_length)
{
	struct ph_frame_hdr	 h = { PH_PING, 0, PH_PAYLOAD_MAX };
	const char		*err = NULL;

	ck_assert_int_eq(ph_hdr_check(&h, PH_PAYLOAD_MAX, &err), 0);
	h.length = PH_PAYLOAD_MAX + 1;
	assert_err_set(ph_hdr_check(&h, PH_PAYLOAD_MAX, &err), &err,
	    "length PH_PAYLOAD_MAX + 1");
	err = NULL;
	h.length = UINT32_MAX;
	assert_err_set(ph_hdr_check(&h, PH_PAYLOAD_MAX, &err), &err,
	    "length UINT32_MAX");
	err = NULL;
	h.length = 101;
	assert_err_set(ph_hdr_check(&h, 100, &err), &err, "101 of 100");
	h.length = 100;
	ck_assert_int_eq(ph_hdr_check(&h, 100, &err), 0);
}
END_TEST

/* A header announcing too long a frame is refused before its payload. */
START_TEST(test_frame_too_long)
{
	static const uint8_t	 hdr[] = {
		0x00, 0x09,		/* type: PING */
		0x00, 0x00,		/* flags */
		0x00, 0x00, 0x10, 0x01,	/* length: 4097 */
	};
	struct ph_msg		 m;
	const char		*err = NULL;
	size_t			 used;
	uint8_t			*p;

	p = heap_copy(hdr, sizeof hdr, sizeof hdr);
	assert_err_set(ph_frame_decode(p, sizeof hdr, PH_PAYLOAD_MAX, &m,
	    &used, &err), &err, "4097-byte PING header");
	err = NULL;
	assert_err_set(ph_frame_decode(p, sizeof hdr, 16, &m, &used, &err),
	    &err, "4097-byte PING header, max 16");
}
END_TEST

START_TEST(test_type_zero)
{
	static const uint8_t	 frame[] = {
		0x00, 0x00,		/* type: 0 */
		0x00, 0x00,		/* flags */
		0x00, 0x00, 0x00, 0x08,	/* length: 8 */
		0, 0, 0, 0, 0, 0, 0, 0,
	};
	struct ph_frame_hdr	 h = { 0, 0, 8 };
	struct ph_msg		 m;
	const char		*err = NULL;
	size_t			 used;
	uint8_t			*p = heap_copy(frame, sizeof frame,
				    sizeof frame);

	assert_err_set(ph_hdr_check(&h, PH_PAYLOAD_MAX, &err), &err,
	    "type 0 header");
	err = NULL;
	assert_err_set(ph_frame_decode(p, sizeof frame, PH_PAYLOAD_MAX, &m,
	    &used, &err), &err, "type 0 frame");
	err = NULL;
	assert_err_set(ph_frame_decode(p, PH_HDR_LEN, PH_PAYLOAD_MAX, &m,
	    &used, &err), &err, "type 0 header alone");
}
END_TEST

/* An unknown type is -1 with the type kept, so the caller can skip it. */
START_TEST(test_unknown_type)
{
	static const uint16_t	 types[] = { PH_TYPE_MAX + 1, 0x100,
	    0xffff };
	static const uint8_t	 payload[8] = { 0 };
	struct ph_msg		 m;
	const char		*err;
	size_t			 i;
	uint8_t			*p = heap_copy(payload, sizeof payload,
				    sizeof payload);
	char			 what[32];

	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		snprintf(what, sizeof what, "type %u", types[i]);
		err = NULL;
		assert_err_set(ph_msg_decode(types[i], p, sizeof payload, &m,
		    &err), &err, what);
		ck_assert_uint_eq(m.type, types[i]);
		ck_assert_str_eq(ph_type_name(types[i]), "unknown");
	}
	ck_assert_str_eq(ph_type_name(0), "unknown");
}
END_TEST

/* A well-formed frame of an unknown type is skipped whole, then a PING. */
START_TEST(test_frame_unknown_skipped)
{
	static const uint8_t	 frames[] = {
		0x03, 0xe7,		/* type 999 */
		0x00, 0x00,		/* flags */
		0x00, 0x00, 0x00, 0x03,	/* length 3 */
		'x', 'y', 'z',
		0x00, PH_PING, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,
		0, 0, 0, 0, 0, 0, 0, 7,	/* nonce 7 */
	};
	uint8_t			*p = heap_copy(frames, sizeof frames,
				    sizeof frames);
	struct ph_msg		 m;
	const char		*err = NULL;
	size_t			 used = 0;

	ck_assert_int_eq(ph_frame_decode(p, sizeof frames, PH_PAYLOAD_MAX, &m,
	    &used, &err), PH_FRAME_UNKNOWN);
	ck_assert_uint_eq(m.type, 999);
	ck_assert_uint_eq(used, 11);
	ck_assert_int_eq(ph_frame_decode(p + used, sizeof frames - used,
	    PH_PAYLOAD_MAX, &m, &used, &err), PH_FRAME_OK);
	ck_assert_uint_eq(m.type, PH_PING);
	ck_assert_uint_eq(m.u.ping.nonce, 7);
	/* An unknown type is still held to the length limit. */
	p[4] = 0x7f;
	ck_assert_int_eq(ph_frame_decode(p, sizeof frames, PH_PAYLOAD_MAX, &m,
	    &used, &err), PH_FRAME_BAD);
}
END_TEST

START_TEST(test_names)
{
	size_t	i;

	for (i = 0; i < NGOLDENS; i++) {
		golden_load(i);
		ck_assert_str_ne(ph_type_name(want.type), "unknown");
	}
	ck_assert_str_eq(ph_type_name(PH_EXPOSED), "EXPOSED");
	ck_assert_str_eq(ph_type_name(PH_SHUT), "SHUT");
	ck_assert_str_eq(ph_type_name(PH_RELEASE), "RELEASE");
	ck_assert_str_eq(ph_type_name(PH_REACH), "REACH");
	ck_assert_str_eq(ph_type_name(PH_REVERSE), "REVERSE");
	ck_assert_str_eq(ph_verdict_name(PH_BOUND), "bound");
	ck_assert_str_eq(ph_verdict_name(PH_REWRITTEN), "rewritten");
	ck_assert_str_eq(ph_verdict_name(PH_REFUSED), "refused");
	ck_assert_str_eq(ph_verdict_name(PH_FAILED), "failed");
	ck_assert_str_eq(ph_verdict_name(0), "unknown");
	ck_assert_str_eq(ph_close_name(PH_CLOSE_RESET), "reset");
	ck_assert_str_eq(ph_close_name(0), "unknown");
}
END_TEST

/*
 * Payloads that must be refused, or accepted at the edge of a range.
 * Each is a golden payload with one field changed.
 */
#define ZERO16	"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
#define X16	"xxxxxxxxxxxxxxxx"
#define X64	X16 X16 X16 X16
#define X256	X64 X64 X64 X64
#define PL(s)	(const uint8_t *)(s), sizeof(s) - 1

static const struct payload_case {
	const char	*what;
	uint16_t	 type;
	const uint8_t	*p;
	size_t		 len;
	int		 ok;
} payload_cases[] = {
	{ "HELLO vmin > vmax", PH_HELLO,
	    PL("\x00\x02" "\x00\x01" ZERO16 "\x00\x00" "\x00\x00"), 0 },
	{ "HELLO vmin == vmax", PH_HELLO,
	    PL("\x00\x02" "\x00\x02" ZERO16 "\x00\x00" "\x00\x00"), 1 },
	{ "HELLO vmin 0, vmax 65535", PH_HELLO,
	    PL("\x00\x00" "\xff\xff" ZERO16 "\x00\x00" "\x00\x00"), 1 },
	{ "HELLO name of 63 bytes", PH_HELLO,
	    PL("\x00\x01" "\x00\x01" ZERO16 "\x00\x00"
	    "\x00\x3f" X16 X16 X16 "xxxxxxxxxxxxxxx"), 1 },
	{ "HELLO name of 64 bytes", PH_HELLO,
	    PL("\x00\x01" "\x00\x01" ZERO16 "\x00\x00" "\x00\x40" X64), 0 },
	{ "HELLO version with a tab", PH_HELLO,
	    PL("\x00\x01" "\x00\x01" ZERO16 "\x00\x02" "1\t" "\x00\x00"), 0 },
	{ "WELCOME max payload 255", PH_WELCOME,
	    PL("\x00\x01" "\0\0\0\0\0\0\0\1" "\x00\x00\x00\xff"
	    "\x00\x00\x00\x01" "\x00\x00"), 0 },
	{ "WELCOME max payload 256", PH_WELCOME,
	    PL("\x00\x01" "\0\0\0\0\0\0\0\1" "\x00\x00\x01\x00"
	    "\x00\x00\x00\x01" "\x00\x00"), 1 },
	{ "EXPOSE port 0", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x04\0\0\0\0" "\x00\x00" "\0\0"), 0 },
	{ "EXPOSE port 65535", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x04\0\0\0\0" "\xff\xff" "\0\0"), 1 },
	{ "EXPOSE proto 0", PH_EXPOSE,
	    PL("\0\0\0\7" "\x00" "\x00" "\x04\0\0\0\0" "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE proto 1 (icmp)", PH_EXPOSE,
	    PL("\0\0\0\7" "\x01" "\x00" "\x04\0\0\0\0" "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE proto 132 (sctp)", PH_EXPOSE,
	    PL("\0\0\0\7" "\x84" "\x00" "\x04\0\0\0\0" "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE proto 255", PH_EXPOSE,
	    PL("\0\0\0\7" "\xff" "\x00" "\x04\0\0\0\0" "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE udp", PH_EXPOSE,
	    PL("\0\0\0\7" "\x11" "\x00" "\x04\0\0\0\0" "\x00\x50" "\0\0"), 1 },
	{ "EXPOSE family 0", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x00" ZERO16 "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE family 2 (AF_INET)", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x02" ZERO16 "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE family 5", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x05" ZERO16 "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE family 10 (AF_INET6)", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x0a" ZERO16 "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE family 255", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\xff" ZERO16 "\x00\x50" "\0\0"), 0 },
	{ "EXPOSE v6 address cut short", PH_EXPOSE,
	    PL("\0\0\0\7" "\x06" "\x00" "\x06" "\0\0\0\0" "\x00\x50" "\0\0"),
	    0 },
	{ "EXPOSE unix, empty name", PH_EXPOSE,
	    PL("\0\0\0\7" "\xfd" "\x00" "\0\0" "\0\0" "\0\0"), 0 },
	{ "EXPOSE unix, name of 47 bytes", PH_EXPOSE,
	    PL("\0\0\0\7" "\xfd" "\x00" "\x00\x2f" X16 X16
	    "xxxxxxxxxxxxxxx" "\0\0" "\0\0"), 1 },
	{ "EXPOSE unix, name of 48 bytes", PH_EXPOSE,
	    PL("\0\0\0\7" "\xfd" "\x00" "\x00\x30" X16 X16 X16
	    "\0\0" "\0\0"), 0 },
	{ "EXPOSE unix, path of 108 bytes", PH_EXPOSE,
	    PL("\0\0\0\7" "\xfd" "\x00" "\x00\x01" "d" "\x00\x6c" X64
	    X16 X16 "xxxxxxxxxxxx" "\0\0"), 0 },
	{ "EXPOSE unix, name with a NUL", PH_EXPOSE,
	    PL("\0\0\0\7" "\xfd" "\x00" "\x00\x02" "d\0" "\0\0" "\0\0"),
	    0 },
	{ "EXPOSE unix, name with '/' (the host refuses it, with why)",
	    PH_EXPOSE, PL("\0\0\0\7" "\xfd" "\x00" "\x00\x04" "../x"
	    "\0\0" "\0\0"), 1 },
	{ "EXPOSE unix, process cut short", PH_EXPOSE,
	    PL("\0\0\0\7" "\xfd" "\x00" "\x00\x01" "d" "\0\0" "\0\5" "ab"),
	    0 },
	{ "EXPOSED verdict 0", PH_EXPOSED,
	    PL("\0\0\0\7" "\x00" "\x00" "\0\0"), 0 },
	{ "EXPOSED verdict 4 (failed)", PH_EXPOSED,
	    PL("\0\0\0\7" "\x04" "\x00" "\0\0"), 1 },
	{ "EXPOSED verdict 5", PH_EXPOSED,
	    PL("\0\0\0\7" "\x05" "\x00" "\0\0"), 0 },
	{ "EXPOSED verdict 255", PH_EXPOSED,
	    PL("\0\0\0\7" "\xff" "\x00" "\0\0"), 0 },
	{ "EXPOSED 3 host addresses", PH_EXPOSED,
	    PL("\0\0\0\7" "\x01" "\x03" "\x04\0\0\0\0" "\x00\x50"
	    "\x04\0\0\0\0" "\x00\x51" "\x04\0\0\0\0" "\x00\x52" "\0\0"), 0 },
	{ "EXPOSED 255 host addresses", PH_EXPOSED,
	    PL("\0\0\0\7" "\x01" "\xff" "\0\0"), 0 },
	{ "EXPOSED host address family 0", PH_EXPOSED,
	    PL("\0\0\0\7" "\x01" "\x01" "\x00\0\0\0\0" "\x00\x50" "\0\0"), 0 },
	{ "CLOSE reason of 255 bytes", PH_CLOSE,
	    PL("\0\0\0\0\0\0\0\1" "\x03" "\x00\xff" X64 X64 X64
	    X16 X16 X16 "xxxxxxxxxxxxxxx"), 1 },
	{ "CLOSE reason of 256 bytes", PH_CLOSE,
	    PL("\0\0\0\0\0\0\0\1" "\x03" "\x01\x00" X256), 0 },
	{ "REACH of no entries", PH_REACH, PL("\x00"), 1 },
	{ "REACH of 65 entries", PH_REACH, PL("\x41"), 0 },
	{ "REACH entry id 0", PH_REACH,
	    PL("\x01" "\0\0\0\0" "\x06" "\x04\x7f\0\0\1" "\x00\x50"), 0 },
	{ "REACH entry port 0", PH_REACH,
	    PL("\x01" "\0\0\0\1" "\x06" "\x04\x7f\0\0\1" "\x00\x00"), 0 },
	{ "REACH entry kind udp", PH_REACH,
	    PL("\x01" "\0\0\0\1" "\x11" "\x04\x7f\0\0\1" "\x00\x50"), 0 },
	{ "REACH entry, a count past the entries", PH_REACH,
	    PL("\x02" "\0\0\0\1" "\x06" "\x04\x7f\0\0\1" "\x00\x50"), 0 },
	{ "REACH entry of a wildcard (the guest refuses it, with why)",
	    PH_REACH, PL("\x01" "\0\0\0\1" "\x06" "\x04\0\0\0\0"
	    "\x00\x50"), 1 },
	{ "REACH socket, empty name", PH_REACH,
	    PL("\x01" "\0\0\0\1" "\xfd" "\0\0"), 0 },
	{ "REACH socket, name of 48 bytes", PH_REACH,
	    PL("\x01" "\0\0\0\1" "\xfd" "\x00\x30" X16 X16 X16), 0 },
	{ "REACH socket, name with '/' (the guest refuses it, with why)",
	    PH_REACH, PL("\x01" "\0\0\0\1" "\xfd" "\x00\x04" "../x"), 1 },
	{ "REVERSE cut short of its flags", PH_REVERSE,
	    PL("\0\0\0\0\0\0\0\1" "\0\0\0\1"), 0 },
	{ "ERROR message with 0x7f", PH_ERROR,
	    PL("\0\0\0\1" "\x00\x03" "ab\x7f"), 0 },
	{ "ERROR message length past the end", PH_ERROR,
	    PL("\0\0\0\1" "\x00\x04" "abc"), 0 },
};
#define NPAYLOAD_CASES	(sizeof payload_cases / sizeof payload_cases[0])

START_TEST(test_payload_case)
{
	const struct payload_case	*c = &payload_cases[_i];
	struct ph_msg			 m;
	const char			*err = NULL;
	size_t				 used = 0;
	size_t				 flen = PH_HDR_LEN + c->len;
	uint8_t				*p;
	int				 r;

	/* The payload alone... */
	p = heap_copy(c->p, c->len, c->len);
	r = ph_msg_decode(c->type, p, c->len, &m, &err);
	if (c->ok) {
		ck_assert_msg(r == 0, "%s: refused: %s", c->what, err);
		assert_round_trip(&m, c->what);
	} else
		assert_err_set(r, &err, c->what);

	/* ...and as a whole frame. */
	p = heap_copy("", 0, flen);
	p[1] = c->type;
	put_be32(p + 4, c->len);
	memcpy(p + PH_HDR_LEN, c->p, c->len);
	err = NULL;
	r = ph_frame_decode(p, flen, PH_PAYLOAD_MAX, &m, &used, &err);
	if (c->ok) {
		ck_assert_msg(r == 1, "%s: frame refused: %s", c->what, err);
		ck_assert_uint_eq(used, flen);
	} else
		assert_err_set(r, &err, c->what);
}
END_TEST

/* An IPv4 EXPOSE cannot be v6only: the decoder drops the flag. */
START_TEST(test_expose_v4_v6only)
{
	static const uint8_t	 payload[] = {
		0x00, 0x00, 0x00, 0x07,		/* id: 7 */
		0x06,				/* proto: tcp */
		0x01,				/* flags: v6only */
		0x04, 0x7f, 0x00, 0x00, 0x01,	/* address: 127.0.0.1 */
		0x00, 0x50,			/* port: 80 */
		0x00, 0x00,			/* process: "" */
	};
	struct ph_msg		 m;
	const char		*err = NULL;

	ck_assert_int_eq(ph_msg_decode(PH_EXPOSE, payload, sizeof payload, &m,
	    &err), 0);
	ck_assert_uint_eq(m.u.expose.flags & PH_EXPOSE_V6ONLY, 0);
	ck_assert_uint_eq(m.u.expose.addr.family, AF_INET);
	ck_assert_uint_eq(m.u.expose.port, 80);
}
END_TEST

/* Strings at their longest, and one that cannot fit the output. */
START_TEST(test_encode_long_string)
{
	struct ph_msg	m, back;
	uint8_t		buf[PH_FRAME_MAX];
	const char	*err = NULL;
	size_t		n, need, used;

	memset(&m, 0, sizeof m);
	m.type = PH_ERROR;
	m.u.error.code = PH_ERR_PROTOCOL;
	memset(m.u.error.message, 'e', PH_REASON_MAX - 1);
	need = PH_HDR_LEN + 4 + 2 + PH_REASON_MAX - 1;
	n = ph_msg_encode(&m, buf, sizeof buf);
	ck_assert_uint_eq(n, need);
	ck_assert_int_eq(ph_frame_decode(buf, n, PH_PAYLOAD_MAX, &back,
	    &used, &err), 1);
	assert_msg_eq(&back, &m, "ERROR with a 255-byte message");

	ck_assert_uint_eq(ph_msg_encode(&m, heap_copy("", 0, need - 1),
	    need - 1), 0);
	ck_assert_uint_eq(ph_msg_encode(&m, heap_copy("", 0, 100), 100), 0);
	ck_assert_uint_eq(ph_msg_encode(&m, heap_copy("", 0, need), need),
	    need);
}
END_TEST

START_TEST(test_encode_unknown_type)
{
	struct ph_msg	m;
	uint8_t		buf[PH_FRAME_MAX];

	memset(&m, 0, sizeof m);
	m.type = PH_TYPE_MAX + 1;
	ck_assert_uint_eq(ph_msg_encode(&m, buf, sizeof buf), 0);
	m.type = 0;
	ck_assert_uint_eq(ph_msg_encode(&m, buf, sizeof buf), 0);
}
END_TEST

/*
 * sockname.c: a guest socket's name is one path component the host can
 * place under SOCKDIR/GUEST/ and nothing else; a pattern may glob.
 */
START_TEST(test_sockname)
{
	static const struct {
		const char	*name;
		int		 ok, pattern_ok;
	} cases[] = {
		{ "docker", 1, 1 }, { "podman-1000", 1, 1 },
		{ "a.b_c-d", 1, 1 }, { "x", 1, 1 },
		{ "", 0, 0 }, { ".", 0, 0 }, { "..", 0, 0 },
		{ "../etc", 0, 0 }, { "a/b", 0, 0 }, { "/abs", 0, 0 },
		{ "a..b", 0, 0 }, { ".hidden", 0, 0 }, { "-flag", 0, 0 },
		{ "sp ace", 0, 0 }, { "tab\t", 0, 0 }, { "a\\b", 0, 0 },
		{ "docker*", 0, 1 }, { "d?[ab]", 0, 1 }, { "*", 0, 1 },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1, 1 },
		{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0, 0 },
	};
	const char	*why;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why = NULL;
		ck_assert_msg((ph_sockname_check(cases[i].name, &why) == 0) ==
		    cases[i].ok, "\"%s\"", cases[i].name);
		ck_assert_msg(cases[i].ok || why != NULL, "\"%s\": no reason",
		    cases[i].name);
		ck_assert_msg((ph_sockname_pattern_check(cases[i].name,
		    &why) == 0) == cases[i].pattern_ok, "pattern \"%s\"",
		    cases[i].name);
	}
}
END_TEST

static Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");
	TCase	*tc;

	tc = tcase_create("golden");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_golden_encode, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_decode, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_encode_short, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_truncated, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_short_payload, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_bitflip, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_trailing, 0, NGOLDENS);
	tcase_add_loop_test(tc, test_golden_stream, 0, NGOLDENS);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hdr_check_length);
	tcase_add_test(tc, test_frame_too_long);
	tcase_add_test(tc, test_type_zero);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_frame_unknown_skipped);
	tcase_add_test(tc, test_names);
	tcase_add_loop_test(tc, test_payload_case, 0, NPAYLOAD_CASES);
	tcase_add_test(tc, test_expose_v4_v6only);
	tcase_add_test(tc, test_encode_long_string);
	tcase_add_test(tc, test_encode_unknown_type);
	tcase_add_test(tc, test_sockname);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(proto_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
