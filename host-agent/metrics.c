/*
 * Metrics in the Prometheus text format (version 0.0.4), for GET
 * /metrics.  Gauges are read from the agent's state when scraped;
 * counters are kept here, fed by the event bus, so that they survive the
 * forwards and sessions they count.  Label values are short fixed words,
 * never text from a guest.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "host.h"
#include "relay.h"
#include "version.h"

#define METRICS_MAX_REASONS	32

struct reason_count {
	const char	*label;
	uint8_t		 verdict;	/* refusals only */
	uint64_t	 n;
};

static struct {
	uint64_t		conns_opened, conns_closed;
	uint64_t		bytes_to_guest, bytes_from_guest;	/* ended */
	uint64_t		sessions, errors;
	struct reason_count	refusals[METRICS_MAX_REASONS];
	int			nrefusals;
	struct reason_count	ended[METRICS_MAX_REASONS];
	int			nended;
} m;

static struct reason_count *
reason_slot(struct reason_count *t, int *n, uint8_t verdict,
    const char *label)
{
	int	i;

	for (i = 0; i < *n; i++)
		if (t[i].verdict == verdict && strcmp(t[i].label, label) == 0)
			return &t[i];
	if (*n == METRICS_MAX_REASONS)
		return NULL;
	t[*n].verdict = verdict;
	t[*n].label = label;
	return &t[(*n)++];
}

static void
reason_add(struct reason_count *t, int *n, uint8_t verdict,
    const char *label)
{
	struct reason_count	*rc = reason_slot(t, n, verdict, label);

	if (rc != NULL)
		rc->n++;
}

static void
metrics_forward(const struct forward *f)
{
	uint8_t	v = f->dec.verdict;

	if (v == PH_REFUSED || v == PH_FAILED)
		reason_add(m.refusals, &m.nrefusals, v,
		    reason_refusal(f->dec.code));
}

static void
metrics_event_cb(const struct hevent *ev, void *arg)
{
	(void)arg;
	switch (ev->type) {
	case HEV_GUEST_CONNECTED:
		m.sessions++;
		break;
	case HEV_GUEST_GONE:
		reason_add(m.ended, &m.nended, 0, reason_end(ev->end));
		break;
	case HEV_FORWARD:
	case HEV_FORWARD_REDECIDED:
		metrics_forward(ev->f);
		break;
	case HEV_CONN_OPENED:
		m.conns_opened++;
		break;
	case HEV_CONN_BYTES:
		m.bytes_to_guest += ev->bytes_out;
		m.bytes_from_guest += ev->bytes_in;
		break;
	case HEV_CONN_CLOSED:
		m.conns_closed++;
		break;
	case HEV_ERROR:
		m.errors++;
		break;
	default:
		break;
	}
}

void
metrics_init(void)
{
	static const enum refusal codes[] = { REFUSAL_POLICY, REFUSAL_RULE,
				    REFUSAL_LIMIT, REFUSAL_PORT_IN_USE,
				    REFUSAL_NOT_UNICAST,
				    REFUSAL_PRIVILEGED_PORT };
	static const enum refusal fails[] = { REFUSAL_ADDRESS_IN_USE,
				    REFUSAL_LISTEN_ERROR };
	size_t			 i;

	/* Known series are there from the start, at 0. */
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		reason_slot(m.refusals, &m.nrefusals, PH_REFUSED,
		    reason_refusal(codes[i]));
	for (i = 0; i < sizeof fails / sizeof fails[0]; i++)
		reason_slot(m.refusals, &m.nrefusals, PH_FAILED,
		    reason_refusal(fails[i]));
	/* Every way a session ends, "error" (0) last. */
	for (i = 1; i <= END_NKINDS; i++)
		reason_slot(m.ended, &m.nended, 0,
		    reason_end(i % END_NKINDS));
	events_subscribe(metrics_event_cb, NULL);
}

void
metrics_conns(uint64_t *active, uint64_t *total)
{
	*active = m.conns_opened - m.conns_closed;
	*total = m.conns_opened;
}

static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
metrics_forwards(struct evbuffer *b)
{
	static const uint8_t	 verdicts[] = { PH_BOUND, PH_REWRITTEN,
				    PH_REFUSED, PH_FAILED };
	uint64_t		 n[5] = { 0 };
	struct session		*s;
	struct forward		*f;
	size_t			 i;

	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry)
			if (f->dec.verdict >= PH_BOUND &&
			    f->dec.verdict <= PH_FAILED)
				n[f->dec.verdict]++;
	head(b, "porthole_forwards", "gauge",
	    "Guest binds known now, by the host's verdict.");
	for (i = 0; i < sizeof verdicts; i++)
		evbuffer_add_printf(b, "porthole_forwards{verdict=\"%s\"} "
		    "%llu\n", ph_verdict_name(verdicts[i]),
		    (unsigned long long)n[verdicts[i]]);
}

static void
live_bytes_cb(const struct forward *f, const struct relay_stats *st,
    void *arg)
{
	uint64_t	*sum = arg;

	(void)f;
	sum[0] += st->bytes_out;
	sum[1] += st->bytes_in;
}

static void
metrics_counters(struct evbuffer *b)
{
	uint64_t	live[2] = { 0, 0 }, active, total;
	int		i;

	metrics_conns(&active, &total);
	head(b, "porthole_connections_active", "gauge",
	    "Forwarded client connections open now.");
	evbuffer_add_printf(b, "porthole_connections_active %llu\n",
	    (unsigned long long)active);
	head(b, "porthole_connections_total", "counter",
	    "Client connections accepted on forwards.");
	evbuffer_add_printf(b, "porthole_connections_total %llu\n",
	    (unsigned long long)total);
	conn_foreach_relay(live_bytes_cb, live);
	head(b, "porthole_bytes_total", "counter",
	    "Bytes relayed, by direction.");
	evbuffer_add_printf(b, "porthole_bytes_total{direction=\"to_guest\"} "
	    "%llu\n", (unsigned long long)(m.bytes_to_guest + live[0]));
	evbuffer_add_printf(b, "porthole_bytes_total{direction=\"from_guest\"} "
	    "%llu\n", (unsigned long long)(m.bytes_from_guest + live[1]));
	head(b, "porthole_refusals_total", "counter",
	    "Guest binds refused by policy or failed on the host, by reason.");
	for (i = 0; i < m.nrefusals; i++)
		evbuffer_add_printf(b, "porthole_refusals_total{verdict=\"%s\","
		    "reason=\"%s\"} %llu\n",
		    ph_verdict_name(m.refusals[i].verdict), m.refusals[i].label,
		    (unsigned long long)m.refusals[i].n);
	head(b, "porthole_sessions_total", "counter",
	    "Guest control sessions started.");
	evbuffer_add_printf(b, "porthole_sessions_total %llu\n",
	    (unsigned long long)m.sessions);
	head(b, "porthole_sessions_ended_total", "counter",
	    "Guest control sessions ended, by reason.");
	for (i = 0; i < m.nended; i++)
		evbuffer_add_printf(b, "porthole_sessions_ended_total{reason="
		    "\"%s\"} %llu\n", m.ended[i].label,
		    (unsigned long long)m.ended[i].n);
	head(b, "porthole_limit_hits_total", "counter",
	    "Requests refused for going over a --max- limit, by limit.");
	for (i = 0; i < LIMIT_NKINDS; i++)
		evbuffer_add_printf(b, "porthole_limit_hits_total{limit=\"%s\"} "
		    "%llu\n", limit_flag(i),
		    (unsigned long long)host->limit_hits[i]);
	head(b, "porthole_udp_dropped_total", "counter",
	    "Datagrams from clients dropped, not queued for the guest: its "
	    "flow's queue or its --max-udp-buffer was full.");
	evbuffer_add_printf(b, "porthole_udp_dropped_total %llu\n",
	    (unsigned long long)host->udp_dropped);
	head(b, "porthole_streams_returned_total", "counter",
	    "Data streams put back in their guest's pool after carrying a "
	    "connection to a clean end (protocol 4), for the next client.");
	evbuffer_add_printf(b, "porthole_streams_returned_total %llu\n",
	    (unsigned long long)host->streams_returned);
	head(b, "porthole_streams_pooled", "gauge",
	    "Data streams idle in guests' pools now, each ready for a client "
	    "(a descriptor here and one in its guest).");
	evbuffer_add_printf(b, "porthole_streams_pooled %llu\n",
	    (unsigned long long)host->streams_pooled);
	head(b, "porthole_guest_refused_total", "counter",
	    "Connections refused as not the guest's own agent (a vsock CID "
	    "or source port, a missing or wrong key proof), by reason.");
	for (i = 0; i < GATE_NKINDS; i++)
		evbuffer_add_printf(b, "porthole_guest_refused_total{reason="
		    "\"%s\"} %llu\n", gate_name(i),
		    (unsigned long long)host->gate_refused[i]);
	head(b, "porthole_errors_total", "counter",
	    "Warnings and errors the host agent logged.");
	evbuffer_add_printf(b, "porthole_errors_total %llu\n",
	    (unsigned long long)m.errors);
}

/* The whole scrape, appended to b. */
static void
metrics_reach_cb(const struct reach_entry *e, void *arg)
{
	evbuffer_add_printf(arg, "porthole_reverse_connections_total"
	    "{entry=\"%u\"} %llu\n", e->id,
	    (unsigned long long)e->conns_total);
}

/* Reverse entries (v6): by entry id, as GET /v1/reaches lists them. */
static void
metrics_reaches(struct evbuffer *b)
{
	int	i;

	head(b, "porthole_reverse_connections_total", "counter",
	    "Connections from guests to a reverse entry, by its id.");
	reach_foreach(metrics_reach_cb, b);
	head(b, "porthole_reverse_refused_total", "counter",
	    "Reverse streams refused, by why: no session, an old one, an "
	    "entry not on the guest's list, over its connection limit.");
	for (i = 0; i < REACH_REFUSE_NKINDS; i++)
		evbuffer_add_printf(b, "porthole_reverse_refused_total"
		    "{reason=\"%s\"} %llu\n", reach_refusal_name(i),
		    (unsigned long long)host->reach_refused[i]);
}

void
metrics_render(struct evbuffer *b)
{
	struct session	*s;
	uint64_t	 nguests = 0;

	TAILQ_FOREACH(s, &host->sessions, entry)
		nguests++;
	head(b, "porthole_info", "gauge", "The porthole-host version.");
	evbuffer_add_printf(b, "porthole_info{version=\"%s\"} 1\n",
	    PORTHOLE_VERSION);
	head(b, "porthole_start_time_seconds", "gauge",
	    "When the host agent started, in seconds since the epoch.");
	evbuffer_add_printf(b, "porthole_start_time_seconds %lld\n",
	    (long long)host->started);
	head(b, "porthole_guests", "gauge", "Guests connected now.");
	evbuffer_add_printf(b, "porthole_guests %llu\n",
	    (unsigned long long)nguests);
	metrics_forwards(b);
	metrics_counters(b);
	metrics_reaches(b);
	head(b, "porthole_api_event_clients", "gauge",
	    "API clients following the event stream now.");
	evbuffer_add_printf(b, "porthole_api_event_clients %d\n",
	    api_stream_clients());
	head(b, "porthole_api_event_clients_dropped_total", "counter",
	    "Event stream clients dropped for not keeping up.");
	evbuffer_add_printf(b, "porthole_api_event_clients_dropped_total "
	    "%llu\n", (unsigned long long)api_stream_dropped());
}
