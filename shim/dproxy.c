/*
 * porthole-docker-proxy: dockerd's userland proxy ("userland-proxy-path"
 * in /etc/docker/daemon.json) that asks the host before it binds.
 * dockerd starts it as it starts docker-proxy, with the same arguments
 * and a pipe on descriptor 3 for the outcome ("0\n", or "1\n" and the
 * error, which `docker run -p` prints).  It asks the guest agent, over
 * its root-only proxy socket, for the host's verdict on the host side
 * (protocol, address, port), then:
 *
 *	refused or failed	writes "1\nporthole: host refuses ..." with
 *				the host's reason on descriptor 3, exits 1
 *	bound, rewritten, or	execs Docker's own docker-proxy with the
 *	no verdict to wait for	same arguments, which binds, proxies and
 *				reports on descriptor 3 as it always does
 *
 * The connection to the agent is left open across the exec, on a
 * descriptor docker-proxy does not use, so that the agent holds the
 * bind for exactly as long as docker-proxy runs.  No guest agent (no
 * socket, or nobody accepting on it) is plain docker-proxy: a VM
 * without porthole is not broken by it.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dproxy.h"

static const char *const proxies[] = {
	"/usr/sbin/docker-proxy",	/* Debian's docker.io */
	"/usr/bin/docker-proxy",	/* Docker's own packages */
};

static const char *
dproxy_env(const char *name, const char *def)
{
	const char	*v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : def;
}

/* The outcome, for dockerd: "1\n" and the error, on descriptor 3. */
static void __attribute__((noreturn))
dproxy_fail(const char *fmt, ...)
{
	char	msg[PXMSG_ANS_MAX + 128];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	n = dprintf(DPROXY_REPORT_FD, "1\n%s", msg);
	fprintf(stderr, "%s\n", msg);
	(void)n;
	exit(1);
}

static const char *
dproxy_find(void)
{
	const char	*p = getenv(DPROXY_PROXY_ENV);
	size_t		 i;

	if (p != NULL && p[0] != '\0') {
		if (access(p, X_OK) == -1)
			dproxy_fail("porthole-docker-proxy: %s (%s): %s", p,
			    DPROXY_PROXY_ENV, strerror(errno));
		return p;
	}
	for (i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
		if (access(proxies[i], X_OK) == 0)
			return proxies[i];
	dproxy_fail("porthole-docker-proxy: no docker-proxy at %s or %s "
	    "(set %s)", proxies[0], proxies[1], DPROXY_PROXY_ENV);
}

/* Docker's docker-proxy, as dockerd would have started it. */
static void __attribute__((noreturn))
dproxy_exec(const char *path, char **argv)
{
	argv[0] = (char *)path;
	execv(path, argv);
	dproxy_fail("porthole-docker-proxy: exec %s: %s", path,
	    strerror(errno));
}

/*
 * A socket connected to the agent, on a descriptor above those dockerd
 * hands over (3, and 4 in newer dockerd), or -1 with errno.
 */
static int
dproxy_connect(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			s, fd, e;

	if (strlcpy(sun.sun_path, path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	fd = fcntl(s, F_DUPFD_CLOEXEC, 10);
	e = errno;
	close(s);
	if (fd == -1) {
		errno = e;
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int64_t
dproxy_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer's line, within DPROXY_ANSWER_SECS: its length, or -1. */
static int
dproxy_read_answer(int fd, char *buf, size_t len)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	int64_t		end = dproxy_now_ms() + DPROXY_ANSWER_SECS * 1000;
	int64_t		left;
	size_t		have = 0;
	ssize_t		n;
	int		r;

	while (have < len) {
		/* A monotonic clock: a VM's wall clock jumps on resume. */
		if ((left = end - dproxy_now_ms()) < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if ((n = read(fd, buf + have, len - have)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
		if (memchr(buf, '\n', have) != NULL)
			return (int)have;
	}
	return (int)have;	/* too long: the parser says so */
}

/* Asks: the answer, or -1 when there is none (plain docker-proxy). */
static int
dproxy_ask(const char *path, const struct pxmsg_req *r,
    struct pxmsg_ans *a, int *fdp)
{
	char	line[PXMSG_ANS_MAX], err[160];
	int	fd, n;

	if ((fd = dproxy_connect(path)) == -1) {
		if (errno == ENOENT || errno == ECONNREFUSED)
			return -1;	/* no guest agent here */
		dproxy_fail("porthole: the guest agent's socket %s: %s", path,
		    strerror(errno));
	}
	/*
	 * The agent may answer (denied, busy) before it reads: a failed
	 * send still looks for that answer, and must not raise SIGPIPE.
	 */
	if ((n = pxmsg_req_format(r, line, sizeof line)) == -1 ||
	    send(fd, line, (size_t)n, MSG_NOSIGNAL) != n)
		fprintf(stderr, "porthole-docker-proxy: %s: cannot ask: %s\n",
		    path, strerror(errno));
	if ((n = dproxy_read_answer(fd, line, sizeof line)) == -1 ||
	    pxmsg_ans_parse(line, (size_t)n, a, err, sizeof err) == -1) {
		fprintf(stderr, "porthole-docker-proxy: %s: %s\n", path,
		    n == -1 ? "no answer in time" : err);
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

static void
dproxy_verdict(const struct pxmsg_req *r, const struct pxmsg_ans *a)
{
	char	where[PH_ADDRSTRLEN + 8];

	addr_fmt(&r->addr, r->port, where, sizeof where);
	if (r->proto == IPPROTO_UDP)
		strlcat(where, "/udp", sizeof where);
	if (!pxmsg_verdict_fails(a->verdict)) {
		fprintf(stderr, "porthole-docker-proxy: %s: %s%s%s: %s\n",
		    where, pxmsg_verdict_name(a->verdict), a->hosts[0] != '\0' ?
		    " on host " : "", a->hosts, a->reason);
		return;
	}
	switch (a->verdict) {
	case PX_REFUSED:
		dproxy_fail("porthole: host refuses %s: %s", where, a->reason);
	case PX_FAILED:
		dproxy_fail("porthole: host cannot listen for %s: %s", where,
		    a->reason);
	default:	/* PX_DENIED, PX_INVALID */
		dproxy_fail("porthole: guest agent refuses %s: %s", where,
		    a->reason);
	}
}

int
main(int argc, char **argv)
{
	struct dproxy_args	 args;
	struct pxmsg_req	 r;
	struct pxmsg_ans	 a;
	const char		*proxy;
	char			 err[160];
	int			 fd;

	proxy = dproxy_find();
	if (dproxy_args_parse(argc, argv, &args, err, sizeof err) == -1 ||
	    dproxy_args_request(&args, &r, err, sizeof err) == -1) {
		/* docker-proxy judges what we cannot read */
		fprintf(stderr, "porthole-docker-proxy: not asking: %s\n", err);
		dproxy_exec(proxy, argv);
	}
	if (dproxy_ask(dproxy_env(DPROXY_SOCKET_ENV, DPROXY_SOCKET), &r, &a,
	    &fd) == -1)
		dproxy_exec(proxy, argv);
	dproxy_verdict(&r, &a);
	/* Held open for docker-proxy's life: the agent's hold on the bind. */
	if (fcntl(fd, F_SETFD, 0) == -1)
		dproxy_fail("porthole-docker-proxy: fcntl: %s",
		    strerror(errno));
	dproxy_exec(proxy, argv);
}
