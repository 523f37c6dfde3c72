/*
 * What one nf_tables rule does to a destination port, and which ports
 * the VM's NAT rules publish.  A container engine publishes a port with
 * a DNAT rule in a nat chain on the prerouting or output hook, often
 * behind jumps (Docker: PREROUTING -> DOCKER; CNI portmap:
 * CNI-HOSTPORT-DNAT -> CNI-DN-*; kube-proxy: KUBE-SERVICES ->
 * KUBE-NODEPORTS -> KUBE-EXT-* -> KUBE-SVC-* -> KUBE-SEP-*, where the
 * port is matched chains before the DNAT).
 *
 * A rule is read as nft and iptables-nft write it, one expression at a
 * time, tracking what each register holds:
 *
 *	meta load l4proto => reg; cmp eq reg 6|17		the protocol
 *	payload load 2b @ transport header + 2 => reg; cmp eq	the port
 *	immediate reg addr; immediate reg port; nat dnat	nft's DNAT
 *	target DNAT (xt, revisions 0 to 2)			iptables-nft's
 *	immediate reg 0 jump|goto CHAIN				followed
 *
 * Every other match (an interface, an address type, a comment) is taken
 * to match: a rule is a published port if some packet to that port can
 * reach it.  A protocol or port matched any other way (a range, a set,
 * a negation) is not read, and the rule publishes nothing.
 */
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "guest.h"
#include "xmalloc.h"

/* What a register holds, as far as this reader cares. */
enum reg_kind { REG_OTHER, REG_L4PROTO, REG_DPORT, REG_IMM };

struct reg {
	enum reg_kind	kind;
	uint32_t	len;
	uint8_t		data[16];
};

#define NREGS		(NFT_REG32_15 + 1)

struct ruleparse {
	struct reg	 regs[NREGS];
	struct natrule	*r;
	uint8_t		 family;	/* the table's */
	int		 unread;	/* proto/port matched another way */
};

static struct reg *
reg_at(struct ruleparse *p, const struct nftnl_expr *e, uint16_t attr)
{
	uint32_t	n;

	if (!nftnl_expr_is_set(e, attr))
		return NULL;
	n = nftnl_expr_get_u32(e, attr);
	return n < NREGS ? &p->regs[n] : NULL;
}

static void
parse_meta(struct ruleparse *p, const struct nftnl_expr *e)
{
	struct reg	*d;

	if ((d = reg_at(p, e, NFTNL_EXPR_META_DREG)) == NULL)
		return;
	d->kind = nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) ==
	    NFT_META_L4PROTO ? REG_L4PROTO : REG_OTHER;
}

static void
parse_payload(struct ruleparse *p, const struct nftnl_expr *e)
{
	struct reg	*d;

	if ((d = reg_at(p, e, NFTNL_EXPR_PAYLOAD_DREG)) == NULL)
		return;
	d->kind = nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) ==
	    NFT_PAYLOAD_TRANSPORT_HEADER &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == 2 &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == 2 ?
	    REG_DPORT : REG_OTHER;
}

/* A second, different value for the same field: no packet matches. */
static void
parse_cmp(struct ruleparse *p, const struct nftnl_expr *e)
{
	struct reg	*s;
	const uint8_t	*v;
	uint32_t	 len = 0;
	uint16_t	 port;

	if ((s = reg_at(p, e, NFTNL_EXPR_CMP_SREG)) == NULL ||
	    (s->kind != REG_L4PROTO && s->kind != REG_DPORT))
		return;
	v = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);
	if (nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != NFT_CMP_EQ ||
	    v == NULL || len != (s->kind == REG_L4PROTO ? 1u : 2u)) {
		p->unread = 1;
		return;
	}
	if (s->kind == REG_L4PROTO) {
		if (p->r->proto != 0 && p->r->proto != v[0])
			p->unread = 1;
		p->r->proto = v[0];
		return;
	}
	memcpy(&port, v, 2);
	if (p->r->dport != 0 && p->r->dport != ntohs(port))
		p->unread = 1;
	p->r->dport = ntohs(port);
}

/* A register read by anything but cmp: a range, a set lookup. */
static void
parse_reader(struct ruleparse *p, const struct nftnl_expr *e,
    uint16_t attr)
{
	struct reg	*s;

	if ((s = reg_at(p, e, attr)) != NULL &&
	    (s->kind == REG_L4PROTO || s->kind == REG_DPORT))
		p->unread = 1;
}

static void
parse_immediate(struct ruleparse *p, const struct nftnl_expr *e)
{
	struct reg	*d;
	const void	*v;
	uint32_t	 len = 0, verdict;

	if (nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT)) {
		verdict = nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT);
		if ((verdict != (uint32_t)NFT_JUMP &&
		    verdict != (uint32_t)NFT_GOTO) ||
		    !nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN))
			return;
		free(p->r->chain);
		p->r->chain = xstrdup(nftnl_expr_get_str(e,
		    NFTNL_EXPR_IMM_CHAIN));
		p->r->verdict = verdict == (uint32_t)NFT_JUMP ? NATRULE_JUMP :
		    NATRULE_GOTO;
		return;
	}
	if ((d = reg_at(p, e, NFTNL_EXPR_IMM_DREG)) == NULL)
		return;
	d->kind = REG_OTHER;
	v = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len);
	if (v == NULL || len == 0 || len > sizeof d->data)
		return;
	d->kind = REG_IMM;
	d->len = len;
	memcpy(d->data, v, len);
}

/* The immediate value of a register a nat expression names, or NULL. */
static const struct reg *
imm_at(struct ruleparse *p, const struct nftnl_expr *e, uint16_t attr,
    uint32_t len)
{
	const struct reg	*r = reg_at(p, e, attr);

	return r != NULL && r->kind == REG_IMM && r->len == len ? r : NULL;
}

static void
parse_nat(struct ruleparse *p, const struct nftnl_expr *e)
{
	const struct reg	*a, *port;
	uint32_t		 fam;
	uint16_t		 v;

	if (nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_TYPE) != NFT_NAT_DNAT)
		return;
	fam = nftnl_expr_get_u32(e, NFTNL_EXPR_NAT_FAMILY);
	if (fam != NFPROTO_IPV4 && fam != NFPROTO_IPV6)
		return;
	a = imm_at(p, e, NFTNL_EXPR_NAT_REG_ADDR_MIN,
	    fam == NFPROTO_IPV4 ? 4 : 16);
	if (a == NULL)
		return;
	memset(&p->r->to, 0, sizeof p->r->to);
	p->r->to.family = fam == NFPROTO_IPV4 ? AF_INET : AF_INET6;
	memcpy(&p->r->to.u, a->data, a->len);
	p->r->to_port = 0;
	if (nftnl_expr_is_set(e, NFTNL_EXPR_NAT_REG_PROTO_MIN)) {
		if ((port = imm_at(p, e, NFTNL_EXPR_NAT_REG_PROTO_MIN,
		    2)) == NULL)
			return;
		memcpy(&v, port->data, 2);
		p->r->to_port = ntohs(v);
	}
	p->r->verdict = NATRULE_DNAT;
}

/*
 * iptables-nft's DNAT: the xt target's own structure, by revision.  The
 * first range only (rev 0 may list several; the kernel uses the first).
 */
static void
parse_xt_dnat(struct ruleparse *p, const struct nftnl_expr *e)
{
	const struct nf_nat_ipv4_multi_range_compat	*r0;
	struct nf_nat_range2				 r;
	const void					*info;
	uint32_t					 len = 0, rev;

	rev = nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV);
	if ((info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO, &len)) == NULL)
		return;
	memset(&r, 0, sizeof r);
	if (rev == 0 && p->family == NFPROTO_IPV4 && len >= sizeof *r0) {
		r0 = info;
		if (r0->rangesize < 1)
			return;
		r.flags = r0->range[0].flags;
		r.min_addr.ip = r0->range[0].min_ip;
		r.min_proto = r0->range[0].min;
	} else if ((rev == 1 && len >= sizeof(struct nf_nat_range)) ||
	    (rev == 2 && len >= sizeof r))
		memcpy(&r, info, rev == 1 ? sizeof(struct nf_nat_range) :
		    sizeof r);
	else
		return;
	if (!(r.flags & NF_NAT_RANGE_MAP_IPS) ||
	    (p->family != NFPROTO_IPV4 && p->family != NFPROTO_IPV6))
		return;
	memset(&p->r->to, 0, sizeof p->r->to);
	p->r->to.family = p->family == NFPROTO_IPV4 ? AF_INET : AF_INET6;
	if (p->family == NFPROTO_IPV4)
		p->r->to.u.v4 = r.min_addr.in;
	else
		p->r->to.u.v6 = r.min_addr.in6;
	p->r->to_port = r.flags & NF_NAT_RANGE_PROTO_SPECIFIED ?
	    ntohs(r.min_proto.all) : 0;
	p->r->verdict = NATRULE_DNAT;
}

static int
parse_expr_cb(struct nftnl_expr *e, void *arg)
{
	struct ruleparse	*p = arg;
	const char		*name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (name == NULL)
		return 0;
	if (strcmp(name, "meta") == 0)
		parse_meta(p, e);
	else if (strcmp(name, "payload") == 0)
		parse_payload(p, e);
	else if (strcmp(name, "cmp") == 0)
		parse_cmp(p, e);
	else if (strcmp(name, "range") == 0)
		parse_reader(p, e, NFTNL_EXPR_RANGE_SREG);
	else if (strcmp(name, "lookup") == 0)
		parse_reader(p, e, NFTNL_EXPR_LOOKUP_SREG);
	else if (strcmp(name, "immediate") == 0)
		parse_immediate(p, e);
	else if (strcmp(name, "nat") == 0)
		parse_nat(p, e);
	else if (strcmp(name, "target") == 0 &&
	    strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME), "DNAT") == 0)
		parse_xt_dnat(p, e);
	return 0;
}

/*
 * What rule r, of a table of family (NFPROTO_*), does: NATRULE_NONE, a
 * DNAT or a jump, under its protocol and port matches (0: any).
 */
void
natrule_parse(const struct nftnl_rule *rule, uint8_t family,
    struct natrule *r)
{
	struct ruleparse	p;

	memset(&p, 0, sizeof p);
	memset(r, 0, sizeof *r);
	p.r = r;
	p.family = family;
	nftnl_expr_foreach((struct nftnl_rule *)rule, parse_expr_cb, &p);
	if (p.unread || (r->proto != 0 && r->proto != IPPROTO_TCP &&
	    r->proto != IPPROTO_UDP))
		natrule_clear(r);
}

void
natrule_clear(struct natrule *r)
{
	free(r->chain);
	memset(r, 0, sizeof *r);
}
