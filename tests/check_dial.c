/*
 * Unit tests for guest-agent/dial.c: what the host can make the guest
 * dial and hold.  OPEN and PAIR are driven as gsession.c would drive
 * them; the targets are real sockets on 127.0.0.1 (UDP, which connects
 * at once, and a TCP listener that is never accepted from), and the
 * host's side is stand-ins that record: the CLOSE frames sent, the data
 * streams asked for (gstream_connect, completed only when the test says
 * so), and relays that close their sockets at once, so that a
 * connection can be held open without holding descriptors.  Below
 * GUEST_DIALS_MAX connections being dialled and GUEST_CONNS_MAX open an
 * OPEN is dialled (a stream is asked for it); beyond, it is answered
 * CLOSE refused, and nothing is dialled.  Nothing waits on the clock:
 * the event loop never runs.  check forks for every test, so each
 * starts with no connection.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "dgrelay.h"
#include "guest.h"
#include "relay.h"

static struct guest	g;
struct guest		*guest = &g;

#define FWD_UDP		1
#define FWD_TCP		2
#define FWD_UNIX	3	/* a guest Unix socket (protocol 5) */
#define FWD_NONE	3
#define NSTREAMS	(GUEST_CONNS_MAX + 16)

/* What dial.c did, as the stand-ins saw it. */
static struct {
	int		closes;		/* CLOSE frames sent */
	struct ph_close	last;
	int		asked;		/* streams asked for */
	struct stream {
		uint64_t	conn;
		gstream_cb	cb;
		void		*arg;
		int		state;	/* S_* */
	} streams[NSTREAMS];
	int		relays, lingered;
} st;

enum { S_ASKED = 1, S_DONE, S_CANCELLED };

static struct gbind	binds[3];
static int		udp_port, tcp_lfd;

int
gsession_send(const struct ph_msg *m)
{
	ck_assert_int_eq(m->type, PH_CLOSE);
	st.closes++;
	st.last = m->u.close;
	return 0;
}

int
gsession_established(void)
{
	return 1;
}

/* Protocol 3 here: EOFs shut streams down, none is reused (t_reuse). */
int
gsession_reuses(void)
{
	return 0;
}

uint64_t
gstream_release(int fd, struct event *watch)
{
	if (watch != NULL)
		event_free(watch);
	close(fd);
	return 0;
}

void
gstream_back(void)
{
}

void
gstream_handed(void)
{
}

struct gstream *
gstream_connect(uint64_t conn, gstream_cb cb, void *arg)
{
	struct stream	*s;

	ck_assert_int_lt(st.asked, NSTREAMS);
	s = &st.streams[st.asked++];
	s->conn = conn;
	s->cb = cb;
	s->arg = arg;
	s->state = S_ASKED;
	return (struct gstream *)s;
}

void
gstream_cancel(struct gstream *gs)
{
	struct stream	*s = (struct stream *)gs;

	ck_assert_int_eq(s->state, S_ASKED);
	s->state = S_CANCELLED;
}

/* A pooled stream: any id names a fresh socket. */
int
gstream_take(uint64_t id)
{
	(void)id;
	return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

void
gstream_linger(int fd)
{
	st.lingered++;
	close(fd);
}

struct gbind *
watch_find(uint32_t id)
{
	size_t	i;

	for (i = 0; i < sizeof binds / sizeof binds[0]; i++)
		if (binds[i].id == id)
			return &binds[i];
	return NULL;
}

void
watch_target(const struct gbind *b, struct ph_addr *a, uint16_t *port)
{
	*a = b->addr;
	*port = b->port;
}

/* The helper's dial of a guest socket, here a plain connect. */
static char	unix_asked[PH_SOCKPATH_MAX];

int
privsep_connect_unix(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd, saved;

	strlcpy(unix_asked, path, sizeof unix_asked);
	strlcpy(sun.sun_path, path, sizeof sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Relays that hold no descriptor: the connection stays open. */
struct stub_relay {
	const struct relay_cbs		*cbs;
	const struct dgrelay_cbs	*dgcbs;
	void				*arg;
};

static struct stub_relay *
stub_relay_new(int a, int b, void *arg)
{
	struct stub_relay	*r = calloc(1, sizeof *r);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	close(a);
	close(b);
	r->arg = arg;
	st.relays++;
	return r;
}

struct relay *
relay_new(struct event_base *base, int a, int b, const struct relay_cbs *cbs,
    void *arg)
{
	struct stub_relay	*r = stub_relay_new(a, b, arg);

	(void)base;
	r->cbs = cbs;
	return (struct relay *)r;
}

/* As the real one ends: done, then freed. */
void
relay_reset(struct relay *rl)
{
	struct stub_relay	*r = (struct stub_relay *)rl;

	r->cbs->done(rl, RELAY_END_PEER_RESET, r->arg);
	free(r);
}

void
relay_set_reuse(struct relay *rl)
{
	(void)rl;
}

void
relay_peer_shut(struct relay *rl, uint64_t bytes)
{
	(void)rl;
	(void)bytes;
}

void
relay_unshare(struct relay *rl)
{
	(void)rl;
}

void
relay_look_stream(struct relay *rl)
{
	(void)rl;
}

int
relay_keep_stream(struct relay *rl, struct event **watch)
{
	(void)rl;
	*watch = NULL;
	return -1;
}

const char *
relay_end_name(enum relay_end end)
{
	(void)end;
	return "stub";
}

struct dgrelay *
dgrelay_new(struct event_base *base, int a, int b,
    const struct dgrelay_cbs *cbs, void *arg)
{
	struct stub_relay	*r = stub_relay_new(a, b, arg);

	(void)base;
	r->dgcbs = cbs;
	return (struct dgrelay *)r;
}

void
dgrelay_free(struct dgrelay *r)
{
	free(r);
}

void
dgrelay_get_stats(struct dgrelay *r, struct dgrelay_stats *s)
{
	(void)r;
	memset(s, 0, sizeof *s);
}

static void
bind_set(struct gbind *b, uint32_t id, uint8_t proto, uint16_t port)
{
	b->id = id;
	b->proto = proto;
	b->port = port;
	b->addr.family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &b->addr.u), 1);
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_in	sin;
	socklen_t		sl = sizeof sin;

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	return ntohs(sin.sin_port);
}

/*
 * A UDP target (its datagrams never read) and a TCP one never accepted
 * from: connects to it are made or pending, and stay so.
 */
static void
setup(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			ufd;

	ck_assert_ptr_nonnull(g.base = event_base_new());
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(ufd, 0);
	ck_assert_int_eq(bind(ufd, (struct sockaddr *)&sin, sizeof sin), 0);
	udp_port = local_port(ufd);
	tcp_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(tcp_lfd, 0);
	ck_assert_int_eq(bind(tcp_lfd, (struct sockaddr *)&sin, sizeof sin),
	    0);
	ck_assert_int_eq(listen(tcp_lfd, 1024), 0);
	bind_set(&binds[0], FWD_UDP, IPPROTO_UDP, udp_port);
	bind_set(&binds[1], FWD_TCP, IPPROTO_TCP, local_port(tcp_lfd));
}

static void
open_conn(uint64_t id, uint32_t forward)
{
	struct ph_open	o = { .conn = id, .forward = forward };

	dial_open(&o);
}

/* Dialled: no CLOSE, and (once connected) a stream asked for it. */
static void
expect_dialled(uint64_t id, uint32_t forward)
{
	int	closes = st.closes, asked = st.asked;

	open_conn(id, forward);
	ck_assert_msg(st.closes == closes, "conn %llu refused: %s",
	    (unsigned long long)id, st.last.reason);
	if (forward == FWD_UDP) {
		ck_assert_int_eq(st.asked, asked + 1);
		ck_assert_uint_eq(st.streams[asked].conn, id);
	}
}

static void
expect_refused(uint64_t id, uint32_t forward, const char *why)
{
	int	closes = st.closes, asked = st.asked;

	open_conn(id, forward);
	ck_assert_int_eq(st.closes, closes + 1);
	ck_assert_uint_eq(st.last.conn, id);
	ck_assert_uint_eq(st.last.how, PH_CLOSE_REFUSED);
	ck_assert_str_eq(st.last.reason, why);
	ck_assert_int_eq(st.asked, asked);	/* nothing dialled */
}

/* The stream asked for the i-th: it comes, the connection relays. */
static void
stream_up(int i)
{
	struct stream	*s = &st.streams[i];
	int		 fd, relays = st.relays;

	ck_assert_int_eq(s->state, S_ASKED);
	s->state = S_DONE;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	s->cb(fd, NULL, s->arg);
	ck_assert_int_eq(st.relays, relays + 1);
}

static void
host_close(uint64_t id)
{
	struct ph_close	c = { .conn = id, .how = PH_CLOSE_RESET };

	dial_close(&c);
}

#define WHY_DIALS	"too many connections being dialled in the guest"
#define WHY_CONNS	"too many connections open in the guest"

START_TEST(test_limits)
{
	/* What the man page and the host's expectations say. */
	ck_assert_int_eq(GUEST_DIALS_MAX, 256);
	ck_assert_int_eq(GUEST_CONNS_MAX, 16384);
}
END_TEST

/* Below the caps: dialled, a stream asked, relayed once it comes. */
/*
 * A guest Unix socket is dialled by its path (through the helper), and
 * one that does not listen is refused with why.
 */
START_TEST(test_dial_unix)
{
	char	dir[] = "/tmp/check_dial.XXXXXX";
	int	lfd, asked;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&binds[2], 0, sizeof binds[2]);
	binds[2].id = FWD_UNIX;
	binds[2].proto = PH_KIND_UNIX;
	snprintf(binds[2].path, sizeof binds[2].path, "%s/app.sock", dir);
	strlcpy(binds[2].name, "app", sizeof binds[2].name);
	expect_refused(1, FWD_UNIX, "No such file or directory");
	ck_assert_str_eq(unix_asked, binds[2].path);
	strlcpy(sun.sun_path, binds[2].path, sizeof sun.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(lfd, 8), 0);
	asked = st.asked;
	expect_dialled(2, FWD_UNIX);
	ck_assert_int_eq(st.asked, asked + 1);	/* connected: a stream */
	stream_up(asked);
	host_close(2);
	close(lfd);
	unlink(binds[2].path);
	rmdir(dir);
}
END_TEST

START_TEST(test_dial_normal)
{
	expect_dialled(1, FWD_UDP);
	ck_assert_int_eq(st.closes, 0);
	stream_up(0);
	expect_refused(2, FWD_NONE, "no such bind");
	expect_dialled(3, FWD_TCP);
	host_close(1);
	host_close(3);
	ck_assert_int_eq(st.closes, 1);
}
END_TEST

/* GUEST_DIALS_MAX dialled at once; one more is refused until one ends. */
static void
dials_cap(uint32_t forward)
{
	uint64_t	id;
	int		i;

	for (id = 1; id <= GUEST_DIALS_MAX; id++)
		expect_dialled(id, forward);
	for (i = 0; i < 3; i++)		/* refusals hold no place */
		expect_refused(GUEST_DIALS_MAX + 1, forward, WHY_DIALS);
	host_close(7);			/* one dial ends: room for one */
	expect_dialled(GUEST_DIALS_MAX + 1, forward);
	expect_refused(GUEST_DIALS_MAX + 2, forward, WHY_DIALS);
}

START_TEST(test_dials_cap_udp)
{
	dials_cap(FWD_UDP);
	/* Connected and relaying is no longer dialling. */
	stream_up(0);
	expect_dialled(GUEST_DIALS_MAX + 2, FWD_UDP);
	expect_refused(GUEST_DIALS_MAX + 3, FWD_UDP, WHY_DIALS);
	/* A stream given up for frees the place too. */
	host_close(2);
	ck_assert_int_eq(st.streams[1].state, S_CANCELLED);
	expect_dialled(GUEST_DIALS_MAX + 3, FWD_TCP);
}
END_TEST

START_TEST(test_dials_cap_tcp)
{
	dials_cap(FWD_TCP);
}
END_TEST

/* GUEST_CONNS_MAX open (relaying); one more is refused until one ends. */
START_TEST(test_conns_cap)
{
	uint64_t	id;
	int		i;

	for (id = 1; id <= GUEST_CONNS_MAX; id++) {
		expect_dialled(id, FWD_UDP);
		stream_up((int)id - 1);
	}
	ck_assert_int_eq(st.relays, GUEST_CONNS_MAX);
	for (i = 0; i < 3; i++)
		expect_refused(GUEST_CONNS_MAX + 1, FWD_UDP, WHY_CONNS);
	expect_refused(GUEST_CONNS_MAX + 2, FWD_TCP, WHY_CONNS);
	host_close(100);
	expect_dialled(GUEST_CONNS_MAX + 1, FWD_UDP);
	/* Dialling counts as open. */
	expect_refused(GUEST_CONNS_MAX + 2, FWD_UDP, WHY_CONNS);
	host_close(GUEST_CONNS_MAX + 1);
	expect_dialled(GUEST_CONNS_MAX + 2, FWD_UDP);
	ck_assert_int_eq(st.closes, 5);
}
END_TEST

/* PAIR goes through the same caps; its pooled stream is lingered. */
START_TEST(test_pair_over_cap)
{
	struct ph_pair	p = { .forward = FWD_TCP, .stream = 9 };
	uint64_t	id;

	for (id = 1; id <= GUEST_DIALS_MAX; id++)
		expect_dialled(id, FWD_TCP);
	p.conn = GUEST_DIALS_MAX + 1;
	dial_pair(&p);
	ck_assert_int_eq(st.closes, 1);
	ck_assert_uint_eq(st.last.conn, p.conn);
	ck_assert_uint_eq(st.last.how, PH_CLOSE_REFUSED);
	ck_assert_str_eq(st.last.reason, WHY_DIALS);
	ck_assert_int_eq(st.lingered, 1);
}
END_TEST

static Suite *
dial_suite(void)
{
	Suite	*s = suite_create("dial");
	TCase	*tc;

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_dial_normal);
	tcase_add_test(tc, test_dial_unix);
	tcase_add_test(tc, test_dials_cap_udp);
	tcase_add_test(tc, test_dials_cap_tcp);
	tcase_add_test(tc, test_conns_cap);
	tcase_add_test(tc, test_pair_over_cap);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(dial_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
