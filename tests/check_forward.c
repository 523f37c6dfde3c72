/*
 * Unit tests for host-agent/forward.c: a real session over a socketpair
 * (the test reads what the guest would), real host listeners, and
 * forward_redecide_all() after each policy change: which listeners are
 * open, and which EXPOSED frames the guest is sent.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "host.h"
#include "log.h"
#include "xmalloc.h"

struct host	*host;

static struct guest_ep	 gep;
static struct session	*s;
static int		 guest_fd;	/* the guest's end of the session */
static uint16_t		 port;		/* free now, for the forwards */

/* A port that was free a moment ago. */
static uint16_t
free_port(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		sl = sizeof sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* Runs the loop until the session's output is written. */
static void
flush(void)
{
	int	i;

	for (i = 0; i < 10; i++)
		event_base_loop(host->base, EVLOOP_NONBLOCK);
}

/* The next frame the guest was sent, or type 0 if none is waiting. */
static void
guest_read(struct ph_msg *m)
{
	static uint8_t	 buf[PH_FRAME_MAX * 8];
	static size_t	 have;
	const char	*err;
	size_t		 used;
	ssize_t		 n;
	int		 r;

	flush();
	n = recv(guest_fd, buf + have, sizeof buf - have, MSG_DONTWAIT);
	if (n > 0)
		have += (size_t)n;
	memset(m, 0, sizeof *m);
	r = ph_frame_decode(buf, have, PH_PAYLOAD_MAX, m, &used, &err);
	ck_assert_int_ne(r, PH_FRAME_BAD);
	if (r == PH_FRAME_MORE) {
		m->type = 0;
		return;
	}
	memmove(buf, buf + used, have - used);
	have -= used;
}

static void
setup(void)
{
	struct ph_hello	hello = { .vmin = 1, .vmax = 1 };
	struct ph_msg	m;
	int		sv[2];

	log_init("check_forward", 1, 0);
	host = xcalloc(1, sizeof *host);
	TAILQ_INIT(&host->endpoints);
	TAILQ_INIT(&host->sessions);
	host->policy.mode = POLICY_LOOPBACK;
	limits_init(host->limits);
	host->keepalive = HOST_KEEPALIVE;
	host->base = event_base_new();
	ck_assert_ptr_nonnull(host->base);
	memset(&gep, 0, sizeof gep);
	gep.ep.type = EP_UNIX;
	strlcpy(gep.ep.str, "unix:test", sizeof gep.ep.str);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	guest_fd = sv[1];
	strlcpy(hello.name, "vm", sizeof hello.name);
	session_new(sv[0], &gep, 0, &hello, NULL);
	s = TAILQ_FIRST(&host->sessions);
	ck_assert_ptr_nonnull(s);
	guest_read(&m);
	ck_assert_int_eq(m.type, PH_WELCOME);
	port = free_port();
}

static void
teardown(void)
{
	session_end_all("test over");
	close(guest_fd);
	event_base_free(host->base);
	free(host);
}

static void
expose(uint32_t id, const char *addr, uint16_t p)
{
	struct ph_expose	e = { .id = id, .proto = IPPROTO_TCP };

	ck_assert_int_eq(addr_parse(addr, &e.addr), 0);
	e.port = p;
	forward_expose(s, &e);
}

/* The guest is sent EXPOSED for id with this verdict. */
static void
expect_exposed(uint32_t id, uint8_t verdict)
{
	struct ph_msg	m;

	guest_read(&m);
	ck_assert_int_eq(m.type, PH_EXPOSED);
	ck_assert_uint_eq(m.u.exposed.id, id);
	ck_assert_msg(m.u.exposed.verdict == verdict, "verdict %s, want %s",
	    ph_verdict_name(m.u.exposed.verdict), ph_verdict_name(verdict));
}

static void
expect_nothing(void)
{
	struct ph_msg	m;

	guest_read(&m);
	ck_assert_msg(m.type == 0, "unexpected %s", ph_type_name(m.type));
}

/* The address the forward's first listener is bound to, or "". */
static const char *
listening_on(uint32_t id)
{
	static char		 buf[PH_ADDRSTRLEN];
	struct forward		*f = forward_find(s, id);
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof ss;
	struct ph_addr		 a;
	uint16_t		 p;

	ck_assert_ptr_nonnull(f);
	if (f->lis[0] == NULL)
		return "";
	ck_assert_int_eq(getsockname(evconnlistener_get_fd(f->lis[0]),
	    (struct sockaddr *)&ss, &sl), 0);
	ck_assert_int_eq(addr_from_sockaddr((struct sockaddr *)&ss, &a, &p),
	    0);
	return addr_fmt(&a, p, buf, sizeof buf);
}

static const char *
at(const char *addr)
{
	static char	buf[PH_ADDRSTRLEN];

	snprintf(buf, sizeof buf, "%s:%u", addr, port);
	return buf;
}

START_TEST(test_redecide_follows_the_mode)
{
	char	why[PH_REASON_MAX];

	expose(1, "0.0.0.0", port);
	expect_exposed(1, PH_REWRITTEN);
	ck_assert_str_eq(listening_on(1), at("127.0.0.1"));

	ck_assert_int_eq(policy_set_mode(&host->policy, POLICY_ALLOW, why,
	    sizeof why), 0);
	ck_assert_int_eq(forward_redecide_all("test"), 1);
	expect_exposed(1, PH_BOUND);
	ck_assert_str_eq(listening_on(1), at("0.0.0.0"));

	ck_assert_int_eq(policy_set_mode(&host->policy, POLICY_REFUSE, why,
	    sizeof why), 0);
	ck_assert_int_eq(forward_redecide_all("test"), 1);
	expect_exposed(1, PH_REFUSED);
	ck_assert_str_eq(listening_on(1), "");
	ck_assert_ptr_nonnull(forward_find(s, 1));	/* still listed */

	ck_assert_int_eq(policy_set_mode(&host->policy, POLICY_LOOPBACK, why,
	    sizeof why), 0);
	ck_assert_int_eq(forward_redecide_all("test"), 1);
	expect_exposed(1, PH_REWRITTEN);
	ck_assert_str_eq(listening_on(1), at("127.0.0.1"));
	expect_nothing();
}
END_TEST

/* A loopback bind is the same under every mode: it is left alone. */
START_TEST(test_redecide_keeps_what_did_not_change)
{
	struct forward		*f;
	struct evconnlistener	*before;
	char			 why[PH_REASON_MAX];

	expose(7, "127.0.0.1", port);
	expect_exposed(7, PH_BOUND);
	f = forward_find(s, 7);
	before = f->lis[0];
	ck_assert_int_eq(policy_set_mode(&host->policy, POLICY_REFUSE, why,
	    sizeof why), 0);
	ck_assert_int_eq(forward_redecide_all("test"), 0);
	expect_nothing();
	ck_assert_ptr_eq(f->lis[0], before);
	ck_assert_str_eq(listening_on(7), at("127.0.0.1"));
}
END_TEST

/* A forward that could not listen is tried again on a re-decision. */
START_TEST(test_redecide_retries_a_failed_forward)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	char			 why[PH_REASON_MAX];
	int			 busy;

	busy = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	ck_assert_int_eq(bind(busy, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(listen(busy, 1), 0);
	expose(3, "0.0.0.0", port);
	expect_exposed(3, PH_FAILED);
	close(busy);
	ck_assert_int_eq(policy_set_mode(&host->policy, POLICY_LOOPBACK, why,
	    sizeof why), 0);
	ck_assert_int_eq(forward_redecide_all("test"), 1);
	expect_exposed(3, PH_REWRITTEN);
	ck_assert_str_eq(listening_on(3), at("127.0.0.1"));
}
END_TEST

/*
 * A client whose PAIR cannot be sent on the pooled path (the guest does
 * not read its control channel): the session ends, and the client's
 * connection is closed with it, not left open with no stream.
 */
START_TEST(test_pooled_pair_unsent_closes_the_client)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct ph_pool		 pm = { .stream = 1 };
	static char		 junk[HOST_OUTPUT_MAX];
	char			 c;
	int			 sv[2], client, i;
	ssize_t			 n = 0;

	s->proto = PH_PROTO_VERSION_POOL;
	expose(1, "127.0.0.1", port);
	expect_exposed(1, PH_BOUND);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	pm.session = s->token;
	pair_pool_add(sv[0], &gep, 0, &pm);
	ck_assert_int_eq(s->npool, 1);
	/* The guest reads nothing: its control output is at the limit. */
	for (i = 0; i < 2; i++)
		evbuffer_add(bufferevent_get_output(s->bev), junk,
		    sizeof junk);

	client = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	ck_assert_int_eq(connect(client, (struct sockaddr *)&sin, sizeof sin),
	    0);
	ck_assert_int_eq(fcntl(client, F_SETFL, O_NONBLOCK), 0);
	for (i = 0; i < 200 && !TAILQ_EMPTY(&host->sessions); i++)
		flush();
	ck_assert(TAILQ_EMPTY(&host->sessions));
	/* The client is closed: EOF, or a reset. */
	for (i = 0; i < 200; i++) {
		flush();
		n = recv(client, &c, 1, 0);
		if (n == 0 || (n == -1 && errno != EAGAIN))
			break;
	}
	ck_assert_msg(n == 0 || (n == -1 && errno == ECONNRESET),
	    "the client is still open (%zd, %s)", n, strerror(errno));
	close(client);
	close(sv[1]);
}
END_TEST

static Suite *
forward_suite(void)
{
	Suite	*su = suite_create("forward");
	TCase	*tc;

	tc = tcase_create("redecide");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_redecide_follows_the_mode);
	tcase_add_test(tc, test_redecide_keeps_what_did_not_change);
	tcase_add_test(tc, test_redecide_retries_a_failed_forward);
	tcase_add_test(tc, test_pooled_pair_unsent_closes_the_client);
	suite_add_tcase(su, tc);
	return su;
}

int
main(void)
{
	SRunner	*sr = srunner_create(forward_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
