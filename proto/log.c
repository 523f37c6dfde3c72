/*
 * Logging in the style of OpenSMTPD and OpenIKED: log_warn appends
 * strerror(errno), log_warnx does not; fatal and fatalx exit.  In the
 * foreground (-d) everything goes to stderr with a timestamp, otherwise
 * to syslog.  libevent's own messages are routed here too.
 */
#define LIBBSD_OPENBSD_VIS	/* strnvis(dst, src, len, flags) */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <vis.h>

#include <event2/event.h>

#include "log.h"

static int		 log_foreground = 1;
static int		 log_verbose;
static const char	*log_progname = "porthole";
static void		(*log_warn_hook)(const char *);

static void
log_event_cb(int severity, const char *msg)
{
	if (severity == EVENT_LOG_DEBUG)
		log_debug("libevent: %s", msg);
	else
		log_warnx("libevent: %s", msg);
}

void
log_init(const char *progname, int foreground, int verbose)
{
	log_progname = progname;
	log_foreground = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	event_set_log_callback(log_event_cb);
	tzset();
}

/*
 * hook is called with every warning once it is logged (the host agent
 * turns them into API events).  A warning logged by the hook itself is
 * not passed to it again.
 */
void
log_set_warn_hook(void (*hook)(const char *))
{
	log_warn_hook = hook;
}

static void
log_call_hook(int pri, const char *msg, const char *suffix)
{
	static int	 busy;
	char		 line[1280];

	if (log_warn_hook == NULL || pri > LOG_WARNING || busy)
		return;
	if (suffix != NULL)
		snprintf(line, sizeof line, "%s: %s", msg, suffix);
	else
		strlcpy(line, msg, sizeof line);
	busy = 1;
	log_warn_hook(line);
	busy = 0;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char		 msg[1024], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (!log_foreground) {
		if (suffix != NULL)
			syslog(pri, "%s: %s", msg, suffix);
		else
			syslog(pri, "%s", msg);
		log_call_hook(pri, msg, suffix);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	if (suffix != NULL)
		fprintf(stderr, "%s.%03ld %s: %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, log_progname, msg, suffix);
	else
		fprintf(stderr, "%s.%03ld %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, log_progname, msg);
	fflush(stderr);
	log_call_hook(pri, msg, suffix);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

const char *
log_safe(const char *s, char *buf, size_t len)
{
	strnvis(buf, s, len, VIS_CSTYLE | VIS_NL | VIS_TAB | VIS_OCTAL);
	return buf;
}
