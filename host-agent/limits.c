/*
 * Limits on everything a guest (or a flood of clients) controls.  Each
 * has a default, a command-line flag, and a counter; hitting one refuses
 * that one request and says so in the log, at most once a second per
 * limit so that a flood cannot flood the log too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "compat.h"
#include "dgram.h"
#include "host.h"
#include "log.h"
#include "number.h"
#include "xmalloc.h"

static const struct limit_def {
	const char	*flag;		/* --max-... */
	const char	*what;		/* for logs and metrics */
	uint32_t	 def, min, max;
} limit_defs[LIMIT_NKINDS] = {
	[LIMIT_FRAME] = { "max-frame", "frame size", PH_PAYLOAD_MAX,
	    PH_FIRST_FRAME_MAX - PH_HDR_LEN, 65536 },
	[LIMIT_FORWARDS] = { "max-forwards", "forwards per guest", 256,
	    1, 65536 },
	[LIMIT_BINDS] = { "max-binds", "binds held per guest", 1024, 1,
	    262144 },
	[LIMIT_CONNS] = { "max-connections", "connections per guest",
	    16384, 1, 1048576 },
	[LIMIT_FORWARD_CONNS] = { "max-forward-connections",
	    "connections per forward", 16384, 1, 1048576 },
	[LIMIT_PENDING_OPENS] = { "max-pending-opens",
	    "OPENs awaiting a data stream, per guest", 1024, 1, 1048576 },
	[LIMIT_SESSIONS] = { "max-sessions", "sessions (guests) per endpoint", 64,
	    1, 65536 },
	[LIMIT_UNIDENTIFIED] = { "max-unidentified",
	    "connections yet to send a first frame, per guest", 256, 1,
	    65536 },
	[LIMIT_UNIDENTIFIED_ALL] = { "max-unidentified-total",
	    "connections yet to send a first frame, over every guest", 4096,
	    1, 1048576 },
	[LIMIT_UDP_BUFFER] = { "max-udp-buffer",
	    "bytes queued for a guest's UDP flows", 4 * 1024 * 1024,
	    PH_DGRAM_FRAME_MAX, 1024 * 1024 * 1024 },
};

static time_t	last_logged[LIMIT_NKINDS];
static uint64_t	suppressed[LIMIT_NKINDS];

void
limits_init(uint32_t *limits)
{
	int	i;

	for (i = 0; i < LIMIT_NKINDS; i++)
		limits[i] = limit_defs[i].def;
}

/* Sets a limit from its flag's name; -1 with err set when out of range. */
int
limits_set(uint32_t *limits, const char *flag, const char *value, char *err,
    size_t errlen)
{
	char		 opt[64];
	long long	 v;
	int		 i;

	for (i = 0; i < LIMIT_NKINDS; i++) {
		if (strcmp(flag, limit_defs[i].flag) != 0)
			continue;
		snprintf(opt, sizeof opt, "--%s", flag);
		if (number_option(opt, value, limit_defs[i].min,
		    limit_defs[i].max, &v, err, errlen) == -1)
			return -1;
		limits[i] = (uint32_t)v;
		return 0;
	}
	snprintf(err, errlen, "no limit called %s", flag);
	return -1;
}

const char *
limit_flag(enum limit_kind k)
{
	return limit_defs[k].flag;
}

const char *
limit_what(enum limit_kind k)
{
	return limit_defs[k].what;
}

/* Logs the hits that rate limiting held back, if any. */
void
limits_flush(void)
{
	int	i;

	for (i = 0; i < LIMIT_NKINDS; i++) {
		if (suppressed[i] == 0)
			continue;
		log_warnx("limit %s %u: %llu more hits not logged",
		    limit_defs[i].flag, host->limits[i],
		    (unsigned long long)suppressed[i]);
		suppressed[i] = 0;
	}
}

/* Counts a hit and logs it, rate-limited per kind. */
static void
limit_vhit(enum limit_kind k, uint32_t value, const char *fmt, va_list ap)
{
	char	msg[512];
	time_t	now = time(NULL);

	host->limit_hits[k]++;
	if (now == last_logged[k]) {
		suppressed[k]++;
		return;
	}
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (suppressed[k] > 0)
		log_warnx("%s (limit %s %u; %llu more hits not logged)", msg,
		    limit_defs[k].flag, value,
		    (unsigned long long)suppressed[k]);
	else
		log_warnx("%s (limit %s %u)", msg, limit_defs[k].flag, value);
	last_logged[k] = now;
	suppressed[k] = 0;
}

void
limit_hit(enum limit_kind k, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	limit_vhit(k, host->limits[k], fmt, ap);
	va_end(ap);
}

/* A hit on a limit whose value for this guest is not the flag's. */
void
limit_hit_value(enum limit_kind k, uint32_t value, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	limit_vhit(k, value, fmt, ap);
	va_end(ap);
}

/*
 * Warnings a guest triggers (limit_warn): a guest that floods bad input
 * gets a bounded number of lines, and of API error events, a second.
 * A guest is its endpoint and vsock CID, as the listener knows it before
 * any frame.  Each (guest, kind) has an entry for one second from its
 * first warning: then the count of those not logged is, and it goes.
 */
struct warn_entry {
	RB_ENTRY(warn_entry)	 node;
	const struct guest_ep	*gep;
	uint32_t		 cid;
	enum warn_kind		 kind;
	int			 nlogged;
	uint64_t		 suppressed;
	struct event		*expire;
};

static const char *const warn_names[WARN_NKINDS] = {
	[WARN_FIRST_FRAME] = "first-frame",
	[WARN_VERSION] = "version",
	[WARN_EXPOSE] = "expose",
	[WARN_NO_STREAM] = "no-stream",
	[WARN_STRAY_STREAM] = "stray-stream",
	[WARN_GUEST_ERROR] = "guest-error",
	[WARN_AUTH] = "auth",
	[WARN_REACH] = "reach",
	[WARN_REACH_CONN] = "reverse-connection",
};

static int
warn_cmp(const struct warn_entry *a, const struct warn_entry *b)
{
	if (a->gep != b->gep)
		return a->gep < b->gep ? -1 : 1;
	if (a->cid != b->cid)
		return a->cid < b->cid ? -1 : 1;
	return a->kind < b->kind ? -1 : a->kind > b->kind;
}

RB_HEAD(warn_tree, warn_entry);
PH_RB_PROTOTYPE(warn_tree, warn_entry, node, warn_cmp);
PH_RB_GENERATE(warn_tree, warn_entry, node, warn_cmp)

static struct warn_tree	warns = RB_INITIALIZER(&warns);

/* Lines of this kind are news, not warnings (logged by limit_warn at info). */
static int
warn_is_info(enum warn_kind kind)
{
	return kind == WARN_REACH_CONN;
}

static void
warn_expire(struct warn_entry *e)
{
	void		(*logf)(const char *, ...) = warn_is_info(e->kind) ?
			    log_info : log_warnx;
	const char	*what = warn_is_info(e->kind) ? "lines" : "warnings";

	if (e->suppressed > 0 && e->cid != 0)
		logf("%s: cid %u: %llu more %s %s not logged",
		    e->gep->ep.str, e->cid, (unsigned long long)e->suppressed,
		    warn_names[e->kind], what);
	else if (e->suppressed > 0)
		logf("%s: %llu more %s %s not logged", e->gep->ep.str,
		    (unsigned long long)e->suppressed, warn_names[e->kind],
		    what);
	RB_REMOVE(warn_tree, &warns, e);
	event_free(e->expire);
	free(e);
}

static void
warn_expire_cb(int fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	warn_expire(arg);
}

static struct warn_entry *
warn_get(const struct guest_ep *gep, uint32_t cid, enum warn_kind kind)
{
	struct warn_entry	 key = { .gep = gep, .cid = cid, .kind = kind };
	struct warn_entry	*e;
	struct timeval		 tv = { 1, 0 };

	if ((e = RB_FIND(warn_tree, &warns, &key)) != NULL)
		return e;
	e = xcalloc(1, sizeof *e);
	*e = key;
	if ((e->expire = evtimer_new(host->base, warn_expire_cb, e)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(e->expire, &tv);
	RB_INSERT(warn_tree, &warns, e);
	return e;
}

/* Whether a line of kind for the guest on gep may be logged now. */
static int
limit_may_log(const struct guest_ep *gep, uint32_t cid, enum warn_kind kind)
{
	struct warn_entry	*e = warn_get(gep, cid, kind);

	if (e->nlogged >= LIMIT_WARN_BURST) {
		e->suppressed++;
		return 0;
	}
	e->nlogged++;
	return 1;
}

/*
 * A line the guest on gep (with this CID, or 0) caused: rate-limited.
 * A warning, or news for a kind warn_is_info() names (logged at info).
 */
void
limit_warn(const struct guest_ep *gep, uint32_t cid, enum warn_kind kind,
    const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	if (!limit_may_log(gep, cid, kind))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (warn_is_info(kind))
		log_info("%s", msg);
	else
		log_warnx("%s", msg);
}

/* At exit (or an endpoint's end): the counts held back, logged. */
void
limits_warn_flush_all(void)
{
	struct warn_entry	*e;

	while ((e = RB_MIN(warn_tree, &warns)) != NULL)
		warn_expire(e);
}
