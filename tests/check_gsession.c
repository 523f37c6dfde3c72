/*
 * Unit tests for guest-agent/gsession.c: the control channel, from the
 * host's side.  The test listens on a real AF_UNIX socket, as the host
 * agent would, and the guest's session dials it; every frame is read
 * and written as bytes on that socket.  The binds are the real watcher's
 * (watch.c), fed by the test as a scan would feed it.  A reconnect must
 * send HELLO, then after WELCOME an EXPOSE for every bind known, oldest
 * first, and nothing for binds that came and went while the channel was
 * down; verdicts apply to the bind they name and are forgotten with the
 * session; frames out of turn end the channel, which is dialled again.
 * The data streams (gstream.c, dial.c) are stand-ins that count.  check
 * forks for every test, so each starts with a fresh session.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"

struct guest	*guest;

#define WAIT_MS		10000	/* for what must come */
#define QUIET_MS	150	/* for what must not */
#define HOST_EOF	(-1)

/* The host agent's end. */
static struct {
	int	 lfd;		/* listening */
	int	 fd;		/* the control channel, once accepted */
	uint8_t	 buf[PH_FRAME_MAX * 8];
	size_t	 have;
	char	 path[108];
} h = { .lfd = -1, .fd = -1 };

/* What the session asked of the data streams. */
static struct {
	int		pool_starts, pool_stops, pool_size, pool_reuse;
	int		opens, pairs, closes, shuts, unshares;
	uint64_t	conn;
	int		reaches, reach_n, reach_clears;	/* reach.c's */
} st;

/* No proxy socket, and no scans, here. */
void
pxsock_verdict(const struct gbind *b)
{
	(void)b;
}

void
scan_kick(void)
{
}

int
proc_is_own_socket(uint64_t inode)
{
	(void)inode;
	return 0;
}

void
proc_socket_owner(uint64_t inode, char *name, size_t len)
{
	snprintf(name, len, "srv%llu", (unsigned long long)inode);
}

/* No DNAT rules: watch_scan() feeds none. */
void
nat_feed(void)
{
}

/* Unsplit: the session dials the host itself. */
int
privsep_connect(int *pending)
{
	int	unreserved;

	return endpoint_connect(&guest->ep, pending, &unreserved);
}

void
gstream_pool_start(int n, int reuse)
{
	st.pool_starts++;
	st.pool_size = n;
	st.pool_reuse = reuse;
}

void
gstream_pool_stop(void)
{
	st.pool_stops++;
}

void
dial_open(const struct ph_open *o)
{
	st.opens++;
	st.conn = o->conn;
}

void
dial_pair(const struct ph_pair *p)
{
	st.pairs++;
	st.conn = p->conn;
}

void
dial_close(const struct ph_close *c)
{
	st.closes++;
	st.conn = c->conn;
}

void
dial_shut(const struct ph_shut *m)
{
	st.shuts++;
	st.conn = m->conn;
}

void
dial_unshare(void)
{
	st.unshares++;
}

void
reach_update(const struct ph_reach *m)
{
	st.reaches++;
	st.reach_n = m->n;
}

void
reach_clear(void)
{
	st.reach_clears++;
}

void
notify_ready(const char *fmt, ...)
{
	(void)fmt;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
setup(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	char			ep[128], err[128];
	int			i;

	log_init("check_gsession", 1, 0);
	memset(&st, 0, sizeof st);
	guest = calloc(1, sizeof *guest);
	ck_assert_ptr_nonnull(guest);
	guest->base = event_base_new();
	ck_assert_ptr_nonnull(guest->base);
	strlcpy(guest->name, "vm1", sizeof guest->name);
	for (i = 0; i < PH_BOOTID_LEN; i++)
		guest->boot_id[i] = (uint8_t)(0xb0 + i);
	guest->pool = 3;
	snprintf(h.path, sizeof h.path, "/tmp/ph-check-gsession.%d",
	    (int)getpid());
	unlink(h.path);
	strlcpy(sun.sun_path, h.path, sizeof sun.sun_path);
	h.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(h.lfd, 0);
	ck_assert_int_eq(bind(h.lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(h.lfd, 8), 0);
	snprintf(ep, sizeof ep, "unix:%s", h.path);
	ck_assert_int_eq(endpoint_parse(ep, EP_CONNECT, &guest->ep, err,
	    sizeof err), 0);
}

static void
teardown(void)
{
	gsession_stop();
	watch_stop();
	if (h.fd != -1)
		close(h.fd);
	close(h.lfd);
	unlink(h.path);
	h.fd = h.lfd = -1;
	event_base_free(guest->base);
	free(guest);
	guest = NULL;
}

/* Runs the guest's loop until cond() holds; fails after WAIT_MS. */
static void
wait_for(int (*cond)(void), const char *what)
{
	struct timespec	t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!cond()) {
		ck_assert_msg(ms_since(&t0) < WAIT_MS, "no %s in %d ms", what,
		    WAIT_MS);
		event_base_loop(guest->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static int
is_up(void)
{
	return gsession_established();
}

static int
is_down(void)
{
	return !gsession_established();
}

/* The host accepts the guest's next connection. */
static int
host_accepted(void)
{
	if (h.fd == -1)
		h.fd = accept4(h.lfd, NULL, NULL, SOCK_NONBLOCK);
	return h.fd != -1;
}

static void
host_accept(void)
{
	ck_assert_int_eq(h.fd, -1);
	h.have = 0;
	wait_for(host_accepted, "connection from the guest");
}

/*
 * The next frame the guest sent, running its loop for up to ms; its type,
 * 0 if none came, HOST_EOF if the guest closed the channel.
 */
static int
host_read(struct ph_msg *m, int ms)
{
	struct timespec	 t0;
	const char	*err;
	size_t		 used;
	ssize_t		 n;
	int		 r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		event_base_loop(guest->base, EVLOOP_NONBLOCK);
		memset(m, 0, sizeof *m);
		r = ph_frame_decode(h.buf, h.have, PH_PAYLOAD_MAX, m, &used,
		    &err);
		ck_assert_int_eq(r == PH_FRAME_BAD || r == PH_FRAME_UNKNOWN, 0);
		if (r == PH_FRAME_OK) {
			memmove(h.buf, h.buf + used, h.have - used);
			h.have -= used;
			return m->type;
		}
		n = recv(h.fd, h.buf + h.have, sizeof h.buf - h.have,
		    MSG_DONTWAIT);
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			ck_assert_uint_eq(h.have, 0);	/* no half frame */
			return HOST_EOF;
		}
		if (n > 0) {
			h.have += (size_t)n;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (ms_since(&t0) >= ms)
			return 0;
		usleep(1000);
	}
}

static void
host_expect(struct ph_msg *m, int type)
{
	int	got = host_read(m, WAIT_MS);

	ck_assert_msg(got == type, "host read %s (%d), not %s",
	    got > 0 ? ph_type_name((uint16_t)got) : "nothing", got,
	    ph_type_name((uint16_t)type));
}

static void
host_expect_quiet(void)
{
	struct ph_msg	m;
	int		got = host_read(&m, QUIET_MS);

	ck_assert_msg(got == 0, "host read %s (%d), expected nothing",
	    got > 0 ? ph_type_name((uint16_t)got) : "EOF", got);
}

/* The guest dropped the channel: EOF, and its state is down. */
static void
host_expect_eof(void)
{
	struct ph_msg	m;
	int		got = host_read(&m, WAIT_MS);

	ck_assert_msg(got == HOST_EOF, "host read %d, not EOF", got);
	close(h.fd);
	h.fd = -1;
	ck_assert(!gsession_established());
	ck_assert_uint_eq(gsession_token(), 0);
}

static void
host_send_raw(const void *p, size_t len)
{
	ck_assert_int_eq(write(h.fd, p, len), (ssize_t)len);
}

static void
host_send(const struct ph_msg *m)
{
	uint8_t	buf[PH_FRAME_MAX];
	size_t	len;

	len = ph_msg_encode(m, buf, sizeof buf);
	ck_assert_uint_gt(len, 0);
	host_send_raw(buf, len);
}

static void
host_welcome(uint16_t version, uint64_t token)
{
	struct ph_msg	m = { .type = PH_WELCOME };

	m.u.welcome.version = version;
	m.u.welcome.session = token;
	m.u.welcome.max_payload = PH_PAYLOAD_MAX;
	m.u.welcome.max_forwards = 100;
	strlcpy(m.u.welcome.version_str, "test", sizeof
	    m.u.welcome.version_str);
	host_send(&m);
}

/* Accept, HELLO, WELCOME: the channel is up. */
static void
host_handshake(uint64_t token)
{
	struct ph_msg	m;

	host_accept();
	host_expect(&m, PH_HELLO);
	host_welcome(PH_PROTO_VERSION, token);
	wait_for(is_up, "established session");
	ck_assert_uint_eq(gsession_token(), token);
}

/* The host closes the channel; the guest sees it and is down. */
static void
host_close(void)
{
	close(h.fd);
	h.fd = -1;
	wait_for(is_down, "dropped session");
}

/* The guest answers a PING: the channel is up and reading. */
static void
host_ping(uint64_t nonce)
{
	struct ph_msg	m = { .type = PH_PING };

	m.u.ping.nonce = nonce;
	host_send(&m);
	host_expect(&m, PH_PONG);
	ck_assert_uint_eq(m.u.ping.nonce, nonce);
	ck_assert(gsession_established());
}

static void
seen(uint8_t proto, const char *addr, uint16_t port, int v6only,
    uint64_t inode)
{
	struct gbind	k;

	memset(&k, 0, sizeof k);
	k.proto = proto;
	ck_assert_int_eq(addr_parse(addr, &k.addr), 0);
	k.port = port;
	k.v6only = v6only;
	watch_seen(&k, inode);
}

/* The binds of the tests: A, B and C. */
static void
scan_abc(int a, int b, int c)
{
	watch_scan_begin();
	if (a)
		seen(IPPROTO_TCP, "127.0.0.1", 8080, 0, 1);
	if (b)
		seen(IPPROTO_UDP, "::", 5353, 1, 2);
	if (c)
		seen(IPPROTO_TCP, "::", 443, 0, 3);
	watch_scan_end(1);
}

static void
expect_expose(uint32_t id, uint8_t proto, const char *addr, uint16_t port,
    uint8_t flags, const char *process)
{
	struct ph_msg	m;
	struct ph_addr	a;

	host_expect(&m, PH_EXPOSE);
	ck_assert_int_eq(addr_parse(addr, &a), 0);
	ck_assert_uint_eq(m.u.expose.id, id);
	ck_assert_uint_eq(m.u.expose.proto, proto);
	ck_assert(addr_equal(&m.u.expose.addr, &a));
	ck_assert_uint_eq(m.u.expose.port, port);
	ck_assert_uint_eq(m.u.expose.flags, flags);
	ck_assert_str_eq(m.u.expose.process, process);
}

static void
expect_abc(int a, int b, int c)
{
	if (a)
		expect_expose(1, IPPROTO_TCP, "127.0.0.1", 8080, 0, "srv1");
	if (b)
		expect_expose(2, IPPROTO_UDP, "::", 5353, PH_EXPOSE_V6ONLY,
		    "srv2");
	if (c)
		expect_expose(3, IPPROTO_TCP, "::", 443, 0, "srv3");
}

static void
host_exposed(uint32_t id, uint8_t verdict, uint16_t hport)
{
	struct ph_msg	m = { .type = PH_EXPOSED };

	m.u.exposed.id = id;
	m.u.exposed.verdict = verdict;
	if (hport != 0) {
		m.u.exposed.naddr = 1;
		addr_loopback(AF_INET, &m.u.exposed.host[0].addr);
		m.u.exposed.host[0].port = hport;
	}
	strlcpy(m.u.exposed.reason, "test", sizeof m.u.exposed.reason);
	host_send(&m);
}

static uint32_t	want_id;
static uint8_t	want_verdict;

static int
has_verdict(void)
{
	struct gbind	*b = watch_find(want_id);

	return b != NULL && b->verdict == want_verdict;
}

static void
wait_verdict(uint32_t id, uint8_t verdict)
{
	want_id = id;
	want_verdict = verdict;
	wait_for(has_verdict, "verdict");
}

START_TEST(test_hello)
{
	struct ph_msg	m;

	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	ck_assert_uint_eq(m.u.hello.vmin, PH_PROTO_VERSION_MIN);
	ck_assert_uint_eq(m.u.hello.vmax, PH_PROTO_VERSION);
	ck_assert_str_eq(m.u.hello.name, "vm1");
	ck_assert_mem_eq(m.u.hello.boot_id, guest->boot_id, PH_BOOTID_LEN);
	ck_assert(!gsession_established());
	ck_assert_uint_eq(gsession_token(), 0);
}
END_TEST

/* Binds known before WELCOME are sent after it, not before. */
START_TEST(test_welcome_syncs)
{
	struct ph_msg	m;

	scan_abc(1, 1, 0);
	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	host_expect_quiet();
	/*
	 * A bind new while HELLO waits for its answer waits too; one gone
	 * meanwhile was never sent, and is not withdrawn.
	 */
	scan_abc(1, 1, 1);
	host_expect_quiet();
	scan_abc(1, 0, 1);
	host_expect_quiet();
	ck_assert_int_eq(st.pool_starts, 0);
	host_welcome(PH_PROTO_VERSION, 0x1122334455667788ULL);
	expect_abc(1, 0, 1);
	host_expect_quiet();
	ck_assert(gsession_established());
	ck_assert_uint_eq(gsession_token(), 0x1122334455667788ULL);
	/* Protocol 2 has pooled streams: the pool starts, -P big. */
	ck_assert_int_eq(st.pool_starts, 1);
	ck_assert_int_eq(st.pool_size, 3);
}
END_TEST

/* A protocol 1 host has no pool. */
START_TEST(test_welcome_v1_no_pool)
{
	struct ph_msg	m;

	scan_abc(1, 0, 0);
	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	host_welcome(1, 7);
	expect_abc(1, 0, 0);
	ck_assert(gsession_established());
	ck_assert_int_eq(st.pool_starts, 0);
}
END_TEST

/* A WELCOME that asks for the key (version 3), with this nonce. */
static void
host_welcome_auth(uint64_t token, uint8_t fill)
{
	struct ph_msg	m = { .type = PH_WELCOME };

	m.u.welcome.version = PH_PROTO_VERSION_AUTH;
	m.u.welcome.session = token;
	m.u.welcome.max_payload = PH_PAYLOAD_MAX;
	m.u.welcome.max_forwards = 100;
	m.u.welcome.auth = PH_AUTH_HMAC;
	memset(m.u.welcome.nonce, fill, PH_NONCE_LEN);
	host_send(&m);
}

static void
use_key(void)
{
	size_t	i;

	for (i = 0; i < PH_KEY_LEN; i++)
		guest->key[i] = (uint8_t)(i * 7);
	guest->has_key = 1;
}

/*
 * Asked for the key: AUTH with the proof over the nonce and token, then
 * nothing (no EXPOSE, no pool) until the host's own AUTH proves it.
 */
START_TEST(test_key_proof)
{
	struct ph_msg	m;
	uint8_t		nonce[PH_NONCE_LEN];

	use_key();
	memset(nonce, 0x5a, sizeof nonce);
	scan_abc(1, 0, 0);
	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	host_welcome_auth(0x77, 0x5a);
	host_expect(&m, PH_AUTH);
	ck_assert_int_eq(auth_verify(AUTH_GUEST, guest->key, nonce, 0x77,
	    m.u.auth.proof), 0);
	host_expect_quiet();
	ck_assert(!gsession_established());
	ck_assert_int_eq(st.pool_starts, 0);
	auth_prove(AUTH_HOST, guest->key, nonce, 0x77, m.u.auth.proof);
	host_send(&m);
	expect_abc(1, 0, 0);
	ck_assert(gsession_established());
	ck_assert_uint_eq(gsession_token(), 0x77);
	ck_assert_int_eq(st.pool_starts, 1);
}
END_TEST

/*
 * The host's AUTH must prove the key: the guest's own proof sent back,
 * another nonce's, or any other frame instead, and the channel ends.
 */
START_TEST(test_key_host_proof_wrong)
{
	struct ph_msg	m;
	uint8_t		nonce[PH_NONCE_LEN];

	use_key();
	memset(nonce, 0x5a, sizeof nonce);
	scan_abc(1, 0, 0);
	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	host_welcome_auth(0x77, 0x5a);
	host_expect(&m, PH_AUTH);
	if (_i == 1)
		nonce[0] ^= 1;
	if (_i == 1)
		auth_prove(AUTH_HOST, guest->key, nonce, 0x77, m.u.auth.proof);
	if (_i == 2) {
		memset(&m, 0, sizeof m);
		m.type = PH_PING;
	}
	host_send(&m);	/* _i 0: the guest's proof, sent back */
	host_expect_eof();
	ck_assert_int_eq(watch_find(1)->verdict, 0);
	ck_assert_int_eq(st.pool_starts, 0);
}
END_TEST

/* No -K, and the host asks for a key: no AUTH, the channel ends. */
START_TEST(test_key_missing)
{
	struct ph_msg	m;

	scan_abc(1, 0, 0);
	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	host_welcome_auth(0x77, 1);
	host_expect_eof();
	ck_assert(!gsession_established());
}
END_TEST

START_TEST(test_live_expose_unexpose)
{
	struct ph_msg	m;

	gsession_start();
	host_handshake(1);
	host_expect_quiet();
	scan_abc(1, 0, 0);
	expect_abc(1, 0, 0);
	scan_abc(1, 1, 0);
	expect_abc(0, 1, 0);
	scan_abc(1, 1, 0);
	host_expect_quiet();
	scan_abc(0, 1, 0);
	host_expect(&m, PH_UNEXPOSE);
	ck_assert_uint_eq(m.u.unexpose.id, 1);
	host_expect_quiet();
}
END_TEST

START_TEST(test_exposed_verdict)
{
	struct gbind	*b;

	scan_abc(1, 1, 0);
	gsession_start();
	host_handshake(2);
	expect_abc(1, 1, 0);
	host_exposed(1, PH_BOUND, 18080);
	wait_verdict(1, PH_BOUND);
	b = watch_find(1);
	ck_assert_uint_eq(b->reply.naddr, 1);
	ck_assert_uint_eq(b->reply.host[0].port, 18080);
	ck_assert_str_eq(b->reply.reason, "test");
	ck_assert_int_eq(watch_find(2)->verdict, 0);
	host_exposed(2, PH_REFUSED, 0);
	wait_verdict(2, PH_REFUSED);
	ck_assert_int_eq(watch_find(1)->verdict, PH_BOUND);
	/* A later verdict replaces the first. */
	host_exposed(1, PH_FAILED, 0);
	wait_verdict(1, PH_FAILED);
	ck_assert_uint_eq(watch_find(1)->reply.naddr, 0);
	host_expect_quiet();
}
END_TEST

/* A verdict for a bind gone meanwhile (or never known) is dropped. */
START_TEST(test_exposed_unknown)
{
	struct ph_msg	m;

	scan_abc(1, 0, 0);
	gsession_start();
	host_handshake(3);
	expect_abc(1, 0, 0);
	scan_abc(0, 0, 0);
	host_expect(&m, PH_UNEXPOSE);
	host_exposed(1, PH_BOUND, 18080);
	host_exposed(99, PH_BOUND, 18081);
	host_ping(42);
	ck_assert_ptr_null(watch_find(1));
	ck_assert_ptr_null(watch_find(99));
	host_expect_quiet();
}
END_TEST

/*
 * The host goes away and comes back: verdicts are forgotten with the
 * session, and the new one is sent every bind known then, oldest first.
 * What came and went meanwhile was never exposed to this host: neither
 * EXPOSE nor UNEXPOSE for it.  What went meanwhile is not sent at all.
 */
START_TEST(test_reconnect_resync)
{
	struct ph_msg	m;

	scan_abc(1, 1, 0);
	gsession_start();
	host_handshake(4);
	expect_abc(1, 1, 0);
	host_exposed(1, PH_BOUND, 18080);
	host_exposed(2, PH_REWRITTEN, 18081);
	wait_verdict(2, PH_REWRITTEN);
	ck_assert_int_eq(watch_find(1)->verdict, PH_BOUND);
	ck_assert_int_eq(st.pool_stops, 0);
	host_close();
	ck_assert_int_eq(watch_find(1)->verdict, 0);
	ck_assert_int_eq(watch_find(2)->verdict, 0);
	ck_assert_uint_eq(gsession_token(), 0);
	ck_assert_int_eq(st.pool_stops, 1);
	/* Down: B goes, C comes, D comes and goes. */
	scan_abc(1, 0, 1);
	watch_scan_begin();
	seen(IPPROTO_TCP, "127.0.0.1", 8080, 0, 1);
	seen(IPPROTO_TCP, "::", 443, 0, 3);
	seen(IPPROTO_TCP, "0.0.0.0", 9999, 0, 4);
	watch_scan_end(1);
	scan_abc(1, 0, 1);
	ck_assert_ptr_null(watch_find(4));
	host_accept();
	host_expect(&m, PH_HELLO);
	host_expect_quiet();
	host_welcome(PH_PROTO_VERSION, 5);
	expect_abc(1, 0, 1);
	host_expect_quiet();
	ck_assert_uint_eq(gsession_token(), 5);
	ck_assert_int_eq(st.pool_starts, 2);
}
END_TEST

/* Resync again and again: the same binds, the same ids, each time. */
START_TEST(test_reconnect_twice)
{
	int	i;

	scan_abc(1, 1, 1);
	gsession_start();
	for (i = 0; i < 3; i++) {
		host_handshake(10 + i);
		expect_abc(1, 1, 1);
		host_expect_quiet();
		host_close();
	}
}
END_TEST

START_TEST(test_ping_pong)
{
	gsession_start();
	host_handshake(6);
	host_ping(0);
	host_ping(0xfedcba9876543210ULL);
	host_expect_quiet();
}
END_TEST

/* The host's requests for connections go to dial.c, unchanged. */
START_TEST(test_dial_dispatch)
{
	struct ph_msg	m;

	gsession_start();
	host_handshake(7);
	m.type = PH_OPEN;
	m.u.open.conn = 101;
	m.u.open.forward = 1;
	host_send(&m);
	memset(&m, 0, sizeof m);
	m.type = PH_PAIR;
	m.u.pair.conn = 102;
	m.u.pair.forward = 1;
	m.u.pair.stream = 5;
	host_send(&m);
	memset(&m, 0, sizeof m);
	m.type = PH_CLOSE;
	m.u.close.conn = 103;
	m.u.close.how = PH_CLOSE_RESET;
	host_send(&m);
	host_ping(1);
	ck_assert_int_eq(st.opens, 1);
	ck_assert_int_eq(st.pairs, 1);
	ck_assert_int_eq(st.closes, 1);
	ck_assert_uint_eq(st.conn, 103);
}
END_TEST

/*
 * REACH (v6) goes to reach.c whole; from a host that chose protocol 5
 * it is out of place and ends the channel, which clears the listeners.
 */
START_TEST(test_reach_dispatch)
{
	struct ph_msg	m;

	gsession_start();
	host_handshake(11);
	memset(&m, 0, sizeof m);
	m.type = PH_REACH;
	m.u.reach.n = 1;
	m.u.reach.e[0].id = 3;
	m.u.reach.e[0].kind = PH_KIND_UNIX;
	strlcpy(m.u.reach.e[0].name, "ssh-agent", sizeof m.u.reach.e[0].name);
	host_send(&m);
	host_ping(3);
	ck_assert_int_eq(st.reaches, 1);
	ck_assert_int_eq(st.reach_n, 1);
	host_close();
	ck_assert_int_ge(st.reach_clears, 1);
}
END_TEST

START_TEST(test_reach_v5_drops)
{
	struct ph_msg	m;

	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	host_welcome(PH_PROTO_VERSION_UNIX, 12);
	wait_for(is_up, "established session");
	memset(&m, 0, sizeof m);
	m.type = PH_REACH;
	host_send(&m);
	host_expect_eof();
	ck_assert_int_eq(st.reaches, 0);
}
END_TEST

/* An ERROR the host can go on after is logged; the rest end it. */
START_TEST(test_error_unknown_type_kept)
{
	struct ph_msg	m = { .type = PH_ERROR };

	gsession_start();
	host_handshake(8);
	m.u.error.code = PH_ERR_UNKNOWN_TYPE;
	strlcpy(m.u.error.message, "type 99", sizeof m.u.error.message);
	host_send(&m);
	host_ping(2);
}
END_TEST

static const uint32_t	fatal_errors[] = {
	PH_ERR_PROTOCOL, PH_ERR_VERSION, PH_ERR_LIMIT, PH_ERR_SHUTDOWN, 77
};

START_TEST(test_error_drops)
{
	struct ph_msg	m = { .type = PH_ERROR };

	scan_abc(1, 0, 0);
	gsession_start();
	host_handshake(9);
	expect_abc(1, 0, 0);
	m.u.error.code = fatal_errors[_i];
	host_send(&m);
	host_expect_eof();
	/* ... and dials again, and syncs again. */
	host_handshake(10);
	expect_abc(1, 0, 0);
}
END_TEST

/* Anything but WELCOME (or ERROR) in answer to HELLO ends the channel. */
static const uint16_t	before_welcome[] = {
	PH_EXPOSED, PH_PING, PH_PONG, PH_OPEN, PH_CLOSE
};

START_TEST(test_hello_wants_welcome)
{
	struct ph_msg	m;

	scan_abc(1, 0, 0);
	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	memset(&m, 0, sizeof m);
	m.type = before_welcome[_i];
	if (m.type == PH_EXPOSED)
		m.u.exposed.verdict = PH_BOUND;
	if (m.type == PH_CLOSE)
		m.u.close.how = PH_CLOSE_RESET;
	host_send(&m);
	host_expect_eof();
	ck_assert_int_eq(st.opens + st.closes, 0);
	ck_assert_int_eq(watch_find(1)->verdict, 0);
	ck_assert_int_eq(st.pool_starts, 0);
}
END_TEST

/* Frames only a guest sends, and a second WELCOME, end the channel. */
static const uint16_t	out_of_turn[] = {
	PH_WELCOME, PH_HELLO, PH_EXPOSE, PH_UNEXPOSE
};

START_TEST(test_out_of_turn_drops)
{
	struct ph_msg	m;

	gsession_start();
	host_handshake(11);
	memset(&m, 0, sizeof m);
	m.type = out_of_turn[_i];
	switch (m.type) {
	case PH_WELCOME:
		m.u.welcome.version = PH_PROTO_VERSION;
		m.u.welcome.session = 12;
		break;
	case PH_HELLO:
		m.u.hello.vmin = m.u.hello.vmax = 1;
		break;
	case PH_EXPOSE:
		m.u.expose.proto = IPPROTO_TCP;
		addr_loopback(AF_INET, &m.u.expose.addr);
		m.u.expose.port = 80;
		break;
	}
	host_send(&m);
	host_expect_eof();
}
END_TEST

/* A frame type newer than this guest is skipped, not fatal. */
START_TEST(test_unknown_type_skipped)
{
	static const uint8_t	frame[] = {
		0x00, 0xc8,		/* type 200 */
		0x00, 0x00,		/* flags */
		0x00, 0x00, 0x00, 0x03,	/* length 3 */
		'a', 'b', 'c',
	};

	gsession_start();
	host_handshake(13);
	host_send_raw(frame, sizeof frame);
	host_ping(3);
}
END_TEST

/* Malformed frames end the channel. */
static const struct {
	uint8_t	bytes[12];
	size_t	len;
} bad_frames[] = {
	/* type 0 */
	{ { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 }, 8 },
	/* PING, length 4097: over PH_PAYLOAD_MAX */
	{ { 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01 }, 8 },
	/* PING, length 4: a nonce is 8 */
	{ { 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,
	    0x01, 0x02, 0x03, 0x04 }, 12 },
};

START_TEST(test_bad_frame_drops)
{
	gsession_start();
	host_handshake(14);
	host_send_raw(bad_frames[_i].bytes, bad_frames[_i].len);
	host_expect_eof();
}
END_TEST

/*
 * A host silent for the keepalive time is dropped (after PINGs, unless
 * the second turned before the first was due: time() counts seconds).
 */
START_TEST(test_keepalive)
{
	struct ph_msg	m;
	int		pings = 0, got;

	guest->keepalive = 1;
	gsession_start();
	host_handshake(15);
	while ((got = host_read(&m, WAIT_MS)) == PH_PING)
		pings++;
	ck_assert_int_eq(got, HOST_EOF);
	ck_assert_int_le(pings, 4);
	close(h.fd);
	h.fd = -1;
	ck_assert(!gsession_established());
}
END_TEST

/*
 * A host that floods PINGs and never reads the PONGs is dropped once
 * more than GUEST_CTL_QUEUE_MAX bytes wait for it, not buffered for.
 */
START_TEST(test_ping_flood)
{
	struct ph_msg	m = { .type = PH_PING };
	static uint8_t	buf[4096 * 16];
	size_t		len = 0, off = 0, sent = 0;
	ssize_t		n;
	struct timespec	t0;

	gsession_start();
	host_handshake(16);
	while (len + 16 <= sizeof buf) {
		m.u.ping.nonce = len;
		len += ph_msg_encode(&m, buf + len, sizeof buf - len);
	}
	ck_assert_uint_eq(len % 16, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (gsession_established()) {
		ck_assert_msg(ms_since(&t0) < 10 * WAIT_MS, "not dropped "
		    "after %zu bytes of PINGs", sent);
		if ((n = write(h.fd, buf + off, len - off)) > 0) {
			sent += (size_t)n;
			off = (off + (size_t)n) % len;
		} else
			ck_assert(n == -1 && errno == EAGAIN);
		event_base_loop(guest->base, EVLOOP_NONBLOCK);
	}
	/* PONGs are as long as PINGs: more than the queue was sent. */
	ck_assert_uint_gt(sent, GUEST_CTL_QUEUE_MAX);
	ck_assert_uint_lt(sent, 2 * GUEST_CTL_QUEUE_MAX);
	close(h.fd);
	h.fd = -1;
}
END_TEST

/* A host that never answers HELLO is dropped, and dialled again. */
START_TEST(test_welcome_timeout)
{
	struct ph_msg	m;
	struct timespec	t0;

	gsession_start();
	host_accept();
	host_expect(&m, PH_HELLO);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(host_read(&m, GUEST_WELCOME_TIMEOUT * 1000 +
	    WAIT_MS), HOST_EOF);
	ck_assert_int_ge(ms_since(&t0), GUEST_WELCOME_TIMEOUT * 1000 - 100);
	close(h.fd);
	h.fd = -1;
	ck_assert(!gsession_established());
	host_handshake(17);
}
END_TEST

/* A frame goes out only on a channel: none is queued for later. */
START_TEST(test_send_needs_channel)
{
	struct ph_msg	m = { .type = PH_PING };

	gsession_start();
	host_handshake(16);
	ck_assert_int_eq(gsession_send(&m), 0);
	host_expect(&m, PH_PING);
	host_close();
	ck_assert_int_eq(gsession_send(&m), -1);
	/* A bind while down is sent after the next WELCOME only. */
	scan_abc(1, 0, 0);
	host_accept();
	host_expect(&m, PH_HELLO);
	host_expect_quiet();
}
END_TEST

static Suite *
gsession_suite(void)
{
	Suite	*s = suite_create("gsession");
	TCase	*tc;

	tc = tcase_create("sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hello);
	tcase_add_test(tc, test_welcome_syncs);
	tcase_add_test(tc, test_welcome_v1_no_pool);
	tcase_add_test(tc, test_key_proof);
	tcase_add_loop_test(tc, test_key_host_proof_wrong, 0, 3);
	tcase_add_test(tc, test_key_missing);
	tcase_add_test(tc, test_live_expose_unexpose);
	tcase_add_test(tc, test_exposed_verdict);
	tcase_add_test(tc, test_exposed_unknown);
	tcase_add_test(tc, test_reconnect_resync);
	tcase_add_test(tc, test_reconnect_twice);
	tcase_add_test(tc, test_send_needs_channel);
	suite_add_tcase(s, tc);

	tc = tcase_create("states");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ping_pong);
	tcase_add_test(tc, test_dial_dispatch);
	tcase_add_test(tc, test_error_unknown_type_kept);
	tcase_add_loop_test(tc, test_error_drops, 0,
	    sizeof fatal_errors / sizeof fatal_errors[0]);
	tcase_add_loop_test(tc, test_hello_wants_welcome, 0,
	    sizeof before_welcome / sizeof before_welcome[0]);
	tcase_add_loop_test(tc, test_out_of_turn_drops, 0,
	    sizeof out_of_turn / sizeof out_of_turn[0]);
	tcase_add_test(tc, test_unknown_type_skipped);
	tcase_add_loop_test(tc, test_bad_frame_drops, 0,
	    sizeof bad_frames / sizeof bad_frames[0]);
	tcase_add_test(tc, test_reach_dispatch);
	tcase_add_test(tc, test_reach_v5_drops);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_ping_flood);
	tcase_add_test(tc, test_welcome_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(gsession_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
