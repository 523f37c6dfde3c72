/*
 * When to scan for binds.  A scan (watch.c) is cheap, a sock_diag dump
 * of listening sockets only, but not free, so scans follow events: a
 * trigger asks for one with scan_kick() when something may have bound or
 * unbound, and the scan runs at once (unless a storm of events has used
 * up the token bucket below), then
 * again at the steps of the trigger's burst, for what the first scan was
 * too early to see.  A poll catches whatever the events miss: UDP binds,
 * which no trigger sees, and anything a trigger lost.  It runs every
 * GUEST_SCAN_MS (2 s) unless -S says otherwise: a scan costs tens of
 * microseconds, and an idle agent wakes less than twice a second, the
 * control channel's keepalive included.
 *
 * The triggers, best first:
 *   listen  a BPF program on the inet_sock_set_state tracepoint
 *           (listenev.c): a TCP socket entered or left LISTEN; and one
 *           on a Unix socket's listen() (unixev.c), while Unix sockets
 *           are forwarded; one follow-up scan, since the TCP event
 *           comes just before the socket is in the listening table.
 *   exec    the proc connector (execev.c): a process started or exited;
 *           a longer burst, since a new server binds when it is ready.
 *   none    the poll alone.
 * "auto" takes the first that works here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "guest.h"
#include "log.h"

/*
 * Scans on events are rationed by a token bucket: a lone event, or a few
 * together, are scanned for at once, but a storm of them (a hundred
 * binds a second) costs at most SCAN_RATE scans a second, each a walk of
 * the kernel's listening tables.
 */
#define SCAN_RATE	100	/* a second, in a storm */
#define SCAN_BURST	20	/* at once, before the rate applies */

/* Follow-up scans, in ms after the kick; the first is the scan itself. */
static const int	burst_listen[] = { 0, 2, 20 };
static const int	burst_exec[] = { 0, 10, 50, 200, 1000, 3000 };

static const struct trigger {
	const char	*name;
	int		(*start)(void);
	void		(*stop)(void);
	const int	*burst;
	int		 nburst;
} triggers[] = {
	{ "listen", listenev_start, listenev_stop, burst_listen,
	    sizeof burst_listen / sizeof burst_listen[0] },
	{ "exec", execev_start, execev_stop, burst_exec,
	    sizeof burst_exec / sizeof burst_exec[0] },
	{ "none", NULL, NULL, NULL, 0 },
};
#define NTRIGGERS	(sizeof triggers / sizeof triggers[0])

static struct {
	const struct trigger	*trig;
	int			 poll_ms;
	struct event		*timer;
	struct timespec		 kicked;	/* the burst's start */
	struct timespec		 last;		/* the last scan */
	double			 tokens;	/* scans we may make at once */
	int			 step;		/* next burst step */
	uint64_t		 scans, kicks;
} sc;

static long
ms_since(const struct timespec *t, const struct timespec *now)
{
	return (now->tv_sec - t->tv_sec) * 1000 +
	    (now->tv_nsec - t->tv_nsec) / 1000000;
}

static void
scan_arm(long ms)
{
	struct timeval	tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(sc.timer, &tv);
}

/*
 * The wait before the next scan, since ms after the kick: the burst's
 * next step not yet past (*step moves over those that are), or the slow
 * poll once the burst is over (or there is none).
 */
long
scan_next_ms(const int *burst, int nburst, int *step, long since,
    int poll_ms)
{
	while (burst != NULL && *step < nburst && burst[*step] <= since)
		(*step)++;
	if (burst != NULL && *step < nburst)
		return burst[*step] - since;
	return poll_ms;
}

/* After a scan: the burst's next step, or the slow poll. */
static void
scan_next(const struct timespec *now)
{
	scan_arm(scan_next_ms(sc.trig->burst, sc.trig->nburst, &sc.step,
	    ms_since(&sc.kicked, now), sc.poll_ms));
}

/* Tokens earned in ms, added to tokens, up to the burst. */
double
scan_refill(double tokens, long ms)
{
	tokens += ms * SCAN_RATE / 1000.0;
	return tokens > SCAN_BURST ? SCAN_BURST : tokens;
}

/* How long a kick waits for its scan: not at all while a token is left. */
long
scan_wait_ms(double tokens)
{
	return tokens >= 1 ? 0 : (long)((1 - tokens) * 1000 / SCAN_RATE);
}

static void
sum_bind(struct gbind *b, void *arg)
{
	uint64_t	*sum = arg;

	sum[0]++;
	sum[1] += b->id;
}

static void
scan_timer_cb(int fd, short ev, void *arg)
{
	struct timespec	now;
	uint64_t	before[2] = { 0, 0 }, after[2] = { 0, 0 };

	(void)fd;
	(void)ev;
	(void)arg;
	watch_foreach(sum_bind, before);
	nat_poll();
	watch_scan();
	watch_foreach(sum_bind, after);
	sc.scans++;
	/*
	 * The burst's later scans are for an event the first scan came too
	 * early for; when it saw a change (every new bind has a new id),
	 * the event has been seen.  Another event starts another burst.
	 */
	if (before[0] != after[0] || before[1] != after[1])
		sc.step = sc.trig->nburst;
	clock_gettime(CLOCK_MONOTONIC, &now);
	sc.tokens = scan_refill(sc.tokens, ms_since(&sc.last, &now));
	sc.tokens = sc.tokens >= 1 ? sc.tokens - 1 : 0;
	sc.last = now;
	scan_next(&now);
}

/* Scans now (or when a token is due), then through the burst. */
static void
scan_soon(void)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	sc.kicked = now;
	sc.step = 0;
	scan_arm(scan_wait_ms(scan_refill(sc.tokens,
	    ms_since(&sc.last, &now))));
}

/* A trigger says something may have bound or unbound. */
void
scan_kick(void)
{
	sc.kicks++;
	scan_soon();
}

static const struct trigger *
scan_trigger(const char *name)
{
	size_t	i;

	for (i = 0; i < NTRIGGERS; i++)
		if (strcmp(triggers[i].name, name) == 0)
			return &triggers[i];
	return NULL;
}

/* Is name a trigger ("auto" too)? */
int
scan_trigger_ok(const char *name)
{
	return strcmp(name, "auto") == 0 || scan_trigger(name) != NULL;
}

/*
 * Starts the trigger guest->trigger (or, for "auto", the first that
 * works), and the poll: guest->scan_ms, or GUEST_SCAN_MS.
 */
void
scan_start(void)
{
	const struct trigger	*t;
	size_t			 i;

	if ((sc.timer = evtimer_new(guest->base, scan_timer_cb, NULL)) == NULL)
		fatalx("evtimer_new");
	if (strcmp(guest->trigger, "auto") != 0) {
		t = scan_trigger(guest->trigger);
		if (t->start != NULL && t->start() == -1)
			fatalx("cannot watch for binds with trigger %s",
			    t->name);
	} else {
		for (i = 0; i < NTRIGGERS; i++) {
			t = &triggers[i];
			if (t->start == NULL || t->start() == 0)
				break;
		}
	}
	sc.trig = t;
	sc.poll_ms = guest->scan_ms > 0 ? guest->scan_ms : GUEST_SCAN_MS;
	log_info("watching binds: trigger %s, scans every %d ms otherwise",
	    t->name, sc.poll_ms);
	if (t->start == NULL && strcmp(guest->trigger, "auto") == 0)
		log_warnx("no bind trigger could start (listen needs CAP_BPF, "
		    "CAP_PERFMON and Linux 5.8; exec needs CAP_NET_ADMIN; -v "
		    "says why): new binds wait for a scan");
	/* What bound while the trigger was being set up has no event. */
	scan_soon();
}

void
scan_stop(void)
{
	if (sc.trig != NULL && sc.trig->stop != NULL)
		sc.trig->stop();
	if (sc.timer != NULL)
		event_free(sc.timer);
	sc.timer = NULL;
	log_debug("bind scans: %llu, after %llu events",
	    (unsigned long long)sc.scans, (unsigned long long)sc.kicks);
}
