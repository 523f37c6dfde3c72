/*
 * Unit tests for host-agent/admit.c and the policy file in force:
 * two real guest sessions over socketpairs (the test reads what each
 * guest would), real host listeners, and real clients.  Host ports are
 * never shared between forwards, "to auto" moves a forward, limits
 * refuse, and a forward that waits gets its port when it frees.  The
 * entry point, admit_forward(), is also called directly, for the code
 * it returns.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "host.h"
#include "log.h"
#include "xmalloc.h"

struct host	*host;

struct guest {
	struct guest_ep	 gep;
	struct session	*s;
	int		 fd;		/* the guest's end of the session */
	uint8_t		 buf[PH_FRAME_MAX * 8];
	size_t		 have;
};

static struct guest	ga, gb;
static uint16_t		port;

static int
port_free(int family, uint16_t p)
{
	struct sockaddr_storage	ss;
	struct ph_addr		a;
	socklen_t		sl;
	int			fd, ok;

	addr_loopback(family, &a);
	sl = addr_to_sockaddr(&a, p, &ss);
	fd = socket(family, SOCK_STREAM, 0);
	ok = bind(fd, (struct sockaddr *)&ss, sl) == 0;
	close(fd);
	return ok;
}

/*
 * Five consecutive ports that are free now, on both loopbacks, below
 * the ephemeral range, which the clients of a busy machine use.
 */
static uint16_t
free_ports(void)
{
	uint16_t	base;
	int		i, tries;

	for (tries = 0; tries < 1000; tries++) {
		base = 20000 + arc4random_uniform(12000);
		for (i = 0; i < 5; i++)
			if (!port_free(AF_INET, base + i) ||
			    !port_free(AF_INET6, base + i))
				break;
		if (i == 5)
			return base;
	}
	ck_abort_msg("no five free ports in a row");
	return 0;
}

static void
guest_connect(struct guest *g, const char *name)
{
	struct ph_hello	hello = { .vmin = 1, .vmax = 1 };
	int		sv[2];

	memset(g, 0, sizeof *g);
	g->gep.ep.type = EP_UNIX;
	snprintf(g->gep.ep.str, sizeof g->gep.ep.str, "unix:/%s.sock", name);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	g->fd = sv[1];
	strlcpy(hello.name, name, sizeof hello.name);
	session_new(sv[0], &g->gep, 0, &hello, NULL);
	TAILQ_FOREACH(g->s, &host->sessions, entry)
		if (g->s->gep == &g->gep)
			break;
	ck_assert_ptr_nonnull(g->s);
}

/*
 * The next frame guest g was sent, running the loop for up to ms
 * milliseconds for it (timers included); type 0 if none came.
 */
static void
guest_read(struct guest *g, struct ph_msg *m, int ms)
{
	struct timespec	 t0, t;
	const char	*err;
	size_t		 used;
	ssize_t		 n;
	int		 r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		event_base_loop(host->base, EVLOOP_NONBLOCK);
		n = recv(g->fd, g->buf + g->have, sizeof g->buf - g->have,
		    MSG_DONTWAIT);
		if (n > 0)
			g->have += (size_t)n;
		memset(m, 0, sizeof *m);
		r = ph_frame_decode(g->buf, g->have, PH_PAYLOAD_MAX, m, &used,
		    &err);
		ck_assert_int_ne(r, PH_FRAME_BAD);
		if (r != PH_FRAME_MORE) {
			memmove(g->buf, g->buf + used, g->have - used);
			g->have -= used;
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms) {
			m->type = 0;
			return;
		}
		usleep(2000);
	}
}

static void
set_policy(const char *text)
{
	struct policy_file	*pf;
	char			 errs[1024], note[256];
	struct session		*s;

	pf = policy_parse("test", text, strlen(text), errs, sizeof errs);
	ck_assert_msg(pf != NULL, "%s", errs);
	policy_install(&host->policy, pf, 0, note, sizeof note);
	TAILQ_FOREACH(s, &host->sessions, entry)
		session_set_limits(s);
}

static void
setup(void)
{
	struct ph_msg	m;

	log_init("check_admit", 1, 0);
	host = xcalloc(1, sizeof *host);
	TAILQ_INIT(&host->endpoints);
	TAILQ_INIT(&host->sessions);
	host->policy.mode = POLICY_LOOPBACK;
	limits_init(host->limits);
	host->base = event_base_new();
	ck_assert_ptr_nonnull(host->base);
	guest_connect(&ga, "a");
	guest_connect(&gb, "b");
	guest_read(&ga, &m, 0);
	ck_assert_int_eq(m.type, PH_WELCOME);
	guest_read(&gb, &m, 0);
	ck_assert_int_eq(m.type, PH_WELCOME);
	port = free_ports();
}

static void
teardown(void)
{
	session_end_all("test over");
	ck_assert_int_eq(host->nwaiting, 0);
	ck_assert_ptr_null(host->retry_ev);
	close(ga.fd);
	close(gb.fd);
	policy_file_free(host->policy.file);
	event_base_free(host->base);
	free(host);
}

static void
expose(struct guest *g, uint32_t id, const char *addr, uint16_t p)
{
	struct ph_expose	e = { .id = id, .proto = IPPROTO_TCP };

	ck_assert_int_eq(addr_parse(addr, &e.addr), 0);
	e.port = p;
	forward_expose(g->s, &e);
}

/*
 * Guest g is sent EXPOSED for id with this verdict, within ms; the host
 * port it names (or 0) is returned and the reason must hold want.
 */
static uint16_t
expect(struct guest *g, uint32_t id, uint8_t verdict, const char *want,
    int ms)
{
	struct ph_msg	m;

	guest_read(g, &m, ms);
	ck_assert_msg(m.type == PH_EXPOSED, "no EXPOSED for %u (got %s)", id,
	    ph_type_name(m.type));
	ck_assert_uint_eq(m.u.exposed.id, id);
	ck_assert_msg(m.u.exposed.verdict == verdict, "id %u: verdict %s, "
	    "want %s: %s", id, ph_verdict_name(m.u.exposed.verdict),
	    ph_verdict_name(verdict), m.u.exposed.reason);
	ck_assert_msg(strstr(m.u.exposed.reason, want) != NULL, "id %u: "
	    "reason \"%s\" lacks \"%s\"", id, m.u.exposed.reason, want);
	return m.u.exposed.naddr > 0 ? m.u.exposed.host[0].port : 0;
}

static void
expect_nothing(struct guest *g, int ms)
{
	struct ph_msg	m;

	guest_read(g, &m, ms);
	ck_assert_msg(m.type == 0, "unexpected %s", ph_type_name(m.type));
}

/*
 * Whether something listens on addr:port: a bind there fails.  The
 * ports were free when the test began, so that something is the agent;
 * and a bind, unlike a connection, makes the agent send nothing.
 */
static int
listening(const char *addr, uint16_t p)
{
	struct sockaddr_storage	ss;
	struct ph_addr		a;
	socklen_t		sl;
	int			fd, one = 1, r;

	ck_assert_int_eq(addr_parse(addr, &a), 0);
	sl = addr_to_sockaddr(&a, p, &ss);
	fd = socket(a.family, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	r = bind(fd, (struct sockaddr *)&ss, sl) == -1 && errno == EADDRINUSE;
	close(fd);
	return r;
}

/* Two guests, one host port: the second is refused, naming the first. */
START_TEST(test_two_guests_one_port)
{
	char	want[64];

	expose(&ga, 1, "127.0.0.1", port);
	expect(&ga, 1, PH_BOUND, "loopback bind", 0);
	expose(&gb, 1, "0.0.0.0", port);
	snprintf(want, sizeof want, "port in use by another guest (127.0.0.1:%u)",
	    port);
	expect(&gb, 1, PH_REFUSED, want, 0);
	/* b is not told a's name; the host keeps it. */
	ck_assert_str_eq(forward_find(gb.s, 1)->dec.held_by, "a");
	ck_assert_int_eq(host->nwaiting, 1);
	/*
	 * The other family of that port too: a host client of localhost
	 * tries ::1 and 127.0.0.1, and must not reach b on one of them.
	 */
	expose(&gb, 2, "::1", port);
	snprintf(want, sizeof want, "port in use by another guest ([::1]:%u)",
	    port);
	expect(&gb, 2, PH_REFUSED, want, 0);
	ck_assert_int_eq(host->nwaiting, 2);

	/* a closes its port: b gets it in both families, and is told. */
	forward_close(forward_find(ga.s, 1), "test");
	expect(&gb, 1, PH_REWRITTEN, "rewritten to loopback", 200);
	expect(&gb, 2, PH_BOUND, "loopback bind", 200);
	ck_assert(listening("127.0.0.1", port));
	ck_assert(listening("::1", port));
	ck_assert_int_eq(host->nwaiting, 0);
	expect_nothing(&ga, 0);
}
END_TEST

/*
 * One guest's IPv4 and IPv6 sockets on one port (a server's two,
 * docker-proxy's pair) are its own: both are forwarded, and another
 * guest gets neither family of that port.
 */
START_TEST(test_one_guest_both_families)
{
	expose(&ga, 1, "127.0.0.1", port);
	expect(&ga, 1, PH_BOUND, "loopback bind", 0);
	expose(&ga, 2, "::1", port);
	expect(&ga, 2, PH_BOUND, "loopback bind", 0);
	ck_assert(listening("127.0.0.1", port));
	ck_assert(listening("::1", port));
	expose(&gb, 1, "::", port);
	expect(&gb, 1, PH_REFUSED, "port in use by another guest", 0);
	expose(&gb, 2, "127.0.0.1", port);
	expect(&gb, 2, PH_REFUSED, "port in use by another guest", 0);
}
END_TEST

/* A wildcard and a specific address of one family overlap. */
START_TEST(test_wildcard_overlaps)
{
	host->policy.mode = POLICY_ALLOW;
	expose(&ga, 1, "::", port);		/* dual-stack: :: and 0.0.0.0 */
	expect(&ga, 1, PH_BOUND, "allowed", 0);
	expose(&gb, 1, "127.0.0.1", port);
	expect(&gb, 1, PH_REFUSED, "port in use by another guest (127.0.0.1:", 0);
	expose(&gb, 2, "::1", port);
	expect(&gb, 2, PH_REFUSED, "port in use by another guest ([::1]:", 0);
	/* One guest's two binds that meet on the host, too. */
	expose(&ga, 2, "10.9.9.9", port);
	expect(&ga, 2, PH_REFUSED, "port in use by this guest", 0);
}
END_TEST

/* "to auto": the guest's port if it is free, else any free one. */
START_TEST(test_auto)
{
	char		 text[128], want[64];
	uint16_t	 p1, p2;
	int		 busy;
	struct sockaddr_in sin = { .sin_family = AF_INET };

	snprintf(text, sizeof text, "remap tcp port %u-%u to auto\n", port,
	    port + 1);
	set_policy(text);
	expose(&ga, 1, "0.0.0.0", port);
	p1 = expect(&ga, 1, PH_REWRITTEN, "(another if taken) by line 1", 0);
	ck_assert_uint_eq(p1, port);
	expose(&gb, 1, "0.0.0.0", port);
	snprintf(want, sizeof want, "; port %u in use by another guest: host port ",
	    port);
	p2 = expect(&gb, 1, PH_REWRITTEN, want, 0);
	ck_assert_uint_ne(p2, port);
	ck_assert_uint_ne(p2, 0);
	ck_assert(listening("127.0.0.1", p2));

	/* Another program on the host holds the next port. */
	busy = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port + 1);
	ck_assert_int_eq(bind(busy, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(busy, 1), 0);
	expose(&gb, 2, "127.0.0.1", port + 1);
	snprintf(want, sizeof want, "; 127.0.0.1:%u in use: host port ",
	    port + 1);
	p2 = expect(&gb, 2, PH_REWRITTEN, want, 0);
	ck_assert_uint_ne(p2, port + 1);
	close(busy);
	/* It keeps the port it was given: nothing waits, nothing moves. */
	ck_assert_int_eq(host->nwaiting, 0);
	ck_assert_int_eq(forward_redecide_all("test"), 0);
	expect_nothing(&gb, 0);
}
END_TEST

/* Another program's listener on 127.0.0.1:p. */
static int
hold_port(uint16_t p)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(p);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	return fd;
}

/* A port another program holds: failed, and retried until it frees. */
START_TEST(test_retry_host_port)
{
	char			want[64];
	int			busy;

	busy = hold_port(port);
	expose(&ga, 1, "0.0.0.0", port);
	snprintf(want, sizeof want, "127.0.0.1:%u: address in use", port);
	expect(&ga, 1, PH_FAILED, want, 0);
	ck_assert_int_eq(host->nwaiting, 1);
	/* Still taken: the retry changes nothing and says nothing. */
	expect_nothing(&ga, HOST_RETRY_MS + 300);
	close(busy);
	expect(&ga, 1, PH_REWRITTEN, "rewritten to loopback",
	    HOST_RETRY_MS + 1000);
	ck_assert(listening("127.0.0.1", port));
	ck_assert_int_eq(host->nwaiting, 0);
	/* The guest closes a waiting forward: it stops waiting. */
	busy = hold_port(port + 1);
	expose(&ga, 2, "127.0.0.1", port + 1);
	expect(&ga, 2, PH_FAILED, "address in use", 0);
	ck_assert_int_eq(host->nwaiting, 1);
	forward_close(forward_find(ga.s, 2), "test");
	ck_assert_int_eq(host->nwaiting, 0);
	ck_assert_ptr_null(host->retry_ev);
	close(busy);
}
END_TEST

/* max-forwards: the next is refused, and gets the slot that frees. */
START_TEST(test_max_forwards)
{
	set_policy("max-forwards 2\nguest b {\nmax-forwards 1\n}\n");
	expose(&ga, 1, "127.0.0.1", port);
	expect(&ga, 1, PH_BOUND, "", 0);
	expose(&ga, 2, "127.0.0.1", port + 1);
	expect(&ga, 2, PH_BOUND, "", 0);
	expose(&ga, 3, "127.0.0.1", port + 2);
	expect(&ga, 3, PH_REFUSED, "max-forwards 2 reached for this guest "
	    "(line 1)", 0);
	/* Refused by policy: no slot taken. */
	expose(&gb, 1, "224.0.0.1", port + 3);
	expect(&gb, 1, PH_REFUSED, "not a unicast address", 0);
	expose(&gb, 2, "127.0.0.1", port + 3);
	expect(&gb, 2, PH_BOUND, "", 0);
	expose(&gb, 3, "127.0.0.1", port + 4);
	expect(&gb, 3, PH_REFUSED, "max-forwards 1 reached for this guest "
	    "(line 3)", 0);
	forward_close(forward_find(ga.s, 1), "test");
	expect(&ga, 3, PH_BOUND, "loopback bind", 200);
	ck_assert(listening("127.0.0.1", port + 2));
	expect_nothing(&gb, 0);
}
END_TEST

/* A reload with a lower limit closes the newest forwards. */
START_TEST(test_reload_lowers_limit)
{
	int	i;

	for (i = 0; i < 3; i++) {
		expose(&ga, i + 1, "127.0.0.1", port + i);
		expect(&ga, i + 1, PH_BOUND, "", 0);
	}
	set_policy("max-forwards 1\n");
	ck_assert_int_eq(forward_redecide_all("reload"), 2);
	expect(&ga, 2, PH_REFUSED, "max-forwards 1", 0);
	expect(&ga, 3, PH_REFUSED, "max-forwards 1", 0);
	ck_assert(listening("127.0.0.1", port));
	ck_assert(!listening("127.0.0.1", port + 1));
	ck_assert(!listening("127.0.0.1", port + 2));
	/* Raised again: both come back. */
	set_policy("max-forwards 5\n");
	forward_redecide_all("reload");
	expect(&ga, 2, PH_BOUND, "", 200);
	expect(&ga, 3, PH_BOUND, "", 200);
}
END_TEST

/* A reload whose rule refuses a live forward closes it, and says so. */
START_TEST(test_reload_closes_and_moves)
{
	char		 text[128], want[128];
	struct forward	*f;
	void		*lis;

	expose(&ga, 1, "0.0.0.0", port);
	expect(&ga, 1, PH_REWRITTEN, "", 0);
	expose(&ga, 2, "127.0.0.1", port + 1);
	expect(&ga, 2, PH_BOUND, "", 0);
	f = forward_find(ga.s, 2);
	lis = f->lis[0];
	snprintf(text, sizeof text, "\nrefuse tcp port %u\nremap tcp port "
	    "%u to %u\n", port, port + 1, port + 2);
	set_policy(text);
	ck_assert_int_eq(forward_redecide_all("reload"), 2);
	snprintf(want, sizeof want, "refused by line 2: refuse tcp port %u",
	    port);
	expect(&ga, 1, PH_REFUSED, want, 0);
	snprintf(want, sizeof want, "port %u remapped to %u by line 3",
	    port + 1, port + 2);
	ck_assert_uint_eq(expect(&ga, 2, PH_REWRITTEN, want, 0), port + 2);
	ck_assert(!listening("127.0.0.1", port));
	ck_assert(!listening("127.0.0.1", port + 1));
	ck_assert(listening("127.0.0.1", port + 2));

	/* The same decision by another rule: listeners kept, reason new. */
	lis = f->lis[0];
	snprintf(text, sizeof text, "# moved down\n\n\nremap tcp port %u to "
	    "%u\n", port + 1, port + 2);
	set_policy(text);
	ck_assert_int_eq(forward_redecide_all("reload"), 2);
	expect(&ga, 1, PH_REWRITTEN, "by policy loopback", 0);
	expect(&ga, 2, PH_REWRITTEN, "by line 4", 0);
	ck_assert_ptr_eq(f->lis[0], lis);
}
END_TEST

/* max-connections: a client over the limit is reset at once. */
START_TEST(test_max_connections)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	struct ph_msg		m;
	char			c;
	int			fd1, fd2;

	set_policy("max-connections 1   # per guest\n");
	expose(&ga, 1, "127.0.0.1", port);
	expect(&ga, 1, PH_BOUND, "", 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	fd1 = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd1, (struct sockaddr *)&sin, sizeof sin), 0);
	guest_read(&ga, &m, 500);
	ck_assert_int_eq(m.type, PH_OPEN);
	ck_assert_uint_eq(ga.s->nconns, 1);
	fd2 = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd2, (struct sockaddr *)&sin, sizeof sin), 0);
	guest_read(&ga, &m, 200);
	ck_assert_int_eq(m.type, 0);		/* no OPEN for it */
	ck_assert_int_eq(recv(fd2, &c, 1, 0), -1);
	ck_assert_int_eq(errno, ECONNRESET);
	ck_assert_uint_eq(host->limit_hits[LIMIT_CONNS], 1);
	ck_assert_uint_eq(ga.s->nconns, 1);
	close(fd1);
	close(fd2);
}
END_TEST

/*
 * A forward of guest g for addr:p, made as forward_expose() makes one,
 * then admitted: admit_forward()'s code.  The guest is told nothing.
 */
static enum refusal
admit_new(struct guest *g, uint32_t id, const char *addr, uint16_t p,
    struct forward **fp)
{
	struct forward	*f = xcalloc(1, sizeof *f);

	f->s = g->s;
	f->id = id;
	f->refs = 1;
	f->req.proto = IPPROTO_TCP;
	ck_assert_int_eq(addr_parse(addr, &f->req.addr), 0);
	f->req.port = p;
	f->req.guest_name = g->s->name;
	f->req.guest_ep = g->s->gep->ep.str;
	*fp = f;
	return forward_start(g->s, f);
}

/* Each refusal code admission gives, and which of them wait. */
START_TEST(test_admit_codes)
{
	struct forward	*f;
	struct rlimit	 rl, low;
	int		 busy, fds[64], n;

	/* The policy's refusals pass through untouched. */
	ck_assert_int_eq(admit_new(&ga, 1, "224.0.0.1", port, &f),
	    REFUSAL_NOT_UNICAST);
	ck_assert_int_eq(f->dec.verdict, PH_REFUSED);
	ck_assert(!f->waiting);
	host->policy.mode = POLICY_REFUSE;
	ck_assert_int_eq(admit_new(&ga, 2, "0.0.0.0", port, &f),
	    REFUSAL_POLICY);
	host->policy.mode = POLICY_LOOPBACK;

	ck_assert_int_eq(admit_new(&ga, 3, "127.0.0.1", port, &f),
	    REFUSAL_NONE);
	ck_assert_int_eq(f->dec.verdict, PH_BOUND);
	ck_assert(listening("127.0.0.1", port));

	/* Another forward's port: refused, waits. */
	ck_assert_int_eq(admit_new(&gb, 1, "0.0.0.0", port, &f),
	    REFUSAL_PORT_IN_USE);
	ck_assert_int_eq(f->dec.verdict, PH_REFUSED);
	ck_assert_int_eq(f->dec.naddr, 0);
	ck_assert(f->waiting);

	/* Another program's port: failed, waits. */
	busy = hold_port(port + 1);
	ck_assert_int_eq(admit_new(&gb, 2, "127.0.0.1", port + 1, &f),
	    REFUSAL_ADDRESS_IN_USE);
	ck_assert_int_eq(f->dec.verdict, PH_FAILED);
	ck_assert_ptr_nonnull(strstr(f->dec.reason, "address in use"));
	ck_assert(f->waiting);
	ck_assert_int_eq(host->nwaiting, 2);
	close(busy);

	/* Any other socket error (no descriptor left): failed, no wait. */
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (n = 0; n < 64 && (fds[n] = open("/dev/null", O_RDONLY)) != -1;
	    n++)
		;
	ck_assert_int_eq(errno, EMFILE);
	ck_assert_int_eq(admit_new(&gb, 3, "127.0.0.1", port + 2, &f),
	    REFUSAL_LISTEN_ERROR);
	while (n > 0)
		close(fds[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(f->dec.verdict, PH_FAILED);
	ck_assert(!f->waiting);
	ck_assert_int_eq(host->nwaiting, 2);
}
END_TEST

/* "to auto": a port taken, by a forward or a program, is no refusal. */
START_TEST(test_admit_auto)
{
	struct forward	*f;
	char		 text[128], want[64];
	int		 busy;

	snprintf(text, sizeof text, "remap tcp port %u-%u to auto\n", port,
	    port + 1);
	set_policy(text);
	ck_assert_int_eq(admit_new(&ga, 1, "127.0.0.1", port, &f),
	    REFUSAL_NONE);
	ck_assert_uint_eq(f->dec.host[0].port, port);
	ck_assert_int_eq(admit_new(&gb, 1, "127.0.0.1", port, &f),
	    REFUSAL_NONE);
	ck_assert_int_eq(f->dec.verdict, PH_REWRITTEN);
	ck_assert_uint_ne(f->dec.host[0].port, port);
	ck_assert_uint_ne(f->dec.host[0].port, 0);
	snprintf(want, sizeof want, "; port %u in use by another guest: host port ",
	    port);
	ck_assert_ptr_nonnull(strstr(f->dec.reason, want));
	ck_assert(listening("127.0.0.1", f->dec.host[0].port));

	busy = hold_port(port + 1);
	ck_assert_int_eq(admit_new(&gb, 2, "127.0.0.1", port + 1, &f),
	    REFUSAL_NONE);
	ck_assert_int_eq(f->dec.verdict, PH_REWRITTEN);
	ck_assert_uint_ne(f->dec.host[0].port, port + 1);
	snprintf(want, sizeof want, "; 127.0.0.1:%u in use: host port ",
	    port + 1);
	ck_assert_ptr_nonnull(strstr(f->dec.reason, want));
	close(busy);
	ck_assert_int_eq(host->nwaiting, 0);
}
END_TEST

/*
 * --max-forwards has the outcome of the policy file's max-forwards:
 * refused, waiting for a slot; --max-binds is what fails a bind.
 */
START_TEST(test_admit_max_forwards)
{
	struct forward	*f;

	host->limits[LIMIT_FORWARDS] = 2;
	host->limits[LIMIT_BINDS] = 4;
	session_set_limits(ga.s);
	ck_assert_int_eq(admit_new(&ga, 1, "127.0.0.1", port, &f),
	    REFUSAL_NONE);
	ck_assert_int_eq(admit_new(&ga, 2, "127.0.0.1", port + 1, &f),
	    REFUSAL_NONE);
	ck_assert_int_eq(admit_new(&ga, 3, "127.0.0.1", port + 2, &f),
	    REFUSAL_LIMIT);
	ck_assert_int_eq(f->dec.verdict, PH_REFUSED);
	ck_assert_str_eq(f->dec.reason, "max-forwards 2 reached for this "
	    "guest");
	ck_assert(f->waiting);
	ck_assert(!listening("127.0.0.1", port + 2));
	/* A refused bind takes no slot, but it is held. */
	expose(&ga, 4, "224.0.0.1", port + 3);
	expect(&ga, 4, PH_REFUSED, "not a unicast address", 0);
	expose(&ga, 5, "127.0.0.1", port + 4);
	expect(&ga, 5, PH_FAILED, "too many binds for this guest", 0);
	ck_assert_uint_eq(host->limit_hits[LIMIT_BINDS], 1);
	ck_assert_ptr_null(forward_find(ga.s, 5));
	/* A slot frees: the waiting forward takes it, and is told. */
	forward_close(forward_find(ga.s, 1), "test");
	expect(&ga, 3, PH_BOUND, "loopback bind", 200);
	ck_assert(listening("127.0.0.1", port + 2));
	ck_assert_int_eq(host->nwaiting, 0);
}
END_TEST

static Suite *
admit_suite(void)
{
	Suite	*su = suite_create("admit");
	TCase	*tc;

	tc = tcase_create("admit");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_two_guests_one_port);
	tcase_add_test(tc, test_one_guest_both_families);
	tcase_add_test(tc, test_wildcard_overlaps);
	tcase_add_test(tc, test_auto);
	tcase_add_test(tc, test_retry_host_port);
	tcase_add_test(tc, test_max_forwards);
	tcase_add_test(tc, test_reload_lowers_limit);
	tcase_add_test(tc, test_reload_closes_and_moves);
	tcase_add_test(tc, test_max_connections);
	tcase_add_test(tc, test_admit_codes);
	tcase_add_test(tc, test_admit_auto);
	tcase_add_test(tc, test_admit_max_forwards);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner	*sr = srunner_create(admit_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
