/*
 * Unit tests for guest-agent/privsep.c: the privileged helper's side.
 * The helper's loop (privsep_serve) runs in a child forked from the
 * test, over a real SOCK_SEQPACKET socketpair; the test is the worker
 * and sends it bytes, well-formed or not.  The helper must answer OWNER
 * from the real /proc (proc.c: the worker's sockets are the agent's
 * own), pass a socket connected to the configured unix: endpoint for
 * CONNECT, and end (exit status 1) at anything else: a wrong size, an
 * unknown type, a field out of range, a descriptor.  The pure check
 * (privsep_check_req) is also held to golden byte layouts.  check forks
 * for every test; the helper is forked after the fixture named the
 * endpoint and before the test makes the sockets it asks about.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

static struct guest	g;
struct guest		*guest = &g;

/* Stand-ins for what the helper's start and end call, unused here. */
int
daemon_pidfile_fd(void)
{
	return -1;
}

void
daemon_forget(void)
{
}

void
daemon_exit(void)
{
}

void
status_forget(void)
{
}

void
status_unlink(void)
{
}

void
pxsock_forget(void)
{
}

void
pxsock_unlink(void)
{
}

void
privdrop(void)
{
}

int
jail_user(const char *user, uid_t *uid, gid_t *gid)
{
	(void)user;
	*uid = 0;
	*gid = 0;
	return 0;
}

void
jail_prepare(void)
{
}

void
jail_enter(uid_t uid, gid_t gid)
{
	(void)uid;
	(void)gid;
}

const char *
jail_possible(void)
{
	return "a unit test";
}

#define REQ_SIZE	(16 + PRIVSEP_PATH_LEN)
#define ANS_SIZE	(16 + PH_NAME_MAX + 4 + sizeof(struct natbind))

static struct {
	char	dir[64];
	char	path[108];	/* the unix: endpoint */
	int	fd;		/* the worker's end */
	pid_t	helper;
	pid_t	child;		/* another process holding a socket */
	int	hold;		/* closed: the child exits */
} t = { .fd = -1 };

static uint64_t
sock_inode(int fd)
{
	struct stat	sb;

	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	return (uint64_t)sb.st_ino;
}

static void
ep_set(const char *spec)
{
	char	err[256];

	ck_assert_msg(endpoint_parse(spec, EP_CONNECT, &g.ep, err,
	    sizeof err) == 0, "%s: %s", spec, err);
}

/* The helper, as privsep_helper runs it once set up. */
static void
helper_start(void)
{
	int	sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, sv), 0);
	ck_assert_int_ne(t.helper = fork(), -1);
	if (t.helper == 0) {
		close(sv[0]);
		prctl(PR_SET_NAME, "ph-helper", 0, 0, 0);
		proc_set_worker(getppid());
		_exit(privsep_serve(sv[1]) == -1 ? 1 : 0);
	}
	close(sv[1]);
	t.fd = sv[0];
}

static void
setup(void)
{
	char	spec[128];

	ck_assert_int_eq(prctl(PR_SET_NAME, "ph-worker", 0, 0, 0), 0);
	snprintf(t.dir, sizeof t.dir, "/tmp/check_privsep.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t.dir));
	snprintf(t.path, sizeof t.path, "%s/host.sock", t.dir);
	snprintf(spec, sizeof spec, "unix:%s", t.path);
	ep_set(spec);
	strlcpy(g.reach_dir, t.dir, sizeof g.reach_dir);
	helper_start();
}

/* The helper's exit status, once the worker's end is closed. */
static int
helper_wait(void)
{
	int	status;

	if (t.fd != -1)
		close(t.fd);
	t.fd = -1;
	ck_assert_int_eq(waitpid(t.helper, &status, 0), t.helper);
	t.helper = 0;
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
teardown(void)
{
	char	other[160];
	int	status;

	if (t.helper > 0)
		helper_wait();
	if (t.child > 0) {
		close(t.hold);
		waitpid(t.child, &status, 0);
	}
	unlink(t.path);
	snprintf(other, sizeof other, "%s/other.sock", t.dir);
	unlink(other);
	rmdir(t.dir);
}

/* A child named name holding a socket: its inode. */
static uint64_t
child_socket(const char *name)
{
	int		in[2], out[2], s;
	uint64_t	inode;
	char		c;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_ne(t.child = fork(), -1);
	if (t.child == 0) {
		close(t.fd);	/* the helper sees the worker's EOF */
		close(in[1]);
		close(out[0]);
		prctl(PR_SET_NAME, name, 0, 0, 0);
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			_exit(1);
		inode = sock_inode(s);
		if (write(out[1], &inode, sizeof inode) != sizeof inode)
			_exit(1);
		(void)read(in[0], &c, 1);	/* until the test closes */
		_exit(0);
	}
	close(in[0]);
	close(out[1]);
	ck_assert_int_eq(read(out[0], &inode, sizeof inode), sizeof inode);
	close(out[0]);
	t.hold = in[1];
	return inode;
}

static void
req_make(uint8_t *b, uint32_t type, uint32_t zero, uint64_t inode)
{
	struct privsep_req	r = { .type = type, .zero = zero, .inode = inode };

	memcpy(b, &r, sizeof r);
}

/* Sends len bytes, and pass with them unless -1. */
static void
send_raw(const void *p, size_t len, int pass)
{
	char		 cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { (void *)p, len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*cm;

	if (pass != -1) {
		memset(cbuf, 0, sizeof cbuf);
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof cbuf;
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass, sizeof pass);
	}
	ck_assert_int_eq(sendmsg(t.fd, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

/* The helper's answer (its size), and the descriptor with it or -1. */
static ssize_t
recv_ans(struct privsep_ans *a, int *fdp)
{
	char		 cbuf[CMSG_SPACE(sizeof(int))];
	uint8_t		 buf[ANS_SIZE + 1];
	struct iovec	 iov = { buf, sizeof buf };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr	*cm;
	ssize_t		 n;

	*fdp = -1;
	memset(a, 0, sizeof *a);
	n = recvmsg(t.fd, &msg, MSG_CMSG_CLOEXEC);
	ck_assert_int_ge(n, 0);
	if ((cm = CMSG_FIRSTHDR(&msg)) != NULL) {
		ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
		ck_assert_int_eq(cm->cmsg_len, CMSG_LEN(sizeof(int)));
		memcpy(fdp, CMSG_DATA(cm), sizeof *fdp);
	}
	memcpy(a, buf, (size_t)n < sizeof *a ? (size_t)n : sizeof *a);
	return n;
}

static void
ask_owner(uint64_t inode, struct privsep_ans *a)
{
	uint8_t	b[REQ_SIZE];
	int	fd;

	req_make(b, PRIVSEP_OWNER, 0, inode);
	send_raw(b, sizeof b, -1);
	ck_assert_int_eq(recv_ans(a, &fd), ANS_SIZE);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(a->type, PRIVSEP_OWNER);
	ck_assert_ptr_nonnull(memchr(a->name, '\0', sizeof a->name));
}

/* Sends bytes the helper must not take: it ends, status 1, no answer. */
static void
expect_refused(const void *p, size_t len, int pass)
{
	struct privsep_ans	a;
	int			fd;

	send_raw(p, len, pass);
	ck_assert_int_eq(recv_ans(&a, &fd), 0);	/* its end closed */
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(helper_wait(), 1);
}

START_TEST(test_layout)
{
	ck_assert_uint_eq(sizeof(struct privsep_req), REQ_SIZE);
	ck_assert_uint_eq(offsetof(struct privsep_req, zero), 4);
	ck_assert_uint_eq(offsetof(struct privsep_req, inode), 8);
	ck_assert_uint_eq(offsetof(struct privsep_req, path), 16);
	ck_assert_uint_eq(REQ_SIZE, 128);
	ck_assert_uint_eq(sizeof(struct privsep_ans), ANS_SIZE);
	ck_assert_uint_eq(offsetof(struct privsep_ans, err), 4);
	ck_assert_uint_eq(offsetof(struct privsep_ans, own), 8);
	ck_assert_uint_eq(offsetof(struct privsep_ans, pending), 12);
	ck_assert_uint_eq(offsetof(struct privsep_ans, name), 16);
	ck_assert_uint_eq(offsetof(struct privsep_ans, count), 16 + PH_NAME_MAX);
	ck_assert_uint_eq(offsetof(struct privsep_ans, nat), 20 + PH_NAME_MAX);
	ck_assert_int_eq(PRIVSEP_OWNER, 1);
	ck_assert_int_eq(PRIVSEP_CONNECT, 2);
	ck_assert_int_eq(PRIVSEP_NATWATCH, 3);
	ck_assert_int_eq(PRIVSEP_NATDUMP, 4);
	ck_assert_int_eq(PRIVSEP_CONNECT_UNIX, 5);
	ck_assert_int_eq(PRIVSEP_LISTEN_UNIX, 6);
	ck_assert_int_eq(PRIVSEP_UNLINK_UNIX, 7);
}
END_TEST

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Golden requests, in the host's order (little-endian here). */
static const uint8_t owner_42[REQ_SIZE] = {
	0x01, 0x00, 0x00, 0x00,		/* type: OWNER */
	0x00, 0x00, 0x00, 0x00,		/* zero */
	0x2a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00	/* inode 42 */
};
static const uint8_t owner_big[REQ_SIZE] = {
	0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
	0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x81	/* 0x81..ef */
};
static const uint8_t connect_req[REQ_SIZE] = {
	0x02, 0x00, 0x00, 0x00,		/* type: CONNECT */
	0x00, 0x00, 0x00, 0x00,		/* zero */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00	/* inode: none */
};

START_TEST(test_golden_good)
{
	struct privsep_req	r;

	ck_assert_ptr_null(privsep_check_req(owner_42, REQ_SIZE, 0, &r));
	ck_assert_uint_eq(r.type, PRIVSEP_OWNER);
	ck_assert_uint_eq(r.inode, 42);
	ck_assert_ptr_null(privsep_check_req(owner_big, REQ_SIZE, 0, &r));
	ck_assert_uint_eq(r.inode, 0x8123456789abcdefULL);
	/* Both endpoint types: for vsock the helper binds a reserved port. */
	ck_assert_ptr_null(privsep_check_req(connect_req, REQ_SIZE, 0, &r));
	ck_assert_uint_eq(r.type, PRIVSEP_CONNECT);
}
END_TEST

/* Bytes of a request that must be refused, each with what is wrong. */
static const struct {
	uint8_t		b[REQ_SIZE];
	const char	*what;
} golden_bad[] = {
	{ { 0 }, "type 0, inode 0" },
	{ { 0x00, 0, 0, 0, 0, 0, 0, 0, 0x2a }, "type 0" },
	{ { 0x05, 0, 0, 0, 0, 0, 0, 0, 0x2a }, "type 5" },
	{ { 0x05 }, "type 5, inode 0" },
	{ { 0x03, 0, 0, 0, 0, 0, 0, 0, 0x2a }, "NATWATCH, inode 42" },
	{ { 0x04, 0, 0, 0, 0, 0, 0, 0, 0x01 }, "NATDUMP, inode 1" },
	{ { 0xff, 0xff, 0xff, 0xff }, "type ~0, inode 0" },
	{ { 0x01, 0, 0, 0x01, 0, 0, 0, 0, 0x2a }, "type 1 << 24" },
	{ { 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0x2a }, "type ~0" },
	{ { 0x01, 0, 0, 0, 0x01, 0, 0, 0, 0x2a }, "zero: 1" },
	{ { 0x01, 0, 0, 0, 0, 0, 0, 0x80, 0x2a }, "zero: 1 << 31" },
	{ { 0x01, 0, 0, 0, 0, 0, 0, 0, 0 }, "OWNER of inode 0" },
	{ { 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01 }, "CONNECT, inode 1" },
	{ { 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80 },
	    "CONNECT, inode 1 << 63" },
	{ { 0x02, 0, 0, 0, 0x2f, 0x74, 0x6d, 0x70 }, "CONNECT, zero: /tmp" },
};

START_TEST(test_golden_bad)
{
	struct privsep_req	r;

	ck_assert_msg(privsep_check_req(golden_bad[_i].b, REQ_SIZE, 0,
	    &r) != NULL, "%s taken", golden_bad[_i].what);
}
END_TEST

/* Any bit flipped in type or zero is refused; in the inode, taken. */
START_TEST(test_bit_flips)
{
	struct privsep_req	r;
	uint8_t			b[REQ_SIZE];
	uint64_t		want;
	const char		*why;
	int			bit;

	for (bit = 0; bit < REQ_SIZE * 8; bit++) {
		memcpy(b, owner_42, sizeof b);
		b[bit / 8] ^= 1 << (bit % 8);
		why = privsep_check_req(b, sizeof b, 0, &r);
		if (bit < 64 || bit >= 128) {	/* type, zero, path */
			ck_assert_msg(why != NULL, "bit %d flipped, taken",
			    bit);
			continue;
		}
		want = 42ULL ^ (1ULL << (bit - 64));
		ck_assert_msg(why == NULL, "bit %d: %s", bit, why);
		ck_assert_uint_eq(r.inode, want);
	}
}
END_TEST
#endif

/*
 * CONNECT_UNIX: a path the agent forwards (usock.c: a default engine
 * socket, or -x), NUL-terminated with zeros after, and no inode.
 */
static void
unix_req(uint8_t *b, const char *path, uint64_t inode)
{
	struct privsep_req	r;

	memset(&r, 0, sizeof r);
	r.type = PRIVSEP_CONNECT_UNIX;
	r.inode = inode;
	memcpy(r.path, path, strlen(path));
	memcpy(b, &r, sizeof r);
}

START_TEST(test_connect_unix_check)
{
	struct privsep_req	r;
	uint8_t			b[REQ_SIZE];
	const char		*why;

	g.usock_defaults = 1;
	unix_req(b, "/var/run/docker.sock", 0);
	ck_assert_ptr_null(privsep_check_req(b, REQ_SIZE, 0, &r));
	ck_assert_str_eq(r.path, "/var/run/docker.sock");
	unix_req(b, "/run/user/1000/docker.sock", 0);
	ck_assert_ptr_null(privsep_check_req(b, REQ_SIZE, 0, &r));
	unix_req(b, "/var/run/docker.sock", 1);
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	unix_req(b, "/etc/shadow", 0);
	why = privsep_check_req(b, REQ_SIZE, 0, &r);
	ck_assert_str_eq(why, "CONNECT_UNIX to a path the agent does not "
	    "forward");
	unix_req(b, "/run/user/01/docker.sock", 0);
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	unix_req(b, "/run/user/1/../docker.sock", 0);
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	unix_req(b, "", 0);
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	unix_req(b, "/var/run/docker.sock", 0);	/* bytes after its NUL */
	b[16 + 30] = 'x';
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	memset(b + 16, 'a', PRIVSEP_PATH_LEN);	/* no NUL at all */
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	g.usock_defaults = 0;			/* -x none */
	unix_req(b, "/var/run/docker.sock", 0);
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, 0, &r));
	ck_assert_int_eq(usock_add("/srv/app.sock", &why), 0);
	unix_req(b, "/srv/app.sock", 0);
	ck_assert_ptr_null(privsep_check_req(b, REQ_SIZE, 0, &r));
}
END_TEST

/* usock_user: the UID of a path under a user's runtime directory. */
START_TEST(test_usock_user)
{
	uid_t	uid = 7;

	ck_assert_int_eq(usock_user("/run/user/1000/docker.sock", &uid), 1);
	ck_assert_uint_eq(uid, 1000);
	ck_assert_int_eq(usock_user("/var/run/user/0/podman/podman.sock",
	    &uid), 1);
	ck_assert_uint_eq(uid, 0);
	ck_assert_int_eq(usock_user("/run/user/1000", &uid), 0);
	ck_assert_int_eq(usock_user("/run/user/10x/docker.sock", &uid), 0);
	ck_assert_int_eq(usock_user("/run/user//1000/docker.sock", &uid), 0);
	ck_assert_int_eq(usock_user("/run/user/4294967296/d.sock", &uid), 0);
	ck_assert_int_eq(usock_user("/run/users/1000/docker.sock", &uid), 0);
	ck_assert_int_eq(usock_user("/varx/run/user/1/docker.sock", &uid), 0);
	ck_assert_int_eq(usock_user("/var/run/docker.sock", &uid), 0);
}
END_TEST

/* Only a message of the size of one request, with nothing else. */
START_TEST(test_check_sizes)
{
	struct privsep_req	r;
	uint8_t			b[REQ_SIZE + 1];
	size_t			n;

	memset(b, 0, sizeof b);
	req_make(b, PRIVSEP_OWNER, 0, 42);
	for (n = 0; n <= sizeof b; n++)
		ck_assert_msg((privsep_check_req(b, n, 0, &r) ==
		    NULL) == (n == REQ_SIZE), "%zu bytes", n);
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, MSG_TRUNC, &r));
	ck_assert_ptr_nonnull(privsep_check_req(b, REQ_SIZE, MSG_CTRUNC, &r));
	ck_assert_ptr_null(privsep_check_req(b, REQ_SIZE, MSG_EOR, &r));
}
END_TEST

/* The worker's own socket: the agent's, named as the worker is. */
START_TEST(test_owner_self)
{
	struct privsep_ans	a;
	int			s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ask_owner(sock_inode(s), &a);
	ck_assert_uint_eq(a.own, 1);
	ck_assert_str_eq(a.name, "ph-worker");
	ck_assert_int_eq(a.err, 0);
	ck_assert_uint_eq(a.pending, 0);
	close(s);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

/* Another process's socket: not the agent's, and that process named. */
START_TEST(test_owner_child)
{
	struct privsep_ans	a;
	uint64_t		inode = child_socket("ph-target");
	int			i;

	for (i = 0; i < 2; i++) {	/* the helper keeps answering */
		ask_owner(inode, &a);
		ck_assert_uint_eq(a.own, 0);
		ck_assert_str_eq(a.name, "ph-target");
	}
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

/* A socket nobody holds: nobody's, no name. */
START_TEST(test_owner_gone)
{
	struct privsep_ans	a;
	uint64_t		inode;
	int			s;

	s = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(s, 0);
	inode = sock_inode(s);
	close(s);
	ask_owner(inode, &a);
	ck_assert_uint_eq(a.own, 0);
	ck_assert_str_eq(a.name, "");
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

/* Sizes other than a request's, over the socketpair. */
static const size_t bad_sizes[] = { 1, REQ_SIZE - 1, REQ_SIZE + 1,
    REQ_SIZE * 2, 4096 };

START_TEST(test_serve_bad_size)
{
	uint8_t	b[4096];

	memset(b, 0, sizeof b);
	req_make(b, PRIVSEP_OWNER, 0, 42);
	expect_refused(b, bad_sizes[_i], -1);
}
END_TEST

/*
 * An empty message reads as the end of the stream (SOCK_SEQPACKET
 * cannot tell them apart): the helper ends, as at the worker's exit.
 */
START_TEST(test_serve_empty)
{
	struct privsep_ans	a;
	int			fd;

	send_raw("", 0, -1);
	ck_assert_int_eq(recv_ans(&a, &fd), 0);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

static const struct privsep_req bad_reqs[] = {
	{ .type = 0, .zero = 0, .inode = 42 },		/* no type */
	{ .type = 8, .zero = 0, .inode = 0 },		/* unknown */
	{ .type = PRIVSEP_LISTEN_UNIX, .zero = 0, .inode = 0 },	/* no name */
	{ .type = PRIVSEP_LISTEN_UNIX, .zero = 0, .inode = 0,
	    .path = "../x" },				/* climbs out */
	{ .type = PRIVSEP_LISTEN_UNIX, .zero = 0, .inode = 0,
	    .path = "/etc/x" },				/* a path */
	{ .type = PRIVSEP_LISTEN_UNIX, .zero = 0, .inode = 1,
	    .path = "agent" },				/* an inode */
	{ .type = PRIVSEP_UNLINK_UNIX, .zero = 0, .inode = 0,
	    .path = "a/b" },
	{ .type = PRIVSEP_NATWATCH, .zero = 0, .inode = 42 },	/* has none */
	{ .type = PRIVSEP_NATDUMP, .zero = 0, .inode = 1 },	/* nor this */
	{ .type = PRIVSEP_NATDUMP, .zero = 0, .inode = 0, .path = "/" },
	{ .type = PRIVSEP_CONNECT_UNIX, .zero = 0, .inode = 42 },
	{ .type = PRIVSEP_CONNECT_UNIX, .zero = 0, .inode = 0 },  /* no path */
	{ .type = PRIVSEP_CONNECT_UNIX, .zero = 0, .inode = 0,
	    .path = "/etc/shadow" },			/* not forwarded */
	{ .type = 0xffffffffU, .zero = 0, .inode = 42 },
	{ .type = PRIVSEP_OWNER, .zero = 1, .inode = 42 },	/* zero is not */
	{ .type = PRIVSEP_OWNER, .zero = 0x80000000U, .inode = 42 },
	{ .type = PRIVSEP_OWNER, .zero = 0, .inode = 0 },	/* no inode */
	{ .type = PRIVSEP_CONNECT, .zero = 0, .inode = 1 },	/* has none */
	{ .type = PRIVSEP_CONNECT, .zero = 0, .inode = ~0ULL },
	{ .type = PRIVSEP_CONNECT, .zero = 7, .inode = 0 },
};

START_TEST(test_serve_bad_fields)
{
	expect_refused(&bad_reqs[_i], sizeof bad_reqs[_i], -1);
}
END_TEST

/* A descriptor with a well-formed request: the helper takes none. */
START_TEST(test_serve_descriptor)
{
	uint8_t	b[REQ_SIZE];
	int	s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	req_make(b, PRIVSEP_OWNER, 0, sock_inode(s));
	expect_refused(b, sizeof b, s);
	close(s);
}
END_TEST

/* A good request after good ones, then a bad one: it ends there. */
START_TEST(test_serve_bad_after_good)
{
	struct privsep_ans	a;
	uint8_t			b[REQ_SIZE];
	int			s;

	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ask_owner(sock_inode(s), &a);
	ck_assert_uint_eq(a.own, 1);
	req_make(b, 9, 0, sock_inode(s));
	expect_refused(b, sizeof b, -1);
	close(s);
}
END_TEST

static int
unix_listen(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	strlcpy(sun.sun_path, path, sizeof sun.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

/* A client of the socket at path: connected at once, or the test fails. */
static int
unix_connect_ok(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	strlcpy(sun.sun_path, path, sizeof sun.sun_path);
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	return fd;
}

/*
 * LISTEN_UNIX (protocol 6): a socket listening at DIR/NAME.sock, 0600,
 * passed; one the helper made earlier is replaced, a file that is no
 * socket is not; UNLINK_UNIX removes it.
 */
static int
ask_reach(uint32_t type, const char *name, struct privsep_ans *a)
{
	struct privsep_req	r = { .type = type };
	int			fd;

	strlcpy(r.path, name, sizeof r.path);
	send_raw(&r, sizeof r, -1);
	ck_assert_int_eq(recv_ans(a, &fd), ANS_SIZE);
	ck_assert_int_eq(a->type, type);
	return fd;
}

START_TEST(test_listen_unix)
{
	struct privsep_ans	a;
	struct stat		st;
	char			path[PH_SOCKPATH_MAX + 16];
	int			fd, fd2, c;

	snprintf(path, sizeof path, "%s/agent.sock", t.dir);
	fd = ask_reach(PRIVSEP_LISTEN_UNIX, "agent", &a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	c = unix_connect_ok(path);
	close(c);
	fd2 = ask_reach(PRIVSEP_LISTEN_UNIX, "agent", &a);	/* replaced */
	ck_assert_int_ge(fd2, 0);
	close(fd);
	close(fd2);
	ask_reach(PRIVSEP_UNLINK_UNIX, "agent", &a);
	ck_assert_int_eq(lstat(path, &st), -1);
	snprintf(path, sizeof path, "%s/plain.sock", t.dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(ask_reach(PRIVSEP_LISTEN_UNIX, "plain", &a), -1);
	ck_assert_int_eq(a.err, EEXIST);
	ask_reach(PRIVSEP_UNLINK_UNIX, "plain", &a);	/* not a socket */
	ck_assert_int_eq(lstat(path, &st), 0);
	unlink(path);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

/*
 * The reach directory must be a directory of the helper's user that no
 * one else may write: one writable by others, or a symbolic link to a
 * good one, is refused and no socket is made; made 0755 if missing.
 */
START_TEST(test_listen_unix_dir)
{
	struct privsep_ans	a;
	struct stat		st;
	char			path[PH_SOCKPATH_MAX + 16];
	char			link[PH_SOCKPATH_MAX], made[PH_SOCKPATH_MAX];
	int			fd;

	snprintf(path, sizeof path, "%s/agent.sock", t.dir);
	ck_assert_int_eq(chmod(t.dir, 0777), 0);
	ck_assert_int_eq(ask_reach(PRIVSEP_LISTEN_UNIX, "agent", &a), -1);
	ck_assert_int_eq(a.err, EPERM);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(chmod(t.dir, 0720), 0);
	ck_assert_int_eq(ask_reach(PRIVSEP_LISTEN_UNIX, "agent", &a), -1);
	ck_assert_int_eq(a.err, EPERM);
	ck_assert_int_eq(chmod(t.dir, 0700), 0);

	snprintf(link, sizeof link, "%s.link", t.dir);
	snprintf(made, sizeof made, "%s/made", t.dir);
	ck_assert_int_eq(symlink(t.dir, link), 0);
	close(t.fd);
	t.fd = -1;
	ck_assert_int_eq(helper_wait(), 0);
	strlcpy(g.reach_dir, link, sizeof g.reach_dir);
	helper_start();
	ck_assert_int_eq(ask_reach(PRIVSEP_LISTEN_UNIX, "agent", &a), -1);
	ck_assert_int_eq(a.err, ENOTDIR);
	ck_assert_int_eq(lstat(path, &st), -1);
	ck_assert_int_eq(unlink(link), 0);

	close(t.fd);
	t.fd = -1;
	ck_assert_int_eq(helper_wait(), 0);
	strlcpy(g.reach_dir, made, sizeof g.reach_dir);
	helper_start();
	fd = ask_reach(PRIVSEP_LISTEN_UNIX, "agent", &a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lstat(made, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 022, 0);
	close(fd);
	ask_reach(PRIVSEP_UNLINK_UNIX, "agent", &a);
	ck_assert_int_eq(rmdir(made), 0);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

static int
ask_connect(struct privsep_ans *a)
{
	struct privsep_req	r = { .type = PRIVSEP_CONNECT };
	int			fd;

	send_raw(&r, sizeof r, -1);
	ck_assert_int_eq(recv_ans(a, &fd), ANS_SIZE);
	ck_assert_int_eq(a->type, PRIVSEP_CONNECT);
	return fd;
}

/* Nothing waiting on a listener: nobody connected to it. */
static void
expect_no_client(int lfd)
{
	int	fl = fcntl(lfd, F_GETFL);

	ck_assert_int_eq(fcntl(lfd, F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_eq(accept(lfd, NULL, NULL), -1);
	ck_assert_int_eq(errno, EAGAIN);
}

/* The socket passed is connected to the endpoint the test listens on. */
START_TEST(test_connect)
{
	struct sockaddr_un	sun;
	struct privsep_ans	a;
	socklen_t		sl = sizeof sun;
	int			lfd, fd, cfd, i;
	char			c;

	lfd = unix_listen(t.path);
	for (i = 0; i < 2; i++) {
		fd = ask_connect(&a);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(a.err, 0);
		ck_assert_uint_eq(a.own, 0);
		ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&sun,
		    &sl), 0);
		ck_assert_str_eq(sun.sun_path, t.path);
		cfd = accept(lfd, NULL, NULL);
		ck_assert_int_ge(cfd, 0);
		ck_assert_int_eq(write(fd, "x", 1), 1);
		ck_assert_int_eq(read(cfd, &c, 1), 1);
		ck_assert_int_eq(c, 'x');
		close(cfd);
		close(fd);
	}
	close(lfd);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

/* Nobody listening: the error, no socket, and the helper goes on. */
START_TEST(test_connect_refused)
{
	struct privsep_ans	a;
	int			s;

	ck_assert_int_eq(ask_connect(&a), -1);
	ck_assert_int_eq(a.err, ENOENT);
	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ask_owner(sock_inode(s), &a);
	ck_assert_uint_eq(a.own, 1);
	close(s);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

static int
ask_unix(const char *path, struct privsep_ans *a)
{
	struct privsep_req	r = { .type = PRIVSEP_CONNECT_UNIX };
	int			fd;

	strlcpy(r.path, path, sizeof r.path);
	send_raw(&r, sizeof r, -1);
	ck_assert_int_eq(recv_ans(a, &fd), ANS_SIZE);
	ck_assert_int_eq(a->type, PRIVSEP_CONNECT_UNIX);
	ck_assert_msg((fd != -1) == (a->err == 0), "fd %d with error %d", fd,
	    a->err);
	return fd;
}

/*
 * CONNECT_UNIX dials the socket file at a -x path and nothing else: a
 * real socket is connected to; once its owner swaps it for a symbolic
 * link to another socket (one only root may use, in the attack), the
 * helper refuses with ELOOP and the other listener sees no one; a file
 * that is no socket is refused with ENOTSOCK.  The helper serves on.
 */
START_TEST(test_connect_unix_link)
{
	struct privsep_ans	a;
	char			app[PH_SOCKPATH_MAX], other[PH_SOCKPATH_MAX];
	const char		*why;
	int			lfd, ofd, fd, cfd;
	char			c;

	snprintf(app, sizeof app, "%s/app.sock", t.dir);
	snprintf(other, sizeof other, "%s/other.sock", t.dir);
	close(t.fd);
	t.fd = -1;
	ck_assert_int_eq(helper_wait(), 0);
	g.usock_defaults = 0;
	ck_assert_int_eq(usock_add(app, &why), 0);
	helper_start();

	lfd = unix_listen(app);
	ofd = unix_listen(other);
	fd = ask_unix(app, &a);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(cfd = accept(lfd, NULL, NULL), 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(read(cfd, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(cfd);
	close(fd);

	ck_assert_int_eq(unlink(app), 0);
	ck_assert_int_eq(symlink(other, app), 0);
	ck_assert_int_eq(ask_unix(app, &a), -1);
	ck_assert_int_eq(a.err, ELOOP);
	expect_no_client(ofd);

	ck_assert_int_eq(unlink(app), 0);
	close(open(app, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(ask_unix(app, &a), -1);
	ck_assert_int_eq(a.err, ENOTSOCK);
	ck_assert_int_eq(unlink(app), 0);
	ck_assert_int_eq(ask_unix(app, &a), -1);
	ck_assert_int_eq(a.err, ENOENT);

	close(lfd);
	close(ofd);
	ck_assert_int_eq(helper_wait(), 0);
}
END_TEST

/*
 * Whatever the request says, the helper dials the configured endpoint
 * or nothing: a path after a CONNECT, or a CONNECT carrying a number,
 * ends it, and the other listener saw no one.
 */
START_TEST(test_connect_only_configured)
{
	struct {
		struct privsep_req	r;
		char			path[100];
	} m;
	int	lfd, other;

	lfd = unix_listen(t.path);
	memset(&m, 0, sizeof m);
	m.r.type = PRIVSEP_CONNECT;
	snprintf(m.path, sizeof m.path, "%s/other.sock", t.dir);
	other = unix_listen(m.path);
	if (_i == 0) {
		expect_refused(&m, sizeof m, -1);
	} else {
		m.r.inode = sock_inode(other);
		expect_refused(&m.r, sizeof m.r, -1);
	}
	expect_no_client(other);
	expect_no_client(lfd);
	close(other);
	close(lfd);
}
END_TEST

/*
 * A vsock endpoint is the helper's to dial too (from a reserved port):
 * CONNECT gets an answer, a socket or the dial's error, and the helper
 * serves on.  CID 1, the only one a test may dial; without
 * vsock_loopback the answer is an error.
 */
START_TEST(test_connect_vsock)
{
	struct privsep_req	r = { .type = PRIVSEP_CONNECT };
	struct privsep_ans	a;
	int			fd;

	close(t.fd);
	t.fd = -1;
	ck_assert_int_eq(helper_wait(), 0);
	ep_set("vsock:1:6440");
	helper_start();
	send_raw(&r, sizeof r, -1);
	ck_assert_int_eq(recv_ans(&a, &fd), ANS_SIZE);
	ck_assert_int_eq(a.type, PRIVSEP_CONNECT);
	ck_assert_msg((fd != -1) == (a.err == 0), "fd %d with error %d", fd,
	    a.err);
	if (fd != -1)
		close(fd);
	ask_owner(42, &a);
}
END_TEST

static Suite *
privsep_suite(void)
{
	Suite	*s = suite_create("privsep");
	TCase	*tc;

	tc = tcase_create("check");
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_connect_unix_check);
	tcase_add_test(tc, test_usock_user);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	tcase_add_test(tc, test_golden_good);
	tcase_add_loop_test(tc, test_golden_bad, 0,
	    sizeof golden_bad / sizeof golden_bad[0]);
	tcase_add_test(tc, test_bit_flips);
#endif
	tcase_add_test(tc, test_check_sizes);
	suite_add_tcase(s, tc);

	tc = tcase_create("serve");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_owner_self);
	tcase_add_test(tc, test_owner_child);
	tcase_add_test(tc, test_owner_gone);
	tcase_add_loop_test(tc, test_serve_bad_size, 0,
	    sizeof bad_sizes / sizeof bad_sizes[0]);
	tcase_add_test(tc, test_serve_empty);
	tcase_add_loop_test(tc, test_serve_bad_fields, 0,
	    sizeof bad_reqs / sizeof bad_reqs[0]);
	tcase_add_test(tc, test_serve_descriptor);
	tcase_add_test(tc, test_serve_bad_after_good);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_connect);
	tcase_add_test(tc, test_listen_unix);
	tcase_add_test(tc, test_listen_unix_dir);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_connect_unix_link);
	tcase_add_loop_test(tc, test_connect_only_configured, 0, 2);
	tcase_add_test(tc, test_connect_vsock);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(privsep_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
