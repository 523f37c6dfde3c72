/*
 * Unit tests for proto/endpoint.c: parsing "vsock:..." and "unix:..."
 * for both roles, and listening and connecting on a Unix endpoint in a
 * temporary directory.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"

/* The tests link the host agent's objects, which refer to this. */
struct host;
struct host	*host;

#define L	EP_LISTEN
#define C	EP_CONNECT

static const struct parse_ok {
	const char		*in;
	enum endpoint_role	 role;
	enum endpoint_type	 type;
	uint32_t		 cid;
	uint32_t		 port;
	const char		*path;
	const char		*str;
} parse_oks[] = {
	{ "vsock:6440", L, EP_VSOCK, PH_CID_ANY, 6440, "", "vsock:6440" },
	{ "vsock:6440", C, EP_VSOCK, PH_CID_HOST, 6440, "", "vsock:2:6440" },
	{ "vsock:3:6440", L, EP_VSOCK, 3, 6440, "", "vsock:3:6440" },
	{ "vsock:3:6440", C, EP_VSOCK, 3, 6440, "", "vsock:3:6440" },
	{ "vsock:host:6440", L, EP_VSOCK, PH_CID_HOST, 6440, "",
	    "vsock:2:6440" },
	{ "vsock:host:6440", C, EP_VSOCK, PH_CID_HOST, 6440, "",
	    "vsock:2:6440" },
	{ "vsock:local:1", L, EP_VSOCK, PH_CID_LOCAL, 1, "", "vsock:1:1" },
	{ "vsock:local:1", C, EP_VSOCK, PH_CID_LOCAL, 1, "", "vsock:1:1" },
	{ "vsock:any:5", L, EP_VSOCK, PH_CID_ANY, 5, "", "vsock:5" },
	{ "vsock:4294967294:4294967294", C, EP_VSOCK, 0xfffffffeU,
	    0xfffffffeU, "", "vsock:4294967294:4294967294" },
	{ "unix:/tmp/x.sock", L, EP_UNIX, 0, 0, "/tmp/x.sock",
	    "unix:/tmp/x.sock" },
	{ "unix:/tmp/x.sock", C, EP_UNIX, 0, 0, "/tmp/x.sock",
	    "unix:/tmp/x.sock" },
	{ "unix:relative/v.sock_6440", C, EP_UNIX, 0, 0,
	    "relative/v.sock_6440", "unix:relative/v.sock_6440" },
};
#define NPARSE_OKS	(sizeof parse_oks / sizeof parse_oks[0])

/* Each bad endpoint, with a word the error message must contain. */
static const struct parse_bad {
	const char		*in;
	enum endpoint_role	 role;
	const char		*says;
} parse_bads[] = {
	{ "", L, "not an endpoint" },
	{ "", C, "not an endpoint" },
	{ "vsock", L, "not an endpoint" },
	{ "vsock:", L, "no port" },
	{ "vsock:", C, "no port" },
	{ "vsock:abc", L, "abc" },
	{ "vsock:abc", C, "abc" },
	{ "vsock:3:", L, "no port" },
	{ "vsock:3:", C, "no port" },
	{ "vsock:4294967295", L, "4294967295" },
	{ "vsock:4294967295", C, "4294967295" },
	{ "vsock:3:4294967296", C, "4294967296" },
	{ "vsock: 5", L, "not a number" },
	{ "vsock:+5", L, "not a number" },
	{ "vsock:3: 6440", C, "not a number" },
	{ "vsock:-1:5", L, "-1" },
	{ "vsock:-1:5", C, "-1" },
	{ "vsock:3:-1", C, "-1" },
	{ "vsock:4294967295:5", C, "4294967295" },
	{ "vsock:any:5", C, "any" },
	{ "vsock:3:6440:1", C, "6440:1" },
	{ "vsock:3:0x10", C, "0x10" },
	{ "vsock:HOST:5", C, "HOST" },
	{ "tcp:1.2.3.4:5", L, "tcp:1.2.3.4:5" },
	{ "tcp:1.2.3.4:5", C, "tcp:1.2.3.4:5" },
	{ "unix:", L, "no path" },
	{ "unix:", C, "no path" },
	{ "UNIX:/tmp/x", C, "not an endpoint" },
};
#define NPARSE_BADS	(sizeof parse_bads / sizeof parse_bads[0])

static const char *
role_name(enum endpoint_role role)
{
	return role == EP_LISTEN ? "listen" : "connect";
}

START_TEST(test_parse_ok)
{
	const struct parse_ok	*t = &parse_oks[_i];
	struct endpoint		 ep;
	char			 err[256] = "";

	ck_assert_msg(endpoint_parse(t->in, t->role, &ep, err,
	    sizeof err) == 0, "\"%s\" (%s) refused: %s", t->in,
	    role_name(t->role), err);
	ck_assert_int_eq(ep.type, t->type);
	ck_assert_uint_eq(ep.cid, t->cid);
	ck_assert_uint_eq(ep.port, t->port);
	ck_assert_str_eq(ep.path, t->path);
	ck_assert_str_eq(ep.str, t->str);
}
END_TEST

START_TEST(test_parse_bad)
{
	const struct parse_bad	*t = &parse_bads[_i];
	struct endpoint		 ep;
	char			 err[256] = "";

	ck_assert_msg(endpoint_parse(t->in, t->role, &ep, err,
	    sizeof err) == -1, "\"%s\" (%s) accepted", t->in,
	    role_name(t->role));
	ck_assert_msg(err[0] != '\0', "\"%s\": no error message", t->in);
	ck_assert_msg(strstr(err, t->says) != NULL, "\"%s\" (%s): error "
	    "\"%s\" does not mention \"%s\"", t->in, role_name(t->role),
	    err, t->says);
}
END_TEST

/* sun_path holds 107 bytes and a NUL: 107 is fine, 108 and more are not. */
START_TEST(test_parse_unix_path_length)
{
	struct endpoint	 ep;
	char		 in[5 + 200 + 1], err[256];
	size_t		 n, max = sizeof ep.path - 1;

	ck_assert_uint_eq(max, 107);
	for (n = max - 1; n <= max + 3; n++) {
		memcpy(in, "unix:", 5);
		memset(in + 5, 'p', n);
		in[0 + 5] = '/';
		in[5 + n] = '\0';
		err[0] = '\0';
		if (n <= max) {
			ck_assert_msg(endpoint_parse(in, EP_LISTEN, &ep, err,
			    sizeof err) == 0, "%zu-byte path refused: %s", n,
			    err);
			ck_assert_uint_eq(strlen(ep.path), n);
			ck_assert_str_eq(ep.str, in);
			continue;
		}
		ck_assert_msg(endpoint_parse(in, EP_LISTEN, &ep, err,
		    sizeof err) == -1, "%zu-byte path accepted", n);
		ck_assert_msg(strstr(err, "longer than") != NULL, "%zu-byte "
		    "path: error \"%s\"", n, err);
	}
}
END_TEST

/* A small error buffer truncates the message, never overflows it. */
START_TEST(test_parse_small_err)
{
	struct endpoint	 ep;
	char		 err[8 + 4];

	memset(err, 'G', sizeof err);
	ck_assert_int_eq(endpoint_parse("tcp:x", EP_LISTEN, &ep, err, 8), -1);
	ck_assert_uint_eq(strlen(err), 7);
	ck_assert_mem_eq(err + 8, "GGGG", 4);
}
END_TEST

/*
 * The socket fixture: a fresh temporary directory per test, and the
 * descriptors a test opened, closed at the end.
 */
static char	tmpdir[PATH_MAX];
static int	fds[8];
static int	nfds;

static void
sock_setup(void)
{
	strlcpy(tmpdir, "/tmp/ph-endpoint.XXXXXX", sizeof tmpdir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	nfds = 0;
}

static void
sock_teardown(void)
{
	char	cmd[PATH_MAX + 16];

	while (nfds > 0)
		close(fds[--nfds]);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static int
keep(int fd)
{
	ck_assert_int_lt(nfds, (int)(sizeof fds / sizeof fds[0]));
	if (fd != -1)
		fds[nfds++] = fd;
	return fd;
}

/* The endpoint "unix:<tmpdir>/<name>". */
static void
tmp_endpoint(struct endpoint *ep, const char *name)
{
	char	in[PATH_MAX], err[256] = "";
	int	n;

	n = snprintf(in, sizeof in, "unix:%s/%s", tmpdir, name);
	ck_assert(n > 0 && (size_t)n < sizeof in);
	ck_assert_msg(endpoint_parse(in, EP_LISTEN, ep, err, sizeof err) == 0,
	    "%s: %s", in, err);
}

static int
listen_ok(const struct endpoint *ep)
{
	char	err[256] = "";
	int	fd;

	fd = keep(endpoint_listen(ep, err, sizeof err));
	ck_assert_msg(fd != -1, "%s: %s", ep->str, err);
	return fd;
}

static void
wait_for(int fd, short events)
{
	struct pollfd	pfd = { fd, events, 0 };

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert_msg(pfd.revents & events, "fd %d: revents 0x%x", fd,
	    pfd.revents);
}

/* Connects to ep and checks lfd accepts it and carries bytes both ways. */
static void
assert_connects(const struct endpoint *ep, int lfd)
{
	socklen_t	sl = sizeof(int);
	char		buf[4];
	int		cfd, afd, pending, unreserved, soerr = -1;

	cfd = keep(endpoint_connect(ep, &pending, &unreserved));
	ck_assert_msg(cfd != -1, "connect %s: %s", ep->str, strerror(errno));
	if (pending) {
		wait_for(cfd, POLLOUT);
		ck_assert_int_eq(getsockopt(cfd, SOL_SOCKET, SO_ERROR, &soerr,
		    &sl), 0);
		ck_assert_int_eq(soerr, 0);
	}
	ck_assert_int_ne(fcntl(cfd, F_GETFL) & O_NONBLOCK, 0);
	wait_for(lfd, POLLIN);
	afd = keep(accept(lfd, NULL, NULL));
	ck_assert_msg(afd != -1, "accept: %s", strerror(errno));
	ck_assert_int_eq(write(cfd, "ping", 4), 4);
	ck_assert_int_eq(read(afd, buf, sizeof buf), 4);
	ck_assert_mem_eq(buf, "ping", 4);
	ck_assert_int_eq(write(afd, "pong", 4), 4);
	wait_for(cfd, POLLIN);
	ck_assert_int_eq(read(cfd, buf, sizeof buf), 4);
	ck_assert_mem_eq(buf, "pong", 4);
}

START_TEST(test_listen_connect)
{
	struct endpoint	ep;
	struct stat	st;
	int		lfd;

	tmp_endpoint(&ep, "ph.sock");
	lfd = listen_ok(&ep);
	ck_assert_int_ne(fcntl(lfd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(lfd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(lstat(ep.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_msg((st.st_mode & 0777) == 0600, "socket mode %o",
	    st.st_mode & 0777);
	assert_connects(&ep, lfd);
	assert_connects(&ep, lfd);
}
END_TEST

/* A socket file nobody listens on (an agent died) is replaced. */
START_TEST(test_listen_stale)
{
	struct endpoint		ep;
	struct sockaddr_un	sun;
	int			fd, lfd;

	tmp_endpoint(&ep, "stale.sock");
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, ep.path, sizeof sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	close(fd);
	ck_assert_int_eq(access(ep.path, F_OK), 0);

	lfd = listen_ok(&ep);
	assert_connects(&ep, lfd);
}
END_TEST

/* A regular file is never removed: the error names it. */
START_TEST(test_listen_not_socket)
{
	struct endpoint	 ep;
	struct stat	 st;
	char		 err[256] = "";
	int		 fd;

	tmp_endpoint(&ep, "regular");
	fd = open(ep.path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);

	ck_assert_int_eq(keep(endpoint_listen(&ep, err, sizeof err)), -1);
	ck_assert_msg(strstr(err, ep.path) != NULL, "error \"%s\" does not "
	    "name %s", err, ep.path);
	ck_assert_msg(strstr(err, "not a socket") != NULL, "error \"%s\"",
	    err);
	ck_assert_int_eq(lstat(ep.path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, 4);
}
END_TEST

/* A second listener on a live socket is refused; the first one lives. */
START_TEST(test_listen_busy)
{
	struct endpoint	 ep;
	char		 err[256] = "", buf[4];
	int		 lfd, afd;

	tmp_endpoint(&ep, "busy.sock");
	lfd = listen_ok(&ep);
	ck_assert_int_eq(keep(endpoint_listen(&ep, err, sizeof err)), -1);
	ck_assert_msg(strstr(err, ep.path) != NULL, "error \"%s\" does not "
	    "name %s", err, ep.path);
	ck_assert_msg(strstr(err, "listening") != NULL, "error \"%s\"", err);
	/* The refused listener's probe reaches the live one as an EOF. */
	wait_for(lfd, POLLIN);
	afd = keep(accept(lfd, NULL, NULL));
	ck_assert_int_ne(afd, -1);
	ck_assert_int_eq(read(afd, buf, sizeof buf), 0);
	assert_connects(&ep, lfd);
}
END_TEST

/* A missing directory is an error naming the endpoint. */
START_TEST(test_listen_no_dir)
{
	struct endpoint	 ep;
	char		 err[256] = "";

	tmp_endpoint(&ep, "nodir/x.sock");
	ck_assert_int_eq(keep(endpoint_listen(&ep, err, sizeof err)), -1);
	ck_assert_msg(strstr(err, ep.path) != NULL, "error \"%s\"", err);
}
END_TEST

START_TEST(test_connect_nobody)
{
	struct endpoint	ep;
	int		pending, unreserved;

	tmp_endpoint(&ep, "nobody.sock");
	errno = 0;
	ck_assert_int_eq(keep(endpoint_connect(&ep, &pending, &unreserved)),
	    -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(test_unlink)
{
	struct endpoint	ep;

	tmp_endpoint(&ep, "gone.sock");
	listen_ok(&ep);
	ck_assert_int_eq(access(ep.path, F_OK), 0);
	endpoint_unlink(&ep);
	ck_assert_int_eq(access(ep.path, F_OK), -1);
}
END_TEST

/* A relative Unix path becomes absolute, from the current directory. */
START_TEST(test_absolute)
{
	struct endpoint	 ep;
	char		 real[PATH_MAX], want[PATH_MAX + 16], err[256] = "";

	ck_assert_ptr_nonnull(realpath(tmpdir, real));
	ck_assert_int_eq(chdir(tmpdir), 0);
	ck_assert_int_eq(endpoint_parse("unix:sub/rel.sock", EP_LISTEN, &ep,
	    err, sizeof err), 0);
	ck_assert_msg(endpoint_absolute(&ep, err, sizeof err) == 0, "%s",
	    err);
	snprintf(want, sizeof want, "%s/sub/rel.sock", real);
	ck_assert_str_eq(ep.path, want);
	ck_assert_int_eq(strncmp(ep.str, "unix:", 5), 0);
	ck_assert_str_eq(ep.str + 5, want);

	/* Absolute paths and vsock endpoints are left alone. */
	ck_assert_int_eq(endpoint_parse("unix:/x/y.sock", EP_CONNECT, &ep,
	    err, sizeof err), 0);
	ck_assert_int_eq(endpoint_absolute(&ep, err, sizeof err), 0);
	ck_assert_str_eq(ep.path, "/x/y.sock");
	ck_assert_str_eq(ep.str, "unix:/x/y.sock");
	ck_assert_int_eq(endpoint_parse("vsock:3:5", EP_CONNECT, &ep, err,
	    sizeof err), 0);
	ck_assert_int_eq(endpoint_absolute(&ep, err, sizeof err), 0);
	ck_assert_str_eq(ep.str, "vsock:3:5");
	ck_assert_str_eq(ep.path, "");
}
END_TEST

/* A relative path that would be too long made absolute is refused. */
START_TEST(test_absolute_too_long)
{
	struct endpoint	 ep;
	char		 in[5 + 107 + 1], err[512] = "";

	ck_assert_int_eq(chdir(tmpdir), 0);
	memcpy(in, "unix:", 5);
	memset(in + 5, 'r', 100);
	in[5 + 100] = '\0';
	ck_assert_int_eq(endpoint_parse(in, EP_LISTEN, &ep, err, sizeof err),
	    0);
	ck_assert_int_eq(endpoint_absolute(&ep, err, sizeof err), -1);
	ck_assert_msg(strstr(err, "longer than") != NULL, "error \"%s\"",
	    err);
	ck_assert_str_eq(ep.path, in + 5);
	ck_assert_str_eq(ep.str, in);
}
END_TEST

static Suite *
endpoint_suite(void)
{
	Suite	*s = suite_create("endpoint");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_ok, 0, NPARSE_OKS);
	tcase_add_loop_test(tc, test_parse_bad, 0, NPARSE_BADS);
	tcase_add_test(tc, test_parse_unix_path_length);
	tcase_add_test(tc, test_parse_small_err);
	suite_add_tcase(s, tc);

	tc = tcase_create("unix");
	tcase_add_checked_fixture(tc, sock_setup, sock_teardown);
	tcase_add_test(tc, test_listen_connect);
	tcase_add_test(tc, test_listen_stale);
	tcase_add_test(tc, test_listen_not_socket);
	tcase_add_test(tc, test_listen_busy);
	tcase_add_test(tc, test_listen_no_dir);
	tcase_add_test(tc, test_connect_nobody);
	tcase_add_test(tc, test_unlink);
	tcase_add_test(tc, test_absolute);
	tcase_add_test(tc, test_absolute_too_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(endpoint_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
