/*
 * The worker's jail (privsep.c): the process that parses the host's
 * frames runs as an unprivileged user, in an empty root directory, with
 * no capability in any set, no_new_privs, and not dumpable (no process of
 * its user may trace it or read its memory).  The user is -u's, else
 * "porthole" if the VM has one, else "nobody", else (a minimal VM with
 * no user database, an initramfs say) uid and gid 65534, the kernel's
 * overflow ids, which own nothing; never root.  A user of its own is
 * best: any process of the worker's user may still signal it.  The empty
 * root is made by the agent, root-owned, mode 0755, and checked to be
 * so and empty: a directory another user could write into would be a
 * root they choose.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <cap-ng.h>
#include <dirent.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "log.h"

/* The overflow uid and gid (65534): nobody's where there is no nobody. */
#define JAIL_NOBODY	65534

/* The worker's user; -1 if it does not exist (a start-up error). */
int
jail_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw = NULL;

	if (name != NULL)
		pw = getpwnam(name);
	else if ((pw = getpwnam("porthole")) == NULL &&
	    (pw = getpwnam("nobody")) != NULL)
		log_info("no user porthole: the worker runs as nobody, whose "
		    "other processes could stop or kill it (make install's "
		    "sysusers.d file makes porthole; or -u)");
	if (pw == NULL && name == NULL) {
		log_info("no user porthole or nobody: the worker runs as "
		    "uid and gid %d", JAIL_NOBODY);
		*uid = JAIL_NOBODY;
		*gid = JAIL_NOBODY;
		return 0;
	}
	if (pw == NULL) {
		log_warnx("no user %s", name);
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		log_warnx("user %s has uid or gid 0: not an unprivileged user",
		    pw->pw_name);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* A directory root owns and only root may write to; made if missing. */
static void
jail_dir(const char *path)
{
	struct stat	sb;

	if (mkdir(path, 0755) == 0 && chmod(path, 0755) == -1)
		fatal("chmod %s", path);		/* despite the umask */
	if (lstat(path, &sb) == -1)
		fatal("%s", path);
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != 0 ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("%s is not a directory owned and only writable by root",
		    path);
}

static void
jail_check_empty(const char *path)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(path)) == NULL)
		fatal("%s", path);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			fatalx("%s is not empty (%s)", path, de->d_name);
	closedir(d);
}

/* Makes the empty root (and its parent in /run), checked. */
void
jail_prepare(void)
{
	char	parent[sizeof GUEST_EMPTY_DIR];

	strlcpy(parent, GUEST_EMPTY_DIR, sizeof parent);
	*strrchr(parent, '/') = '\0';
	jail_dir(parent);
	jail_dir(GUEST_EMPTY_DIR);
	jail_check_empty(GUEST_EMPTY_DIR);
}

/* Fatal unless every capability set is empty and the ids are not 0. */
static void
jail_verify(void)
{
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 ||
	    getegid() == 0)
		fatalx("still uid or gid 0 after dropping privileges");
	if (capng_get_caps_process() == -1)
		fatalx("cannot read the process's capabilities");
	if (capng_have_capabilities(CAPNG_SELECT_ALL) != CAPNG_NONE)
		fatalx("capabilities left after dropping privileges");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		fatalx("no_new_privs is not set");
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		fatalx("the worker is still dumpable");
}

/*
 * Into the empty root, then the user's ids with every capability gone:
 * chroot needs CAP_SYS_CHROOT and so comes first; libcap-ng drops the
 * bounding set (CAP_SETPCAP), the supplementary groups, then changes
 * the ids with every set cleared.
 */
void
jail_enter(uid_t uid, gid_t gid)
{
	if (chroot(GUEST_EMPTY_DIR) == -1)
		fatal("chroot %s", GUEST_EMPTY_DIR);
	if (chdir("/") == -1)
		fatal("chdir / in %s", GUEST_EMPTY_DIR);
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_change_id((int)uid, (int)gid, CAPNG_DROP_SUPP_GRP |
	    CAPNG_CLEAR_BOUNDING | CAPNG_CLEAR_AMBIENT) != 0)
		fatalx("cannot change to uid %d gid %d", (int)uid, (int)gid);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl PR_SET_NO_NEW_PRIVS");
	/*
	 * The change of ids made the worker non-dumpable only if
	 * fs.suid_dumpable is 0: at 1, any process of the worker's user
	 * could ptrace it or read its memory (the key, the session) and
	 * speak for the guest.  Not left to a sysctl.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl PR_SET_DUMPABLE");
	jail_verify();
}

/* Can this process jail a worker?  The reason if not. */
const char *
jail_possible(void)
{
	static const int	need[] = { CAP_SETUID, CAP_SETGID,
	    CAP_SYS_CHROOT, CAP_SETPCAP };
	size_t			i;

	if (geteuid() != 0)
		return "not started as root";
	if (capng_get_caps_process() == -1)
		return "cannot read the process's capabilities";
	for (i = 0; i < sizeof need / sizeof need[0]; i++)
		if (!capng_have_capability(CAPNG_EFFECTIVE, need[i]))
			return "CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT and "
			    "CAP_SETPCAP are needed";
	return NULL;
}
