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
#include "compat.h"
#include "host.h"
#include "xmalloc.h"

#define SOCKDIR_MAX	64	/* characters, of sun_path's 107 */
#define SOCKDIR_OWNERS_MAX 4096	/* guest names remembered */

/*
 * Who each GUEST directory belongs to: the first guest, by endpoint and
 * CID, to place a socket in it, for as long as the agent runs.  A guest
 * names itself: without this, one claiming another's name could take
 * its directory whenever the other's sockets are gone (a restart), and
 * the user's docker client would talk to it.  Names are bounded: a
 * guest renaming itself in a loop fills the table, not the memory.
 */
struct sockdir_owner {
	RB_ENTRY(sockdir_owner)	 node;
	char			*name;
	char			*ep;
	uint32_t		 cid;
};

static int
sockdir_owner_cmp(const struct sockdir_owner *a, const struct sockdir_owner *b)
{
	return strcmp(a->name, b->name);
}

RB_HEAD(sockdir_owners, sockdir_owner);
PH_RB_PROTOTYPE(sockdir_owners, sockdir_owner, node, sockdir_owner_cmp);
PH_RB_GENERATE(sockdir_owners, sockdir_owner, node, sockdir_owner_cmp)

static struct sockdir_owners	owners = RB_INITIALIZER(&owners);
static int			nowners;

/*
 * Whether the guest on ep (and cid) may use the directory of guest_name:
 * 0, claimed if nobody had, or -1 with err set.
 */
int
sockdir_claim(const char *guest_name, const char *ep, uint32_t cid,
    char *err, size_t errlen)
{
	struct sockdir_owner	 key = { .name = (char *)guest_name }, *o;

	if ((o = RB_FIND(sockdir_owners, &owners, &key)) != NULL) {
		if (o->cid == cid && strcmp(o->ep, ep) == 0)
			return 0;
		snprintf(err, errlen, "the socket directory of guest name "
		    "\"%s\" belongs to another guest (%s, cid %u) until the "
		    "host agent restarts", guest_name, o->ep, o->cid);
		return -1;
	}
	if (nowners >= SOCKDIR_OWNERS_MAX) {
		snprintf(err, errlen, "%d guest names have socket directories "
		    "already", SOCKDIR_OWNERS_MAX);
		return -1;
	}
	o = xcalloc(1, sizeof *o);
	o->name = xstrdup(guest_name);
	o->ep = xstrdup(ep);
	o->cid = cid;
	RB_INSERT(sockdir_owners, &owners, o);
	nowners++;
	return 0;
}

/* At exit: the table freed, so that leak checkers see real leaks only. */
void
sockdir_free(void)
{
	struct sockdir_owner	*o;

	while ((o = RB_MIN(sockdir_owners, &owners)) != NULL) {
		RB_REMOVE(sockdir_owners, &owners, o);
		free(o->name);
		free(o->ep);
		free(o);
	}
	nowners = 0;
}

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
