/*
 * The agent's state as JSON (jansson), for the API.  Guest names and
 * process names are printable ASCII, checked when their frame was
 * parsed; endpoints come from the command line and reasons may hold an
 * error string, so they go through api_json_text(): jansson refuses a
 * string that is not UTF-8, and a reply must never fail to build.
 */
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "host.h"
#include "relay.h"
#include "version.h"
#include "xmalloc.h"

/* RFC 3339, UTC, milliseconds: "2025-01-31T12:00:00.123Z" */
json_t *
api_json_time(const struct timespec *ts)
{
	struct tm	tm;
	char		buf[40], ms[8];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ms, sizeof ms, ".%03dZ", (int)(ts->tv_nsec / 1000000) % 1000);
	strlcat(buf, ms, sizeof buf);
	return json_string(buf);
}

/*
 * A string from a log line or an error: printable ASCII as it should
 * be, with anything else replaced, so that it is always valid JSON.
 */
json_t *
api_json_text(const char *s)
{
	char	buf[1024];
	size_t	i;

	for (i = 0; s[i] != '\0' && i + 1 < sizeof buf; i++)
		buf[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

static json_t *
json_secs(time_t t)
{
	struct timespec	ts = { .tv_sec = t };

	return api_json_time(&ts);
}

static json_t *
json_addr(const struct ph_addr *a)
{
	char	buf[PH_ADDRSTRLEN];

	return json_string(addr_ntop(a, buf, sizeof buf));
}

static json_t *
json_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

json_t *
api_json_policy(void)
{
	enum policy_mode		 mode = policy_effective(&host->policy);
	const struct policy_file	*pf = host->policy.file;
	char				 why[PH_REASON_MAX];

	return json_pack("{s:s, s:s, s:b, s:b, s:[s,s,s], s:o}",
	    "mode", policy_mode_name(mode),
	    "requested", policy_mode_name(host->policy.mode),
	    "loopback_only", host->policy.loopback_only,
	    "may_loosen", policy_may_set_mode(&host->policy, POLICY_ALLOW,
	    why, sizeof why) == 0,
	    "modes", "refuse", "loopback", "allow",
	    "file", pf == NULL ? json_null() : json_pack("{s:s, s:s, s:i, "
	    "s:i, s:b}", "path", pf->path, "mode", policy_mode_name(pf->mode),
	    "rules", pf->nrules, "guests", pf->nguests, "locked", pf->locked));
}

static json_t *
json_guest(const struct session *s)
{
	char		 boot[PH_BOOTID_LEN * 2 + 1];
	json_t		*g;
	uint64_t	 active = 0;
	struct forward	*f;
	int		 i;

	for (i = 0; i < PH_BOOTID_LEN; i++)
		snprintf(boot + i * 2, 3, "%02x", s->boot_id[i]);
	TAILQ_FOREACH(f, &s->forwards, entry)
		active += f->conns_active;
	g = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:i, s:I}",
	    "name", s->name, "id", api_json_text(s->id),
	    "endpoint", api_json_text(s->gep->ep.str),
	    "boot_id", boot, "agent_version", json_or_null(s->version),
	    "connected_at", json_secs(s->started),
	    "forwards", s->nforwards, "connections_active", (json_int_t)active);
	json_object_set_new(g, "cid", s->gep->ep.type == EP_VSOCK ?
	    json_integer(s->cid) : json_null());
	return g;
}

json_t *
api_json_guests(void)
{
	struct session	*s;
	json_t		*a = json_array();

	TAILQ_FOREACH(s, &host->sessions, entry)
		json_array_append_new(a, json_guest(s));
	return a;
}

/*
 * Bytes through forwards, relays still running included: the running
 * relays are walked once, and each is added to its forward's entry.
 */
struct fwbytes {
	const struct forward	*f;
	uint64_t		 to_guest, from_guest;
};

struct fwbytes_set {
	struct fwbytes	*v;
	size_t		 n;
};

static int
fwbytes_cmp(const void *a, const void *b)
{
	const struct forward	*x = ((const struct fwbytes *)a)->f;
	const struct forward	*y = ((const struct fwbytes *)b)->f;

	return x < y ? -1 : x > y;
}

static void
fwbytes_add_cb(const struct forward *f, const struct relay_stats *st,
    void *arg)
{
	struct fwbytes_set	*t = arg;
	struct fwbytes	 key = { .f = f }, *e;

	if ((e = bsearch(&key, t->v, t->n, sizeof *t->v, fwbytes_cmp)) ==
	    NULL)
		return;
	e->to_guest += st->bytes_out;
	e->from_guest += st->bytes_in;
}

/* The table of forwards (n of them, in v), with every byte counted. */
static void
fwbytes_fill(struct fwbytes_set *t)
{
	size_t	i;

	for (i = 0; i < t->n; i++) {
		t->v[i].to_guest = t->v[i].f->bytes_out;
		t->v[i].from_guest = t->v[i].f->bytes_in;
	}
	qsort(t->v, t->n, sizeof *t->v, fwbytes_cmp);
	conn_foreach_relay(fwbytes_add_cb, t);
}

/*
 * A guest Unix socket (protocol 5): no guest address or port, its name,
 * both paths, and DOCKER_HOST's value while it listens.
 */
static void
json_unix(json_t *o, const struct forward *f)
{
	char	dh[PH_SOCKPATH_MAX + 8];

	json_object_set_new(o, "guest_address", json_null());
	json_object_set_new(o, "guest_port", json_null());
	json_object_set_new(o, "socket_name", api_json_text(f->req.sock_name));
	json_object_set_new(o, "guest_path", f->guest_path[0] != '\0' ?
	    api_json_text(f->guest_path) : json_null());
	json_object_set_new(o, "host_path", f->host_path[0] != '\0' ?
	    api_json_text(f->host_path) : json_null());
	snprintf(dh, sizeof dh, "unix://%s", f->host_path);
	json_object_set_new(o, "docker_host", f->host_path[0] != '\0' ?
	    api_json_text(dh) : json_null());
}

static json_t *
json_forward(const struct forward *f, const struct fwbytes *b)
{
	json_t		*o, *hosts = json_array();
	int		 i;

	for (i = 0; i < f->dec.naddr; i++)
		json_array_append_new(hosts, json_pack("{s:o, s:i}",
		    "address", json_addr(&f->dec.host[i].addr),
		    "port", f->dec.host[i].port));
	o = json_pack("{s:o, s:I, s:s, s:o, s:i, s:b, s:o, s:s, s:o, s:o}",
	    "guest", json_or_null(f->s != NULL ? f->s->name : NULL),
	    "id", (json_int_t)f->id,
	    "proto", proto_name(f->req.proto),
	    "guest_address", json_addr(&f->req.addr),
	    "guest_port", f->req.port,
	    "v6only", f->req.v6only,
	    "process", json_or_null(f->process),
	    "verdict", ph_verdict_name(f->dec.verdict),
	    "host", hosts,
	    "reason", api_json_text(f->dec.reason));
	/* Why it does not listen, as a stable name to decide by. */
	json_object_set_new(o, "code", admit_listening(&f->dec) ? json_null() :
	    json_string(reason_refusal(f->dec.code)));
	if (f->req.proto == PH_KIND_UNIX)
		json_unix(o, f);
	if (f->dec.held_by[0] != '\0')	/* the port's other guest */
		json_object_set_new(o, "held_by",
		    api_json_text(f->dec.held_by));
	json_object_set_new(o, "connections_active",
	    json_integer((json_int_t)f->conns_active));
	json_object_set_new(o, "connections_total",
	    json_integer((json_int_t)f->conns_total));
	json_object_set_new(o, "bytes_to_guest",
	    json_integer((json_int_t)b->to_guest));
	json_object_set_new(o, "bytes_from_guest",
	    json_integer((json_int_t)b->from_guest));
	return o;
}

/* One forward (an event's), its bytes counted alone. */
static json_t *
json_forward1(const struct forward *f)
{
	struct fwbytes	b = { .f = f };
	struct fwbytes_set	t = { &b, 1 };

	fwbytes_fill(&t);
	return json_forward(f, &b);
}

json_t *
api_json_forwards(void)
{
	struct session	*s;
	struct forward	*f;
	struct fwbytes_set	 t = { NULL, 0 };
	struct fwbytes	 key;
	json_t		*a = json_array();
	size_t		 n = 0;

	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry)
			n++;
	if (n == 0)
		return a;
	t.v = xcalloc(n, sizeof *t.v);
	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry)
			t.v[t.n++].f = f;
	fwbytes_fill(&t);
	/* In the agent's order, not the table's. */
	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry) {
			key.f = f;
			json_array_append_new(a, json_forward(f, bsearch(&key,
			    t.v, t.n, sizeof *t.v, fwbytes_cmp)));
		}
	free(t.v);
	return a;
}

static json_t *
json_forward_counts(void)
{
	uint64_t	 n[PH_FAILED + 1] = { 0 }, total = 0;
	struct session	*s;
	struct forward	*f;

	TAILQ_FOREACH(s, &host->sessions, entry)
		TAILQ_FOREACH(f, &s->forwards, entry) {
			if (f->dec.verdict <= PH_FAILED)
				n[f->dec.verdict]++;
			total++;
		}
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "total",
	    (json_int_t)total, "bound", (json_int_t)n[PH_BOUND],
	    "rewritten", (json_int_t)n[PH_REWRITTEN],
	    "refused", (json_int_t)n[PH_REFUSED],
	    "failed", (json_int_t)n[PH_FAILED]);
}

json_t *
api_json_status(void)
{
	struct session	*s;
	struct guest_ep	*gep;
	json_t		*eps = json_array();
	uint64_t	 active, total;
	int		 nguests = 0;

	TAILQ_FOREACH(s, &host->sessions, entry)
		nguests++;
	TAILQ_FOREACH(gep, &host->endpoints, entry)
		json_array_append_new(eps, api_json_text(gep->ep.str));
	metrics_conns(&active, &total);
	return json_pack("{s:s, s:i, s:i, s:o, s:I, s:o, s:o, s:o, s:i, s:o, "
	    "s:{s:I, s:I}, s:i, s:I}",
	    "version", PORTHOLE_VERSION,
	    "protocol", PH_PROTO_VERSION,
	    "pid", (int)getpid(),
	    "started_at", json_secs(host->started),
	    "uptime_seconds", (json_int_t)(time(NULL) - host->started),
	    "api", api_json_text(api_endpoint()),
	    "endpoints", eps,
	    "policy", api_json_policy(),
	    "guests", nguests,
	    "forwards", json_forward_counts(),
	    "connections", "active", (json_int_t)active,
	    "total", (json_int_t)total,
	    "event_clients", api_stream_clients(),
	    "last_event", (json_int_t)events_last_seq());
}

/* One line of GET /v1/events. */
json_t *
api_json_event(const struct hevent *ev)
{
	json_t	*o;

	o = json_pack("{s:I, s:o, s:s}", "seq", (json_int_t)ev->seq,
	    "time", api_json_time(&ev->time), "event", events_name(ev));
	if (ev->s != NULL) {
		json_object_set_new(o, "guest", json_string(ev->s->name));
		json_object_set_new(o, "guest_id", api_json_text(ev->s->id));
	}
	if (ev->f != NULL)
		json_object_set_new(o, "forward", json_forward1(ev->f));
	if (ev->type == HEV_FORWARD_REDECIDED)
		json_object_set_new(o, "redecided", json_true());
	if (ev->type == HEV_GUEST_CONNECTED)
		json_object_set_new(o, "info", json_guest(ev->s));
	if (ev->type == HEV_GUEST_GONE)	/* why, as a stable name */
		json_object_set_new(o, "code", json_string(reason_end(ev->end)));
	if (ev->type == HEV_POLICY)
		json_object_set_new(o, "policy", api_json_policy());
	if (ev->reason != NULL)
		json_object_set_new(o, ev->type == HEV_ERROR ? "message" :
		    "reason", api_json_text(ev->reason));
	return o;
}
