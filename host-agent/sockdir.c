/*
 * Where guests' Unix sockets go on the host: SOCKDIR/GUEST/NAME.sock.
 * The guest names a socket; the host alone chooses the path.  SOCKDIR is
 * --sock-dir, by default beside the API socket ($XDG_RUNTIME_DIR/porthole,
 * /run/porthole as root, /tmp/porthole-UID without a runtime directory),
 * "none" for no guest sockets at all.  SOCKDIR and each GUEST directory
 * are made mode 0700 and must be ours, real directories (no symbolic
 * link: somebody else's could point anywhere) that only we can enter,
 * so that a socket in one is reached by its user (and root) only.
 */
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "host.h"

#define SOCKDIR_MAX	64	/* characters, of sun_path's 107 */

/* --sock-dir: 0, or -1 with err set. */
int
sockdir_configure(const char *arg, char *err, size_t errlen)
{
	const char	*rt = getenv("XDG_RUNTIME_DIR");
	int		 n;

	if (arg != NULL && strcmp(arg, "none") == 0) {
		host->sockdir[0] = '\0';
		return 0;
	}
	if (arg != NULL && arg[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", arg);
		return -1;
	}
	if (arg != NULL)
		n = snprintf(host->sockdir, sizeof host->sockdir, "%s", arg);
	else if (geteuid() == 0)
		n = snprintf(host->sockdir, sizeof host->sockdir,
		    "/run/porthole");
	else if (rt != NULL && rt[0] == '/')
		n = snprintf(host->sockdir, sizeof host->sockdir, "%s/porthole",
		    rt);
	else
		n = snprintf(host->sockdir, sizeof host->sockdir,
		    "/tmp/porthole-%u", (unsigned)geteuid());
	/*
	 * Room for "/GUEST/NAME.sock" within sun_path: enough for usual
	 * names; a longer one fails that socket alone (sockdir_path).
	 */
	if (n < 0 || n > SOCKDIR_MAX) {
		snprintf(err, errlen, "socket directory %s is too long: at most "
		    "%d characters", arg != NULL ? arg : host->sockdir,
		    SOCKDIR_MAX);
		host->sockdir[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * The path of guest's socket name, its directories made and checked:
 * 0, or -1 with err set (for the host's log; the guest is told less).
 */
int
sockdir_path(const char *guest_name, const char *name, char *path,
    size_t len, char *err, size_t errlen)
{
	char	dir[PH_SOCKPATH_MAX];
	int	n;

	if (private_dir_check(host->sockdir, 1, err, errlen) == -1)
		return -1;
	n = snprintf(dir, sizeof dir, "%s/%s", host->sockdir, guest_name);
	if (n < 0 || (size_t)n >= sizeof dir) {
		snprintf(err, errlen, "socket directory path too long");
		return -1;
	}
	if (private_dir_check(dir, 1, err, errlen) == -1)
		return -1;
	n = snprintf(path, len, "%s/%s.sock", dir, name);
	if (n < 0 || (size_t)n >= len ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "socket path %s/%s.sock longer than a "
		    "Unix socket's 107 bytes", dir, name);
		return -1;
	}
	return 0;
}

/* After the last socket of a guest went: its directory, if empty. */
void
sockdir_guest_gone(const char *guest_name)
{
	char	dir[PH_SOCKPATH_MAX];
	int	n;

	if (host->sockdir[0] == '\0')
		return;
	n = snprintf(dir, sizeof dir, "%s/%s", host->sockdir, guest_name);
	if (n > 0 && (size_t)n < sizeof dir)
		(void)rmdir(dir);	/* ENOTEMPTY: another session's */
}
