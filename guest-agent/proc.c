/*
 * Socket ownership from /proc.  sock_diag gives a socket's inode but not
 * its process; /proc/PID/fd links name "socket:[INODE]".  Looked up once
 * per new bind only, never per scan.
 */
#include <sys/types.h>
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

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

int
proc_is_own_socket(uint64_t inode)
{
	char	want[64];

	snprintf(want, sizeof want, "socket:[%" PRIu64 "]", inode);
	return fd_dir_has_socket("/proc/self/fd", want);
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

/* Finds the process holding the socket; name is "" if none is found. */
void
proc_socket_owner(uint64_t inode, char *name, size_t len)
{
	DIR		*d;
	struct dirent	*de;
	char		 want[64], dir[300];

	name[0] = '\0';
	snprintf(want, sizeof want, "socket:[%" PRIu64 "]", inode);
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(dir, sizeof dir, "/proc/%s/fd", de->d_name);
		if (fd_dir_has_socket(dir, want)) {
			proc_comm(de->d_name, name, len);
			break;
		}
	}
	closedir(d);
}
