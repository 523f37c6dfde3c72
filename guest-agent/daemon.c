/*
 * -D: detach, for inits that do not supervise (OpenRC's start-stop-daemon,
 * a busybox inittab "once" line, rc.local).  The pid file is opened and
 * locked with libbsd's pidfile functions before the fork, so that a second
 * agent fails at once naming the first one's pid.  The parent then waits
 * on a pipe until the child is ready (notify.c), so that when it returns
 * the pid file is written and its exit status says whether the agent
 * started; a start-up error goes to the log and to that status.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <libutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "log.h"

static struct pidfh	*pidfh;
static int		 ready_fd = -1;	/* the child's end of the pipe */

/* Opens and locks the pid file; exits 1 if another agent holds it. */
void
daemon_pidfile(const char *path)
{
	pid_t	other = -1;

	if ((pidfh = pidfile_open(path, 0644, &other)) != NULL)
		return;
	if (errno == EEXIST)
		fatalx("already running, pid %d (pid file %s)", (int)other,
		    path);
	fatal("pid file %s", path);
}

/* The parent: exit 0 when the child is ready, else with its status. */
static void __attribute__((noreturn))
daemon_wait(pid_t child, int fd)
{
	char	c;
	int	status;

	if (read(fd, &c, 1) == 1)
		_exit(0);
	if (waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	    WEXITSTATUS(status) != 0)
		_exit(WEXITSTATUS(status));
	fprintf(stderr, "porthole-guest: exited before it was ready; see "
	    "the system log\n");
	_exit(1);
}

static void
daemon_stdio(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
	    dup2(fd, STDERR_FILENO) == -1)
		fatal("dup2");
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Forks; only the child returns, in a new session, with its pid file. */
void
daemon_detach(void)
{
	int	p[2];
	pid_t	pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe2");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid != 0) {
		close(p[1]);
		daemon_wait(pid, p[0]);
	}
	close(p[0]);
	ready_fd = p[1];
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	daemon_write_pidfile();
	daemon_stdio();
}

void
daemon_write_pidfile(void)
{
	if (pidfh != NULL && pidfile_write(pidfh) == -1)
		fatal("pid file");
}

/* Lets the waiting parent go; called once, when the agent is ready. */
void
daemon_ready(void)
{
	if (ready_fd == -1)
		return;
	if (write(ready_fd, "1", 1) != 1)
		log_warn("telling the parent that the agent is ready");
	close(ready_fd);
	ready_fd = -1;
}

/* At a clean exit: the pid file goes, so no stale pid is left. */
void
daemon_exit(void)
{
	if (pidfh != NULL)
		pidfile_remove(pidfh);
	pidfh = NULL;
}

/*
 * The worker, once the agent is split (privsep.c): the pid file is the
 * helper's to remove, and stays locked by its copy of the descriptor.
 */
void
daemon_forget(void)
{
	if (pidfh != NULL)
		pidfile_close(pidfh);
	pidfh = NULL;
}

/* The pid file's descriptor, which the helper keeps; -1 if none. */
int
daemon_pidfile_fd(void)
{
	return pidfh != NULL ? pidfile_fileno(pidfh) : -1;
}
