/*
 * phbench: the clients and the server bench/run measures with.
 *
 * TARGET is ADDR PORT (TCP, IPv4) or unix:PATH (a Unix stream socket).
 *
 *	phbench echo TARGET
 *		an epoll echo server for any number of connections: echoes
 *		what it reads, closes on EOF; runs until killed
 *	phbench rr TARGET SECONDS
 *		1-byte request/response on one connection; prints
 *		"rr COUNT MEDIAN_US P99_US"
 *	phbench connrate TARGET SECONDS CONCURRENCY
 *		short connections (connect, 1 byte each way, close), so many
 *		at a time; prints "connrate COUNT PER_SECOND errors ERRORS"
 *	phbench hold TARGET COUNT
 *		opens COUNT connections, one round trip on each, prints
 *		"held COUNT errors ERRORS" and keeps them until stdin closes
 *	phbench sink TARGET
 *		the server of bulk, a process per connection: a 9-byte
 *		request ('u' or 'd', a 64-bit count, network order); 'u'
 *		reads to EOF and answers the count it read (8 bytes), 'd'
 *		sends count bytes; then closes; runs until killed
 *	phbench bulk TARGET up|down MIB
 *		MIB MiB to the sink (up: until it answers the count) or from
 *		it (down: until its EOF), on one connection, timed from the
 *		connect; prints "bulk up|down BYTES SECONDS MIB_PER_SECOND",
 *		exits 1 if fewer bytes arrived
 *	phbench bindlat NETNS PORT COUNT
 *		binds and listens on 0.0.0.0:PORT (PORT+1, ...) in network
 *		namespace NETNS and measures, from listen() returning, how
 *		long until 127.0.0.1:PORT accepts a connection here, then
 *		after close() how long until it refuses (each bind after a
 *		random pause of up to 20 ms); prints "bindlat N
 *		MEDIAN_MS P99_MS unbind MEDIAN_MS P99_MS timeouts T"
 *	phbench bindseq ADDR PORT COUNT GAP_MS
 *		binds PORT, PORT+1, ... here, GAP_MS apart; prints "bound
 *		PORT TIME" (wall clock after listen()); runs until killed
 *	phbench bindchurn NETNS PORT RATE SECONDS
 *		RATE binds and RATE unbinds per second in NETNS, on PORT to
 *		PORT+99; prints "bindchurn BINDS"
 *
 * Exit status 0 unless the tool itself failed; slow is not failed.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "number.h"

#define MAXEV	256
#define BULKBUF	(256 * 1024)

/* Where a command listens or connects: TCP over IPv4, or a Unix path. */
struct target {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "phbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
make_addr(const char *host, const char *port, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof *sin);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		fprintf(stderr, "phbench: bad IPv4 address %s\n", host);
		exit(2);
	}
}

/*
 * The target at argv[i]: "unix:PATH" (one argument) or "ADDR PORT"
 * (two); returns the index after it, or -1 if the arguments end first.
 * A bad address, port or path is a usage error.
 */
static int
target_arg(int argc, char **argv, int i, struct target *t)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&t->ss;
	const char		*path;

	memset(t, 0, sizeof *t);
	if (i >= argc)
		return -1;
	if (strncmp(argv[i], "unix:", 5) == 0) {
		path = argv[i] + 5;
		if (*path == '\0' || strlen(path) >= sizeof sun->sun_path) {
			fprintf(stderr, "phbench: bad Unix socket path %s\n",
			    argv[i]);
			exit(2);
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		t->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(path) + 1);
		return i + 1;
	}
	if (i + 1 >= argc)
		return -1;
	(void)number_arg("PORT", argv[i + 1], 1, 65535);
	make_addr(argv[i], argv[i + 1], (struct sockaddr_in *)&t->ss);
	t->len = sizeof(struct sockaddr_in);
	return i + 2;
}

/* Seconds from the command line: a number above 0. */
static double
secs_arg(const char *arg)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !(v > 0) ||
	    v > 1e6) {
		fprintf(stderr, "phbench: SECONDS: \"%s\" is not a number "
		    "of seconds above 0\n", arg);
		exit(2);
	}
	return v;
}

static void
set_nonblock(int fd)
{
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of n sorted values. */
static double
quantile(double *v, size_t n, double q)
{
	size_t	i;

	if (n == 0)
		return 0;
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i];
}

/* echo */

/* A listening socket at t (a Unix path must not exist yet). */
static int
listen_on(const struct target *t)
{
	int	lfd, one = 1;

	if ((lfd = socket(t->ss.ss_family, SOCK_STREAM, 0)) == -1)
		die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (const struct sockaddr *)&t->ss, t->len) == -1 ||
	    listen(lfd, 4096) == -1)
		die("bind/listen");
	return lfd;
}

static int
cmd_echo(const struct target *t)
{
	struct epoll_event	ev, evs[MAXEV];
	char			buf[65536];
	int			lfd, ep, n, i, fd, one = 1;
	ssize_t			r;

	raise_nofile();
	lfd = listen_on(t);
	set_nonblock(lfd);
	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if ((n = epoll_wait(ep, evs, MAXEV, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			fd = evs[i].data.fd;
			if (fd == lfd) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					(void)setsockopt(fd, IPPROTO_TCP,
					    TCP_NODELAY, &one, sizeof one);
					ev.events = EPOLLIN;
					ev.data.fd = fd;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			r = recv(fd, buf, sizeof buf, 0);
			if (r > 0) {
				/* Small echoes: the send buffer takes them. */
				(void)send(fd, buf, (size_t)r, MSG_NOSIGNAL);
				continue;
			}
			if (r == -1 && errno == EAGAIN)
				continue;
			close(fd);
		}
	}
}

/* rr */

/*
 * A connection to t, with Nagle off if it is TCP; with timeout_sec, its
 * connect, send and recv give up after so many seconds.
 */
static int
connect_to(const struct target *t, int timeout_sec)
{
	struct timeval	tv = { timeout_sec, 0 };
	int		fd, one = 1;

	if ((fd = socket(t->ss.ss_family, SOCK_STREAM, 0)) == -1)
		die("socket");
	if (timeout_sec > 0) {
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	if (connect(fd, (const struct sockaddr *)&t->ss, t->len) == -1) {
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int
round_trip(int fd)
{
	char	c = 'x';

	if (send(fd, &c, 1, MSG_NOSIGNAL) != 1 || recv(fd, &c, 1, 0) != 1)
		return -1;
	return 0;
}

static int
cmd_rr(const struct target *tg, double secs)
{
	double			*v, t0, t, end;
	size_t			 n = 0, cap = 1 << 20;
	int			 fd;

	if ((fd = connect_to(tg, 0)) == -1)
		die("connect");
	if ((v = malloc(cap * sizeof *v)) == NULL)
		die("malloc");
	/* Warm up: the first round trips pay for setting things up. */
	for (n = 0; n < 100; n++)
		if (round_trip(fd) == -1)
			die("round trip");
	n = 0;
	end = now_s() + secs;
	while ((t0 = now_s()) < end && n < cap) {
		if (round_trip(fd) == -1)
			die("round trip");
		t = now_s();
		v[n++] = (t - t0) * 1e6;
	}
	qsort(v, n, sizeof *v, cmp_double);
	printf("rr %zu %.1f %.1f\n", n, quantile(v, n, 0.5),
	    quantile(v, n, 0.99));
	free(v);
	close(fd);
	return 0;
}

/* connrate: a ring of nonblocking connections, each a short exchange */

enum slot_state { S_CONNECTING, S_WAITING };

struct slot {
	int		 fd;
	enum slot_state	 st;
};

static int
slot_start(int ep, struct slot *s, const struct target *t)
{
	struct epoll_event	ev;
	int			one = 1;

	s->fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s->fd == -1)
		die("socket");
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	/* (A Unix connect either completes now or fails, EAGAIN if full.) */
	if (connect(s->fd, (const struct sockaddr *)&t->ss, t->len) == -1 &&
	    errno != EINPROGRESS) {
		close(s->fd);
		return -1;
	}
	s->st = S_CONNECTING;
	ev.events = EPOLLOUT;
	ev.data.ptr = s;
	epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
	return 0;
}

/* Advances a slot; returns 1 when its exchange is done, -1 on error. */
static int
slot_step(int ep, struct slot *s)
{
	struct epoll_event	ev;
	char			c = 'x';
	int			err = 0;
	socklen_t		len = sizeof err;

	if (s->st == S_CONNECTING) {
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || send(s->fd, &c, 1, MSG_NOSIGNAL) != 1)
			return -1;
		s->st = S_WAITING;
		ev.events = EPOLLIN;
		ev.data.ptr = s;
		epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
		return 0;
	}
	if (recv(s->fd, &c, 1, 0) != 1)
		return errno == EAGAIN ? 0 : -1;
	return 1;
}

static int
cmd_connrate(const struct target *t, double secs, int conc)
{
	struct epoll_event	 evs[MAXEV];
	struct slot		*slots, *s;
	double			 t0, end;
	unsigned long		 done = 0, errors = 0;
	int			 ep, i, n, r;

	raise_nofile();
	if ((slots = calloc((size_t)conc, sizeof *slots)) == NULL)
		die("calloc");
	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	t0 = now_s();
	end = t0 + secs;
	for (i = 0; i < conc; i++)
		slots[i].fd = -1;
	while (now_s() < end) {
		/* (Re)start idle slots; one that cannot start waits a turn. */
		for (i = 0; i < conc; i++)
			if (slots[i].fd == -1 &&
			    slot_start(ep, &slots[i], t) == -1) {
				slots[i].fd = -1;
				errors++;
			}
		n = epoll_wait(ep, evs, MAXEV, 10);
		for (i = 0; i < n; i++) {
			s = evs[i].data.ptr;
			if ((r = slot_step(ep, s)) == 0)
				continue;
			if (r == 1)
				done++;
			else
				errors++;
			close(s->fd);
			if (slot_start(ep, s, t) == -1) {
				s->fd = -1;
				errors++;
			}
		}
	}
	printf("connrate %lu %.0f errors %lu\n", done,
	    done / (now_s() - t0), errors);
	for (i = 0; i < conc; i++)
		if (slots[i].fd != -1)
			close(slots[i].fd);
	free(slots);
	close(ep);
	return 0;
}

/* hold */

static int
cmd_hold(const struct target *t, int count)
{
	int	*fds, i, errors = 0, held = 0;
	char	 c;

	raise_nofile();
	if ((fds = calloc((size_t)count, sizeof *fds)) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		if ((fds[i] = connect_to(t, 10)) == -1 ||
		    round_trip(fds[i]) == -1) {
			errors++;
			continue;
		}
		held++;
	}
	printf("held %d errors %d\n", held, errors);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	for (i = 0; i < count; i++)
		if (fds[i] != -1)
			close(fds[i]);
	free(fds);
	return 0;
}

/* sink, bulk */

static void
put64(unsigned char *p, uint64_t v)
{
	int	i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* All of len bytes, or -1 (an error, or EOF first). */
static int
read_full(int fd, void *buf, size_t len)
{
	size_t	n = 0;
	ssize_t	r;

	while (n < len) {
		if ((r = recv(fd, (char *)buf + n, len - n, 0)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		n += (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len)
{
	size_t	n = 0;
	ssize_t	r;

	while (n < len) {
		if ((r = send(fd, (const char *)buf + n, len - n,
		    MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		n += (size_t)r;
	}
	return 0;
}

static char	bulk_buf[BULKBUF];

/* The sink's half of one exchange, in its own process. */
static void
sink_serve(int fd)
{
	unsigned char	req[9], ack[8];
	uint64_t	want, n = 0;
	size_t		len;
	ssize_t		r;

	if (read_full(fd, req, sizeof req) == -1)
		return;
	want = get64(req + 1);
	if (req[0] == 'u') {
		while ((r = recv(fd, bulk_buf, sizeof bulk_buf, 0)) != 0) {
			if (r == -1 && errno != EINTR)
				return;
			if (r > 0)
				n += (uint64_t)r;
		}
		put64(ack, n);
		(void)write_full(fd, ack, sizeof ack);
		return;
	}
	if (req[0] != 'd')
		return;
	while (n < want) {
		len = want - n < sizeof bulk_buf ? want - n : sizeof bulk_buf;
		if (write_full(fd, bulk_buf, len) == -1)
			return;
		n += len;
	}
}

static int
cmd_sink(const struct target *t)
{
	int	lfd, fd;

	lfd = listen_on(t);
	signal(SIGCHLD, SIG_IGN);	/* (children are reaped for us) */
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		switch (fork()) {
		case -1:
			die("fork");
		case 0:
			close(lfd);
			sink_serve(fd);
			_exit(0);
		}
		close(fd);
	}
}

static int
cmd_bulk(const struct target *t, int up, int mib)
{
	unsigned char	req[9], ack[8];
	uint64_t	want = (uint64_t)mib << 20, n = 0;
	double		t0, secs;
	size_t		len;
	ssize_t		r;
	int		fd;

	t0 = now_s();
	if ((fd = connect_to(t, 0)) == -1)
		die("connect");
	req[0] = up ? 'u' : 'd';
	put64(req + 1, want);
	if (write_full(fd, req, sizeof req) == -1)
		die("send");
	if (up) {
		while (n < want) {
			len = want - n < sizeof bulk_buf ? want - n :
			    sizeof bulk_buf;
			if (write_full(fd, bulk_buf, len) == -1)
				die("send");
			n += len;
		}
		if (shutdown(fd, SHUT_WR) == -1)
			die("shutdown");
		if (read_full(fd, ack, sizeof ack) == -1)
			die("the sink's count");
		n = get64(ack);
	} else {
		while ((r = recv(fd, bulk_buf, sizeof bulk_buf, 0)) != 0) {
			if (r == -1 && errno != EINTR)
				die("recv");
			if (r > 0)
				n += (uint64_t)r;
		}
	}
	secs = now_s() - t0;
	close(fd);
	if (n != want) {
		fprintf(stderr, "phbench: bulk %s: %llu of %llu bytes\n",
		    up ? "up" : "down", (unsigned long long)n,
		    (unsigned long long)want);
		return 1;
	}
	printf("bulk %s %llu %.3f %.1f\n", up ? "up" : "down",
	    (unsigned long long)n, secs, (double)n / (1 << 20) / secs);
	return 0;
}

/* bindlat, bindchurn: sockets made in the guest's network namespace */

static int	ns_guest = -1, ns_home = -1;

static void
ns_open(const char *name)
{
	char	path[256];

	/* A name from ip netns, or a path (/proc/self/ns/net: here). */
	if (strchr(name, '/') != NULL)
		snprintf(path, sizeof path, "%s", name);
	else
		snprintf(path, sizeof path, "/run/netns/%s", name);
	if ((ns_guest = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		die(path);
	if ((ns_home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) == -1)
		die("/proc/self/ns/net");
}

/* A TCP socket that lives in the guest's namespace. */
static int
guest_socket(void)
{
	int	fd, one = 1;

	if (setns(ns_guest, CLONE_NEWNET) == -1)
		die("setns");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (setns(ns_home, CLONE_NEWNET) == -1)
		die("setns back");
	if (fd == -1)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	return fd;
}

static int
guest_listen(uint16_t port)
{
	struct sockaddr_in	sin;
	int			fd = guest_socket();

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(fd, 16) == -1)
		die("guest bind/listen");
	return fd;
}

/* Does 127.0.0.1:port accept here now?  1 yes, 0 refused. */
static int
host_accepts(uint16_t port)
{
	struct sockaddr_in	sin;
	int			fd, r;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	r = connect(fd, (struct sockaddr *)&sin, sizeof sin);
	close(fd);
	return r == 0;
}

/* Seconds until host_accepts(port) == want, polling every 200 us; -1. */
static double
wait_host(uint16_t port, int want, double t0, double limit)
{
	struct timespec	ts = { 0, 200000 };
	double		t;

	for (;;) {
		if (host_accepts(port) == want)
			return now_s() - t0;
		if ((t = now_s()) - t0 > limit)
			return -1;
		nanosleep(&ts, NULL);
	}
}

static int
cmd_bindlat(const char *ns, const char *port, int count)
{
	struct timespec	 ts;
	double	*bind_ms, *unbind_ms, t0, d;
	int	 i, fd, nb = 0, nu = 0, timeouts = 0;
	uint16_t base = (uint16_t)atoi(port), p;

	ns_open(ns);
	bind_ms = calloc((size_t)count, sizeof *bind_ms);
	unbind_ms = calloc((size_t)count, sizeof *unbind_ms);
	if (bind_ms == NULL || unbind_ms == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		p = (uint16_t)(base + i % 50);
		if (host_accepts(p) && wait_host(p, 0, now_s(), 10) < 0)
			die("a port from the last round stays open");
		/* A random pause, so that binds do not fall in step with scans. */
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(random() % 20000) * 1000;
		nanosleep(&ts, NULL);
		fd = guest_listen(p);
		t0 = now_s();
		if ((d = wait_host(p, 1, t0, 10)) < 0)
			timeouts++;
		else
			bind_ms[nb++] = d * 1e3;
		close(fd);
		t0 = now_s();
		if ((d = wait_host(p, 0, t0, 10)) < 0)
			timeouts++;
		else
			unbind_ms[nu++] = d * 1e3;
	}
	qsort(bind_ms, (size_t)nb, sizeof *bind_ms, cmp_double);
	qsort(unbind_ms, (size_t)nu, sizeof *unbind_ms, cmp_double);
	printf("bindlat %d %.2f %.2f unbind %.2f %.2f timeouts %d\n", nb,
	    quantile(bind_ms, (size_t)nb, 0.5),
	    quantile(bind_ms, (size_t)nb, 0.99),
	    quantile(unbind_ms, (size_t)nu, 0.5),
	    quantile(unbind_ms, (size_t)nu, 0.99), timeouts);
	free(bind_ms);
	free(unbind_ms);
	return 0;
}

/*
 * Binds ADDR:PORT, PORT+1, ... here, COUNT of them, GAP ms apart, each
 * printed as "bound PORT TIME" (the wall clock right after listen(), for
 * comparing with log lines); keeps them until killed.
 */
static int
cmd_bindseq(const char *host, const char *port, int count, int gap_ms)
{
	struct sockaddr_in	sin;
	struct timespec		ts = { gap_ms / 1000, (gap_ms % 1000) * 1000000L };
	struct timespec		now;
	int			i, fd, one = 1;

	make_addr(host, port, &sin);
	for (i = 0; i < count; i++) {
		if (gap_ms > 0)
			nanosleep(&ts, NULL);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			die("socket");
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		sin.sin_port = htons((uint16_t)(atoi(port) + i));
		if (bind(fd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
		    listen(fd, 16) == -1)
			die("bind/listen");
		clock_gettime(CLOCK_REALTIME, &now);
		printf("bound %d %ld.%06ld\n", atoi(port) + i, (long)now.tv_sec,
		    now.tv_nsec / 1000);
	}
	for (;;)
		pause();
}

static int
cmd_bindchurn(const char *ns, const char *port, int rate, double secs)
{
	struct timespec	 ts;
	double		 start = now_s(), next = start;
	int		 fds[100], i, n = 0;
	uint16_t	 base = (uint16_t)atoi(port);

	ns_open(ns);
	for (i = 0; i < 100; i++)
		fds[i] = -1;
	/* Each bind lives 50 binds' time, then goes: RATE of each a second. */
	for (i = 0; now_s() - start < secs; i++) {
		if (fds[i % 100] != -1)
			close(fds[i % 100]);
		fds[i % 100] = guest_listen((uint16_t)(base + i % 100));
		n++;
		next += 1.0 / rate;
		if ((ts.tv_sec = 0, ts.tv_nsec = (long)((next - now_s()) * 1e9))
		    > 0)
			nanosleep(&ts, NULL);
	}
	for (i = 0; i < 100; i++)
		if (fds[i] != -1)
			close(fds[i]);
	printf("bindchurn %d\n", n);
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: phbench echo TARGET | rr TARGET SECS | "
	    "connrate TARGET SECS CONC |\n"
	    "       hold TARGET COUNT | sink TARGET | "
	    "bulk TARGET up|down MIB |\n"
	    "       bindlat NETNS PORT COUNT | "
	    "bindseq ADDR PORT COUNT GAP_MS |\n"
	    "       bindchurn NETNS PORT RATE SECS\n"
	    "TARGET: ADDR PORT (TCP, IPv4) or unix:PATH\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct target	 t;
	const char	*cmd;
	int		 i;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	cmd = argv[1];
	if (argc == 5 && strcmp(cmd, "bindlat") == 0)
		return cmd_bindlat(argv[2], argv[3], atoi(argv[4]));
	if (argc == 6 && strcmp(cmd, "bindseq") == 0)
		return cmd_bindseq(argv[2], argv[3], atoi(argv[4]),
		    atoi(argv[5]));
	if (argc == 6 && strcmp(cmd, "bindchurn") == 0)
		return cmd_bindchurn(argv[2], argv[3], atoi(argv[4]),
		    atof(argv[5]));
	/* The rest take a TARGET; i is the argument after it. */
	i = target_arg(argc, argv, 2, &t);
	if (strcmp(cmd, "echo") == 0 && i == argc)
		return cmd_echo(&t);
	if (strcmp(cmd, "rr") == 0 && i > 0 && i == argc - 1)
		return cmd_rr(&t, secs_arg(argv[i]));
	if (strcmp(cmd, "connrate") == 0 && i > 0 && i == argc - 2)
		return cmd_connrate(&t, secs_arg(argv[i]),
		    number_arg("CONCURRENCY", argv[i + 1], 1, 100000));
	if (strcmp(cmd, "hold") == 0 && i > 0 && i == argc - 1)
		return cmd_hold(&t, number_arg("COUNT", argv[i], 1, 1000000));
	if (strcmp(cmd, "sink") == 0 && i == argc)
		return cmd_sink(&t);
	if (strcmp(cmd, "bulk") == 0 && i > 0 && i == argc - 2 &&
	    (strcmp(argv[i], "up") == 0 || strcmp(argv[i], "down") == 0))
		return cmd_bulk(&t, strcmp(argv[i], "up") == 0,
		    number_arg("MIB", argv[i + 1], 1, 1 << 20));
	usage();
}
