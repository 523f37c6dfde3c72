/*
 * GET /v1/reaches: the reverse entries (protocol 6), as JSON, each with
 * where it leads on the host, where the guest listens for it, which
 * guests may use it now, and its connections and bytes (relays still
 * running included).
 */
#include <jansson.h>

#include "host.h"
#include "relay.h"

struct reach_live {
	const struct reach_entry	*e;
	uint64_t			 to_guest, from_guest;
};

static void
reach_live_cb(const struct reach_entry *e, const struct relay_stats *st,
    void *arg)
{
	struct reach_live	*l = arg;

	if (e != l->e)
		return;
	l->to_guest += st->bytes_out;
	l->from_guest += st->bytes_in;
}

static json_t *
json_side(const struct ph_reach_entry *g)
{
	char	addr[PH_ADDRSTRLEN];

	if (g->kind == PH_KIND_UNIX)
		return json_pack("{s:s, s:n, s:n, s:s}", "kind", "unix",
		    "address", "port", "name", g->name);
	return json_pack("{s:s, s:s, s:i, s:n}", "kind", "tcp", "address",
	    addr_ntop(&g->addr, addr, sizeof addr), "port", (int)g->port,
	    "name");
}

/* The names of the guests connected now that may use e. */
static json_t *
json_reach_guests(const struct reach_entry *e)
{
	struct session	*s;
	json_t		*a = json_array();

	TAILQ_FOREACH(s, &host->sessions, entry)
		if (s->proto >= PH_PROTO_VERSION_REACH &&
		    reach_lookup(s, e->id) == e)
			json_array_append_new(a, api_json_text(s->name));
	return a;
}

static void
json_reach_cb(const struct reach_entry *e, void *arg)
{
	const struct policy_file	*pf = host->policy.file;
	struct reach_live		 l = { e, e->bytes_out, e->bytes_in };
	json_t				*o;

	reach_foreach_relay(reach_live_cb, &l);
	o = json_pack("{s:I, s:s, s:o, s:s, s:o, s:o, s:o}",
	    "id", (json_int_t)e->id,
	    "source", e->line == 0 ? "command line" : "policy file",
	    "line", e->line == 0 ? json_null() : json_integer(e->line),
	    "destination", e->dest_text,
	    "guest", e->guest == -1 ? json_null() :
	    api_json_text(pf->guests[e->guest].pattern),
	    "guest_side", json_side(&e->side),
	    "guests", json_reach_guests(e));
	json_object_update_new(o, json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}",
	    "text", api_json_text(e->text),
	    "connections_active", (json_int_t)e->conns_active,
	    "connections_total", (json_int_t)e->conns_total,
	    "dial_failed", (json_int_t)e->dial_failed,
	    "bytes_to_guest", (json_int_t)l.to_guest,
	    "bytes_from_guest", (json_int_t)l.from_guest));
	json_array_append_new(arg, o);
}

json_t *
api_json_reaches(void)
{
	json_t	*a = json_array();

	reach_foreach(json_reach_cb, a);
	return a;
}
