/*
 * phstorm: many connections at once, for the reliability tests.
 *
 *	phstorm echo ADDR PORT		echo every connection's bytes back;
 *					on EOF, finish echoing, then shut down
 *	phstorm sink ADDR PORT		accept, never read (back-pressure)
 *	phstorm run ADDR PORT CONNS BYTES
 *		CONNS concurrent connections each send BYTES of their own
 *		pattern, shut down writing, and check that what comes back
 *		is an exact prefix of what they sent.  Prints
 *		"complete C cut K corrupt X failed F verified B"; exit 1 if
 *		anything came back wrong (a cut connection is not wrong: a
 *		test that kills an agent expects some).
 *	phstorm churn ADDR PORT COUNT PARALLEL
 *		COUNT connections, PARALLEL at a time, each sends one byte,
 *		waits for its echo and closes.  Prints "ok N failed F".
 *
 * Everything is non-blocking on one epoll set; nothing sleeps.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUFSZ	16384

struct conn {
	int		fd;
	uint64_t	seed;
	uint64_t	sent, echoed, want;
	uint64_t	send_state, recv_state;
	uint8_t		*pend;		/* echo server: bytes not yet written */
	size_t		pend_len;
	int		shut;		/* we shut down writing */
	int		done;
};

static int	ep;

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "phstorm: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint8_t
next_byte(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (uint8_t)((*s * 0x2545f4914f6cdd1dULL) >> 56);
}

static socklen_t
make_addr(const char *host, const char *port, struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)atoi(port));
		return sizeof *sin;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)atoi(port));
		return sizeof *sin6;
	}
	fprintf(stderr, "phstorm: bad address %s\n", host);
	exit(2);
}

static void
watch(struct conn *c, uint32_t events, int op)
{
	struct epoll_event	ev = { .events = events, .data.ptr = c };

	if (epoll_ctl(ep, op, c->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->pend);
	c->pend = NULL;
	c->done = 1;
}

static int
listen_on(const char *host, const char *port)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = make_addr(host, port, &ss);
	int			fd, one = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1 || listen(fd, 4096) == -1)
		die("bind/listen");
	printf("listening\n");
	fflush(stdout);
	return fd;
}

/*
 * Echo server: what the peer does not take at once is kept and reading
 * stops until it has gone (back-pressure, bounded to one buffer).
 */
static void
echo_io(struct conn *c, uint32_t events)
{
	uint8_t	buf[BUFSZ];
	ssize_t	n, w;

	if (c->pend_len > 0) {
		w = send(c->fd, c->pend, c->pend_len, MSG_NOSIGNAL);
		if (w == -1 && errno != EAGAIN) {
			conn_close(c);
			return;
		}
		if (w > 0) {
			memmove(c->pend, c->pend + w, c->pend_len - (size_t)w);
			c->pend_len -= (size_t)w;
		}
		if (c->pend_len == 0)
			watch(c, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(c->fd, buf, sizeof buf, 0);
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		if (n == 0)
			shutdown(c->fd, SHUT_WR);	/* EOF after the echo */
		conn_close(c);
		return;
	}
	w = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (w == -1 && errno != EAGAIN) {
		conn_close(c);
		return;
	}
	if (w < 0)
		w = 0;
	if (w == n)
		return;
	if (c->pend == NULL && (c->pend = malloc(BUFSZ)) == NULL)
		die("malloc");
	c->pend_len = (size_t)(n - w);
	memcpy(c->pend, buf + w, c->pend_len);
	watch(c, EPOLLOUT, EPOLL_CTL_MOD);
}

static int
cmd_server(const char *host, const char *port, int sink)
{
	struct epoll_event	 evs[256];
	struct conn		 lc = { .fd = -1 }, *c;
	int			 n, i, fd;

	lc.fd = listen_on(host, port);
	watch(&lc, EPOLLIN, EPOLL_CTL_ADD);
	for (;;) {
		if ((n = epoll_wait(ep, evs, 256, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c != &lc) {
				echo_io(c, evs[i].events);
				if (c->done)
					free(c);
				continue;
			}
			while ((fd = accept4(lc.fd, NULL, NULL,
			    SOCK_NONBLOCK)) != -1) {
				if (sink)
					continue;	/* held, never read */
				if ((c = calloc(1, sizeof *c)) == NULL)
					die("calloc");
				c->fd = fd;
				watch(c, EPOLLIN, EPOLL_CTL_ADD);
			}
		}
	}
}

struct tally {
	uint64_t	complete, cut, corrupt, failed, verified;
};

static struct conn *
dial(struct sockaddr_storage *ss, socklen_t sl, uint64_t seed, uint64_t want)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		die("calloc");
	c->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		die("socket");
	c->seed = seed;
	c->send_state = c->recv_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	c->want = want;
	if (connect(c->fd, (struct sockaddr *)ss, sl) == -1 &&
	    errno != EINPROGRESS)
		die("connect");
	watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
	return c;
}

static void
client_send(struct conn *c)
{
	uint8_t	buf[BUFSZ];
	size_t	len, i;
	ssize_t	n;
	uint64_t st;

	while (c->sent < c->want) {
		len = c->want - c->sent < sizeof buf ?
		    (size_t)(c->want - c->sent) : sizeof buf;
		st = c->send_state;
		for (i = 0; i < len; i++)
			buf[i] = next_byte(&st);
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;		/* EAGAIN, or the error shows on recv */
		/* Advance the pattern by what was really sent. */
		for (i = 0; i < (size_t)n; i++)
			(void)next_byte(&c->send_state);
		c->sent += (uint64_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	c->shut = 1;
	watch(c, EPOLLIN, EPOLL_CTL_MOD);
}

/* Returns 1 when the connection is over (and counted). */
static int
client_recv(struct conn *c, struct tally *t)
{
	uint8_t	buf[BUFSZ];
	ssize_t	n, i;

	for (;;) {
		n = recv(c->fd, buf, sizeof buf, 0);
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			if (c->echoed == c->want && n == 0)
				t->complete++;
			else if (c->echoed == 0 && c->sent == 0)
				t->failed++;
			else
				t->cut++;
			t->verified += c->echoed;
			conn_close(c);
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] != next_byte(&c->recv_state) ||
			    c->echoed + (uint64_t)i >= c->sent) {
				t->corrupt++;
				conn_close(c);
				return 1;
			}
		}
		c->echoed += (uint64_t)n;
	}
}

static int
cmd_run(const char *host, const char *port, long conns, uint64_t bytes)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = make_addr(host, port, &ss);
	struct epoll_event	 evs[256];
	struct tally		 t = { 0 };
	struct conn		*c;
	long			 i, live = conns;
	int			 n, k;

	for (i = 0; i < conns; i++)
		dial(&ss, sl, (uint64_t)i + 1, bytes);
	while (live > 0) {
		if ((n = epoll_wait(ep, evs, 256, 30000)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		if (n == 0) {
			fprintf(stderr, "phstorm: %ld connections stuck for "
			    "30 s\n", live);
			break;
		}
		for (k = 0; k < n; k++) {
			c = evs[k].data.ptr;
			if ((evs[k].events & EPOLLOUT) && !c->shut)
				client_send(c);
			if ((evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    client_recv(c, &t)) {
				free(c);
				live--;
			}
		}
	}
	printf("complete %" PRIu64 " cut %" PRIu64 " corrupt %" PRIu64
	    " failed %" PRIu64 " stuck %ld verified %" PRIu64 "\n", t.complete,
	    t.cut, t.corrupt, t.failed, live, t.verified);
	return t.corrupt > 0 || live > 0;
}

static int
cmd_churn(const char *host, const char *port, long count, long parallel)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = make_addr(host, port, &ss);
	struct epoll_event	 evs[256];
	struct tally		 t = { 0 };
	struct conn		*c;
	long			 started = 0, live = 0;
	int			 n, k;

	while (started < count || live > 0) {
		while (live < parallel && started < count) {
			dial(&ss, sl, (uint64_t)started++ + 1, 1);
			live++;
		}
		if ((n = epoll_wait(ep, evs, 256, 30000)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			fprintf(stderr, "phstorm: churn stuck\n");
			break;
		}
		for (k = 0; k < n; k++) {
			c = evs[k].data.ptr;
			if ((evs[k].events & EPOLLOUT) && !c->shut)
				client_send(c);
			if ((evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
			    client_recv(c, &t)) {
				free(c);
				live--;
			}
		}
	}
	printf("ok %" PRIu64 " failed %" PRIu64 "\n", t.complete,
	    t.cut + t.corrupt + t.failed + (uint64_t)live);
	return t.complete != (uint64_t)count;
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	if (argc == 4 && strcmp(argv[1], "echo") == 0)
		return cmd_server(argv[2], argv[3], 0);
	if (argc == 4 && strcmp(argv[1], "sink") == 0)
		return cmd_server(argv[2], argv[3], 1);
	if (argc == 6 && strcmp(argv[1], "run") == 0)
		return cmd_run(argv[2], argv[3], atol(argv[4]),
		    strtoull(argv[5], NULL, 0));
	if (argc == 6 && strcmp(argv[1], "churn") == 0)
		return cmd_churn(argv[2], argv[3], atol(argv[4]),
		    atol(argv[5]));
	fprintf(stderr, "usage: phstorm echo|sink ADDR PORT\n"
	    "       phstorm run ADDR PORT CONNS BYTES\n"
	    "       phstorm churn ADDR PORT COUNT PARALLEL\n");
	return 2;
}
