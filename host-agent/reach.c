/*
 * Reverse entries (protocol 6): the host destinations a guest may reach,
 * and where the guest listens for each.  Nothing is reachable unless the
 * host lists it: -R for every guest, a policy "reach" line for every
 * guest or, in a guest block, for that guest only (their text:
 * reach_parse.c).
 *
 * The guest is sent its list (REACH: each entry's id and its side only)
 * when its session starts and whenever the policy changes.  A stream it
 * opens names an id, and reach_lookup() finds it on the guest's list as
 * it is now: a stale id, another guest's or a made-up one finds nothing.
 * An entry keeps its id (and counts) over a reload while its text and
 * guest block stay the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
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
