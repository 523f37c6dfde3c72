/*
 * phudp: the UDP server and clients the end-to-end tests and the
 * benchmarks drive through porthole.
 *
 *	phudp echo ADDR PORT [v6only]
 *	    answer every datagram with the same bytes, to its sender, until
 *	    killed (ADDR :: is dual-stack unless v6only)
 *	phudp client ADDR PORT COUNT MIN MAX SEED
 *	    send COUNT datagrams of sizes MIN to MAX (both included, in a
 *	    shuffled order) one at a time, each filled from a pseudo-random
 *	    stream seeded with SEED; each reply must come within 5 s, from
 *	    ADDR PORT, and be the same bytes.  Prints the count, the bytes
 *	    and the round-trip times (median, 99th percentile) in
 *	    microseconds.
 *	phudp lines ADDR PORT
 *	    print "port N", the socket's own port; then for each line on
 *	    standard input, send it (without the newline) from that socket
 *	    and print "ok" when its echo came back, or "timeout" after 5 s
 *
 * The timeouts are multiplied by $PH_SLOW (a whole number) when it is
 * set.  Exit status 0 when everything came back intact, 1 otherwise.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ		65536
#define TIMEOUT_MS	5000

static uint8_t	sbuf[BUFSZ], rbuf[BUFSZ];

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "phudp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: phudp echo ADDR PORT [v6only]\n"
	    "       phudp client ADDR PORT COUNT MIN MAX SEED\n"
	    "       phudp lines ADDR PORT\n");
	exit(2);
}

static int
timeout_ms(void)
{
	const char	*s = getenv("PH_SLOW");
	int		 slow = s != NULL ? atoi(s) : 1;

	return TIMEOUT_MS * (slow > 0 ? slow : 1);
}

static socklen_t
resolve(const char *addr, const char *port, struct sockaddr_storage *ss)
{
	struct addrinfo	 hints = { 0 }, *res;
	socklen_t	 sl;
	int		 e;

	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if ((e = getaddrinfo(addr, port, &hints, &res)) != 0) {
		fprintf(stderr, "phudp: %s %s: %s\n", addr, port,
		    gai_strerror(e));
		exit(2);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	sl = res->ai_addrlen;
	freeaddrinfo(res);
	return sl;
}

static int
serve_echo(const char *addr, const char *port, int v6only)
{
	struct sockaddr_storage	ss, from;
	socklen_t		sl = resolve(addr, port, &ss), fl;
	ssize_t			n;
	int			fd;

	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) == -1)
		die("socket");
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof v6only) == -1)
		die("IPV6_V6ONLY");
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1)
		die("bind");
	for (;;) {
		fl = sizeof from;
		n = recvfrom(fd, rbuf, sizeof rbuf, 0,
		    (struct sockaddr *)&from, &fl);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die("recvfrom");
		/* A full buffer cannot be a fresh send: drop, as UDP may. */
		if (sendto(fd, rbuf, (size_t)n, 0, (struct sockaddr *)&from,
		    fl) == -1 && errno != EAGAIN && errno != ENOBUFS)
			die("sendto");
	}
}

/* xorshift64*, one byte per step */
static void
fill(uint8_t *p, size_t n, uint64_t seed, uint64_t i)
{
	uint64_t	s = seed * 0x9e3779b97f4a7c15ULL ^
			    (i + 1) * 0xbf58476d1ce4e5b9ULL;
	size_t		j;

	for (j = 0; j < n; j++) {
		s ^= s >> 12;
		s ^= s << 25;
		s ^= s >> 27;
		p[j] = (uint8_t)((s * 0x2545f4914f6cdd1dULL) >> 56);
	}
}

static int64_t
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a;
	const struct sockaddr_in	*b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a;
	const struct sockaddr_in6	*b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

/*
 * Sends len bytes of sbuf and waits for the same bytes back from the
 * peer.  Returns 0, or -1 after saying what went wrong.
 */
static int
round_trip(int fd, const struct sockaddr_storage *to, socklen_t tl,
    size_t len, const char *what)
{
	struct sockaddr_storage	from;
	struct pollfd		pfd = { fd, POLLIN, 0 };
	socklen_t		fl;
	int64_t			deadline = now_ns() +
				    (int64_t)timeout_ms() * 1000000;
	ssize_t			n;
	int			ms;

	if (sendto(fd, sbuf, len, 0, (const struct sockaddr *)to, tl) == -1) {
		fprintf(stderr, "phudp: %s: sendto: %s\n", what,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		ms = (int)((deadline - now_ns()) / 1000000);
		if (ms <= 0 || poll(&pfd, 1, ms) == 0) {
			fprintf(stderr, "phudp: %s: no reply in %d ms\n", what,
			    timeout_ms());
			return -1;
		}
		fl = sizeof from;
		n = recvfrom(fd, rbuf, sizeof rbuf, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1) {
			fprintf(stderr, "phudp: %s: recvfrom: %s\n", what,
			    strerror(errno));
			return -1;
		}
		if (!same_peer(&from, to)) {
			fprintf(stderr, "phudp: %s: reply from another "
			    "address\n", what);
			return -1;
		}
		if ((size_t)n != len || memcmp(rbuf, sbuf, len) != 0) {
			fprintf(stderr, "phudp: %s: %zd bytes came back, not "
			    "the %zu sent\n", what, n, len);
			return -1;
		}
		return 0;
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int
client(const char *addr, const char *port, long count, long min, long max,
    uint64_t seed)
{
	struct sockaddr_storage	 to;
	socklen_t		 tl = resolve(addr, port, &to);
	int64_t			*rtt, t0;
	uint64_t		 bytes = 0;
	size_t			 len;
	char			 what[64];
	long			 i, k;
	int			 fd;

	if (count < 1 || min < 0 || max < min || max > BUFSZ - 1)
		usage();
	if ((fd = socket(to.ss_family, SOCK_DGRAM, 0)) == -1)
		die("socket");
	if ((rtt = calloc((size_t)count, sizeof *rtt)) == NULL)
		die("calloc");
	for (i = 0; i < count; i++) {
		/* 7919 is prime: i -> k is a permutation of 0..count-1. */
		k = count == 1 ? 0 : (long)((i * 7919LL) % count);
		len = (size_t)(min + (count == 1 ? 0 :
		    (long)((long long)k * (max - min) / (count - 1))));
		fill(sbuf, len, seed, (uint64_t)i);
		snprintf(what, sizeof what, "datagram %ld (%zu bytes)", i, len);
		t0 = now_ns();
		if (round_trip(fd, &to, tl, len, what) == -1) {
			printf("sent %ld received %ld\n", i + 1, i);
			free(rtt);
			return 1;
		}
		rtt[i] = now_ns() - t0;
		bytes += len;
	}
	qsort(rtt, (size_t)count, sizeof *rtt, cmp_i64);
	printf("sent %ld received %ld bytes %llu rtt_us median %.1f p99 %.1f\n",
	    count, count, (unsigned long long)bytes, rtt[count / 2] / 1e3,
	    rtt[count * 99 / 100] / 1e3);
	free(rtt);
	close(fd);
	return 0;
}

static int
lines(const char *addr, const char *port)
{
	struct sockaddr_storage	 to, me;
	socklen_t		 tl = resolve(addr, port, &to), ml = sizeof me;
	struct sockaddr_in6	*me6 = (struct sockaddr_in6 *)&me;
	struct sockaddr_in	*me4 = (struct sockaddr_in *)&me;
	char			 line[1024];
	size_t			 len;
	int			 fd;

	if ((fd = socket(to.ss_family, SOCK_DGRAM, 0)) == -1)
		die("socket");
	memset(&me, 0, sizeof me);
	me.ss_family = to.ss_family;
	if (bind(fd, (struct sockaddr *)&me, to.ss_family == AF_INET ?
	    sizeof *me4 : sizeof *me6) == -1 ||
	    getsockname(fd, (struct sockaddr *)&me, &ml) == -1)
		die("bind");
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("port %u\n", ntohs(to.ss_family == AF_INET ? me4->sin_port :
	    me6->sin6_port));
	while (fgets(line, sizeof line, stdin) != NULL) {
		len = strcspn(line, "\n");
		memcpy(sbuf, line, len);
		puts(round_trip(fd, &to, tl, len, "line") == 0 ? "ok" :
		    "timeout");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "echo") == 0)
		return serve_echo(argv[2], argv[3], argc > 4 &&
		    strcmp(argv[4], "v6only") == 0);
	if (argc == 8 && strcmp(argv[1], "client") == 0)
		return client(argv[2], argv[3], atol(argv[4]), atol(argv[5]),
		    atol(argv[6]), strtoull(argv[7], NULL, 10));
	if (argc == 4 && strcmp(argv[1], "lines") == 0)
		return lines(argv[2], argv[3]);
	usage();
}
