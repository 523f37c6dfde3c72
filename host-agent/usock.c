/*
 * A guest Unix socket on the host (protocol 5): the guest names it, the
 * host places it at SOCKDIR/GUEST/NAME.sock (sockdir.c), mode 0600, and
 * relays each client like a TCP one (conn.c, the same relay).  Its
 * admission, after policy_decide(), in order:
 *
 *	1. the socket's name and the guest's    refused  bad_name
 *	   name each one safe path component
 *	2. --sock-dir none                       refused  policy
 *	3. the path, against every other         refused  name_in_use
 *	   forward, of this guest or another
 *	4. the directories and the socket        failed   listen_error
 *
 * A file left at the path by an earlier run of the agent (the directory
 * is ours alone) is replaced if it is a socket, and fails the forward if
 * it is anything else.  The socket is removed when the forward closes:
 * the guest's socket went, the policy changed, or the guest left.
 * What a Unix socket carries beside bytes (SCM_RIGHTS, credentials) is
 * not forwarded: the guest's server sees the guest agent as its peer.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

static enum refusal
usock_refuse(struct forward *f, uint8_t verdict, enum refusal code)
{
	f->dec.verdict = verdict;
	f->dec.code = code;
	f->dec.naddr = 0;
	return code;
}

/* Step 1: names the guest chose, each checked as a path component. */
static int
usock_bad_names(struct forward *f)
{
	const char	*why;

	if (ph_sockname_check(f->req.sock_name, &why) == -1) {
		snprintf(f->dec.reason, sizeof f->dec.reason, "socket name "
		    "\"%s\" refused: %s", f->req.sock_name, why);
		return 1;
	}
	if (ph_sockname_check(f->req.guest_name, &why) == -1) {
		snprintf(f->dec.reason, sizeof f->dec.reason, "guest name "
		    "\"%s\" cannot name a socket directory: %s",
		    f->req.guest_name, why);
		return 1;
	}
	return 0;
}

/* Step 3: the forward other than f whose socket is at path. */
static struct forward *
usock_holder(const struct forward *f, const char *path)
{
	struct session	*s;
	struct forward	*g;

	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(g, &s->forwards, entry)
			if (g != f && g->req.proto == PH_KIND_UNIX &&
			    strcmp(g->host_path, path) == 0)
				return g;
	return NULL;
}

/*
 * What is at path before we bind: nothing, or a stale socket of ours,
 * removed.  -1 with errno set otherwise.
 */
static int
usock_clear(const char *path)
{
	struct stat	st;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	return unlink(path);
}

/*
 * forward_open's Unix socket, listening at f->host_path: an fd, or -1
 * with errno set.
 */
int
usock_listen(struct forward *f)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	mode_t			old;
	int			fd, rc, saved;

	if (strlcpy(sun.sun_path, f->host_path, sizeof sun.sun_path) >=
	    sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (usock_clear(f->host_path) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	old = umask(0177);	/* never a moment with a wider mode */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc == -1 || chmod(f->host_path, 0600) == -1 ||
	    listen(fd, 511) == -1) {
		saved = errno;
		if (rc == 0)
			(void)unlink(f->host_path);
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Steps 3 and 4: the path, then the socket. */
static enum refusal
usock_place(struct forward *f)
{
	struct forward	*g;
	char		 path[PH_SOCKPATH_MAX], err[256];

	if (sockdir_claim(f->req.guest_name, f->s->gep->ep.str, f->s->cid,
	    err, sizeof err) == -1) {
		strlcpy(f->dec.reason, err, sizeof f->dec.reason);
		return usock_refuse(f, PH_REFUSED, REFUSAL_NAME_IN_USE);
	}
	if (sockdir_path(f->req.guest_name, f->req.sock_name, path,
	    sizeof path, err, sizeof err) == -1) {
		limit_warn(f->s->gep, f->s->cid, WARN_EXPOSE, "guest %s: "
		    "socket %s: %s", f->s->id, f->req.sock_name, err);
		snprintf(f->dec.reason, sizeof f->dec.reason, "the host cannot "
		    "place the socket (its log says why)");
		return usock_refuse(f, PH_FAILED, REFUSAL_LISTEN_ERROR);
	}
	if ((g = usock_holder(f, path)) != NULL) {
		if (g->s != f->s)
			strlcpy(f->dec.held_by, g->s->name,
			    sizeof f->dec.held_by);
		snprintf(f->dec.reason, sizeof f->dec.reason, "socket name "
		    "\"%s\" in use by %s", f->req.sock_name, g->s == f->s ?
		    "this guest" : "another guest of the same name");
		return usock_refuse(f, PH_REFUSED, REFUSAL_NAME_IN_USE);
	}
	strlcpy(f->host_path, path, sizeof f->host_path);
	if (forward_open(f, 0, NULL) == -1) {
		snprintf(f->dec.reason, sizeof f->dec.reason, "cannot listen "
		    "on the host: %s", strerror(errno));
		f->host_path[0] = '\0';
		return usock_refuse(f, PH_FAILED, REFUSAL_LISTEN_ERROR);
	}
	return REFUSAL_NONE;
}

/*
 * The one entry point, as admit_forward() is for ports; listening: f
 * had its socket a moment ago.  A socket takes a slot under the guest's
 * max-forwards as a port does, and waits for one as a port does.
 */
enum refusal
usock_admit(struct forward *f, int listening)
{
	f->note[0] = '\0';
	f->dec.held_by[0] = '\0';
	if (usock_bad_names(f))
		return usock_refuse(f, PH_REFUSED, REFUSAL_BAD_NAME);
	if (!admit_listening(&f->dec))
		return f->dec.code;
	if (admit_over_limit(f, listening, f->dec.reason,
	    sizeof f->dec.reason)) {
		admit_wait(f);
		return usock_refuse(f, PH_REFUSED, REFUSAL_LIMIT);
	}
	if (host->sockdir[0] == '\0') {
		snprintf(f->dec.reason, sizeof f->dec.reason, "the host takes "
		    "no guest sockets (--sock-dir none)");
		return usock_refuse(f, PH_REFUSED, REFUSAL_POLICY);
	}
	return usock_place(f);
}

/* The listener is closed: its socket goes, and an empty directory. */
void
usock_unlisten(struct forward *f)
{
	if (f->host_path[0] == '\0')
		return;
	if (unlink(f->host_path) == -1 && errno != ENOENT)
		log_warn("%s", f->host_path);
	f->host_path[0] = '\0';
	sockdir_guest_gone(f->req.guest_name);
}
