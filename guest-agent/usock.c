/*
 * Which Unix sockets of the VM are forwarded (protocol 5), by path, and
 * the name the host places each under.  -x PATH[=NAME] adds one (the
 * name defaults to the file's name without ".sock"); without -x none the
 * container engines' sockets are forwarded too, when they listen:
 *
 *	/var/run/docker.sock, /run/docker.sock             docker
 *	/run/containerd/containerd.sock (and /var/run/)    containerd
 *	/run/podman/podman.sock (and /var/run/)            podman
 *	/run/user/UID/docker.sock                          docker-UID
 *	/run/user/UID/podman/podman.sock                   podman-UID
 *
 * The kernel reports a socket's path as it was bound, so both spellings
 * of /run are listed.  The same list is the privileged helper's check of
 * what the worker asks it to dial (privsep.c): only these paths.  A path
 * under /run/user/UID/ is that user's to place anything at, so the
 * helper takes a connection there only to a process of UID
 * (usock_user).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "log.h"

static const struct usock_conf usock_defaults[] = {
	{ "/var/run/docker.sock", "docker", 0 },
	{ "/run/docker.sock", "docker", 0 },
	{ "/run/containerd/containerd.sock", "containerd", 0 },
	{ "/var/run/containerd/containerd.sock", "containerd", 0 },
	{ "/run/podman/podman.sock", "podman", 0 },
	{ "/var/run/podman/podman.sock", "podman", 0 },
	/* rootless: "/run/user/" UID path, named NAME-UID */
	{ "/docker.sock", "docker", 1 },
	{ "/podman/podman.sock", "podman", 1 },
};
#define USOCK_NDEFAULTS	(sizeof usock_defaults / sizeof usock_defaults[0])
#define USOCK_USER_DIR	"/run/user/"

/*
 * "/run/user/UID" then c->path: the UID (digits, no leading zero, at
 * most 10) in uid, or -1.
 */
static int
usock_rootless_uid(const struct usock_conf *c, const char *path, char *uid,
    size_t len)
{
	size_t	ulen = strlen(USOCK_USER_DIR), n = 0;

	if (strncmp(path, USOCK_USER_DIR, ulen) != 0)
		return -1;
	path += ulen;
	while (path[n] >= '0' && path[n] <= '9')
		n++;
	if (n == 0 || n > 10 || n >= len || (path[0] == '0' && n > 1) ||
	    strcmp(path + n, c->path) != 0)
		return -1;
	memcpy(uid, path, n);
	uid[n] = '\0';
	return 0;
}

/*
 * Whether path is under a user's runtime directory, /run/user/UID/ (or
 * /var/run/user/UID/): 1 and the UID in *uid, else 0.  Whatever is there
 * is that user's to place, a symbolic link in a directory on the way
 * too, so the helper requires the socket's listener to be that user.
 */
int
usock_user(const char *path, uid_t *uid)
{
	const char	*p;
	char		*end;
	unsigned long	 n;

	if (strncmp(path, "/var", 4) == 0)
		path += 4;
	if (strncmp(path, USOCK_USER_DIR, strlen(USOCK_USER_DIR)) != 0)
		return 0;
	p = path + strlen(USOCK_USER_DIR);
	if (*p < '0' || *p > '9')
		return 0;
	errno = 0;
	n = strtoul(p, &end, 10);
	if (errno != 0 || *end != '/' || n > (uid_t)-2)
		return 0;
	*uid = (uid_t)n;
	return 1;
}

/* Whether c takes path, and the name it gets. */
static int
usock_conf_match(const struct usock_conf *c, const char *path, char *name,
    size_t len)
{
	char	uid[16];

	if (!c->rootless) {
		if (strcmp(c->path, path) != 0)
			return 0;
		strlcpy(name, c->name, len);
		return 1;
	}
	if (usock_rootless_uid(c, path, uid, sizeof uid) == -1)
		return 0;
	snprintf(name, len, "%s-%s", c->name, uid);
	return 1;
}

/*
 * Whether the socket bound at path is forwarded, and under which name
 * (name may be NULL).  -x entries first, so that one can rename a
 * default.
 */
int
usock_match(const char *path, char *name, size_t len)
{
	char	buf[PH_SOCKNAME_MAX];
	size_t	i;

	if (name == NULL) {
		name = buf;
		len = sizeof buf;
	}
	for (i = 0; i < (size_t)guest->nusock; i++)
		if (usock_conf_match(&guest->usock[i], path, name, len))
			return 1;
	if (!guest->usock_defaults)
		return 0;
	for (i = 0; i < USOCK_NDEFAULTS; i++)
		if (usock_conf_match(&usock_defaults[i], path, name, len))
			return 1;
	return 0;
}

/* Whether any socket may be forwarded: -x none and no -x, none. */
int
usock_enabled(void)
{
	return guest->usock_defaults || guest->nusock > 0;
}

/*
 * -x PATH[=NAME], or -x none: 0, or -1 with *why set.  The name must be
 * one the host takes (sockname.c); the path absolute and short enough
 * for sun_path.
 */
int
usock_add(const char *arg, const char **why)
{
	struct usock_conf	*c;
	const char		*eq, *base;
	char			*dot;

	if (strcmp(arg, "none") == 0) {
		guest->usock_defaults = 0;
		return 0;
	}
	if (guest->nusock >= GUEST_MAX_USOCK) {
		*why = "more than 16 sockets";
		return -1;
	}
	c = &guest->usock[guest->nusock];
	memset(c, 0, sizeof *c);
	eq = strchr(arg, '=');
	if (arg[0] != '/' || (eq != NULL && eq == arg + 1)) {
		*why = "not an absolute path";
		return -1;
	}
	if ((size_t)(eq != NULL ? eq - arg : (ptrdiff_t)strlen(arg)) >=
	    sizeof c->path) {
		*why = "path longer than 107 bytes";
		return -1;
	}
	memcpy(c->path, arg, eq != NULL ? (size_t)(eq - arg) : strlen(arg));
	base = strrchr(c->path, '/') + 1;
	if (strlcpy(c->name, eq != NULL ? eq + 1 : base, sizeof c->name) >=
	    sizeof c->name) {
		*why = "name longer than 47 characters (give one: PATH=NAME)";
		return -1;
	}
	if (eq == NULL && (dot = strrchr(c->name, '.')) != NULL &&
	    strcmp(dot, ".sock") == 0 && dot != c->name)
		*dot = '\0';
	if (ph_sockname_check(c->name, why) == -1)
		return -1;
	guest->nusock++;
	return 0;
}
