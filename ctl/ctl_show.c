/*
 * What portholectl prints for people: the agent's JSON as short lines
 * and tables (the table of forwards is proto/fwtable.c's, which
 * porthole-guest status prints too).  --json prints the JSON itself
 * instead (portholectl.c).
 * Fields missing from a reply (an older or newer agent) print as "-".
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "fwtable.h"

static const char *
show_str(json_t *o, const char *key)
{
	const char	*s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "-";
}

static long long
show_int(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static void
show_uptime(char *buf, size_t len, long long s)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%llds", s);
}

static void
show_policy_line(json_t *p, const char *label)
{
	const char	*mode = show_str(p, "mode");
	const char	*asked = show_str(p, "requested");

	printf("%s%s", label, mode);
	if (strcmp(mode, asked) != 0)
		printf(" (asked for %s)", asked);
	if (json_is_true(json_object_get(p, "loopback_only")))
		printf(" --loopback-only");
	if (json_is_false(json_object_get(p, "may_loosen")))
		printf(": may only be tightened");
	printf("\n");
}

/* "12:34:56" in local time, from the agent's UTC timestamp. */
static void
show_time(char *buf, size_t len, const char *stamp)
{
	struct tm	tm;
	time_t		t;

	memset(&tm, 0, sizeof tm);
	if (strptime(stamp, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
		strlcpy(buf, "--:--:--", len);
		return;
	}
	t = timegm(&tm);
	localtime_r(&t, &tm);
	strftime(buf, len, "%H:%M:%S", &tm);
}

void
show_status(json_t *st, json_t *guests)
{
	json_t	*fw = json_object_get(st, "forwards"), *g;
	json_t	*cn = json_object_get(st, "connections");
	char	 up[32], t[16];
	size_t	 i;

	show_uptime(up, sizeof up, show_int(st, "uptime_seconds"));
	printf("porthole-host %s (protocol %lld), pid %lld, up %s\n",
	    show_str(st, "version"), show_int(st, "protocol"),
	    show_int(st, "pid"), up);
	show_policy_line(json_object_get(st, "policy"), "policy:       ");
	printf("api:          %s\n", show_str(st, "api"));
	printf("forwards:     %lld: %lld bound, %lld rewritten, %lld refused, "
	    "%lld failed\n", show_int(fw, "total"), show_int(fw, "bound"),
	    show_int(fw, "rewritten"), show_int(fw, "refused"),
	    show_int(fw, "failed"));
	printf("connections:  %lld active, %lld total\n", show_int(cn,
	    "active"), show_int(cn, "total"));
	printf("guests:       %lld\n", show_int(st, "guests"));
	json_array_foreach(guests, i, g) {
		show_time(t, sizeof t, show_str(g, "connected_at"));
		printf("  %s: agent %s, %lld forwards, %lld connections, "
		    "connected at %s\n", show_str(g, "id"), show_str(g,
		    "agent_version"), show_int(g, "forwards"), show_int(g,
		    "connections_active"), t);
	}
}

void
show_policy(json_t *p)
{
	json_t		*f = json_object_get(p, "file");
	long long	 nr, ng;

	show_policy_line(p, "policy ");
	if (!json_is_object(f))
		return;
	/* The administrator's file (porthole-policy(5)), when there is one. */
	nr = json_integer_value(json_object_get(f, "rules"));
	ng = json_integer_value(json_object_get(f, "guests"));
	printf("file %s: mode %s, %lld rule%s, %lld guest block%s%s\n",
	    show_str(f, "path"), show_str(f, "mode"), nr, nr == 1 ? "" : "s",
	    ng, ng == 1 ? "" : "s",
	    json_is_true(json_object_get(f, "locked")) ? ", locked" : "");
}

/*
 * After the table, a line for each guest socket on the host, ready for
 * the shell or `docker context create NAME --docker host=...`.
 */
static void
show_docker_hosts(json_t *list)
{
	json_t		*f;
	const char	*dh;
	size_t		 i;
	int		 first = 1;

	json_array_foreach(list, i, f) {
		dh = json_string_value(json_object_get(f, "docker_host"));
		if (dh == NULL || strncmp(dh, "unix:///", 8) != 0)
			continue;
		if (first)
			printf("\n");
		first = 0;
		printf("DOCKER_HOST=%s\t# guest %s, socket %s\n", dh,
		    show_str(f, "guest"), show_str(f, "socket_name"));
	}
}

void
show_forwards(json_t *list)
{
	if (json_array_size(list) == 0)
		printf("no forwards\n");
	else {
		fwtable_print(stdout, list, FWTABLE_GUEST | FWTABLE_CONNS);
		show_docker_hosts(list);
	}
}

/*
 * After the forwards, what the guests may reach on the host (reverse
 * entries, protocol 6), when there is any: where each guest listens,
 * where that leads, for which guests, and its connections (now/total).
 */
void
show_reaches(json_t *list)
{
	json_t		*e, *side;
	char		 place[128], conns[48];
	size_t		 i;

	if (json_array_size(list) == 0)
		return;
	printf("\n%-6s %-24s %-32s %-14s %s\n", "REACH", "GUEST SIDE",
	    "HOST DESTINATION", "FOR", "CONNS");
	json_array_foreach(list, i, e) {
		side = json_object_get(e, "guest_side");
		if (strcmp(show_str(side, "kind"), "unix") == 0)
			snprintf(place, sizeof place, "%s", show_str(side,
			    "name"));
		else if (strchr(show_str(side, "address"), ':') != NULL)
			snprintf(place, sizeof place, "[%s]:%lld",
			    show_str(side, "address"), show_int(side, "port"));
		else
			snprintf(place, sizeof place, "%s:%lld",
			    show_str(side, "address"), show_int(side, "port"));
		snprintf(conns, sizeof conns, "%lld/%lld",
		    show_int(e, "connections_active"),
		    show_int(e, "connections_total"));
		printf("%-6lld %-24s %-32s %-14s %s\n", show_int(e, "id"),
		    place, show_str(e, "destination"),
		    json_is_null(json_object_get(e, "guest")) ? "every guest" :
		    show_str(e, "guest"), conns);
	}
}

static void
show_forward_event(json_t *ev, const char *name)
{
	json_t		*f = json_object_get(ev, "forward"), *h;
	char		 ga[80], ha[80];
	const char	*proc = show_str(f, "process");
	size_t		 i;

	fwtable_addr(ga, sizeof ga, show_str(f, "guest_address"),
	    show_int(f, "guest_port"));
	printf("%s %s %s", show_str(ev, "guest"), show_str(f, "proto"), ga);
	if (strcmp(proc, "-") != 0)
		printf(" (%s)", proc);
	if (strcmp(name, "forward-closed") == 0) {
		printf(": %s\n", show_str(ev, "reason"));
		return;
	}
	json_array_foreach(json_object_get(f, "host"), i, h) {
		fwtable_addr(ha, sizeof ha, show_str(h, "address"),
		    show_int(h, "port"));
		printf("%s%s", i == 0 ? " -> " : ",", ha);
	}
	printf(": %s\n", show_str(f, "reason"));
}

void
show_event(json_t *ev)
{
	const char	*name = show_str(ev, "event");
	char		 t[16];

	if (strcmp(name, "stream-start") == 0)
		return;
	show_time(t, sizeof t, show_str(ev, "time"));
	printf("%s %-17s ", t, name);
	if (strncmp(name, "forward-", 8) == 0)
		show_forward_event(ev, name);
	else if (strcmp(name, "guest-connected") == 0)
		printf("%s\n", show_str(ev, "guest_id"));
	else if (strcmp(name, "guest-gone") == 0)
		printf("%s: %s\n", show_str(ev, "guest_id"),
		    show_str(ev, "reason"));
	else if (strcmp(name, "policy-changed") == 0)
		printf("%s: %s\n", show_str(json_object_get(ev, "policy"),
		    "mode"), show_str(ev, "reason"));
	else if (strcmp(name, "error") == 0)
		printf("%s\n", show_str(ev, "message"));
	else
		printf("\n");
}
