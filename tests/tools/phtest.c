/*
 * phtest: the client and server the end-to-end tests drive through
 * porthole.  Data is a deterministic pseudo-random stream, checked byte
 * for byte on arrival; both ends print an FNV-1a digest of what they sent
 * and received, so that a test can compare digests across processes.
 *
 *	phtest serve ADDR PORT MODE [BYTES]	serve until killed
 *	    halfreply BYTES  read to EOF (pattern 1), then send BYTES
 *	                     (pattern 2) and close
 *	    reset            read a little, then close with a TCP reset
 *	    expect-reset     greet with one byte, read until the client
 *	                     resets; print "reset"
 *	phtest client [-w] ADDR PORT MODE [ARGS]
 *	    -w                   once connected, print "connected" and wait
 *	                         for SIGUSR1 before the exchange: a test
 *	                         holds a burst of clients open at once
 *	    halfreply SEND RECV  send SEND bytes, shut down writing, then
 *	                         expect RECV bytes and EOF
 *	    expect-reset         send a byte, expect a reset
 *	    reset                wait for the greeting, close with a reset
 *	    expect-closed        expect EOF or a reset; print how long it took
 *	phtest as UID PROGRAM [ARGS]
 *	    runs PROGRAM as UID (and gid UID), no supplementary groups: the
 *	    VM test's other user, where busybox has no setpriv --reuid
 *
 * Exit status 0 when everything arrived as expected, 1 otherwise.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	65536

struct pattern {
	uint64_t	state;
	uint64_t	fnv;
	uint64_t	count;
};

static void
pattern_init(struct pattern *p, uint64_t seed)
{
	p->state = seed * 0x9e3779b97f4a7c15ULL + 1;
	p->fnv = 0xcbf29ce484222325ULL;
	p->count = 0;
}

/* Byte n of the stream: xorshift64*, one byte per step. */
static uint8_t
pattern_next(struct pattern *p)
{
	p->state ^= p->state >> 12;
	p->state ^= p->state << 25;
	p->state ^= p->state >> 27;
	return (uint8_t)((p->state * 0x2545f4914f6cdd1dULL) >> 56);
}

static void
digest(struct pattern *p, const uint8_t *b, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		p->fnv ^= b[i];
		p->fnv *= 0x100000001b3ULL;
	}
	p->count += n;
}

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "phtest: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
failx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	fprintf(stderr, "phtest: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
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
	failx("bad address %s", host);
}

static void
set_rst(int fd)
{
	struct linger	l = { 1, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) == -1)
		die("SO_LINGER");
}

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Sends n bytes of pattern p; blocking. */
static void
send_pattern(int fd, struct pattern *p, uint64_t n)
{
	uint8_t	buf[CHUNK];
	size_t	len, i, off;
	ssize_t	w;

	while (n > 0) {
		len = n < sizeof buf ? (size_t)n : sizeof buf;
		for (i = 0; i < len; i++)
			buf[i] = pattern_next(p);
		digest(p, buf, len);
		for (off = 0; off < len; off += (size_t)w)
			if ((w = send(fd, buf + off, len - off,
			    MSG_NOSIGNAL)) <= 0)
				die("send");
		n -= len;
	}
}

/*
 * Reads to EOF, checking every byte against pattern p.  Returns the
 * number of bytes read; a mismatch is fatal.
 */
static uint64_t
recv_pattern(int fd, struct pattern *p)
{
	uint8_t	buf[CHUNK];
	ssize_t	n, i;

	for (;;) {
		if ((n = recv(fd, buf, sizeof buf, 0)) == -1)
			die("recv");
		if (n == 0)
			return p->count;
		for (i = 0; i < n; i++)
			if (buf[i] != pattern_next(p))
				failx("byte %" PRIu64 " differs",
				    p->count + (uint64_t)i);
		digest(p, buf, (size_t)n);
	}
}

static int
do_listen(const char *host, const char *port)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = make_addr(host, port, &ss);
	int			fd, one = 1;

	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1)
		die("bind");
	if (listen(fd, 128) == -1)
		die("listen");
	return fd;
}

static int
do_connect(const char *host, const char *port)
{
	struct sockaddr_storage	ss;
	socklen_t		sl = make_addr(host, port, &ss);
	int			fd;

	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&ss, sl) == -1)
		die("connect");
	return fd;
}

static void
serve_one(int fd, const char *mode, uint64_t bytes)
{
	struct pattern	in, out;
	uint8_t		buf[CHUNK];
	ssize_t		n;

	if (strcmp(mode, "halfreply") == 0) {
		pattern_init(&in, 1);
		pattern_init(&out, 2);
		recv_pattern(fd, &in);
		send_pattern(fd, &out, bytes);
		printf("server received %" PRIu64 " digest %016" PRIx64
		    " sent %" PRIu64 " digest %016" PRIx64 "\n", in.count,
		    in.fnv, out.count, out.fnv);
	} else if (strcmp(mode, "reset") == 0) {
		(void)recv(fd, buf, sizeof buf, 0);
		set_rst(fd);
	} else if (strcmp(mode, "expect-reset") == 0) {
		/* A greeting: once the client has it, the path is up. */
		if (send(fd, "h", 1, MSG_NOSIGNAL) != 1)
			die("send");
		while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
			;
		printf("server %s\n", n == -1 && errno == ECONNRESET ?
		    "reset" : n == 0 ? "eof" : strerror(errno));
	} else
		failx("unknown server mode %s", mode);
	fflush(stdout);
	close(fd);
}

static int
cmd_serve(int argc, char **argv)
{
	uint64_t	bytes = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	int		lfd, fd;

	lfd = do_listen(argv[0], argv[1]);
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		serve_one(fd, argv[2], bytes);
	}
}

static int
client_halfreply(int fd, uint64_t send_n, uint64_t recv_n)
{
	struct pattern	out, in;

	pattern_init(&out, 1);
	pattern_init(&in, 2);
	send_pattern(fd, &out, send_n);
	if (shutdown(fd, SHUT_WR) == -1)
		die("shutdown");
	recv_pattern(fd, &in);
	printf("client sent %" PRIu64 " digest %016" PRIx64 " received %"
	    PRIu64 " digest %016" PRIx64 "\n", out.count, out.fnv, in.count,
	    in.fnv);
	if (in.count != recv_n)
		failx("received %" PRIu64 " bytes, expected %" PRIu64,
		    in.count, recv_n);
	return 0;
}

/* Waits up to 10 s for EOF or an error; prints which and how fast. */
static int
client_wait_end(int fd, int want_reset)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	uint8_t		buf[CHUNK];
	double		t0 = now_ms();
	ssize_t		n;

	for (;;) {
		if (poll(&pfd, 1, 10000) <= 0)
			failx("connection still open after 10 s");
		n = recv(fd, buf, sizeof buf, 0);
		if (n > 0)
			continue;
		printf("client %s after %.1f ms\n", n == 0 ? "eof" :
		    errno == ECONNRESET ? "reset" : strerror(errno),
		    now_ms() - t0);
		if (want_reset && !(n == -1 && errno == ECONNRESET))
			return 1;
		return 0;
	}
}

/* SIGUSR1 stays blocked from the start, so one sent early is not lost. */
static void
client_barrier(void)
{
	sigset_t	set;
	int		sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	printf("connected\n");
	fflush(stdout);
	if (sigwait(&set, &sig) != 0)
		failx("sigwait failed");
}

static int
cmd_client(int argc, char **argv, int barrier)
{
	const char	*mode = argv[2];
	uint8_t		 buf[1];
	int		 fd = do_connect(argv[0], argv[1]);

	if (barrier)
		client_barrier();

	if (strcmp(mode, "halfreply") == 0 && argc >= 5)
		return client_halfreply(fd, strtoull(argv[3], NULL, 0),
		    strtoull(argv[4], NULL, 0));
	if (strcmp(mode, "expect-reset") == 0 ||
	    strcmp(mode, "expect-closed") == 0) {
		if (send(fd, "x", 1, MSG_NOSIGNAL) != 1 && errno != ECONNRESET)
			die("send");
		return client_wait_end(fd, mode[7] == 'r');
	}
	if (strcmp(mode, "reset") == 0) {
		/* The server's greeting proves the relay is up: reset it. */
		if (recv(fd, buf, 1, 0) != 1)
			die("recv greeting");
		set_rst(fd);
		close(fd);
		return 0;
	}
	failx("unknown client mode %s", mode);
}

/* as UID PROGRAM [ARGS]: drops to UID, then execs PROGRAM. */
static int
cmd_as(char **argv)
{
	char	*end;
	long	 id = strtol(argv[0], &end, 10);

	if (*end != '\0' || id <= 0 || id > 65534) {
		fprintf(stderr, "phtest as: bad uid %s\n", argv[0]);
		return 2;
	}
	if (setgroups(0, NULL) == -1 || setgid((gid_t)id) == -1 ||
	    setuid((uid_t)id) == -1) {
		perror("phtest as");
		return 1;
	}
	execvp(argv[1], argv + 1);
	perror(argv[1]);
	return 1;
}

int
main(int argc, char **argv)
{
	sigset_t	usr1;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[1], "as") == 0)
		return cmd_as(argv + 2);
	if (argc >= 5 && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (argc >= 6 && strcmp(argv[1], "client") == 0 &&
	    strcmp(argv[2], "-w") == 0) {
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		return cmd_client(argc - 3, argv + 3, 1);
	}
	if (argc >= 5 && strcmp(argv[1], "client") == 0)
		return cmd_client(argc - 2, argv + 2, 0);
	fprintf(stderr, "usage: phtest serve ADDR PORT MODE [BYTES]\n"
	    "       phtest client [-w] ADDR PORT MODE [ARGS]\n"
	    "       phtest as UID PROGRAM [ARGS]\n");
	return 2;
}
