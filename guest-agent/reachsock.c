/*
 * The sockets of the host's reverse socket entries (protocol 6): made
 * as DIR/NAME.sock (porthole-guest -R DIR, default /run/porthole), by
 * the privileged helper when the agent is split (privsep.c), since the
 * worker's root is empty.  The name is checked here again (sockname.c),
 * so that neither a lying host nor a worker can place a socket outside
 * DIR; an old socket in the way is replaced, anything else there is
 * left alone and the entry fails.  The socket is 0600: root in the VM
 * uses it, and decides who else may.  DIR itself must be a directory,
 * not a symbolic link, of the agent's user (root, when split) and
 * writable by no one else: another user who could rename, replace or
 * link in it could put the host's service where it reaches it.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "log.h"

/* DIR/NAME.sock into sun; -1 with errno set for a bad name. */
static int
reachsock_path(const char *name, struct sockaddr_un *sun)
{
	const char	*why;
	int		 n;

	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (ph_sockname_check(name, &why) == -1) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(sun->sun_path, sizeof sun->sun_path, "%s/%s.sock",
	    guest->reach_dir, name);
	if (n < 0 || (size_t)n >= sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Removes DIR/NAME.sock if it is a socket. */
void
reachsock_unlink(const char *name)
{
	struct sockaddr_un	sun;
	struct stat		st;

	if (reachsock_path(name, &sun) == 0 &&
	    lstat(sun.sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)unlink(sun.sun_path);
}

/* DIR, made if missing: 0, or -1 with errno set and the reason logged. */
static int
reachsock_dir(void)
{
	struct stat	st;
	const char	*why = NULL;

	if (mkdir(guest->reach_dir, 0755) == -1 && errno != EEXIST)
		return -1;
	if (lstat(guest->reach_dir, &st) == -1)
		return -1;
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
		why = S_ISLNK(st.st_mode) ? "a symbolic link" :
		    "not a directory";
		errno = ENOTDIR;
	} else if (st.st_uid != geteuid()) {
		why = "owned by another user";
		errno = EPERM;
	} else if (st.st_mode & 022) {
		why = "writable by group or others";
		errno = EPERM;
	}
	if (why == NULL)
		return 0;
	log_warnx("reach directory %s: %s (uid %d, mode %04o): no socket "
	    "made there", guest->reach_dir, why, (int)st.st_uid,
	    (unsigned)(st.st_mode & 07777));
	return -1;
}

/* Binds fd at sun, mode 0600; a file bound but not listening goes. */
static int
reachsock_bind(int fd, const struct sockaddr_un *sun)
{
	mode_t	old;
	int	rc, saved;

	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)sun, sizeof *sun);
	umask(old);
	if (rc == -1)
		return -1;
	if (listen(fd, SOMAXCONN) == -1) {
		saved = errno;
		(void)unlink(sun->sun_path);
		errno = saved;
		return -1;
	}
	return 0;
}

/* A socket listening at DIR/NAME.sock, or -1 with errno set. */
int
reachsock_listen(const char *name)
{
	struct sockaddr_un	sun;
	struct stat		st;
	int			fd, saved;

	if (reachsock_path(name, &sun) == -1 || reachsock_dir() == -1)
		return -1;
	if (lstat(sun.sun_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return -1;
		}
		(void)unlink(sun.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (reachsock_bind(fd, &sun) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
