/*
 * The VM's nf_tables rule set, read over netlink with libmnl and
 * libnftnl: the chains (their family, table, type and hook), then the
 * rules, each read by natrule.c, then walked by natwalk.c.  The
 * generation is read before and after: a commit between the two dumps
 * makes it read again, so that chains and rules are of one commit.
 * Both need CAP_NET_ADMIN, which the privileged helper keeps
 * (privsep.c, privdrop.c).
 *
 * Changes: a NETLINK_NETFILTER socket in group NFNLGRP_NFTABLES hears
 * every object a commit adds or deletes, then one NEWGEN message, sent
 * alone, ending the commit.  A socket filter keeps the NEWGEN messages
 * only, so the agent wakes once per commit and never for the rest, and
 * nothing else comes on it: no wakeup without a commit.  Legacy
 * iptables (x_tables) tables are not nf_tables and are not read.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>

#include "guest.h"
#include "log.h"
#include "xmalloc.h"

#define NAT_RULES_MAX	(1 << 18)	/* rules read in one dump */
#define NAT_CHAINS_MAX	(1 << 16)
#define NAT_TRIES	3		/* dumps a busy rule set may take */
#define NEWGEN_TYPE	((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)

struct dump {
	struct mnl_socket	*nl;
	uint32_t		 seq;
	uint32_t		 genid;
	struct natchain		*chains;
	size_t			 nchains;
	int			 full;		/* a bound was reached */
};

static int
nat_family(uint32_t f)
{
	return f == NFPROTO_IPV4 || f == NFPROTO_IPV6 || f == NFPROTO_INET;
}

static int
gen_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump	*d = arg;
	struct nftnl_gen *g;

	if ((g = nftnl_gen_alloc()) == NULL)
		fatalx("nftnl_gen_alloc");
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		d->genid = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

static int
chain_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump		*d = arg;
	struct nftnl_chain	*c;
	struct natchain		*n;
	const char		*type;
	uint32_t		 hook;

	if ((c = nftnl_chain_alloc()) == NULL)
		fatalx("nftnl_chain_alloc");
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    nat_family(nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY)) &&
	    nftnl_chain_is_set(c, NFTNL_CHAIN_TABLE) &&
	    nftnl_chain_is_set(c, NFTNL_CHAIN_NAME)) {
		if (d->nchains == NAT_CHAINS_MAX) {
			d->full = 1;
			goto out;
		}
		d->chains = xreallocarray(d->chains, d->nchains + 1,
		    sizeof *d->chains);
		n = &d->chains[d->nchains++];
		memset(n, 0, sizeof *n);
		n->family = (uint8_t)nftnl_chain_get_u32(c,
		    NFTNL_CHAIN_FAMILY);
		n->table = xstrdup(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
		n->name = xstrdup(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
		type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
		hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		n->base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) &&
		    type != NULL && strcmp(type, "nat") == 0 &&
		    (hook == NF_INET_PRE_ROUTING || hook == NF_INET_LOCAL_OUT);
	}
out:
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int
rule_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dump		*d = arg;
	struct nftnl_rule	*r;
	struct natchain		*c;
	struct natrule		 nr;
	uint8_t			 family;

	if ((r = nftnl_rule_alloc()) == NULL)
		fatalx("nftnl_rule_alloc");
	if (nftnl_rule_nlmsg_parse(nlh, r) != 0 ||
	    !nftnl_rule_is_set(r, NFTNL_RULE_TABLE) ||
	    !nftnl_rule_is_set(r, NFTNL_RULE_CHAIN))
		goto out;
	family = (uint8_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
	c = natwalk_find(d->chains, d->nchains, family,
	    nftnl_rule_get_str(r, NFTNL_RULE_TABLE),
	    nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	if (c == NULL)
		goto out;
	natrule_parse(r, family, &nr);
	if (nr.verdict == NATRULE_NONE)
		goto out;
	if (c->nrules == NAT_RULES_MAX) {
		natrule_clear(&nr);
		d->full = 1;
		goto out;
	}
	c->rules = xreallocarray(c->rules, c->nrules + 1, sizeof *c->rules);
	c->rules[c->nrules++] = nr;
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* One request and its answers; -1 with errno on failure. */
static int
dump_run(struct dump *d, uint16_t type, uint16_t flags, mnl_cb_t cb)
{
	static char	 buf[65536];
	struct nlmsghdr	*nlh;
	ssize_t		 n;
	int		 r;

	nlh = nftnl_nlmsg_build_hdr(buf, type, NFPROTO_UNSPEC,
	    flags | NLM_F_ACK, ++d->seq);
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	while ((n = mnl_socket_recvfrom(d->nl, buf, sizeof buf)) > 0) {
		r = mnl_cb_run(buf, (size_t)n, d->seq,
		    mnl_socket_get_portid(d->nl), cb, d);
		if (r == MNL_CB_STOP)
			return 0;
		if (r == MNL_CB_ERROR)
			return -1;
	}
	return -1;
}

static void
dump_clear(struct dump *d)
{
	natwalk_free(d->chains, d->nchains);
	d->chains = NULL;
	d->nchains = 0;
	d->full = 0;
}

/* Chains and rules of one generation; -1 with errno. */
static int
dump_consistent(struct dump *d)
{
	uint32_t	before;
	int		i;

	for (i = 0; i < NAT_TRIES; i++) {
		dump_clear(d);
		if (dump_run(d, NFT_MSG_GETGEN, 0, gen_cb) == -1)
			return -1;
		before = d->genid;
		if (dump_run(d, NFT_MSG_GETCHAIN, NLM_F_DUMP, chain_cb) == -1)
			return -1;
		natwalk_sort(d->chains, d->nchains);
		if (dump_run(d, NFT_MSG_GETRULE, NLM_F_DUMP, rule_cb) == -1 ||
		    dump_run(d, NFT_MSG_GETGEN, 0, gen_cb) == -1)
			return -1;
		if (d->genid == before)
			return 0;
	}
	errno = EAGAIN;
	return -1;
}

/*
 * The ports the rule set publishes, at most max in out, their number in
 * *n: 0, or -1 with errno (EPERM without CAP_NET_ADMIN).
 */
int
natdump(struct natbind *out, size_t max, size_t *n)
{
	struct dump	d;
	int		rc, saved;

	memset(&d, 0, sizeof d);
	*n = 0;
	if ((d.nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC)) ==
	    NULL)
		return -1;
	if (mnl_socket_bind(d.nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		saved = errno;
		mnl_socket_close(d.nl);
		errno = saved;
		return -1;
	}
	if ((rc = dump_consistent(&d)) == 0) {
		if (d.full)
			log_warnx("nat: the rule set is larger than %d chains "
			    "or rules: not all of it is read", NAT_RULES_MAX);
		*n = natwalk(d.chains, d.nchains, out, max);
	}
	saved = errno;
	dump_clear(&d);
	mnl_socket_close(d.nl);
	errno = saved;
	return rc;
}

/*
 * A non-blocking socket that becomes readable when a commit changed the
 * rule set (natdump_changed() says), or -1 with errno.
 */
int
natdump_subscribe(void)
{
	struct sock_filter	code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS,
		    offsetof(struct nlmsghdr, nlmsg_type)),
		/* a load from the packet is big-endian; the type is not */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohs(NEWGEN_TYPE), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog	prog = { sizeof code / sizeof code[0], code };
	struct sockaddr_nl	sa = { .nl_family = AF_NETLINK };
	int			fd, grp = NFNLGRP_NFTABLES, saved;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    NETLINK_NETFILTER);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof prog) == -1 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &grp,
	    sizeof grp) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * Reads what came on a natdump_subscribe() socket: 1 if a commit came
 * (or so many that some were lost), 0 if none, -1 on an error.  *nmsg
 * is how many messages it read: what the filter let through.
 */
int
natdump_changed(int fd, size_t *nmsg)
{
	static char		 buf[8192];
	const struct nlmsghdr	*nlh;
	ssize_t			 n;
	int			 len, changed = 0;

	*nmsg = 0;
	for (;;) {
		n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == ENOBUFS) {
			changed = 1;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return changed;
		if (n <= 0)
			return -1;
		len = (int)n;
		for (nlh = (const struct nlmsghdr *)buf;
		    mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			(*nmsg)++;
			if (nlh->nlmsg_type == NEWGEN_TYPE)
				changed = 1;
		}
	}
}
