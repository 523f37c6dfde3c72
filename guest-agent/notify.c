/*
 * Readiness, told to whoever started the agent.
 *
 * systemd (a Type=notify unit) learns it from the sd_notify protocol: one
 * datagram of newline-separated KEY=VALUE lines sent to the AF_UNIX
 * socket named by $NOTIFY_SOCKET, a path or, with a leading '@', an
 * abstract name.  That protocol is a few lines and has been stable since
 * 2010, so it is written here instead of linking libsystemd, which a
 * minimal VM image (busybox, OpenRC) does not have and the agent needs
 * for nothing else.  With -D, the parent process waiting in daemon.c
 * learns it from a pipe instead.
 *
 * The agent is ready once its first attempt to reach the host has ended,
 * connected or retrying: either way it is watching binds and forwards
 * them as soon as the host answers.  STATUS= then follows the channel.
 *
 * With WatchdogSec= (systemd sets $WATCHDOG_USEC, and $WATCHDOG_PID to
 * the process it watches), WATCHDOG=1 is sent every half of that from
 * the event loop: an agent whose loop stops turning, stuck or stopped
 * with SIGSTOP by whoever shares its user, is killed and restarted.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"

/* The longest WatchdogSec= taken: a day. */
#define NOTIFY_WATCHDOG_MAX	(24LL * 3600 * 1000000)

static struct {
	int			fd;
	struct sockaddr_un	sun;
	socklen_t		len;
	int			ready;		/* READY=1 sent */
	char			status[256];	/* the last STATUS= sent */
	long long		watchdog_usec;	/* 0: none asked */
	struct event		*watchdog;
} nt = { .fd = -1 };

/*
 * $WATCHDOG_USEC, if it is for this process ($WATCHDOG_PID unset or
 * ours); both are unset, so that nothing the agent starts inherits them.
 */
static void
notify_watchdog_env(void)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	const char	*err = NULL;
	long long	 v;

	if (usec != NULL) {
		v = strtonum(usec, 1, NOTIFY_WATCHDOG_MAX, &err);
		if (err != NULL)
			log_warnx("WATCHDOG_USEC \"%.*s\" is %s: no watchdog",
			    32, usec, err);
		else if (pid == NULL ||
		    strtonum(pid, 1, INT_MAX, &err) == (long long)getpid())
			nt.watchdog_usec = v;
	}
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/*
 * Reads and unsets $NOTIFY_SOCKET, so that nothing the agent might start
 * inherits it.  An unusable value is logged and ignored: the agent runs
 * without telling systemd, which then times the unit out (and says so).
 */
int
notify_init(void)
{
	const char	*s = getenv("NOTIFY_SOCKET");
	size_t		 n;

	notify_watchdog_env();
	if (s == NULL || *s == '\0')
		return 0;
	memset(&nt.sun, 0, sizeof nt.sun);
	nt.sun.sun_family = AF_UNIX;
	n = strlen(s);
	if ((s[0] != '/' && s[0] != '@') || n >= sizeof nt.sun.sun_path) {
		log_warnx("NOTIFY_SOCKET \"%.*s\" is not an absolute path or "
		    "@name of at most %zu bytes: not notifying", 64, s,
		    sizeof nt.sun.sun_path - 1);
		unsetenv("NOTIFY_SOCKET");
		return -1;
	}
	memcpy(nt.sun.sun_path, s, n);
	nt.len = offsetof(struct sockaddr_un, sun_path) + n;
	if (s[0] == '@')
		nt.sun.sun_path[0] = '\0';	/* abstract: no NUL after */
	else
		nt.len++;			/* a path: its NUL counts */
	unsetenv("NOTIFY_SOCKET");
	nt.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (nt.fd == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return -1;
	}
	/* Connected now: once split (privsep.c) the path is out of reach. */
	if (connect(nt.fd, (struct sockaddr *)&nt.sun, nt.len) == -1) {
		log_warn("NOTIFY_SOCKET: connect");
		close(nt.fd);
		nt.fd = -1;
		return -1;
	}
	return 0;
}

/* Sends one notification; -1 if there is no socket or it failed. */
int
notify_send(const char *msg)
{
	if (nt.fd == -1)
		return -1;
	if (send(nt.fd, msg, strlen(msg), MSG_NOSIGNAL) == -1) {
		log_debug("NOTIFY_SOCKET: send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Ready (the first time), with a one-line status; a status that did not
 * change is not sent again, so a host that stays away costs nothing.
 */
void
notify_ready(const char *fmt, ...)
{
	char	status[sizeof nt.status], msg[sizeof status + 32];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof status, fmt, ap);
	va_end(ap);
	status[strcspn(status, "\n")] = '\0';	/* one line per key */
	if (nt.ready && strcmp(status, nt.status) == 0)
		return;
	snprintf(msg, sizeof msg, "%sSTATUS=%s\n", nt.ready ? "" :
	    "READY=1\n", status);
	strlcpy(nt.status, status, sizeof nt.status);
	if (!nt.ready)
		daemon_ready();
	nt.ready = 1;
	notify_send(msg);
}

static void
notify_watchdog_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	notify_send("WATCHDOG=1\n");
}

/* The watchdog's pings, if systemd asked for them, from base's loop. */
void
notify_watchdog_start(struct event_base *base)
{
	struct timeval	tv;
	long long	half = nt.watchdog_usec / 2;

	if (nt.watchdog_usec == 0 || nt.fd == -1)
		return;
	tv.tv_sec = half / 1000000;
	tv.tv_usec = half % 1000000;
	if ((nt.watchdog = event_new(base, -1, EV_PERSIST, notify_watchdog_cb,
	    NULL)) == NULL)
		fatalx("event_new");
	event_add(nt.watchdog, &tv);
	log_info("systemd's watchdog: WATCHDOG=1 every %lld ms", half / 1000);
}

void
notify_stopping(void)
{
	if (nt.watchdog != NULL)
		event_free(nt.watchdog);
	nt.watchdog = NULL;
	notify_send("STOPPING=1\nSTATUS=exiting\n");
}
