/*
 * The event bus.  Sessions, forwards and connections announce what
 * happens to them here, in one-line calls; the API's event stream and the
 * metrics subscribe.  Delivery is synchronous and each subscriber must
 * not block: the stream queues a bounded amount per client and drops a
 * client that does not keep up.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "xmalloc.h"

struct events_sub {
	TAILQ_ENTRY(events_sub)	 entry;
	events_cb		 cb;
	void			*arg;
};

static TAILQ_HEAD(, events_sub)	subs = TAILQ_HEAD_INITIALIZER(subs);
static uint64_t			seq;

struct events_sub *
events_subscribe(events_cb cb, void *arg)
{
	struct events_sub	*sub;

	sub = xcalloc(1, sizeof *sub);
	sub->cb = cb;
	sub->arg = arg;
	TAILQ_INSERT_TAIL(&subs, sub, entry);
	return sub;
}

void
events_unsubscribe(struct events_sub *sub)
{
	TAILQ_REMOVE(&subs, sub, entry);
	free(sub);
}

/* The last sequence number given to an event (0: none yet). */
uint64_t
events_last_seq(void)
{
	return seq;
}

static void
events_emit(struct hevent *ev)
{
	struct events_sub	*sub, *next;

	ev->seq = ++seq;
	clock_gettime(CLOCK_REALTIME, &ev->time);
	TAILQ_FOREACH_SAFE(sub, &subs, entry, next)
		sub->cb(ev, sub->arg);
}

void
events_guest(enum hevent_type type, const struct session *s,
    enum end_reason end, const char *why)
{
	struct hevent	ev = { .type = type, .s = s, .reason = why,
			    .end = end };

	events_emit(&ev);
}

void
events_forward(enum hevent_type type, const struct forward *f,
    const char *why)
{
	struct hevent	ev = { .type = type, .s = f->s, .f = f, .reason = why };

	events_emit(&ev);
}

void
events_conn(enum hevent_type type, const struct forward *f)
{
	struct hevent	ev = { .type = type, .s = f->s, .f = f };

	events_emit(&ev);
}

/* A connection or flow ended, having moved these bytes. */
void
events_conn_bytes(const struct forward *f, uint64_t out, uint64_t in)
{
	struct hevent	ev = { .type = HEV_CONN_BYTES, .s = f->s, .f = f,
			    .bytes_out = out, .bytes_in = in };

	events_emit(&ev);
}

void
events_policy(const char *why)
{
	struct hevent	ev = { .type = HEV_POLICY, .reason = why };

	events_emit(&ev);
}

/* Every warning the agent logs is an error event too (log.c's hook). */
static void
events_warn_hook(const char *msg)
{
	struct hevent	ev = { .type = HEV_ERROR, .reason = msg };

	events_emit(&ev);
}

void
events_init(void)
{
	log_set_warn_hook(events_warn_hook);
}

const char *
events_name(const struct hevent *ev)
{
	switch (ev->type) {
	case HEV_GUEST_CONNECTED:
		return "guest-connected";
	case HEV_GUEST_GONE:
		return "guest-gone";
	case HEV_FORWARD:
	case HEV_FORWARD_REDECIDED:
		switch (ev->f->dec.verdict) {
		case PH_BOUND:
			return "forward-bound";
		case PH_REWRITTEN:
			return "forward-rewritten";
		case PH_REFUSED:
			return "forward-refused";
		default:
			return "forward-failed";
		}
	case HEV_FORWARD_CLOSED:
		return "forward-closed";
	case HEV_CONN_OPENED:
		return "connection-opened";
	case HEV_CONN_BYTES:
		return "connection-bytes";
	case HEV_CONN_CLOSED:
		return "connection-closed";
	case HEV_POLICY:
		return "policy-changed";
	case HEV_ERROR:
		return "error";
	}
	return "unknown";
}
