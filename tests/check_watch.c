/*
 * Unit tests for guest-agent/watch.c: the bind watcher without the
 * kernel.  A scan is driven as watch_scan() drives it (begin, one
 * watch_seen() per socket, end), and the test stands in for the control
 * channel (gsession_expose, gsession_unexpose) and for /proc (which
 * process owns a socket), recording what the watcher asked of each.  A
 * new bind must be exposed once, a gone one unexposed once with the same
 * id, anything unchanged left alone.  watch_decode() is fed sock_diag
 * answers as the kernel sends them, and watch_ignored() the -i list.
 * check forks for every test, so each starts with an empty watcher.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "guest.h"
#include "log.h"

struct guest	*guest;

/* What the watcher asked of the control channel, in order. */
#define NCALLS	8192
static struct call {
	int		expose;		/* 1: EXPOSE, 0: UNEXPOSE */
	struct gbind	b;
} calls[NCALLS];
static int	ncalls, next_call;

/* Sockets the stand-in /proc calls the agent's own. */
static uint64_t	own_inodes[4];

void
gsession_expose(const struct gbind *b)
{
	ck_assert_int_lt(ncalls, NCALLS);
	calls[ncalls].expose = 1;
	calls[ncalls++].b = *b;
}

void
gsession_unexpose(const struct gbind *b)
{
	ck_assert_int_lt(ncalls, NCALLS);
	calls[ncalls].expose = 0;
	calls[ncalls++].b = *b;
}

/* A proxy let go of a bind: the scans decide (counted here). */
static int	kicks;

void
scan_kick(void)
{
	kicks++;
}

int
proc_is_own_socket(uint64_t inode)
{
	size_t	i;

	for (i = 0; i < sizeof own_inodes / sizeof own_inodes[0]; i++)
		if (own_inodes[i] != 0 && own_inodes[i] == inode)
			return 1;
	return 0;
}

/* Socket inode N is held by a process named "srvN". */
void
proc_socket_owner(uint64_t inode, char *name, size_t len)
{
	snprintf(name, len, "srv%llu", (unsigned long long)inode);
}

/* watch_scan() feeds the rules' ports here; the tests call it directly. */
void
nat_feed(void)
{
}

static void
setup(void)
{
	log_init("check_watch", 1, 0);
	guest = calloc(1, sizeof *guest);
	ck_assert_ptr_nonnull(guest);
	ncalls = next_call = kicks = 0;
	memset(own_inodes, 0, sizeof own_inodes);
}

static void
teardown(void)
{
	watch_stop();
	free(guest);
	guest = NULL;
}

static struct gbind
key(uint8_t proto, const char *addr, uint16_t port, int v6only)
{
	struct gbind	k;

	memset(&k, 0, sizeof k);
	k.proto = proto;
	ck_assert_int_eq(addr_parse(addr, &k.addr), 0);
	k.port = port;
	k.v6only = v6only;
	return k;
}

static void
seen(uint8_t proto, const char *addr, uint16_t port, uint64_t inode)
{
	struct gbind	k = key(proto, addr, port, 0);

	watch_seen(&k, inode);
}

/* The next call the watcher made must be this one; its bind's id. */
static uint32_t
expect(int expose, uint8_t proto, const char *addr, uint16_t port)
{
	struct gbind	 k = key(proto, addr, port, 0);
	struct call	*c;
	char		 a[PH_ADDRSTRLEN];

	ck_assert_msg(next_call < ncalls, "no %s of %s port %u",
	    expose ? "EXPOSE" : "UNEXPOSE", addr, port);
	c = &calls[next_call++];
	ck_assert_msg(c->expose == expose && c->b.proto == proto &&
	    c->b.port == port && addr_equal(&c->b.addr, &k.addr),
	    "call %d: %s %s %s, not %s %s %s", next_call - 1,
	    c->expose ? "EXPOSE" : "UNEXPOSE", proto_name(c->b.proto),
	    addr_fmt(&c->b.addr, c->b.port, a, sizeof a),
	    expose ? "EXPOSE" : "UNEXPOSE", proto_name(proto), addr);
	return c->b.id;
}

static void
expect_none(void)
{
	ck_assert_int_eq(ncalls, next_call);
}

static int	count_cb_n;

static void
count_cb(struct gbind *b, void *arg)
{
	uint32_t	*last = arg;

	/* watch_foreach walks the binds by id, oldest first. */
	ck_assert_uint_gt(b->id, *last);
	*last = b->id;
	count_cb_n++;
}

static int
nbinds(void)
{
	uint32_t	last = 0;

	count_cb_n = 0;
	watch_foreach(count_cb, &last);
	return count_cb_n;
}

/*
 * A proxy asks before it binds (pxsock.c): the bind is exposed at once,
 * named after the proxy, kept by scans that do not see it, and is the
 * same bind when its socket listens: no second EXPOSE.  Let go, the
 * next scan decides.
 */
START_TEST(test_hold_then_listen)
{
	struct gbind	 k = key(IPPROTO_TCP, "0.0.0.0", 8080, 0), *b;
	uint32_t	 id;
	int		 i;

	b = watch_hold(&k, "docker-proxy");
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8080);
	ck_assert_uint_eq(b->id, id);
	ck_assert_str_eq(calls[0].b.process, "docker-proxy");
	for (i = 0; i < 3; i++) {	/* not listening yet */
		watch_scan_begin();
		watch_scan_end(1);
	}
	expect_none();
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8080, 99);	/* it listens */
	watch_scan_end(1);
	expect_none();
	ck_assert_str_eq(watch_find(id)->process, "docker-proxy");
	watch_release(id);
	ck_assert_int_eq(kicks, 1);
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8080, 99);	/* still listening */
	watch_scan_end(1);
	expect_none();
	watch_scan_begin();
	watch_scan_end(1);			/* it stopped */
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "0.0.0.0", 8080), id);
	expect_none();
}
END_TEST

/* One that never listens goes with the first scan after the release. */
START_TEST(test_hold_never_listens)
{
	struct gbind	 k = key(IPPROTO_UDP, "::1", 5353, 1);
	uint32_t	 id;

	id = watch_hold(&k, "docker-proxy")->id;
	expect(1, IPPROTO_UDP, "::1", 5353);
	ck_assert(calls[0].b.v6only);
	watch_release(id);
	watch_release(id);		/* a second release: nothing */
	ck_assert_int_eq(kicks, 1);
	watch_scan_begin();
	watch_scan_end(1);
	expect(0, IPPROTO_UDP, "::1", 5353);
	expect_none();
	ck_assert_ptr_null(watch_find(id));
}
END_TEST

/*
 * Asked for a bind the watcher knows (another proxy's, or a socket
 * dockerd made itself): that bind, held, no EXPOSE; two holds, two
 * releases before the scans decide.
 */
START_TEST(test_hold_known)
{
	struct gbind	 k = key(IPPROTO_TCP, "127.0.0.1", 9000, 0);
	uint32_t	 id;

	watch_scan_begin();
	seen(IPPROTO_TCP, "127.0.0.1", 9000, 5);
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "127.0.0.1", 9000);
	ck_assert_uint_eq(watch_hold(&k, "docker-proxy")->id, id);
	ck_assert_uint_eq(watch_hold(&k, "docker-proxy")->id, id);
	expect_none();
	ck_assert_str_eq(watch_find(id)->process, "srv5");
	watch_release(id);
	ck_assert_int_eq(kicks, 0);
	watch_scan_begin();
	watch_scan_end(1);
	expect_none();			/* still held once */
	watch_release(id);
	ck_assert_int_eq(kicks, 1);
	watch_scan_begin();
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "127.0.0.1", 9000), id);
}
END_TEST

START_TEST(test_new_bind_exposed)
{
	struct gbind	*b;
	uint32_t	 id;

	watch_scan_begin();
	seen(IPPROTO_TCP, "127.0.0.1", 8080, 41);
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "127.0.0.1", 8080);
	expect_none();
	ck_assert_uint_eq(id, 1);
	ck_assert_str_eq(calls[0].b.process, "srv41");
	ck_assert_int_eq(calls[0].b.verdict, 0);
	b = watch_find(id);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->port, 8080);
	ck_assert_str_eq(b->process, "srv41");
	ck_assert_int_eq(nbinds(), 1);
}
END_TEST

START_TEST(test_unchanged_nothing)
{
	int	i;

	for (i = 0; i < 5; i++) {
		watch_scan_begin();
		seen(IPPROTO_TCP, "0.0.0.0", 80, 7);
		seen(IPPROTO_UDP, "0.0.0.0", 53, 8);
		watch_scan_end(1);
	}
	expect(1, IPPROTO_TCP, "0.0.0.0", 80);
	expect(1, IPPROTO_UDP, "0.0.0.0", 53);
	expect_none();
	ck_assert_int_eq(nbinds(), 2);
}
END_TEST

START_TEST(test_gone_unexposed)
{
	uint32_t	id;

	watch_scan_begin();
	seen(IPPROTO_TCP, "::", 443, 9);
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "::", 443);
	watch_scan_begin();
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "::", 443), id);
	expect_none();
	ck_assert_ptr_null(watch_find(id));
	ck_assert_int_eq(nbinds(), 0);
	/* Gone stays gone: nothing more is sent. */
	watch_scan_begin();
	watch_scan_end(1);
	expect_none();
}
END_TEST

/* A bind that comes back is a new bind: ids are never reused. */
START_TEST(test_rebind_new_id)
{
	uint32_t	id1, id2;

	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 3000, 1);
	watch_scan_end(1);
	id1 = expect(1, IPPROTO_TCP, "0.0.0.0", 3000);
	watch_scan_begin();
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "0.0.0.0", 3000), id1);
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 3000, 2);
	watch_scan_end(1);
	id2 = expect(1, IPPROTO_TCP, "0.0.0.0", 3000);
	ck_assert_uint_gt(id2, id1);
	ck_assert_str_eq(watch_find(id2)->process, "srv2");
	expect_none();
}
END_TEST

START_TEST(test_tcp_udp_apart)
{
	uint32_t	tid, uid;

	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 5353, 1);
	seen(IPPROTO_UDP, "0.0.0.0", 5353, 2);
	watch_scan_end(1);
	tid = expect(1, IPPROTO_TCP, "0.0.0.0", 5353);
	uid = expect(1, IPPROTO_UDP, "0.0.0.0", 5353);
	ck_assert_uint_ne(tid, uid);
	/* The UDP socket closes; the TCP one stays. */
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 5353, 1);
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_UDP, "0.0.0.0", 5353), uid);
	expect_none();
	ck_assert_ptr_nonnull(watch_find(tid));
	ck_assert_ptr_null(watch_find(uid));
}
END_TEST

START_TEST(test_v4_v6_apart)
{
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 22000, 1);
	seen(IPPROTO_TCP, "::", 22000, 2);
	watch_scan_end(1);
	expect(1, IPPROTO_TCP, "0.0.0.0", 22000);
	expect(1, IPPROTO_TCP, "::", 22000);
	watch_scan_begin();
	seen(IPPROTO_TCP, "::", 22000, 2);
	watch_scan_end(1);
	expect(0, IPPROTO_TCP, "0.0.0.0", 22000);
	expect_none();
	ck_assert_int_eq(nbinds(), 1);
}
END_TEST

/* v6only or dual-stack is the bind's, and goes to the host with it. */
START_TEST(test_v6only_kept)
{
	struct gbind	k6 = key(IPPROTO_TCP, "::", 80, 1);
	struct gbind	kd = key(IPPROTO_TCP, "::", 81, 0);

	watch_scan_begin();
	watch_seen(&k6, 1);
	watch_seen(&kd, 2);
	watch_scan_end(1);
	expect(1, IPPROTO_TCP, "::", 80);
	expect(1, IPPROTO_TCP, "::", 81);
	ck_assert_int_eq(calls[0].b.v6only, 1);
	ck_assert_int_eq(calls[1].b.v6only, 0);
}
END_TEST

START_TEST(test_same_port_other_address)
{
	uint32_t	a, b, c;

	watch_scan_begin();
	seen(IPPROTO_TCP, "127.0.0.1", 9000, 1);
	seen(IPPROTO_TCP, "10.0.2.15", 9000, 2);
	seen(IPPROTO_TCP, "::1", 9000, 3);
	watch_scan_end(1);
	a = expect(1, IPPROTO_TCP, "127.0.0.1", 9000);
	b = expect(1, IPPROTO_TCP, "10.0.2.15", 9000);
	c = expect(1, IPPROTO_TCP, "::1", 9000);
	ck_assert_uint_ne(a, b);
	ck_assert_uint_ne(b, c);
	watch_scan_begin();
	seen(IPPROTO_TCP, "127.0.0.1", 9000, 1);
	seen(IPPROTO_TCP, "::1", 9000, 3);
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "10.0.2.15", 9000), b);
	expect_none();
}
END_TEST

/* SO_REUSEPORT: sockets sharing an address and port are one bind. */
START_TEST(test_duplicates_one_bind)
{
	uint32_t	id;

	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8443, 10);
	seen(IPPROTO_TCP, "0.0.0.0", 8443, 11);
	seen(IPPROTO_TCP, "0.0.0.0", 8443, 12);
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8443);
	expect_none();
	ck_assert_str_eq(watch_find(id)->process, "srv10");
	/* Two of the three close: the bind is still there. */
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8443, 12);
	watch_scan_end(1);
	expect_none();
	ck_assert_ptr_nonnull(watch_find(id));
}
END_TEST

START_TEST(test_port_zero_skipped)
{
	watch_scan_begin();
	seen(IPPROTO_UDP, "0.0.0.0", 0, 1);
	seen(IPPROTO_TCP, "::", 0, 2);
	watch_scan_end(1);
	expect_none();
	ck_assert_int_eq(nbinds(), 0);
}
END_TEST

/* The agent's own sockets (its streams' UDP sockets, say) are not binds. */
START_TEST(test_own_socket_skipped)
{
	own_inodes[0] = 77;
	watch_scan_begin();
	seen(IPPROTO_UDP, "0.0.0.0", 40000, 77);
	seen(IPPROTO_UDP, "0.0.0.0", 40001, 78);
	watch_scan_end(1);
	expect(1, IPPROTO_UDP, "0.0.0.0", 40001);
	expect_none();
	/* Still ours next time: still nothing, and nothing withdrawn. */
	watch_scan_begin();
	seen(IPPROTO_UDP, "0.0.0.0", 40000, 77);
	seen(IPPROTO_UDP, "0.0.0.0", 40001, 78);
	watch_scan_end(1);
	expect_none();
	ck_assert_int_eq(nbinds(), 1);
}
END_TEST

/* -i 22 -i 53/udp: sshd in both protocols, DNS over UDP only. */
START_TEST(test_ignored_ports_skipped)
{
	guest->ignore[0].port = 22;
	guest->ignore[1].port = 53;
	guest->ignore[1].proto = IPPROTO_UDP;
	guest->nignore = 2;
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 22, 1);
	seen(IPPROTO_TCP, "::", 22, 2);
	seen(IPPROTO_UDP, "0.0.0.0", 22, 3);
	seen(IPPROTO_UDP, "127.0.0.53", 53, 4);
	seen(IPPROTO_TCP, "127.0.0.53", 53, 5);
	seen(IPPROTO_TCP, "0.0.0.0", 2222, 6);
	watch_scan_end(1);
	expect(1, IPPROTO_TCP, "127.0.0.53", 53);
	expect(1, IPPROTO_TCP, "0.0.0.0", 2222);
	expect_none();
}
END_TEST

/* A failed dump withdraws nothing; the next complete scan does. */
START_TEST(test_failed_scan_keeps)
{
	uint32_t	id;

	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8000, 1);
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8000);
	watch_scan_begin();
	watch_scan_end(0);
	watch_scan_begin();
	watch_scan_end(0);
	expect_none();
	ck_assert_ptr_nonnull(watch_find(id));
	watch_scan_begin();
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "0.0.0.0", 8000), id);
	expect_none();
}
END_TEST

/* What a failed scan saw before it failed is new all the same. */
START_TEST(test_failed_scan_new)
{
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8001, 1);
	watch_scan_end(0);
	expect(1, IPPROTO_TCP, "0.0.0.0", 8001);
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8001, 1);
	watch_scan_end(1);
	expect_none();
}
END_TEST

/*
 * Ids follow discovery, not address order: a later bind on a lower port
 * has a higher id, and watch_foreach (which the resync after a reconnect
 * walks) sends them in the order they were first sent.
 */
static void
order_cb(struct gbind *b, void *arg)
{
	uint16_t	**p = arg;

	*(*p)++ = b->port;
}

START_TEST(test_order_by_discovery)
{
	uint16_t	ports[4], *p = ports;

	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 9002, 1);
	seen(IPPROTO_TCP, "0.0.0.0", 9001, 2);
	watch_scan_end(1);
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 9002, 1);
	seen(IPPROTO_TCP, "0.0.0.0", 9001, 2);
	seen(IPPROTO_UDP, "0.0.0.0", 10, 3);
	seen(IPPROTO_TCP, "0.0.0.0", 9000, 4);
	watch_scan_end(1);
	ck_assert_uint_eq(expect(1, IPPROTO_TCP, "0.0.0.0", 9002), 1);
	ck_assert_uint_eq(expect(1, IPPROTO_TCP, "0.0.0.0", 9001), 2);
	ck_assert_uint_eq(expect(1, IPPROTO_UDP, "0.0.0.0", 10), 3);
	ck_assert_uint_eq(expect(1, IPPROTO_TCP, "0.0.0.0", 9000), 4);
	watch_foreach(order_cb, &p);
	ck_assert_int_eq(p - ports, 4);
	ck_assert_uint_eq(ports[0], 9002);
	ck_assert_uint_eq(ports[1], 9001);
	ck_assert_uint_eq(ports[2], 10);
	ck_assert_uint_eq(ports[3], 9000);
}
END_TEST

/*
 * Four thousand binds (two protocols, two families, a thousand ports),
 * then every other one gone: exactly those are unexposed, each once.
 */
#define LARGE_PORTS	1000

static const char *
large_addr(int i)
{
	return i % 2 == 0 ? "0.0.0.0" : "::";
}

static void
large_scan(int keep_odd_ports)
{
	int	i, p;

	watch_scan_begin();
	for (p = 1; p <= LARGE_PORTS; p++) {
		if (keep_odd_ports && p % 2 == 0)
			continue;
		for (i = 0; i < 4; i++)
			seen(i < 2 ? IPPROTO_TCP : IPPROTO_UDP, large_addr(i),
			    (uint16_t)(20000 + p), (uint64_t)(p * 4 + i));
	}
	watch_scan_end(1);
}

START_TEST(test_large_set)
{
	static uint8_t	 unexposed[LARGE_PORTS * 4 + 1];
	struct call	*c;
	int		 i;

	large_scan(0);
	ck_assert_int_eq(ncalls, LARGE_PORTS * 4);
	for (i = 0; i < ncalls; i++) {
		ck_assert(calls[i].expose);
		ck_assert_uint_eq(calls[i].b.id, i + 1);
	}
	ck_assert_int_eq(nbinds(), LARGE_PORTS * 4);
	large_scan(0);
	ck_assert_int_eq(ncalls, LARGE_PORTS * 4);
	next_call = ncalls;
	large_scan(1);
	ck_assert_int_eq(ncalls - next_call, LARGE_PORTS * 2);
	for (; next_call < ncalls; next_call++) {
		c = &calls[next_call];
		ck_assert(!c->expose);
		ck_assert_int_eq((c->b.port - 20000) % 2, 0);
		ck_assert_uint_le(c->b.id, LARGE_PORTS * 4);
		ck_assert_int_eq(unexposed[c->b.id], 0);
		unexposed[c->b.id] = 1;
	}
	ck_assert_int_eq(nbinds(), LARGE_PORTS * 2);
	for (i = 1; i <= LARGE_PORTS * 4; i++)
		ck_assert_int_eq(watch_find((uint32_t)i) != NULL,
		    !unexposed[i]);
}
END_TEST

/* Leaving frees every bind and tells the host nothing. */
START_TEST(test_stop_silent)
{
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 1234, 1);
	watch_scan_end(1);
	next_call = ncalls;
	watch_stop();
	expect_none();
	ck_assert_ptr_null(watch_find(1));
	ck_assert_int_eq(nbinds(), 0);
}
END_TEST

/* Where a connection for a bind is dialled. */
static const struct {
	const char	*bind, *target;
} targets[] = {
	{ "0.0.0.0",	"127.0.0.1" },
	{ "::",		"::1" },
	{ "127.0.0.1",	"127.0.0.1" },
	{ "10.0.2.15",	"10.0.2.15" },
	{ "::1",	"::1" },
	{ "fd00::5",	"fd00::5" },
};

START_TEST(test_target)
{
	struct gbind	b = key(IPPROTO_TCP, targets[_i].bind, 80, 0);
	struct ph_addr	got, want;
	uint16_t	port;

	ck_assert_int_eq(addr_parse(targets[_i].target, &want), 0);
	watch_target(&b, &got, &port);
	ck_assert_msg(addr_equal(&got, &want), "%s", targets[_i].bind);
	ck_assert_int_eq(port, 80);
}
END_TEST

/* The -i list: what is ignored, as a table. */
static const struct ignore	ignore_list[] = {
	{ 22, 0 },
	{ 53, IPPROTO_UDP },
	{ 5432, IPPROTO_TCP },
	{ 65535, 0 },
};

static const struct {
	uint8_t		proto;
	uint16_t	port;
	int		n;		/* entries of ignore_list in force */
	int		ignored;
} ignores[] = {
	{ IPPROTO_TCP,	22,	4,	1 },
	{ IPPROTO_UDP,	22,	4,	1 },
	{ IPPROTO_UDP,	53,	4,	1 },
	{ IPPROTO_TCP,	53,	4,	0 },
	{ IPPROTO_TCP,	5432,	4,	1 },
	{ IPPROTO_UDP,	5432,	4,	0 },
	{ IPPROTO_TCP,	65535,	4,	1 },
	{ IPPROTO_TCP,	23,	4,	0 },
	{ IPPROTO_TCP,	21,	4,	0 },
	{ IPPROTO_TCP,	1,	4,	0 },
	{ IPPROTO_TCP,	22,	0,	0 },	/* none in force */
	{ IPPROTO_TCP,	65535,	3,	0 },	/* past n: not read */
	{ IPPROTO_UDP,	53,	1,	0 },
};

START_TEST(test_ignored)
{
	ck_assert_int_eq(watch_ignored(ignore_list, ignores[_i].n,
	    ignores[_i].proto, ignores[_i].port), ignores[_i].ignored);
}
END_TEST

/* A full list (GUEST_MAX_IGNORE entries): the last is read too. */
START_TEST(test_ignored_full)
{
	struct ignore	list[GUEST_MAX_IGNORE];
	int		i;

	for (i = 0; i < GUEST_MAX_IGNORE; i++) {
		list[i].port = (uint16_t)(1000 + i);
		list[i].proto = IPPROTO_TCP;
	}
	ck_assert_int_eq(watch_ignored(list, GUEST_MAX_IGNORE, IPPROTO_TCP,
	    1000 + GUEST_MAX_IGNORE - 1), 1);
	ck_assert_int_eq(watch_ignored(list, GUEST_MAX_IGNORE, IPPROTO_TCP,
	    1000 + GUEST_MAX_IGNORE), 0);
	ck_assert_int_eq(watch_ignored(list, GUEST_MAX_IGNORE, IPPROTO_UDP,
	    1000), 0);
}
END_TEST

/*
 * sock_diag answers.  A golden one first, as the kernel sends it on
 * x86-64 (netlink headers in host order, the socket id in network
 * order): a TCP listener on [::]:8080, IPV6_V6ONLY set, inode 0x3039.
 */
static const uint8_t	diag_v6only[] = {
	0x68, 0x00, 0x00, 0x00,	/* nlmsg_len 104 */
	0x14, 0x00,		/* nlmsg_type SOCK_DIAG_BY_FAMILY */
	0x02, 0x00,		/* nlmsg_flags NLM_F_MULTI */
	0x01, 0x00, 0x00, 0x00,	/* nlmsg_seq */
	0x00, 0x00, 0x00, 0x00,	/* nlmsg_pid */
	0x0a,			/* idiag_family AF_INET6 */
	0x0a,			/* idiag_state TCP_LISTEN */
	0x00, 0x00,		/* idiag_timer, idiag_retrans */
	0x1f, 0x90,		/* idiag_sport 8080 */
	0x00, 0x00,		/* idiag_dport */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* src :: */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* dst :: */
	0x00, 0x00, 0x00, 0x00,	/* idiag_if */
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* cookie */
	0x00, 0x00, 0x00, 0x00,	/* idiag_expires */
	0x00, 0x00, 0x00, 0x00,	/* idiag_rqueue */
	0x80, 0x00, 0x00, 0x00,	/* idiag_wqueue (the backlog) */
	0xe8, 0x03, 0x00, 0x00,	/* idiag_uid 1000 */
	0x39, 0x30, 0x00, 0x00,	/* idiag_inode 12345 */
	0x08, 0x00,		/* nla_len 8 */
	0x05, 0x00,		/* nla_type INET_DIAG_TOS */
	0x00, 0x00, 0x00, 0x00,	/* TOS 0, padding */
	0x05, 0x00,		/* nla_len 5 */
	0x0b, 0x00,		/* nla_type INET_DIAG_SKV6ONLY */
	0x01, 0x00, 0x00, 0x00,	/* 1, padding */
};

START_TEST(test_decode_golden)
{
	uint8_t		 buf[sizeof diag_v6only] __attribute__((aligned(4)));
	struct gbind	 k, want = key(IPPROTO_TCP, "::", 8080, 1);
	uint64_t	 inode = 0;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		return;		/* the vector is little-endian's */
	memcpy(buf, diag_v6only, sizeof buf);
	ck_assert_int_eq(watch_decode((struct nlmsghdr *)buf, IPPROTO_TCP,
	    &k, &inode), 1);
	ck_assert_int_eq(k.proto, IPPROTO_TCP);
	ck_assert_uint_eq(k.port, 8080);
	ck_assert(addr_equal(&k.addr, &want.addr));
	ck_assert_int_eq(k.v6only, 1);
	ck_assert_uint_eq(inode, 12345);
	ck_assert_uint_eq(k.id, 0);
	ck_assert_int_eq(k.verdict, 0);
}
END_TEST

/* The rest built with libmnl, as the kernel would send them. */
#define NO_ATTR		(-1)
#define ATTR_EMPTY	(-2)
#define DIAG_BUF	512

static struct nlmsghdr *
diag_msg(uint8_t *buf, int family, const char *addr, uint16_t port,
    uint32_t inode, int v6only)
{
	struct nlmsghdr		*nlh;
	struct inet_diag_msg	*m;
	struct ph_addr		 a;

	memset(buf, 0, DIAG_BUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_MULTI;
	m = mnl_nlmsg_put_extra_header(nlh, sizeof *m);
	m->idiag_family = (uint8_t)family;
	m->idiag_state = TCP_LISTEN;
	m->id.idiag_sport = htons(port);
	m->idiag_inode = inode;
	if (addr != NULL) {
		ck_assert_int_eq(addr_parse(addr, &a), 0);
		if (a.family == AF_INET)
			memcpy(m->id.idiag_src, &a.u.v4, 4);
		else
			memcpy(m->id.idiag_src, &a.u.v6, 16);
	}
	if (v6only == ATTR_EMPTY)
		mnl_attr_put(nlh, INET_DIAG_SKV6ONLY, 0, NULL);
	else if (v6only != NO_ATTR)
		mnl_attr_put_u8(nlh, INET_DIAG_SKV6ONLY, (uint8_t)v6only);
	return nlh;
}

static const struct {
	int		 family;
	const char	*addr;
	uint16_t	 port;
	int		 v6only;	/* the attribute, NO_ATTR, ATTR_EMPTY */
	uint8_t		 proto;
	int		 want_v6only;
} decodes[] = {
	{ AF_INET,  "127.0.0.1",	8080,	NO_ATTR,    IPPROTO_TCP, 0 },
	{ AF_INET,  "0.0.0.0",		53,	NO_ATTR,    IPPROTO_UDP, 0 },
	{ AF_INET,  "10.1.2.3",		65535,	NO_ATTR,    IPPROTO_TCP, 0 },
	{ AF_INET6, "::",		80,	1,	    IPPROTO_TCP, 1 },
	{ AF_INET6, "::",		80,	0,	    IPPROTO_TCP, 0 },
	{ AF_INET6, "::",		80,	NO_ATTR,    IPPROTO_TCP, 0 },
	{ AF_INET6, "::1",		443,	0,	    IPPROTO_TCP, 0 },
	{ AF_INET6, "fe80::1",		5353,	1,	    IPPROTO_UDP, 1 },
	{ AF_INET6, "::",		1,	ATTR_EMPTY, IPPROTO_TCP, 0 },
	{ AF_INET6, "::",		1,	7,	    IPPROTO_TCP, 1 },
};

START_TEST(test_decode)
{
	static uint8_t	 buf[DIAG_BUF] __attribute__((aligned(4)));
	struct nlmsghdr	*nlh;
	struct gbind	 k, want;
	uint64_t	 inode = 0;

	want = key(decodes[_i].proto, decodes[_i].addr, decodes[_i].port,
	    decodes[_i].want_v6only);
	nlh = diag_msg(buf, decodes[_i].family, decodes[_i].addr,
	    decodes[_i].port, 1000 + _i, decodes[_i].v6only);
	memset(&k, 0xa5, sizeof k);
	ck_assert_int_eq(watch_decode(nlh, decodes[_i].proto, &k, &inode), 1);
	ck_assert_int_eq(k.proto, decodes[_i].proto);
	ck_assert_uint_eq(k.port, decodes[_i].port);
	ck_assert_int_eq(k.addr.family, decodes[_i].family);
	ck_assert(addr_equal(&k.addr, &want.addr));
	ck_assert_int_eq(k.v6only, decodes[_i].want_v6only);
	ck_assert_uint_eq(inode, 1000 + _i);
	/* Nothing but the key: no id, no verdict, no process. */
	ck_assert_uint_eq(k.id, 0);
	ck_assert_int_eq(k.verdict, 0);
	ck_assert_str_eq(k.process, "");
}
END_TEST

/* Not a socket of ours to look at: not a bind. */
START_TEST(test_decode_skips)
{
	static uint8_t	 buf[DIAG_BUF] __attribute__((aligned(4)));
	struct nlmsghdr	*nlh;
	struct gbind	 k;
	uint64_t	 inode;

	nlh = diag_msg(buf, AF_UNIX, NULL, 80, 1, NO_ATTR);
	ck_assert_int_eq(watch_decode(nlh, IPPROTO_TCP, &k, &inode), 0);
	nlh = diag_msg(buf, AF_INET, "127.0.0.1", 80, 1, NO_ATTR);
	nlh->nlmsg_type = NLMSG_DONE;
	ck_assert_int_eq(watch_decode(nlh, IPPROTO_TCP, &k, &inode), 0);
	nlh->nlmsg_type = NLMSG_ERROR;
	ck_assert_int_eq(watch_decode(nlh, IPPROTO_TCP, &k, &inode), 0);
	/* One byte short of an inet_diag_msg. */
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct inet_diag_msg) - 1;
	ck_assert_int_eq(watch_decode(nlh, IPPROTO_TCP, &k, &inode), 0);
	/* Exactly one, no attributes: a bind. */
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + sizeof(struct inet_diag_msg);
	ck_assert_int_eq(watch_decode(nlh, IPPROTO_TCP, &k, &inode), 1);
}
END_TEST

/* A published port: DNAT of proto port to to:to_port, made by name. */
static void
seen_nat(uint8_t proto, uint16_t port, const char *to, uint16_t to_port,
    const char *name)
{
	struct natbind	n;

	memset(&n, 0, sizeof n);
	n.proto = proto;
	n.port = port;
	ck_assert_int_eq(addr_parse(to, &n.to), 0);
	n.to_port = to_port;
	strlcpy(n.name, name, sizeof n.name);
	watch_seen_nat(&n);
}

START_TEST(test_nat_exposed)
{
	struct gbind	*b;
	struct ph_addr	 a, want;
	uint16_t	 port;
	uint32_t	 id;

	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	seen_nat(IPPROTO_UDP, 5353, "fd00::2", 53, "nft:t/pre");
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8080);
	b = watch_find(id);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->process, "docker");
	watch_target(b, &a, &port);
	ck_assert_int_eq(addr_parse("172.17.0.2", &want), 0);
	ck_assert(addr_equal(&a, &want));
	ck_assert_int_eq(port, 80);
	id = expect(1, IPPROTO_UDP, "::", 5353);
	b = watch_find(id);
	ck_assert_int_eq(b->v6only, 1);
	ck_assert_str_eq(b->process, "nft:t/pre");
	expect_none();
	/* the same rules again: nothing */
	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	seen_nat(IPPROTO_UDP, 5353, "fd00::2", 53, "nft:t/pre");
	watch_scan_end(1);
	expect_none();
	/* a rule gone: its port goes */
	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	expect(0, IPPROTO_UDP, "::", 5353);
	expect_none();
}
END_TEST

/* A socket on the same protocol and port wins over a rule, both ways. */
START_TEST(test_nat_socket_wins)
{
	uint32_t	id;

	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8080);
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8080, 7);
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "0.0.0.0", 8080), id);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8080);
	ck_assert_str_eq(watch_find(id)->process, "srv7");
	ck_assert_int_eq(watch_find(id)->nat, 0);
	expect_none();
	/* on another address of the port too */
	watch_scan_begin();
	seen(IPPROTO_TCP, "0.0.0.0", 8080, 7);
	seen(IPPROTO_TCP, "127.0.0.1", 8081, 8);
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	seen_nat(IPPROTO_TCP, 8081, "172.17.0.3", 80, "docker");
	watch_scan_end(1);
	expect(1, IPPROTO_TCP, "127.0.0.1", 8081);
	expect_none();
	/* the socket gone: the rule's port is back, the socket's bind first */
	watch_scan_begin();
	seen(IPPROTO_TCP, "127.0.0.1", 8081, 8);
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	expect(0, IPPROTO_TCP, "0.0.0.0", 8080);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8080);
	ck_assert_int_eq(watch_find(id)->nat, 1);
	expect_none();
}
END_TEST

/* A rule's destination or maker changes: a new bind, the old one goes. */
START_TEST(test_nat_rule_changed)
{
	uint32_t	id;

	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 30080, "10.42.0.5", 80, "kube-proxy");
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 30080);
	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 30080, "10.42.0.6", 80, "kube-proxy");
	watch_scan_end(1);
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "0.0.0.0", 30080), id);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 30080);
	ck_assert_int_eq(watch_find(id)->to.u.v4.s_addr,
	    inet_addr("10.42.0.6"));
	expect_none();
}
END_TEST

/*
 * A proxy that holds a bind (porthole-docker-proxy) is a socket to come:
 * a rule's bind of that port gives way at once, and the rule's port is
 * not exposed again while the hold lasts, socket or not.
 */
START_TEST(test_nat_held_wins)
{
	struct gbind	 k = key(IPPROTO_TCP, "0.0.0.0", 8080, 0);
	struct gbind	*b;
	uint32_t	 id;

	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	id = expect(1, IPPROTO_TCP, "0.0.0.0", 8080);
	b = watch_hold(&k, "docker-proxy");
	ck_assert_uint_eq(expect(0, IPPROTO_TCP, "0.0.0.0", 8080), id);
	ck_assert_uint_eq(expect(1, IPPROTO_TCP, "0.0.0.0", 8080), b->id);
	ck_assert_int_eq(b->nat, 0);
	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	expect_none();
	ck_assert_ptr_eq(watch_find(b->id), b);
}
END_TEST

START_TEST(test_nat_ignored)
{
	guest->ignore[0].port = 8080;
	guest->nignore = 1;
	watch_scan_begin();
	seen_nat(IPPROTO_TCP, 8080, "172.17.0.2", 80, "docker");
	watch_scan_end(1);
	expect_none();
}
END_TEST

static Suite *
watch_suite(void)
{
	Suite	*s = suite_create("watch");
	TCase	*tc;

	tc = tcase_create("diff");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_new_bind_exposed);
	tcase_add_test(tc, test_unchanged_nothing);
	tcase_add_test(tc, test_gone_unexposed);
	tcase_add_test(tc, test_rebind_new_id);
	tcase_add_test(tc, test_tcp_udp_apart);
	tcase_add_test(tc, test_v4_v6_apart);
	tcase_add_test(tc, test_v6only_kept);
	tcase_add_test(tc, test_same_port_other_address);
	tcase_add_test(tc, test_duplicates_one_bind);
	tcase_add_test(tc, test_port_zero_skipped);
	tcase_add_test(tc, test_own_socket_skipped);
	tcase_add_test(tc, test_ignored_ports_skipped);
	tcase_add_test(tc, test_failed_scan_keeps);
	tcase_add_test(tc, test_failed_scan_new);
	tcase_add_test(tc, test_order_by_discovery);
	tcase_add_test(tc, test_large_set);
	tcase_add_test(tc, test_stop_silent);
	tcase_add_test(tc, test_hold_then_listen);
	tcase_add_test(tc, test_hold_never_listens);
	tcase_add_test(tc, test_hold_known);
	tcase_add_loop_test(tc, test_target, 0,
	    sizeof targets / sizeof targets[0]);
	suite_add_tcase(s, tc);

	tc = tcase_create("nat");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_nat_exposed);
	tcase_add_test(tc, test_nat_socket_wins);
	tcase_add_test(tc, test_nat_rule_changed);
	tcase_add_test(tc, test_nat_ignored);
	tcase_add_test(tc, test_nat_held_wins);
	suite_add_tcase(s, tc);

	tc = tcase_create("ignore");
	tcase_add_loop_test(tc, test_ignored, 0,
	    sizeof ignores / sizeof ignores[0]);
	tcase_add_test(tc, test_ignored_full);
	suite_add_tcase(s, tc);

	tc = tcase_create("decode");
	tcase_add_test(tc, test_decode_golden);
	tcase_add_loop_test(tc, test_decode, 0,
	    sizeof decodes / sizeof decodes[0]);
	tcase_add_test(tc, test_decode_skips);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(watch_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
