/*
 * Socket ownership from /proc.  sock_diag gives a socket's inode but not
 * its process; /proc/PID/fd links name "socket:[INODE]".  Looked up once
 * per new bind only, never per scan, and newest process first: a new
 * bind is most often a new server's, and a walk of every descriptor of
 * every process is what a new bind waits for.  The one walk answers both
 * questions watch.c asks (ours? whose?).  Once the agent is split
 * (privsep.c), the unprivileged worker cannot read other users' /proc:
 * it asks the privileged helper, which walks /proc here and counts the
 * worker's sockets as the agent's own.
 */
#include <sys/types.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "xmalloc.h"

/* The last socket looked up. */
static struct {
	int		valid;
	uint64_t	inode;
	int		own;
	char		name[PH_NAME_MAX];
} last;

static pid_t		worker;		/* also the agent's, in the helper */
static proc_ask_fn	ask;		/* the helper's, in the worker */

void
proc_set_worker(pid_t pid)
{
	worker = pid;
}

void
proc_set_ask(proc_ask_fn fn)
{
	ask = fn;
	memset(&last, 0, sizeof last);
}

static int
fd_dir_has_socket(const char *dir, const char *want)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[512], link[64];
	ssize_t		 n;
	int		 found = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return found;
}

static void
proc_comm(const char *pid, char *name, size_t len)
{
	char	path[300];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%s/comm", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, name, len - 1);
	close(fd);
	if (n <= 0) {
		name[0] = '\0';
		return;
	}
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	/* A process may name itself anything; the protocol wants ASCII. */
	for (; *name != '\0'; name++)
		if (*name < 0x20 || *name > 0x7e)
			*name = '?';
}

static int
pid_cmp_desc(const void *a, const void *b)
{
	long	x = *(const long *)a, y = *(const long *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The process ids in /proc, newest (highest) first; NULL if none. */
static long *
proc_pids(size_t *n)
{
	DIR		*d;
	struct dirent	*de;
	long		*pids = NULL;
	size_t		 cap = 0;

	*n = 0;
	if ((d = opendir("/proc")) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (*n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			pids = xreallocarray(pids, cap, sizeof *pids);
		}
		pids[(*n)++] = strtol(de->d_name, NULL, 10);
	}
	closedir(d);
	qsort(pids, *n, sizeof *pids, pid_cmp_desc);
	return pids;
}

/* Does process pid hold the socket?  Then it is the owner we report. */
static int
proc_try(long pid, const char *want)
{
	char	dir[64], num[24];

	snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
	if (!fd_dir_has_socket(dir, want))
		return 0;
	last.own = pid == (long)getpid() || (worker > 0 && pid == worker);
	snprintf(num, sizeof num, "%ld", pid);
	proc_comm(num, last.name, sizeof last.name);
	return 1;
}

/*
 * The last owner first (a program that bound one port often binds
 * more), then every process, newest first.
 */
static void
proc_lookup(uint64_t inode)
{
	static long	 hint;
	char		 want[64];
	long		*pids;
	size_t		 i, n;

	if (last.valid && last.inode == inode)
		return;
	memset(&last, 0, sizeof last);
	last.valid = 1;
	last.inode = inode;
	if (ask != NULL) {
		ask(inode, &last.own, last.name, sizeof last.name);
		return;
	}
	snprintf(want, sizeof want, "socket:[%" PRIu64 "]", inode);
	if (hint > 0 && proc_try(hint, want))
		return;
	pids = proc_pids(&n);
	for (i = 0; i < n; i++)
		if (pids[i] != hint && proc_try(pids[i], want)) {
			hint = pids[i];
			break;
		}
	free(pids);
}

int
proc_is_own_socket(uint64_t inode)
{
	proc_lookup(inode);
	return last.own;
}

/* Finds the process holding the socket; name is "" if none is found. */
void
proc_socket_owner(uint64_t inode, char *name, size_t len)
{
	proc_lookup(inode);
	strlcpy(name, last.name, len);
}
