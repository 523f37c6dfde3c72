/*
 * Where the API socket lives, shared by porthole-host and portholectl.
 * The socket is mode 0600 and its directory one that only its owner can
 * enter, so that nobody else can even reach the socket; the agent also
 * checks each peer's uid (SO_PEERCRED).
 */
#include <sys/stat.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"

/*
 * The default: /run/porthole/api.sock for root; for a user,
 * $XDG_RUNTIME_DIR/porthole/api.sock, or /tmp/porthole-UID/api.sock
 * without a runtime directory (as tmux does).  Returns -1 if the path
 * does not fit.
 */
int
api_path_default(char *buf, size_t len)
{
	const char	*rt = getenv("XDG_RUNTIME_DIR");
	int		 n;

	if (geteuid() == 0)
		n = snprintf(buf, len, "/run/porthole/%s", API_SOCK_NAME);
	else if (rt != NULL && rt[0] == '/')
		n = snprintf(buf, len, "%s/porthole/%s", rt, API_SOCK_NAME);
	else
		n = snprintf(buf, len, "/tmp/porthole-%u/%s",
		    (unsigned)geteuid(), API_SOCK_NAME);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* The directory that holds path, in dir. */
static int
api_path_dir(const char *path, char *dir, size_t len)
{
	char	copy[API_PATH_MAX];

	if (strlcpy(copy, path, sizeof copy) >= sizeof copy ||
	    strlcpy(dir, dirname(copy), len) >= len)
		return -1;
	return 0;
}

/*
 * Checks that dir (made mode 0700 first if create) is a real directory
 * of ours that nobody else can enter, so that what is in it is reached
 * by its owner (and root) only: 0, or -1 with err set.  For the API
 * socket's directory, and guests' socket directories (sockdir.c).
 */
int
private_dir_check(const char *dir, int create, char *err, size_t errlen)
{
	struct stat	st;

	if (create && mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) == -1) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s belongs to uid %u, not to us (%u)",
		    dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s can be entered by others (mode "
		    "%04o): only its owner may enter it", dir,
		    (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

/*
 * Checks that the directory of the socket is ours and that nobody else
 * can enter it; with create, a missing directory is made (mode 0700).
 * Not a symbolic link: somebody else's link could point anywhere.
 */
int
api_path_prepare(const char *path, int create, char *err, size_t errlen)
{
	char	dir[API_PATH_MAX];

	if (api_path_dir(path, dir, sizeof dir) == -1) {
		snprintf(err, errlen, "API socket path too long: %s", path);
		return -1;
	}
	return private_dir_check(dir, create, err, errlen);
}
