/*
 * The host ports that forwards listen on, by protocol and port, so that
 * admission (admit.c) finds who holds a port in log time rather than by
 * walking every forward of every guest.  A forward is listed here while
 * its decision listens (admit_listening), one entry per host address,
 * from the moment admission is done with it (forward.c) until its
 * listeners close.  Entries of one port are kept in the order of the
 * walk they replace (sessions as they came, then each one's forwards as
 * they came), so that the forward found first is the one a walk would
 * have found first.
 */
#include <string.h>

#include "compat.h"
#include "host.h"
#include "log.h"

static int
hostport_cmp(const struct hostport *a, const struct hostport *b)
{
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->sseq != b->sseq)
		return a->sseq < b->sseq ? -1 : 1;
	if (a->fseq != b->fseq)
		return a->fseq < b->fseq ? -1 : 1;
	return a->i - b->i;
}

RB_HEAD(hostport_tree, hostport);
PH_RB_PROTOTYPE(hostport_tree, hostport, node, hostport_cmp);
PH_RB_GENERATE(hostport_tree, hostport, node, hostport_cmp)

static struct hostport_tree	hostports = RB_INITIALIZER(&hostports);

/* Lists f's host addresses if its decision listens; once. */
void
hostports_add(struct forward *f)
{
	struct hostport	*hp;
	int		 i;

	if (f->indexed || !admit_listening(&f->dec))
		return;
	for (i = 0; i < f->dec.naddr; i++) {
		hp = &f->hp[i];
		hp->f = f;
		hp->proto = f->req.proto;
		hp->port = f->dec.host[i].port;
		hp->sseq = f->s->seq;
		hp->fseq = f->seq;
		hp->i = i;
		if (RB_INSERT(hostport_tree, &hostports, hp) != NULL)
			fatalx("%s: forward %u listed twice", __func__, f->id);
	}
	f->nhp = f->dec.naddr;
	f->indexed = 1;
	f->s->nlistening++;
}

/* f no longer listens (or is about to be decided again). */
void
hostports_remove(struct forward *f)
{
	int	i;

	if (!f->indexed)
		return;
	for (i = 0; i < f->nhp; i++)
		RB_REMOVE(hostport_tree, &hostports, &f->hp[i]);
	f->nhp = 0;
	f->indexed = 0;
	if (f->s != NULL)
		f->s->nlistening--;
}

/*
 * The first forward other than f, of f's protocol, listening on port
 * at a host address for which match(that forward, address, arg) holds.
 */
struct forward *
hostports_find(const struct forward *f, uint16_t port,
    int (*match)(const struct forward *, const struct ph_hostaddr *,
    const void *), const void *arg)
{
	struct hostport	 key, *hp;

	memset(&key, 0, sizeof key);
	key.proto = f->req.proto;
	key.port = port;
	key.i = -1;	/* before every entry of that port */
	for (hp = RB_NFIND(hostport_tree, &hostports, &key); hp != NULL &&
	    hp->proto == key.proto && hp->port == port;
	    hp = RB_NEXT(hostport_tree, &hostports, hp))
		if (hp->f != f && match(hp->f, &hp->f->dec.host[hp->i], arg))
			return hp->f;
	return NULL;
}
