/*
 * Privilege separation, as in OpenSSH's sshd and OpenSMTPD.  Start-up
 * needs root (privdrop.c says what for); after it, the process that
 * speaks to the host, parses its frames, watches binds, dials targets
 * and relays (the worker) keeps nothing: it runs as an unprivileged
 * user in an empty root with no capability (jail.c).  A small helper,
 * forked from it before that, keeps what naming the process behind a
 * bind needs (uid 0, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE) and reading
 * the NAT rules needs (CAP_NET_ADMIN), and answers four questions, one
 * at a time, over a SOCK_SEQPACKET socketpair:
 *
 *	OWNER	inode -> the name of the process holding that socket, and
 *		whether it is the agent's own (proc.c)
 *	CONNECT	-> a socket connected to the host's endpoint, passed with
 *		SCM_RIGHTS: the worker's root is empty, so it cannot name
 *		a unix: path, and it may not bind the reserved vsock port
 *		that tells the host the connection is the agent's
 *		(CAP_NET_BIND_SERVICE, which the helper keeps for a vsock
 *		endpoint).  The helper dials the endpoint given at start,
 *		never one the worker names.
 *	CONNECT_UNIX path -> a socket connected to a guest Unix socket
 *		the agent forwards (protocol 5), passed the same way: the
 *		worker cannot reach the path, nor a socket only root may
 *		use.  The helper dials only a path the agent's -x list or
 *		default engine sockets take (usock.c), never another, and
 *		only the socket file there: not a symbolic link a user put
 *		in its place; under /run/user/UID/, only UID's listener.
 *
 *	LISTEN_UNIX name -> a socket listening at DIR/NAME.sock for one of
 *		the host's reverse entries (protocol 6, reachsock.c), passed
 *		the same way: the worker cannot make a file.  The name is
 *		checked as one path component, so that no other path can
 *		be asked for.  UNLINK_UNIX name removes it again.
 *
 *	NATWATCH -> a socket that hears each nf_tables commit
 *		(natdump.c), passed with SCM_RIGHTS: joining the group
 *		takes CAP_NET_ADMIN, hearing on it nothing
 *	NATDUMP	-> the ports the VM's DNAT rules publish, read by the
 *		helper (CAP_NET_ADMIN): an answer with their number (at
 *		most NAT_MAX), then one answer each, counting down
 *
 * The worker stays the process that was started, so that what an init
 * knows of the agent stays true: the pid file, systemd's main pid (its
 * sd_notify and SIGHUP), and the process a stop, a SIGSTOP or a kill
 * reaches is the one doing the work.  The helper is its child.
 *
 * Every message is of one fixed size.  The helper reads the worker's as
 * untrusted, since the worker is the exposed side: a message of another
 * size, an unknown type, a field out of range or a descriptor ends the
 * helper, and with it the worker (it cannot signal the worker, which
 * runs as another user, and needs not: a worker without its helper
 * exits, and one that would not holds nothing).  Each ends with the
 * other: the helper when the socketpair reaches EOF, after it removed
 * the pid file and status socket (root's, in /run); the worker when the
 * socketpair becomes readable outside a request, which only the
 * helper's exit makes it.  A clean worker exit waits for the helper.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"
#include "xmalloc.h"

static struct {
	int		 fd;		/* the worker's end; -1: not split */
	pid_t		 helper;
	struct event	*ev;
	int		 clean;		/* the worker is exiting cleanly */
} ps = { .fd = -1 };

/* The helper: descriptors it does not need are closed. */
static void
privsep_close_fds(int keep)
{
	DIR		*d;
	struct dirent	*de;
	struct rlimit	 rl;
	int		 fd, *fds = NULL;
	size_t		 n = 0, i;

	/* Above the limit: none of ours (valgrind keeps its own there). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	closelog();		/* reopened on the next line logged */
	if ((d = opendir("/proc/self/fd")) == NULL)
		fatal("/proc/self/fd");
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd <= STDERR_FILENO || fd == keep ||
		    fd == dirfd(d) || fd == daemon_pidfile_fd() ||
		    (rlim_t)fd >= rl.rlim_cur)
			continue;
		fds = xreallocarray(fds, n + 1, sizeof *fds);
		fds[n++] = fd;
	}
	closedir(d);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

static int
privsep_zeros(const char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (p[i] != '\0')
			return 0;
	return 1;
}

/*
 * CONNECT_UNIX: a NUL-terminated path, nothing after its NUL, and one
 * the agent forwards.
 */
static const char *
privsep_check_unix(const struct privsep_req *r)
{
	const char	*nul = memchr(r->path, '\0', sizeof r->path);

	if (r->inode != 0)
		return "CONNECT_UNIX with an inode";
	if (nul == NULL || nul == r->path)
		return "CONNECT_UNIX without a path";
	if (!privsep_zeros(nul, sizeof r->path - (size_t)(nul - r->path)))
		return "CONNECT_UNIX with bytes after its path";
	if (!usock_match(r->path, NULL, 0))
		return "CONNECT_UNIX to a path the agent does not forward";
	return NULL;
}

/* LISTEN_UNIX, UNLINK_UNIX: a socket name, as sockname.c takes it. */
static const char *
privsep_check_reach(const struct privsep_req *r)
{
	const char	*nul = memchr(r->path, '\0', sizeof r->path), *why;

	if (r->inode != 0)
		return "a reverse socket request with an inode";
	if (nul == NULL || !privsep_zeros(nul, sizeof r->path -
	    (size_t)(nul - r->path)))
		return "a reverse socket name with bytes after it";
	if (ph_sockname_check(r->path, &why) == -1)
		return "a reverse socket name unfit for a path";
	return NULL;
}

/*
 * Whether buf, n bytes read with recvmsg's flags, is a request the
 * helper answers: NULL with *r filled, else what is wrong with it.
 * Pure, so that the tests can hold it to the layout byte by byte.
 */
const char *
privsep_check_req(const void *buf, size_t n, int flags,
    struct privsep_req *r)
{
	if (flags & MSG_CTRUNC)
		return "a descriptor came with it";
	if (n != sizeof *r || (flags & MSG_TRUNC))
		return "not the size of a request";
	memcpy(r, buf, sizeof *r);
	if (r->zero != 0)
		return "a reserved field is not zero";
	if (r->type == PRIVSEP_CONNECT_UNIX)
		return privsep_check_unix(r);
	if (r->type == PRIVSEP_LISTEN_UNIX || r->type == PRIVSEP_UNLINK_UNIX)
		return privsep_check_reach(r);
	if (!privsep_zeros(r->path, sizeof r->path))
		return "a path with a request that takes none";
	if (r->type == PRIVSEP_OWNER)
		return r->inode != 0 ? NULL : "OWNER of inode 0";
	if (r->type != PRIVSEP_CONNECT && r->type != PRIVSEP_NATWATCH &&
	    r->type != PRIVSEP_NATDUMP)
		return "an unknown type";
	if (r->inode != 0)
		return "an inode with a request that takes none";
	return NULL;
}

/* Reads one request: 0, 1 at EOF, -1 on a bad one (logged). */
static int
privsep_read_req(int fd, struct privsep_req *r)
{
	char		 buf[sizeof *r + 1];
	struct iovec	 iov = { buf, sizeof buf };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	const char	*why;
	ssize_t		 n;

	while ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	if (n == 0)
		return 1;
	if (n == -1) {
		log_warn("privsep: reading the worker's request");
		return -1;
	}
	if ((why = privsep_check_req(buf, (size_t)n, msg.msg_flags,
	    r)) == NULL)
		return 0;
	log_warnx("privsep: bad request from the worker (%zd bytes): %s", n,
	    why);
	return -1;
}

/* Sends an answer, and fd with it unless -1; -1 if the worker is gone. */
static int
privsep_send(int fd, const struct privsep_ans *a, int pass)
{
	char		 cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { (void *)a, sizeof *a };
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
	return sendmsg(fd, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof *a ? 0 : -1;
}

/*
 * Dials the host, from a reserved port on vsock; said once if this
 * process may not bind one, since the host then refuses every
 * connection unless it runs with --any-source-port.
 */
static int
privsep_dial(int *pending)
{
	static int	warned;
	int		fd, unreserved;

	fd = endpoint_connect(&guest->ep, pending, &unreserved);
	if (unreserved && !warned) {
		warned = 1;
		log_warnx("%s: cannot bind a reserved vsock port (no "
		    "CAP_NET_BIND_SERVICE): the host refuses this agent "
		    "unless it runs with --any-source-port", guest->ep.str);
	}
	return fd;
}

/* NATDUMP: the number, then each port, counting down. */
static int
privsep_answer_nat(int fd, struct privsep_ans *a)
{
	static struct natbind	*binds;
	size_t			 n, i;

	if (binds == NULL)
		binds = xcalloc(NAT_MAX, sizeof *binds);
	a->err = natdump(binds, NAT_MAX, &n) == -1 ? errno : 0;
	if (a->err != 0)
		n = 0;
	a->count = (uint32_t)n;
	if (privsep_send(fd, a, -1) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		a->nat = binds[i];
		a->count = (uint32_t)(n - i);
		if (privsep_send(fd, a, -1) == -1)
			return -1;
	}
	return 0;
}

/*
 * The socket file at path itself, as an O_PATH descriptor, and its
 * stat: the last component is not followed, and must be a socket
 * (ELOOP for a symbolic link, ENOTSOCK for anything else).
 */
static int
privsep_open_sock(const char *path, struct stat *st)
{
	int	fd, saved;

	if ((fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, st) == -1)
		saved = errno;
	else if (!S_ISSOCK(st->st_mode))
		saved = S_ISLNK(st->st_mode) ? ELOOP : ENOTSOCK;
	else
		return fd;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Under /run/user/UID/, the user's to fill, links on the way included:
 * the socket file (before connecting) and then its listener must be
 * UID's, so that nothing placed there leads to root's or another
 * user's service.
 */
static int
privsep_user_only(const char *path, uid_t found, const char *what)
{
	uid_t	uid;

	if (!usock_user(path, &uid) || found == uid)
		return 0;
	log_warnx("privsep: %s: %s is uid %d, not the directory's user %d: "
	    "refused", path, what, (int)found, (int)uid);
	errno = EPERM;
	return -1;
}

/* Connects fd to the socket file open as pfd, and checks its listener. */
static int
privsep_connect_fd(int fd, int pfd, const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	struct ucred		cr;
	socklen_t		len = sizeof cr;

	(void)snprintf(sun.sun_path, sizeof sun.sun_path, "/proc/self/fd/%d",
	    pfd);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1)
		return -1;
	return privsep_user_only(path, cr.uid, "its listener");
}

/*
 * A guest Unix socket, connected (or refused: it does not wait).  This
 * runs as root, and a path's directory may be a user's (/run/user/UID/,
 * a -x path in a directory a user writes), who could swap the socket
 * the scan saw for a symbolic link to one only root may use: so the
 * socket file is opened without following it, and connected to through
 * /proc/self/fd/N, which names that inode and no other.
 */
static int
privsep_dial_unix(const char *path)
{
	struct stat	st;
	int		pfd, fd = -1, saved;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((pfd = privsep_open_sock(path, &st)) == -1)
		return -1;
	if (privsep_user_only(path, st.st_uid, "the socket file") == -1 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || privsep_connect_fd(fd, pfd, path) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		close(pfd);
		errno = saved;
		return -1;
	}
	close(pfd);
	return fd;
}

static int
privsep_answer(int fd, const struct privsep_req *r)
{
	struct privsep_ans	a;
	int			s = -1, pending = 0, rc;

	memset(&a, 0, sizeof a);
	a.type = r->type;
	if (r->type == PRIVSEP_OWNER) {
		a.own = proc_is_own_socket(r->inode);
		proc_socket_owner(r->inode, a.name, sizeof a.name);
	} else if (r->type == PRIVSEP_NATDUMP)
		return privsep_answer_nat(fd, &a);
	else if (r->type == PRIVSEP_CONNECT_UNIX) {
		s = privsep_dial_unix(r->path);
		a.err = s == -1 ? errno : 0;
	} else if (r->type == PRIVSEP_LISTEN_UNIX) {
		s = reachsock_listen(r->path);
		a.err = s == -1 ? errno : 0;
	} else if (r->type == PRIVSEP_UNLINK_UNIX)
		reachsock_unlink(r->path);
	else if (r->type == PRIVSEP_NATWATCH) {
		s = natdump_subscribe();
		a.err = s == -1 ? errno : 0;
	} else {
		s = privsep_dial(&pending);
		a.err = s == -1 ? errno : 0;
		a.pending = (uint32_t)pending;
	}
	rc = privsep_send(fd, &a, s);
	if (s != -1)
		close(s);
	return rc;
}

/*
 * The helper's loop: answers until the worker is gone (0) or sends a
 * bad request (-1).
 */
int
privsep_serve(int fd)
{
	struct privsep_req	r;
	int			rc;

	while ((rc = privsep_read_req(fd, &r)) == 0 &&
	    privsep_answer(fd, &r) == 0)
		;
	return rc == -1 ? -1 : 0;
}

/* The helper's life: answers until the worker is gone, then cleans up. */
static void __attribute__((noreturn))
privsep_helper(int fd, pid_t worker)
{
	int	rc;

	/* A stop or ^C is the worker's to act on; its exit ends us. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	privsep_close_fds(fd);
	proc_set_worker(worker);
	privdrop();
	if ((rc = privsep_serve(fd)) == -1)
		log_warnx("privsep: helper exiting, and so the worker");
	status_unlink();
	pxsock_unlink();
	daemon_exit();
	_exit(rc == -1 ? 1 : 0);
}

/* Does an answer to this request come with a descriptor? */
static int
privsep_passes(const struct privsep_req *r, const struct privsep_ans *a)
{
	return (r->type == PRIVSEP_CONNECT || r->type == PRIVSEP_NATWATCH ||
	    r->type == PRIVSEP_CONNECT_UNIX ||
	    r->type == PRIVSEP_LISTEN_UNIX) && a->err == 0;
}

/* The worker: the next answer to r (fd, if one came). */
static void
privsep_recv(const struct privsep_req *r, struct privsep_ans *a, int *fdp)
{
	char		 cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec	 iov = { a, sizeof *a };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr	*cm;
	ssize_t		 n;

	*fdp = -1;
	while ((n = recvmsg(ps.fd, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	if (n == -1)
		fatal("privsep: reading the helper's answer");
	if (n == 0)
		fatalx("privsep: the privileged helper exited");
	if ((cm = CMSG_FIRSTHDR(&msg)) != NULL &&
	    cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fdp, CMSG_DATA(cm), sizeof *fdp);
	/* Out of descriptors, the kernel drops the one passed to us. */
	if ((msg.msg_flags & MSG_CTRUNC) && *fdp == -1 &&
	    privsep_passes(r, a)) {
		msg.msg_flags &= ~MSG_CTRUNC;
		a->err = EMFILE;
	}
	if ((size_t)n != sizeof *a || (msg.msg_flags & (MSG_TRUNC |
	    MSG_CTRUNC)) || a->type != r->type ||
	    memchr(a->name, '\0', sizeof a->name) == NULL ||
	    (*fdp != -1) != privsep_passes(r, a) ||
	    a->err < 0 || a->err > 4095)
		fatalx("privsep: bad answer from the helper");
}

/* The worker: asks, and waits for the answer (fd, if one came). */
static void
privsep_call(const struct privsep_req *r, struct privsep_ans *a, int *fdp)
{
	if (send(ps.fd, r, sizeof *r, MSG_NOSIGNAL) != (ssize_t)sizeof *r)
		fatal("privsep: asking the helper");
	privsep_recv(r, a, fdp);
}

/* proc.c's lookup, in the worker. */
static int
privsep_owner(uint64_t inode, int *own, char *name, size_t len)
{
	struct privsep_req	r = { .type = PRIVSEP_OWNER, .inode = inode };
	struct privsep_ans	a;
	int			fd;

	privsep_call(&r, &a, &fd);
	*own = a.own != 0;
	strlcpy(name, a.name, len);
	return 0;
}

/*
 * A socket to the host, as endpoint_connect() makes it: the helper's
 * once split, else our own.
 */
int
privsep_connect(int *pending)
{
	struct privsep_req	r = { .type = PRIVSEP_CONNECT };
	struct privsep_ans	a;
	int			fd;

	if (ps.fd == -1)
		return privsep_dial(pending);
	privsep_call(&r, &a, &fd);
	*pending = a.pending != 0;
	if (fd == -1)
		errno = a.err;
	return fd;
}

/*
 * nat.c's dump, from the helper once split.  What it sends is checked
 * as a whole: a number over max, a count out of step or a port
 * nat_check() refuses is a helper gone wrong, and fatal.
 */
int
privsep_nat_dump(struct natbind *out, size_t max, size_t *np)
{
	struct privsep_req	r = { .type = PRIVSEP_NATDUMP };
	struct privsep_ans	a;
	const char		*why;
	size_t			 n, i;
	int			 fd;

	if (ps.fd == -1)
		return natdump(out, max, np);
	privsep_call(&r, &a, &fd);
	if (a.err != 0) {
		if (a.count != 0)
			fatalx("privsep: NAT ports with an error");
		errno = a.err;
		return -1;
	}
	if ((n = a.count) > max)
		fatalx("privsep: %zu NAT ports, more than %zu", n, max);
	for (i = 0; i < n; i++) {
		privsep_recv(&r, &a, &fd);
		if (a.err != 0 || a.count != n - i)
			fatalx("privsep: NAT ports out of step");
		if ((why = nat_check(&a.nat)) != NULL)
			fatalx("privsep: a bad NAT port: %s", why);
		out[i] = a.nat;
	}
	*np = n;
	return 0;
}

/* nat.c's subscription to nf_tables commits: the helper's once split. */
int
privsep_nat_subscribe(void)
{
	struct privsep_req	r = { .type = PRIVSEP_NATWATCH };
	struct privsep_ans	a;
	int			fd;

	if (ps.fd == -1)
		return natdump_subscribe();
	privsep_call(&r, &a, &fd);
	if (fd == -1)
		errno = a.err;
	return fd;
}

/*
 * A guest Unix socket the agent forwards, connected: the helper's once
 * split, else our own.  -1 with errno set.
 */
int
privsep_connect_unix(const char *path)
{
	struct privsep_req	r = { .type = PRIVSEP_CONNECT_UNIX };
	struct privsep_ans	a;
	int			fd;

	if (strlcpy(r.path, path, sizeof r.path) >= sizeof r.path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (ps.fd == -1)
		return privsep_dial_unix(path);
	privsep_call(&r, &a, &fd);
	if (fd == -1)
		errno = a.err;
	return fd;
}

/* A reverse entry's socket, DIR/NAME.sock, listening (reachsock.c). */
int
privsep_listen_unix(const char *name)
{
	struct privsep_req	r = { .type = PRIVSEP_LISTEN_UNIX };
	struct privsep_ans	a;
	int			fd;

	if (strlcpy(r.path, name, sizeof r.path) >= sizeof r.path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (ps.fd == -1)
		return reachsock_listen(name);
	privsep_call(&r, &a, &fd);
	if (fd == -1)
		errno = a.err;
	return fd;
}

void
privsep_unlink_unix(const char *name)
{
	struct privsep_req	r = { .type = PRIVSEP_UNLINK_UNIX };
	struct privsep_ans	a;
	int			fd;

	if (strlcpy(r.path, name, sizeof r.path) >= sizeof r.path)
		return;
	if (ps.fd == -1) {
		reachsock_unlink(name);
		return;
	}
	privsep_call(&r, &a, &fd);
}

static void
privsep_gone_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	fatalx("privsep: the privileged helper exited");
}

#ifdef __SANITIZE_ADDRESS__
/*
 * LeakSanitizer's check at exit reads /proc/self/task and ptraces the
 * process, which the jailed worker can do neither of: it would fail
 * with a fatal error.  In a sanitizer build the worker leaves before
 * it (atexit runs this first); its leaks are valgrind's to find (make
 * check-valgrind).
 */
static void
privsep_skip_lsan(void)
{
	_exit(ps.clean ? 0 : 1);
}
#endif

/* The worker, once forked: into the jail, asking the helper. */
static void
privsep_worker(int fd, pid_t helper, uid_t uid, gid_t gid)
{
	ps.fd = fd;
	ps.helper = helper;
	daemon_forget();	/* the helper removes them at exit */
	status_forget();
	pxsock_forget();
	jail_enter(uid, gid);
#ifdef __SANITIZE_ADDRESS__
	atexit(privsep_skip_lsan);
#endif
	proc_set_ask(privsep_owner);
	ps.ev = event_new(guest->base, fd, EV_READ | EV_PERSIST,
	    privsep_gone_cb, NULL);
	if (ps.ev == NULL)
		fatalx("event_new");
	event_add(ps.ev, NULL);
	log_info("privilege separation: uid %d gid %d in %s, no "
	    "capabilities; helper pid %d", (int)uid, (int)gid,
	    GUEST_EMPTY_DIR, (int)helper);
}

/*
 * After start-up: split, or (not root) only drop what can be dropped.
 * user is -u's, or NULL for the default.
 */
void
privsep_start(const char *user)
{
	const char	*why;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	int		 sv[2];

	if ((why = jail_possible()) != NULL) {
		log_info("no privilege separation: %s", why);
		privdrop();
		return;
	}
	if (jail_user(user, &uid, &gid) == -1)
		fatalx("no user to run the worker as (-u)");
	jail_prepare();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("socketpair");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(sv[0]);
		privsep_helper(sv[1], getppid());
	}
	close(sv[1]);
	privsep_worker(sv[0], pid, uid, gid);
}

/* At a clean exit: the helper sees EOF, cleans up; we wait for it. */
void
privsep_stop(void)
{
	int	status;

	if (ps.fd == -1)
		return;
	event_free(ps.ev);
	close(ps.fd);
	ps.fd = -1;
	ps.clean = 1;
	while (waitpid(ps.helper, &status, 0) == -1 && errno == EINTR)
		;
}
