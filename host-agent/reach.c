/*
 * Reverse entries (protocol 6): the host destinations a guest may reach,
 * and where the guest listens for each.  Nothing is reachable unless the
 * host lists it: -R for every guest, a policy "reach" line for every
 * guest or, in a guest block, for that guest only.
 *
 *	DEST		127.0.0.1:5432, [::1]:5432 or /abs/path.sock
 *	SIDE		PORT or ADDR:PORT (loopback, port 1024 up) or NAME
 *			default: 127.0.0.1 and DEST's port, or the
 *			socket file's name without ".sock"
 *
 * The guest is sent its list (REACH: each entry's id and its side only)
 * when its session starts and whenever the policy changes.  A stream it
 * opens names an id, and reach_lookup() finds it on the guest's list as
 * it is now: a stale id, another guest's or a made-up one finds nothing.
 * An entry keeps its id (and counts) over a reload while its text and
 * guest block stay the same.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "number.h"
#include "xmalloc.h"

static const char *const reach_refusal_names[REACH_REFUSE_NKINDS] = {
	[REACH_REFUSE_SESSION] = "session",
	[REACH_REFUSE_VERSION] = "version",
	[REACH_REFUSE_ENTRY] = "entry",
	[REACH_REFUSE_LIMIT] = "limit",
};

const char *
reach_refusal_name(enum reach_refusal r)
{
	return reach_refusal_names[r];
}

/* "ADDR:PORT" or "[V6]:PORT" into a and port; -1 if it is not one. */
static int
reach_parse_hostport(const char *s, struct ph_addr *a, uint16_t *port)
{
	char		 name[PH_ADDRSTRLEN];
	const char	*colon, *errstr, *h = s;
	size_t		 hlen;

	if ((colon = strrchr(s, ':')) == NULL)
		return -1;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 2 || s[hlen - 1] != ']')
			return -1;
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen) != NULL)
		return -1;	/* an IPv6 address goes in brackets */
	if (hlen == 0 || hlen >= sizeof name)
		return -1;
	memcpy(name, h, hlen);
	name[hlen] = '\0';
	if (addr_parse(name, a) == -1)
		return -1;
	*port = (uint16_t)number_parse(colon + 1, 1, 65535, &errstr);
	return errstr == NULL ? 0 : -1;
}

static int
reach_parse_dest(const char *s, struct reach_entry *e, char *err,
    size_t len)
{
	if (s[0] == '/') {
		if (strlen(s) >= sizeof e->dest_path) {
			snprintf(err, len, "%.40s...: a socket path is at most "
			    "%zu bytes", s, sizeof e->dest_path - 1);
			return -1;
		}
		e->dest_kind = PH_KIND_UNIX;
		strlcpy(e->dest_path, s, sizeof e->dest_path);
		strlcpy(e->dest_text, s, sizeof e->dest_text);
		return 0;
	}
	if (reach_parse_hostport(s, &e->dest_addr, &e->dest_port) == -1 ||
	    addr_is_any(&e->dest_addr)) {
		snprintf(err, len, "\"%.120s\" is neither ADDRESS:PORT "
		    "([IPv6]:PORT) nor an absolute socket path", s);
		return -1;
	}
	e->dest_kind = IPPROTO_TCP;
	addr_fmt(&e->dest_addr, e->dest_port, e->dest_text,
	    sizeof e->dest_text);
	return 0;
}

static int
reach_loopback(const struct ph_addr *a)
{
	if (a->family == AF_INET)
		return (ntohl(a->u.v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->u.v6);
}

/* The side's default: DEST's port on 127.0.0.1, or its file's name. */
static int
reach_default_side(struct reach_entry *e, char *err, size_t len)
{
	struct ph_reach_entry	*g = &e->side;
	const char		*base, *why;
	size_t			 n;

	if (e->dest_kind == IPPROTO_TCP) {
		g->kind = IPPROTO_TCP;
		addr_parse("127.0.0.1", &g->addr);
		g->port = e->dest_port;
		if (g->port >= 1024)
			return 0;
		snprintf(err, len, "%s: give the guest a port of 1024 or "
		    "more (DEST=PORT, or \"as PORT\")", e->dest_text);
		return -1;
	}
	base = strrchr(e->dest_path, '/') + 1;
	n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".sock") == 0)
		n -= 5;
	g->kind = PH_KIND_UNIX;
	if (n < sizeof g->name) {
		memcpy(g->name, base, n);
		g->name[n] = '\0';
		if (ph_sockname_check(g->name, &why) == 0)
			return 0;
	}
	snprintf(err, len, "%s: its file's name cannot name the guest's "
	    "socket: give one (DEST=NAME, or \"as NAME\")", e->dest_text);
	return -1;
}

static int
reach_parse_side(const char *s, struct reach_entry *e, char *err,
    size_t len)
{
	struct ph_reach_entry	*g = &e->side;
	const char		*errstr, *why;
	char			 port[8];

	if (s == NULL)
		return reach_default_side(e, err, len);
	g->kind = IPPROTO_TCP;
	if (strspn(s, "0123456789") == strlen(s)) {
		addr_parse("127.0.0.1", &g->addr);
		g->port = (uint16_t)number_parse(s, 1024, 65535, &errstr);
	} else if (reach_parse_hostport(s, &g->addr, &g->port) == 0) {
		snprintf(port, sizeof port, "%u", g->port);
		number_parse(port, 1024, 65535, &errstr);
		if (errstr == NULL && !reach_loopback(&g->addr))
			errstr = "not a loopback address of the guest";
	} else {
		g->kind = PH_KIND_UNIX;
		if (ph_sockname_check(s, &why) == 0) {
			strlcpy(g->name, s, sizeof g->name);
			return 0;
		}
		snprintf(err, len, "\"%.60s\": neither a port, a loopback "
		    "ADDRESS:PORT nor a socket name (%s)", s, why);
		return -1;
	}
	if (errstr != NULL) {
		snprintf(err, len, "guest side \"%.60s\": %s (ports 1024 to "
		    "65535, on loopback)", s, errstr);
		return -1;
	}
	return 0;
}

void
reach_side_text(const struct ph_reach_entry *g, char *buf, size_t len)
{
	if (g->kind == PH_KIND_UNIX)
		strlcpy(buf, g->name, len);
	else
		addr_fmt(&g->addr, g->port, buf, len);
}

/*
 * An entry from DEST and SIDE (NULL: the default); 0, or -1 with err
 * set.  Its id is given later (reach_adopt_ids(), reach_add_cli()).
 */
int
reach_parse(const char *dest, const char *side, struct reach_entry *e,
    char *err, size_t len)
{
	char	stext[PH_ADDRSTRLEN + PH_SOCKNAME_MAX];

	memset(e, 0, sizeof *e);
	e->guest = -1;
	if (reach_parse_dest(dest, e, err, len) == -1 ||
	    reach_parse_side(side, e, err, len) == -1)
		return -1;
	reach_side_text(&e->side, stext, sizeof stext);
	snprintf(e->text, sizeof e->text, "reach %s as %s", e->dest_text,
	    stext);
	return 0;
}

/* -R DEST[=SIDE]: for every guest; exits on a bad one. */
void
reach_add_cli(const char *arg)
{
	struct reach_entry	 e;
	char			 dest[PH_SOCKPATH_MAX + 64], err[256];
	char			*side;

	if (strlcpy(dest, arg, sizeof dest) >= sizeof dest) {
		fprintf(stderr, "porthole-host: -R: too long\n");
		exit(2);
	}
	if ((side = strrchr(dest, '=')) != NULL)
		*side++ = '\0';
	if (reach_parse(dest, side, &e, err, sizeof err) == -1) {
		fprintf(stderr, "porthole-host: -R %s: %s\n", arg, err);
		exit(2);
	}
	if (host->nreach_cli == REACH_CLI_MAX) {
		fprintf(stderr, "porthole-host: more than %d -R\n",
		    REACH_CLI_MAX);
		exit(2);
	}
	e.id = ++host->reach_seq;
	host->reach_cli = xreallocarray(host->reach_cli, host->nreach_cli + 1,
	    sizeof e);
	host->reach_cli[host->nreach_cli++] = e;
}

static const char *
reach_scope(const struct policy_file *pf, const struct reach_entry *e)
{
	return e->guest == -1 ? "" : pf->guests[e->guest].pattern;
}

/*
 * A new file's entries take the ids (and counts) of the same entries
 * in the file it replaces, same text in the same guest block; the rest
 * get new ids, so that an id once removed never comes back.
 */
void
reach_adopt_ids(struct policy_file *pf, struct policy_file *old)
{
	struct reach_entry	*e, *o = NULL;
	int			 i, j;

	for (i = 0; i < pf->nreaches; i++) {
		e = &pf->reaches[i];
		for (j = 0; old != NULL && j < old->nreaches; j++) {
			o = &old->reaches[j];
			if (o->id != 0 && strcmp(o->text, e->text) == 0 &&
			    strcmp(reach_scope(old, o), reach_scope(pf, e)) == 0)
				break;
		}
		if (old == NULL || j == old->nreaches) {
			e->id = ++host->reach_seq;
			continue;
		}
		e->id = o->id;
		e->conns_total = o->conns_total;
		e->conns_active = o->conns_active;
		e->dial_failed = o->dial_failed;
		e->bytes_in = o->bytes_in;
		e->bytes_out = o->bytes_out;
		o->id = 0;	/* taken: a twin line gets a new id */
	}
}

static int
reach_applies(const struct session *s, const struct reach_entry *e)
{
	const struct policy_file	*pf = host->policy.file;

	return e->guest == -1 || policy_guest_match(&pf->guests[e->guest],
	    s->name, s->gep->ep.str, s->cid);
}

/*
 * The entries s may reach now, -R's first, then the file's in order,
 * at most max.  Returns how many there are (which may be more).
 */
int
reach_list(const struct session *s, const struct reach_entry **out, int max)
{
	const struct policy_file	*pf = host->policy.file;
	int				 i, n = 0;

	for (i = 0; i < host->nreach_cli; i++, n++)
		if (n < max)
			out[n] = &host->reach_cli[i];
	for (i = 0; pf != NULL && i < pf->nreaches; i++) {
		if (!reach_applies(s, &pf->reaches[i]))
			continue;
		if (n < max)
			out[n] = &pf->reaches[i];
		n++;
	}
	return n;
}

/* Entry id on s's list as it is now, or NULL. */
struct reach_entry *
reach_lookup(const struct session *s, uint32_t id)
{
	const struct reach_entry	*list[PH_REACH_MAX];
	int				 i, n;

	n = reach_list(s, list, PH_REACH_MAX);
	for (i = 0; i < n && i < PH_REACH_MAX; i++)
		if (list[i]->id == id)
			return (struct reach_entry *)list[i];
	return NULL;
}

/* Entry id wherever it is, for counting; NULL once it is gone. */
struct reach_entry *
reach_find_id(uint32_t id)
{
	const struct policy_file	*pf = host->policy.file;
	int				 i;

	for (i = 0; i < host->nreach_cli; i++)
		if (host->reach_cli[i].id == id)
			return &host->reach_cli[i];
	for (i = 0; pf != NULL && i < pf->nreaches; i++)
		if (pf->reaches[i].id == id)
			return &pf->reaches[i];
	return NULL;
}

/* REACH with s's list, to a session of protocol 6 or later. */
void
reach_send(struct session *s)
{
	const struct reach_entry	*list[PH_REACH_MAX];
	struct ph_msg			 m;
	int				 i, n;

	if (s->proto < PH_PROTO_VERSION_REACH)
		return;
	memset(&m, 0, sizeof m);
	m.type = PH_REACH;
	if ((n = reach_list(s, list, PH_REACH_MAX)) > PH_REACH_MAX) {
		log_warnx("guest %s: %d reverse entries apply, only the first "
		    "%d are sent", s->id, n, PH_REACH_MAX);
		n = PH_REACH_MAX;
	}
	for (i = 0; i < n; i++) {
		m.u.reach.e[i] = list[i]->side;
		m.u.reach.e[i].id = list[i]->id;
		log_debug("guest %s: may reach entry %u: %s", s->id,
		    list[i]->id, list[i]->text);
	}
	m.u.reach.n = (uint8_t)n;
	session_send(s, &m);
}

/* After a policy change: every guest gets its list again. */
void
reach_send_all(void)
{
	struct session	*s;

	TAILQ_FOREACH(s, &host->sessions, entry)
		reach_send(s);
}

/* Calls cb for every entry, -R's first, then the policy file's. */
void
reach_foreach(void (*cb)(const struct reach_entry *, void *), void *arg)
{
	const struct policy_file	*pf = host->policy.file;
	int				 i;

	for (i = 0; i < host->nreach_cli; i++)
		cb(&host->reach_cli[i], arg);
	for (i = 0; pf != NULL && i < pf->nreaches; i++)
		cb(&pf->reaches[i], arg);
}
